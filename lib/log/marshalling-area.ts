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
import { recordSpan } from '../format/block.ts';
import { Lsn, checkLsn } from '../lsn.ts';
import type { Pool } from '../native/memory.ts';
import { checkBoolean, checkInteger, checkOneOf, checkOptions, checkUint8Array } from '../validate.ts';
import {
  FILTERS,
  MODES,
  checkChainLsn,
  checkFlag,
  checkReservationSizes,
  normalizeEntries,
  resolveAreaOptions,
  type AppendOptions,
  type AppendResult,
  type Entries,
  type MarshallingAreaOptions,
} from './area-options.ts';
import { BufferPool } from './buffer-pool.ts';
import type { LogCore } from './core.ts';
import {
  ReadContext,
  type LogRecord,
  type ReadMode,
  type ReadOptions,
  type ReadSource,
  type RecordTypeFilter,
} from './read-context.ts';
import {
  Reservation,
  largestOfAllocation,
  planReservation,
  reservationInvalid,
  reservedSize,
  type ReservationPlan,
} from './reservations.ts';
import { packedBlocks } from './space.ts';
import { LogWriter, copySpec, dataLengthOf, type BufferOwner, type RecordSpec } from './writer.ts';

export type { BufferAllocator } from './buffer-pool.ts';
export type { AppendOptions, AppendResult, Entries, MarshallingAreaOptions } from './area-options.ts';

export class MarshallingArea {
  readonly bufferSize: number;
  readonly pool: Pool;
  readonly maxWriteBuffers: number;
  readonly maxReadBuffers: number;
  readonly flushIntervalMs: number;
  readonly #core: LogCore;
  readonly #writes: BufferPool;
  readonly #reads: BufferPool;
  /** What the writer takes this area's buffers through (its identity marks the area's blocks). */
  readonly #owner: BufferOwner;
  /** What this area's read contexts read through. */
  readonly #source: ReadSource;
  readonly #reservation = new Reservation();
  readonly #contexts = new Set<ReadContext>();
  readonly #onClosed: () => void;
  #lastAppended: Lsn = Lsn.INVALID;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** Calls past their turn among appends, still running (close waits for them). */
  readonly #operations = new Set<Promise<unknown>>();
  #closing: Promise<void> | undefined;
  #closed = false;

  private constructor(core: LogCore, options: MarshallingAreaOptions, onClosed: () => void) {
    const settings = resolveAreaOptions(options, core.unit);
    this.bufferSize = settings.bufferSize;
    this.pool = settings.pool;
    this.maxWriteBuffers = settings.maxWriteBuffers;
    this.maxReadBuffers = settings.maxReadBuffers;
    this.flushIntervalMs = settings.flushIntervalMs;
    const alignment = Math.max(core.storage.geometry.memoryAlignment, core.unit);
    const { bufferSize, pool, allocator } = settings;
    this.#core = core;
    this.#onClosed = onClosed;
    this.#writes = new BufferPool(bufferSize, this.maxWriteBuffers, alignment, pool, allocator);
    this.#reads = new BufferPool(bufferSize, this.maxReadBuffers, alignment, pool, allocator);
    this.#owner = {
      bufferSize,
      acquireWriteBuffer: () => this.#writes.acquire(),
      releaseWriteBuffer: (buffer) => this.#writes.release(buffer),
    };
    this.#source = this.#readSource();
    core.space.register(this.#reservation);
  }

  /** @internal Use log.createMarshallingArea(); `onClosed` runs when the area has closed. */
  static create(core: LogCore, options: MarshallingAreaOptions, onClosed: () => void): MarshallingArea {
    return new MarshallingArea(core, options, onClosed);
  }

  /** Records reserved in this area. */
  get reservedRecords(): number {
    return this.#reservation.records;
  }

  /** Bytes reserved in this area (real sizes). */
  get reservedBytes(): number {
    return this.#reservation.bytes;
  }

