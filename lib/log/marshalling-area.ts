/**
 * A marshalling area (CLFS's CreateLogMarshallingArea and everything done
 * through its context): log I/O buffers all of one size, reservations,
 * appends, flushes, read contexts, restart areas and base moves.
 * @module
 */
import { ClfsError, invalidArgType, invalidArgValue } from '../errors.ts';
import { BLOCK_HEADER_SIZE, MAX_RECORDS_PER_BLOCK, alignUp, recordSpan, type BlockProblem } from '../format/block.ts';
import { Lsn, blockLsnOf, checkLsn, sequenceOf } from '../lsn.ts';
import type { Pool } from '../native/memory.ts';
import {
  checkBoolean,
  checkCountOrInfinity,
  checkInteger,
  checkOneOf,
  checkOptions,
  checkUint8Array,
} from '../validate.ts';
import { BufferPool, type BufferAllocator } from './buffer-pool.ts';
import type { Log } from './log.ts';
import type { ProbedBlock } from './read/block-check.ts';
import type { LoadedBlock } from './read/loaded-block.ts';
import type { ReadProblems } from './read/problems.ts';
import {
  ReadContext,
  type LogRecord,
  type ReadMode,
  type ReadOptions,
  type ReadSource,
  type RecordTypeFilter,
} from './read/read-context.ts';
import { MAX_BLOCK_SIZE } from './recovery.ts';
import { Reservation, reservedSize } from './reservations.ts';
import { LogWriter, copySpec, dataLengthOf, type BufferOwner, type RecordSpec } from './writer.ts';

export type { BufferAllocator } from './buffer-pool.ts';

/** Options of {@link Log.createMarshallingArea}. */
export interface MarshallingAreaOptions {
  /** Size of every log I/O buffer, rounded up to the log's sector size (at most 4 MiB). It bounds the largest record. */
  bufferSize: number;
  /** `'paged'` (default) or `'nonPaged'` (pinned in RAM). */
  pool?: Pool;
  /** Most buffers allocated for writing at once: a positive integer or Infinity (default). Appends wait when all are in use. */
  maxWriteBuffers?: number;
  /** Most buffers allocated for reading at once (one per open read context): a positive integer or Infinity (default). */
  maxReadBuffers?: number;
  /** Your own buffer allocator; both functions are called one to one. */
  allocator?: BufferAllocator;
  /** Appended records are written to stable storage at least this often even if nobody asks; 0 disables. Default 200. */
  flushIntervalMs?: number;
}

/** Options of {@link MarshallingArea.reserveAndAppend}. */
export interface AppendOptions {
  /** Stored in the record (ARIES undo-next); must be older than the record, or Lsn.INVALID (default). */
  undoNextLsn?: Lsn;
  /** Stored in the record (previous record of the chain); older than the record, or Lsn.INVALID (default). */
  previousLsn?: Lsn;
  /** Data sizes of records to reserve (positive) or to free (negative: one record of that size). */
  reservations?: readonly number[];
  /** Queue the record's block for writing now, without waiting for it (CLFS_FLAG_FORCE_APPEND). */
  forceAppend?: boolean;
  /** Resolve only when the record is durable (CLFS_FLAG_FORCE_FLUSH). */
  forceFlush?: boolean;
  /** Append into space reserved earlier (CLFS_FLAG_USE_RESERVATION). */
  useReservation?: boolean;
  /** Each entry starts at a multiple of this within the record, gaps zeroed (ReserveAndAppendLogAligned). Default 1. */
  entryAlignment?: number;
}

/** Result of {@link MarshallingArea.reserveAndAppend}. */
export interface AppendResult {
  /** The record's LSN; undefined when nothing was appended. */
  lsn: Lsn | undefined;
  /** The real size (header and alignment included) of each reservation made (negative: freed), in the order given. */
  reservations: number[];
}

/** The record data of one append: bytes, pieces to concatenate, or null to only reserve. */
export type Entries = Uint8Array | readonly Uint8Array[] | null;

const POOLS: readonly Pool[] = ['paged', 'nonPaged'];
const MODES: readonly ReadMode[] = ['forward', 'previous', 'undoNext'];
const FILTERS: readonly RecordTypeFilter[] = ['data', 'restart', 'client'];

