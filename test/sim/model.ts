/**
 * The reference model: what the log holds and has promised, kept outside
 * the library from what its calls returned, and the rules its answers must
 * follow.
 *
 * - Records by LSN, with their bytes as given *at call time* (the driver
 *   scribbles over the caller's buffers once a call returns). No LSN may
 *   name two records. LSNs of appends follow call order, and every LSN a
 *   call gets is above every LSN known when it was made.
 * - Attempts: records whose call has not told their LSN yet (pending, or
 *   failed after the record may have been placed). A record read or
 *   recovered with an LSN the model does not know must be one of them.
 * - Acknowledgement: a resolved flush (or forceFlush append, restart area,
 *   base move, close) makes every record up to its bound acknowledged;
 *   acknowledged records must survive any crash (I1).
 * - The base (only forward; a read below it is ERR_CLFS_START_OF_LOG) and
 *   the restart areas.
 * - Reservations per area, folded in call order (appends, reservations and
 *   frees are serialised in call order by the library).
 * - Truncations racing other calls (beginTruncate / endTruncate): a
 *   truncation takes its turn among appends in call order, so an append
 *   made before it lands before it (and is dropped when after its target:
 *   its pending flush rejects ERR_CLFS_TRUNCATED), one made after it lands
 *   after it, at LSNs after the target that dropped records may have had.
 *   An append of an area that may wait outside the log's turn for its own
 *   buffers (or for room) may land after a truncation made after it: such a
 *   record after the target stays an attempt (found or not).
 * One model covers one log instance; after a crash or reopen it restarts
 * from what recovery found (test/sim/checker.ts).
 * @module
 */
import { Lsn } from '../../lib/lsn.ts';
import { BLOCK_HEADER, RECORD_HEADER, alignUp } from './config.ts';

export interface Violation {
  kind: string;
  detail: string;
}

/** Collects violations (the run fails on the first kinds it meets; all are reported). */
export class Report {
  readonly violations: Violation[] = [];
  add(kind: string, detail: string): void {
    if (this.violations.length < 50) this.violations.push({ kind, detail });
  }
}

export type RecordType = 'data' | 'restart';

export interface ModelRecord {
  lsn: bigint;
  type: RecordType;
  data: Uint8Array;
  undoNextLsn: bigint;
  /** UNKNOWN for a restart record until read: the library chains it to the restart area before it. */
  previousLsn: bigint;
}

/** A chain field the model does not know (a restart record's previous LSN before it is read). */
export const UNKNOWN = -1n;

export interface Attempt {
  call: number;
  type: RecordType;
  data: Uint8Array;
  undoNextLsn: bigint;
  previousLsn: bigint;
}

export const fmt = (lsn: bigint | undefined): string =>
  lsn === undefined ? '?' : lsn === Lsn.INVALID ? 'INVALID' : `${lsn >> 32n}:${(lsn & 0xffff_ffffn).toString(16)}`;

const bytes = (a: Uint8Array): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && bytes(a).equals(bytes(b));
}

/** The scribble the driver writes over a caller's buffers once a call returned (args.ts). */
export const SCRIBBLE = 0xa5;

/** Bytes that are the caller's buffer as scribbled after the call returned: the library read it late. */
export function scribbled(data: Uint8Array): boolean {
  if (data.byteLength === 0 || data[0] !== SCRIBBLE) return false;
  if (scribbles.byteLength < data.byteLength) scribbles = Buffer.alloc(data.byteLength, SCRIBBLE);
  return bytes(data).equals(scribbles.subarray(0, data.byteLength));
}
let scribbles = Buffer.alloc(0);

/** The bytes reserving a record of `dataLength` takes: a whole block of its own (lib/log/reservations.ts states why). */
export function reservedSize(dataLength: number, unit: number): number {
  return alignUp(BLOCK_HEADER + RECORD_HEADER + alignUp(dataLength, 8), unit);
}

/** Where a record comes from (Model.addRecord). */
export interface RecordOrigin {
  call: number;
  /** Its area may wait outside the log's turn (for its buffers, or for room): later calls may go first. */
  deferrable: boolean;
  /** A restart record: a truncation below it is refused, so none drops it. */
  restart?: boolean;
}

