/**
 * Reading records (CLFS's ReadLogRecord / ReadNextLogRecord / TerminateReadLog /
 * ReadLogRestartArea / ReadPreviousLogRestartArea).
 *
 * A read context is a cursor holding one read buffer. Blocks come from the writer's buffers when
 * not yet written, from another context's read buffer when one holds the block, and from the
 * container otherwise; a block read from a container is checked (CRC, LSN, log id) before any
 * record in it is believed.
 *
 * Damage and bad LSNs are told apart (ERR_CLFS_CORRUPT names damage, ERR_CLFS_INVALID_LSN a
 * caller's LSN that names no record). A position in [base, last] whose block fails its checks is
 * damage when the log's chain shows a block starts there: it is the base's, the last record's or
 * the restart area's block, or a container's first, or the first valid block after it (looked for
 * at most MAX_BLOCK_SIZE on, then at the next container's start: a bounded scan, done only on this
 * error path) names it as its predecessor. When that block names an earlier one, the position is
 * inside a block: ERR_CLFS_INVALID_LSN.
 *
 * Reading forward, a block's records are served only once the block after it agrees that it is the
 * one it was written after (same predecessor LSN, and an epoch that matches the follower's
 * BLOCK_FLAG_NEW_EPOCH): a block of an earlier generation left where a later one was written (a
 * lost write) is reported as ERR_CLFS_CORRUPT, never served. That look at the follower's header
 * costs nothing when the last container read brought it in, else one sector read. Stretches that
 * salvage recovery skipped are never served, nor records a truncation dropped (also one made while
 * a step forward was under way: that step ends the log, null).
 * @module
 */
import { ClfsError, invalidArgValue } from '../../errors.ts';
import { follows } from '../../format/chain.ts';
import { Lsn, blockLsnOf, checkLsn, lsnInBlock } from '../../lsn.ts';
import { checkOptions } from '../../validate.ts';
import { followerCandidates, followsAsWritten, type LoadedBlock } from './loaded-block.ts';
import type { ReadProblem } from './problems.ts';
import type { ReadBuffer } from './read-buffer.ts';
import type { ReadSource } from './read-source.ts';
import { matches, type LogRecord, type ReadMode, type RecordTypeFilter, type RestartRecord } from './read-types.ts';
import { belowBase, unreadable } from './unreadable.ts';

export type { LogRecord, ReadMode, ReadOptions, RecordTypeFilter, RestartRecord } from './read-types.ts';

/** A cursor over records; holds one read buffer until terminated (or, if dropped without it, collected: late). */
export class ReadContext {
  readonly #source: ReadSource;
  readonly #buffer: ReadBuffer;
  readonly #mode: ReadMode;
  readonly #filter: RecordTypeFilter;
  readonly #view: boolean;
  #index = 0;
  #record!: LogRecord;
  /** The block #record was taken from (nextBuffered serves the records after it while the buffer holds it). */
  #recordBlock: LoadedBlock | undefined;
  #busy = false;
  #terminated = false;
  #ended = false;
  /** Truncations the context's record is known to have outlived. */
  #seen: number;

  private constructor(source: ReadSource, buffer: ReadBuffer, mode: ReadMode, filter: RecordTypeFilter, view: boolean) {
    this.#source = source;
    this.#seen = source.truncations().length;
    this.#buffer = buffer;
    this.#mode = mode;
    this.#filter = filter;
    this.#view = view;
  }

  /** @internal A context on `buffer` (an area's read buffer, reading ahead in mode 'forward'); start() positions it. */
  static open(
    source: ReadSource,
    buffer: ReadBuffer,
    mode: ReadMode,
    filter: RecordTypeFilter,
    view: boolean,
  ): ReadContext {
    return new ReadContext(source, buffer, mode, filter, view);
  }