function normalizeEntries(name: string, entries: Entries): readonly Uint8Array[] | null {
  if (entries === null) return null;
  if (entries instanceof Uint8Array) return [entries];
  if (Array.isArray(entries)) {
    // An index loop: forEach would skip the holes of a sparse array.
    for (let i = 0; i < entries.length; i++) checkUint8Array(`${name}[${i}]`, entries[i]);
    return entries;
  }
  throw invalidArgType(name, 'a Uint8Array, an array of them, or null', entries);
}

function checkChainLsn(name: string, value: unknown): Lsn {
  if (value === undefined) return Lsn.INVALID;
  const lsn = checkLsn(name, value);
  if (lsn > Lsn.INVALID)
    throw new ClfsError('ERR_CLFS_INVALID_LSN', `${name} ${Lsn.format(lsn)} is not an LSN`, { lsn });
  return lsn;
}

export class MarshallingArea implements BufferOwner, ReadSource {
  readonly bufferSize: number;
  readonly pool: Pool;
  readonly maxWriteBuffers: number;
  readonly maxReadBuffers: number;
  readonly flushIntervalMs: number;
  readonly #log: Log;
  readonly #writes: BufferPool;
  readonly #reads: BufferPool;
  readonly #reservation = new Reservation();
  readonly #contexts = new Set<ReadContext>();
  #lastAppended: Lsn = Lsn.INVALID;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** Calls past their turn among appends, still running (close waits for them). */
  readonly #operations = new Set<Promise<unknown>>();
  #closing: Promise<void> | undefined;
  #closed = false;

  /** @internal Use log.createMarshallingArea(). */
  constructor(log: Log, options: MarshallingAreaOptions) {
    const o = checkOptions('options', options);
    if (o.bufferSize === undefined) throw invalidArgType('options.bufferSize', 'of type number', undefined);
    const requested = checkInteger('options.bufferSize', o.bufferSize, 1, MAX_BLOCK_SIZE);
    const unit = log.unit;
    this.bufferSize = Math.ceil(requested / unit) * unit;
    this.pool = o.pool === undefined ? 'paged' : checkOneOf('options.pool', o.pool, POOLS);
    this.maxWriteBuffers =
      o.maxWriteBuffers === undefined ? Infinity : checkCountOrInfinity('options.maxWriteBuffers', o.maxWriteBuffers);
    this.maxReadBuffers =
      o.maxReadBuffers === undefined ? Infinity : checkCountOrInfinity('options.maxReadBuffers', o.maxReadBuffers);
    this.flushIntervalMs =
      o.flushIntervalMs === undefined
        ? 200
        : checkInteger('options.flushIntervalMs', o.flushIntervalMs, 0, 2 ** 31 - 1);
    let allocator: BufferAllocator | undefined;
    if (o.allocator !== undefined) {
      const a = o.allocator;
      if (a === null || typeof a !== 'object' || typeof a.allocate !== 'function' || typeof a.free !== 'function') {
        throw invalidArgType('options.allocator', 'an object with allocate() and free() functions', a);
      }
      allocator = a;
    }
    const alignment = Math.max(log.storage.geometry.memoryAlignment, unit);
    this.#log = log;
    this.#writes = new BufferPool(this.bufferSize, this.maxWriteBuffers, alignment, this.pool, allocator);
    this.#reads = new BufferPool(this.bufferSize, this.maxReadBuffers, alignment, this.pool, allocator);
  }

  /** Records reserved in this area. */
  get reservedRecords(): number {
    return this.#reservation.records;
  }

  /** Bytes reserved in this area (real sizes). */
  get reservedBytes(): number {
    return this.#reservation.bytes;
  }

  /** @internal The largest block one of this area's reserved records may need (0: none reserved). */
  get reservedLargest(): number {
    return this.#reservation.largest;
  }

