/**
 * A marshalling area (CLFS's CreateLogMarshallingArea and everything done
 * through its context): log I/O buffers all of one size, reservations,
 * appends, flushes, read contexts, restart areas and base moves. The area
 * holds its buffers, its reservation and its read contexts; what all areas
 * of a log share (the writer, the space ledger, the base manager, the block
 * source) is the log's core (core.ts).
 * @module
 */
import { ClfsError, invalidArgType, invalidArgValue } from '../errors.ts';
import { Lsn, checkLsn } from '../lsn.ts';
import type { Pool } from '../native/memory.ts';
import { Tracker } from '../util/tracker.ts';
import { checkBoolean, checkInteger, checkOneOf, checkOptions, checkUint8Array } from '../validate.ts';
import { AreaAppender } from './appender.ts';
import {
  APPEND_OPTIONS,
  FILTERS,
  MODES,
  READ_OPTIONS,
  checkFlag,
  resolveRecordsOptions,
  checkReservationSizes,
  normalizeEntries,
  resolveAreaOptions,
  type AppendOptions,
  type AppendResult,
  type AppendedResult,
  type Entries,
  type MarshallingAreaOptions,
} from './area-options.ts';
import { BufferPool } from './buffer-pool.ts';
import type { LogCore } from './core.ts';
import { AreaReader } from './read/area-reader.ts';
import { Follow } from './read/follow.ts';
import type { LogRecord, ReadContext, ReadMode, ReadOptions } from './read/read-context.ts';
import type { RecordsOptions } from './read/read-types.ts';
import { recordsFrom } from './read/records.ts';
import { reservedSize } from './reservations.ts';
import { writeRestart, type AreaBuffers, type RestartArea, type RestartWritten } from './restart-area.ts';
import { truncateLog } from './truncation.ts';
import type { RecordSpec } from './write/writer.ts';

export type { BufferAllocator } from './buffer-pool.ts';
export type { AppendOptions, AppendResult, AppendedResult, Entries, MarshallingAreaOptions } from './area-options.ts';
export type { AreaBuffers, RestartArea, RestartWritten } from './restart-area.ts';

/** Append options when none are given (read only: no allocation per call). */
const NO_OPTIONS: AppendOptions = Object.freeze({});
const BATCH_OPTIONS = APPEND_OPTIONS.filter((key) => key !== 'reservations');

/**
 * A marshalling area: appends, reservations, flushes, reads and restart
 * areas through buffers of one size (CLFS's marshalling context). Made by
 * {@link Log.createMarshallingArea}.
 *
 * @example
 * ```ts
 * const area = await log.createMarshallingArea({ bufferSize: 64 * 1024 });
 * const { lsn } = await area.reserveAndAppend(new TextEncoder().encode('hello'), { forceFlush: true });
 * for await (const record of area.records()) console.log(record.lsn, record.data);
 * ```
 */
export class MarshallingArea {
  /** Size of every log I/O buffer: the requested size rounded up to the log's sector size. */
  readonly bufferSize: number;
  /** Where the buffers live: `'paged'` or `'nonPaged'` (pinned in RAM). */
  readonly pool: Pool;
  /** Most write buffers allocated at once (Infinity: no limit). */
  readonly maxWriteBuffers: number;
  /** Most read buffers allocated at once, one per open read context (Infinity: no limit). */
  readonly maxReadBuffers: number;
  /** How often appended records are written even if nobody asks, in ms (0: never). */
  readonly flushIntervalMs: number;
  /** How long an append waits for room in a full log, in ms (0: it fails at once). */
  readonly logFullTimeoutMs: number;
  readonly #core: LogCore;
  readonly #appender: AreaAppender;
  readonly #reader: AreaReader;
  readonly #onClosed: () => void;
  /** Run at an append's turn: the area must still be alive. */
  readonly #inTurn = (): void => this.#checkAlive();
  /** Calls past their turn among appends, still running (close waits for them). */
  readonly #operations = new Tracker();
  #closing: Promise<void> | undefined;
  #closed = false;

