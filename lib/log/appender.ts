/**
 * The writing half of a marshalling area: its write buffers, its
 * reservation, and the appends it makes in its turn among the log's appends
 * (the area's public methods check arguments and call these). Reservation
 * arithmetic is reservations.ts's, room the space ledger's, placement the
 * writer's.
 * @module
 */
import { ClfsError } from '../errors.ts';
import { recordSpan } from '../format/block.ts';
import { Lsn, blockLsnOf, sequenceOf } from '../lsn.ts';
import { checkInteger } from '../validate.ts';
import { checkChainLsn, type AppendOptions } from './area-options.ts';
import type { BufferPool } from './buffer-pool.ts';
import type { LogCore } from './core.ts';
import { Reservation, largestOfAllocation, planReservation, reservationInvalid, reservedSize } from './reservations.ts';
import { packedBlockLengths } from './write/placement.ts';
import { AreaTurns } from './area-turns.ts';
import { NOT_IN_LINE, inLine, type InLine } from './space-waiters.ts';
import {
  LogWriter,
  NO_BUFFER,
  copySpec,
  copySpecs,
  dataLengthOf,
  type BufferOwner,
  type RecordSpec,
} from './write/writer.ts';

export class AreaAppender {
  readonly #core: LogCore;
  readonly #writes: BufferPool;
  readonly #flushIntervalMs: number;
  readonly #logFullTimeoutMs: number;
  /** Whether the area is closing or closed (the timer then does nothing). */
  readonly #stopped: () => boolean;
  /** What the writer takes this area's buffers through (its identity marks the area's blocks). */
  readonly owner: BufferOwner;
  readonly reservation = new Reservation();
  /** The area's turns among the log's appends (area-turns.ts). */
  readonly #turns: AreaTurns;
  #lastAppended: Lsn = Lsn.INVALID;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    core: LogCore,
    writes: BufferPool,
    timing: { flushIntervalMs: number; logFullTimeoutMs: number },
    stopped: () => boolean,
  ) {
    this.#core = core;
    this.#writes = writes;
    this.#flushIntervalMs = timing.flushIntervalMs;
    this.#logFullTimeoutMs = timing.logFullTimeoutMs;
    this.#stopped = stopped;
    this.#turns = new AreaTurns(core.writer, writes);
    this.owner = {
      bufferSize: writes.size,
      acquireWriteBuffer: () => writes.acquire(),
      tryAcquireWriteBuffer: () => writes.tryAcquire(),
      releaseWriteBuffer: (buffer) => writes.release(buffer),
    };
    core.space.register(this.reservation);
  }

  /** The largest record data the area's buffers take in the log's containers. */
  get maxRecordSize(): number {
    return LogWriter.maxDataLength(Math.min(this.owner.bufferSize, this.#core.table.containerSize));
  }

  /** Write buffers allocated now. */
  get buffersAllocated(): number {
    return this.#writes.allocated;
  }

  /** A record of `entries`, checked against the area's limits; copied if it must wait its turn. */
  spec(entries: readonly Uint8Array[], options: AppendOptions, type: 'data' | 'restart', newBaseLsn: Lsn): RecordSpec {
    const bufferSize = this.owner.bufferSize;
    const entryAlignment =
      options.entryAlignment === undefined
        ? 1
        : checkInteger('options.entryAlignment', options.entryAlignment, 1, bufferSize);
    const dataLength = dataLengthOf(entries, entryAlignment);
    const limit = this.maxRecordSize;
    if (dataLength > limit) {
      const containerSize = this.#core.table.containerSize;
      throw new ClfsError(
        'ERR_CLFS_RECORD_TOO_LARGE',
        `a record of ${dataLength} bytes does not fit: this area's ${bufferSize}-byte buffers${
          bufferSize > containerSize ? ` in the log's ${containerSize}-byte containers` : ''
        } take records of at most ${limit} bytes`,
        { limit, size: dataLength },
      );
    }
    const spec: RecordSpec = {
      type,
      entries,
      entryAlignment,
      dataLength,
      undoNextLsn: checkChainLsn('options.undoNextLsn', options.undoNextLsn),
      previousLsn: checkChainLsn('options.previousLsn', options.previousLsn),
      newBaseLsn,
    };
    // The caller may change its arrays while the append waits its turn.
    return this.#core.writer.contended ? copySpec(spec) : spec;
  }

  /**
   * Chain fields (previousLsn, undoNextLsn) must be INVALID or name a record
   * of the log older than the one appended: in [base, last appended], and,
   * where the writer knows the block without reading (the open block and
   * the last few thousand it sealed), a block starting there with a record
   * of that sequence. Older blocks are checked by range only: no read in an
   * append's turn. ERR_CLFS_INVALID_LSN otherwise.
   */
  #checkChains(spec: RecordSpec): void {
    if (spec.undoNextLsn === Lsn.INVALID && spec.previousLsn === Lsn.INVALID) return;
    const { writer, bases } = this.#core;
    const last = writer.lastLsn;
    for (const [name, lsn] of [
      ['undoNextLsn', spec.undoNextLsn],
      ['previousLsn', spec.previousLsn],
    ] as const) {
      if (lsn === Lsn.INVALID) continue;
      let why: string | undefined;
      if (last === Lsn.INVALID || lsn > last) why = 'must name an older record';
      else if (lsn < bases.baseLsn) why = `is below the base LSN ${Lsn.format(bases.baseLsn)}`;
      else if (sequenceOf(lsn) >= (writer.knownRecordCount(blockLsnOf(lsn)) ?? Infinity)) why = 'names no record';
      if (why !== undefined) {
        throw new ClfsError('ERR_CLFS_INVALID_LSN', `options.${name} ${Lsn.format(lsn)} ${why}`, { lsn });
      }
    }
  }

  /** Real (reserved) sizes of reservation changes given as data sizes (negative: free one record of exactly that real size). */
  realSizes(sizes: readonly number[]): number[] {
    if (sizes.length === 0) return [];
    return sizes.map((s) => Math.sign(s) * reservedSize(Math.abs(s), this.#core.unit));
  }

  /**
   * In the caller's turn among appends (`inTurn` checks the area is still
   * alive there): changes the reservation by `real` and appends `spec`, if
   * any, atomically. Resolves with the record's LSN; the caller then calls
   * afterAppend(). (No async function here: an append that finds the log
   * free runs synchronously and returns the LSN itself, no promise.) One
   * that needs a buffer the area cannot give now waits for it outside the
   * log's turn (area-turns.ts).
   */
  reserveAndAppend(
    spec: RecordSpec | undefined,
    real: readonly number[],
    useReservation: boolean,
    forceAppend: boolean,
    inTurn: () => void,
  ): Promise<Lsn | undefined> | Lsn | undefined {
    const needsRoom = (spec !== undefined && !useReservation) || real.some((size) => size > 0);
    if (!needsRoom || this.#logFullTimeoutMs === 0) {
      return this.#reserveAndAppend(spec, real, useReservation, forceAppend, inTurn, NOT_IN_LINE);
    }
    let taken = spec;
    return this.#waitingForRoom(
      (line) => this.#reserveAndAppend(taken, real, useReservation, forceAppend, inTurn, line),
      // A waiting append is made later: the caller may change its arrays once the call returned.
      () => taken !== undefined && (taken = copySpec(taken)),
    );
  }

  /**
   * With logFullTimeoutMs: `attempt`, and its retries while the log is full
   * (in line with every area's appends waiting for room); `take` copies the
   * caller's data when it starts to wait.
   */
  #waitingForRoom<T>(attempt: (line: InLine) => Promise<T> | T, take: () => unknown): Promise<T> {
    const manager = this.#core.spaceManager;
    return manager.waiters.run(this.owner, this.#logFullTimeoutMs, attempt, take, () => manager.logFull());
  }

  /** reserveAndAppend's turn (the same arguments). */
  #reserveAndAppend(
    ...[spec, real, useReservation, forceAppend, inTurn, line]: [
      ...Parameters<AreaAppender['reserveAndAppend']>,
      InLine,
    ]
  ): Promise<Lsn | undefined> | Lsn | undefined {
    const writer = this.#core.writer;
    // spec() copied the caller's arrays when the log's turn was contended.
    const owned = writer.contended;
    let record = spec;
    return this.#turns.append<Lsn | undefined>(
      inLine(inTurn, line, (spare) => {
        if (record !== undefined) this.#checkChains(record);
        const next = this.#plan(real, record, useReservation);
        if (record === undefined) return this.#appended(next, undefined, forceAppend);
        const appended = writer.appendOrDefer(this.owner, record, spare);
        if (appended === NO_BUFFER) return NO_BUFFER;
        return appended instanceof Promise
          ? appended.then((lsn) => (lsn === NO_BUFFER ? NO_BUFFER : this.#appended(next, lsn, forceAppend)))
          : this.#appended(next, appended, forceAppend);
      }),
      () => {
        if (!owned && record !== undefined) record = copySpec(record);
      },
    );
  }

  /** For the area's close: resolves once its appends waiting outside the log's turn have settled. */
  settled(): Promise<void> {
    return this.#turns.settled();
  }

  /** Runs `fn` in the log's turn after the area's appends waiting outside it (a restart area's append). */
  inOrder<T>(fn: () => Promise<T>): Promise<T> {
    return this.#turns.inOrder(fn);
  }

  /** An append's end, in its turn: the reservation becomes `next` (undefined: unchanged). */
  #appended(next: Reservation | undefined, appended: Lsn | undefined, forceAppend: boolean): Lsn | undefined {
    if (next !== undefined) {
      const freed = next.bytes < this.reservation.bytes;
      this.reservation.assign(next);
      if (freed) this.#core.spaceManager.waiters.wake();
    }
    if (appended !== undefined) this.#lastAppended = appended;
    if (forceAppend) this.#core.writer.forceAppend();
    return appended;
  }

  /** Appends `specs` (non-empty) in one turn, entirely or not at all. */
  appendBatch(specs: RecordSpec[], useReservation: boolean, forceAppend: boolean, inTurn: () => void): Promise<Lsn[]> {
    if (useReservation || this.#logFullTimeoutMs === 0)
      return this.#appendBatch(specs, useReservation, forceAppend, inTurn, NOT_IN_LINE);
    return this.#waitingForRoom(
      (line) => this.#appendBatch(specs, useReservation, forceAppend, inTurn, line),
      () => copySpecs(specs, 0),
    );
  }

  #appendBatch(
    specs: RecordSpec[],
    useReservation: boolean,
    forceAppend: boolean,
    inTurn: () => void,
    line: InLine,
  ): Promise<Lsn[]> {
    const { writer, bases, space, unit } = this.#core;
    // spec() copied the caller's arrays when the log's turn was contended.
    const owned = writer.contended;
    // A batch waits for buffers in its turn, so that it is appended entirely or not at all.
    return this.#turns.inOrder(
      inLine(inTurn, line, async () => {
        this.#checkChains(specs[0]!);
        // Check the whole batch first, so it is appended entirely or not at all.
        const next = this.reservation.copy();
        if (useReservation) {
          for (const spec of specs) {
            const size = reservedSize(spec.dataLength, unit);
            if (next.records < 1 || next.bytes < size) throw reservationInvalid(this.reservation, size);
            next.records--;
            next.bytes -= size;
          }
          next.settle();
        }
        const spans = specs.map((spec) => recordSpan(spec.dataLength, spec));
        const capacity = Math.min(this.owner.bufferSize, this.#core.table.containerSize);
        if (
          !useReservation &&
          !space.hasRoomFor({ blocks: packedBlockLengths(spans, capacity, unit), reserve: 0, largest: 0 })
        ) {
          throw this.#logFull();
        }
        // Every container the batch will reach exists before any record goes
        // in, so a container that cannot be had fails the batch, not half of it.
        const reach = writer.lastContainerFor(this.owner, spans);
        const first = writer.position.logicalId + 1;
        // The caller may change its arrays once the call has returned: take
        // them before waiting for containers.
        if (reach >= first) copySpecs(specs, 0);
        for (let id = first; id <= reach; id++) await bases.provideContainer(id);
        const out: Lsn[] = [];
        let owned = reach >= first;
        for (let i = 0; i < specs.length; i++) {
          const appended = writer.append(this.owner, specs[i]!);
          if (!(appended instanceof Promise)) {
            out.push(appended);
            continue;
          }
          // The batch waits (a write buffer): the records after this one are
          // taken now (this one the writer took).
          if (!owned) copySpecs(specs, i + 1);
          owned = true;
          out.push(await appended);
        }
        this.reservation.assign(next);
        this.#lastAppended = out[out.length - 1]!;
        if (forceAppend) writer.forceAppend();
        return out;
      }),
      () => {
        if (!owned) copySpecs(specs, 0);
      },
    );
  }

  /**
   * Appends a restart record (in the caller's turn, inside the base
   * manager's appendRestart, which supplies its previous LSN).
   */
  async appendRestart(spec: RecordSpec, useReservation: boolean): Promise<Lsn> {
    const next = this.#plan([], spec, useReservation);
    const pending = this.#core.writer.append(this.owner, spec);
    const appended = pending instanceof Promise ? await pending : pending;
    if (next !== undefined) this.reservation.assign(next);
    this.#lastAppended = appended;
    return appended;
  }

  /**
   * Reserves `count` records totalling `bytes` (in its turn; with
   * logFullTimeoutMs, waiting for room); bytes `count` records cannot take
   * are refused.
   */
  async allocate(count: number, bytes: number): Promise<void> {
    const unit = this.#core.unit;
    const [least, most] = [count * reservedSize(0, unit), count * reservedSize(this.maxRecordSize, unit)];
    if (bytes < least || bytes > most) {
      const why = `${count} records take between ${least} and ${most} reserved bytes (alignReservedLog's result)`;
      throw new ClfsError('ERR_CLFS_RESERVATION_INVALID', `${why}. Received ${bytes}`, { records: count, bytes });
    }
    if (this.#logFullTimeoutMs === 0) await this.#allocate(count, bytes, NOT_IN_LINE);
    else await this.#waitingForRoom((line) => this.#allocate(count, bytes, line), NOTHING);
    this.#core.spaceManager.checkTail();
  }

  #allocate(count: number, bytes: number, line: InLine): Promise<void> {
    return this.#turns.inOrder(
      inLine(NOTHING, line, () => {
        const largest = largestOfAllocation(count, bytes, this.#core.unit, this.maxRecordSize);
        if (!this.#core.space.hasRoomFor({ blocks: [], reserve: bytes, largest })) throw this.#logFull();
        this.reservation.records += count;
        this.reservation.bytes += bytes;
        this.reservation.largest = Math.max(this.reservation.largest, largest);
      }),
    );
  }

  /** Frees `count` reserved records totalling `bytes` (in its turn, after the area's earlier appends). */
  free(count: number, bytes: number): Promise<void> {
    return this.#turns.inOrder(() => {
      const r = this.reservation;
      if (count > r.records || bytes > r.bytes) {
        throw new ClfsError(
          'ERR_CLFS_RESERVATION_INVALID',
          `cannot free ${count} records / ${bytes} bytes: the area has ${r.records} records / ${r.bytes} bytes reserved`,
        );
      }
      r.records -= count;
      r.bytes -= bytes;
      r.settle();
      this.#core.spaceManager.waiters.wake();
    });
  }

  /**
   * Checks a reservation change (and the append it comes with) against the
   * reservation and the log's space; returns the area's reservation after
   * it, or undefined when it stays as it is.
   */
  #plan(real: readonly number[], spec: RecordSpec | undefined, useReservation: boolean): Reservation | undefined {
    const appendSize = spec === undefined ? undefined : reservedSize(spec.dataLength, this.#core.unit);
    if (appendSize !== undefined && real.length === 0 && !useReservation) {
      // The common case, planReservation's answer without its copies: the
      // record costs its reserved size in new space, the reservation stays.
      const request = { blocks: [appendSize], reserve: 0, largest: this.reservation.largest };
      if (!this.#core.space.hasRoomFor(request)) throw this.#logFull();
      return undefined;
    }
    const { cost, added, next } = planReservation(this.reservation, real, appendSize, useReservation);
    const request = { blocks: cost > 0 ? [cost] : [], reserve: Math.max(0, added), largest: next.largest };
    if ((cost > 0 || added > 0) && !this.#core.space.hasRoomFor(request)) throw this.#logFull();
    return next;
  }

  #logFull(): ClfsError {
    const { space, bases } = this.#core;
    const move = bases.heldBy() === 'base' ? 'advance the base' : 'archive and move the archive tail';
    return new ClfsError(
      'ERR_CLFS_LOG_FULL',
      `the log has no room for this without eating into reservations (${space.totalReservation()} bytes reserved, ${space.currentAvailable()} available). Free reservations, ${move}, or add containers`,
    );
  }

  /**
   * After an append of records up to `lsn`: with `forceFlush`, the flush to
   * wait for (resolving with `result`); else the flush timer is made sure to
   * run (and nothing to wait).
   */
  afterAppend<T extends object>(lsn: Lsn, forceFlush: boolean, result: T): Promise<T> | undefined {
    this.#core.spaceManager.checkTail();
    if (forceFlush) return this.#core.writer.flushWith(lsn, result);
    this.#armTimer();
    return undefined;
  }

  /** Appended records are written at least every flushIntervalMs even if nobody asks. */
  #armTimer(): void {
    if (this.#flushIntervalMs === 0 || this.#timer !== undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#stopped() || this.#core.writer.failure !== undefined) return;
      this.#core.writer.flush(this.#lastAppended).catch(() => undefined);
    }, this.#flushIntervalMs);
    this.#timer.unref();
  }

  /** For the area's close, first: the flush timer stops, and its appends waiting for room are refused. */
  stopTimer(): void {
    const closed = new ClfsError('ERR_CLFS_CLOSED', 'the marshalling area is closed');
    this.#core.spaceManager.waiters.reject(closed, this.owner);
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** For the area's close: flushes what the area appended (unless the log fail-stopped). */
  async flushForClose(): Promise<void> {
    if (this.#lastAppended !== Lsn.INVALID && this.#core.writer.failure === undefined) {
      await this.#core.writer.flush(this.#lastAppended);
    }
  }

  /** For the area's close, last: the open block if it is the area's, the buffers, the reservation. */
  release(): unknown {
    // Only this area's own open block, if any: another area's records are
    // not this close's to drop.
    this.#core.writer.releaseOwner(this.owner);
    const failure = this.#writes.drain();
    this.reservation.assign(new Reservation());
    this.#core.space.forget(this.reservation);
    this.#core.spaceManager.waiters.wake();
    return failure;
  }
}

const NOTHING = (): void => undefined;