  /**
   * The largest record data this area can append: its buffer (or the
   * container, when that is smaller: a block never crosses a container's
   * end) less the block and record headers.
   */
  get maxRecordSize(): number {
    return LogWriter.maxDataLength(Math.min(this.bufferSize, this.#log.table.containerSize));
  }

  /** Write buffers allocated now, and read buffers. */
  get buffersAllocated(): { write: number; read: number } {
    return { write: this.#writes.allocated, read: this.#reads.allocated };
  }

  /** At a call's start: refused once close() has begun. */
  #checkUsable(): void {
    if (this.#closed || this.#closing !== undefined)
      throw new ClfsError('ERR_CLFS_CLOSED', 'the marshalling area is closed');
    this.#log.checkOpen();
  }

  /** Inside a call's turn: calls made before close() still run (close waits for them). */
  #checkAlive(): void {
    if (this.#closed) throw new ClfsError('ERR_CLFS_CLOSED', 'the marshalling area is closed');
    this.#log.checkAlive();
  }

  // BufferOwner
  /** @internal */
  acquireWriteBuffer(): Uint8Array | Promise<Uint8Array> {
    return this.#writes.acquire();
  }
  /** @internal */
  releaseWriteBuffer(buffer: Uint8Array): void {
    this.#writes.release(buffer);
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
          this.bufferSize > this.#log.table.containerSize
            ? ` in the log's ${this.#log.table.containerSize}-byte containers`
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
      if (lsn !== Lsn.INVALID && (this.#log.writer.lastLsn === Lsn.INVALID || lsn > this.#log.writer.lastLsn)) {
        throw new ClfsError('ERR_CLFS_INVALID_LSN', `options.${name} ${Lsn.format(lsn)} must name an older record`, {
          lsn,
        });
      }
    }
  }

  /** A copy of entries the caller might change while the append waits its turn. */
  #stable(spec: RecordSpec): RecordSpec {
    return this.#log.writer.contended ? copySpec(spec) : spec;
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
    const sizes = this.#reservationSizes(o.reservations);
    const useReservation = this.#flag(o, 'useReservation');
    const forceAppend = this.#flag(o, 'forceAppend');
    const forceFlush = this.#flag(o, 'forceFlush');
    if (useReservation && (list === null || sizes.length > 0)) {
      throw invalidArgValue(
        'options.useReservation',
        true,
        'appends one record into reserved space: it needs entries and no reservations',
      );
    }
    const spec = list === null ? undefined : this.#stable(this.#spec(list, o, 'data', Lsn.INVALID));
    const real = sizes.map((s) => Math.sign(s) * reservedSize(Math.abs(s), this.#log.unit));

    const lsn = await this.#log.writer.exclusive(() => {
      this.#checkAlive();
      if (spec !== undefined) this.#checkChains(spec);
      const change = this.#planReservation(real, spec, useReservation);
      const finish = (appended: Lsn | undefined): Lsn | undefined => {
        this.#reservation.assign(change);
        if (appended !== undefined) this.#lastAppended = appended;
        if (forceAppend) this.#log.writer.forceAppend();
        return appended;
      };
      if (spec === undefined) return finish(undefined);
      const appended = this.#log.writer.append(this, spec);
      return appended instanceof Promise ? appended.then(finish) : finish(appended);
    });
    if (lsn !== undefined) {
      if (forceFlush) await this.#log.writer.flush(lsn);
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
    const useReservation = this.#flag(o, 'useReservation');
    const forceAppend = this.#flag(o, 'forceAppend');
    const forceFlush = this.#flag(o, 'forceFlush');
    const specs: RecordSpec[] = [];
    for (let i = 0; i < records.length; i++) {
      const list = normalizeEntries(`records[${i}]`, records[i] as Entries);
      if (list === null) throw invalidArgValue(`records[${i}]`, null, 'must hold data: appendBatch does not reserve');
      specs.push(this.#stable(this.#spec(list, o, 'data', Lsn.INVALID)));
    }
    if (specs.length === 0) return [];
    const lsns = await this.#log.writer.exclusive(async () => {
      this.#checkAlive();
      this.#checkChains(specs[0]!);
      // Check the whole batch first, so it is appended entirely or not at all.
      const next = this.#reservation.copy();
      if (useReservation) {
        for (const spec of specs) {
          const size = reservedSize(dataLengthOf(spec.entries, spec.entryAlignment), this.#log.unit);
          if (next.records < 1 || next.bytes < size) throw this.#reservationInvalid(size);
          next.records--;
          next.bytes -= size;
        }
        next.settle();
      } else if (!this.#log.hasRoomFor({ blocks: this.#packedBlocks(specs), reserve: 0, largest: 0 })) {
        throw this.#logFull();
      }
      // Every container the batch will reach exists before any record goes
      // in, so a container that cannot be had fails the batch, not half of it.
      const spans = specs.map((spec) => recordSpan(dataLengthOf(spec.entries, spec.entryAlignment)));
      const reach = this.#log.writer.lastContainerFor(this, spans);
      const first = this.#log.writer.position.logicalId + 1;
      // The caller may change its arrays once the call has returned: take
      // them before waiting for containers.
      if (reach >= first) for (let i = 0; i < specs.length; i++) specs[i] = copySpec(specs[i]!);
      for (let id = first; id <= reach; id++) await this.#log.provideContainer(id);
      const out: Lsn[] = [];
      let owned = reach >= first;
      for (let i = 0; i < specs.length; i++) {
        const appended = this.#log.writer.append(this, specs[i]!);
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
      if (forceAppend) this.#log.writer.forceAppend();
      return out;
    });
    if (forceFlush) await this.#log.writer.flush(lsns[lsns.length - 1]!);
    else this.#armTimer();
    return lsns;
  }

  /** The blocks records take packed into fresh blocks of this area's buffers: their lengths. */
  #packedBlocks(specs: readonly RecordSpec[]): number[] {
    const unit = this.#log.unit;
    const blocks: number[] = [];
    let fill = BLOCK_HEADER_SIZE;
    let count = 0;
    for (const spec of specs) {
      const span = recordSpan(dataLengthOf(spec.entries, spec.entryAlignment));
      if (fill + span > Math.min(this.bufferSize, this.#log.table.containerSize) || count >= MAX_RECORDS_PER_BLOCK) {
        blocks.push(alignUp(fill, unit));
        fill = BLOCK_HEADER_SIZE;
        count = 0;
      }
      fill += span;
      count++;
    }
    blocks.push(alignUp(fill, unit));
    return blocks;
  }

  #flag(o: Partial<AppendOptions>, name: 'useReservation' | 'forceAppend' | 'forceFlush'): boolean {
    const value = o[name];
    if (value === undefined) return false;
    if (typeof value !== 'boolean') throw invalidArgType(`options.${name}`, 'of type boolean', value);
    return value;
  }

  #reservationSizes(value: unknown): number[] {
    if (value === undefined) return [];
    if (!Array.isArray(value)) throw invalidArgType('options.reservations', 'an array of numbers', value);
    return value.map((s: unknown, i) => {
      if (typeof s !== 'number') throw invalidArgType(`options.reservations[${i}]`, 'of type number', s);
      if (!Number.isInteger(s) || s === 0 || Math.abs(s) > this.maxRecordSize) {
        throw new ClfsError(
          'ERR_OUT_OF_RANGE',
          `options.reservations[${i}] must be a non-zero integer of magnitude at most ${this.maxRecordSize} (the largest record). Received ${s}`,
        );
      }
      return s;
    });
  }

  #reservationInvalid(size: number): ClfsError {
    return new ClfsError(
      'ERR_CLFS_RESERVATION_INVALID',
      `the area's reservation (${this.#reservation.records} records, ${this.#reservation.bytes} bytes) does not cover a ${size}-byte record`,
      { records: this.#reservation.records, bytes: this.#reservation.bytes },
    );
  }

  #logFull(): ClfsError {
    return new ClfsError(
      'ERR_CLFS_LOG_FULL',
      `the log has no room for this without eating into reservations (${this.#log.totalReservation()} bytes reserved, ${this.#log.currentAvailable()} available). Free reservations, advance the base, or add containers`,
    );
  }

  /** Checks a reservation change (and the append it comes with); returns the new totals. */
  #planReservation(real: readonly number[], spec: RecordSpec | undefined, useReservation: boolean): Reservation {
    const next = this.#reservation.copy();
    let added = 0;
    for (const size of real) {
      if (size > 0) {
        next.records++;
        next.bytes += size;
        next.largest = Math.max(next.largest, size);
        added += size;
      } else {
        if (next.records < 1 || next.bytes < -size) throw this.#reservationInvalid(-size);
        next.records--;
        next.bytes += size;
        added += size;
      }
    }
    let cost = 0;
    if (spec !== undefined) {
      const size = reservedSize(dataLengthOf(spec.entries, spec.entryAlignment), this.#log.unit);
      if (useReservation) {
        if (next.records < 1 || next.bytes < size) throw this.#reservationInvalid(size);
        next.records--;
        next.bytes -= size;
        added -= size;
      } else {
        cost = size;
      }
    }
    // A smaller record written into a worst-case reservation: the bytes
    // left over go back with the last record (Reservation.settle).
    next.settle();
    if (
      (cost > 0 || added > 0) &&
      !this.#log.hasRoomFor({ blocks: cost > 0 ? [cost] : [], reserve: Math.max(0, added), largest: next.largest })
    )
      throw this.#logFull();
    return next;
  }

  /** The real size of reserving records of these data sizes, together (CLFS's AlignReservedLog). Pure. */
  alignReservedLog(sizes: readonly number[]): number {
    this.#checkUsable();
    if (!Array.isArray(sizes) || sizes.length === 0)
      throw invalidArgType('sizes', 'a non-empty array of numbers', sizes);
    return sizes.reduce<number>(
      (total, s, i) => total + reservedSize(checkInteger(`sizes[${i}]`, s, 1, this.maxRecordSize), this.#log.unit),
      0,
    );
  }

  /** Reserves `count` records totalling `bytes` (CLFS's AllocReservedLog); `bytes` is normally alignReservedLog()'s result. */
  async allocReservedLog(count: number, bytes: number): Promise<void> {
    this.#checkUsable();
    checkInteger('count', count, 1);
    checkInteger('bytes', bytes, 1);
    await this.#log.writer.exclusive(() => {
      // The records' sizes are not known: one of them may take all the bytes
      // but a sector for each other, up to the largest record's block.
      const largest = Math.min(
        Math.max(this.#log.unit, bytes - (count - 1) * this.#log.unit),
        reservedSize(this.maxRecordSize, this.#log.unit),
      );
      if (!this.#log.hasRoomFor({ blocks: [], reserve: bytes, largest })) throw this.#logFull();
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
    await this.#log.writer.exclusive(() => {
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
    const target = lsn === undefined || lsn === Lsn.NULL ? this.#log.writer.lastLsn : lsn;
    return this.#log.writer.flush(target);
  }

  /** Flushes every record appended so far (CLFS's FlushLogBuffers). */
  async flushBuffers(): Promise<void> {
    await this.flushToLsn();
  }

  #armTimer(): void {
    if (this.flushIntervalMs === 0 || this.#timer !== undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#closed || this.#closing !== undefined || this.#log.writer.failure !== undefined) return;
      this.#log.writer.flush(this.#lastAppended).catch(() => undefined);
    }, this.flushIntervalMs);
    this.#timer.unref();
  }

  // ReadSource
  /** @internal */
  baseLsn(): Lsn {
    return this.#log.baseLsn;
  }
  /** @internal */
  lastLsn(): Lsn {
    return this.#log.writer.lastLsn;
  }
  /** @internal */
  restartLsn(): Lsn {
    return this.#log.restartLsn;
  }
  /** @internal */
  containerSize(): number {
    return this.#log.table.containerSize;
  }
  /** @internal */
  checkOpen(): void {
    this.#checkUsable();
  }
  /** @internal */
  blockExpectation(): { logId: bigint; unit: number } {
    return { logId: this.#log.logId, unit: this.#log.unit };
  }
  /** @internal */
  releaseReadBuffer(context: ReadContext, buffer: Uint8Array): void {
    this.#contexts.delete(context);
    this.#reads.release(buffer);
  }

  /** @internal */
  skippedRanges(): readonly { fromLsn: Lsn; toLsn: Lsn }[] {
    return this.#log.recoveryReport.skipped;
  }

  /** @internal Loads a block for a read context: from the writer, another context, or the container. */
  loadBlock(blockLsn: Lsn, into: Uint8Array): Promise<LoadedBlock | BlockProblem | 'absent'> {
    return this.#log.blocks.loadBlock(blockLsn, into, this.#contexts);
  }

  /** @internal */
  probeBlock(blockLsn: Lsn, whole: boolean): Promise<ProbedBlock | BlockProblem | 'absent'> {
    return this.#log.blocks.probeBlock(blockLsn, whole);
  }

  /** @internal */
  findBlockAfter(position: Lsn): Promise<ProbedBlock | undefined> {
    return this.#log.blocks.findBlockAfter(position);
  }

  /** @internal */
  problems(): ReadProblems {
    return this.#log.blocks.problems;
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
    const context = new ReadContext(this, buffer, mode, filter, view);
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
    const start = fromLsn === undefined ? this.#log.baseLsn : checkLsn('fromLsn', fromLsn);
    checkOneOf('mode', mode, MODES);
    const o = checkOptions('options', options);
    const filter = o.type === undefined ? 'data' : checkOneOf('options.type', o.type, FILTERS);
    if (o.view !== undefined) checkBoolean('options.view', o.view);
    const last = this.#log.writer.lastLsn;
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
    const useReservation = o.useReservation === undefined ? false : this.#flag(o, 'useReservation');
    const newBase = o.newBaseLsn === undefined ? undefined : checkLsn('options.newBaseLsn', o.newBaseLsn);
    const spec = this.#spec([data], {}, 'restart', newBase ?? Lsn.INVALID);
    // The call may wait (its turn, the new base's block read) before the
    // record is placed: its bytes are taken now.
    spec.entries = [data.slice()];
    this.#log.writer.checkHealthy();
    const before = this.#log.storage.stats.bytesFlushed;
    return this.#track(async () => {
      // The call takes its turn among appends at once (a close called after
      // it waits for it), and checks the new base there: against the records
      // appended before it, not those of when it was called.
      const lsn = await this.#log.writer.exclusive(async () => {
        this.#checkAlive();
        if (newBase !== undefined) await this.#checkNewBase(newBase);
        spec.previousLsn = this.#log.lastRestartAppended;
        const change = this.#planReservation([], spec, useReservation);
        const pending = this.#log.writer.append(this, spec);
        const appended = pending instanceof Promise ? await pending : pending;
        this.#reservation.assign(change);
        this.#log.lastRestartAppended = appended;
        this.#lastAppended = appended;
        return appended;
      });
      await this.#log.writer.flush(lsn);
      await this.#log.setBase(newBase ?? this.#log.baseLsn, lsn);
      return { lsn, bytesWritten: this.#log.storage.stats.bytesFlushed - before };
    });
  }

  /**
   * The newest restart area (CLFS's ReadLogRestartArea) and a context for
   * walking older ones (`context.readPreviousRestartArea()`).
   * ERR_CLFS_NO_RESTART when none was written.
   */
  async readRestartArea(): Promise<{ data: Uint8Array; lsn: Lsn; context: ReadContext }> {
    this.#checkUsable();
    const lsn = this.#log.restartLsn;
    if (lsn === Lsn.INVALID) throw new ClfsError('ERR_CLFS_NO_RESTART', 'the log has no restart area');
    const context = await this.readLogRecord(lsn, 'previous', { type: 'restart' });
    return { data: context.record.data, lsn, context };
  }

  #tailInvalid(lsn: Lsn, why: string): ClfsError {
    return new ClfsError('ERR_CLFS_TAIL_INVALID', `LSN ${Lsn.format(lsn)} cannot be the base: it ${why}`, { lsn });
  }

