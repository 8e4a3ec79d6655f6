/**
 * Recovery: finding the end of the log after open (DESIGN.md invariants 5-7).
 *
 * The scan starts at the metadata's tail (the block after the last one known
 * durable when metadata was last written; metadata is written at every
 * restart area, base move, container change, open and close), so it costs
 * time proportional to what was written since, never to the log's size.
 * Each block is accepted only if its CRC, LSN, log id, predecessor and epoch
 * (never below its predecessor's) agree; the writer moves to the next
 * container when a block does not fit, so where a block does not follow, the
 * next container's first block may. There is no epoch ceiling: when the
 * newest metadata copy is lost, the surviving older copy's tail is followed
 * by blocks of later generations, and they are the log. The scan reports the
 * highest epoch of any valid block it read, so the next generation's epoch is
 * above every epoch on disk (Log.openStorage). For the same reason, when the
 * next logical container is not in the table (the copy that recorded its
 * recycling was lost), the free containers the writer could have recycled
 * are probed for its first block.
 *
 * The first block that does not follow ends the log, unless a later valid
 * block vouches for it (its vouchedLsn says the position was durable when it
 * was written): then the bad block is damage in acknowledged data, reported
 * as ERR_CLFS_CORRUPT with its LSN, or skipped and reported in 'salvage'
 * mode. The writer never submits a block more than WINDOW bytes past the
 * durable watermark, so a voucher can only lie within 2 * WINDOW (plus one
 * block) of the bad block: the look-ahead is bounded by a constant. After a
 * clean close there is nothing to look ahead at (the open trusts the clean
 * flag only when both metadata copies were read: a lost newer copy may have
 * belonged to a generation that wrote after it).
 *
 * Lengths on disk never size memory or I/O (DESIGN.md invariant 7): a block
 * header claiming more than MAX_BLOCK_SIZE or the container's end is refused
 * unread, the scan reads through one reused window of at most a block, a
 * short read marks the end of a container's file (a forged container size
 * costs nothing), and the look-ahead reads each byte about once, reads the
 * rest of a block only when its header could vouch, and gives up with
 * ERR_CLFS_CORRUPT when forged headers would make it checksum more than
 * MAX_VOUCHER_CHECKING bytes.
 *
 * The metadata's tail must also be the end of the valid block it names as
 * the one before it; otherwise the metadata is refused as ERR_CLFS_CORRUPT
 * rather than letting new blocks be written over acknowledged ones.
 * @module
 */
import { ClfsError } from '../errors.ts';
import {
  BLOCK_HEADER_SIZE,
  MAX_BLOCK_SIZE,
  parseBlockHeader,
  type BlockHeader,
  type BlockProblem,
} from '../format/block.ts';
import type { Metadata } from '../format/metadata.ts';
import { Lsn, containerOf, makeLsn, offsetOf, positionLsn } from '../lsn.ts';
import type { LogStorage } from '../storage/storage.ts';
import { checkBlock, claimedHeader, type CheckedBlock } from './read/block-check.ts';
import type { ContainerTable } from './containers.ts';

/** The largest block (and marshalling buffer) a log can have (defined with the block format). */
export { MAX_BLOCK_SIZE };

/** The writer's in-flight window: no block is submitted further than this past the durable watermark. */
export const WRITE_WINDOW = 16 * 1024 * 1024;
/** The scan's usual read size. */
const CHUNK_SIZE = 1024 * 1024;
/** The largest buffer the scan ever holds: a chunk, or one whole block. */
const WINDOW_MAX = Math.max(CHUNK_SIZE, MAX_BLOCK_SIZE);
const EMPTY = new Uint8Array(0);
/**
 * The most block bytes one voucher search reads whole and checksums. Real
 * blocks in its reach do not overlap: all of them (with what earlier crashes
 * left) come to a few times the reach; forged headers claiming long blocks
 * at every sector would come to megabytes per sector.
 */
const MAX_VOUCHER_CHECKING = 8 * (2 * WRITE_WINDOW + MAX_BLOCK_SIZE);

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
  /**
   * The highest epoch of the metadata and of every valid block recovery read
   * (accepted or not): the next generation's epoch must be above it.
   */
  highestEpoch: bigint;
  report: RecoveryReport;
}