  /** @internal Positions the context on the record at `lsn`; it must exist and match the filter. */
  async start(lsn: Lsn): Promise<void> {
    // As next(): a terminate() (the area closing) while it reads gives the
    // buffer back only once the read is done with it.
    this.#enter();
    try {
      await this.#start(lsn).catch(async (error: unknown) => {
        if (!(await this.#refreshed(error))) throw error;
        await this.#start(lsn);
      });
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
      const block = this.#buffer.block!;
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
    return this.#buffer.cached(blockLsn);
  }

  /**
   * Moves to the next record by the context's mode (CLFS's
   * ReadNextLogRecord) and returns it; `null` at the end of the log or of
   * the chain. `userLsn` reads that record instead: it must be older than
   * the current one (backward modes only).
   */
  async next(options?: { userLsn?: Lsn }): Promise<LogRecord | null> {
    const o = checkOptions('options', options, ['userLsn']);
    this.#enter();
    // A step failing part way (damage, a chain below the base) or overtaken by a truncation leaves the context as it was.
    const [record, index, ended, recordBlock] = [this.#record, this.#index, this.#ended, this.#recordBlock];
    const [last, cuts, forward] = [this.#source.lastLsn(), this.#source.truncations().length, this.#mode === 'forward'];
    const cut = (): boolean => this.#source.lastLsn() < last || this.#source.truncations().length !== cuts;
    let result: LogRecord | null;
    try {
      result = await this.#step(o.userLsn).catch(async (error: unknown) => {
        if (!(await this.#refreshed(error))) throw error;
        [this.#record, this.#index, this.#ended, this.#recordBlock] = [record, index, ended, recordBlock];
        return this.#step(o.userLsn);
      });
      if (forward && result !== null && result.lsn > this.#source.lastLsn()) throw this;
      // The end of a chain: the context stays on the record it gave last, not one of another type passed.
      if (result === null && !forward) [this.#record, this.#index, this.#recordBlock] = [record, index, recordBlock];
    } catch (error) {
      [this.#record, this.#index, this.#ended, this.#recordBlock] = [record, index, ended, recordBlock];
      if (error !== this && !(forward && o.userLsn === undefined && cut())) throw error;
      result = null;
    } finally {
      this.#busy = false;
      // terminate() during the read: the buffer is given back only now.
      if (this.#terminated) this.#release();
    }
    if (this.#terminated) throw new ClfsError('ERR_CLFS_CLOSED', 'the read context was terminated during the read');
    return result;
  }

  /** @internal next()'s result when in the forward block the buffer holds (no I/O, no promise); else undefined. */
  nextBuffered(): LogRecord | undefined {
    if (this.#mode !== 'forward' || this.#terminated || this.#busy || this.#ended || this.#dropped()) return undefined;
    this.#source.checkOpen();
    const last = this.#source.lastLsn();
    const block = this.#recordBlock;
    if (block === undefined || this.#buffer.cached(block.lsn) !== block) return undefined;
    for (let index = this.#index + 1; index < block.records.length; index++) {
      const lsn = lsnInBlock(block.lsn, index);
      // #forward's checks (the end of the log, a base moved past); other types are skipped.
      if (lsn > last || lsn < this.#source.baseLsn()) return undefined;
      if (!matches(this.#filter, block.records[index]!.type)) continue;
      this.#index = index;
      return (this.#record = this.#toRecord(block, index, lsn));
    }
    return undefined;
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
    if (this.#dropped()) this.#ended = true;
    if (this.#ended) return null;
    const next = this.#mode === 'forward' ? await this.#forward() : await this.#backward();
    // A forward context at the end of the log reads on once more is appended.
    if (next === null) this.#ended = this.#mode !== 'forward';
    return next === null ? null : this.#moveTo(next);
  }

  /**
   * On a context from readRestartArea(): the restart area written before
   * the current one, or null when there is none.
   */
  async readPreviousRestartArea(): Promise<RestartRecord | null> {
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
    this.#source.releaseReadBuffer(this.#buffer);
  }

  /** Terminates the context (for `await using`). */
  async [Symbol.asyncDispose](): Promise<void> {
    this.terminate();
  }

  /** Whether a truncation since the context last moved dropped its record: it is at the end then. */
  #dropped(): boolean {
    const ends = this.#source.truncations();
    for (let i = this.#seen; i < ends.length; i++) if (ends[i]! < this.#record.lsn) return true;
    this.#seen = ends.length;
    return false;
  }

  #enter(): void {
    if (this.#terminated) throw new ClfsError('ERR_CLFS_CLOSED', 'the read context was terminated');
    this.#source.checkOpen();
    if (this.#busy) {
      throw new ClfsError('ERR_CLFS_CONTEXT_BUSY', 'a read is already in progress on this context; await it first');
    }
    this.#busy = true;
  }

  /** A read-only log's view can be behind the writer's: damage is read again, once, if a refresh changed it. */
  async #refreshed(error: unknown): Promise<boolean> {
    if (!(error instanceof ClfsError && error.code === 'ERR_CLFS_CORRUPT') || !(await this.#source.refresh())) {
      return false;
    }
    this.#buffer.clear();
    return true;
  }

  #moveTo(record: LogRecord): LogRecord {
    this.#record = record;
    return record;
  }

  #toRecord(block: LoadedBlock, index: number, lsn = lsnInBlock(block.lsn, index)): LogRecord {
    const entry = block.records[index]!;
    this.#recordBlock = block;
    const bytes = block.bytes.subarray(entry.dataOffset, entry.dataOffset + entry.dataLength);
    return {
      lsn,
      type: entry.type,
      data: this.#view ? bytes : bytes.slice(),
      undoNextLsn: entry.undoNextLsn,
      previousLsn: entry.previousLsn,
    };
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
    for (const candidate of followerCandidates(current, this.#source.containerSize())) {
      if (this.#inSkipped(candidate)) return current;
      // The follower's header: in the last container read's bytes, or read ahead.
      let probed = this.#buffer.probe(candidate) ?? (await this.#buffer.probeAhead(candidate));
      if (probed === undefined && this.#buffer.canSlide(current, candidate)) {
        current = await this.#buffer.slide(current);
        probed = this.#buffer.probe(candidate);
      }
      const found = probed ?? (await this.#source.probeBlock(candidate, false));
      if (typeof found === 'string' || found.previousBlockLsn !== current.lsn) continue;
      if (followsAsWritten(current, found)) return current;
      // Before blaming this block, make sure the follower is whole (a
      // damaged follower header proves nothing).
      const whole = found.whole ? found : await this.#source.probeBlock(candidate, true);
      if (typeof whole === 'string' || whole.previousBlockLsn !== current.lsn || followsAsWritten(current, whole)) {
        return current;
      }
      // A block of an older generation naming this one is a leftover of an
      // earlier crash (the log may go on in the next container), as
      // #nextBlock has it: look at the next candidate.
      if (!follows(current, whole)) continue;
      throw this.#source.problems().stale(current, whole);
    }
    return current;
  }

  #inSkipped(blockLsn: Lsn): boolean {
    return this.#source.skippedRanges().some((r) => blockLsn >= r.fromLsn && blockLsn < r.toLsn);
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
    if (this.#inSkipped(blockLsn)) throw this.#source.problems().damaged(blockLsn, 'skipped by salvage recovery');
    const block = await this.#buffer.load(blockLsn);
    if (typeof block === 'string')
      throw await unreadable(this.#source, this.#source.problems(), lsn, blockLsn, block, why);
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
      let block = await this.#buffer.load(blockLsnOf(current));
      if (typeof block === 'string' && current + 1n < this.#source.baseLsn()) throw this.#belowBase(current + 1n);
      if (typeof block === 'string') throw this.#source.problems().damaged(blockLsnOf(current), block);
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
    const candidates = followerCandidates(block, this.#source.containerSize());
    const base = this.#source.baseLsn();
    let firstProblem: { lsn: Lsn; problem: ReadProblem } | undefined;
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
      const loaded = await this.#buffer.load(candidate);
      // A block a truncation dropped (it names this one, of its own generation) is not the log.
      if (typeof loaded !== 'string' && loaded.records.length === 0) {
        firstProblem ??= { lsn: candidate, problem: 'stale epoch' };
        continue;
      }
      // The follower names this block, and its epoch and BLOCK_FLAG_NEW_EPOCH
      // agree with this block's (a block left behind by a crash has an
      // older epoch; #confirm has checked this block against it already).
      if (typeof loaded !== 'string' && loaded.previousBlockLsn === block.lsn) {
        if (followsAsWritten(block, loaded)) return loaded;
        if (!follows(block, loaded)) {
          firstProblem ??= { lsn: candidate, problem: 'stale epoch' };
          continue;
        }
        throw this.#source.problems().stale(block, loaded);
      }
      firstProblem ??= { lsn: candidate, problem: typeof loaded === 'string' ? loaded : 'chain' };
    }
    if (belowBase !== undefined) throw this.#belowBase(belowBase);
    throw this.#source.problems().damaged(firstProblem!.lsn, firstProblem!.problem);
  }

  async #backward(): Promise<LogRecord | null> {
    for (;;) {
      const current = this.#record;
      const target = this.#mode === 'previous' ? current.previousLsn : current.undoNextLsn;
      if (target === Lsn.INVALID) return null;
      if (target >= current.lsn) {
        throw this.#source.problems().pointsForward(current.lsn, this.#mode, target);
      }
      const record = await this.#recordAt(target, 'chain');
      this.#record = record;
      if (matches(this.#filter, record.type)) return record;
    }
  }

  #belowBase(lsn: Lsn): ClfsError {
    return belowBase(lsn, this.#source.baseLsn());
  }
}
