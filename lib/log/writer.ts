/**
 * The block writer: where appended records go and how they reach stable
 * storage.
 *
 * Records are written straight into the open block's buffer (a marshalling
 * area's write buffer). A block is sealed when the next record does not fit,
 * when a flush needs it, or when another area appends; a sealed block covers
 * only the units it uses and the next block starts after it, so no write
 * ever touches a sector holding an acknowledged record (invariant 2).
 *
 * Sealed blocks are written in order, several at once (up to WRITE_WINDOW
 * bytes past the durable watermark). The durable watermark advances in LSN
 * order: with 'dsync' a block is durable when its write completes, with
 * 'fdatasync' when a sync issued after its write completes. A flush resolves
 * only when its target and everything before it is durable (invariant 3).
 *
 * Group commit: a flush seals a partly filled block at once only while fewer
 * than FLUSH_DEPTH writes are in flight; otherwise the block keeps filling
 * and is sealed when a write completes, so flushes arriving meanwhile share
 * one write.
 *
 * A failed write or sync fail-stops the writer: every pending and later
 * operation rejects with ERR_CLFS_IO_FAILED (invariant 4).
 * @module
 */
import { ClfsError, invariant } from '../errors.ts';
import {
  BLOCK_HEADER_SIZE,
  CHECKSUM_OFFSET,
  MAX_RECORDS_PER_BLOCK,
  RECORD_HEADER_SIZE,
  VOUCHED_LSN_OFFSET,
  alignUp,
  recordSpan,
  writeBlockHeader,
  writeRecordHeader,
  type RecordTypeName,
} from '../format/block.ts';
import { Lsn, containerOf, makeLsn, offsetOf, positionLsn } from '../lsn.ts';
import type { LogStorage } from '../storage/storage.ts';
import { Fifo } from '../util/fifo.ts';
import { WRITE_WINDOW } from './recovery.ts';

/** Partly filled blocks sealed for flushes while this many writes are in flight; more wait and batch. */
const FLUSH_DEPTH = 2;

/** What the writer needs of a marshalling area. */
export interface BufferOwner {
  readonly bufferSize: number;
  /** A write buffer of bufferSize bytes; waits when the area has none to give. */
  acquireWriteBuffer(): Uint8Array | Promise<Uint8Array>;
  releaseWriteBuffer(buffer: Uint8Array): void;
}

/** A block in memory: open (filling) or sealed (waiting, in flight). */
export interface MemoryBlock {
  readonly lsn: Lsn;
  readonly owner: BufferOwner;
  readonly buffer: Uint8Array;
  readonly view: DataView;
  readonly logicalId: number;
  readonly physical: number;
  readonly offset: number;
  /** The block before it in the log (INVALID for the first). */
  readonly previousBlockLsn: Lsn;
  /** Most bytes this block may take (buffer size, or to the container's end). */
  readonly capacity: number;
  used: number;
  count: number;
  /** Offset of each record's header in the buffer. */
  readonly recordOffsets: number[];
  /** Set when sealed. */
  length: number;
  /** 'failed': never to be written (the log fail-stopped first). */
  state: 'open' | 'sealed' | 'writing' | 'written' | 'durable' | 'failed';
}

/** One record to append. */
export interface RecordSpec {
  type: RecordTypeName;
  /** Data pieces, concatenated (each starting at a multiple of entryAlignment). */
  entries: readonly Uint8Array[];
  entryAlignment: number;
  undoNextLsn: Lsn;
  previousLsn: Lsn;
  newBaseLsn: Lsn;
}

/** The spec with its own copy of the entries' bytes (the caller may reuse its arrays once a call returns). */
export function copySpec(spec: RecordSpec): RecordSpec {
  return { ...spec, entries: spec.entries.map((e) => e.slice()) };
}

/** Data length of a record once its entries are laid out with their alignment. */
export function dataLengthOf(entries: readonly Uint8Array[], entryAlignment: number): number {
  let length = 0;
  for (const entry of entries) length = alignUp(length, entryAlignment) + entry.byteLength;
  return length;
}

