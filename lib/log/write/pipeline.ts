/**
 * The write pipeline: how sealed blocks reach stable storage.
 *
 * Sealed blocks are written in order, several at once (up to WRITE_WINDOW
 * bytes past the durable watermark). The durable watermark advances in LSN
 * order: with 'dsync' a block is durable when its write completes, with
 * 'fdatasync' when a sync issued after its write completes. A flush resolves
 * only when its target and everything before it is durable (invariant 3).
 *
 * Group commit: a flush seals a partly filled block only while fewer than
 * FLUSH_DEPTH writes are in flight; otherwise the block keeps filling and is
 * sealed when a write completes, so flushes arriving meanwhile share one
 * write. Even then the seal waits for the microtasks queued before it:
 * committers resumed together (by one write's completion) each append and
 * flush, and the first flush's seal comes after all their appends.
 *
 * A failed write or sync fail-stops the writer: every pending and later
 * operation rejects with ERR_CLFS_IO_FAILED (invariant 4).
 * @module
 */
import { ClfsError } from '../../errors.ts';
import { CHECKSUM_OFFSET, VOUCHED_LSN_OFFSET } from '../../format/block.ts';
import { Lsn, containerOf, offsetOf, positionLsn } from '../../lsn.ts';
import { WRITE_WINDOW } from '../recovery.ts';
import type { MemoryBlock, WriterContext, WriterStart } from './context.ts';
import { FlushWaiters } from './flush-waiters.ts';

/** Partly filled blocks sealed for flushes while this many writes are in flight; more wait and batch. */
const FLUSH_DEPTH = 2;

/** What the pipeline needs of the block builder. */
export interface OpenBlockSide {
  /** The youngest record appended, or INVALID. */
  readonly lastLsn: Lsn;
  /** The open block's LSN, or undefined when none is open. */
  readonly openBlockLsn: Lsn | undefined;
  /** The first block not yet sealed: the open block, or where the next block will start. */
  firstUnsealedLsn(): Lsn;
  /** Seals the open block (it comes back through enqueue()). */
  sealOpenBlock(): void;
}

/** Sealed blocks in, durable records out: the write queue, the durable watermark and the flushes waiting on it. */
export class WritePipeline {
  readonly #ctx: WriterContext;
  readonly #open: OpenBlockSide;
  #durableLsn: Lsn;
  /** The last durable block, and the position after it. */
  #lastDurableBlockLsn: Lsn;
  #durableEndLsn: Lsn;
  /** Sealed blocks not yet durable, in LSN order. */
  readonly #pending: MemoryBlock[] = [];
  /** Queued blocks whose buffers are still held (not yet written): readers take their records from memory. */
  readonly #held = new Map<Lsn, MemoryBlock>();
  #writesInFlight = 0;
  /** Blocks in #pending still 'sealed' (not submitted): #pump has nothing to do without them. */
  #sealedWaiting = 0;
  #syncInFlight = false;
  #flushRequested = false;
  /** A seal for flushes is queued as a microtask (see #sealForFlushes). */
  #sealQueued = false;
  readonly #sealForFlushesTask = (): void => this.#sealForFlushes();
  readonly #waiters = new FlushWaiters();
  /** Waits for a record to become durable that force no flush (whenDurable). */
  readonly #watchers = new FlushWaiters();
  /** Set once the log closes: whenDurable refuses with it. */
  #watchersStopped: Error | undefined;
  /** drain() waiting for the writes and syncs in flight to end. */
  readonly #idleWaiters: (() => void)[] = [];
  #failure: ClfsError | undefined;

  constructor(ctx: WriterContext, start: WriterStart, open: OpenBlockSide) {
    this.#ctx = ctx;
    this.#open = open;
    this.#durableLsn = start.lastLsn;
    this.#lastDurableBlockLsn = start.previousBlockLsn;
    this.#durableEndLsn = positionLsn(start.logicalId, start.offset, ctx.containerSize);
  }

  /** The youngest durable record, or INVALID. */
  get durableLsn(): Lsn {
    return this.#durableLsn;
  }

  get failure(): ClfsError | undefined {
    return this.#failure;
  }