interface Truncation {
  call: number;
  target: bigint;
  /** Records after the target when it was called, or resolved after it by calls made before it. */
  setAside: ModelRecord[];
  settled: boolean;
  /** The acknowledged bound when it was called (back when it is refused). */
  ackBound: bigint;
}

/** A change to an area's reservation, as a call asks it. */
export type ReservationChange =
  | { kind: 'reserve'; bytes: number }
  | { kind: 'free'; bytes: number }
  | { kind: 'use'; bytes: number }
  | { kind: 'alloc'; count: number; bytes: number }
  | { kind: 'freeMany'; count: number; bytes: number }
  | { kind: 'close' };

export interface ReservationCall {
  call: number;
  label: string;
  changes: ReservationChange[];
  outcome?: { ok: boolean; code: string | undefined };
}

/** An area's reservation as the model folds it. */
export class AreaReservation {
  records = 0;
  bytes = 0;
  /** Unknown after a call failed past the point where it changed the reservation (fail-stop). */
  uncertain = false;
  readonly queue: ReservationCall[] = [];
}

export class Model {
  readonly report: Report;
  readonly records = new Map<bigint, ModelRecord>();
  /** LSNs of `records`, ascending. */
  readonly lsns: bigint[] = [];
  readonly attempts = new Map<number, Attempt[]>();
  /** LSNs of records the base passed, for picks that want one. */
  readonly belowBase: bigint[] = [];
  /** Every record up to this is acknowledged (-1: none). */
  ackBound = -1n;
  /** LSNs of this instance must be above this: the recovered end, or the end a truncation left. */
  floor: bigint;
  ackedBase: bigint;
  /** Bases this instance may have set (targets of calls made), with the one it started with. */
  readonly possibleBases = new Set<bigint>();
  ackedRestart: bigint;
  /** The library's own last LSN (-1 if none), for LSNs that must be past every record. */
  writerLast: () => bigint = () => -1n;
  /** Records truncations dropped: a read racing one may have found them before it (Observation.raced). */
  readonly dropped: Attempt[] = [];
  /** The call of the truncation that set `floor` (appends made before it may be below it). */
  #floorCall = -1;
  /** Truncations of this instance by call (in flight: `settled` false), with the records each set aside. */
  readonly #truncations: Truncation[] = [];
  /** LSNs of appends by call, for the call-order rule. */
  readonly #appendCalls: { call: number; min: bigint; max: bigint; area: number; mayWait: boolean; waits: boolean }[] =
    [];

  /**
   * `acked`: up to where the recovered records are known durable. After a
   * power cut everything recovered is on stable storage (the image is the
   * disk); after a process crash or a failed close, recovery may have read
   * records from the page cache that a power cut can still take: only what
   * was acknowledged before is.
   */
  constructor(
    report: Report,
    start: { base: bigint; restartLsn: bigint; records: ModelRecord[]; belowBase?: bigint[]; acked?: bigint },
  ) {
    this.report = report;
    this.ackedBase = start.base;
    this.possibleBases.add(start.base);
    this.ackedRestart = start.restartLsn;
    let floor = -1n;
    for (const r of start.records) {
      this.records.set(r.lsn, r);
      this.lsns.push(r.lsn);
      if (r.lsn > floor) floor = r.lsn;
    }
    this.lsns.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    this.floor = floor;
    this.ackBound = start.acked !== undefined && start.acked < floor ? start.acked : floor;
    this.belowBase.push(...(start.belowBase ?? []));
  }

  /** The newest known LSN (-1 if none). */
  get newest(): bigint {
    return this.lsns.length === 0 ? -1n : this.lsns[this.lsns.length - 1]!;
  }