/**
 * Reads containers for the scan through one reused window (at most
 * WINDOW_MAX bytes, whatever lengths the files claim). A view that starts
 * inside the window keeps the bytes already read and reads only what
 * follows, so a scan that moves forward reads each byte of a container about
 * once, even when it looks at a long (claimed) block from every sector. A
 * read that comes back short is the end of that container's file: nothing
 * past it is read again (a metadata container size larger than the files
 * costs no I/O).
 *
 * A view is valid until the next call (the window is reused): callers keep
 * what they parsed from it, not the bytes.
 */
class ChunkReader {
  #bytes: Uint8Array | undefined;
  #physical = -1;
  #start = 0;
  #length = 0;
  /** Where a container's file was found to end, when before the container size. */
  readonly #ends = new Map<number, number>();
  readonly #storage: LogStorage;
  readonly #containerSize: number;
  /** Offsets and lengths kept in the window stay aligned for direct I/O. */
  readonly #align: number;
  bytesRead = 0;

  constructor(storage: LogStorage, containerSize: number) {
    this.#storage = storage;
    this.#containerSize = containerSize;
    this.#align = Math.max(storage.geometry.unit, storage.geometry.memoryAlignment);
  }

  /** The end of the readable bytes of a container: its size, or where its file was found to end. */
  end(physical: number): number {
    return this.#ends.get(physical) ?? this.#containerSize;
  }

