/**
 * Block placement: where appended records go, computed here and nowhere
 * else. Pure arithmetic, no I/O: the writer asks it where each record goes,
 * and the checks that must know in advance where a batch will reach (the
 * containers it needs, the room it takes) ask it the same question.
 *
 * The rule: a record joins the open block if it fits in the block's capacity
 * and the block has a record number left (MAX_RECORDS_PER_BLOCK, the LSN's
 * record sequence). Otherwise the open block is sealed (it covers whole
 * sector units) and a new block starts where it ends, unless the record does
 * not fit before the container's end: then the new block starts the next
 * container, at offset 0 (recovery knows to look there). A block is at most
 * one write buffer and never crosses a container's end, so its capacity is
 * min(bufferSize, containerSize - offset).
 * @module
 */
import { BLOCK_HEADER_SIZE, MAX_RECORDS_PER_BLOCK, RECORD_HEADER_SIZE, alignUp } from '../../format/block.ts';

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
   * The open block, when the records may join it. Undefined when there is
   * none, or when it is another area's (it is sealed first: `offset` is then
   * where it ends once sealed).
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

/** Bytes of data a record may have to fit in a fresh block of `blockSize` bytes. */
export function maxDataLength(blockSize: number): number {
  return blockSize - BLOCK_HEADER_SIZE - RECORD_HEADER_SIZE;
}

/** Whether a record of `span` bytes joins the open block `open`: it fits, and a record number is left. */
export function joinsBlock(open: BlockFill, span: number): boolean {
  return open.used + span <= open.capacity && open.count < MAX_RECORDS_PER_BLOCK;
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
 * Places one record of `span` bytes (its header and padded data, see
 * recordSpan) after `at`: in the open block if it joins it, else in a new
 * block (newBlockAt) after the open block sealed.
 */
export function placeRecord(at: Placement, span: number, geometry: PlacementGeometry): Placed {
  const open = at.open;
  if (open !== undefined && joinsBlock(open, span)) {
    return {
      logicalId: at.logicalId,
      offset: at.offset,
      open: { used: open.used + span, count: open.count + 1, capacity: open.capacity },
      newBlock: false,
    };
  }
  const sealedEnd = open === undefined ? at.offset : at.offset + alignUp(open.used, geometry.unit);
  const block = newBlockAt(at.logicalId, sealedEnd, span, geometry);
  return {
    logicalId: block.logicalId,
    offset: block.offset,
    open: { used: BLOCK_HEADER_SIZE + span, count: 1, capacity: block.capacity },
    newBlock: true,
  };
}

/** Places records of these spans one after another from `at` (placeRecord each): where writing then stands. */
export function placeRecords(at: Placement, spans: readonly number[], geometry: PlacementGeometry): Placement {
  let placement = at;
  for (const span of spans) placement = placeRecord(placement, span, geometry);
  return placement;
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
  let at: Placement = { logicalId: 0, offset: 0, open: undefined };
  for (const span of spans) {
    const next = placeRecord(at, span, fresh);
    if (next.newBlock && at.open !== undefined) lengths.push(alignUp(at.open.used, unit));
    at = next;
  }
  if (at.open !== undefined) lengths.push(alignUp(at.open.used, unit));
  return lengths;
}
