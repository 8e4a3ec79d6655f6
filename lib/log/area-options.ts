/**
 * A marshalling area's options and the checks of what callers pass it:
 * the area's own options, append options, entries and chain LSNs. Every bad
 * value is a typed error with a code before anything changes.
 * @module
 */
import { ClfsError, invalidArgType, invalidArgValue } from '../errors.ts';
import { Lsn, checkLsn } from '../lsn.ts';
import type { Pool } from '../native/memory.ts';
import {
  checkBoolean,
  checkCountOrInfinity,
  checkInteger,
  checkOneOf,
  checkOptions,
  checkUint8Array,
} from '../validate.ts';
import type { BufferAllocator } from './buffer-pool.ts';
import { MAX_BLOCK_SIZE } from '../format/block.ts';
import type { Following } from './read/follow.ts';
import type { ReadMode, ReadOptions, RecordTypeFilter } from './read/read-context.ts';
import type { RecordsOptions } from './read/read-types.ts';

/** Options of {@link Log.createMarshallingArea}. */
export interface MarshallingAreaOptions {
  /** Size of every log I/O buffer, rounded up to the log's sector size (at most 4 MiB). It bounds the largest record. */
  bufferSize: number;
  /** `'paged'` (default) or `'nonPaged'` (pinned in RAM). */
  pool?: Pool;
  /** Most buffers allocated for writing at once: a positive integer or Infinity (default). This area's appends wait when all are in use; other areas' go on. */
  maxWriteBuffers?: number;
  /** Most buffers allocated for reading at once (one per open read context): a positive integer or Infinity (default). */
  maxReadBuffers?: number;
  /** Your own buffer allocator; both functions are called one to one. */
  allocator?: BufferAllocator;
  /** Appended records are written to stable storage at least this often even if nobody asks; 0 disables. Default 200. */
  flushIntervalMs?: number;
  /**
   * How long an append that finds the log full waits for room (a base move,
   * growth, containers added, reservations freed) before it fails with
   * ERR_CLFS_LOG_FULL, in ms (CLFS's HandleLogFull). 0 (default): it fails
   * at once. Waiting appends of every area are served first come, first
   * served; the log emits `'advance-tail'` when one starts to wait. Appends
   * into reservations never wait, and a restart area never waits (it may be
   * what moves the base). Closing the area or the log rejects a waiting
   * append with ERR_CLFS_CLOSED.
   */
  logFullTimeoutMs?: number;
}

/** Options of {@link MarshallingArea.reserveAndAppend}. */
export interface AppendOptions {
  /** Stored in the record (ARIES undo-next); must be older than the record, or Lsn.INVALID (default). */
  undoNextLsn?: Lsn;
  /** Stored in the record (previous record of the chain); older than the record, or Lsn.INVALID (default). */
  previousLsn?: Lsn;
  /**
   * Data sizes of records to reserve (positive) or to free (negative `-n`: one record and exactly the real size of
   * `n`, `alignReservedLog([n])`; more than is reserved is ERR_CLFS_RESERVATION_INVALID).
   */
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

/** Result of {@link MarshallingArea.reserveAndAppend} given entries: the LSN is always there. */
export interface AppendedResult extends AppendResult {
  /** The record's LSN. */
  lsn: Lsn;
}

/** The record data of one append: bytes, pieces to concatenate, or null to only reserve. */
export type Entries = Uint8Array | readonly Uint8Array[] | null;

const POOLS: readonly Pool[] = ['paged', 'nonPaged'];
export const MODES: readonly ReadMode[] = ['forward', 'previous', 'undoNext'];
export const FILTERS: readonly RecordTypeFilter[] = ['data', 'restart', 'client'];

/** An area's options, checked, with defaults; `bufferSize` rounded up to `unit`. */
export interface AreaSettings {
  bufferSize: number;
  pool: Pool;
  maxWriteBuffers: number;
  maxReadBuffers: number;
  flushIntervalMs: number;
  logFullTimeoutMs: number;
  allocator: BufferAllocator | undefined;
}

const AREA_OPTIONS: readonly (keyof MarshallingAreaOptions)[] = [
  'bufferSize',
  'pool',
  'maxWriteBuffers',
  'maxReadBuffers',
  'allocator',
  'flushIntervalMs',
  'logFullTimeoutMs',
];
/** The options of an append (appendBatch's are these but `reservations`). */
export const APPEND_OPTIONS: readonly (keyof AppendOptions)[] = [
  'undoNextLsn',
  'previousLsn',
  'reservations',
  'forceAppend',
  'forceFlush',
  'useReservation',
  'entryAlignment',
];
/** The options of a read. */
export const READ_OPTIONS: readonly (keyof ReadOptions)[] = ['type', 'view'];
const RECORDS_OPTIONS: readonly (keyof RecordsOptions)[] = [...READ_OPTIONS, 'follow', 'pollInterval', 'signal'];

/** records()'s options, checked: the read's, and how to follow (undefined: not). */
export function resolveRecordsOptions(
  options: RecordsOptions | undefined,
  mode: ReadMode,
): { read: ReadOptions; filter: RecordTypeFilter; following: Following | undefined } {
  const o = checkOptions('options', options, RECORDS_OPTIONS);
  const filter = o.type === undefined ? 'data' : checkOneOf('options.type', o.type, FILTERS);
  const read: ReadOptions = { type: 'client' };
  if (o.view !== undefined) read.view = checkBoolean('options.view', o.view);
  const pollInterval =
    o.pollInterval === undefined ? 100 : checkInteger('options.pollInterval', o.pollInterval, 1, 3_600_000);
  const signal = o.signal;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw invalidArgType('options.signal', 'an instance of AbortSignal', signal);
  }
  if (o.follow === undefined || !checkBoolean('options.follow', o.follow))
    return { read, filter, following: undefined };
  if (mode !== 'forward') throw invalidArgValue('options.follow', true, "follows only in mode 'forward'");
  return { read, filter, following: { pollInterval, signal } };
}

