/**
 * A read context's buffer: the block it holds, and the container bytes the
 * last container read brought in with it (its window), which serve the
 * blocks after it without I/O. The window never reaches the writer's first
 * unwritten block (LoadedBlock.window stops there): bytes past it may be
 * stale, and are read again when wanted.
 *
 * A buffer reading forward reads ahead, when its area lends it buffers for
 * that (read-ahead.ts): the blocks that follow are read from their
 * containers and checked while the records of this one are served. A block
 * read ahead is used only when it is the one asked for next, and was on
 * disk when it was read (blocks the writer has written do not change while
 * they are above the base).
 * @module
 */
import { BLOCK_HEADER_SIZE, type BlockProblem } from '../../format/block.ts';
import { type Lsn, containerOf, offsetOf } from '../../lsn.ts';
import { checkBlock, probeBlockBytes, type BlockExpectation, type ProbedBlock } from './block-check.ts';
import { loadedBlock, type LoadedBlock } from './loaded-block.ts';
import type { ReadProblems } from './problems.ts';
import { ReadAhead, type ReadAheadSource } from './read-ahead.ts';

/** What a read buffer needs of its log: where blocks come from, and what they must carry. */
export interface BlockLoader extends ReadAheadSource {
  containerSize(): number;
  /** Loads the block at `blockLsn` into `into`, or says why not. */
  loadBlock(blockLsn: Lsn, into: Uint8Array): Promise<LoadedBlock | BlockProblem | 'absent'>;
  /** What blocks read from containers must carry. */
  blockExpectation(): { logId: bigint; unit: number };
  /** The log's count of the problems its readers met, which builds the errors they throw. */
  problems(): ReadProblems;
  /** How many records of the block at `blockLsn` of generation `epoch` exist (after truncations), or undefined: all. */
  recordLimit(blockLsn: Lsn, epoch: bigint): number | undefined;
  /** The new last record of each truncation since the log was opened, in order. */
  truncations(): readonly Lsn[];
}

export class ReadBuffer {
  readonly #source: BlockLoader;
  #bytes: Uint8Array;
  #block: LoadedBlock | undefined;
  /** Container bytes in the buffer from the last container read: [start, start + length) of a logical container. */
  #window: { logicalId: number; start: number; length: number } | undefined;
  /** The blocks read ahead (a buffer reading forward), else undefined. */
  readonly #ahead: ReadAhead | undefined;
  /** Truncations made when the buffer's bytes were read (see #fresh). */
  #truncations: number;

  constructor(source: BlockLoader, bytes: Uint8Array, readAhead: boolean) {
    this.#source = source;
    this.#bytes = bytes;
    this.#ahead = readAhead ? new ReadAhead(source) : undefined;
    this.#truncations = source.truncations().length;
  }

  /**
   * Forgets the bytes held (the block, the window, the reads ahead) when a
   * truncation came since they were read: a dropped block's place may hold
   * a new block with the same LSN now.
   */
  #fresh(): void {
    const count = this.#source.truncations().length;
    if (count === this.#truncations) return;
    this.#truncations = count;
    this.clear();
    this.#ahead?.discard();
  }

  /** The buffer the block is in (blocks read ahead come in buffers of their own, which take turns). */
  get bytes(): Uint8Array {
    return this.#bytes;
  }

  /** Gives back the buffers lent for reading ahead (once their reads are done); the buffer itself stays with the caller. */
  close(): void {
    this.#ahead?.close();
  }

  /** The block in the buffer, if it is `blockLsn` (and complete: not the writer's open block). */
  cached(blockLsn: Lsn): LoadedBlock | undefined {
    this.#fresh();
    return this.#block?.lsn === blockLsn && this.#block.length > 0 ? this.#cut(this.#block) : undefined;
  }

  /**
   * `block` with only the records truncations left it (format/metadata.ts):
   * blocks are never rewritten, so the dropped records are still there.
   * Every block a context serves comes through here.
   */
  #cut(block: LoadedBlock): LoadedBlock {
    const limit = this.#source.recordLimit(block.lsn, block.epoch);
    if (limit === undefined || block.records.length <= limit) return block;
    const cut = { ...block, records: block.records.slice(0, limit) };
    if (this.#block === block) this.#block = cut;
    return cut;
  }

  /** The block last loaded, if any. */
  get block(): LoadedBlock | undefined {
    return this.#block;
  }

  /** Forgets what the buffer holds. */
  clear(): void {
    this.#block = undefined;
    this.#window = undefined;
  }

