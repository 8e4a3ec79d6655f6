/**
 * A full scan of a log (`clfs verify`, `clfs stats`): every block from the
 * base's to the last record's, each read from its container and checked as
 * readers check it (block-check.ts: header, log id, LSN, CRC32C, records),
 * each the follower of the one before it (the chain rule with the epoch
 * flag, loaded-block.ts), blocks a truncation dropped passed over. Recovery
 * checks only what was written after the metadata's tail; this reads the
 * whole log, so damage in blocks recovery trusted is found too.
 *
 * Internal (not exported from index.ts): the command line's, built on an
 * open log's core. It reads only, through its own window.
 * @module
 */
import { BLOCK_HEADER_SIZE, MAX_BLOCK_SIZE, type BlockProblem } from '../format/block.ts';
import { follows } from '../format/chain.ts';
import { Lsn, blockLsnOf, containerOf, offsetOf } from '../lsn.ts';
import type { LogCore } from './core.ts';
import { checkBlock, claimedHeader } from './read/block-check.ts';
import { ContainerWindow } from './read/container-window.ts';
import { followerCandidates, followsAsWritten, loadedBlock, type LoadedBlock } from './read/loaded-block.ts';

/** How much the scan reads at a time (it reads ahead as recovery does). */
const CHUNK = 1024 * 1024;

/** A place where the scan found damage, and why. */
export interface Damage {
  /** The block position that failed. */
  lsn: Lsn;
  /** Why (`'checksum'`, `'chain'`, `'magic'`, `'stale epoch'`, ...). */
  reason: string;
}

/** What a full scan found. */
export interface ScanResult {
  /** The first block scanned (the base's), or Lsn.INVALID for a log without records. */
  firstBlockLsn: Lsn;
  /** The last record's block (where the scan ends). */
  lastBlockLsn: Lsn;
  /** Blocks checked. */
  blocks: number;
  /** Bytes of those blocks. */
  bytes: number;
  /** The first damage met; the scan stops there. */
  damage: Damage | undefined;
}

/** Called with each block the scan accepts, and with the records of it that exist (after truncations). */
export type BlockVisitor = (block: LoadedBlock, records: number) => void;

/** Progress: bytes of the log scanned, of about `total`. */
export type ScanProgress = (done: number, total: number) => void;

/**
 * Scans the log `core` holds from the base's block to the last record's
 * (as the log was opened: a writer adding records meanwhile is not
 * followed), calling the visitor `visitor()` makes with each block. Stops
 * at the first damage and reports it. On a read-only log whose writer moved
 * the base past the damage meanwhile, scans again from the new base, with a
 * new visitor.
 */
export async function scanLog(
  core: LogCore,
  visitor?: () => BlockVisitor,
  progress?: ScanProgress,
): Promise<ScanResult> {
  for (let attempt = 1; ; attempt++) {
    const result = await scanOnce(core, visitor?.(), progress);
    // A writer beside a read-only reader may have moved the base and reused
    // the container the scan was reading: not damage, if the base has passed
    // it. Scan again from the new base (a few times: a writer that recycles
    // faster than the scan reads is reported).
    if (result.damage === undefined || core.follower === undefined || attempt === MAX_ATTEMPTS) return result;
    await core.follower.refresh();
    if (core.bases.baseLsn <= result.damage.lsn) return result;
  }
}

/** How many times scanLog starts again when a writer's base move overtook it. */
const MAX_ATTEMPTS = 4;