export interface WriterContext {
  storage: LogStorage;
  unit: number;
  containerSize: number;
  logId: bigint;
  epoch: bigint;
  /** Physical index of a logical container, -1 if none. */
  physicalOf(logicalId: number): number;
  /** Makes logical container `logicalId` exist (recycling or growing); ERR_CLFS_LOG_FULL if it cannot. Persists before resolving. */
  provideContainer(logicalId: number): Promise<number>;
}

export interface WriterStart {
  logicalId: number;
  offset: number;
  previousBlockLsn: Lsn;
  lastLsn: Lsn;
}

interface FlushWaiter {
  target: Lsn;
  resolve: (firstNotFlushed: Lsn) => void;
  reject: (error: Error) => void;
}

export class LogWriter {
  readonly #ctx: WriterContext;
  #logicalId: number;
  #offset: number;
  #previousBlockLsn: Lsn;
  /** The block this generation's first block follows (written by an earlier one, or INVALID). */
  readonly #generationPredecessor: Lsn;
  #lastLsn: Lsn;
  #durableLsn: Lsn;
  /** The last durable block, and the position after it. */
  #lastDurableBlockLsn: Lsn;
  #durableEndLsn: Lsn;
  #current: MemoryBlock | undefined;
  /** Sealed blocks not yet durable, in LSN order. */
  readonly #pending: MemoryBlock[] = [];
  #writesInFlight = 0;
  #syncInFlight = false;
  #flushRequested = false;
  readonly #waiters: FlushWaiter[] = [];
  /** drain() waiting for the writes and syncs in flight to end. */
  readonly #idleWaiters: (() => void)[] = [];
  #failure: ClfsError | undefined;
  /** Serialises appends so LSNs follow call order. */
  #held = false;
  #draining = false;
  readonly #waiting = new Fifo<() => void>();
  readonly #blocks = new Map<Lsn, MemoryBlock>();
  recordsAppended = 0;
  blocksSealed = 0;

  constructor(ctx: WriterContext, start: WriterStart) {
    this.#ctx = ctx;
    this.#logicalId = start.logicalId;
    this.#offset = start.offset;
    this.#previousBlockLsn = start.previousBlockLsn;
    this.#generationPredecessor = start.previousBlockLsn;
    this.#lastLsn = start.lastLsn;
    this.#durableLsn = start.lastLsn;
    this.#lastDurableBlockLsn = start.previousBlockLsn;
    this.#durableEndLsn = positionLsn(start.logicalId, start.offset, ctx.containerSize);
  }

  /** The youngest record appended, or INVALID. */
  get lastLsn(): Lsn {
    return this.#lastLsn;
  }

  /** The youngest durable record, or INVALID. */
  get durableLsn(): Lsn {
    return this.#durableLsn;
  }

  get failure(): ClfsError | undefined {
    return this.#failure;
  }

