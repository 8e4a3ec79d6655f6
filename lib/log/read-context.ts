/**
 * Reading records (CLFS's ReadLogRecord / ReadNextLogRecord /
 * TerminateReadLog / ReadLogRestartArea / ReadPreviousLogRestartArea).
 *
 * A read context is a cursor holding one read buffer. Blocks come from the
 * writer's buffers when not yet written, from another context's read buffer
 * when one holds the block, and from the container otherwise; a block read
 * from a container is checked (CRC, LSN, log id) before any record in it is
 * believed.
 *
 * Damage and bad LSNs are told apart (API.md: ERR_CLFS_CORRUPT names damage,
 * ERR_CLFS_INVALID_LSN a caller's LSN that names no record). A position in
 * [base, last] whose block fails its checks is damage when the log's chain
 * shows a block starts there: it is the base's, the last record's or the
 * restart area's block, or a container's first, or the first valid block
 * after it (looked for at most MAX_BLOCK_SIZE on, then at the next
 * container's start: a bounded scan, done only on this error path) names it
 * as its predecessor. When that block names an earlier one, the position is
 * inside a block: ERR_CLFS_INVALID_LSN.
 *
 * Reading forward, a block's records are served only once the block after
 * it agrees that it is the one it was written after (same predecessor LSN,
 * and an epoch that matches the follower's BLOCK_FLAG_NEW_EPOCH): a block of
 * an earlier generation left where a later one was written (a lost write)
 * is reported as ERR_CLFS_CORRUPT, never served. That look at the follower's
 * header costs nothing when the last container read brought it in, else one
 * sector read. Stretches that salvage recovery skipped are never served.
 * @module
 */
import { ClfsError, invalidArgValue, invariant } from '../errors.ts';
import {
  BLOCK_HEADER_SIZE,
  type BlockProblem,
  type RecordEntry,
  parseBlockHeader,
  parseRecordAt,
} from '../format/block.ts';
import { Lsn, blockLsnOf, checkLsn, containerOf, makeLsn, offsetOf } from '../lsn.ts';
import { checkOptions } from '../validate.ts';
import { checkBlock, probeBlockBytes, type CheckedBlock, type ProbedBlock } from './block-check.ts';

export type { ProbedBlock };
/** `'data'`, `'restart'`, or `'client'` (either). */
export type RecordTypeFilter = 'data' | 'restart' | 'client';
/** How next() moves: the next record in the log, or along a record's previous or undo-next LSN. */
export type ReadMode = 'forward' | 'previous' | 'undoNext';

/** A record as read. */
export interface LogRecord {
  lsn: Lsn;
  type: 'data' | 'restart';
  /**
   * The record's data: the caller's own copy, or with `{ view: true }` a view
   * into the context's read buffer, valid until the next call on the context.
   */
  data: Uint8Array;
  undoNextLsn: Lsn;
  previousLsn: Lsn;
}

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

/** A block looked at without loading it into a read buffer: where it sits in the chain. */

/**
 * Whether `next` (which names `previous` as its predecessor) was written
 * after `previous` as it is now: a block that is not the first of its
 * generation follows a block of its own epoch, the first one an older epoch.
 */
export function epochFollows(previous: { epoch: bigint }, next: { epoch: bigint; newEpoch: boolean }): boolean {
  return next.newEpoch ? next.epoch > previous.epoch : next.epoch === previous.epoch;
}

/** What a read context needs of its marshalling area and log. */
export interface ReadSource {
  readonly bufferSize: number;
  baseLsn(): Lsn;
  lastLsn(): Lsn;
  restartLsn(): Lsn;
  containerSize(): number;
  /** Loads the block at `blockLsn` into `into`, or says why not. */
  loadBlock(blockLsn: Lsn, into: Uint8Array): Promise<LoadedBlock | BlockProblem | 'absent'>;
  /**
   * The block at `blockLsn` without a read buffer: from the writer's memory,
   * or its container (`whole`: the whole block checked, else its header).
   */
  probeBlock(blockLsn: Lsn, whole: boolean): Promise<ProbedBlock | BlockProblem | 'absent'>;
  /**
   * The first block after `position` that passes every check, at most
   * MAX_BLOCK_SIZE on in its container or at the next container's start
   * (where a block at `position` would be followed); undefined if none.
   */
  findBlockAfter(position: Lsn): Promise<ProbedBlock | undefined>;
  /** Stretches salvage recovery skipped: never served. */
  skippedRanges(): readonly { fromLsn: Lsn; toLsn: Lsn }[];
  /** What blocks read from containers must carry. */
  blockExpectation(): { logId: bigint; unit: number };
  releaseReadBuffer(context: ReadContext, buffer: Uint8Array): void;
  checkOpen(): void;
}

