/**
 * The log block format: how records sit in containers. Written down once,
 * here.
 *
 * A container is a preallocated, fully written file of `containerSize` bytes
 * holding blocks back to back from offset 0. A block starts on a multiple of
 * the log's sector unit (the device's physical sector size, so no write ever
 * shares a physical sector with an acknowledged record) and covers whole
 * units. Its LSN is `logicalContainerId << 32 | offset`; record `k` of the
 * block has LSN `blockLsn | k` (k < 512).
 *
 * ```
 * block header (64 bytes, little-endian)
 *   0  u32 magic 0x424c4643 ("CFLB")
 *   4  u16 version (2)
 *   6  u16 flags: bit 0 (BLOCK_FLAG_NEW_EPOCH) on the first block its generation wrote; others 0
 *   8  u32 CRC32C of the whole block with these 4 bytes counted as zero
 *  12  u32 blockLength: bytes, a multiple of the sector unit
 *  16  u64 lsn: the block's own LSN (record sequence 0)
 *  24  u64 previousBlockLsn: the block before it in the log (INVALID for the first)
 *  32  u64 epoch: the log's generation when written (see below)
 *  40  u64 vouchedLsn: every block below this LSN was durable when this one was submitted
 *      (the end of the last durable block: never past a container's unwritten end)
 *  48  u32 recordCount: 1..512
 *  52  u32 usedLength: header + records; the rest of the block is zero
 *  56  u64 logId: the first 8 bytes of the log's identity
 * then recordCount records, each
 *   0  u32 dataLength
 *   4  u8  type: 1 data, 2 restart
 *   5  u8  flags: which LSNs follow (RECORD_FLAG_*): bit 0 undoNextLsn, bit 1 previousLsn, bit 2 newBaseLsn; others 0
 *   6  u16 reserved (0)
 *   8  the LSNs present, 8 bytes each, in that order (0 to 2 of them, see below)
 *   then data, padded with zeros to a multiple of 8
 * ```
 *
 * A record header is 8 bytes and one u64 per chain LSN it carries, so a
 * record's data starts on a multiple of 8 of the block; an LSN it does not
 * carry is INVALID. The encoding is canonical, one byte form per
 * record: a present LSN is never INVALID, a data record never carries a
 * newBaseLsn (the base a restart record sets) and a restart record never an
 * undoNextLsn, so a header is at most MAX_RECORD_HEADER_SIZE bytes. A record
 * breaking a rule, or with an unknown flag, a non-zero reserved field, an
 * unknown type or a length past the block's used bytes, makes the block
 * refused ('records'). Version 1 had a fixed 32-byte record header.
 *
 * Recovery accepts a block only if its CRC, magic, version, log id, own LSN
 * (it must name the position it was read from), predecessor (the block
 * accepted before it) and epoch (never below its predecessor's) all agree.
 * There is no ceiling: when the newest metadata copy is lost, blocks of later
 * generations than the surviving copy's follow its tail. Every time the log
 * is opened for writing, before anything is written, the epoch rises above
 * the metadata's and every epoch recovery read on disk: a block left behind
 * by an earlier crash therefore can never follow a block written after it.
 * The flag BLOCK_FLAG_NEW_EPOCH says which epoch the predecessor had: set, a
 * lower one (the first block a generation wrote); clear, the block's own. So
 * a block of an earlier generation left where a later one was written (a
 * lost write), which its own fields cannot show, is told by the block after
 * it: that one disagrees about its predecessor's epoch (see read-context.ts).
 * `vouchedLsn` lets recovery tell a torn tail from corruption: a bad block
 * that a later valid block vouches for had been durable, so it is damage,
 * not a tear.
 * @module
 */
import { invariant } from '../errors.ts';
import { Lsn } from '../lsn.ts';

export const BLOCK_MAGIC = 0x424c4643;
export const BLOCK_VERSION = 2;
export const BLOCK_HEADER_SIZE = 64;
/** A record header's fixed part: length, type, flags, reserved. The smallest record header. */
export const RECORD_PREFIX_SIZE = 8;
/** Record header flags: which chain LSNs the header carries (after the fixed part, in this order). */
export const RECORD_FLAG_UNDO_NEXT = 1;
export const RECORD_FLAG_PREVIOUS = 2;
export const RECORD_FLAG_NEW_BASE = 4;
const RECORD_FLAGS = RECORD_FLAG_UNDO_NEXT | RECORD_FLAG_PREVIOUS | RECORD_FLAG_NEW_BASE;
/**
 * The largest record header: the fixed part and two LSNs (a data record
 * carries at most undoNextLsn and previousLsn, a restart record at most
 * previousLsn and newBaseLsn). What a record is sized at before its LSNs
 * are known (reservations, the largest record a block takes).
 */
