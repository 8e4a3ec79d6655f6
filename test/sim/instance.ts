/**
 * One open log instance as the driver sees it (its storage, areas, held
 * read contexts, model and calls), and the call tracking every operation
 * goes through: each API call is recorded with the state it was made in,
 * and its settlement is checked (a typed ClfsError with an allowed code, or
 * a result the model accepts) and written to the trace.
 * @module
 */
import type { FollowerHandle } from './ops-follow.ts';
import { ClfsError } from '../../lib/errors.ts';
import type { Log } from '../../lib/log/log.ts';
import type { MarshallingArea } from '../../lib/log/marshalling-area.ts';
import type { ReadContext } from '../../lib/log/read/read-context.ts';
import type { AreaConfig } from './config.ts';
import type { AreaReservation, Model, ModelRecord } from './model.ts';
import type { Filter, Mode } from './plan.ts';
import type { Faults, SimStorage } from './storage.ts';

export interface AreaHandle {
  readonly index: number;
  readonly area: MarshallingArea;
  readonly config: AreaConfig;
  readonly reservation: AreaReservation;
  /** When close() was called on it (call id), if it was. */
  closedAt: number | undefined;
  /** Held read contexts, and read buffers taken by calls in flight. */
  readers: number;
  /** Highest LSN of this area's appends that resolved. */
  lastResolved: bigint;
  allocations: { allocate: number; free: number } | undefined;
}

export interface ContextHandle {
  readonly context: ReadContext;
  readonly area: AreaHandle;
  readonly mode: Mode;
  readonly filter: Filter;
  readonly restart: boolean;
  /** The record it is on, as the model knows it. */
  current: ModelRecord;
  busy: number;
  ended: boolean;
  terminated: boolean;
  /** What the pending calls on it may fail with (terminate adds ERR_CLFS_CLOSED). */
  pending: Allowed[];
  /** Terminated while reads were pending: its buffer goes back (area.readers) when they end. */
  bufferUntilIdle?: boolean;
  /** It was past the target of a truncation that raced other calls: where its next() goes is not checked. */
  raced?: boolean;
}

export interface Call {
  readonly id: number;
  readonly label: string;
  readonly instance: number;
  settled: boolean;
  crashed: boolean;
  /** A truncation was in flight while it was (Model.beginTruncate): what it sees may be before or after it. */
  raced?: boolean;
}

export interface Instance {
  readonly n: number;
  readonly log: Log;
  readonly storage: SimStorage;
  readonly model: Model;
  readonly areas: AreaHandle[];
  readonly contexts: ContextHandle[];
  readonly calls: Call[];
  /** When log.close() was called (call id). */
  closedAt: number | undefined;
  closeCall: Call | undefined;
  lastInfo: { base: bigint; flushes: number; metadataFlushes: number } | undefined;
  /** Opened over a disk whose page cache held writes not yet durable (after a process crash or failed close). */
  fromPageCache: boolean;
  /** A read-only log beside it (ops-follow.ts), once a follow op opened one. */
  follower?: FollowerHandle;
}

export interface Tracker {
  readonly faults: Faults;
  nextCall(): number;
  trace(line: string): void;
}

/** What a call racing a truncation may fail with (checkError). */
const RACING_TRUNCATION = ['ERR_CLFS_TRUNCATED', 'ERR_CLFS_INVALID_LSN', 'ERR_CLFS_TAIL_INVALID'];

/** Codes of argument errors (API.md): only for arguments the simulator got wrong on purpose. */
export const ARGUMENT_CODES = ['ERR_INVALID_ARG_TYPE', 'ERR_INVALID_ARG_VALUE', 'ERR_OUT_OF_RANGE'];

export function codeOf(error: unknown): string {
  return error instanceof ClfsError && typeof error.code === 'string' ? error.code : `untyped ${String(error)}`;
}

/**
 * What decides whether an error is allowed, from the state when the call
 * was made and when it settled: the caller's list, plus ERR_CLFS_CLOSED
 * once a close of the log or area was called (before the call for any
 * call; during it for reads), plus ERR_CLFS_IO_FAILED and raw system codes
 * once faults were injected.
 */
export interface Allowed {
  codes: string[];
  /** Reads may end with ERR_CLFS_CLOSED when a close lands during them. */
  read?: boolean;
  /** So may appends that wait for room (logFullTimeoutMs): a close refuses them. */
  waits?: boolean;
  area?: AreaHandle;
  /** Decided when the call settles: codes allowed by the state then (e.g. a base moved meanwhile). */
  also?: (code: string) => boolean;
}

export function closedBefore(inst: Instance, area: AreaHandle | undefined, call: number): boolean {
  return (
    (inst.closedAt !== undefined && inst.closedAt < call) || (area?.closedAt !== undefined && area.closedAt < call)
  );
}