export interface ReadOptions {
  /** Record type filter (default 'data'). */
  type?: RecordTypeFilter;
  /** Zero-copy: `data` views the read buffer, valid until the next call on this context. */
  view?: boolean;
}

function matches(filter: RecordTypeFilter, type: 'data' | 'restart'): boolean {
  return filter === 'client' || filter === type;
}

/** A cursor over records; holds one read buffer until terminated. */
export class ReadContext {
  readonly #source: ReadSource;
  readonly #buffer: Uint8Array;
  readonly #mode: ReadMode;
  readonly #filter: RecordTypeFilter;
  readonly #view: boolean;
  #block: LoadedBlock | undefined;
  /** Container bytes in the buffer from the last container read: [start, start + length) of a logical container. */
  #window: { logicalId: number; start: number; length: number } | undefined;
  #index = 0;
  #record!: LogRecord;
  #busy = false;
  #terminated = false;
  #ended = false;

  /** @internal */
  constructor(source: ReadSource, buffer: Uint8Array, mode: ReadMode, filter: RecordTypeFilter, view: boolean) {
    this.#source = source;
    this.#buffer = buffer;
    this.#mode = mode;
    this.#filter = filter;
    this.#view = view;
  }

  /** @internal Positions the context on the record at `lsn`; it must exist and match the filter. */
  async start(lsn: Lsn): Promise<void> {
    // As next(): a terminate() (the area closing) while it reads gives the
    // buffer back only once the read is done with it.
    this.#enter();
    try {
      await this.#start(lsn);
    } finally {
      this.#busy = false;
      if (this.#terminated) this.#release();
    }
    if (this.#terminated) throw new ClfsError('ERR_CLFS_CLOSED', 'the read context was terminated during the read');
  }

  async #start(lsn: Lsn): Promise<void> {
    let record = await this.#recordAt(lsn, 'start');
    if (this.#mode === 'forward') {
      // Reading forward: its block must be the one the next block was written after.
      const block = this.#block!;
      const confirmed = await this.#confirm(block);
      if (confirmed !== block) record = this.#toRecord(confirmed, this.#index);
    }
    if (!matches(this.#filter, record.type)) {
      throw new ClfsError(
        'ERR_CLFS_INVALID_LSN',
        `LSN ${Lsn.format(lsn)} names a ${record.type} record, not a ${this.#filter} record`,
        { lsn },
      );
    }
    this.#record = record;
  }

  /** The record the context is on. */
  get record(): LogRecord {
    return this.#record;
  }

  /** The mode next() follows. */
  get mode(): ReadMode {
    return this.#mode;
  }

  /** @internal The block in this context's buffer, if it is `blockLsn`. */
  cached(blockLsn: Lsn): LoadedBlock | undefined {
    return this.#block?.lsn === blockLsn && this.#block.length > 0 ? this.#block : undefined;
  }

  /**
   * Moves to the next record by the context's mode (CLFS's
   * ReadNextLogRecord) and returns it; `null` at the end of the log or of
   * the chain. `userLsn` reads that record instead: it must be older than
   * the current one (backward modes only).
   */
  async next(options?: { userLsn?: Lsn }): Promise<LogRecord | null> {
    const o = checkOptions('options', options);
    this.#enter();
    let result: LogRecord | null;
    try {
      result = await this.#step(o.userLsn);
    } finally {
      this.#busy = false;
      // terminate() during the read: the buffer is given back only now.
      if (this.#terminated) this.#release();
    }
    if (this.#terminated) throw new ClfsError('ERR_CLFS_CLOSED', 'the read context was terminated during the read');
    return result;
  }

  async #step(userLsnOption: Lsn | undefined): Promise<LogRecord | null> {
    if (userLsnOption !== undefined) {
      const userLsn = checkLsn('options.userLsn', userLsnOption);
      if (this.#mode === 'forward') {
        throw invalidArgValue(
          'options.userLsn',
          userLsn,
          "can only move backward: it needs mode 'previous' or 'undoNext'",
        );
      }
      if (userLsn >= this.#record.lsn) {
        throw invalidArgValue(
          'options.userLsn',
          userLsn,
          `must be older than the current record ${Lsn.format(this.#record.lsn)}`,
        );
      }
      this.#ended = false;
      const record = this.#moveTo(await this.#recordAt(userLsn, 'chain'));
      if (matches(this.#filter, record.type)) return record;
      // Not of the filter's type: go on along the chain from it.
      const next = await this.#backward();
      if (next === null) this.#ended = true;
      return next;
    }
    if (this.#ended) return null;
    const next = this.#mode === 'forward' ? await this.#forward() : await this.#backward();
    if (next === null) {
      this.#ended = true;
      return null;
    }
    return this.#moveTo(next);
  }

  /**
   * On a context from readRestartArea(): the restart area written before
   * the current one, or null when there is none.
   */
  async readPreviousRestartArea(): Promise<{ data: Uint8Array; lsn: Lsn } | null> {
    if (this.#filter !== 'restart') {
      throw new ClfsError('ERR_INVALID_ARG_VALUE', 'readPreviousRestartArea() needs a context from readRestartArea()');
    }
    const record = await this.next();
    return record === null ? null : { data: record.data, lsn: record.lsn };
  }

  /** Frees the context's read buffer (CLFS's TerminateReadLog). Later calls give ERR_CLFS_CLOSED. */
  terminate(): void {
    if (this.#terminated) return;
    this.#terminated = true;
    // A read in progress still uses the buffer: it is released when that read ends.
    if (!this.#busy) this.#release();
  }

  #release(): void {
    this.#block = undefined;
    this.#window = undefined;
    this.#source.releaseReadBuffer(this, this.#buffer);
  }

  /** Terminates the context (for `await using`). */
  async [Symbol.asyncDispose](): Promise<void> {
    this.terminate();
  }

  #enter(): void {
    if (this.#terminated) throw new ClfsError('ERR_CLFS_CLOSED', 'the read context was terminated');
    this.#source.checkOpen();
    if (this.#busy) {
      throw new ClfsError('ERR_CLFS_CONTEXT_BUSY', 'a read is already in progress on this context; await it first');
    }
    this.#busy = true;
  }

  #moveTo(record: LogRecord): LogRecord {
    this.#record = record;
    return record;
  }

  #toRecord(block: LoadedBlock, index: number): LogRecord {
    const entry = block.records[index]!;
    const bytes = block.bytes.subarray(entry.dataOffset, entry.dataOffset + entry.dataLength);
    return {
      lsn: block.lsn + BigInt(index),
      type: entry.type,
      data: this.#view ? bytes : bytes.slice(),
      undoNextLsn: entry.undoNextLsn,
      previousLsn: entry.previousLsn,
    };
  }

  /** Loads a block into this context's buffer (if not there already). */
  async #load(blockLsn: Lsn): Promise<LoadedBlock | BlockProblem | 'absent'> {
    if (this.#block?.lsn === blockLsn && this.#block.length > 0) return this.#block;
    const windowed = this.#fromWindow(blockLsn);
    if (windowed !== undefined) return (this.#block = windowed);
    this.#block = undefined;
    this.#window = undefined;
    const loaded = await this.#source.loadBlock(blockLsn, this.#buffer);
    if (typeof loaded !== 'string') {
      this.#block = loaded;
      if (loaded.window !== undefined) {
        this.#window = {
          logicalId: containerOf(blockLsn),
          start: offsetOf(blockLsn),
          length: loaded.window,
        };
      }
    }
    return loaded;
  }

  /** A block that the last container read already brought into the buffer: checked, without I/O. */
  #fromWindow(blockLsn: Lsn): LoadedBlock | undefined {
    const w = this.#window;
    if (w === undefined || containerOf(blockLsn) !== w.logicalId) return undefined;
    const offset = offsetOf(blockLsn);
    if (offset < w.start || offset >= w.start + w.length) return undefined;
    const bytes = this.#buffer.subarray(offset - w.start, w.length);
    const expect = this.#source.blockExpectation();
    const checked = checkBlock(bytes, {
      lsn: blockLsn,
      logId: expect.logId,
      unit: expect.unit,
      maxLength: this.#source.containerSize() - offset,
    });
    if (typeof checked === 'string') return undefined;
    if (offset + checked.header.blockLength > w.start + w.length) return undefined;
    return loadedBlock(blockLsn, checked);
  }

  /**
   * The block at `blockLsn` from the last container read's bytes, without
   * I/O: whole when all of it is there, its header when only that is;
   * undefined when the bytes are not there or do not hold it.
   */
  #probeInWindow(blockLsn: Lsn): ProbedBlock | undefined {
    const w = this.#window;
    if (w === undefined || containerOf(blockLsn) !== w.logicalId) return undefined;
    const offset = offsetOf(blockLsn);
    if (offset < w.start || offset + BLOCK_HEADER_SIZE > w.start + w.length) return undefined;
    const bytes = this.#buffer.subarray(offset - w.start, w.length);
    const expect = this.#source.blockExpectation();
    const maxLength = this.#source.containerSize() - offset;
    const probed = probeBlockBytes(bytes, { lsn: blockLsn, logId: expect.logId, unit: expect.unit, maxLength });
    return typeof probed === 'string' ? undefined : probed;
  }

  /**
   * Makes sure `block` (just entered by a forward read) is the block the
   * block after it was written after: a block of an earlier generation left
   * in its place (a lost write) has the same LSN and predecessor, and only
   * its follower can tell. Throws ERR_CLFS_CORRUPT naming it if so. Nothing
   * to check for the last block or one in the writer's memory; a follower
   * that cannot be read or names another block proves nothing here (moving
   * on to it reports that).
   *
   * When the follower's header is past the last container read's bytes and
   * that read began before this block, the block is read again from its own
   * start, which brings in the blocks after it too: one read then serves
   * both this look and the next blocks. Returns the block as it now is in
   * the buffer.
   */
  async #confirm(block: LoadedBlock): Promise<LoadedBlock> {
    if (block.memory === true || block.length === 0) return block;
    if (blockLsnOf(this.#source.lastLsn()) === block.lsn) return block;
    let current = block;
    for (const candidate of this.#followerCandidates(current)) {
      if (this.#inSkipped(candidate)) return current;
      let probed = this.#probeInWindow(candidate);
      if (probed === undefined && this.#canSlide(current, candidate)) {
        current = await this.#slide(current);
        probed = this.#probeInWindow(candidate);
      }
      const found = probed ?? (await this.#source.probeBlock(candidate, false));
      if (typeof found === 'string' || found.previousBlockLsn !== current.lsn) continue;
      if (epochFollows(current, found)) return current;
      // Before blaming this block, make sure the follower is whole (a
      // damaged follower header proves nothing).
      const whole = found.whole ? found : await this.#source.probeBlock(candidate, true);
      if (typeof whole === 'string' || whole.previousBlockLsn !== current.lsn || epochFollows(current, whole)) {
        return current;
      }
      // A block of an older generation naming this one is a leftover of an
      // earlier crash (the log may go on in the next container), as
      // #nextBlock has it: look at the next candidate.
      if (whole.epoch < current.epoch) continue;
      throw this.#stale(current, whole);
    }
    return current;
  }

  /**
   * Whether reading `block` again from its own start would bring in
   * `candidate`'s header: the last container read filled the whole buffer
   * (it was not stopped by the writer's unwritten blocks) and began before
   * `block`, in the same container as `candidate`.
   */
  #canSlide(block: LoadedBlock, candidate: Lsn): boolean {
    const w = this.#window;
    if (w === undefined || w.length !== this.#buffer.byteLength) return false;
    const id = containerOf(block.lsn);
    const offset = offsetOf(block.lsn);
    return w.logicalId === id && containerOf(candidate) === id && offset > w.start;
  }

  /** Reads `block` again into the buffer from its own start (see #confirm). */
  async #slide(block: LoadedBlock): Promise<LoadedBlock> {
    this.#block = undefined;
    this.#window = undefined;
    const loaded = await this.#load(block.lsn);
    if (typeof loaded === 'string') throw this.#damaged(block.lsn, loaded);
    return loaded;
  }

  /** Where the block after `block` can start: right after it, or at the next container's start. */
  #followerCandidates(block: LoadedBlock): Lsn[] {
    const id = containerOf(block.lsn);
    const offset = offsetOf(block.lsn) + block.length;
    return offset < this.#source.containerSize() ? [makeLsn(id, offset), makeLsn(id + 1, 0)] : [makeLsn(id + 1, 0)];
  }

  #inSkipped(blockLsn: Lsn): boolean {
    return this.#source.skippedRanges().some((r) => blockLsn >= r.fromLsn && blockLsn < r.toLsn);
  }

  #stale(block: { lsn: Lsn; epoch: bigint }, follower: ProbedBlock): ClfsError {
    return new ClfsError(
      'ERR_CLFS_CORRUPT',
      `the log is damaged at LSN ${Lsn.format(block.lsn)} (stale epoch): the block there is of generation ${block.epoch}, but the block after it (${Lsn.format(follower.lsn)}, generation ${follower.epoch}) was written after ${follower.newEpoch ? 'an older' : 'its own'} generation's block there (a lost write leaves an earlier block in place)`,
      { lsn: block.lsn },
    );
  }

  /**
   * The error for a position in [base, last] whose block could not be
   * loaded: ERR_CLFS_CORRUPT when the chain shows a block starts there (see
   * the module's notes), ERR_CLFS_INVALID_LSN when it is not a block's.
   */
  async #unreadable(
    lsn: Lsn,
    blockLsn: Lsn,
    problem: BlockProblem | 'absent',
    why: 'start' | 'chain',
  ): Promise<ClfsError> {
    const notABlock = (detail: string): ClfsError =>
      new ClfsError(
        'ERR_CLFS_INVALID_LSN',
        `LSN ${Lsn.format(lsn)} names no record (${why === 'chain' ? 'a chain field points' : 'it points'} where no block starts${detail})`,
        { lsn },
      );
    const damaged = (detail: string): ClfsError =>
      new ClfsError('ERR_CLFS_CORRUPT', `the block at LSN ${Lsn.format(blockLsn)} is damaged (${problem})${detail}`, {
        lsn: blockLsn,
      });
    // No container holds it, or it is not on a sector unit: no block starts there.
    if (problem === 'absent') return notABlock('');
    if (offsetOf(blockLsn) % this.#source.blockExpectation().unit !== 0) {
      return notABlock(': blocks start on sector-unit boundaries');
    }
    // Its header names this position; its contents are wrong, or its
    // container ends before it does.
    if (problem === 'checksum' || problem === 'records' || problem === 'short') return damaged('');
    const restart = this.#source.restartLsn();
    if (
      offsetOf(blockLsn) === 0 ||
      blockLsn === blockLsnOf(this.#source.lastLsn()) ||
      blockLsn === blockLsnOf(this.#source.baseLsn()) ||
      (restart !== Lsn.INVALID && blockLsn === blockLsnOf(restart))
    ) {
      return damaged(': a block of the log starts there');
    }
    const follower = await this.#source.findBlockAfter(blockLsn);
    if (follower !== undefined && follower.previousBlockLsn === blockLsn) {
      return damaged(`: the block after it (${Lsn.format(follower.lsn)}) names it as its predecessor`);
    }
    if (follower !== undefined && follower.previousBlockLsn < blockLsn) {
      return notABlock(`: the block at ${Lsn.format(follower.previousBlockLsn)} covers it`);
    }
    // The first valid block after it follows a block between the two that
    // fails its checks, or none was found near it: the log is damaged here.
    return damaged(
      follower === undefined
        ? ': no valid block follows it within the largest block size'
        : `, and so is the block at ${Lsn.format(follower.previousBlockLsn)} after it`,
    );
  }

  /**
   * The record at `lsn`. `why` says how it was reached: a named start or a
   * user LSN ('start'), or a chain field read from the log ('chain').
   */
  async #recordAt(lsn: Lsn, why: 'start' | 'chain'): Promise<LogRecord> {
    const last = this.#source.lastLsn();
    if (lsn === Lsn.INVALID || last === Lsn.INVALID || lsn > last) {
      throw new ClfsError(
        'ERR_CLFS_INVALID_LSN',
        last === Lsn.INVALID
          ? `LSN ${Lsn.format(lsn)} names no record: the log has none`
          : `LSN ${Lsn.format(lsn)} names no record: the last record is ${Lsn.format(last)}`,
        { lsn },
      );
    }
    if (lsn < this.#source.baseLsn()) throw this.#belowBase(lsn);
    const blockLsn = blockLsnOf(lsn);
    const index = Number(lsn - blockLsn);
    if (this.#inSkipped(blockLsn)) throw this.#damaged(blockLsn, 'skipped by salvage recovery');
    const block = await this.#load(blockLsn);
    if (typeof block === 'string') throw await this.#unreadable(lsn, blockLsn, block, why);
    if (index >= block.records.length) {
      throw new ClfsError(
        'ERR_CLFS_INVALID_LSN',
        `LSN ${Lsn.format(lsn)} names no record: its block has ${block.records.length}`,
        { lsn },
      );
    }
    this.#index = index;
    return this.#toRecord(block, index);
  }

  async #forward(): Promise<LogRecord | null> {
    for (;;) {
      const current = this.#record.lsn;
      if (current >= this.#source.lastLsn()) return null;
      let block = await this.#load(blockLsnOf(current));
      if (typeof block === 'string') throw this.#damaged(blockLsnOf(current), block);
      if (this.#index + 1 < block.records.length) {
        // The base may have moved past this context since it read its record.
        if (current + 1n < this.#source.baseLsn()) throw this.#belowBase(current + 1n);
        this.#index++;
      } else {
        block = await this.#confirm(await this.#nextBlock(block));
        this.#index = 0;
      }
      const record = this.#toRecord(block, this.#index);
      this.#record = record;
      if (matches(this.#filter, record.type)) return record;
    }
  }

  /**
   * The block after `block`: right after it, or at the next container's
   * start. A follower below the base (moved since) is ERR_CLFS_START_OF_LOG.
   */
  async #nextBlock(block: LoadedBlock): Promise<LoadedBlock> {
    const candidates = this.#followerCandidates(block);
    const base = this.#source.baseLsn();
    let firstProblem: { lsn: Lsn; problem: string } | undefined;
    let belowBase: Lsn | undefined;
    for (const candidate of candidates) {
      if (candidate < base) {
        // Its container may have been reused already: do not look.
        belowBase ??= candidate;
        continue;
      }
      if (this.#inSkipped(candidate)) {
        firstProblem ??= { lsn: candidate, problem: 'skipped by salvage recovery' };
        continue;
      }
      const loaded = await this.#load(candidate);
      // The follower names this block, and its epoch and BLOCK_FLAG_NEW_EPOCH
      // agree with this block's (a block left behind by a crash has an
      // older epoch; #confirm has checked this block against it already).
      if (typeof loaded !== 'string' && loaded.previousBlockLsn === block.lsn) {
        if (epochFollows(block, loaded)) return loaded;
        if (loaded.epoch < block.epoch) {
          firstProblem ??= { lsn: candidate, problem: 'stale epoch' };
          continue;
        }
        throw this.#stale(block, { ...loaded, recordCount: loaded.records.length, whole: true });
      }
      firstProblem ??= { lsn: candidate, problem: typeof loaded === 'string' ? loaded : 'chain' };
    }
    if (belowBase !== undefined) throw this.#belowBase(belowBase);
    throw this.#damaged(firstProblem!.lsn, firstProblem!.problem);
  }

  async #backward(): Promise<LogRecord | null> {
    for (;;) {
      const current = this.#record;
      const target = this.#mode === 'previous' ? current.previousLsn : current.undoNextLsn;
      if (target === Lsn.INVALID) return null;
      if (target >= current.lsn) {
        throw new ClfsError(
          'ERR_CLFS_CORRUPT',
          `the record at ${Lsn.format(current.lsn)} points forward (${this.#mode} LSN ${Lsn.format(target)})`,
          { lsn: current.lsn },
        );
      }
      const record = await this.#recordAt(target, 'chain');
      this.#record = record;
      if (matches(this.#filter, record.type)) return record;
    }
  }

  #belowBase(lsn: Lsn): ClfsError {
    return new ClfsError(
      'ERR_CLFS_START_OF_LOG',
      `LSN ${Lsn.format(lsn)} is below the base LSN ${Lsn.format(this.#source.baseLsn())}`,
      { lsn },
    );
  }

  #damaged(lsn: Lsn, problem: string): ClfsError {
    return new ClfsError('ERR_CLFS_CORRUPT', `the log is damaged at LSN ${Lsn.format(lsn)} (${problem})`, { lsn });
  }
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
function loadedBlock(blockLsn: Lsn, checked: CheckedBlock): LoadedBlock {
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