export const MAX_RECORD_HEADER_SIZE = RECORD_PREFIX_SIZE + 2 * 8;
export const RECORD_ALIGNMENT = 8;
/** Records per block: the 9-bit record sequence of an LSN. */
export const MAX_RECORDS_PER_BLOCK = 512;
export const CHECKSUM_OFFSET = 8;
/** Where the header's vouchedLsn sits: filled in when the block's write is submitted, after the header is built. */
export const VOUCHED_LSN_OFFSET = 40;
/** Header flag: the first block written in its generation (its predecessor has a lower epoch). */
export const BLOCK_FLAG_NEW_EPOCH = 1;
/**
 * The largest block a log can hold: a block is one marshalling buffer, and
 * buffers are at most this. A header claiming more is damage, refused before
 * anything is read or allocated for it (a hostile length never sizes a buffer).
 */
export const MAX_BLOCK_SIZE = 4 * 1024 * 1024;

export const RecordType = { data: 1, restart: 2 } as const;
export type RecordTypeName = keyof typeof RecordType;

/** Field offsets in the block header. */
const H = {
  magic: 0,
  version: 4,
  flags: 6,
  crc: 8,
  length: 12,
  lsn: 16,
  previous: 24,
  epoch: 32,
  vouched: 40,
  count: 48,
  used: 52,
  logId: 56,
} as const;

/** Field offsets in a record header's fixed part (the LSNs present follow it). */
const R = { length: 0, type: 4, flags: 5, reserved: 6 } as const;

export interface BlockHeader {
  blockLength: number;
  lsn: Lsn;
  previousBlockLsn: Lsn;
  epoch: bigint;
  vouchedLsn: Lsn;
  recordCount: number;
  usedLength: number;
  logId: bigint;
  /** BLOCK_FLAG_NEW_EPOCH: the first block its generation wrote (written as false when left out). */
  newEpoch?: boolean;
}

/** A record's place and header fields inside a parsed block. */
export interface RecordEntry {
  /** Offset of the record's data in the block. */
  dataOffset: number;
  dataLength: number;
  type: RecordTypeName;
  undoNextLsn: Lsn;
  previousLsn: Lsn;
  newBaseLsn: Lsn;
}

/** A record's chain LSNs, INVALID when absent. */
export interface RecordLsns {
  readonly undoNextLsn: Lsn;
  readonly previousLsn: Lsn;
  readonly newBaseLsn: Lsn;
}

/** Bytes of the header of a record carrying `lsns` (the present ones take 8 bytes each). */
export function recordHeaderSize(lsns: RecordLsns): number {
  return (
    RECORD_PREFIX_SIZE +
    (lsns.undoNextLsn === Lsn.INVALID ? 0 : 8) +
    (lsns.previousLsn === Lsn.INVALID ? 0 : 8) +
    (lsns.newBaseLsn === Lsn.INVALID ? 0 : 8)
  );
}

/** Bytes a record of `dataLength` carrying `lsns` occupies in a block, header included. */
export function recordSpan(dataLength: number, lsns: RecordLsns): number {
  return recordHeaderSize(lsns) + alignUp(dataLength, RECORD_ALIGNMENT);
}

/** The most bytes a record of `dataLength` may occupy in a block, whatever LSNs it carries. */
export function maxRecordSpan(dataLength: number): number {
  return MAX_RECORD_HEADER_SIZE + alignUp(dataLength, RECORD_ALIGNMENT);
}

/**
 * Whether a record of `type` may carry these LSNs: a data record no
 * newBaseLsn, a restart record no undoNextLsn (so no header exceeds
 * MAX_RECORD_HEADER_SIZE). The writer and the reader ask the same rule.
 */
export function recordLsnsAllowed(type: RecordTypeName, undoNextLsn: Lsn, newBaseLsn: Lsn): boolean {
  return type === 'data' ? newBaseLsn === Lsn.INVALID : undoNextLsn === Lsn.INVALID;
}

