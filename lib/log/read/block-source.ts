/**
 * The log's blocks as readers see them: one block source per log, shared by
 * every marshalling area's read contexts and by base checks. A block comes
 * from the writer's memory while it is not yet written, from a read
 * context's buffer that holds it, or from its container, checked.
 * @module
 */
import { BLOCK_HEADER_SIZE, MAX_BLOCK_SIZE, alignUp, parseBlockHeader, type BlockProblem } from '../../format/block.ts';
import { Lsn, containerOf, makeLsn, offsetOf } from '../../lsn.ts';
import type { LogStorage } from '../../storage/storage.ts';
import type { ContainerTable } from '../containers.ts';
import type { LogWriter } from '../write/writer.ts';
import { checkBlock, probeBlockBytes, type ProbedBlock } from './block-check.ts';
import { ContainerWindow } from './container-window.ts';
import {
  blockTooLarge,
  loadFromContainer,
  loadedBlock,
  recordsOfMemoryBlock,
  type LoadedBlock,
} from './loaded-block.ts';
import { ReadProblems } from './problems.ts';

/** How much findBlockAfter reads at a time. */
const SCAN_CHUNK = 64 * 1024;

export class BlockSource {
  readonly #storage: LogStorage;
  readonly #table: ContainerTable;
  readonly #writer: LogWriter;
  readonly #logId: bigint;
  readonly #unit: number;
  /** The problems this log's readers met, by reason (internal: for tests and diagnostics). */
  readonly problems = new ReadProblems();
  /** A sector buffer for probeBlock's header reads, kept between them (taken while one runs). */
  #probeScratch: Uint8Array | undefined;

  constructor(storage: LogStorage, table: ContainerTable, writer: LogWriter, logId: bigint, unit: number) {
    this.#storage = storage;
    this.#table = table;
    this.#writer = writer;
    this.#logId = logId;
    this.#unit = unit;
  }

