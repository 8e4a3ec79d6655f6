/**
 * Reading records (CLFS's ReadLogRecord / ReadNextLogRecord /
 * TerminateReadLog / ReadLogRestartArea / ReadPreviousLogRestartArea).
 *
 * A read context is a cursor holding one read buffer. Blocks come from the
 * writer's buffers when not yet written, from another context's read buffer
 * when one holds the block, and from the container otherwise; a block read
 * from a container is checked (CRC, LSN, log id) before any record in it is
 * believed.
 * @module
 */
import { ClfsError, invalidArgValue } from '../errors.ts';
import { type BlockProblem, type RecordEntry, parseRecordAt } from '../format/block.ts';
import { Lsn, blockLsnOf, checkLsn, makeLsn } from '../lsn.ts';
import { checkOptions } from '../validate.ts';
import { checkBlock } from './block-check.ts';

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

/** What a read context needs of its marshalling area and log. */
export interface ReadSource {
  readonly bufferSize: number;
  baseLsn(): Lsn;
  lastLsn(): Lsn;
  restartLsn(): Lsn;
  containerSize(): number;
  /** Loads the block at `blockLsn` into `into`, or says why not. */
  loadBlock(blockLsn: Lsn, into: Uint8Array): Promise<LoadedBlock | BlockProblem | 'absent'>;
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
    const record = await this.#recordAt(lsn, 'start');
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
          logicalId: Number(blockLsn >> 32n),
          start: Number(blockLsn & 0xffff_ffffn),
          length: loaded.window,
        };
      }
    }
    return loaded;
  }

  /** A block that the last container read already brought into the buffer: checked, without I/O. */
  #fromWindow(blockLsn: Lsn): LoadedBlock | undefined {
    const w = this.#window;
    if (w === undefined || Number(blockLsn >> 32n) !== w.logicalId) return undefined;
    const offset = Number(blockLsn & 0xffff_ffffn);
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
    return {
      lsn: blockLsn,
      previousBlockLsn: checked.header.previousBlockLsn,
      epoch: checked.header.epoch,
      length: checked.header.blockLength,
      bytes: checked.bytes,
      records: checked.records,
    };
  }

  /**
   * The record at `lsn`. `why` says how it was reached: a named start or a
   * user LSN ('start'), or a chain field read from the log ('chain').
   */
  async #recordAt(lsn: Lsn, why: 'start' | 'chain'): Promise<LogRecord> {
    if (lsn === Lsn.INVALID || lsn > this.#source.lastLsn()) {
      throw new ClfsError(
        'ERR_CLFS_INVALID_LSN',
        `LSN ${Lsn.format(lsn)} names no record: the last record is ${Lsn.format(this.#source.lastLsn())}`,
        { lsn },
      );
    }
    if (lsn < this.#source.baseLsn()) throw this.#belowBase(lsn);
    const blockLsn = blockLsnOf(lsn);
    const index = Number(lsn - blockLsn);
    const block = await this.#load(blockLsn);
    if (typeof block === 'string') {
      // A block whose header names this position but fails its checks is
      // damage; anything else means the LSN is not a block's.
      const damaged = block === 'checksum' || block === 'records';
      throw new ClfsError(
        damaged ? 'ERR_CLFS_CORRUPT' : 'ERR_CLFS_INVALID_LSN',
        damaged
          ? `the block at LSN ${Lsn.format(blockLsn)} is damaged (${block})`
          : `LSN ${Lsn.format(lsn)} names no record (${why === 'chain' ? 'a chain field points' : 'it points'} where no block starts)`,
        { lsn: damaged ? blockLsn : lsn },
      );
    }
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
        block = await this.#nextBlock(block);
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
    const id = Number(block.lsn >> 32n);
    const offset = Number(block.lsn & 0xffff_ffffn) + block.length;
    const candidates =
      offset < this.#source.containerSize() ? [makeLsn(id, offset), makeLsn(id + 1, 0)] : [makeLsn(id + 1, 0)];
    const base = this.#source.baseLsn();
    let firstProblem: { lsn: Lsn; problem: string } | undefined;
    let belowBase: Lsn | undefined;
    for (const candidate of candidates) {
      if (candidate < base) {
        // Its container may have been reused already: do not look.
        belowBase ??= candidate;
        continue;
      }
      const loaded = await this.#load(candidate);
      // As in recovery: the follower names this block and is no older (a
      // block left behind by a crash has an older epoch).
      if (typeof loaded !== 'string' && loaded.previousBlockLsn === block.lsn && loaded.epoch >= block.epoch) {
        return loaded;
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
 */
export async function loadFromContainer(
  read: (offset: number, into: Uint8Array) => Promise<number>,
  blockLsn: Lsn,
  into: Uint8Array,
  expect: { logId: bigint; unit: number; containerSize: number; trustedEnd: number },
): Promise<LoadedBlock | BlockProblem> {
  const offset = Number(blockLsn & 0xffff_ffffn);
  const room = expect.containerSize - offset;
  if (room < expect.unit) return 'length';
  const want = Math.min(into.byteLength, room);
  const got = await read(offset, into.subarray(0, want));
  const checked = checkBlock(into.subarray(0, got), {
    lsn: blockLsn,
    logId: expect.logId,
    unit: expect.unit,
    maxLength: room,
  });
  if (checked === 'short') throw blockTooLarge(blockLsn, into.byteLength);
  if (typeof checked === 'string') return checked;
  return {
    lsn: blockLsn,
    previousBlockLsn: checked.header.previousBlockLsn,
    epoch: checked.header.epoch,
    length: checked.header.blockLength,
    bytes: checked.bytes,
    records: checked.records,
    window: Math.min(got, expect.trustedEnd - offset),
  };
}

/** Records of a block still in the writer's memory, from its record offsets. */
export function recordsOfMemoryBlock(bytes: Uint8Array, offsets: readonly number[], used: number): RecordEntry[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return offsets.map((offset) => {
    const entry = parseRecordAt(view, offset, used);
    if (entry === 'records') throw new Error('clfs: internal error: a record in memory does not parse');
    return entry;
  });
}