export function alignUp(value: number, multiple: number): number {
  return Math.ceil(value / multiple) * multiple;
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Writes a block header (the CRC field is left zero: the write path fills it). */
export function writeBlockHeader(block: Uint8Array, header: BlockHeader): void {
  const v = view(block);
  v.setUint32(H.magic, BLOCK_MAGIC, true);
  v.setUint16(H.version, BLOCK_VERSION, true);
  v.setUint16(H.flags, header.newEpoch === true ? BLOCK_FLAG_NEW_EPOCH : 0, true);
  v.setUint32(H.crc, 0, true);
  v.setUint32(H.length, header.blockLength, true);
  v.setBigUint64(H.lsn, header.lsn, true);
  v.setBigUint64(H.previous, header.previousBlockLsn, true);
  v.setBigUint64(H.epoch, header.epoch, true);
  v.setBigUint64(H.vouched, header.vouchedLsn, true);
  v.setUint32(H.count, header.recordCount, true);
  v.setUint32(H.used, header.usedLength, true);
  v.setBigUint64(H.logId, header.logId, true);
}

/**
 * Writes a record header at `offset` of the block: the fixed part, then the
 * LSNs that are not INVALID. Returns where the record's data starts. The
 * LSNs must be allowed for the type (recordLsnsAllowed: the caller builds
 * them so; a record the reader would refuse is never written).
 */
export function writeRecordHeader(
  block: DataView,
  offset: number,
  dataLength: number,
  type: RecordTypeName,
  undoNextLsn: Lsn,
  previousLsn: Lsn,
  newBaseLsn: Lsn,
): number {
  invariant(
    recordLsnsAllowed(type, undoNextLsn, newBaseLsn),
    () => `a ${type} record with LSNs its type may not carry`,
  );
  let flags = 0;
  let at = offset + RECORD_PREFIX_SIZE;
  if (undoNextLsn !== Lsn.INVALID) {
    flags |= RECORD_FLAG_UNDO_NEXT;
    block.setBigUint64(at, undoNextLsn, true);
    at += 8;
  }
  if (previousLsn !== Lsn.INVALID) {
    flags |= RECORD_FLAG_PREVIOUS;
    block.setBigUint64(at, previousLsn, true);
    at += 8;
  }
  if (newBaseLsn !== Lsn.INVALID) {
    flags |= RECORD_FLAG_NEW_BASE;
    block.setBigUint64(at, newBaseLsn, true);
    at += 8;
  }
  block.setUint32(offset + R.length, dataLength, true);
  block.setUint8(offset + R.type, RecordType[type]);
  block.setUint8(offset + R.flags, flags);
  block.setUint16(offset + R.reserved, 0, true);
  return at;
}

export function readStoredChecksum(block: Uint8Array): number {
  return view(block).getUint32(H.crc, true);
}

/** Why a block was refused; recovery counts them by reason. */
export type BlockProblem =
  'short' | 'magic' | 'version' | 'length' | 'checksum' | 'log-id' | 'lsn' | 'records' | 'vouched';

/**
 * Reads and bounds-checks a block header from at least the first
 * BLOCK_HEADER_SIZE bytes. Every length is checked against `maxLength` (the
 * bytes left in the container) and MAX_BLOCK_SIZE before use: a hostile file
 * yields a problem, never a wild read or a buffer sized by the file.
 */
export function parseBlockHeader(bytes: Uint8Array, unit: number, maxLength: number): BlockHeader | BlockProblem {
  if (bytes.byteLength < BLOCK_HEADER_SIZE) return 'short';
  const v = view(bytes);
  if (v.getUint32(H.magic, true) !== BLOCK_MAGIC) return 'magic';
  const flags = v.getUint16(H.flags, true);
  if (v.getUint16(H.version, true) !== BLOCK_VERSION || (flags & ~BLOCK_FLAG_NEW_EPOCH) !== 0) return 'version';
  const blockLength = v.getUint32(H.length, true);
  const recordCount = v.getUint32(H.count, true);
  const usedLength = v.getUint32(H.used, true);
  if (blockLength < unit || blockLength % unit !== 0 || blockLength > Math.min(maxLength, MAX_BLOCK_SIZE)) {
    return 'length';
  }
  if (usedLength < BLOCK_HEADER_SIZE + RECORD_PREFIX_SIZE || usedLength > blockLength) return 'length';
  if (recordCount < 1 || recordCount > MAX_RECORDS_PER_BLOCK) return 'records';
  const lsn = v.getBigUint64(H.lsn, true);
  const vouchedLsn = v.getBigUint64(H.vouched, true);
  if (vouchedLsn > lsn) return 'vouched';
  return {
    blockLength,
    lsn,
    previousBlockLsn: v.getBigUint64(H.previous, true),
    epoch: v.getBigUint64(H.epoch, true),
    vouchedLsn,
    recordCount,
    usedLength,
    logId: v.getBigUint64(H.logId, true),
    newEpoch: (flags & BLOCK_FLAG_NEW_EPOCH) !== 0,
  };
}

const TYPE_NAMES: Record<number, RecordTypeName | undefined> = { 1: 'data', 2: 'restart' };

/**
 * Reads the record whose header is at `offset`, if it lies within `limit`
 * bytes of the block; 'records' when its fields do not fit or break a rule
 * of the format (see the module's doc: canonical LSNs, flags, types). Every
 * record header check is here.
 */
export function parseRecordAt(block: DataView, offset: number, limit: number): RecordEntry | 'records' {
  if (offset + RECORD_PREFIX_SIZE > limit) return 'records';
  const dataLength = block.getUint32(offset + R.length, true);
  const type = TYPE_NAMES[block.getUint8(offset + R.type)];
  const flags = block.getUint8(offset + R.flags);
  if (type === undefined || (flags & ~RECORD_FLAGS) !== 0 || block.getUint16(offset + R.reserved, true) !== 0) {
    return 'records';
  }
  const hasUndoNext = (flags & RECORD_FLAG_UNDO_NEXT) !== 0;
  const hasPrevious = (flags & RECORD_FLAG_PREVIOUS) !== 0;
  const hasNewBase = (flags & RECORD_FLAG_NEW_BASE) !== 0;
  let at = offset + RECORD_PREFIX_SIZE;
  if (at + 8 * (Number(hasUndoNext) + Number(hasPrevious) + Number(hasNewBase)) > limit) return 'records';
  const undoNextLsn = hasUndoNext ? block.getBigUint64(at, true) : Lsn.INVALID;
  if (hasUndoNext) at += 8;
  const previousLsn = hasPrevious ? block.getBigUint64(at, true) : Lsn.INVALID;
  if (hasPrevious) at += 8;
  const newBaseLsn = hasNewBase ? block.getBigUint64(at, true) : Lsn.INVALID;
  if (hasNewBase) at += 8;
  // Canonical: a present LSN is never INVALID (INVALID is written by leaving it out).
  if (
    (hasUndoNext && undoNextLsn === Lsn.INVALID) ||
    (hasPrevious && previousLsn === Lsn.INVALID) ||
    (hasNewBase && newBaseLsn === Lsn.INVALID)
  ) {
    return 'records';
  }
  if (!recordLsnsAllowed(type, undoNextLsn, newBaseLsn)) return 'records';
  if (dataLength > limit || at + alignUp(dataLength, RECORD_ALIGNMENT) > limit) return 'records';
  return { dataOffset: at, dataLength, type, undoNextLsn, previousLsn, newBaseLsn };
}

/**
 * Walks a block's records (the block's CRC has been checked). Returns the
 * entries, or 'records' when a length or type does not fit, so that even a
 * block with a valid CRC but inconsistent content cannot cause a wild read.
 */
export function parseRecords(block: Uint8Array, header: BlockHeader): RecordEntry[] | 'records' {
  const v = view(block);
  const entries: RecordEntry[] = [];
  let offset = BLOCK_HEADER_SIZE;
  for (let i = 0; i < header.recordCount; i++) {
    const entry = parseRecordAt(v, offset, header.usedLength);
    if (entry === 'records') return entry;
    entries.push(entry);
    offset = entry.dataOffset + alignUp(entry.dataLength, RECORD_ALIGNMENT);
  }
  if (offset !== header.usedLength) return 'records';
  return entries;
}

/** The first 8 bytes of a UUID string, as the block header's log id. */
export function logIdOf(identity: string): bigint {
  const hex = identity.replaceAll('-', '').slice(0, 16);
  return BigInt(`0x${hex}`);
}
