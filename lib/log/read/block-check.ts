/**
 * Checking a block read from a container: everything recovery and reads
 * need to trust it, except its place in the chain (predecessor and epoch),
 * which only the caller knows.
 * @module
 */
import {
  CHECKSUM_OFFSET,
  parseBlockHeader,
  parseRecords,
  readStoredChecksum,
  type BlockHeader,
  type BlockProblem,
  type RecordEntry,
} from '../../format/block.ts';
import type { Lsn } from '../../lsn.ts';
import { crc32c } from '../../native/crc32c.ts';

/** A block that passed every check: its bytes, header and records. */
export interface CheckedBlock {
  bytes: Uint8Array;
  header: BlockHeader;
  records: RecordEntry[];
}

const ZEROS = new Uint8Array(4);

/** CRC32C of the block with its checksum field counted as zero, without copying. */
export function blockChecksum(block: Uint8Array, length: number): number {
  let crc = crc32c(block.subarray(0, CHECKSUM_OFFSET));
  crc = crc32c(ZEROS, crc);
  return crc32c(block.subarray(CHECKSUM_OFFSET + 4, length), crc);
}

export interface BlockExpectation {
  /** The LSN the block must carry: the position it was read from. */
  lsn: Lsn;
  logId: bigint;
  unit: number;
  /** The most bytes the block may span (to the container's end, and the reader's buffer). */
  maxLength: number;
}

/**
 * Checks a block whose bytes start at `bytes[0]`. Returns 'short' when the
 * header says it is longer than `bytes` (the caller may read more and ask
 * again), or the first problem found.
 */
export function checkBlock(bytes: Uint8Array, expect: BlockExpectation): CheckedBlock | BlockProblem {
  const header = parseBlockHeader(bytes, expect.unit, expect.maxLength);
  if (typeof header === 'string') return header;
  if (header.logId !== expect.logId) return 'log-id';
  if (header.lsn !== expect.lsn) return 'lsn';
  if (header.blockLength > bytes.byteLength) return 'short';
  if (blockChecksum(bytes, header.blockLength) !== readStoredChecksum(bytes)) return 'checksum';
  const block = bytes.subarray(0, header.blockLength);
  const records = parseRecords(block, header);
  if (records === 'records') return 'records';
  return { bytes: block, header, records };
}

/**
 * The header of a block whose first bytes are `bytes`, when it is well
 * formed (its length within `expect.maxLength` and MAX_BLOCK_SIZE, see
 * parseBlockHeader); undefined otherwise. Used to decide whether to read
 * the rest of a long block, and how much.
 */
export function claimedHeader(bytes: Uint8Array, expect: BlockExpectation): BlockHeader | undefined {
  const header = parseBlockHeader(bytes, expect.unit, expect.maxLength);
  return typeof header === 'string' ? undefined : header;
}

/** What a reader learns of a block from its bytes without trusting its records: its place in the chain. */
export interface ProbedBlock {
  lsn: Lsn;
  previousBlockLsn: Lsn;
  epoch: bigint;
  newEpoch: boolean;
  /** The records its header says it holds. */
  recordCount: number;
  /** Its length in bytes as its header says (0: the writer's open block). */
  length: number;
  /** Its CRC and records were checked too (not only its header). */
  whole: boolean;
}

/**
 * `bytes` (read from `lsn`'s place) checked as a block, or its header alone
 * when the block is longer than the bytes.
 */
export function probeBlockBytes(bytes: Uint8Array, expect: BlockExpectation): ProbedBlock | BlockProblem {
  const checked = checkBlock(bytes, expect);
  const header = checked === 'short' ? parseBlockHeader(bytes, expect.unit, expect.maxLength) : checked;
  if (typeof header === 'string') return header;
  const h = 'header' in header ? header.header : header;
  return {
    lsn: expect.lsn,
    previousBlockLsn: h.previousBlockLsn,
    epoch: h.epoch,
    newEpoch: h.newEpoch === true,
    recordCount: h.recordCount,
    length: h.blockLength,
    whole: checked !== 'short',
  };
}