export function resolveAreaOptions(options: MarshallingAreaOptions, unit: number): AreaSettings {
  const o = checkOptions('options', options, AREA_OPTIONS);
  if (o.bufferSize === undefined) throw invalidArgType('options.bufferSize', 'of type number', undefined);
  const requested = checkInteger('options.bufferSize', o.bufferSize, 1, MAX_BLOCK_SIZE);
  let allocator: BufferAllocator | undefined;
  if (o.allocator !== undefined) {
    const a = o.allocator;
    if (a === null || typeof a !== 'object' || typeof a.allocate !== 'function' || typeof a.free !== 'function') {
      throw invalidArgType('options.allocator', 'an object with allocate() and free() functions', a);
    }
    allocator = a;
  }
  return {
    bufferSize: Math.ceil(requested / unit) * unit,
    pool: o.pool === undefined ? 'paged' : checkOneOf('options.pool', o.pool, POOLS),
    maxWriteBuffers:
      o.maxWriteBuffers === undefined ? Infinity : checkCountOrInfinity('options.maxWriteBuffers', o.maxWriteBuffers),
    maxReadBuffers:
      o.maxReadBuffers === undefined ? Infinity : checkCountOrInfinity('options.maxReadBuffers', o.maxReadBuffers),
    flushIntervalMs:
      o.flushIntervalMs === undefined
        ? 200
        : checkInteger('options.flushIntervalMs', o.flushIntervalMs, 0, 2 ** 31 - 1),
    logFullTimeoutMs:
      o.logFullTimeoutMs === undefined
        ? 0
        : checkInteger('options.logFullTimeoutMs', o.logFullTimeoutMs, 0, 2 ** 31 - 1),
    allocator,
  };
}

/** `entries` as a list of pieces, or null (reserve only). */
export function normalizeEntries(name: string, entries: Entries): readonly Uint8Array[] | null {
  if (entries === null) return null;
  if (entries instanceof Uint8Array) return [entries];
  if (Array.isArray(entries)) {
    // An index loop: forEach would skip the holes of a sparse array.
    for (let i = 0; i < entries.length; i++) checkUint8Array(`${name}[${i}]`, entries[i]);
    return entries;
  }
  throw invalidArgType(name, 'a Uint8Array, an array of them, or null', entries);
}

/** A chain field (previousLsn, undoNextLsn): an LSN or INVALID (the default). */
export function checkChainLsn(name: string, value: unknown): Lsn {
  if (value === undefined) return Lsn.INVALID;
  const lsn = checkLsn(name, value);
  if (lsn > Lsn.INVALID)
    throw new ClfsError('ERR_CLFS_INVALID_LSN', `${name} ${Lsn.format(lsn)} is not an LSN`, { lsn });
  return lsn;
}

/** A boolean option, false when absent. */
export function checkFlag(name: 'useReservation' | 'forceAppend' | 'forceFlush', value: unknown): boolean {
  if (value === undefined) return false;
  if (typeof value !== 'boolean') throw invalidArgType(`options.${name}`, 'of type boolean', value);
  return value;
}

const NO_SIZES: readonly number[] = Object.freeze([]);

/** `options.reservations`: non-zero integers of magnitude at most `maxRecordSize`. */
export function checkReservationSizes(value: unknown, maxRecordSize: number): readonly number[] {
  if (value === undefined) return NO_SIZES;
  if (!Array.isArray(value)) throw invalidArgType('options.reservations', 'an array of numbers', value);
  return value.map((s: unknown, i) => {
    if (typeof s !== 'number') throw invalidArgType(`options.reservations[${i}]`, 'of type number', s);
    if (!Number.isInteger(s) || s === 0 || Math.abs(s) > maxRecordSize) {
      throw new ClfsError(
        'ERR_OUT_OF_RANGE',
        `options.reservations[${i}] must be a non-zero integer of magnitude at most ${maxRecordSize} (the largest record). Received ${s}`,
      );
    }
    return s;
  });
}
