/**
 * The recovery scan (the rules it follows are in recovery.ts): one scanner
 * per open, holding the scan's position, the state rolled forward from the
 * blocks it accepts, and its report.
 * @module
 */
import { invariant } from '../../errors.ts';
import {
  BLOCK_HEADER_SIZE,
  MAX_BLOCK_SIZE,
  parseBlockHeader,
  type BlockHeader,
  type BlockProblem,
} from '../../format/block.ts';
import { follows } from '../../format/chain.ts';
import { reclaimLsnOf, type Metadata } from '../../format/metadata.ts';
import { Lsn, containerOf, makeLsn, offsetOf, positionLsn } from '../../lsn.ts';
import type { LogStorage } from '../../storage/storage.ts';
import type { ContainerTable } from '../containers.ts';
import { checkBlock, claimedHeader, type CheckedBlock } from '../read/block-check.ts';
import { ContainerWindow } from '../read/container-window.ts';
import { ReadProblems, type ReadProblem } from '../read/problems.ts';
import type { RecoveredTail, RecoveryOptions, RecoveryReport } from './report.ts';

/** The writer's in-flight window: no block is submitted further than this past the durable watermark. */
export const WRITE_WINDOW = 16 * 1024 * 1024;
/**
 * The scan's first read. Past it, the scan reads ahead: the next half of a
 * MAX_BLOCK_SIZE buffer is read while the blocks of the one before are
 * checked, so the device is kept busy (ContainerWindow's readAhead).
 */
const CHUNK_SIZE = 1024 * 1024;
/** The largest buffer the scan ever holds: a chunk, or one whole block. */
const WINDOW_MAX = Math.max(CHUNK_SIZE, MAX_BLOCK_SIZE);
/**
 * The most block bytes one voucher search reads whole and checksums. Real
 * blocks in its reach do not overlap: all of them (with what earlier crashes
 * left) come to a few times the reach; forged headers claiming long blocks
 * at every sector would come to megabytes per sector.
 */
const MAX_VOUCHER_CHECKING = 8 * (2 * WRITE_WINDOW + MAX_BLOCK_SIZE);

/** What the scan finds at a position: a valid block, why not, no container there, zeros, or a block of an earlier pass. */
type ScanResult = CheckedBlock | BlockProblem | 'absent' | 'empty' | 'lap';

/** A valid block found past a bad position, and where. */
interface Found {
  block: CheckedBlock;
  logicalId: number;
  offset: number;
}

/**
 * Whether a position shows that nothing was written there: no container,
 * zeros, a block of an earlier pass through the container ('lap': the same
 * offset in a lower logical container) or of another log.
 */
function nothingAt(result: ScanResult): boolean {
  return result === 'absent' || result === 'empty' || result === 'lap' || result === 'log-id';
}

/** Whether every byte of `bytes` (a sector) is zero. */
function isZero(bytes: Uint8Array): boolean {
  if (bytes.byteOffset % 4 !== 0 || bytes.byteLength % 4 !== 0) return bytes.every((b) => b === 0);
  const words = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  for (let i = 0; i < words.length; i++) if (words[i] !== 0) return false;
  return true;
}

/** Scans from the metadata's tail to the end of the log. Reads only (the open persists what it finds). */
export class RecoveryScanner {
  readonly #metadata: Metadata;
  readonly #table: ContainerTable;
  readonly #options: RecoveryOptions;
  readonly #unit: number;
  readonly #size: number;
  readonly #window: ContainerWindow;
  readonly #problems = new ReadProblems();
  readonly #report: RecoveryReport;
  /** Bytes of blocks read whole and checksummed (bounds the voucher search's work). */
  #checkedBytes = 0;
  /**
   * The highest epoch of any block read at its own position (the next
   * generation goes above it): every valid block, and the headers
   * #findVoucher passes over unread.
   */
  #highestEpoch: bigint;
  // Where the scan is: the position it looks at, and the block before it.
  #logicalId: number;
  #offset: number;
  #previous: Lsn;
  #previousEpoch: bigint;
  // What the accepted blocks roll the metadata forward to.
  #lastLsn: Lsn;
  #restartLsn: Lsn;
  #baseLsn: Lsn;