  /** Loads a block into the buffer (if not there already). */
  async load(blockLsn: Lsn): Promise<LoadedBlock | BlockProblem | 'absent'> {
    const cached = this.cached(blockLsn);
    if (cached !== undefined) return cached;
    const windowed = this.#fromWindow(blockLsn);
    if (windowed !== undefined) return this.#cut((this.#block = windowed));
    this.clear();
    const ahead = await this.#ahead?.take(blockLsn, this.#bytes);
    if (ahead !== undefined) {
      this.#bytes = ahead.bytes;
      this.#hold(ahead.block);
      return this.#cut(ahead.block);
    }
    const loaded = await this.#source.loadBlock(blockLsn, this.#bytes);
    if (typeof loaded === 'string') return loaded;
    this.#hold(loaded);
    return this.#cut(loaded);
  }

  /** Holds `loaded` (just loaded into the buffer) and the read window that came with it; reads ahead of it. */
  #hold(loaded: LoadedBlock): void {
    this.#block = loaded;
    if (loaded.window === undefined) return;
    this.#window = { logicalId: containerOf(loaded.lsn), start: offsetOf(loaded.lsn), length: loaded.window };
    this.#ahead?.after(loaded, this.#bytes.subarray(0, loaded.window));
  }

  /** The block read ahead at `blockLsn`, as a probe (waiting for its read), if one is. */
  async probeAhead(blockLsn: Lsn): Promise<ProbedBlock | undefined> {
    this.#fresh();
    const block = await this.#ahead?.peek(blockLsn);
    if (block === undefined) return undefined;
    const { lsn, previousBlockLsn, epoch, newEpoch } = block;
    return {
      lsn,
      previousBlockLsn,
      epoch,
      newEpoch,
      recordCount: block.records.length,
      length: block.length,
      whole: true,
    };
  }

  /** The check of a block at `blockLsn`. */
  #expectation(blockLsn: Lsn): BlockExpectation {
    const expect = this.#source.blockExpectation();
    const maxLength = this.#source.containerSize() - offsetOf(blockLsn);
    return { lsn: blockLsn, logId: expect.logId, unit: expect.unit, maxLength };
  }

  /** The window's bytes from `blockLsn` on, when it holds at least `least` of them. */
  #windowBytes(blockLsn: Lsn, least: number): Uint8Array | undefined {
    const w = this.#window;
    if (w === undefined || containerOf(blockLsn) !== w.logicalId) return undefined;
    const offset = offsetOf(blockLsn);
    if (offset < w.start || offset + least > w.start + w.length) return undefined;
    return this.#bytes.subarray(offset - w.start, w.length);
  }

  /** A block that the last container read already brought into the buffer: checked, without I/O. */
  #fromWindow(blockLsn: Lsn): LoadedBlock | undefined {
    const bytes = this.#windowBytes(blockLsn, 1);
    if (bytes === undefined) return undefined;
    const checked = checkBlock(bytes, this.#expectation(blockLsn));
    if (typeof checked === 'string') return undefined;
    if (bytes.byteLength < checked.header.blockLength) return undefined;
    return loadedBlock(blockLsn, checked);
  }

  /**
   * The block at `blockLsn` from the last container read's bytes, without
   * I/O: whole when all of it is there, its header when only that is;
   * undefined when the bytes are not there or do not hold it.
   */
  probe(blockLsn: Lsn): ProbedBlock | undefined {
    this.#fresh();
    const bytes = this.#windowBytes(blockLsn, BLOCK_HEADER_SIZE);
    if (bytes === undefined) return undefined;
    const probed = probeBlockBytes(bytes, this.#expectation(blockLsn));
    return typeof probed === 'string' ? undefined : probed;
  }

  /**
   * Whether reading `block` again from its own start would bring in
   * `candidate`'s header: the last container read filled the whole buffer
   * (it was not stopped by the writer's unwritten blocks) and began before
   * `block`, in the same container as `candidate`.
   */
  canSlide(block: LoadedBlock, candidate: Lsn): boolean {
    const w = this.#window;
    if (w === undefined || w.length !== this.#bytes.byteLength) return false;
    const id = containerOf(block.lsn);
    const offset = offsetOf(block.lsn);
    return w.logicalId === id && containerOf(candidate) === id && offset > w.start;
  }

  /** Reads `block` again into the buffer from its own start (see ReadContext's #confirm). */
  async slide(block: LoadedBlock): Promise<LoadedBlock> {
    this.clear();
    const loaded = await this.load(block.lsn);
    if (typeof loaded === 'string') throw this.#source.problems().damaged(block.lsn, loaded);
    return loaded;
  }
}
