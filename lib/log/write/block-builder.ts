/**
 * The block builder: where appended records go.
 *
 * Records are written straight into the open block's buffer (the write
 * buffer of the marshalling area that opened it; another area's records
 * join it while they fit). A block is sealed when the next record does not
 * fit or when a flush needs it; a sealed block covers
 * only the units it uses and the next block starts after it, so no write
 * ever touches a sector holding an acknowledged record (invariant 2). Where
 * a record goes is placement.ts's rule; a sealed block goes to the write
 * pipeline, which owns its buffer from then on.
 * @module
 */
import { type ClfsError, invariant } from '../../errors.ts';
import { BLOCK_HEADER_SIZE, MAX_RECORDS_PER_BLOCK, alignUp, recordSpan, writeBlockHeader } from '../../format/block.ts';
import { type Lsn, blockLsnOf, makeLsn, sequenceOf } from '../../lsn.ts';
import {
  type BufferOwner,
  type MemoryBlock,
  NO_BUFFER,
  type NoBuffer,
  type SpareBuffer,
  type WriterContext,
  type WriterStart,
} from './context.ts';
import {
  type Placement,
  type PlacementGeometry,
  blockCapacity,
  joinsBlock,
  newBlockAt,
  placeRecords,
} from './placement.ts';
import { type KnownBlock, RecentBlocks } from './recent-blocks.ts';
import { type RecordSpec, copySpec, writeRecord } from './record-spec.ts';

/** The record sequences as bigints, made once (a record's LSN is its block's plus its sequence). */
const SEQUENCES: readonly bigint[] = Array.from({ length: MAX_RECORDS_PER_BLOCK }, (_, k) => BigInt(k));

/** Where sealed blocks go (the write pipeline), and whether the log has fail-stopped. */
export interface SealedBlockQueue {
  readonly failure: ClfsError | undefined;
  /** Takes a sealed block to write; its buffer is the queue's to give back from then on. */
  enqueue(block: MemoryBlock): void;
}

/** The open block and the position of the next: records in, sealed blocks out. */
export class BlockBuilder {
  readonly #ctx: WriterContext;
  readonly #queue: SealedBlockQueue;
  #logicalId: number;
  #offset: number;
  #previousBlockLsn: Lsn;
  /** The block this generation's first block follows (written by an earlier one, or INVALID). */
  #generationPredecessor: Lsn;
  #lastLsn: Lsn;
  #current: MemoryBlock | undefined;
  #recordsAppended = 0;
  #blocksSealed = 0;
  /** Blocks sealed lately and their record counts (chain LSNs are checked against them). */
  readonly #recent = new RecentBlocks();

  constructor(ctx: WriterContext, start: WriterStart, queue: SealedBlockQueue) {
    this.#ctx = ctx;
    this.#queue = queue;
    this.#logicalId = start.logicalId;
    this.#offset = start.offset;
    this.#previousBlockLsn = start.previousBlockLsn;
    this.#generationPredecessor = start.previousBlockLsn;
    this.#lastLsn = start.lastLsn;
  }

  /** The youngest record appended, or INVALID. */
  get lastLsn(): Lsn {
    return this.#lastLsn;
  }

  get recordsAppended(): number {
    return this.#recordsAppended;
  }