  private constructor(core: LogCore, options: MarshallingAreaOptions, onClosed: () => void) {
    const settings = resolveAreaOptions(options, core.unit);
    this.bufferSize = settings.bufferSize;
    this.pool = settings.pool;
    this.maxWriteBuffers = settings.maxWriteBuffers;
    this.maxReadBuffers = settings.maxReadBuffers;
    this.flushIntervalMs = settings.flushIntervalMs;
    this.logFullTimeoutMs = settings.logFullTimeoutMs;
    const alignment = Math.max(core.storage.geometry.memoryAlignment, core.unit);
    const { bufferSize, pool, allocator } = settings;
    this.#core = core;
    this.#onClosed = onClosed;
    const writes = new BufferPool(bufferSize, this.maxWriteBuffers, alignment, pool, allocator);
    const reads = new BufferPool(bufferSize, this.maxReadBuffers, alignment, pool, allocator);
    // Read-ahead borrows read buffers only where that limits nothing (no maximum, pinned quota, allocator).
    const lend = this.maxReadBuffers === Infinity && pool === 'paged' && allocator === undefined;
    this.#reader = new AreaReader(core, reads, () => this.#checkUsable(), lend);
    this.#appender = new AreaAppender(core, writes, this, () => this.#closed || this.#closing !== undefined);
  }

  /** @internal Use log.createMarshallingArea(); `onClosed` runs when the area has closed. */
  static create(core: LogCore, options: MarshallingAreaOptions, onClosed: () => void): MarshallingArea {
    return new MarshallingArea(core, options, onClosed);
  }

  /** Records reserved in this area. */
  get reservedRecords(): number {
    return this.#appender.reservation.records;
  }

  /** Bytes reserved in this area (real sizes). */
  get reservedBytes(): number {
    return this.#appender.reservation.bytes;
  }

  /**
   * The largest record data this area can append: its buffer (or the
   * container, when that is smaller: a block never crosses a container's
   * end) less the block and record headers.
   */
  get maxRecordSize(): number {
    return this.#appender.maxRecordSize;
  }

