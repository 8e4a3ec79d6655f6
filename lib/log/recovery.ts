/**
 * Recovery: finding the end of the log after open (DESIGN.md invariants 5-7).
 *
 * The scan starts at the metadata's tail (the block after the last one known
 * durable when metadata was last written; metadata is written at every
 * restart area, base move, container change, open and close), so it costs
 * time proportional to what was written since, never to the log's size.
 * Each block is accepted only if its CRC, LSN, log id, predecessor and epoch
 * agree; the writer moves to the next container when a block does not fit,
 * so where a block does not follow, the next container's first block may.
 *
 * The first block that does not follow ends the log, unless a later valid
 * block vouches for it (its vouchedLsn says the position was durable when it
 * was written): then the bad block is damage in acknowledged data, reported
 * as ERR_CLFS_CORRUPT with its LSN, or skipped and reported in 'salvage'
 * mode. The writer never submits a block more than WINDOW bytes past the
 * durable watermark, so a voucher can only lie within 2 * WINDOW (plus one
 * block) of the bad block: the look-ahead is bounded by a constant. After a
 * clean close there is nothing to look ahead at.
 * @module
 */
import { ClfsError } from '../errors.ts';
import { BLOCK_HEADER_SIZE, type BlockProblem } from '../format/block.ts';
import type { Metadata } from '../format/metadata.ts';
import { Lsn, makeLsn } from '../lsn.ts';
import type { LogStorage } from '../storage/storage.ts';
import { checkBlock, claimedLength, type CheckedBlock } from './block-check.ts';
import type { ContainerTable } from './containers.ts';

/** The writer's in-flight window: no block is submitted further than this past the durable watermark. */
export const WRITE_WINDOW = 16 * 1024 * 1024;
/** The largest block (and marshalling buffer) a log can have. */
export const MAX_BLOCK_SIZE = 4 * 1024 * 1024;
const CHUNK_SIZE = 1024 * 1024;

/** A stretch skipped by salvage recovery. */
export interface SkippedRange {
  fromLsn: Lsn;
  toLsn: Lsn;
  reason: string;
}

/** What recovery found, for `log.recoveryReport`. */
export interface RecoveryReport {
  mode: 'strict' | 'salvage';
  /** Blocks accepted by the scan. */
  blocksScanned: number;
  bytesScanned: number;
  /** Where the torn tail was cut (the first position that did not hold a following block), or undefined for a clean end. */
  tailCutAt: Lsn | undefined;
  /** Why the scan stopped there. */
  tailReason: string;
  /** Damaged stretches skipped ('salvage' only). */
  skipped: SkippedRange[];
  /** Metadata slots that did not validate, and why. */
  metadataProblems: string[];
}

export interface RecoveredTail {
  /** Where the next block goes. */
  endLogicalId: number;
  endOffset: number;
  /** The last accepted block, or INVALID. */
  lastBlockLsn: Lsn;
  /** The youngest record, or INVALID. */
  lastLsn: Lsn;
  restartLsn: Lsn;
  baseLsn: Lsn;
  report: RecoveryReport;
}

interface Chunk {
  physical: number;
  start: number;
  bytes: Uint8Array;
  length: number;
}

/** Reads containers in large aligned chunks, for scanning. */
class ChunkReader {
  #chunk: Chunk | undefined;
  readonly #storage: LogStorage;
  readonly #containerSize: number;
  bytesRead = 0;

  constructor(storage: LogStorage, containerSize: number) {
    this.#storage = storage;
    this.#containerSize = containerSize;
  }