  /** Throws the fail-stop error if the writer has failed. */
  checkHealthy(): void {
    if (this.#failure !== undefined) throw this.#failure;
  }

  /** Whether writes or syncs are still in flight. */
  get busy(): boolean {
    return this.#writesInFlight > 0 || this.#syncInFlight;
  }

  /** The durable tail, for metadata: the position after the last durable block. */
  durableTail(): { tailLsn: Lsn; tailPreviousLsn: Lsn; lastLsn: Lsn } {
    return { tailLsn: this.#durableEndLsn, tailPreviousLsn: this.#lastDurableBlockLsn, lastLsn: this.#durableLsn };
  }

  /** The first block not yet written to its container: every block before it is on disk for good. */
  firstUnwrittenLsn(): Lsn {
    for (const block of this.#pending) {
      if (block.state === 'sealed' || block.state === 'writing' || block.state === 'failed') return block.lsn;
    }
    return this.#open.firstUnsealedLsn();
  }

  /**
   * The records of the block at `blockLsn` while it is in the write queue
   * (sealed, in flight, or written but not yet durable: a write may
   * complete before an earlier one, so a written block can lie past
   * firstUnwrittenLsn), or undefined.
   */
  queuedRecordCount(blockLsn: Lsn): number | undefined {
    for (const block of this.#pending) if (block.lsn === blockLsn) return block.count;
    return undefined;
  }

  /** The length of the block at `blockLsn` while it is in the write queue (as queuedRecordCount), or undefined. */
  queuedLength(blockLsn: Lsn): number | undefined {
    for (const block of this.#pending) if (block.lsn === blockLsn) return block.length;
    return undefined;
  }

  /** The queued block at `blockLsn` if its buffer is still held. */
  heldBlock(blockLsn: Lsn): MemoryBlock | undefined {
    return this.#held.get(blockLsn);
  }

  /** Takes a sealed block to write, after those before it. */
  enqueue(block: MemoryBlock): void {
    this.#sealedWaiting++;
    this.#pending.push(block);
    this.#held.set(block.lsn, block);
    this.#pump();
  }

  /** Linear position of an LSN across containers, for the write window. */
  #linear(lsn: Lsn): number {
    return (containerOf(lsn) - 1) * this.#ctx.containerSize + offsetOf(lsn);
  }

  /** The first block not yet durable: everything below it is. */
  #watermark(): Lsn {
    return this.#pending[0]?.lsn ?? this.#open.firstUnsealedLsn();
  }

  /** Starts writes for sealed blocks, in order, within the window. */
  #pump(): void {
    if (this.#failure !== undefined || this.#sealedWaiting === 0) return;
    const watermark = this.#watermark();
    const limit = this.#linear(watermark) + WRITE_WINDOW;
    for (const block of this.#pending) {
      if (block.state !== 'sealed') continue;
      if (block.lsn !== watermark && this.#linear(block.lsn) + block.length > limit) {
        this.#maybeSync();
        break;
      }
      this.#submit(block);
    }
  }

  #submit(block: MemoryBlock): void {
    block.state = 'writing';
    this.#sealedWaiting--;
    // The block vouches for the durable prefix: up to the end of the last
    // durable block. Not the first block not durable: when that one starts
    // the next container, its LSN would also vouch for the end of the
    // container before, which the writer skipped and never wrote, so a
    // power cut losing it would read as damage (simulator seed 1786354870).
    block.view.setBigUint64(VOUCHED_LSN_OFFSET, this.#durableEndLsn, true);
    this.#writesInFlight++;
    this.#ctx.storage
      .write(
        block.physical,
        block.offset,
        [block.buffer.subarray(0, block.length)],
        [{ start: 0, length: block.length, field: CHECKSUM_OFFSET }],
      )
      .then(
        () => {
          this.#writesInFlight--;
          block.state = 'written';
          // The data is with the device: reads go there from now on, and the
          // buffer can take a new block.
          this.#release(block);
          this.#advance();
          this.#notifyIdle();
        },
        (error: unknown) => {
          this.#writesInFlight--;
          this.#release(block);
          this.fail(error, `writing block ${Lsn.format(block.lsn)}`);
          this.#notifyIdle();
        },
      );
  }

  /** Gives a queued block's buffer back to its area. */
  #release(block: MemoryBlock): void {
    this.#held.delete(block.lsn);
    block.owner.releaseWriteBuffer(block.buffer);
  }

  /** Moves the durable watermark and settles what it allows. */
  #advance(): void {
    if (this.#failure !== undefined) return;
    // With 'fdatasync' a written block becomes durable only through a sync (#sync).
    if (this.#ctx.storage.geometry.durability !== 'fdatasync') {
      while (this.#pending[0]?.state === 'written') this.#markDurable(this.#pending.shift()!);
    }
    this.#maybeSync();
    this.#settle();
    if (this.#flushRequested && this.#open.openBlockLsn !== undefined && this.#writesInFlight < FLUSH_DEPTH) {
      this.#flushRequested = false;
      this.#open.sealOpenBlock();
    }
    this.#pump();
  }

  /**
   * In 'fdatasync' mode, starts a sync when written blocks wait for one and
   * something waits on them: a flush, or sealed blocks the write window
   * holds back (the window moves only as blocks become durable, so without
   * this a log appended to past the window without a flush would stop).
   */
  #maybeSync(): void {
    if (
      this.#ctx.storage.geometry.durability === 'fdatasync' &&
      !this.#syncInFlight &&
      this.#failure === undefined &&
      this.#pending[0]?.state === 'written' &&
      this.#wantsSync()
    ) {
      this.#sync();
    }
  }

  /** In 'fdatasync' mode: whether anything waits on durability. */
  #wantsSync(): boolean {
    return this.#waiters.length > 0 || this.#sealedWaiting > 0;
  }