  /**
   * A record the log now holds: its LSN must be new and above `knownAtCall`.
   * `origin`: the call that appended it, and whether it may have taken its
   * turn after later calls (an area waiting for its buffers or for room).
   * Returns false when a truncation made after the call may have dropped it
   * (it is kept as an attempt then, see the module comment).
   */
  addRecord(record: ModelRecord, knownAtCall: bigint, what: string, origin?: RecordOrigin): boolean {
    const racedBy =
      origin === undefined ? undefined : this.#truncations.find((t) => origin.call < t.call && record.lsn > t.target);
    if (racedBy !== undefined && origin?.restart !== true) {
      this.#setAside(record, origin!, racedBy);
      return false;
    }
    const existing = this.records.get(record.lsn);
    if (existing !== undefined) {
      this.report.add(
        'lsn-two-records',
        `${what} got LSN ${fmt(record.lsn)}, which already names a ${existing.type} record (${existing.data.byteLength} bytes)`,
      );
      return true;
    }
    // Made before a truncation and placed after it (a restart record it cannot have dropped): LSNs after it are given again.
    if (racedBy !== undefined) knownAtCall = -1n;
    const floor = this.#floorFor(origin);
    if (record.lsn <= knownAtCall || record.lsn <= floor) {
      this.report.add(
        'lsn-order',
        `${what} got LSN ${fmt(record.lsn)}, not above ${fmt(knownAtCall > floor ? knownAtCall : floor)} (known when it was called / the recovered end)`,
      );
    }
    this.#insert(record);
    return true;
  }

  /**
   * What a record of `origin` must be above: the end the last truncation
   * made before its call left (in flight or done), else the recovered end
   * (none for a call made before a truncation that set the floor).
   */
  #floorFor(origin: RecordOrigin | undefined): bigint {
    if (origin === undefined) return this.floor;
    let floor: bigint | undefined;
    for (const t of this.#truncations) if (t.call < origin.call) floor = t.target;
    if (floor !== undefined) return floor;
    return origin.call < this.#floorCall ? -1n : this.floor;
  }