  /**
   * The largest record data this area can append: its buffer (or the
   * container, when that is smaller: a block never crosses a container's
   * end) less the block and record headers.
   */
  get maxRecordSize(): number {
    return LogWriter.maxDataLength(Math.min(this.bufferSize, this.#core.table.containerSize));
  }

  /** Write buffers allocated now, and read buffers. */
  get buffersAllocated(): { write: number; read: number } {
    return { write: this.#writes.allocated, read: this.#reads.allocated };
  }

  /** At a call's start: refused once close() has begun. */
  #checkUsable(): void {
    if (this.#closed || this.#closing !== undefined)
      throw new ClfsError('ERR_CLFS_CLOSED', 'the marshalling area is closed');
    this.#core.checkOpen();
  }

  /** Inside a call's turn: calls made before close() still run (close waits for them). */
  #checkAlive(): void {
    if (this.#closed) throw new ClfsError('ERR_CLFS_CLOSED', 'the marshalling area is closed');
    this.#core.checkAlive();
  }

  #spec(entries: readonly Uint8Array[], options: AppendOptions, type: 'data' | 'restart', newBaseLsn: Lsn): RecordSpec {
    const entryAlignment =
      options.entryAlignment === undefined
        ? 1
        : checkInteger('options.entryAlignment', options.entryAlignment, 1, this.bufferSize);
    const dataLength = dataLengthOf(entries, entryAlignment);
    if (dataLength > this.maxRecordSize) {
      throw new ClfsError(
        'ERR_CLFS_RECORD_TOO_LARGE',
        `a record of ${dataLength} bytes does not fit: this area's ${this.bufferSize}-byte buffers${
          this.bufferSize > this.#core.table.containerSize
            ? ` in the log's ${this.#core.table.containerSize}-byte containers`
            : ''
        } take records of at most ${this.maxRecordSize} bytes`,
        { limit: this.maxRecordSize, size: dataLength },
      );
    }
    return {
      type,
      entries,
      entryAlignment,
      undoNextLsn: checkChainLsn('options.undoNextLsn', options.undoNextLsn),
      previousLsn: checkChainLsn('options.previousLsn', options.previousLsn),
      newBaseLsn,
    };
  }

  /** Chain fields must point to older records: before anything appended now. */
  #checkChains(spec: RecordSpec): void {
    for (const [name, lsn] of [
      ['undoNextLsn', spec.undoNextLsn],
      ['previousLsn', spec.previousLsn],
    ] as const) {
      if (lsn !== Lsn.INVALID && (this.#core.writer.lastLsn === Lsn.INVALID || lsn > this.#core.writer.lastLsn)) {
        throw new ClfsError('ERR_CLFS_INVALID_LSN', `options.${name} ${Lsn.format(lsn)} must name an older record`, {
          lsn,
        });
      }
    }
  }

  /** A copy of entries the caller might change while the append waits its turn. */
  #stable(spec: RecordSpec): RecordSpec {
    return this.#core.writer.contended ? copySpec(spec) : spec;
  }

  /**
   * Appends a record and/or changes reservations, atomically (CLFS's
   * ReserveAndAppendLog[Aligned]). The four modes:
   * - `entries` null with `reservations`: reserve only;
   * - `useReservation`: append into space reserved earlier;
   * - neither: append into new space;
   * - `reservations` with entries: append into new space and reserve more.
   * A negative reservation frees one reserved record of that size. Waits
   * (never fails) while every write buffer is in use. LSNs follow call order.
   *
   * @example
   * ```ts
   * const { lsn } = await area.reserveAndAppend([header, body], { previousLsn, forceFlush: true });
   * ```
   */
  async reserveAndAppend(entries: Entries, options?: AppendOptions): Promise<AppendResult> {
    this.#checkUsable();
    const o = checkOptions('options', options);
    const list = normalizeEntries('entries', entries);
    const sizes = checkReservationSizes(o.reservations, this.maxRecordSize);
    const useReservation = checkFlag(o, 'useReservation');
    const forceAppend = checkFlag(o, 'forceAppend');
    const forceFlush = checkFlag(o, 'forceFlush');
    if (useReservation && (list === null || sizes.length > 0)) {
      throw invalidArgValue(
        'options.useReservation',
        true,
        'appends one record into reserved space: it needs entries and no reservations',
      );
    }
    const spec = list === null ? undefined : this.#stable(this.#spec(list, o, 'data', Lsn.INVALID));
    const real = sizes.map((s) => Math.sign(s) * reservedSize(Math.abs(s), this.#core.unit));

    const lsn = await this.#core.writer.exclusive(() => {
      this.#checkAlive();
      if (spec !== undefined) this.#checkChains(spec);
      const change = this.#planReservation(real, spec, useReservation);
      const finish = (appended: Lsn | undefined): Lsn | undefined => {
        this.#reservation.assign(change.next);
        if (appended !== undefined) this.#lastAppended = appended;
        if (forceAppend) this.#core.writer.forceAppend();
        return appended;
      };
      if (spec === undefined) return finish(undefined);
      const appended = this.#core.writer.append(this.#owner, spec);
      return appended instanceof Promise ? appended.then(finish) : finish(appended);
    });
    if (lsn !== undefined) {
      if (forceFlush) await this.#core.writer.flush(lsn);
      else this.#armTimer();
    }
    return { lsn, reservations: real };
  }

  /**
   * Appends many records in one call (ours, for throughput) with the same
   * guarantees as one reserveAndAppend each; `options` apply to every record
   * and `forceFlush` flushes after the last. Resolves with their LSNs.
   */
  async appendBatch(records: readonly Entries[], options?: Omit<AppendOptions, 'reservations'>): Promise<Lsn[]> {
    this.#checkUsable();
    if (!Array.isArray(records)) throw invalidArgType('records', 'an array', records);
    const o = checkOptions('options', options);
    const useReservation = checkFlag(o, 'useReservation');
    const forceAppend = checkFlag(o, 'forceAppend');
    const forceFlush = checkFlag(o, 'forceFlush');
    const specs: RecordSpec[] = [];
    for (let i = 0; i < records.length; i++) {
      const list = normalizeEntries(`records[${i}]`, records[i] as Entries);
      if (list === null) throw invalidArgValue(`records[${i}]`, null, 'must hold data: appendBatch does not reserve');
      specs.push(this.#stable(this.#spec(list, o, 'data', Lsn.INVALID)));
    }
    if (specs.length === 0) return [];
    const lsns = await this.#core.writer.exclusive(async () => {
      this.#checkAlive();
      this.#checkChains(specs[0]!);
      // Check the whole batch first, so it is appended entirely or not at all.
      const next = this.#reservation.copy();
      if (useReservation) {
        for (const spec of specs) {
          const size = reservedSize(dataLengthOf(spec.entries, spec.entryAlignment), this.#core.unit);
          if (next.records < 1 || next.bytes < size) throw reservationInvalid(this.#reservation, size);
          next.records--;
          next.bytes -= size;
        }
        next.settle();
      } else if (!this.#core.space.hasRoomFor({ blocks: this.#packedBlocks(specs), reserve: 0, largest: 0 })) {
        throw this.#logFull();
      }
      // Every container the batch will reach exists before any record goes
      // in, so a container that cannot be had fails the batch, not half of it.
      const spans = specs.map((spec) => recordSpan(dataLengthOf(spec.entries, spec.entryAlignment)));
      const reach = this.#core.writer.lastContainerFor(this.#owner, spans);
      const first = this.#core.writer.position.logicalId + 1;
      // The caller may change its arrays once the call has returned: take
      // them before waiting for containers.
      if (reach >= first) for (let i = 0; i < specs.length; i++) specs[i] = copySpec(specs[i]!);
      for (let id = first; id <= reach; id++) await this.#core.bases.provideContainer(id);
      const out: Lsn[] = [];
      let owned = reach >= first;
      for (let i = 0; i < specs.length; i++) {
        const appended = this.#core.writer.append(this.#owner, specs[i]!);
        if (!(appended instanceof Promise)) {
          out.push(appended);
          continue;
        }
        // The batch waits (a write buffer): the records after this one are
        // taken now (this one the writer took).
        if (!owned) for (let j = i + 1; j < specs.length; j++) specs[j] = copySpec(specs[j]!);
        owned = true;
        out.push(await appended);
      }
      this.#reservation.assign(next);
      this.#lastAppended = out[out.length - 1]!;
      if (forceAppend) this.#core.writer.forceAppend();
      return out;
    });
    if (forceFlush) await this.#core.writer.flush(lsns[lsns.length - 1]!);
    else this.#armTimer();
    return lsns;
  }

  #logFull(): ClfsError {
    return new ClfsError(
      'ERR_CLFS_LOG_FULL',
      `the log has no room for this without eating into reservations (${this.#core.space.totalReservation()} bytes reserved, ${this.#core.space.currentAvailable()} available). Free reservations, advance the base, or add containers`,
    );
  }

  /** Checks a reservation change (and the append it comes with) against the reservation and the log's space. */
  #planReservation(real: readonly number[], spec: RecordSpec | undefined, useReservation: boolean): ReservationPlan {
    const appendSize =
      spec === undefined ? undefined : reservedSize(dataLengthOf(spec.entries, spec.entryAlignment), this.#core.unit);
    const plan = planReservation(this.#reservation, real, appendSize, useReservation);
    const { cost, added, next } = plan;
    const request = { blocks: cost > 0 ? [cost] : [], reserve: Math.max(0, added), largest: next.largest };
    if ((cost > 0 || added > 0) && !this.#core.space.hasRoomFor(request)) throw this.#logFull();
    return plan;
  }

  /** The blocks records take packed into fresh blocks of this area's buffers: their lengths. */
  #packedBlocks(specs: readonly RecordSpec[]): number[] {
    const spans = specs.map((spec) => recordSpan(dataLengthOf(spec.entries, spec.entryAlignment)));
    return packedBlocks(spans, Math.min(this.bufferSize, this.#core.table.containerSize), this.#core.unit);
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

  /** Reserves `count` records totalling `bytes` (CLFS's AllocReservedLog); `bytes` is normally alignReservedLog()'s result. */
  async allocReservedLog(count: number, bytes: number): Promise<void> {
    this.#checkUsable();
    checkInteger('count', count, 1);
    checkInteger('bytes', bytes, 1);
    await this.#core.writer.exclusive(() => {
      const largest = largestOfAllocation(count, bytes, this.#core.unit, this.maxRecordSize);
      if (!this.#core.space.hasRoomFor({ blocks: [], reserve: bytes, largest })) throw this.#logFull();
      this.#reservation.records += count;
      this.#reservation.bytes += bytes;
      this.#reservation.largest = Math.max(this.#reservation.largest, largest);
    });
  }

  /** Frees `count` reserved records totalling `bytes` (CLFS's FreeReservedLog, positive numbers). */
  async freeReservedLog(count: number, bytes: number): Promise<void> {
    this.#checkUsable();
    checkInteger('count', count, 1);
    checkInteger('bytes', bytes, 1);
    await this.#core.writer.exclusive(() => {
      if (count > this.#reservation.records || bytes > this.#reservation.bytes) {
        throw new ClfsError(
          'ERR_CLFS_RESERVATION_INVALID',
          `cannot free ${count} records / ${bytes} bytes: the area has ${this.#reservation.records} records / ${this.#reservation.bytes} bytes reserved`,
        );
      }
      this.#reservation.records -= count;
      this.#reservation.bytes -= bytes;
      this.#reservation.settle();
    });
  }

  /**
   * Resolves once every record up to `lsn` (all records when omitted) is on
   * stable storage (CLFS's FlushLogToLsn), with the LSN of the first record
   * not flushed (the next record's LSN when all are).
   */
  async flushToLsn(lsn?: Lsn): Promise<Lsn> {
    this.#checkUsable();
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

  #armTimer(): void {
    if (this.flushIntervalMs === 0 || this.#timer !== undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#closed || this.#closing !== undefined || this.#core.writer.failure !== undefined) return;
      this.#core.writer.flush(this.#lastAppended).catch(() => undefined);
    }, this.flushIntervalMs);
    this.#timer.unref();
  }

  /** The read contexts' view of this area and its log. */
  #readSource(): ReadSource {
    const core = this.#core;
    return {
      bufferSize: this.bufferSize,
      baseLsn: () => core.bases.baseLsn,
      lastLsn: () => core.writer.lastLsn,
      restartLsn: () => core.bases.restartLsn,
      containerSize: () => core.table.containerSize,
      checkOpen: () => this.#checkUsable(),
      blockExpectation: () => ({ logId: core.logId, unit: core.unit }),
      releaseReadBuffer: (context, buffer) => {
        this.#contexts.delete(context);
        this.#reads.release(buffer);
      },
      loadBlock: (blockLsn, into) => core.blocks.loadBlock(blockLsn, into, this.#contexts),
      probeBlock: (blockLsn, whole) => core.blocks.probeBlock(blockLsn, whole),
      findBlockAfter: (position) => core.blocks.findBlockAfter(position),
      skippedRanges: () => core.recoveryReport.skipped,
    };
  }

  #blocksExhausted(): ClfsError {
    return new ClfsError(
      'ERR_CLFS_BLOCKS_EXHAUSTED',
      `all ${this.maxReadBuffers} read buffers of this marshalling area are in use by open read contexts; terminate one first`,
    );
  }

  #openContext(mode: ReadMode, filter: RecordTypeFilter, view: boolean): ReadContext {
    const buffer = this.#reads.tryAcquire();
    if (buffer === undefined) throw this.#blocksExhausted();
    const context = new ReadContext(this.#source, buffer, mode, filter, view);
    this.#contexts.add(context);
    return context;
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
    const o = checkOptions('options', options);
    const filter = o.type === undefined ? 'data' : checkOneOf('options.type', o.type, FILTERS);
    const view = o.view === undefined ? false : checkBoolean('options.view', o.view);
    const context = this.#openContext(mode, filter, view);
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
   * 'forward'), holding one read context while it runs.
   *
   * @example
   * ```ts
   * for await (const record of area.records()) console.log(record.lsn, record.data);
   * ```
   */
  async *records(
    fromLsn?: Lsn,
    mode: ReadMode = 'forward',
    options?: ReadOptions,
  ): AsyncGenerator<LogRecord, void, undefined> {
    this.#checkUsable();
    const start = fromLsn === undefined ? this.#core.bases.baseLsn : checkLsn('fromLsn', fromLsn);
    checkOneOf('mode', mode, MODES);
    const o = checkOptions('options', options);
    const filter = o.type === undefined ? 'data' : checkOneOf('options.type', o.type, FILTERS);
    if (o.view !== undefined) checkBoolean('options.view', o.view);
    const last = this.#core.writer.lastLsn;
    if (last === Lsn.INVALID || (fromLsn === undefined && start > last)) return;
    const context = await this.readLogRecord(start, mode, { ...o, type: 'client' });
    try {
      let record: LogRecord | null = context.record;
      const wanted = (r: LogRecord): boolean => filter === 'client' || r.type === filter;
      while (record !== null) {
        if (wanted(record)) yield record;
        record = await context.next();
      }
    } finally {
      context.terminate();
    }
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
  ): Promise<{ lsn: Lsn; bytesWritten: number }> {
    this.#checkUsable();
    checkUint8Array('data', data);
    const o = checkOptions('options', options);
    const useReservation = checkFlag(o, 'useReservation');
    const newBase = o.newBaseLsn === undefined ? undefined : checkLsn('options.newBaseLsn', o.newBaseLsn);
    const spec = this.#spec([data], {}, 'restart', newBase ?? Lsn.INVALID);
    // The call may wait (its turn, the new base's block read) before the
    // record is placed: its bytes are taken now.
    spec.entries = [data.slice()];
    const { writer, bases, storage } = this.#core;
    writer.checkHealthy();
    const before = storage.stats.bytesFlushed;
    return this.#track(async () => {
      // The call takes its turn among appends at once (a close called after
      // it waits for it), and checks the new base there: against the records
      // appended before it, not those of when it was called.
      const lsn = await writer.exclusive(() => {
        this.#checkAlive();
        return bases.appendRestart(newBase, async (previousLsn) => {
          spec.previousLsn = previousLsn;
          const change = this.#planReservation([], spec, useReservation);
          const pending = writer.append(this.#owner, spec);
          const appended = pending instanceof Promise ? await pending : pending;
          this.#reservation.assign(change.next);
          this.#lastAppended = appended;
          return appended;
        });
      });
      await writer.flush(lsn);
      await bases.setBase(newBase ?? bases.baseLsn, lsn);
      return { lsn, bytesWritten: storage.stats.bytesFlushed - before };
    });
  }

  /**
   * The newest restart area (CLFS's ReadLogRestartArea) and a context for
   * walking older ones (`context.readPreviousRestartArea()`).
   * ERR_CLFS_NO_RESTART when none was written.
   */
  async readRestartArea(): Promise<{ data: Uint8Array; lsn: Lsn; context: ReadContext }> {
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
    this.#checkUsable();
    checkLsn('lsn', lsn);
    const { writer, bases } = this.#core;
    writer.checkHealthy();
    return this.#track(async () => {
      await bases.checkNewBase(lsn);
      await writer.flush(lsn);
      await bases.setBase(lsn);
    });
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
    const promise = this.#core.track(run());
    this.#operations.add(promise);
    const forget = (): void => void this.#operations.delete(promise);
    promise.then(forget, forget);
    return promise;
  }

  async #close(): Promise<void> {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    let failure: unknown;
    try {
      // Calls made before close() finish first: those still in their turn
      // among appends, and those past it (a restart area's flush and base move).
      await Promise.allSettled([...this.#operations]);
      await this.#core.writer.exclusive(() => undefined).catch(() => undefined);
      if (this.#lastAppended !== Lsn.INVALID && this.#core.writer.failure === undefined) {
        await this.#core.writer.flush(this.#lastAppended);
      }
    } catch (error) {
      failure = error;
    }
    // The rest happens whatever failed above; the first failure is reported.
    for (const context of [...this.#contexts]) context.terminate();
    // Only this area's own open block, if any: another area's records are
    // not this close's to drop.
    this.#core.writer.releaseOwner(this.#owner);
    const writeFailure = this.#writes.drain();
    const readFailure = this.#reads.drain();
    failure ??= writeFailure ?? readFailure;
    this.#reservation.assign(new Reservation());
    this.#closed = true;
    this.#core.space.forget(this.#reservation);
    this.#onClosed();
    if (failure !== undefined) throw failure;
  }
}
