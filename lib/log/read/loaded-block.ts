/**
 * Blocks as a read context holds them: loaded into a read buffer from a
 * container (checked) or from the writer's memory.
 * @module
 */
import { ClfsError, invariant } from '../../errors.ts';
import { parseBlockHeader, parseRecordAt, type BlockProblem, type RecordEntry } from '../../format/block.ts';
import { follows, newEpochAgrees } from '../../format/chain.ts';
import { Lsn, containerOf, makeLsn, offsetOf } from '../../lsn.ts';
import { checkBlock, type CheckedBlock, type ProbedBlock } from './block-check.ts';

/** A block loaded into a read buffer. */
export interface LoadedBlock {
  lsn: Lsn;
  previousBlockLsn: Lsn;
  /** The generation it was written in. */
  epoch: bigint;
  /** The first block its generation wrote (BLOCK_FLAG_NEW_EPOCH): its predecessor has a lower epoch. */
  newEpoch: boolean;
  /** Served from the writer's memory (written by this log instance, so never stale). */
  memory?: boolean;
  /** 0 while the block is still open in the writer (it is then the last block). */
  length: number;
  bytes: Uint8Array;
  records: RecordEntry[];
  /**
   * For a block read from its container: how many bytes from the block's
   * start the read brought in that can be trusted for later blocks too (it
   * stops where the writer had not written yet, so no stale bytes are served).
   */
  window?: number;
}

/** ERR_CLFS_RECORD_TOO_LARGE for a block that does not fit the reader's buffers (CLFS: ERROR_LOG_BLOCK_INCOMPLETE). */
export function blockTooLarge(blockLsn: Lsn, bufferSize: number): ClfsError {
  return new ClfsError(
    'ERR_CLFS_RECORD_TOO_LARGE',
    `the block at LSN ${Lsn.format(blockLsn)} is larger than this marshalling area's ${bufferSize}-byte buffers; read it with an area whose bufferSize is at least the log's largest block`,
    { lsn: blockLsn },
  );
}

/**
 * Loads a block for reading from a container: one read of up to the buffer's
 * size, then the checks of block-check.ts.
 *
 * A block whose header is well formed (its length within MAX_BLOCK_SIZE and
 * its container, see parseBlockHeader) but longer than what was read is
 * either cut short (the container file ended: 'short', damage) or longer
 * than `into`: then, with `allocate`, it is read whole into a temporary
 * buffer and checked, so that only a valid block gives
 * ERR_CLFS_RECORD_TOO_LARGE (this area's buffers cannot hold it) and a
 * damaged one its problem.
 */
export async function loadFromContainer(
  read: (offset: number, into: Uint8Array) => Promise<number>,
  blockLsn: Lsn,
  into: Uint8Array,
  expect: {
    logId: bigint;
    unit: number;
    containerSize: number;
    trustedEnd: number;
    allocate?: (size: number) => Uint8Array;
  },
): Promise<LoadedBlock | BlockProblem> {
  const offset = offsetOf(blockLsn);
  const room = expect.containerSize - offset;
  if (room < expect.unit) return 'length';
  const want = Math.min(into.byteLength, room);
  const got = await read(offset, into.subarray(0, want));
  const check = { lsn: blockLsn, logId: expect.logId, unit: expect.unit, maxLength: room };
  const checked = checkBlock(into.subarray(0, got), check);
  if (checked === 'short') {
    // The file ended before the block did (a container cut short).
    if (got < want) return 'short';
    const header = parseBlockHeader(into.subarray(0, got), expect.unit, room);
    if (expect.allocate !== undefined && typeof header !== 'string') {
      const whole = expect.allocate(header.blockLength).subarray(0, header.blockLength);
      const all = await read(offset, whole);
      if (all < header.blockLength) return 'short';
      const wholeChecked = checkBlock(whole, check);
      if (typeof wholeChecked === 'string') return wholeChecked;
    }
    throw blockTooLarge(blockLsn, into.byteLength);
  }
  if (typeof checked === 'string') return checked;
  return { ...loadedBlock(blockLsn, checked), window: Math.min(got, expect.trustedEnd - offset) };
}

/** A block that passed every check, as a read context holds it. */
export function loadedBlock(blockLsn: Lsn, checked: CheckedBlock): LoadedBlock {
  const h = checked.header;
  return {
    lsn: blockLsn,
    previousBlockLsn: h.previousBlockLsn,
    epoch: h.epoch,
    newEpoch: h.newEpoch === true,
    length: h.blockLength,
    bytes: checked.bytes,
    records: checked.records,
  };
}

/** Records of a block still in the writer's memory, from its record offsets. */
export function recordsOfMemoryBlock(bytes: Uint8Array, offsets: readonly number[], used: number): RecordEntry[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return offsets.map((offset) => {
    const entry = parseRecordAt(view, offset, used);
    invariant(entry !== 'records', 'a record in memory does not parse');
    return entry;
  });
}

/**
 * The reader's rule for `next` (which names `block` as its predecessor)
 * following `block` as it is now: the chain rule, and a
 * BLOCK_FLAG_NEW_EPOCH that agrees with the epochs (a block of an earlier
 * generation left where a later one was written fails it).
 */
export function followsAsWritten(block: LoadedBlock, next: ProbedBlock | LoadedBlock): boolean {
  return follows(block, next) && newEpochAgrees(block, next);
}

/** Where the block after `block` can start: right after it, or at the next container's start. */
export function followerCandidates(block: LoadedBlock, containerSize: number): Lsn[] {
  const id = containerOf(block.lsn);
  const offset = offsetOf(block.lsn) + block.length;
  return offset < containerSize ? [makeLsn(id, offset), makeLsn(id + 1, 0)] : [makeLsn(id + 1, 0)];
}
