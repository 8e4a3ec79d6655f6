/**
 * The reading half of a marshalling area: its read buffers, its open read
 * contexts, and the view of the log they read through. Their reads are
 * tracked, and once the area's close has terminated the contexts no new
 * read starts (a read in progress then rejects with ERR_CLFS_CLOSED): the
 * log closes its storage only after every read of its areas has settled.
 * @module
 */
import { ClfsError } from '../../errors.ts';
import { Tracker } from '../../util/tracker.ts';
import type { BufferPool } from '../buffer-pool.ts';
import type { LogCore } from '../core.ts';
import { ReadBuffer } from './read-buffer.ts';
import { ReadContext, type ReadMode, type RecordTypeFilter } from './read-context.ts';
import type { ReadSource } from './read-source.ts';

export class AreaReader {
  readonly #core: LogCore;
  readonly #buffers: BufferPool;
  /**
   * The open contexts' buffers, each with its context held weakly: a context
   * dropped without terminate() is collected, and the registry gives its
   * buffer back (CLFS leaks it until the area goes).
   */
  readonly #contexts = new Map<ReadBuffer, WeakRef<ReadContext>>();
  readonly #dropped = new FinalizationRegistry<ReadBuffer>((buffer) => this.#release(buffer));
  /** Reads of the contexts in progress (the area's close waits for them). */
  readonly #reads = new Tracker();
  #stopped = false;
  readonly #source: ReadSource;

  /** Whether contexts reading forward may borrow read buffers to read ahead. */
  readonly #lend: boolean;

  /**
   * `checkOpen` refuses a read once the area or the log is closing. `lend`:
   * contexts reading forward may borrow more of the area's read buffers to
   * read ahead (when that takes none a context could need: read-ahead.ts).
   */
  constructor(core: LogCore, buffers: BufferPool, checkOpen: () => void, lend: boolean) {
    this.#core = core;
    this.#buffers = buffers;
    this.#lend = lend;
    this.#source = this.#readSource(checkOpen);
  }

  /** Read buffers allocated now. */
  get allocated(): number {
    return this.#buffers.allocated;
  }

  /** A new context holding one of the area's read buffers; ERR_CLFS_BLOCKS_EXHAUSTED when none is free. */
  open(mode: ReadMode, filter: RecordTypeFilter, view: boolean): ReadContext {
    const buffer = this.#buffers.tryAcquire();
    if (buffer === undefined) {
      throw new ClfsError(
        'ERR_CLFS_BLOCKS_EXHAUSTED',
        `all ${this.#buffers.max} read buffers of this marshalling area are in use by open read contexts; terminate one first`,
      );
    }
    const held = new ReadBuffer(this.#source, buffer, mode === 'forward');
    const context = ReadContext.open(this.#source, held, mode, filter, view);
    this.#contexts.set(held, new WeakRef(context));
    this.#dropped.register(context, held, held);
    return context;
  }

  /**
   * For the area's close: terminates every context, refuses new reads,
   * waits for those in flight, and frees the buffers (the first failure to
   * free one is returned).
   */
  async close(): Promise<unknown> {
    for (const [held, context] of [...this.#contexts]) {
      const live = context.deref();
      if (live === undefined) this.#release(held);
      else live.terminate();
    }
    this.#stopped = true;
    await this.#reads.settled();
    return this.#buffers.drain();
  }

  /** A context's buffer goes back to the area: terminated, or its context collected (once). */
  #release(held: ReadBuffer): void {
    if (!this.#contexts.delete(held)) return;
    this.#dropped.unregister(held);
    held.clear();
    held.close();
    this.#buffers.release(held.bytes);
  }

  /** A read buffer for a context to read ahead into, when the area lends them and one can be had now. */
  #lendBuffer(): Uint8Array | undefined {
    if (!this.#lend || this.#stopped) return undefined;
    try {
      return this.#buffers.tryAcquire();
    } catch {
      // Memory the area could not get is no reason to fail a read.
      return undefined;
    }
  }

  #readSource(checkOpen: () => void): ReadSource {
    const core = this.#core;
    const read = <T>(io: () => Promise<T>): Promise<T> => {
      if (this.#stopped) {
        return Promise.reject(new ClfsError('ERR_CLFS_CLOSED', 'the read context was terminated during the read'));
      }
      return this.#reads.track(io());
    };
    return {
      bufferSize: this.#buffers.size,
      baseLsn: () => core.bases.baseLsn,
      lastLsn: () => core.writer.lastLsn,
      restartLsn: () => core.bases.restartLsn,
      containerSize: () => core.table.containerSize,
      checkOpen,
      blockExpectation: () => ({ logId: core.logId, unit: core.unit }),
      releaseReadBuffer: (held) => this.#release(held),
      loadBlock: (blockLsn, into) => read(() => core.blocks.loadBlock(blockLsn, into, this.#contexts.keys())),
      readWritten: (blockLsn, into) => read(() => core.blocks.readWritten(blockLsn, into)),
      checkWritten: (blockLsn, bytes) => core.blocks.checkWritten(blockLsn, bytes),
      lendReadBuffer: () => this.#lendBuffer(),
      returnReadBuffer: (buffer) => this.#buffers.release(buffer),
      probeBlock: (blockLsn, whole) => read(() => core.blocks.probeBlock(blockLsn, whole)),
      findBlockAfter: (position) => read(() => core.blocks.findBlockAfter(position)),
      skippedRanges: () => core.recoveryReport.skipped,
      truncations: () => core.bases.truncations,
      recordLimit: (blockLsn, epoch) => core.bases.recordLimit(blockLsn, epoch),
      problems: () => core.blocks.problems,
      refresh: () => (core.follower === undefined ? Promise.resolve(false) : read(() => core.follower!.refresh())),
    };
  }
}