  #sync(): void {
    // The blocks written so far, in order: the sync makes them durable.
    let covered = 0;
    while (covered < this.#pending.length && this.#pending[covered]!.state === 'written') covered++;
    const blocks = this.#pending.slice(0, covered);
    this.#syncInFlight = true;
    this.#ctx.storage.sync().then(
      () => {
        this.#syncInFlight = false;
        for (const block of blocks) {
          if (this.#pending[0] === block) this.#markDurable(this.#pending.shift()!);
        }
        this.#advance();
        this.#notifyIdle();
      },
      (error: unknown) => {
        this.#syncInFlight = false;
        this.fail(error, 'syncing the containers');
        this.#notifyIdle();
      },
    );
  }

  #markDurable(block: MemoryBlock): void {
    block.state = 'durable';
    this.#durableLsn = block.lsn + BigInt(block.count - 1);
    this.#lastDurableBlockLsn = block.lsn;
    this.#durableEndLsn = positionLsn(block.logicalId, block.offset + block.length, this.#ctx.containerSize);
  }

  /** The LSN of the first record not durable (or the next record's, when all are). */
  #firstNotDurable(): Lsn {
    return this.#watermark();
  }

  #settle(): void {
    this.#ctx.onDurable?.();
    this.#waiters.settle(this.#firstNotDurable());
    // whenDurable() waits for a record at or after its LSN to be durable,
    // not only for every record below it (a follower's "one after the last").
    if (this.#durableLsn !== Lsn.INVALID) this.#watchers.settle(this.#durableLsn + 1n);
  }

  /**
   * Resolves once the record `lsn` (or one after it) is durable, forcing no
   * flush: a reader following the log waits so. Rejects at a fail-stop, or
   * with `dropped`'s error if a truncation drops it.
   */
  whenDurable(lsn: Lsn): Promise<void> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    if (this.#watchersStopped !== undefined) return Promise.reject(this.#watchersStopped);
    const durable = this.#durableLsn;
    if (durable !== Lsn.INVALID && lsn <= durable) return Promise.resolve();
    return this.#watchers.wait(lsn, true).then(() => undefined);
  }

  /** The log is closing: whenDurable's waits reject with `error`. */
  stopWatchers(error: Error): void {
    this.#watchersStopped = error;
    this.#watchers.rejectAll(error);
  }

  /**
   * Resolves once every record up to `target` (every record appended so far
   * when `target` is beyond them) is durable, with the LSN of the first
   * record not durable then.
   */
  flush(target: Lsn): Promise<Lsn> {
    return this.#flush(target, undefined) as Promise<Lsn>;
  }

  /**
   * As flush(), resolving with `value` instead: an append's result reaches
   * its caller with no promise step after the flush's.
   */
  flushWith<T extends object>(target: Lsn, value: T): Promise<T> {
    return this.#flush(target, value) as Promise<T>;
  }

  #flush(target: Lsn, value: object | undefined): Promise<unknown> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    const last = this.#open.lastLsn;
    const effective = target > last ? last : target;
    const durable = this.#durableLsn;
    // Nothing to wait for: no records, or the target is older than every
    // record not yet durable.
    if (last === Lsn.INVALID || (durable !== Lsn.INVALID && effective <= durable) || effective < this.#watermark()) {
      return Promise.resolve(value ?? this.#firstNotDurable());
    }
    const promise = this.#waiters.wait(effective, value);
    const open = this.#open.openBlockLsn;
    if (open !== undefined && effective >= open && !this.#sealQueued) {
      this.#sealQueued = true;
      queueMicrotask(this.#sealForFlushesTask);
    }
    this.#advance();
    return promise;
  }

  /**
   * Queued by a flush whose target is in the open block: seals it if a
   * flush still waits on it (now, or after a write completes when
   * FLUSH_DEPTH are in flight).
   */
  #sealForFlushes(): void {
    this.#sealQueued = false;
    const open = this.#open.openBlockLsn;
    if (this.#failure !== undefined || open === undefined || !(this.#waiters.lastTarget >= open)) return;
    if (this.#writesInFlight < FLUSH_DEPTH) this.#open.sealOpenBlock();
    else this.#flushRequested = true;
    this.#advance();
  }

  /**
   * For a truncation to `lsn` (the builder has cut its open block): the
   * flushes waiting for a dropped record reject with `error`, and sealed
   * blocks after `lsn` not yet submitted are never written. Blocks in
   * flight finish (see idle()).
   */
  dropAbove(lsn: Lsn, error: ClfsError): void {
    this.#waiters.rejectAbove(lsn, error);
    this.#watchers.rejectAbove(lsn, error);
    while (this.#pending.length > 0) {
      const block = this.#pending[this.#pending.length - 1]!;
      if (block.lsn <= lsn || block.state !== 'sealed') break;
      this.#pending.pop();
      this.#sealedWaiting--;
      block.state = 'failed';
      this.#release(block);
    }
  }

  /** Resolves once no write or sync is in flight. */
  async idle(): Promise<void> {
    while (this.busy) await new Promise<void>((resolve) => this.#idleWaiters.push(resolve));
  }

  /**
   * After a truncation (nothing in flight, everything up to the new last
   * record durable): blocks still queued are after it, and forgotten; the
   * durable watermark is the new end.
   */
  restartAt(start: WriterStart): void {
    for (const block of this.#pending) {
      if (this.#held.has(block.lsn)) this.#release(block);
      if (block.state === 'sealed') this.#sealedWaiting--;
      block.state = 'failed';
    }
    this.#pending.length = 0;
    this.#durableLsn = start.lastLsn;
    this.#lastDurableBlockLsn = start.previousBlockLsn;
    this.#durableEndLsn = positionLsn(start.logicalId, start.offset, this.#ctx.containerSize);
  }

  /** Fail-stops the writer: on a failed write or sync, or from outside (e.g. a failed metadata write). */
  fail(cause: unknown, what: string): void {
    if (this.#failure === undefined) {
      const detail = cause instanceof Error ? cause.message : String(cause);
      this.#failure = new ClfsError(
        'ERR_CLFS_IO_FAILED',
        `the log failed while ${what} (${detail}); it accepts nothing more until it is closed and reopened`,
        { cause },
      );
    }
    const failure = this.#failure;
    this.#waiters.rejectAll(failure);
    this.#watchers.rejectAll(failure);
    // Blocks never submitted will never be: their buffers go back now (they
    // stay unwritten: readers must not look for them on disk).
    for (const block of this.#pending) {
      if (block.state === 'sealed') {
        block.state = 'failed';
        this.#sealedWaiting--;
        this.#release(block);
      }
    }
  }

  /**
   * For the log's close (no append can start any more): makes everything
   * appended durable and waits for every write and sync in flight.
   */
  async drain(): Promise<void> {
    while (
      this.#failure === undefined &&
      this.#open.lastLsn !== Lsn.INVALID &&
      this.#open.lastLsn !== this.#durableLsn
    ) {
      await this.flush(this.#open.lastLsn);
    }
    await this.idle();
  }

  /** Wakes drain() once nothing is in flight. */
  #notifyIdle(): void {
    if (this.busy) return;
    for (const resolve of this.#idleWaiters.splice(0)) resolve();
  }
}