  /** Where the next block would start. */
  get position(): { logicalId: number; offset: number } {
    return { logicalId: this.#logicalId, offset: this.#offset };
  }

  /** Where the next block would start if the open block were sealed now. */
  sealedPosition(): { logicalId: number; offset: number } {
    const block = this.#current;
    if (block === undefined) return this.position;
    return { logicalId: block.logicalId, offset: block.offset + alignUp(block.used, this.#ctx.unit) };
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
    return this.#current?.lsn ?? this.#nextBlockLsn();
  }

  /** The generation blocks are written with now. */
  get epoch(): bigint {
    return this.#ctx.epoch;
  }

  /**
   * Whether `block` is the first block this generation writes (its header's
   * BLOCK_FLAG_NEW_EPOCH): the one that follows the block recovery ended at.
   * (An opened block that got no record is dropped, and the next takes its place.)
   */
  isNewEpoch(block: MemoryBlock): boolean {
    return block.previousBlockLsn === this.#generationPredecessor;
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

  /** The block holding `blockLsn` if it is still in memory. */
  blockInMemory(blockLsn: Lsn): MemoryBlock | undefined {
    return this.#blocks.get(blockLsn);
  }

  /** Whether appends are queued behind one in progress. */
  get contended(): boolean {
    return this.#held || this.#waiting.length > 0;
  }

  /** Throws the fail-stop error if the writer has failed. */
  checkHealthy(): void {
    if (this.#failure !== undefined) throw this.#failure;
  }

  /**
   * Runs `fn` with appends to this log excluded, in call order. `fn` may
   * append any number of records. When nothing else holds the log and `fn`
   * does not need to wait, it runs to completion at once, synchronously.
   */
  exclusive<T>(fn: () => Promise<T> | T): Promise<T> {
    if (this.#held || this.#waiting.length > 0) {
      return new Promise<T>((resolve, reject) => this.#waiting.push(() => this.#enter(fn).then(resolve, reject)));
    }
    return this.#enter(fn);
  }

  #enter<T>(fn: () => Promise<T> | T): Promise<T> {
    this.#held = true;
    let out: Promise<T> | T;
    try {
      this.checkHealthy();
      out = fn();
    } catch (error) {
      this.#leave();
      return Promise.reject(error);
    }
    if (!(out instanceof Promise)) {
      this.#leave();
      return Promise.resolve(out);
    }
    return out.then(
      (value) => {
        this.#leave();
        return value;
      },
      (error: unknown) => {
        this.#leave();
        throw error;
      },
    );
  }

  /** Lets the next waiter in; a loop, not recursion, however many are queued. */
  #leave(): void {
    this.#held = false;
    if (this.#draining) return;
    this.#draining = true;
    while (!this.#held && this.#waiting.length > 0) this.#waiting.shift()!();
    this.#draining = false;
  }

  /**
   * Appends one record (inside exclusive()) and returns its LSN: at once
   * when the open block has room, else once a write buffer (and perhaps a
   * container) is available.
   */
  append(owner: BufferOwner, spec: RecordSpec): Lsn | Promise<Lsn> {
    const dataLength = dataLengthOf(spec.entries, spec.entryAlignment);
    const span = recordSpan(dataLength);
    const block = this.#current;
    if (
      block !== undefined &&
      block.owner === owner &&
      block.used + span <= block.capacity &&
      block.count < MAX_RECORDS_PER_BLOCK
    ) {
      return this.#place(block, spec, dataLength, span);
    }
    let stable = spec;
    const placed = this.#openBlock(owner, span, (block) => this.#place(block, stable, dataLength, span));
    // The caller may reuse its arrays once the call returns: copy before waiting.
    if (placed instanceof Promise) stable = copySpec(spec);
    return placed;
  }

  #place(block: MemoryBlock, spec: RecordSpec, dataLength: number, span: number): Lsn {
    const at = block.used;
    writeRecordHeader(block.view, at, dataLength, spec.type, spec.undoNextLsn, spec.previousLsn, spec.newBaseLsn);
    let cursor = at + RECORD_HEADER_SIZE;
    const dataStart = cursor;
    for (const entry of spec.entries) {
      const aligned = dataStart + alignUp(cursor - dataStart, spec.entryAlignment);
      if (aligned > cursor) block.buffer.fill(0, cursor, aligned);
      block.buffer.set(entry, aligned);
      cursor = aligned + entry.byteLength;
    }
    const end = at + span;
    if (end > cursor) block.buffer.fill(0, cursor, end);
    block.used = end;
    block.recordOffsets.push(at);
    const lsn = block.lsn + BigInt(block.count);
    block.count++;
    this.#lastLsn = lsn;
    this.recordsAppended++;
    return lsn;
  }

  /**
   * The highest logical container records of these spans would reach if
   * `owner` appended them now (placement as append() does it).
   */
  lastContainerFor(owner: BufferOwner, spans: readonly number[]): number {
    const unit = this.#ctx.unit;
    const size = this.#ctx.containerSize;
    let logicalId = this.#logicalId;
    let open = false;
    let blockOffset = this.#offset;
    let used = 0;
    let count = 0;
    let capacity = 0;
    const current = this.#current;
    if (current !== undefined && current.owner === owner) {
      open = true;
      blockOffset = current.offset;
      used = current.used;
      count = current.count;
      capacity = current.capacity;
    } else if (current !== undefined) {
      blockOffset = current.offset + alignUp(current.used, unit); // it would be sealed first
    }
    for (const span of spans) {
      if (open && used + span <= capacity && count < MAX_RECORDS_PER_BLOCK) {
        used += span;
        count++;
        continue;
      }
      if (open) blockOffset += alignUp(used, unit);
      if (Math.min(owner.bufferSize, size - blockOffset) < BLOCK_HEADER_SIZE + span) {
        logicalId++;
        blockOffset = 0;
      }
      open = true;
      capacity = Math.min(owner.bufferSize, size - blockOffset);
      used = BLOCK_HEADER_SIZE + span;
      count = 1;
    }
    return logicalId;
  }

  /** Bytes of a record's span that fit in a fresh block of `bufferSize`. */
  static maxDataLength(bufferSize: number): number {
    return bufferSize - BLOCK_HEADER_SIZE - RECORD_HEADER_SIZE;
  }

  /**
   * Seals the open block, opens a new one for a record of `span` bytes and
   * hands it to `use`: at once when the container exists and the area has a
   * buffer free (no wait, so a batch placed without waiting reads its
   * callers' arrays at the call), else once a container and a buffer are had.
   */
  #openBlock<T>(owner: BufferOwner, span: number, use: (block: MemoryBlock) => T): T | Promise<T> {
    if (this.#current !== undefined) this.#seal(this.#current);
    const needed = BLOCK_HEADER_SIZE + span;
    let container: Promise<unknown> | undefined;
    if (Math.min(owner.bufferSize, this.#ctx.containerSize - this.#offset) < needed) {
      // Does not fit before the container's end: the next block starts the
      // next container (recovery knows to look there).
      container = this.#ctx.provideContainer(this.#logicalId + 1).then(() => {
        this.#logicalId++;
        this.#offset = 0;
      });
    } else if (this.#ctx.physicalOf(this.#logicalId) === -1) {
      container = this.#ctx.provideContainer(this.#logicalId);
    }
    // The block is opened and its first record placed in one step: a flush
    // in between would seal an empty block (dropping it) and the record
    // would go into a block no longer the log's.
    if (container === undefined) {
      const acquired = owner.acquireWriteBuffer();
      if (!(acquired instanceof Promise)) return use(this.#newBlock(owner, acquired, needed));
      return acquired.then((buffer) => use(this.#newBlock(owner, buffer, needed)));
    }
    return container.then(async () => {
      const acquired = owner.acquireWriteBuffer();
      const buffer = acquired instanceof Promise ? await acquired : acquired;
      return use(this.#newBlock(owner, buffer, needed));
    });
  }

  /** The open block, in `buffer`, at the writer's position. */
  #newBlock(owner: BufferOwner, buffer: Uint8Array, needed: number): MemoryBlock {
    if (this.#failure !== undefined) {
      // Fail-stopped while waiting: the buffer goes back, not to a block.
      owner.releaseWriteBuffer(buffer);
      throw this.#failure;
    }
    const physical = this.#ctx.physicalOf(this.#logicalId);
    invariant(physical !== -1, 'no container for the open block');
    // The area's record limit keeps every record within one buffer and one
    // container: a block that cannot hold it would be written past the end.
    invariant(
      Math.min(owner.bufferSize, this.#ctx.containerSize - this.#offset) >= needed,
      () => `a ${needed}-byte block does not fit at ${this.#offset} of a container`,
    );
    const block: MemoryBlock = {
      lsn: makeLsn(this.#logicalId, this.#offset),
      owner,
      buffer,
      view: new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength),
      logicalId: this.#logicalId,
      physical,
      offset: this.#offset,
      previousBlockLsn: this.#previousBlockLsn,
      capacity: Math.min(owner.bufferSize, this.#ctx.containerSize - this.#offset),
      used: BLOCK_HEADER_SIZE,
      count: 0,
      recordOffsets: [],
      length: 0,
      state: 'open',
    };
    this.#current = block;
    this.#blocks.set(block.lsn, block);
    return block;
  }

  /** Seals a block: fixes its length and header and queues it for writing. */
  #seal(block: MemoryBlock): void {
    invariant(block === this.#current, 'sealing a block that is not open');
    this.#current = undefined;
    if (block.count === 0 || this.#failure !== undefined) {
      // Nothing was appended (the append that opened it failed), or the log
      // has fail-stopped and will write nothing more (nothing in the block
      // was acknowledged): give the buffer back now, for an append waiting
      // for one must not wait for ever.
      this.#blocks.delete(block.lsn);
      block.owner.releaseWriteBuffer(block.buffer);
      return;
    }
    const length = alignUp(block.used, this.#ctx.unit);
    block.buffer.fill(0, block.used, length);
    block.length = length;
    block.state = 'sealed';
    writeBlockHeader(block.buffer, {
      blockLength: length,
      lsn: block.lsn,
      previousBlockLsn: block.previousBlockLsn,
      epoch: this.#ctx.epoch,
      vouchedLsn: block.lsn, // set for real when the write is submitted
      recordCount: block.count,
      usedLength: block.used,
      logId: this.#ctx.logId,
      newEpoch: this.isNewEpoch(block),
    });
    this.#previousBlockLsn = block.lsn;
    this.#offset = block.offset + length;
    this.#pending.push(block);
    this.blocksSealed++;
    this.#pump();
  }

  /** Linear position of an LSN across containers, for the write window. */
  #linear(lsn: Lsn): number {
    return (containerOf(lsn) - 1) * this.#ctx.containerSize + offsetOf(lsn);
  }

  /** The first block not yet durable: everything below it is. */
  #watermark(): Lsn {
    return this.#pending[0]?.lsn ?? this.#current?.lsn ?? this.#nextBlockLsn();
  }

  /** Where the next block will start: here, or the next container once this one is full. */
  #nextBlockLsn(): Lsn {
    return this.#offset + this.#ctx.unit > this.#ctx.containerSize
      ? makeLsn(this.#logicalId + 1, 0)
      : makeLsn(this.#logicalId, this.#offset);
  }

  /** Starts writes for sealed blocks, in order, within the window. */
  #pump(): void {
    if (this.#failure !== undefined) return;
    const watermark = this.#watermark();
    const limit = this.#linear(watermark) + WRITE_WINDOW;
    for (const block of this.#pending) {
      if (block.state !== 'sealed') continue;
      if (block.lsn !== watermark && this.#linear(block.lsn) + block.length > limit) {
        this.#maybeSync();
        break;
      }
      this.#submit(block, watermark);
    }
  }

  #submit(block: MemoryBlock, watermark: Lsn): void {
    block.state = 'writing';
    block.view.setBigUint64(VOUCHED_LSN_OFFSET, watermark, true);
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
          this.#blocks.delete(block.lsn);
          block.owner.releaseWriteBuffer(block.buffer);
          this.#advance();
          this.#notifyIdle();
        },
        (error: unknown) => {
          this.#writesInFlight--;
          this.#blocks.delete(block.lsn);
          block.owner.releaseWriteBuffer(block.buffer);
          this.#fail(error, `writing block ${Lsn.format(block.lsn)}`);
          this.#notifyIdle();
        },
      );
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
    if (this.#flushRequested && this.#current !== undefined && this.#writesInFlight < FLUSH_DEPTH) {
      this.#flushRequested = false;
      this.#seal(this.#current);
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
    return this.#waiters.length > 0 || this.#pending.some((b) => b.state === 'sealed');
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
        this.#fail(error, 'syncing the containers');
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
    if (this.#waiters.length === 0) return;
    const durable = this.#durableLsn;
    const remaining: FlushWaiter[] = [];
    for (const waiter of this.#waiters) {
      if (durable !== Lsn.INVALID && waiter.target <= durable) waiter.resolve(this.#firstNotDurable());
      else remaining.push(waiter);
    }
    this.#waiters.length = 0;
    this.#waiters.push(...remaining);
  }

  /**
   * Resolves once every record up to `target` (every record appended so far
   * when `target` is beyond them) is durable, with the LSN of the first
   * record not durable then.
   */
  flush(target: Lsn): Promise<Lsn> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    const last = this.#lastLsn;
    const effective = target > last ? last : target;
    const durable = this.#durableLsn;
    // Nothing to wait for: no records, or the target is older than every
    // record not yet durable.
    if (last === Lsn.INVALID || (durable !== Lsn.INVALID && effective <= durable) || effective < this.#watermark()) {
      return Promise.resolve(this.#firstNotDurable());
    }
    const promise = new Promise<Lsn>((resolve, reject) => this.#waiters.push({ target: effective, resolve, reject }));
    const current = this.#current;
    if (current !== undefined && effective >= current.lsn) {
      if (this.#writesInFlight < FLUSH_DEPTH) this.#seal(current);
      else this.#flushRequested = true;
    }
    this.#advance();
    return promise;
  }

  /** Seals the open block so it is queued for writing now (FORCE_APPEND), without waiting. */
  forceAppend(): void {
    if (this.#current !== undefined && this.#failure === undefined) this.#seal(this.#current);
  }

  /** The open block's owner, if any. */
  get currentOwner(): BufferOwner | undefined {
    return this.#current?.owner;
  }

  #fail(cause: unknown, what: string): void {
    if (this.#failure === undefined) {
      const detail = cause instanceof Error ? cause.message : String(cause);
      this.#failure = new ClfsError(
        'ERR_CLFS_IO_FAILED',
        `the log failed while ${what} (${detail}); it accepts nothing more until it is closed and reopened`,
        { cause },
      );
    }
    const failure = this.#failure;
    for (const waiter of this.#waiters.splice(0)) waiter.reject(failure);
    // Blocks never submitted will never be: their buffers go back now (they
    // stay unwritten: readers must not look for them on disk).
    for (const block of this.#pending) {
      if (block.state === 'sealed') {
        block.state = 'failed';
        this.#blocks.delete(block.lsn);
        block.owner.releaseWriteBuffer(block.buffer);
      }
    }
  }

  /** Fail-stops the writer from outside (e.g. a failed metadata write). */
  fail(cause: unknown, what: string): void {
    this.#fail(cause, what);
  }

  /**
   * For a marshalling area's close: its open block, if the open block is
   * its own, is sealed (queued for writing) or, holding no record, given
   * back. Another area's open block is left alone.
   */
  releaseOwner(owner: BufferOwner): void {
    const current = this.#current;
    if (current === undefined || current.owner !== owner) return;
    if (current.count > 0 && this.#failure === undefined) {
      this.#seal(current);
      return;
    }
    // Empty (the append that opened it failed), or the log fail-stopped:
    // nothing in it was acknowledged.
    this.#current = undefined;
    this.#blocks.delete(current.lsn);
    current.owner.releaseWriteBuffer(current.buffer);
  }

  /**
   * For the log's close (no append can start any more): makes everything
   * appended durable, waits for every write and sync in flight, and gives
   * back the open block's buffer. A block holding records is never dropped
   * unwritten unless the log has fail-stopped (nothing in it was
   * acknowledged then).
   */
  async drain(): Promise<void> {
    while (this.#failure === undefined && this.#lastLsn !== Lsn.INVALID && this.#lastLsn !== this.#durableLsn) {
      await this.flush(this.#lastLsn);
    }
    while (this.busy) await new Promise<void>((resolve) => this.#idleWaiters.push(resolve));
    const current = this.#current;
    if (current !== undefined) {
      invariant(
        current.count === 0 || this.#failure !== undefined,
        'a block with records is left after the log drained',
      );
      this.#current = undefined;
      this.#blocks.delete(current.lsn);
      current.owner.releaseWriteBuffer(current.buffer);
    }
  }

  /** Wakes drain() once nothing is in flight. */
  #notifyIdle(): void {
    if (this.busy) return;
    for (const resolve of this.#idleWaiters.splice(0)) resolve();
  }

  /** Whether writes or syncs are still in flight. */
  get busy(): boolean {
    return this.#writesInFlight > 0 || this.#syncInFlight;
  }
}