  constructor(storage: LogStorage, metadata: Metadata, table: ContainerTable, options: RecoveryOptions) {
    this.#metadata = metadata;
    this.#table = table;
    this.#options = options;
    this.#unit = metadata.sectorUnit;
    this.#size = metadata.containerSize;
    this.#window = new ContainerWindow(storage, this.#size, { chunk: CHUNK_SIZE, max: WINDOW_MAX, readAhead: true });
    this.#report = {
      mode: options.salvage ? 'salvage' : 'strict',
      blocksScanned: 0,
      bytesScanned: 0,
      tailCutAt: undefined,
      tailReason: 'clean end',
      skipped: [],
      metadataProblems: [],
      problems: {},
    };
    this.#highestEpoch = metadata.epoch;
    this.#logicalId = containerOf(metadata.tailLsn);
    this.#offset = offsetOf(metadata.tailLsn);
    this.#previous = metadata.tailPreviousLsn;
    // A tail at a container's end is stored as the next container's start
    // (positionLsn): scan from the end of the container the last block is in,
    // so the next container is looked for as the writer would have taken it.
    if (this.#offset === 0 && this.#previous !== Lsn.INVALID && containerOf(this.#previous) === this.#logicalId - 1) {
      this.#logicalId--;
      this.#offset = this.#size;
    }
    // Everything written after the metadata's tail was written in the
    // metadata's generation or a later one (when a newer metadata copy was
    // lost): an older block there was left by an earlier crash.
    this.#previousEpoch = metadata.epoch;
    this.#lastLsn = metadata.lastLsn;
    this.#restartLsn = metadata.restartLsn;
    this.#baseLsn = metadata.baseLsn;
  }

  /** Runs the scan to the end of the log. */
  async scan(): Promise<RecoveredTail> {
    try {
      await this.#checkTail();
      while (await this.#step());
    } finally {
      // No read of the scan outlives it (the open may close the storage next).
      await this.#window.settle();
    }
    this.#report.problems = this.#problems.counts();
    return {
      endLogicalId: this.#logicalId,
      endOffset: this.#offset,
      lastBlockLsn: this.#previous,
      lastLsn: this.#lastLsn,
      restartLsn: this.#restartLsn,
      baseLsn: this.#baseLsn,
      highestEpoch: this.#highestEpoch,
      report: this.#report,
    };
  }

  /**
   * The metadata's tail must be the end of the block before it: a tail
   * anywhere else (inside a block, past a gap) would have new blocks written
   * over acknowledged ones. That block is still there when its container is
   * in the table (a container is only rewritten once recycled); a damaged one
   * proves nothing either way (reading it reports the damage).
   */
  async #checkTail(): Promise<void> {
    const previous = this.#previous;
    if (previous === Lsn.INVALID) return;
    const id = containerOf(previous);
    const at = offsetOf(previous);
    const before = at % this.#unit === 0 && this.#table.physicalOf(id) !== -1 ? await this.#read(id, at) : 'absent';
    if (typeof before !== 'string' && (id !== this.#logicalId || at + before.header.blockLength !== this.#offset)) {
      throw this.#problems.inconsistentTail(this.#metadata.tailLsn, previous, before.header.blockLength);
    }
  }

  /** Looks at the scan's position: accepts the block that follows there, or ends or skips. Whether to go on. */
  async #step(): Promise<boolean> {
    const here = await this.#read(this.#logicalId, this.#offset);
    if (typeof here !== 'string' && this.#follows(here)) {
      this.#accept(here, this.#offset);
      return true;
    }
    // The writer moves on to the next container when a block does not fit.
    let next: ScanResult = 'absent';
    if (this.#offset !== 0) {
      next = await this.#readNext(this.#logicalId + 1);
      if (typeof next !== 'string' && this.#follows(next)) {
        this.#logicalId++;
        this.#accept(next, 0);
        return true;
      }
    }
    // Where nothing was written here, but something was at the start of the
    // next container, the writer had moved on: that is the position in question.
    const moved = (here === 'absent' || here === 'empty' || here === 'lap') && !nothingAt(next);
    const position = moved ? makeLsn(this.#logicalId + 1, 0) : positionLsn(this.#logicalId, this.#offset, this.#size);
    const bad = moved ? next : here;
    const why: ReadProblem =
      typeof bad === 'string' ? bad : bad.header.epoch < this.#previousEpoch ? 'stale epoch' : 'chain';
    // After a clean close nothing follows the tail: no look-ahead needed.
    const clean = this.#options.clean && this.#report.blocksScanned === 0 && this.#report.skipped.length === 0;
    const voucher = clean ? undefined : await this.#findVoucher(position, true);
    if (voucher === undefined) {
      // Nothing written there (zeros), no container, a block of an earlier
      // pass through the container ('lap': the same offset in a lower logical
      // container) or of another log: the log simply ends. Anything else (a
      // wrong LSN of any other shape included) is a write that did not
      // complete: a torn tail, cut.
      const nothing = nothingAt(bad);
      if (!nothing) {
        this.#report.tailCutAt = position;
        this.#problems.count(why);
      }
      this.#report.tailReason = nothing ? 'clean end' : `torn tail (${why})`;
      return false;
    }
    if (!this.#options.salvage) throw this.#problems.acknowledged(position, why, voucher.block.header.lsn);
    // Salvage: resume at the first valid block after the damage.
    const resume = (await this.#findVoucher(position, false))!;
    this.#report.skipped.push({ fromLsn: position, toLsn: resume.block.header.lsn, reason: why });
    this.#problems.count(why);
    this.#logicalId = resume.logicalId;
    this.#previous = resume.block.header.previousBlockLsn;
    this.#previousEpoch = resume.block.header.epoch;
    this.#accept(resume.block, resume.offset);
    return true;
  }

  /** Recovery's rule: the chain rule (format/chain.ts) from the block before the position, nothing more. */
  #follows(block: CheckedBlock): boolean {
    return follows({ lsn: this.#previous, epoch: this.#previousEpoch }, block.header);
  }

  #accept(block: CheckedBlock, at: number): void {
    this.#options.accepted?.(block, this.#logicalId, at);
    const lsn = block.header.lsn;
    for (let i = 0; i < block.records.length; i++) {
      const record = block.records[i]!;
      if (record.type === 'restart') {
        // A restart area is committed once its block is durable: roll the
        // metadata forward to it (the base move it carried included).
        this.#restartLsn = lsn + BigInt(i);
        if (record.newBaseLsn !== Lsn.INVALID && record.newBaseLsn > this.#baseLsn) this.#baseLsn = record.newBaseLsn;
      }
    }
    this.#lastLsn = lsn + BigInt(block.records.length - 1);
    this.#previous = lsn;
    this.#previousEpoch = block.header.epoch;
    this.#offset = at + block.header.blockLength;
    this.#report.blocksScanned++;
    this.#report.bytesScanned += block.header.blockLength;
  }

  /**
   * The first block of logical container `id` (the next one). When the table
   * does not have it, the metadata copy that recorded its recycling may have
   * been lost (the newest copy was damaged, and the other one, written just
   * before it, holds the base the writer recycled with): the writer took the
   * free container with the lowest logical id (ContainerTable.recycle), so
   * look there for a block that names `id` and follows. Only a following
   * block adopts the container into the table (persisted by the open).
   */
  async #readNext(id: number): Promise<ScanResult> {
    const table = this.#table;
    if (table.physicalOf(id) !== -1) return this.#read(id, 0);
    const { archive, archiveTailLsn } = this.#metadata;
    const chosen = table.nextRecycled(reclaimLsnOf(this.#baseLsn, archiveTailLsn, archive));
    if (chosen === -1) return 'absent';
    // A free container that cannot be read (a never-used one whose file is
    // missing, say) shows nothing: the metadata's table stands, as if
    // nothing had been looked for.
    const block = await this.#read(id, 0, chosen).catch(() => 'absent' as const);
    if (typeof block === 'string' || !this.#follows(block)) return 'absent';
    table.logicalIds[chosen] = id;
    return block;
  }

  /** The block at a position (in physical container `at`, else the table's), or why there is none. */
  async #read(logicalId: number, offset: number, at?: number): Promise<ScanResult> {
    const result = await this.#readWanted(logicalId, offset, undefined, at);
    invariant(result !== 'unwanted', 'a read that wants every block refused one');
    return result;
  }

  /**
   * The block at a position, or why there is none. With `wanted`, a block
   * whose header it refuses is 'unwanted', found without reading (or
   * checksumming) the rest of the block. Reads at most one block
   * (MAX_BLOCK_SIZE), whatever its header claims.
   */
  async #readWanted(
    logicalId: number,
    offset: number,
    wanted: ((header: BlockHeader) => boolean) | undefined,
    at?: number,
  ): Promise<ScanResult | 'unwanted'> {
    const unit = this.#unit;
    const size = this.#size;
    const physical = at ?? this.#table.physicalOf(logicalId);
    if (physical === -1 || offset + unit > size) return 'absent';
    const expect = { lsn: makeLsn(logicalId, offset), logId: this.#options.logId, unit, maxLength: size - offset };
    let bytes = await this.#window.view(physical, offset, Math.max(unit, BLOCK_HEADER_SIZE));
    let result = checkBlock(bytes, expect);
    // Zeros or not only tells where nothing was written ('empty'); a voucher
    // search (`wanted`) passes over both alike, at every sector it tries.
    if (result === 'magic' && wanted === undefined && isZero(bytes.subarray(0, unit))) return 'empty';
    if (result === 'short') {
      // The header is well formed (checkBlock parsed it): its length is
      // bounded by MAX_BLOCK_SIZE and the container's end.
      const header = claimedHeader(bytes, expect);
      if (header === undefined) return result;
      if (wanted !== undefined && !wanted(header)) return 'unwanted';
      bytes = await this.#window.view(physical, offset, header.blockLength);
      result = checkBlock(bytes, expect);
      this.#checkedBytes += header.blockLength;
    } else if (typeof result !== 'string' && wanted !== undefined && !wanted(result.header)) {
      return 'unwanted';
    }
    return this.#classify(result, physical, logicalId, offset);
  }

  /**
   * A block of an earlier pass through the container sits where it was
   * written, so its LSN names the same offset in a lower logical container:
   * 'lap' (nothing of this pass is there). Any other wrong LSN is damage.
   */
  async #classify(
    result: CheckedBlock | BlockProblem,
    physical: number,
    logicalId: number,
    offset: number,
  ): Promise<ScanResult> {
    if (typeof result !== 'string') {
      if (result.header.epoch > this.#highestEpoch) this.#highestEpoch = result.header.epoch;
      return result;
    }
    if (result !== 'lsn') return result;
    const bytes = await this.#window.view(physical, offset, BLOCK_HEADER_SIZE);
    const header = parseBlockHeader(bytes, this.#unit, this.#size - offset);
    if (typeof header === 'string') return result;
    const id = containerOf(header.lsn);
    return offsetOf(header.lsn) === offset && id >= 1 && id < logicalId ? 'lap' : result;
  }

  /**
   * The first valid block after `position` (in its container and the next,
   * within the distance a voucher can be) that vouches for it, or with
   * `mustVouch` false any valid block.
   */
  async #findVoucher(position: Lsn, mustVouch: boolean): Promise<Found | undefined> {
    // (A voucher is a valid block of any generation, later ones than the
    // metadata's included: it says what was durable when it was written.)
    // The budget is the distance a voucher can be, and (the reader keeping
    // what it has read) about the bytes read: a header that does not vouch
    // is passed over without reading the rest of its block, and a block that
    // is read is read once, however many positions inside it are tried.
    const wanted = (header: BlockHeader): boolean => {
      // A block passed over unread counts for the next epoch all the same: a
      // block left behind by a generation whose metadata copy was lost must
      // never follow one the next generation writes.
      if (header.epoch > this.#highestEpoch) this.#highestEpoch = header.epoch;
      // Nothing written after the tail is older than the metadata's
      // generation: an older block there (a leftover of a crash, or a block
      // a truncation dropped) is not the log and vouches for nothing.
      if (header.epoch < this.#metadata.epoch) return false;
      return !mustVouch || header.vouchedLsn > position;
    };
    const unit = this.#unit;
    const size = this.#size;
    let budget = 2 * WRITE_WINDOW + MAX_BLOCK_SIZE;
    const checkedBefore = this.#checkedBytes;
    const startId = containerOf(position);
    let at = offsetOf(position) + unit;
    for (let id = startId; id <= startId + 1 && budget > 0; id++, at = 0) {
      const physical = this.#table.physicalOf(id);
      if (physical === -1) break;
      for (; at + unit <= size && budget > 0; at += unit, budget -= unit) {
        // Past the end of a (short) container file nothing can be found.
        if (at >= this.#window.end(physical)) {
          budget -= size - at;
          break;
        }
        const block = await this.#readWanted(id, at, wanted);
        if (typeof block !== 'string') return { block, logicalId: id, offset: at };
        const checked = this.#checkedBytes - checkedBefore;
        if (checked > MAX_VOUCHER_CHECKING) {
          // Only forged or garbage bytes make this much work: block headers
          // at every few sectors each claiming a long block. Stop with a
          // typed error rather than checksum megabytes per sector (and never
          // cut the log here: what lies at `position` is unknown).
          throw this.#problems.forgedHeaders(position, checked, makeLsn(id, at));
        }
      }
    }
    return undefined;
  }
}