  get blocksSealed(): number {
    return this.#blocksSealed;
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

  /** The open block's LSN, or undefined when none is open. */
  get openBlockLsn(): Lsn | undefined {
    return this.#current?.lsn;
  }

  /** The open block's owner, if any. */
  get currentOwner(): BufferOwner | undefined {
    return this.#current?.owner;
  }

  /** The first block not yet sealed: the open block, or where the next block will start. */
  firstUnsealedLsn(): Lsn {
    return this.#current?.lsn ?? this.#nextBlockLsn();
  }

  /** Where the next block will start: here, or the next container once this one is full. */
  #nextBlockLsn(): Lsn {
    return this.#offset + this.#ctx.unit > this.#ctx.containerSize
      ? makeLsn(this.#logicalId + 1, 0)
      : makeLsn(this.#logicalId, this.#offset);
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
   * The records of the block starting at `blockLsn` as far as the builder
   * knows without reading: the open block's or a recently sealed block's
   * count, 0 when no block it remembers starts there, undefined when the
   * block is older than those it remembers.
   */
  recordsAt(blockLsn: Lsn): KnownBlock {
    const open = this.#current;
    if (open !== undefined && blockLsn >= open.lsn) return open.lsn === blockLsn ? open.count : 0;
    return this.#recent.recordsAt(blockLsn);
  }

  /** The open block if it is the one at `blockLsn`. */
  openBlockAt(blockLsn: Lsn): MemoryBlock | undefined {
    return this.#current?.lsn === blockLsn ? this.#current : undefined;
  }

  /**
   * Appends one record (inside the append lock) and returns its LSN: at once
   * when the open block has room, else once a write buffer (and perhaps a
   * container) is available.
   */
  append(owner: BufferOwner, spec: RecordSpec): Lsn | Promise<Lsn>;
  /**
   * With `spare`: never waits for a write buffer. A new block takes the
   * spare buffer, else one the area has free now, else the open block is
   * sealed and NO_BUFFER returned (the caller waits for a buffer outside the
   * log's turn and comes back with it).
   */
  append(owner: BufferOwner, spec: RecordSpec, spare: SpareBuffer): Lsn | NoBuffer | Promise<Lsn | NoBuffer>;
  append(owner: BufferOwner, spec: RecordSpec, spare?: SpareBuffer): Lsn | NoBuffer | Promise<Lsn | NoBuffer> {
    const dataLength = spec.dataLength;
    const span = recordSpan(dataLength, spec);
    const block = this.#current;
    // The open block is the log's, whichever area's buffer it is in: another
    // area's record joins it too (placement.ts), so areas appending in turn
    // share blocks rather than sealing one per switch.
    if (block !== undefined && joinsBlock(block, span, this.#ctx.unit)) {
      return this.#place(block, spec, dataLength, span);
    }
    let stable = spec;
    const take = spare === undefined ? () => owner.acquireWriteBuffer() : () => takeSpare(owner, spare);
    const placed = this.#openBlock(owner, span, take, (block) => this.#place(block, stable, dataLength, span));
    // The caller may reuse its arrays once the call returns: copy before waiting.
    if (placed instanceof Promise) stable = copySpec(spec);
    return placed;
  }

  #place(block: MemoryBlock, spec: RecordSpec, dataLength: number, span: number): Lsn {
    const at = block.used;
    writeRecord(block, at, spec, dataLength, span);
    const end = at + span;
    block.used = end;
    block.recordOffsets.push(at);
    const lsn = block.lsn + SEQUENCES[block.count]!;
    block.count++;
    this.#lastLsn = lsn;
    this.#recordsAppended++;
    return lsn;
  }

  /**
   * The highest logical container records of these spans would reach if
   * `owner` appended them now (placement as append() does it).
   */
  lastContainerFor(owner: BufferOwner, spans: readonly number[]): number {
    return placeRecords(this.#placement(), spans, this.#geometry(owner)).logicalId;
  }

  /** Where writing stands: the open block to fill (whichever area's), or where the next block would start. */
  #placement(): Placement {
    const current = this.#current;
    if (current !== undefined) return { logicalId: this.#logicalId, offset: current.offset, open: current };
    return { ...this.position, open: undefined };
  }

  #geometry(owner: BufferOwner): PlacementGeometry {
    return { bufferSize: owner.bufferSize, containerSize: this.#ctx.containerSize, unit: this.#ctx.unit };
  }

  /**
   * Seals the open block, opens a new one for a record of `span` bytes and
   * hands it to `use`: at once when the container exists and the area has a
   * buffer free (no wait, so a batch placed without waiting reads its
   * callers' arrays at the call), else once a container and a buffer are had.
   */
  #openBlock<T>(
    owner: BufferOwner,
    span: number,
    take: () => Uint8Array | Promise<Uint8Array> | NoBuffer,
    use: (block: MemoryBlock) => T,
  ): T | NoBuffer | Promise<T | NoBuffer> {
    if (this.#current !== undefined) this.#seal(this.#current);
    const needed = BLOCK_HEADER_SIZE + span;
    const at = newBlockAt(this.#logicalId, this.#offset, span, this.#geometry(owner));
    let container: Promise<unknown> | undefined;
    if (at.logicalId !== this.#logicalId) {
      // Does not fit before the container's end: the next block starts the
      // next container (recovery knows to look there).
      container = this.#ctx.provideContainer(at.logicalId).then(() => {
        this.#logicalId = at.logicalId;
        this.#offset = at.offset;
      });
    } else if (this.#ctx.physicalOf(this.#logicalId) === -1) {
      container = this.#ctx.provideContainer(this.#logicalId);
    }
    // The block is opened and its first record placed in one step: a flush
    // in between would seal an empty block (dropping it) and the record
    // would go into a block no longer the log's.
    if (container === undefined) {
      const acquired = take();
      if (acquired === NO_BUFFER) return NO_BUFFER;
      if (!(acquired instanceof Promise)) return use(this.#newBlock(owner, acquired, needed));
      return acquired.then((buffer) => use(this.#newBlock(owner, buffer, needed)));
    }
    return container.then(async () => {
      const acquired = take();
      if (acquired === NO_BUFFER) return NO_BUFFER;
      const buffer = acquired instanceof Promise ? await acquired : acquired;
      return use(this.#newBlock(owner, buffer, needed));
    });
  }

  /** The open block, in `buffer`, at the writer's position. */
  #newBlock(owner: BufferOwner, buffer: Uint8Array, needed: number): MemoryBlock {
    const failure = this.#queue.failure;
    if (failure !== undefined) {
      // Fail-stopped while waiting: the buffer goes back, not to a block.
      owner.releaseWriteBuffer(buffer);
      throw failure;
    }
    const physical = this.#ctx.physicalOf(this.#logicalId);
    invariant(physical !== -1, 'no container for the open block');
    // The area's record limit keeps every record within one buffer and one
    // container: a block that cannot hold it would be written past the end.
    const capacity = blockCapacity(this.#geometry(owner), this.#offset);
    invariant(capacity >= needed, () => `a ${needed}-byte block does not fit at ${this.#offset} of a container`);
    const block: MemoryBlock = {
      lsn: makeLsn(this.#logicalId, this.#offset),
      owner,
      buffer,
      view: new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength),
      logicalId: this.#logicalId,
      physical,
      offset: this.#offset,
      previousBlockLsn: this.#previousBlockLsn,
      capacity,
      used: BLOCK_HEADER_SIZE,
      count: 0,
      recordOffsets: [],
      length: 0,
      state: 'open',
    };
    this.#current = block;
    return block;
  }

  /** Seals the open block, if there is one (a flush wants it written). */
  sealOpenBlock(): void {
    if (this.#current !== undefined) this.#seal(this.#current);
  }

  /** Seals the open block so it is queued for writing now (FORCE_APPEND), without waiting. */
  forceAppend(): void {
    if (this.#current !== undefined && this.#queue.failure === undefined) this.#seal(this.#current);
  }

  /** Seals a block: fixes its length and header and queues it for writing. */
  #seal(block: MemoryBlock): void {
    invariant(block === this.#current, 'sealing a block that is not open');
    if (block.count === 0 || this.#queue.failure !== undefined) {
      // Nothing was appended (the append that opened it failed), or the log
      // has fail-stopped and will write nothing more (nothing in the block
      // was acknowledged): give the buffer back now, for an append waiting
      // for one must not wait for ever.
      this.#drop(block);
      return;
    }
    this.#current = undefined;
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
    this.#blocksSealed++;
    this.#recent.add(block.lsn, block.count);
    this.#queue.enqueue(block);
  }

  /**
   * The length the open block will be written with once a truncation to
   * `lsn` cut it (cutOpenBlock), when `lsn` is in it; else undefined.
   */
  lengthAfterCut(lsn: Lsn): number | undefined {
    const block = this.#current;
    if (block === undefined || block.lsn !== blockLsnOf(lsn)) return undefined;
    const keep = sequenceOf(lsn) + 1;
    return alignUp(keep < block.count ? block.recordOffsets[keep]! : block.used, this.#ctx.unit);
  }

  /**
   * For a truncation to `lsn` (a record appended): the open block keeps its
   * records up to `lsn` and loses the others, or goes whole when it starts
   * after it; `lsn` is the last record from now on.
   */
  cutOpenBlock(lsn: Lsn): void {
    this.#recent.cutAfter(lsn);
    const block = this.#current;
    if (block !== undefined && block.lsn > lsn) this.#drop(block);
    else if (block !== undefined) {
      const keep = sequenceOf(lsn) + 1;
      if (keep < block.count) {
        block.used = block.recordOffsets[keep]!;
        block.recordOffsets.length = keep;
        block.count = keep;
      }
    }
    this.#lastLsn = lsn;
  }

  /**
   * After a truncation (no open block, nothing in flight): the next block
   * starts at `start`, written in a new generation whose first block
   * follows `start.previousBlockLsn`.
   */
  restartAt(start: WriterStart): void {
    invariant(this.#current === undefined, 'a truncation left an open block');
    this.#logicalId = start.logicalId;
    this.#offset = start.offset;
    this.#previousBlockLsn = start.previousBlockLsn;
    this.#generationPredecessor = start.previousBlockLsn;
    this.#lastLsn = start.lastLsn;
  }

  /** The open block goes, unwritten, its buffer back to its area. */
  #drop(block: MemoryBlock): void {
    this.#current = undefined;
    block.owner.releaseWriteBuffer(block.buffer);
  }

  /**
   * For a marshalling area's close: its open block, if the open block is
   * its own, is sealed (queued for writing) or, holding no record, given
   * back. Another area's open block is left alone.
   */
  releaseOwner(owner: BufferOwner): void {
    const current = this.#current;
    if (current === undefined || current.owner !== owner) return;
    if (current.count > 0 && this.#queue.failure === undefined) {
      this.#seal(current);
      return;
    }
    // Empty (the append that opened it failed), or the log fail-stopped:
    // nothing in it was acknowledged.
    this.#drop(current);
  }

  /**
   * For the log's close, once everything appended is durable and nothing is
   * in flight: gives back the open block's buffer. A block holding records
   * is never dropped unwritten unless the log has fail-stopped (nothing in
   * it was acknowledged then).
   */
  discardOpenBlock(): void {
    const current = this.#current;
    if (current === undefined) return;
    invariant(
      current.count === 0 || this.#queue.failure !== undefined,
      'a block with records is left after the log drained',
    );
    this.#drop(current);
  }
}

/** The spare buffer (taken), else one the area has free now, else NO_BUFFER. */
function takeSpare(owner: BufferOwner, spare: SpareBuffer): Uint8Array | NoBuffer {
  const buffer = spare.buffer ?? owner.tryAcquireWriteBuffer();
  spare.buffer = undefined;
  return buffer ?? NO_BUFFER;
}