  /**
   * Loads a block into `into` for a read context: from the writer's memory,
   * from another context's buffer (`cached`), or from its container.
   */
  async loadBlock(
    blockLsn: Lsn,
    into: Uint8Array,
    contexts: Iterable<{ cached(blockLsn: Lsn): LoadedBlock | undefined }>,
  ): Promise<LoadedBlock | BlockProblem | 'absent'> {
    const memory = this.#writer.blockInMemory(blockLsn);
    if (memory !== undefined) {
      const used = memory.used;
      if (used > into.byteLength) throw blockTooLarge(blockLsn, into.byteLength);
      into.set(memory.buffer.subarray(0, used));
      return {
        lsn: blockLsn,
        previousBlockLsn: memory.previousBlockLsn,
        epoch: this.#writer.epoch,
        newEpoch: this.#writer.isNewEpoch(memory),
        memory: true,
        length: memory.state === 'open' ? 0 : memory.length,
        bytes: into.subarray(0, used),
        records: recordsOfMemoryBlock(into, memory.recordOffsets, used),
      };
    }
    for (const context of contexts) {
      const cached = context.cached(blockLsn);
      if (cached !== undefined && cached.bytes !== into.subarray(0, cached.bytes.byteLength)) {
        if (cached.bytes.byteLength > into.byteLength) break;
        into.set(cached.bytes);
        // Only the block itself was copied: no read window comes with it.
        return { ...cached, bytes: into.subarray(0, cached.bytes.byteLength), window: undefined };
      }
    }
    // A record the log handed out but, having fail-stopped, never wrote:
    // the failure is the answer (there is nothing on disk to find).
    const writer = this.#writer;
    if (writer.failure !== undefined && blockLsn >= writer.firstUnwrittenLsn() && blockLsn <= writer.lastLsn) {
      throw writer.failure;
    }
    const logicalId = containerOf(blockLsn);
    const physical = this.#table.physicalOf(logicalId);
    if (physical === -1) return 'absent';
    // Bytes at or past the first unwritten block may be stale: a read window
    // must not serve them later.
    const unwritten = this.#writer.firstUnwrittenLsn();
    const size = this.#table.containerSize;
    const trustedEnd = containerOf(unwritten) === logicalId ? offsetOf(unwritten) : size;
    return loadFromContainer((offset, buffer) => this.#storage.read(physical, offset, buffer), blockLsn, into, {
      logId: this.#logId,
      unit: this.#unit,
      containerSize: size,
      trustedEnd,
      allocate: (length) => this.#storage.allocate(length),
    });
  }

  /**
   * For reading ahead: reads the bytes at `blockLsn`'s place into `into`
   * when the writer has written the block there (a block read ahead is then
   * what a later load would read). Resolves with how many of them can be
   * trusted (the read window, as for loadBlock), or undefined.
   */
  async readWritten(blockLsn: Lsn, into: Uint8Array): Promise<number | undefined> {
    const unwritten = this.#writer.firstUnwrittenLsn();
    if (blockLsn >= unwritten) return undefined;
    const logicalId = containerOf(blockLsn);
    const physical = this.#table.physicalOf(logicalId);
    const size = this.#table.containerSize;
    const offset = offsetOf(blockLsn);
    if (physical === -1 || size - offset < this.#unit) return undefined;
    const trustedEnd = containerOf(unwritten) === logicalId ? offsetOf(unwritten) : size;
    const got = await this.#storage.read(physical, offset, into.subarray(0, Math.min(into.byteLength, size - offset)));
    return Math.min(got, trustedEnd - offset);
  }

  /** The block at the start of `bytes` (read by readWritten) if it passes every check, else undefined. */
  checkWritten(blockLsn: Lsn, bytes: Uint8Array): LoadedBlock | undefined {
    const maxLength = this.#table.containerSize - offsetOf(blockLsn);
    const checked = checkBlock(bytes, { lsn: blockLsn, logId: this.#logId, unit: this.#unit, maxLength });
    return typeof checked === 'string' ? undefined : { ...loadedBlock(blockLsn, checked), window: bytes.byteLength };
  }

  /** The writer's block at `blockLsn`, as a probe. */
  #probeMemory(blockLsn: Lsn): ProbedBlock | undefined {
    const memory = this.#writer.blockInMemory(blockLsn);
    if (memory === undefined) return undefined;
    return {
      lsn: blockLsn,
      previousBlockLsn: memory.previousBlockLsn,
      epoch: this.#writer.epoch,
      newEpoch: this.#writer.isNewEpoch(memory),
      recordCount: memory.count,
      length: memory.state === 'open' ? 0 : memory.length,
      whole: true,
    };
  }

  /** The physical container holding `blockLsn` on disk, or -1: none, or the writer has not written there yet. */
  #physicalOnDisk(blockLsn: Lsn): number {
    if (blockLsn >= this.#writer.firstUnwrittenLsn()) return -1;
    return this.#table.physicalOf(containerOf(blockLsn));
  }

  /** `bytes` (read from `blockLsn`'s place) checked as a block, or its header alone when it is longer. */
  #probeBytes(blockLsn: Lsn, bytes: Uint8Array): ProbedBlock | BlockProblem {
    const maxLength = this.#table.containerSize - offsetOf(blockLsn);
    return probeBlockBytes(bytes, { lsn: blockLsn, logId: this.#logId, unit: this.#unit, maxLength });
  }

  /**
   * `length` bytes of `blockLsn`'s place (reads that do not use a read
   * buffer), in a buffer allocated for them, or in `into` when it is large
   * enough.
   */
  async #readRaw(physical: number, blockLsn: Lsn, length: number, into?: Uint8Array): Promise<Uint8Array> {
    const offset = offsetOf(blockLsn);
    const want = Math.min(length, this.#table.containerSize - offset);
    const buffer = into !== undefined && into.byteLength >= want ? into : this.#storage.allocate(want);
    const bytes = buffer.subarray(0, want);
    const got = await this.#storage.read(physical, offset, bytes);
    return bytes.subarray(0, got);
  }

  /**
   * The block at `blockLsn` without a read buffer: from the
   * writer's memory, or its first sector (`whole`: all of it) read from its
   * container into a buffer of its own.
   */
  async probeBlock(blockLsn: Lsn, whole: boolean): Promise<ProbedBlock | BlockProblem | 'absent'> {
    const memory = this.#probeMemory(blockLsn);
    if (memory !== undefined) return memory;
    const physical = this.#physicalOnDisk(blockLsn);
    if (physical === -1) return 'absent';
    const unit = this.#unit;
    // One sector buffer kept for these reads (forward reads look at the
    // next block's header this way when their buffer did not bring it in).
    const scratch = this.#probeScratch ?? this.#storage.allocate(unit);
    this.#probeScratch = undefined;
    let first: Uint8Array;
    let probed: ProbedBlock | BlockProblem;
    try {
      first = await this.#readRaw(physical, blockLsn, unit, scratch);
      probed = this.#probeBytes(blockLsn, first);
    } finally {
      this.#probeScratch = scratch;
    }
    if (typeof probed === 'string' || probed.whole || !whole) return probed;
    if (first.byteLength < unit) return 'short';
    const header = parseBlockHeader(first, unit, this.#table.containerSize - offsetOf(blockLsn));
    if (typeof header === 'string') return header;
    const all = await this.#readRaw(physical, blockLsn, header.blockLength);
    if (all.byteLength < header.blockLength) return 'short';
    return this.#probeBytes(blockLsn, all);
  }

  /**
   * The first block after `position` that passes every check:
   * each sector unit up to MAX_BLOCK_SIZE on in its container (read 64 KiB
   * at a time; a longer block is read whole to be checked), then the next
   * container's first block. Bounded: at most MAX_BLOCK_SIZE read plus two
   * blocks. Used only to explain a read that failed.
   */
  async findBlockAfter(position: Lsn): Promise<ProbedBlock | undefined> {
    const unit = this.#unit;
    const size = this.#table.containerSize;
    const id = containerOf(position);
    const start = offsetOf(position);
    const end = Math.min(size, start + MAX_BLOCK_SIZE + unit);
    const physical = this.#table.physicalOf(id);
    // A window of its own: the block source is shared by every reader, and
    // several may be explaining a failed read at once.
    const window = new ContainerWindow(this.#storage, size, { chunk: SCAN_CHUNK, max: SCAN_CHUNK });
    for (let at = alignUp(start + 1, unit); physical !== -1 && at + unit <= end; at += unit) {
      const candidate = makeLsn(id, at);
      const memory = this.#probeMemory(candidate);
      if (memory !== undefined) return memory;
      // Past what the writer has written: nothing more on disk.
      if (this.#physicalOnDisk(candidate) === -1) break;
      let bytes = window.held(physical, at);
      if (bytes.byteLength < BLOCK_HEADER_SIZE) {
        bytes = await window.view(physical, at, SCAN_CHUNK);
        // The container file ends here (cut short): nothing more to find in it.
        if (bytes.byteLength < BLOCK_HEADER_SIZE) break;
      }
      const probed = this.#probeBytes(candidate, bytes);
      if (typeof probed === 'string') continue;
      if (probed.whole) return probed;
      const whole = await this.probeBlock(candidate, true);
      if (typeof whole !== 'string' && whole.whole) return whole;
    }
    const next = await this.probeBlock(makeLsn(id + 1, 0), true);
    return typeof next === 'string' || !next.whole ? undefined : next;
  }
}