  #insert(record: ModelRecord): void {
    this.records.set(record.lsn, record);
    let i = this.lsns.length;
    while (i > 0 && this.lsns[i - 1]! > record.lsn) i--;
    this.lsns.splice(i, 0, record.lsn);
  }

  /** A record of a call made before truncation `by`, after its target: dropped by it, or placed after it (see addRecord). */
  #setAside(record: ModelRecord, origin: RecordOrigin, by: Truncation): void {
    const attempt = { call: origin.call, type: record.type, data: record.data, undoNextLsn: record.undoNextLsn };
    const full = { ...attempt, previousLsn: record.previousLsn };
    if (origin.deferrable || by.settled) {
      // Before it (dropped) or after it: either way an attempt of its call.
      this.attempts.set(origin.call, [...(this.attempts.get(origin.call) ?? []), full]);
    } else {
      // Before it: dropped when it resolves.
      by.setAside.push(record);
      this.attempts.set(by.call, [...(this.attempts.get(by.call) ?? []), { ...full, call: by.call }]);
    }
  }

  /**
   * The call-order rule: an area's appends get LSNs in its call order;
   * appends of different areas in theirs too, unless the earlier one's area
   * has a maxWriteBuffers (`mayWait`): an append waiting for one of its
   * area's buffers leaves the log's turn, and other areas' later appends go
   * first (the area's own later ones wait behind it). A call that may have
   * waited for room (`waits`: an area with logFullTimeoutMs, needing new
   * space) takes its turn when it gets room: later calls that do not wait
   * (appends into reservations, areas that fail at once) may go first;
   * calls that wait keep their order among themselves.
   */
  appendOrder(
    call: number,
    lsns: readonly bigint[],
    what: string,
    area = { index: -1, mayWait: false },
    waits = false,
  ): void {
    if (lsns.length === 0) return;
    const min = lsns.reduce((a, b) => (b < a ? b : a));
    const max = lsns.reduce((a, b) => (b > a ? b : a));
    for (let i = 1; i < lsns.length; i++) {
      if (lsns[i]! <= lsns[i - 1]!) this.report.add('lsn-order', `${what}: LSNs not increasing within the call`);
    }
    for (const other of this.#appendCalls) {
      const mine = { area: area.index, mayWait: area.mayWait, waits };
      const [earlier, later] = other.call < call ? [other, mine] : [mine, other];
      if (earlier.waits && !later.waits) continue;
      if (earlier.area !== later.area && earlier.mayWait) continue;
      if ((other.call < call && other.max >= min) || (other.call > call && other.min <= max)) {
        this.report.add(
          'lsn-order',
          `${what} (call ${call}) got ${fmt(min)}..${fmt(max)}; call ${other.call} got ${fmt(other.min)}..${fmt(other.max)}: not in call order`,
        );
        break;
      }
    }
    this.#appendCalls.push({ call, min, max, area: area.index, mayWait: area.mayWait, waits });
  }

  /**
   * Every record up to `bound` is durable. `call`: the call that says so.
   * A truncation in flight, or made after the call, may have dropped
   * records up to `bound` (and give their LSNs again): then only up to its
   * target.
   */
  acknowledge(bound: bigint, call?: number): void {
    for (const t of this.#truncations) {
      if ((!t.settled || (call !== undefined && call < t.call)) && t.target < bound) bound = t.target;
    }
    if (bound > this.ackBound) this.ackBound = bound;
  }

  isAcked(lsn: bigint): boolean {
    return lsn <= this.ackBound;
  }

  /** A base move was acknowledged (it is durable and the base cannot be older after any crash). */
  baseAcked(lsn: bigint): void {
    if (lsn > this.ackedBase) this.ackedBase = lsn;
    this.possibleBases.add(lsn);
  }

  /** The highest base any call so far may have set. */
  get maxPossibleBase(): bigint {
    let max = this.ackedBase;
    for (const b of this.possibleBases) if (b > max) max = b;
    return max;
  }

  /** Known records of the type filter, ascending, above `after`, below `before`. */
  recordsBetween(after: bigint, before: bigint, filter: 'data' | 'restart' | 'client'): ModelRecord[] {
    const out: ModelRecord[] = [];
    for (const lsn of this.lsns) {
      if (lsn <= after) continue;
      if (lsn >= before) break;
      const r = this.records.get(lsn)!;
      if (filter === 'client' || r.type === filter) out.push(r);
    }
    return out;
  }

  /**
   * A truncation to `lsn` was called (`call`): the records after it are set
   * aside as its attempts (reads racing it may still find them, or records
   * appended after it at their LSNs), nothing after it counts as
   * acknowledged, and appends made before it that resolve after its target
   * are set aside too (addRecord). endTruncate settles it.
   */
  beginTruncate(lsn: bigint, call: number): void {
    const setAside = this.lsns.filter((l) => l > lsn).map((l) => this.records.get(l)!);
    for (const r of setAside) this.records.delete(r.lsn);
    this.lsns.length -= setAside.length;
    const attempts = setAside.map((r) => ({ ...r, call }));
    if (attempts.length > 0) this.attempts.set(call, attempts);
    this.#truncations.push({ call, target: lsn, setAside, settled: false, ackBound: this.ackBound });
    if (this.ackBound > lsn) this.ackBound = lsn;
    // The call-order rule starts over after it (LSNs after it are given again).
    for (let i = this.#appendCalls.length - 1; i >= 0; i--) {
      if (this.#appendCalls[i]!.max > lsn) this.#appendCalls.splice(i, 1);
    }
  }

  /**
   * The truncation made by `call` settled: 'done' (resolved: what it set
   * aside is gone, everything up to its target acknowledged, later appends
   * above it), 'unknown' (failed with the log fail-stopped: the log may end
   * at its target or where it did, so what it set aside stays attempts), or
   * 'none' (refused: it dropped nothing, what it set aside is back).
   */
  endTruncate(call: number, outcome: 'done' | 'unknown' | 'none'): void {
    const t = this.#truncations.find((x) => x.call === call);
    if (t === undefined) return;
    t.settled = true;
    if (outcome === 'done') {
      this.dropped.push(...(this.attempts.get(call) ?? []));
      this.attempts.delete(call);
      this.acknowledge(t.target);
      if (call > this.#floorCall) [this.floor, this.#floorCall] = [t.target, call];
    } else if (outcome === 'none') {
      this.attempts.delete(call);
      for (const r of t.setAside) if (!this.records.has(r.lsn)) this.#insert(r);
      if (t.ackBound > this.ackBound) this.ackBound = t.ackBound;
      this.#truncations.splice(this.#truncations.indexOf(t), 1);
    }
  }

  /**
   * The call's record was placed, then dropped by a truncation in flight
   * before its flush resolved (ERR_CLFS_TRUNCATED): reads made meanwhile
   * may have found it, so its attempts go with that truncation's.
   */
  droppedByTruncation(call: number): void {
    const list = this.attempts.get(call);
    const by = this.#truncations.find((t) => !t.settled && call < t.call);
    if (list === undefined || by === undefined) return;
    this.attempts.delete(call);
    this.attempts.set(by.call, [...(this.attempts.get(by.call) ?? []), ...list.map((a) => ({ ...a, call: by.call }))]);
  }

  /** Whether a truncation is in flight. */
  get truncating(): boolean {
    return this.#truncations.some((t) => !t.settled);
  }

  /** The restart records known, ascending. */
  restartLsns(): bigint[] {
    return this.lsns.filter((l) => this.records.get(l)!.type === 'restart');
  }

  /** Every attempt not yet resolved to a record (for matching records the model has no LSN for). */
  openAttempts(): Attempt[] {
    return [...this.attempts.values()].flat();
  }

  /** A record with an LSN the model does not know: it must be an attempt's; that attempt is used up. */
  claimAttempt(record: ModelRecord): boolean {
    for (const [call, list] of this.attempts) {
      const i = list.findIndex(
        (a) =>
          a.type === record.type &&
          sameBytes(a.data, record.data) &&
          a.undoNextLsn === record.undoNextLsn &&
          (a.type === 'restart' || a.previousLsn === record.previousLsn),
      );
      if (i >= 0) {
        list.splice(i, 1);
        if (list.length === 0) this.attempts.delete(call);
        return true;
      }
    }
    return false;
  }

  // Reservations --------------------------------------------------------

  /** Queues a reservation-changing call of an area, in call order. */
  reservationCall(area: AreaReservation, call: number, label: string, changes: ReservationChange[]): ReservationCall {
    const entry: ReservationCall = { call, label, changes };
    area.queue.push(entry);
    return entry;
  }

  /**
   * A queued call settled: folds every settled call at the head of the
   * queue (call order) and checks each outcome against the reservation it
   * met. `current` reads the library's totals for the final comparison.
   */
  settleReservations(
    area: AreaReservation,
    current: () => { records: number; bytes: number } | undefined,
    name: string,
  ): void {
    while (area.queue.length > 0 && area.queue[0]!.outcome !== undefined) {
      const entry = area.queue.shift()!;
      const { ok, code } = entry.outcome!;
      let records = area.records;
      let bytes = area.bytes;
      let valid = true;
      for (const change of entry.changes) {
        switch (change.kind) {
          case 'reserve':
            records++;
            bytes += change.bytes;
            break;
          case 'alloc':
            records += change.count;
            bytes += change.bytes;
            break;
          case 'free':
          case 'use':
            if (records < 1 || bytes < change.bytes) valid = false;
            records--;
            bytes -= change.bytes;
            break;
          case 'freeMany':
            if (change.count > records || change.bytes > bytes) valid = false;
            records -= change.count;
            bytes -= change.bytes;
            break;
          case 'close':
            records = 0;
            bytes = 0;
            break;
        }
      }
      // No bytes stay reserved for no records (CLFS's reservations are records and their sizes).
      if (records <= 0) bytes = 0;
      if (area.uncertain) continue;
      if (ok && !valid) {
        this.report.add(
          'reservation',
          `${name}: ${entry.label} succeeded, but the area's reservation (${area.records} records, ${area.bytes} bytes) does not cover it`,
        );
      }
      if (!ok && code === 'ERR_CLFS_RESERVATION_INVALID' && valid) {
        this.report.add(
          'reservation',
          `${name}: ${entry.label} failed with ERR_CLFS_RESERVATION_INVALID, but the reservation (${area.records} records, ${area.bytes} bytes) covers it`,
        );
      }
      if (ok) {
        area.records = records;
        area.bytes = bytes;
      } else if (code === 'ERR_CLFS_IO_FAILED') {
        // It may have changed the reservation before the flush failed.
        area.uncertain = true;
      }
    }
    if (area.queue.length === 0 && !area.uncertain) {
      const now = current();
      if (now !== undefined && (now.records !== area.records || now.bytes !== area.bytes)) {
        this.report.add(
          'reservation',
          `${name}: the area reports ${now.records} records / ${now.bytes} bytes reserved; the calls made add up to ${area.records} records / ${area.bytes} bytes`,
        );
        area.records = now.records;
        area.bytes = now.bytes;
      }
    }
  }
}