  /**
   * A new base must be a record in [base, last]. Its block is looked at
   * through a buffer of its own, not one of the area's read buffers: CLFS's
   * AdvanceLogBase cannot fail for want of them (a checkpoint during a
   * recovery scan that holds them all).
   */
  async #checkNewBase(lsn: Lsn): Promise<void> {
    if (lsn < this.#log.baseLsn) throw this.#tailInvalid(lsn, `is below the base LSN ${Lsn.format(this.#log.baseLsn)}`);
    if (this.#log.writer.lastLsn === Lsn.INVALID || lsn > this.#log.writer.lastLsn) {
      throw this.#tailInvalid(lsn, `is beyond the last record ${Lsn.format(this.#log.writer.lastLsn)}`);
    }
    const queued = this.#log.writer.queuedRecordCount(blockLsnOf(lsn));
    const block = queued === undefined ? await this.probeBlock(blockLsnOf(lsn), true) : undefined;
    const records =
      queued ?? (block === undefined || typeof block === 'string' || !block.whole ? 0 : block.recordCount);
    if (sequenceOf(lsn) >= records) throw this.#tailInvalid(lsn, 'names no record');
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
    this.#log.writer.checkHealthy();
    return this.#track(async () => {
      await this.#checkNewBase(lsn);
      await this.#log.writer.flush(lsn);
      await this.#log.setBase(lsn);
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
    const promise = this.#log.track(run());
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
      await this.#log.writer.exclusive(() => undefined).catch(() => undefined);
      if (this.#lastAppended !== Lsn.INVALID && this.#log.writer.failure === undefined) {
        await this.#log.writer.flush(this.#lastAppended);
      }
    } catch (error) {
      failure = error;
    }
    // The rest happens whatever failed above; the first failure is reported.
    for (const context of [...this.#contexts]) context.terminate();
    // Only this area's own open block, if any: another area's records are
    // not this close's to drop.
    this.#log.writer.releaseOwner(this);
    const writeFailure = this.#writes.drain();
    const readFailure = this.#reads.drain();
    failure ??= writeFailure ?? readFailure;
    this.#reservation.assign(new Reservation());
    this.#closed = true;
    this.#log.forgetArea(this);
    if (failure !== undefined) throw failure;
  }
}