  /** The bytes at [offset, offset + length) of a container (clipped to its end). */
  async view(physical: number, offset: number, length: number): Promise<Uint8Array> {
    const end = Math.min(offset + length, this.#containerSize);
    const c = this.#chunk;
    if (c !== undefined && c.physical === physical && offset >= c.start && end <= c.start + c.length) {
      return c.bytes.subarray(offset - c.start, end - c.start);
    }
    const size = Math.max(CHUNK_SIZE, end - offset);
    const bytes = this.#storage.allocate(size);
    const want = Math.min(size, this.#containerSize - offset);
    const got = await this.#storage.read(physical, offset, want === size ? bytes : bytes.subarray(0, want));
    this.bytesRead += got;
    this.#chunk = { physical, start: offset, bytes, length: got };
    return bytes.subarray(0, Math.min(got, end - offset));
  }
}

export interface RecoveryOptions {
  salvage: boolean;
  logId: bigint;
  /** True when the metadata was written by a clean close (nothing after the tail). */
  clean: boolean;
}

/** Scans from the metadata's tail to the end of the log. Reads only. */
export async function recover(
  storage: LogStorage,
  metadata: Metadata,
  table: ContainerTable,
  options: RecoveryOptions,
): Promise<RecoveredTail> {
  const unit = metadata.sectorUnit;
  const size = metadata.containerSize;
  const reader = new ChunkReader(storage, size);
  const report: RecoveryReport = {
    mode: options.salvage ? 'salvage' : 'strict',
    blocksScanned: 0,
    bytesScanned: 0,
    tailCutAt: undefined,
    tailReason: 'clean end',
    skipped: [],
    metadataProblems: [],
  };

  const read = async (logicalId: number, offset: number): Promise<CheckedBlock | BlockProblem | 'absent' | 'empty'> => {
    const physical = table.physicalOf(logicalId);
    if (physical === -1 || offset + unit > size) return 'absent';
    const expect = { lsn: makeLsn(logicalId, offset), logId: options.logId, unit, maxLength: size - offset };
    let bytes = await reader.view(physical, offset, Math.max(unit, BLOCK_HEADER_SIZE));
    let result = checkBlock(bytes, expect);
    if (result === 'magic' && bytes.subarray(0, unit).every((b) => b === 0)) return 'empty';
    if (result === 'short') {
      const length = claimedLength(bytes, expect);
      bytes = await reader.view(physical, offset, length);
      result = checkBlock(bytes, expect);
    }
    return result;
  };

  let logicalId = Number(metadata.tailLsn >> 32n);
  let offset = Number(metadata.tailLsn & 0xffff_ffffn);
  let previous = metadata.tailPreviousLsn;
  // Everything written after the metadata's tail was written in the
  // metadata's generation: an older block there was left by an earlier crash.
  let previousEpoch = metadata.epoch;
  let lastLsn = metadata.lastLsn;
  let restartLsn = metadata.restartLsn;
  let baseLsn = metadata.baseLsn;

  const follows = (block: CheckedBlock): boolean =>
    block.header.previousBlockLsn === previous &&
    block.header.epoch >= previousEpoch &&
    block.header.epoch <= metadata.epoch;

  const accept = (block: CheckedBlock, at: number): void => {
    const lsn = block.header.lsn;
    for (let i = 0; i < block.records.length; i++) {
      const record = block.records[i]!;
      if (record.type === 'restart') {
        // A restart area is committed once its block is durable: roll the
        // metadata forward to it (the base move it carried included).
        restartLsn = lsn + BigInt(i);
        if (record.newBaseLsn !== Lsn.INVALID && record.newBaseLsn > baseLsn) baseLsn = record.newBaseLsn;
      }
    }
    lastLsn = lsn + BigInt(block.records.length - 1);
    previous = lsn;
    previousEpoch = block.header.epoch;
    offset = at + block.header.blockLength;
    report.blocksScanned++;
    report.bytesScanned += block.header.blockLength;
  };

  for (;;) {
    const here = await read(logicalId, offset);
    if (typeof here !== 'string' && follows(here)) {
      accept(here, offset);
      continue;
    }
    // The writer moves on to the next container when a block does not fit.
    if (offset !== 0) {
      const next = await read(logicalId + 1, 0);
      if (typeof next !== 'string' && follows(next)) {
        logicalId++;
        accept(next, 0);
        continue;
      }
    }
    const position = makeLsn(logicalId, offset);
    const why = typeof here === 'string' ? here : here.header.epoch < previousEpoch ? 'stale epoch' : 'chain';
    // After a clean close nothing follows the tail: no look-ahead needed.
    const clean = options.clean && report.blocksScanned === 0 && report.skipped.length === 0;
    const voucher = clean ? undefined : await findVoucher(position, true);
    if (voucher === undefined) {
      // Nothing written there (zeros), no container, or a block of an earlier
      // pass through the container (another LSN): the log simply ends. Anything
      // else is a write that did not complete: a torn tail, cut.
      const nothing = here === 'absent' || here === 'empty' || here === 'lsn' || here === 'log-id';
      if (!nothing) report.tailCutAt = position;
      report.tailReason = nothing ? 'clean end' : `torn tail (${why})`;
      break;
    }
    if (!options.salvage) {
      throw new ClfsError(
        'ERR_CLFS_CORRUPT',
        `the log is damaged at LSN ${Lsn.format(position)} (${why}): a later block (${Lsn.format(
          voucher.block.header.lsn,
        )}) shows it had been durable. Open with recovery: 'salvage' to skip the damage`,
        { lsn: position, reason: why },
      );
    }
    // Salvage: resume at the first valid block after the damage.
    const resume = (await findVoucher(position, false))!;
    report.skipped.push({ fromLsn: position, toLsn: resume.block.header.lsn, reason: why });
    logicalId = resume.logicalId;
    previous = resume.block.header.previousBlockLsn;
    previousEpoch = resume.block.header.epoch;
    accept(resume.block, resume.offset);
  }

  return {
    endLogicalId: logicalId,
    endOffset: offset,
    lastBlockLsn: previous,
    lastLsn,
    restartLsn,
    baseLsn,
    report,
  };

  /**
   * The first valid block after `position` (in its container and the next,
   * within the distance a voucher can be) that vouches for it, or with
   * `mustVouch` false any valid block.
   */
  async function findVoucher(
    position: Lsn,
    mustVouch: boolean,
  ): Promise<{ block: CheckedBlock; logicalId: number; offset: number } | undefined> {
    // (A voucher is a block of any generation up to the metadata's: it says
    // what was durable when it was written.)
    let budget = 2 * WRITE_WINDOW + MAX_BLOCK_SIZE;
    const startId = Number(position >> 32n);
    let at = Number(position & 0xffff_ffffn) + unit;
    for (let id = startId; id <= startId + 1 && budget > 0; id++, at = 0) {
      if (table.physicalOf(id) === -1) break;
      for (; at + unit <= size && budget > 0; at += unit, budget -= unit) {
        const block = await read(id, at);
        if (typeof block === 'string') continue;
        if (block.header.epoch > metadata.epoch) continue;
        if (!mustVouch || block.header.vouchedLsn > position) return { block, logicalId: id, offset: at };
      }
    }
    return undefined;
  }
}