  /**
   * The bytes at [offset, offset + length) of a container, clipped to its
   * end (and to WINDOW_MAX bytes). `offset` is a multiple of the sector unit.
   */
  async view(physical: number, offset: number, length: number): Promise<Uint8Array> {
    const end = Math.min(offset + Math.min(length, WINDOW_MAX), this.end(physical));
    if (end <= offset) return EMPTY;
    const here = physical === this.#physical && offset >= this.#start;
    if (here && end <= this.#start + this.#length) {
      return this.#bytes!.subarray(offset - this.#start, end - this.#start);
    }
    // Bytes of the window from `offset` on are kept (when they stay aligned).
    const from = offset - this.#start;
    let keep = here && from < this.#length ? this.#length - from : 0;
    if (keep % this.#align !== 0) keep = 0;
    const old = this.#bytes;
    let bytes = old;
    this.#physical = -1; // until the read below completes
    if (bytes === undefined || bytes.byteLength < end - offset) {
      bytes = this.#storage.allocate(end - offset <= CHUNK_SIZE ? CHUNK_SIZE : WINDOW_MAX);
      if (keep > 0) bytes.set(old!.subarray(from, from + keep));
      this.#bytes = bytes;
    } else if (keep > 0) {
      bytes.copyWithin(0, from, from + keep);
    }
    const want = Math.min(bytes.byteLength, this.#containerSize - offset);
    let got = 0;
    if (want > keep) {
      got = await this.#storage.read(physical, offset + keep, bytes.subarray(keep, want));
      this.bytesRead += got;
      if (keep + got < want) this.#ends.set(physical, offset + keep + got);
    }
    this.#physical = physical;
    this.#start = offset;
    this.#length = keep + got;
    return bytes.subarray(0, Math.min(this.#length, end - offset));
  }
}

/** What the scan finds at a position: a valid block, why not, no container there, zeros, or a block of an earlier pass. */
type ScanResult = CheckedBlock | BlockProblem | 'absent' | 'empty' | 'lap';

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
  /** Bytes of blocks read whole and checksummed (bounds the voucher search's work). */
  let checkedBytes = 0;
  const report: RecoveryReport = {
    mode: options.salvage ? 'salvage' : 'strict',
    blocksScanned: 0,
    bytesScanned: 0,
    tailCutAt: undefined,
    tailReason: 'clean end',
    skipped: [],
    metadataProblems: [],
  };

  // The highest epoch of any block read at its own position (the next
  // generation goes above it): every valid block, and the headers findVoucher
  // passes over unread.
  let highestEpoch = metadata.epoch;
  /**
   * A block of an earlier pass through the container sits where it was
   * written, so its LSN names the same offset in a lower logical container:
   * 'lap' (nothing of this pass is there). Any other wrong LSN is damage.
   */
  const classify = async (
    result: CheckedBlock | BlockProblem,
    physical: number,
    logicalId: number,
    offset: number,
  ): Promise<ScanResult> => {
    if (typeof result !== 'string') {
      if (result.header.epoch > highestEpoch) highestEpoch = result.header.epoch;
      return result;
    }
    if (result !== 'lsn') return result;
    const header = parseBlockHeader(await reader.view(physical, offset, BLOCK_HEADER_SIZE), unit, size - offset);
    if (typeof header === 'string') return result;
    const id = containerOf(header.lsn);
    return offsetOf(header.lsn) === offset && id >= 1 && id < logicalId ? 'lap' : result;
  };

  /**
   * The block at a position, or why there is none. With `wanted`, a block
   * whose header it refuses is 'unwanted', found without reading (or
   * checksumming) the rest of the block. Reads at most one block
   * (MAX_BLOCK_SIZE), whatever its header claims.
   */
  const read = async (
    logicalId: number,
    offset: number,
    wanted?: (header: BlockHeader) => boolean,
    at?: number,
  ): Promise<ScanResult | 'unwanted'> => {
    const physical = at ?? table.physicalOf(logicalId);
    if (physical === -1 || offset + unit > size) return 'absent';
    const expect = { lsn: makeLsn(logicalId, offset), logId: options.logId, unit, maxLength: size - offset };
    let bytes = await reader.view(physical, offset, Math.max(unit, BLOCK_HEADER_SIZE));
    let result = checkBlock(bytes, expect);
    if (result === 'magic' && bytes.subarray(0, unit).every((b) => b === 0)) return 'empty';
    if (result === 'short') {
      // The header is well formed (checkBlock parsed it): its length is
      // bounded by MAX_BLOCK_SIZE and the container's end.
      const header = claimedHeader(bytes, expect);
      if (header === undefined) return result;
      if (wanted !== undefined && !wanted(header)) return 'unwanted';
      bytes = await reader.view(physical, offset, header.blockLength);
      result = checkBlock(bytes, expect);
      checkedBytes += header.blockLength;
    } else if (typeof result !== 'string' && wanted !== undefined && !wanted(result.header)) {
      return 'unwanted';
    }
    return classify(result, physical, logicalId, offset);
  };

  let logicalId = containerOf(metadata.tailLsn);
  let offset = offsetOf(metadata.tailLsn);
  let previous = metadata.tailPreviousLsn;
  // A tail at a container's end is stored as the next container's start
  // (positionLsn): scan from the end of the container the last block is in,
  // so the next container is looked for as the writer would have taken it.
  if (offset === 0 && previous !== Lsn.INVALID && containerOf(previous) === logicalId - 1) {
    logicalId--;
    offset = size;
  }
  // Everything written after the metadata's tail was written in the
  // metadata's generation or a later one (when a newer metadata copy was
  // lost): an older block there was left by an earlier crash.
  let previousEpoch = metadata.epoch;
  let lastLsn = metadata.lastLsn;
  let restartLsn = metadata.restartLsn;
  let baseLsn = metadata.baseLsn;

  const follows = (block: CheckedBlock): boolean =>
    block.header.previousBlockLsn === previous && block.header.epoch >= previousEpoch;

  /**
   * The first block of logical container `id` (the next one). When the table
   * does not have it, the metadata copy that recorded its recycling may have
   * been lost (the newest copy was damaged, and the other one, written just
   * before it, holds the base the writer recycled with): the writer took the
   * free container with the lowest logical id (ContainerTable.recycle), so
   * look there for a block that names `id` and follows. Only a following
   * block adopts the container into the table (persisted by the open).
   */
  const readNext = async (id: number): Promise<ScanResult | 'unwanted'> => {
    if (table.physicalOf(id) !== -1) return read(id, 0);
    let chosen = -1;
    for (let i = 0; i < table.count; i++) {
      if (!table.isFree(i, baseLsn)) continue;
      if (chosen === -1 || table.logicalIds[i]! < table.logicalIds[chosen]!) chosen = i;
    }
    if (chosen === -1) return 'absent';
    // A free container that cannot be read (a never-used one whose file is
    // missing, say) shows nothing: the metadata's table stands, as if
    // nothing had been looked for.
    const block = await read(id, 0, undefined, chosen).catch(() => 'absent' as const);
    if (typeof block === 'string' || !follows(block)) return 'absent';
    table.logicalIds[chosen] = id;
    return block;
  };

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

  // The metadata's tail must be the end of the block before it: a tail
  // anywhere else (inside a block, past a gap) would have new blocks written
  // over acknowledged ones. That block is still there when its container is
  // in the table (a container is only rewritten once recycled); a damaged one
  // proves nothing either way (reading it reports the damage).
  if (previous !== Lsn.INVALID) {
    const id = containerOf(previous);
    const at = offsetOf(previous);
    const before = at % unit === 0 && table.physicalOf(id) !== -1 ? await read(id, at) : 'absent';
    if (typeof before !== 'string' && (id !== logicalId || at + before.header.blockLength !== offset)) {
      throw new ClfsError(
        'ERR_CLFS_CORRUPT',
        `the log metadata is inconsistent: its tail ${Lsn.format(metadata.tailLsn)} is not the end of the block before it (${Lsn.format(previous)}, ${before.header.blockLength} bytes)`,
        { lsn: metadata.tailLsn, reason: 'tail' },
      );
    }
  }

  for (;;) {
    const here = await read(logicalId, offset);
    if (typeof here !== 'string' && follows(here)) {
      accept(here, offset);
      continue;
    }
    // The writer moves on to the next container when a block does not fit.
    let next: ScanResult | 'unwanted' = 'absent';
    if (offset !== 0) {
      next = await readNext(logicalId + 1);
      if (typeof next !== 'string' && follows(next)) {
        logicalId++;
        accept(next, 0);
        continue;
      }
    }
    // Where nothing was written here, but something was at the start of the
    // next container, the writer had moved on: that is the position in question.
    const nothingAt = (r: ScanResult | 'unwanted'): boolean =>
      r === 'absent' || r === 'empty' || r === 'lap' || r === 'log-id';
    const moved = (here === 'absent' || here === 'empty' || here === 'lap') && !nothingAt(next);
    const position = moved ? makeLsn(logicalId + 1, 0) : positionLsn(logicalId, offset, size);
    const bad = moved ? next : here;
    const why = typeof bad === 'string' ? bad : bad.header.epoch < previousEpoch ? 'stale epoch' : 'chain';
    // After a clean close nothing follows the tail: no look-ahead needed.
    const clean = options.clean && report.blocksScanned === 0 && report.skipped.length === 0;
    const voucher = clean ? undefined : await findVoucher(position, true);
    if (voucher === undefined) {
      // Nothing written there (zeros), no container, a block of an earlier
      // pass through the container ('lap': the same offset in a lower logical
      // container) or of another log: the log simply ends. Anything else (a
      // wrong LSN of any other shape included) is a write that did not
      // complete: a torn tail, cut.
      const nothing = nothingAt(bad);
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
    highestEpoch,
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
      if (header.epoch > highestEpoch) highestEpoch = header.epoch;
      return !mustVouch || header.vouchedLsn > position;
    };
    let budget = 2 * WRITE_WINDOW + MAX_BLOCK_SIZE;
    const checkedBefore = checkedBytes;
    const startId = containerOf(position);
    let at = offsetOf(position) + unit;
    for (let id = startId; id <= startId + 1 && budget > 0; id++, at = 0) {
      const physical = table.physicalOf(id);
      if (physical === -1) break;
      for (; at + unit <= size && budget > 0; at += unit, budget -= unit) {
        // Past the end of a (short) container file nothing can be found.
        if (at >= reader.end(physical)) {
          budget -= size - at;
          break;
        }
        const block = await read(id, at, wanted);
        if (typeof block !== 'string') return { block, logicalId: id, offset: at };
        if (checkedBytes - checkedBefore > MAX_VOUCHER_CHECKING) {
          // Only forged or garbage bytes make this much work: block headers
          // at every few sectors each claiming a long block. Stop with a
          // typed error rather than checksum megabytes per sector (and never
          // cut the log here: what lies at `position` is unknown).
          throw new ClfsError(
            'ERR_CLFS_CORRUPT',
            `the log is damaged after LSN ${Lsn.format(position)}: the block headers that follow it claim more bytes ` +
              `than a log can hold there (${checkedBytes - checkedBefore} checked before LSN ${Lsn.format(
                makeLsn(id, at),
              )})`,
            { lsn: position, reason: 'headers' },
          );
        }
      }
    }
    return undefined;
  }
}
