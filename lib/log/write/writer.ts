/**
 * The block writer: where appended records go and how they reach stable
 * storage. Three parts, composed here:
 *
 * - the append lock (append-lock.ts): appends one at a time, in call order;
 * - the block builder (block-builder.ts): records into the open block, at
 *   the place placement.ts computes, and sealed blocks out;
 * - the write pipeline (pipeline.ts): sealed blocks written in order, the
 *   durable watermark, flushes, and the fail-stop.
 *
 * The log, its marshalling areas and the block source for readers see only
 * this class.
 * @module
 */
import type { ClfsError } from '../../errors.ts';
import { Lsn, blockLsnOf } from '../../lsn.ts';
import { AppendLock } from './append-lock.ts';
import { BlockBuilder } from './block-builder.ts';
import type { BufferOwner, MemoryBlock, NoBuffer, SpareBuffer, WriterContext, WriterStart } from './context.ts';
import { WritePipeline } from './pipeline.ts';
import { maxDataLength } from './placement.ts';
import type { RecordSpec } from './record-spec.ts';

export type { BufferOwner, MemoryBlock, NoBuffer, SpareBuffer, WriterContext, WriterStart } from './context.ts';
export { NO_BUFFER } from './context.ts';
export { type RecordSpec, copySpec, copySpecs, dataLengthOf } from './record-spec.ts';

/** The log's writer: the append lock, the block builder and the write pipeline behind one face. */
export class LogWriter {
  readonly #ctx: WriterContext;
  /** Every holder's turn starts with checkHealthy(). */
  readonly #lock = new AppendLock(() => this.checkHealthy());
  readonly #builder: BlockBuilder;
  readonly #pipeline: WritePipeline;

