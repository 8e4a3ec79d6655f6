/**
 * Block placement: where appended records go, computed here and nowhere
 * else. Pure arithmetic, no I/O: the writer asks it where each record goes,
 * and the checks that must know in advance where a batch will reach (the
 * containers it needs, the room it takes) ask it the same question.
 *
 * The rule: a record joins the open block if it fits in the block's capacity
 * and the block has a record number left (MAX_RECORDS_PER_BLOCK, the LSN's
 * record sequence), the last one only if it adds no sector unit to the block
 * (see joinsBlock). Otherwise the open block is sealed (it covers whole
 * sector units) and a new block starts where it ends, unless the record does
 * not fit before the container's end: then the new block starts the next
 * container, at offset 0 (recovery knows to look there). A block is at most
 * one write buffer and never crosses a container's end, so its capacity is
 * min(bufferSize, containerSize - offset).
 * @module
 */
import { BLOCK_HEADER_SIZE, MAX_RECORDS_PER_BLOCK, MAX_RECORD_HEADER_SIZE, alignUp } from '../../format/block.ts';

/** The sizes placement depends on. */
export interface PlacementGeometry {
  /** The appending area's write buffer size: a block is at most one buffer. */
  readonly bufferSize: number;
  readonly containerSize: number;
  /** The sector unit: a sealed block covers whole units. */
  readonly unit: number;
}

/** How full a block is. */
export interface BlockFill {
  /** Bytes used, header included. */
  readonly used: number;
  /** Records in it. */
  readonly count: number;
  /** Most bytes it may take. */
  readonly capacity: number;
}

/** Where writing stands: the open block records may join, or where the next block starts. */
export interface Placement {
  readonly logicalId: number;
  /** Offset of the open block, or where the next block starts when `open` is undefined. */
  readonly offset: number;
  /**
   * The open block, which records of any area may join. Undefined when
   * there is none.
   */
  readonly open: BlockFill | undefined;
}

/** A placement after one more record, and whether that record started a block. */
export interface Placed extends Placement {
  readonly open: BlockFill;
  readonly newBlock: boolean;
}

/** Most bytes a block starting at `offset` may take: one buffer, and no further than the container's end. */
export function blockCapacity(geometry: PlacementGeometry, offset: number): number {
  return Math.min(geometry.bufferSize, geometry.containerSize - offset);
}

/**
 * Bytes of data a record may have to fit in a fresh block of `blockSize`
 * bytes, whatever chain LSNs it carries (its header at its largest).
 */
export function maxDataLength(blockSize: number): number {
  return blockSize - BLOCK_HEADER_SIZE - MAX_RECORD_HEADER_SIZE;
}

/**
 * Whether a record of `span` bytes joins the open block `open` (sealed to
 * whole units of `unit`): it fits, and a record number is left. The last
 * record number is taken only if the record adds no unit to the block: a
 * block full by count ends there anyway, and rather than a unit of padding
 * for one record, the record starts the next block (64-byte records on
 * 4096-byte sectors: 511 in 9 units, not 512 in 10).
 */
export function joinsBlock(open: BlockFill, span: number, unit: number): boolean {
  if (open.used + span > open.capacity) return false;
  if (open.count < MAX_RECORDS_PER_BLOCK - 1) return true;
  return open.count === MAX_RECORDS_PER_BLOCK - 1 && alignUp(open.used + span, unit) === alignUp(open.used, unit);
}

/**
 * Where a new block for a record of `span` bytes starts when the next block
 * would start at `offset` of container `logicalId`: there, or at offset 0 of
 * the next container when the block cannot hold the record before the
 * container's end.
 */
export function newBlockAt(
  logicalId: number,
  offset: number,
  span: number,
  geometry: PlacementGeometry,
): { logicalId: number; offset: number; capacity: number } {
  if (blockCapacity(geometry, offset) < BLOCK_HEADER_SIZE + span) {
    return { logicalId: logicalId + 1, offset: 0, capacity: blockCapacity(geometry, 0) };
  }
  return { logicalId, offset, capacity: blockCapacity(geometry, offset) };
}

/**
 * A placement walked record by record in place (no allocation per record
 * that joins a block: a batch of thousands is placed on every append).
 * It is a BlockFill of its open block while `isOpen`.
 */
class Walker implements BlockFill {
  logicalId: number;
  offset: number;
  isOpen: boolean;
  used = 0;
  count = 0;
  capacity = 0;
  /** After place() started a block: the sealed length of the block before it (0: there was none). */
  sealedLength = 0;

  constructor(at: Placement) {
    this.logicalId = at.logicalId;
    this.offset = at.offset;
    this.isOpen = at.open !== undefined;
    if (at.open !== undefined) {
      this.used = at.open.used;
      this.count = at.open.count;
      this.capacity = at.open.capacity;
    }
  }

  /** Places one record of `span` bytes; returns whether it started a new block. */
  place(span: number, geometry: PlacementGeometry): boolean {
    if (this.isOpen && joinsBlock(this, span, geometry.unit)) {
      this.used += span;
      this.count++;
      return false;
    }
    this.sealedLength = this.isOpen ? alignUp(this.used, geometry.unit) : 0;
    const block = newBlockAt(this.logicalId, this.offset + this.sealedLength, span, geometry);
    this.logicalId = block.logicalId;
    this.offset = block.offset;
    this.isOpen = true;
    this.used = BLOCK_HEADER_SIZE + span;
    this.count = 1;
    this.capacity = block.capacity;
    return true;
  }

  /** Where writing stands now (a block is open: at least one record was placed), as placeRecord gives it. */
  placed(newBlock: boolean): Placed {
    const open = { used: this.used, count: this.count, capacity: this.capacity };
    return { logicalId: this.logicalId, offset: this.offset, open, newBlock };
  }
}

/**
 * Places one record of `span` bytes (its header with the LSNs it carries
 * and its padded data, see recordSpan) after `at`: in the open block if it
 * joins it, else in a new block (newBlockAt) after the open block sealed.
 */
export function placeRecord(at: Placement, span: number, geometry: PlacementGeometry): Placed {
  const walker = new Walker(at);
  return walker.placed(walker.place(span, geometry));
}

/** Places records of these spans one after another from `at` (placeRecord each): where writing then stands. */
export function placeRecords(at: Placement, spans: readonly number[], geometry: PlacementGeometry): Placement {
  if (spans.length === 0) return at;
  const walker = new Walker(at);
  let newBlock = false;
  for (const span of spans) newBlock = walker.place(span, geometry);
  return walker.placed(newBlock);
}

/**
 * The lengths of the blocks records of these spans take packed into fresh
 * blocks of `blockSize` bytes (each sealed to whole units of `unit`), with
 * no container's end in the way: what a batch costs wherever it lands.
 * Every span must fit in a fresh block (BLOCK_HEADER_SIZE + span <= blockSize).
 */
export function packedBlockLengths(spans: readonly number[], blockSize: number, unit: number): number[] {
  const fresh: PlacementGeometry = { bufferSize: blockSize, containerSize: Number.POSITIVE_INFINITY, unit };
  const lengths: number[] = [];
  const walker = new Walker({ logicalId: 0, offset: 0, open: undefined });
  for (const span of spans) {
    if (walker.place(span, fresh) && walker.sealedLength > 0) lengths.push(walker.sealedLength);
  }
  if (walker.isOpen) lengths.push(alignUp(walker.used, unit));
  return lengths;
}