  /** Write buffers allocated now, and read buffers. */
  get buffersAllocated(): AreaBuffers {
    return { write: this.#appender.buffersAllocated, read: this.#reader.allocated };
  }

  /** At a call's start: refused once close() has begun; a `writing` one on a read-only log too. */
  #checkUsable(writing = false): void {
    if (this.#closed || this.#closing !== undefined)
      throw new ClfsError('ERR_CLFS_CLOSED', 'the marshalling area is closed');
    this.#core.checkOpen(writing);
  }

  /** Inside a call's turn: calls made before close() still run (close waits for them). */
  #checkAlive(): void {
    if (this.#closed) throw new ClfsError('ERR_CLFS_CLOSED', 'the marshalling area is closed');
    this.#core.checkAlive();
  }

  /**
   * Appends a record and/or changes reservations, atomically (CLFS's
   * ReserveAndAppendLog[Aligned]). The four modes:
   * - `entries` null with `reservations`: reserve only;
   * - `useReservation`: append into space reserved earlier;
   * - neither: append into new space;
   * - `reservations` with entries: append into new space and reserve more.
   * A negative reservation `-n` frees one record and exactly the real size
   * of `n` (`alignReservedLog([n])`), not the closest record reserved; more
   * than is reserved is ERR_CLFS_RESERVATION_INVALID. Waits (never fails)
   * while the area's write buffers are all in use, other areas going on;
   * LSNs follow call order (other areas' may pass an append waiting so).
   *
   * @example
   * ```ts
   * const { lsn } = await area.reserveAndAppend([header, body], { previousLsn, forceFlush: true });
   * ```
   */
  reserveAndAppend(entries: Uint8Array | readonly Uint8Array[], options?: AppendOptions): Promise<AppendedResult>;
  /** Entries or `null` (reserve only: `lsn` is undefined then). */
  reserveAndAppend(entries: Entries, options?: AppendOptions): Promise<AppendResult>;
  reserveAndAppend(entries: Entries, options?: AppendOptions): Promise<AppendResult> {
    // Not an async function: an append that finds the log free and does not
    // flush resolves with no promise but the one returned.
    try {
      this.#checkUsable(true);
      const o = options === undefined ? NO_OPTIONS : checkOptions('options', options, APPEND_OPTIONS);
      const list = normalizeEntries('entries', entries);
      const sizes = checkReservationSizes(o.reservations, this.maxRecordSize);
      const useReservation = checkFlag('useReservation', o.useReservation);
      const forceAppend = checkFlag('forceAppend', o.forceAppend);
      const forceFlush = checkFlag('forceFlush', o.forceFlush);
      if (useReservation && (list === null || sizes.length > 0)) {
        throw invalidArgValue(
          'options.useReservation',
          true,
          'appends one record into reserved space: it needs entries and no reservations',
        );
      }
      const appender = this.#appender;
      const spec = list === null ? undefined : appender.spec(list, o, 'data', Lsn.INVALID);
      const real = appender.realSizes(sizes);
      const lsn = appender.reserveAndAppend(spec, real, useReservation, forceAppend, this.#inTurn);
      if (lsn instanceof Promise) return this.#afterTurn(lsn, real, forceFlush);
      const result = { lsn, reservations: real };
      const flushed = lsn === undefined ? undefined : appender.afterAppend(lsn, forceFlush, result);
      return flushed ?? Promise.resolve(result);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** The rest of an append that waited for its turn. */
  async #afterTurn(appended: Promise<Lsn | undefined>, real: number[], forceFlush: boolean): Promise<AppendResult> {
    const lsn = await appended;
    const result = { lsn, reservations: real };
    if (lsn !== undefined) {
      const flushed = this.#appender.afterAppend(lsn, forceFlush, result);
      if (flushed !== undefined) await flushed;
    }
    return result;
  }

  /**
   * Appends many records in one call (ours, for throughput) with the same
   * guarantees as one reserveAndAppend each; `options` apply to every record
   * and `forceFlush` flushes after the last. Resolves with their LSNs.
   */
  async appendBatch(records: readonly Entries[], options?: Omit<AppendOptions, 'reservations'>): Promise<Lsn[]> {
    this.#checkUsable(true);
    if (!Array.isArray(records)) throw invalidArgType('records', 'an array', records);
    const o = checkOptions('options', options, BATCH_OPTIONS);
    const useReservation = checkFlag('useReservation', o.useReservation);
    const forceAppend = checkFlag('forceAppend', o.forceAppend);
    const forceFlush = checkFlag('forceFlush', o.forceFlush);
    const specs: RecordSpec[] = [];
    for (let i = 0; i < records.length; i++) {
      const list = normalizeEntries(`records[${i}]`, records[i] as Entries);
      if (list === null) throw invalidArgValue(`records[${i}]`, null, 'must hold data: appendBatch does not reserve');
      specs.push(this.#appender.spec(list, o, 'data', Lsn.INVALID));
    }
    if (specs.length === 0) return [];
    const appender = this.#appender;
    const lsns = await appender.appendBatch(specs, useReservation, forceAppend, () => this.#checkAlive());
    const flushed = appender.afterAppend(lsns[lsns.length - 1]!, forceFlush, lsns);
    if (flushed !== undefined) await flushed;
    return lsns;
  }

  /** The real size of reserving records of these data sizes, together (CLFS's AlignReservedLog). Pure. */
  alignReservedLog(sizes: readonly number[]): number {
    this.#checkUsable();
    if (!Array.isArray(sizes) || sizes.length === 0)
      throw invalidArgType('sizes', 'a non-empty array of numbers', sizes);
    return sizes.reduce<number>(
      (total, s, i) => total + reservedSize(checkInteger(`sizes[${i}]`, s, 1, this.maxRecordSize), this.#core.unit),
      0,
    );
  }

  /**
   * Reserves `count` records totalling `bytes` (CLFS's AllocReservedLog);
   * `bytes` is normally alignReservedLog()'s result for `count` sizes. Bytes
   * that `count` records cannot take (fewer than `count` of the smallest
   * record's real size, more than `count` of the largest's) are
   * ERR_CLFS_RESERVATION_INVALID.
   */
  async allocReservedLog(count: number, bytes: number): Promise<void> {
    this.#checkUsable(true);
    checkInteger('count', count, 1);
    checkInteger('bytes', bytes, 1);
    await this.#appender.allocate(count, bytes);
  }

  /** Frees `count` reserved records totalling `bytes` (CLFS's FreeReservedLog, positive numbers). */
  async freeReservedLog(count: number, bytes: number): Promise<void> {
    this.#checkUsable(true);
    checkInteger('count', count, 1);
    checkInteger('bytes', bytes, 1);
    await this.#appender.free(count, bytes);
  }

  /**
   * Resolves once every record up to `lsn` (all records when omitted) is on
   * stable storage (CLFS's FlushLogToLsn), with the LSN of the first record
   * not flushed (the next record's LSN when all are).
   */
  async flushToLsn(lsn?: Lsn): Promise<Lsn> {
    this.#checkUsable(true);
    if (lsn !== undefined) {
      checkLsn('lsn', lsn);
      if (lsn >= Lsn.INVALID)
        throw new ClfsError('ERR_CLFS_INVALID_LSN', `${Lsn.format(lsn)} is not an LSN to flush to`, { lsn });
    }
    // As in CLFS, Lsn.NULL means every record.
    const target = lsn === undefined || lsn === Lsn.NULL ? this.#core.writer.lastLsn : lsn;
    return this.#core.writer.flush(target);
  }

  /** Flushes every record appended so far (CLFS's FlushLogBuffers). */
  async flushBuffers(): Promise<void> {
    await this.flushToLsn();
  }

  /**
   * Opens a read context on the record at `lsn` (CLFS's ReadLogRecord);
   * `context.record` is that record and `context.next()` moves by `mode`.
   * Below the base: ERR_CLFS_START_OF_LOG; naming no record:
   * ERR_CLFS_INVALID_LSN. Each open context holds one read buffer.
   */
  async readLogRecord(lsn: Lsn, mode: ReadMode, options?: ReadOptions): Promise<ReadContext> {
    this.#checkUsable();
    checkLsn('lsn', lsn);
    checkOneOf('mode', mode, MODES);
    const o = checkOptions('options', options, READ_OPTIONS);
    const filter = o.type === undefined ? 'data' : checkOneOf('options.type', o.type, FILTERS);
    const view = o.view === undefined ? false : checkBoolean('options.view', o.view);
    const context = this.#reader.open(mode, filter, view);
    try {
      await context.start(lsn);
    } catch (error) {
      context.terminate();
      throw error;
    }
    return context;
  }

  /**
   * Iterates records from `fromLsn` (default: the base) by `mode` (default
   * 'forward'), holding one read context while it runs; with `follow`, waits
   * at the end for more (see {@link RecordsOptions.follow}).
   *
   * @example
   * ```ts
   * for await (const record of area.records()) console.log(record.lsn, record.data);
   * ```
   */
  async *records(
    fromLsn?: Lsn,
    mode: ReadMode = 'forward',
    options?: RecordsOptions,
  ): AsyncGenerator<LogRecord, void, undefined> {
    this.#checkUsable();
    const start = fromLsn === undefined ? undefined : checkLsn('fromLsn', fromLsn);
    checkOneOf('mode', mode, MODES);
    const { read, filter, following } = resolveRecordsOptions(options, mode);
    const follow = following === undefined ? undefined : new Follow(this.#core, following);
    const { writer, bases } = this.#core;
    // Nothing to read (yet): no record, or none at or after the base.
    const empty = (): boolean =>
      writer.lastLsn === Lsn.INVALID || (start === undefined && bases.baseLsn > writer.lastLsn);
    if (empty() && follow === undefined) return;
    while (empty()) await follow!.more(writer.lastLsn);
    yield* recordsFrom(await this.readLogRecord(start ?? bases.baseLsn, mode, read), filter, follow);
  }

  /**
   * Appends a restart record, flushes everything up to it, and moves the base
   * to `newBaseLsn` if given, atomically (CLFS's WriteLogRestartArea): after
   * a crash the log has either the old restart area and base or the new.
   * The restart record's previous LSN is the restart area before it.
   */
  async writeRestartArea(
    data: Uint8Array,
    options?: { newBaseLsn?: Lsn; useReservation?: boolean },
  ): Promise<RestartWritten> {
    this.#checkUsable(true);
    checkUint8Array('data', data);
    const o = checkOptions('options', options, ['newBaseLsn', 'useReservation']);
    const useReservation = checkFlag('useReservation', o.useReservation);
    const newBase = o.newBaseLsn === undefined ? undefined : checkLsn('options.newBaseLsn', o.newBaseLsn);
    const spec: RecordSpec = this.#appender.spec([data], {}, 'restart', newBase ?? Lsn.INVALID);
    // The call may wait (its turn, the new base's block read) before the
    // record is placed: its bytes are taken now.
    spec.entries = [data.slice()];
    this.#core.writer.checkHealthy();
    return this.#track(() => writeRestart(this.#core, this.#appender, spec, newBase, useReservation, this.#inTurn));
  }

  /**
   * The newest restart area (CLFS's ReadLogRestartArea) and a context for
   * walking older ones (`context.readPreviousRestartArea()`).
   * ERR_CLFS_NO_RESTART when none was written.
   */
  async readRestartArea(): Promise<RestartArea> {
    this.#checkUsable();
    const lsn = this.#core.bases.restartLsn;
    if (lsn === Lsn.INVALID) throw new ClfsError('ERR_CLFS_NO_RESTART', 'the log has no restart area');
    const context = await this.readLogRecord(lsn, 'previous', { type: 'restart' });
    return { data: context.record.data, lsn, context };
  }

  /**
   * Moves the base to `lsn` (CLFS's AdvanceLogBase), which must name a
   * record in [base, last] (CLFS does not check; clfs does:
   * ERR_CLFS_TAIL_INVALID). Flushes up to it first, so the base always names
   * a durable record; containers wholly below it become free.
   */
  async advanceLogBase(lsn: Lsn): Promise<void> {
    this.#checkUsable(true);
    checkLsn('lsn', lsn);
    const { writer, bases } = this.#core;
    writer.checkHealthy();
    return this.#track(async () => {
      const checkedAt = bases.truncations.length;
      await bases.checkNewBase(lsn);
      await writer.flush(lsn);
      await bases.setBase(lsn, undefined, checkedAt);
    });
  }

  /** Drops every record after `lsn` (CLFS's TruncateLog), a record in [base, last] at or after the newest
   * restart area (else ERR_CLFS_TAIL_INVALID); durable when it resolves. README: "Truncation". */
  async truncateLog(lsn: Lsn): Promise<void> {
    this.#checkUsable(true);
    return this.#track(() => truncateLog(this.#core, checkLsn('lsn', lsn), this.#inTurn));
  }

  /**
   * Flushes the area's records, terminates its read contexts and frees its
   * buffers and reservations (CLFS's DeleteLogMarshallingArea). A second call
   * does nothing.
   */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closing ??= this.#close();
    return this.#closing;
  }

  /**
   * Runs a call that goes on past its turn among appends (a flush, a base
   * move): close() waits for it, the area's and the log's.
   */
  #track<T>(run: () => Promise<T>): Promise<T> {
    return this.#operations.track(this.#core.track(run()));
  }

  async #close(): Promise<void> {
    this.#appender.stopTimer();
    let failure: unknown;
    try {
      // Calls made before close() finish first: those in or queued for their
      // turn among appends (one may leave it to wait for an area buffer,
      // area-turns.ts), and those past it (a restart area's flush, base move).
      await this.#operations.settled();
      await this.#core.writer.exclusive(() => undefined).catch(() => undefined);
      await this.#appender.settled();
      await this.#appender.flushForClose();
    } catch (error) {
      failure = error;
    }
    // The rest happens whatever failed above; the first failure is reported.
    const readFailure = await this.#reader.close();
    const writeFailure = this.#appender.release();
    failure ??= writeFailure ?? readFailure;
    this.#closed = true;
    this.#onClosed();
    if (failure !== undefined) throw failure;
  }
}