async function scanOnce(core: LogCore, visit?: BlockVisitor, progress?: ScanProgress): Promise<ScanResult> {
  const base = core.bases.baseLsn;
  const last = core.writer.lastLsn;
  const result: ScanResult = {
    firstBlockLsn: Lsn.INVALID,
    lastBlockLsn: Lsn.INVALID,
    blocks: 0,
    bytes: 0,
    damage: undefined,
  };
  if (last === Lsn.INVALID || base > last) return result;
  result.firstBlockLsn = blockLsnOf(base);
  result.lastBlockLsn = blockLsnOf(last);
  const scanner = new Scanner(core);
  const total = scanner.distance(result.firstBlockLsn, result.lastBlockLsn) + 1;
  try {
    let block = await scanner.load(result.firstBlockLsn);
    while (typeof block !== 'string') {
      result.blocks++;
      result.bytes += block.length;
      visit?.(block, core.bases.recordLimit(block.lsn, block.epoch) ?? block.records.length);
      progress?.(scanner.distance(result.firstBlockLsn, block.lsn) + block.length, total);
      if (block.lsn >= result.lastBlockLsn) break;
      const next = await scanner.follower(block);
      if ('reason' in next) {
        result.damage = next;
        break;
      }
      if (next.lsn > result.lastBlockLsn) {
        result.damage = { lsn: next.lsn, reason: 'past the last record' };
        break;
      }
      block = next;
    }
    if (typeof block === 'string') result.damage = { lsn: result.firstBlockLsn, reason: block };
  } finally {
    await scanner.settle();
  }
  return result;
}

/** Reads and checks blocks through one window. */
class Scanner {
  readonly #core: LogCore;
  readonly #window: ContainerWindow;
  readonly #size: number;

  constructor(core: LogCore) {
    this.#core = core;
    this.#size = core.table.containerSize;
    this.#window = new ContainerWindow(core.storage, this.#size, {
      chunk: CHUNK,
      max: Math.max(CHUNK, MAX_BLOCK_SIZE),
      readAhead: true,
    });
  }

  /** Bytes of log from `from` to `to` (logical containers count whole). */
  distance(from: Lsn, to: Lsn): number {
    return (containerOf(to) - containerOf(from)) * this.#size + offsetOf(to) - offsetOf(from);
  }

  settle(): Promise<void> {
    return this.#window.settle();
  }

  /** The block at `blockLsn`, checked, or why not. */
  async load(blockLsn: Lsn): Promise<LoadedBlock | BlockProblem | 'absent'> {
    const { table, unit, logId } = this.#core;
    const physical = table.physicalOf(containerOf(blockLsn));
    const offset = offsetOf(blockLsn);
    if (physical === -1 || offset + unit > this.#size) return 'absent';
    const expect = { lsn: blockLsn, logId, unit, maxLength: this.#size - offset };
    let checked = checkBlock(await this.#window.view(physical, offset, Math.max(unit, BLOCK_HEADER_SIZE)), expect);
    if (checked === 'short') {
      const header = claimedHeader(await this.#window.view(physical, offset, BLOCK_HEADER_SIZE), expect);
      if (header === undefined) return 'short';
      checked = checkBlock(await this.#window.view(physical, offset, header.blockLength), expect);
    }
    return typeof checked === 'string' ? checked : loadedBlock(blockLsn, checked);
  }

  /**
   * The block after `block`, by the reader's rules (read-context.ts's
   * #nextBlock): a candidate place holding a block that names it, of an
   * epoch and new-epoch flag that agree; a block a truncation dropped is
   * passed over. A follower naming it with an older epoch's flag wrong
   * makes `block` a stale leftover (damage at `block`).
   */
  async follower(block: LoadedBlock): Promise<LoadedBlock | Damage> {
    let first: Damage | undefined;
    for (const candidate of followerCandidates(block, this.#size)) {
      const loaded = await this.load(candidate);
      if (typeof loaded === 'string') {
        first ??= { lsn: candidate, reason: loaded === 'absent' ? 'no container' : loaded };
        continue;
      }
      if (this.#core.bases.recordLimit(loaded.lsn, loaded.epoch) === 0 || loaded.previousBlockLsn !== block.lsn) {
        first ??= { lsn: candidate, reason: 'chain' };
        continue;
      }
      if (followsAsWritten(block, loaded)) return loaded;
      if (follows(block, loaded)) return { lsn: block.lsn, reason: 'stale epoch' };
      first ??= { lsn: candidate, reason: 'stale epoch' };
    }
    return first!;
  }
}