export function closedSince(inst: Instance, area: AreaHandle | undefined): boolean {
  return inst.closedAt !== undefined || area?.closedAt !== undefined;
}

/** Checks an error a call ended with. */
export function checkError(inst: Instance, tracker: Tracker, call: Call, error: unknown, allowed: Allowed): void {
  const report = inst.model.report;
  if (!(error instanceof ClfsError) || typeof error.code !== 'string' || error.code === '') {
    const name = error instanceof Error ? `${error.constructor.name}: ${error.message}` : String(error);
    report.add('untyped-error', `${call.label} threw ${name} (not a ClfsError with a code)`);
    return;
  }
  const code = error.code;
  if (allowed.codes.includes(code) || allowed.also?.(code) === true) return;
  // Racing a truncation: what it names may be dropped (a pending append's
  // flush, a chain LSN, a base or a record to read: ERR_CLFS_TRUNCATED,
  // ERR_CLFS_INVALID_LSN, ERR_CLFS_TAIL_INVALID).
  if (call.raced === true && RACING_TRUNCATION.includes(code)) return;
  if (code === 'ERR_CLFS_CLOSED') {
    if (closedBefore(inst, allowed.area, call.id)) return;
    if ((allowed.read === true || allowed.waits === true) && closedSince(inst, allowed.area)) return;
    if (closedSince(inst, allowed.area)) {
      report.add(
        'closed-too-early',
        `${call.label} was called before close() but failed with ERR_CLFS_CLOSED: ${error.message}`,
      );
      return;
    }
  }
  if (code === 'ERR_CLFS_IO_FAILED' && inst.storage.writeFaultsDelivered > 0) return;
  // After a fail-stop, a read of a record whose block never reached the disk finds it damaged.
  if (code === 'ERR_CLFS_CORRUPT' && allowed.read === true && inst.log.core.writer.failure !== undefined) return;
  if ((code === 'EIO' || code === 'ENOSPC') && tracker.faults.injected > 0) return;
  report.add(corruptKind(error.message) ?? 'unexpected-error', `${call.label} failed with ${code}: ${error.message}`);
}

/**
 * ERR_CLFS_CORRUPT where the log is not damaged, by its shape: a block
 * blamed as stale for a follower of an older generation (a leftover after
 * a crash cut the tail back), or an empty position blamed as vouched-for
 * damage (the tail at a container's end, the next container's first block
 * lost).
 */
export function corruptKind(message: string): string | undefined {
  const stale = /generation (\d+), but the block after it \([^)]*, generation (\d+)\)/.exec(message);
  if (stale !== null && Number(stale[2]) < Number(stale[1])) return 'stale-epoch';
  if (message.includes('(empty)') && message.includes('shows it had been durable')) return 'vouched-gap';
  return undefined;
}

/**
 * Makes a call: `make` runs now (the API call itself); `ok` checks a
 * result, `failed` an error (after the generic check). Returns the call,
 * and the promise settled with it (never rejecting).
 */
export function track<T>(
  inst: Instance,
  tracker: Tracker,
  label: string,
  make: () => Promise<T>,
  handlers: { ok?: (value: T, call: Call) => void; failed?: (error: unknown, call: Call) => void; allowed: Allowed },
): { call: Call; done: Promise<void> } {
  const id = tracker.nextCall();
  const call: Call = {
    id,
    label: `${label} (i${inst.n} c${id})`,
    instance: inst.n,
    settled: false,
    crashed: false,
    ...(inst.model.truncating ? { raced: true } : {}),
  };
  inst.calls.push(call);
  tracker.trace(`call ${call.id} ${label}`);
  let promise: Promise<T>;
  try {
    promise = make();
  } catch (error) {
    promise = Promise.reject(error);
  }
  const done = promise.then(
    (value) => {
      call.settled = true;
      tracker.trace(`ok ${call.id} ${describeValue(value)}`);
      handlers.ok?.(value, call);
    },
    (error: unknown) => {
      call.settled = true;
      tracker.trace(`err ${call.id} ${codeOf(error)}`);
      checkError(inst, tracker, call, error, handlers.allowed);
      handlers.failed?.(error, call);
    },
  );
  return { call, done };
}

/** A short, deterministic rendering of a result for the trace. */
export function describeValue(value: unknown): string {
  if (value === undefined || value === null) return String(value);
  if (typeof value === 'bigint') return value.toString(16);
  if (Array.isArray(value))
    return `[${value.length > 8 ? `${value.length} items` : value.map(describeValue).join(',')}]`;
  if (value instanceof Uint8Array) return `${value.byteLength}B`;
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([k]) => k !== 'context' && k !== 'data');
    return `{${entries.map(([k, v]) => `${k}:${describeValue(v)}`).join(',')}}`;
  }
  return String(value);
}