  constructor(ctx: WriterContext, start: WriterStart) {
    this.#ctx = ctx;
    // The builder hands sealed blocks to the pipeline; the pipeline seals the
    // open block for flushes. Each sees the other through a small interface.
    const queue = {
      get failure(): ClfsError | undefined {
        return pipeline.failure;
      },
      enqueue: (block: MemoryBlock): void => pipeline.enqueue(block),
    };
    this.#builder = new BlockBuilder(ctx, start, queue);
    const pipeline = new WritePipeline(ctx, start, this.#builder);
    this.#pipeline = pipeline;
  }

  /** The youngest record appended, or INVALID. */
  get lastLsn(): Lsn {
    return this.#builder.lastLsn;
  }

  /** The youngest durable record, or INVALID. */
  get durableLsn(): Lsn {
    // Never past the last record: a truncation in progress has cut the
    // records past its target while blocks that held them may still complete
    // (and count as durable until restartAt). The durable tail the metadata
    // records (durableTail) is the pipeline's own.
    const durable = this.#pipeline.durableLsn;
    const last = this.lastLsn;
    return durable !== Lsn.INVALID && last !== Lsn.INVALID && durable > last ? last : durable;
  }

  /** The fail-stop error, once the writer has failed. */
  get failure(): ClfsError | undefined {
    return this.#pipeline.failure;
  }

  /** Records appended since the log was opened. */
  get recordsAppended(): number {
    return this.#builder.recordsAppended;
  }

  /** Blocks sealed (queued for writing) since the log was opened. */
  get blocksSealed(): number {
    return this.#builder.blocksSealed;
  }

  /** Where the next block would start. */
  get position(): { logicalId: number; offset: number } {
    return this.#builder.position;
  }

  /** Where the next block would start if the open block were sealed now. */
  sealedPosition(): { logicalId: number; offset: number } {
    return this.#builder.sealedPosition();
  }

  /** The durable tail, for metadata: the position after the last durable block. */
  durableTail(): { tailLsn: Lsn; tailPreviousLsn: Lsn; lastLsn: Lsn } {
    return this.#pipeline.durableTail();
  }

  /** The first block not yet written to its container: every block before it is on disk for good. */
  firstUnwrittenLsn(): Lsn {
    return this.#pipeline.firstUnwrittenLsn();
  }

  /** The generation blocks are written with now. */
  get epoch(): bigint {
    return this.#ctx.epoch;
  }

  /** Whether `block` is the first block this generation writes (its header's BLOCK_FLAG_NEW_EPOCH). */
  isNewEpoch(block: MemoryBlock): boolean {
    return this.#builder.isNewEpoch(block);
  }

  /** The records of the block at `blockLsn` while it is in the write queue, or undefined. */
  queuedRecordCount(blockLsn: Lsn): number | undefined {
    return this.#pipeline.queuedRecordCount(blockLsn);
  }

  /**
   * The records of the block starting at `blockLsn` as far as the writer
   * knows without reading (the open block, or one sealed lately): 0 when no
   * such block starts there, undefined when it is older than it remembers.
   */
  knownRecordCount(blockLsn: Lsn): number | undefined {
    return this.#builder.recordsAt(blockLsn);
  }

  /** The block holding `blockLsn` if it is still in memory: open, or queued and not yet written. */
  blockInMemory(blockLsn: Lsn): MemoryBlock | undefined {
    return this.#builder.openBlockAt(blockLsn) ?? this.#pipeline.heldBlock(blockLsn);
  }

  /** Whether appends are queued behind one in progress. */
  get contended(): boolean {
    return this.#lock.contended;
  }

  /** Throws the fail-stop error if the writer has failed. */
  checkHealthy(): void {
    this.#pipeline.checkHealthy();
  }

  /**
   * Runs `fn` with appends to this log excluded, in call order. `fn` may
   * append any number of records. When nothing else holds the log and `fn`
   * does not need to wait, it runs to completion at once, synchronously.
   */
  exclusive<T>(fn: () => Promise<T> | T): Promise<T> {
    return this.#lock.run(fn);
  }

  /**
   * As exclusive(), but when `fn` runs at once and returns without waiting,
   * its value itself rather than a promise of it (a failure is still a
   * rejected promise): an append that finds the log free costs no promise.
   */
  exclusiveEager<T>(fn: () => Promise<T> | T): Promise<T> | T {
    return this.#lock.runEager(fn);
  }

  /**
   * Appends one record (inside exclusive()) and returns its LSN: at once
   * when the open block has room, else once a write buffer (and perhaps a
   * container) is available.
   */
  append(owner: BufferOwner, spec: RecordSpec): Lsn | Promise<Lsn> {
    return this.#builder.append(owner, spec);
  }

  /**
   * As append(), but never waiting for a write buffer in the turn: a new
   * block takes `spare`'s buffer or one the area has free now; else the open
   * block is sealed and NO_BUFFER returned, for the caller to wait for one
   * of its buffers outside the turn (other areas append meanwhile) and come
   * back with it in `spare`.
   */
  appendOrDefer(owner: BufferOwner, spec: RecordSpec, spare: SpareBuffer): Lsn | NoBuffer | Promise<Lsn | NoBuffer> {
    return this.#builder.append(owner, spec, spare);
  }

  /**
   * The highest logical container records of these spans would reach if
   * `owner` appended them now (placement as append() does it).
   */
  lastContainerFor(owner: BufferOwner, spans: readonly number[]): number {
    return this.#builder.lastContainerFor(owner, spans);
  }

  /** Bytes of a record's span that fit in a fresh block of `bufferSize`. */
  static maxDataLength(bufferSize: number): number {
    return maxDataLength(bufferSize);
  }

  /**
   * Resolves once every record up to `target` (every record appended so far
   * when `target` is beyond them) is durable, with the LSN of the first
   * record not durable then.
   */
  flush(target: Lsn): Promise<Lsn> {
    return this.#pipeline.flush(target);
  }

  /** As flush(), resolving with `value`. */
  flushWith<T extends object>(target: Lsn, value: T): Promise<T> {
    return this.#pipeline.flushWith(target, value);
  }

  /** Seals the open block so it is queued for writing now (FORCE_APPEND), without waiting. */
  forceAppend(): void {
    this.#builder.forceAppend();
  }

  /** The open block's owner, if any. */
  get currentOwner(): BufferOwner | undefined {
    return this.#builder.currentOwner;
  }

  /** Fail-stops the writer from outside (e.g. a failed metadata write). */
  fail(cause: unknown, what: string): void {
    this.#pipeline.fail(cause, what);
  }

  /**
   * For a marshalling area's close: its open block, if the open block is
   * its own, is sealed (queued for writing) or, holding no record, given
   * back. Another area's open block is left alone.
   */
  releaseOwner(owner: BufferOwner): void {
    this.#builder.releaseOwner(owner);
  }

  /**
   * For the log's close (no append can start any more): makes everything
   * appended durable, waits for every write and sync in flight, and gives
   * back the open block's buffer. A block holding records is never dropped
   * unwritten unless the log has fail-stopped (nothing in it was
   * acknowledged then).
   */
  async drain(): Promise<void> {
    await this.#pipeline.drain();
    this.#builder.discardOpenBlock();
  }

  /**
   * A truncation's first step, in its turn among appends: records after
   * `lsn` are dropped from memory (the open block's, sealed blocks not yet
   * submitted), flushes waiting for them reject with `error`, and `lsn` is
   * the last record from now on.
   */
  cutAfter(lsn: Lsn, error: ClfsError): void {
    this.#builder.cutOpenBlock(lsn);
    this.#pipeline.dropAbove(lsn, error);
  }

  /**
   * The length `lsn`'s block is written with after cutAfter(`lsn`), while the
   * writer holds it (open, or in the write queue); else undefined (it is on disk).
   */
  lengthAfterCut(lsn: Lsn): number | undefined {
    return this.#builder.lengthAfterCut(lsn) ?? this.#pipeline.queuedLength(blockLsnOf(lsn));
  }

  /** Resolves once the record `lsn` (or one after it) is durable, forcing no flush (pipeline.ts). */
  whenDurable(lsn: Lsn): Promise<void> {
    return this.#pipeline.whenDurable(lsn);
  }

  /** The log is closing: whenDurable's waits reject with `error`. */
  stopWatchers(error: Error): void {
    this.#pipeline.stopWatchers(error);
  }

  /** Resolves once no write or sync is in flight. */
  idle(): Promise<void> {
    return this.#pipeline.idle();
  }

  /**
   * A truncation's last step (nothing in flight, everything up to the new
   * last record durable): the log goes on from `start` in generation `epoch`.
   */
  restartAt(start: WriterStart, epoch: bigint): void {
    this.#pipeline.restartAt(start);
    this.#builder.restartAt(start);
    this.#ctx.epoch = epoch;
  }

  /** Whether writes or syncs are still in flight. */
  get busy(): boolean {
    return this.#pipeline.busy;
  }
}
