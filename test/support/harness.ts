// The harness the crash and I/O-error tiers drive their workloads with
// (test/support/workloads.ts): a log over a MemoryStorage that completes
// requests in a seeded order and, given a fault plan, fails the Nth write,
// sync, metadata write or container creation. Every operation's outcome and
// every record tried is kept outside the files under test, with the storage
// event count at which its flush was acknowledged: the crash tier replays
// the events (recording()), the I/O-error tier checks the run
// (faults-memory.ts). An operation that rejects is recorded, never thrown.
import { ClfsError } from '../../lib/errors.ts';
import { Log } from '../../lib/log/log.ts';
import type {
  AppendOptions,
  Entries,
  MarshallingArea,
  MarshallingAreaOptions,
} from '../../lib/log/marshalling-area.ts';
import type { LogPolicy } from '../../lib/log/policy.ts';
import { Lsn } from '../../lib/lsn.ts';
import type { Durability } from '../../lib/native/direct-file.ts';
import {
  MemoryStorage,
  copyImage,
  emptyImage,
  type FaultAction,
  type FaultRequest,
  type MemoryImage,
  type StorageEvent,
} from '../../lib/storage/memory-storage.ts';
import { prng } from './random.ts';

/** The log a workload runs on. */
export interface LogShape {
  durability: Durability;
  containerSize: number;
  containers: number;
  maxContainers?: number;
  /** An archive log (`Log.create({ archive: true })`). */
  archive?: boolean;
}

export interface RunOptions extends LogShape {
  seed: number;
}

import type { FaultPlan } from './fault-plan.ts';

export type { FaultKind, FaultOp, FaultPlan } from './fault-plan.ts';

export function describePlan(plan: FaultPlan): string {
  return `${plan.kind} on ${plan.op} #${plan.n}${plan.persistent ? ' and every later one' : ' once'}`;
}

/** An error like the native layer's for the same failure. */
function injectedError(plan: FaultPlan): ClfsError {
  const code = plan.kind === 'ENOSPC' ? 'ENOSPC' : 'EIO';
  const syscall = plan.op === 'sync' ? 'fdatasync' : plan.op === 'add' ? 'fallocate' : 'pwritev';
  return new ClfsError(code, `${code}: injected fault (${describePlan(plan)}), ${syscall}`, {
    errno: code === 'ENOSPC' ? -28 : -5,
    syscall,
  });
}

/** The first four bytes of a record the harness made up (then its attempt id). */
export const MAGIC = 0x46415554; // 'FAUT'
const FIRST_LSN = Lsn.create(1, 0, 0);

/** A record some operation tried to append. */
export interface Attempt {
  id: number;
  type: 'data' | 'restart';
  data: Uint8Array;
  /** Known once its operation resolved. */
  lsn?: Lsn;
  previousLsn: Lsn;
  undoNextLsn: Lsn;
  op?: OpRecord;
  /** Storage events seen when its flush was acknowledged (Infinity: never). */
  ackedAt: number;
  /** The area that appended it (restart records: undefined). */
  area?: MarshallingArea;
  /** Truncations called before it was (its place in the log's history). */
  generation: number;
}

/** A truncation (area.truncateLog): storage events seen when called, and when it resolved (Infinity: never). */
export interface RecordedTruncation {
  lsn: Lsn;
  startedAt: number;
  ackedAt: number;
}

export interface OpRecord {
  kind: string;
  /** Its resolution acknowledges records (a flush). */
  flushing: boolean;
  startedAfterFailure: boolean;
  status: 'pending' | 'resolved' | 'rejected';
  error?: unknown;
  /** Resolved flushes: every record up to here is acknowledged. */
  target?: Lsn;
}

/** A record as appended, with when its flush was acknowledged (for the crash tier). */
export interface RecordedRecord {
  lsn: Lsn;
  type: 'data' | 'restart';
  data: Uint8Array;
  undoNextLsn: Lsn;
  previousLsn: Lsn;
  /** Storage events seen when its flush was acknowledged (Infinity: never). */
  ackedAt: number;
  /** The area that appended it (restart records: undefined). */
  area?: MarshallingArea;
  /** Truncations called before it was appended (absent: 0). */
  generation?: number;
}

export interface RecordedRun {
  name: string;
  options: RunOptions;
  /** The files when recording began (a new, empty log). */
  initial: MemoryImage;
  events: StorageEvent[];
  /** Every record appended, in LSN order. */
  records: RecordedRecord[];
  /** Base LSNs set, with the event count at which each move was acknowledged. */
  bases: { lsn: Lsn; ackedAt: number }[];
  /** Largest marshalling buffer used (readers need one as large). */
  bufferSize: number;
  /** Truncations, in call order (absent: none). */
  truncations?: RecordedTruncation[];
  /**
   * Archive tails set (the first: the new log's), with the event count at
   * which each was acknowledged (absent: an ephemeral log).
   */
  archiveTails?: { lsn: Lsn; ackedAt: number }[];
  /**
   * The log's space states (policy and container count) a workload set with
   * setPolicy / removeContainers, the first as it was before; empty when it
   * set none. A crash leaves one set at or after the newest acknowledged.
   */
  space: SpaceState[];
}

/** A policy and container count, and the event count at which the change that made them was acknowledged. */
export interface SpaceState {
  policy: LogPolicy;
  containers: number;
  ackedAt: number;
}

const none = (lsn: Lsn): bigint => (lsn === Lsn.INVALID ? -1n : lsn);

function concat(entries: Exclude<Entries, null>): Uint8Array {
  if (entries instanceof Uint8Array) return entries.slice();
  const out = new Uint8Array(entries.reduce((n, e) => n + e.byteLength, 0));
  let at = 0;
  for (const e of entries) {
    out.set(e, at);
    at += e.byteLength;
  }
  return out;
}

/** Drives a workload over a MemoryStorage (faulty, given a plan) and records everything outside the log. */
export class LogHarness {
  readonly options: RunOptions;
  readonly plan: FaultPlan | undefined;
  readonly random: () => number;
  readonly storage: MemoryStorage;
  readonly initial: MemoryImage;
  readonly error: ClfsError | undefined;
  log: Log | undefined;
  /** Requests failed. */
  injections = 0;
  /** The durable LSN when the first fault was injected. */
  durableAtFault: bigint | undefined;
  /** Blocks whose write failed. */
  readonly failedBlocks: Lsn[] = [];
  readonly ops: OpRecord[] = [];
  readonly attempts: Attempt[] = [];
  readonly wantedBases = new Set<Lsn>([FIRST_LSN]);
  ackedBase: Lsn = FIRST_LSN;
  ackedRestart: Lsn = Lsn.NULL;
  /** Base LSNs set, with the event count at which each move was acknowledged. */
  readonly bases: { lsn: Lsn; ackedAt: number }[] = [];
  readonly truncations: RecordedTruncation[] = [];
  readonly areas: MarshallingArea[] = [];
  /** Largest marshalling buffer used. */
  bufferSize = 0;
  readonly space: SpaceState[] = [];
  /** Archive tails set (archive logs), with the event count at which each was acknowledged. */
  readonly archiveTails: { lsn: Lsn; ackedAt: number }[] = [];

  private constructor(options: RunOptions, plan: FaultPlan | undefined, initial: MemoryImage) {
    this.options = options;
    this.plan = plan;
    this.random = prng(options.seed);
    this.initial = initial;
    this.error = plan === undefined ? undefined : injectedError(plan);
    this.storage = new MemoryStorage(copyImage(initial), {
      durability: options.durability,
      random: this.random,
      maxDelay: 3,
      fault: (request) => this.#fault(request),
    });
  }

  /** Formats a new log (without faults), then opens it on the storage under test. */
  static async start(shape: LogShape, seed: number, plan?: FaultPlan): Promise<LogHarness> {
    const image = emptyImage();
    for (let i = 0; i < shape.containers; i++) image.containers.push(new Uint8Array(shape.containerSize));
    const setup = new MemoryStorage(image, { durability: shape.durability });
    await Log.initializeStorage(
      setup,
      shape.containerSize,
      shape.containers,
      shape.maxContainers ?? 0,
      shape.archive ?? false,
    );
    const h = new LogHarness({ ...shape, seed }, plan, copyImage(image));
    if (shape.archive === true) h.archiveTails.push({ lsn: FIRST_LSN, ackedAt: 0 });
    h.log = await h.#track('open', false, () => Log.openStorage('memory', h.storage, 'strict'));
    h.bases.push({ lsn: h.log?.information().baseLsn ?? FIRST_LSN, ackedAt: 0 });
    return h;
  }

  #fault(request: FaultRequest): Error | FaultAction | undefined {
    const plan = this.plan;
    if (plan === undefined || request.op !== plan.op) return undefined;
    if (request.n < plan.n || (!plan.persistent && request.n !== plan.n)) return undefined;
    this.injections++;
    this.durableAtFault ??= this.log === undefined ? -1n : none(this.log.core.writer.durableLsn);
    if (request.op === 'write' && this.log !== undefined) {
      const logical = this.log.core.table.logicalIds[request.file as number]!;
      this.failedBlocks.push(Lsn.create(logical, request.offset, 0));
    }
    const error = this.error!;
    if (plan.kind === 'ENOSPC') return error;
    if (plan.kind === 'EIO' || request.length === 0) return { error, delayed: true };
    // A short write: some of its sectors land (never all), then the error.
    const sectors = request.length / 512;
    return { error, landed: 512 * (1 + ((request.n * 7) % Math.max(1, sectors - 1))) };
  }

  /** Marks every record now durable as acknowledged (a flush resolved). */
  #acknowledge(): void {
    const durable = this.log?.core.writer.durableLsn ?? Lsn.INVALID;
    if (durable === Lsn.INVALID) return;
    const at = this.storage.events.length;
    for (const a of this.attempts)
      if (a.lsn !== undefined && a.lsn <= durable && a.ackedAt === Infinity && !this.#dropped(a)) a.ackedAt = at;
  }

  /** Whether a truncation called after `a` was appended dropped it (its LSN may name a newer record now). */
  #dropped(a: Attempt): boolean {
    return this.truncations.slice(a.generation).some((t) => a.lsn! > t.lsn);
  }

  /** Runs `start` as one operation and records its outcome; never rejects. */
  async #track<T>(
    kind: string,
    flushing: boolean,
    start: () => Promise<T>,
    targetOf?: (value: T) => Lsn | undefined,
    attempts: Attempt[] = [],
  ): Promise<T | undefined> {
    const op: OpRecord = {
      kind,
      flushing,
      startedAfterFailure: this.log?.core.writer.failure !== undefined,
      status: 'pending',
    };
    for (const a of attempts) a.op = op;
    this.ops.push(op);
    try {
      const value = await start();
      op.status = 'resolved';
      op.target = targetOf?.(value);
      if (flushing) this.#acknowledge();
      return value;
    } catch (error) {
      op.status = 'rejected';
      op.error = error;
      return undefined;
    }
  }

  /** A record to try: `data` as given, or `size` bytes made up (MAGIC, the attempt id, seeded bytes). */
  #attempt(type: 'data' | 'restart', data: Exclude<Entries, null> | number, options: AppendOptions = {}): Attempt {
    const id = this.attempts.length;
    let bytes: Uint8Array;
    if (typeof data === 'number') {
      bytes = new Uint8Array(Math.max(8, data));
      const view = new DataView(bytes.buffer);
      view.setUint32(0, MAGIC);
      view.setUint32(4, id);
      for (let i = 8; i < bytes.length; i++) bytes[i] = Math.floor(this.random() * 256);
    } else {
      bytes = concat(data);
    }
    const attempt: Attempt = {
      id,
      type,
      data: bytes,
      previousLsn: options.previousLsn ?? Lsn.INVALID,
      undoNextLsn: options.undoNextLsn ?? Lsn.INVALID,
      ackedAt: Infinity,
      generation: this.truncations.length,
    };
    this.attempts.push(attempt);
    return attempt;
  }

  /** The attempt a recovered record's bytes name (records the harness made up), if any. */
  attemptOf(data: Uint8Array): Attempt | undefined {
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    if (data.byteLength >= 8 && view.getUint32(0) === MAGIC) return this.attempts[view.getUint32(4)];
    // Bytes a workload gave: the attempt holding the same bytes (payload() tags make them unique).
    const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    return this.attempts.find((a) => bytes.equals(a.data));
  }

  /** The youngest record whose LSN is known (and that no truncation dropped). */
  newestKnown(): Lsn | undefined {
    let newest: Lsn | undefined;
    for (const a of this.attempts)
      if (a.lsn !== undefined && !this.#dropped(a) && (newest === undefined || a.lsn > newest)) newest = a.lsn;
    return newest;
  }

  /** A size in [min, max]. */
  size(min: number, max: number): number {
    return min + Math.floor(this.random() * (max - min + 1));
  }

  /** A marshalling area (no flush timer unless asked for). */
  async area(options: Partial<MarshallingAreaOptions> & { bufferSize: number }): Promise<MarshallingArea> {
    if (this.log === undefined) throw new Error('the harness has no open log');
    const area = await this.log.createMarshallingArea({ flushIntervalMs: 0, ...options });
    this.areas.push(area);
    this.bufferSize = Math.max(this.bufferSize, area.bufferSize);
    return area;
  }

  /** reserveAndAppend of `entries` (or of `size` made-up bytes; null: reservations only). */
  append(area: MarshallingArea, entries: Entries | number, options: AppendOptions = {}): Promise<Lsn | undefined> {
    if (entries === null) {
      return this.#track('reserve', false, async () => (await area.reserveAndAppend(null, options)).lsn);
    }
    const a = this.#attempt('data', entries, options);
    a.area = area;
    const flushing = options.forceFlush === true;
    return this.#track(
      flushing ? 'append+flush' : 'append',
      flushing,
      async () => {
        const { lsn } = await area.reserveAndAppend(typeof entries === 'number' ? a.data : entries, options);
        a.lsn = lsn;
        return lsn;
      },
      (lsn) => (flushing ? lsn : undefined),
      [a],
    );
  }

  /** appendBatch of `records` (each given, or a size of made-up bytes). */
  batch(
    area: MarshallingArea,
    records: (Uint8Array | number)[],
    options: Omit<AppendOptions, 'reservations'> = {},
  ): Promise<Lsn[] | undefined> {
    const list = records.map((r) => Object.assign(this.#attempt('data', r, options), { area }));
    const flushing = options.forceFlush === true;
    return this.#track(
      flushing ? 'batch+flush' : 'batch',
      flushing,
      async () => {
        const lsns = await area.appendBatch(
          list.map((a) => a.data),
          options,
        );
        lsns.forEach((lsn, i) => (list[i]!.lsn = lsn));
        return lsns;
      },
      (lsns) => (flushing ? lsns[lsns.length - 1] : undefined),
      list,
    );
  }

  flush(area: MarshallingArea, lsn?: Lsn): Promise<Lsn | undefined> {
    const target = lsn ?? this.newestKnown();
    return this.#track(
      'flush',
      true,
      () => area.flushToLsn(lsn),
      () => target,
    );
  }

  /** writeRestartArea of `data` (or of `size` made-up bytes), moving the base to `newBaseLsn` if given. */
  restart(area: MarshallingArea, data: Uint8Array | number, newBaseLsn?: Lsn): Promise<Lsn | undefined> {
    const a = this.#attempt('restart', data);
    a.previousLsn = this.log?.core.bases.restartAppended ?? Lsn.INVALID;
    if (newBaseLsn !== undefined) this.wantedBases.add(newBaseLsn);
    return this.#track(
      'restart',
      true,
      async () => {
        const { lsn } = await area.writeRestartArea(a.data, newBaseLsn === undefined ? {} : { newBaseLsn });
        a.lsn = lsn;
        if (lsn > this.ackedRestart) this.ackedRestart = lsn;
        if (newBaseLsn !== undefined) this.#baseMoved(newBaseLsn);
        return lsn;
      },
      (lsn) => lsn,
      [a],
    );
  }

  /** advanceLogBase to `lsn` (nothing when it is undefined). */
  advance(area: MarshallingArea, lsn: Lsn | undefined): Promise<void> {
    if (lsn === undefined) return Promise.resolve();
    this.wantedBases.add(lsn);
    return this.#track(
      'advance',
      true,
      async () => {
        await area.advanceLogBase(lsn);
        this.#baseMoved(lsn);
      },
      () => lsn,
    ).then(() => undefined);
  }

  /** log.setPolicy(update), its outcome recorded. */
  setPolicy(update: Partial<LogPolicy>): Promise<void> {
    return this.#spaceChange('policy', (log) => log.setPolicy(update));
  }

  /** log.removeContainers(count), its outcome recorded. */
  removeContainers(count: number): Promise<void> {
    return this.#spaceChange('remove', (log) => log.removeContainers(count));
  }

  async #spaceChange(kind: string, change: (log: Log) => Promise<void>): Promise<void> {
    const log = this.log!;
    const state = (ackedAt: number): SpaceState => ({
      policy: log.policy(),
      containers: log.information().totalContainers,
      ackedAt,
    });
    if (this.space.length === 0) this.space.push(state(0));
    await this.#track(kind, false, async () => {
      await change(log);
      this.space.push(state(this.storage.events.length));
    });
  }

  /**
   * truncateLog to `lsn`. Workloads call it with nothing else in flight:
   * records appended before it are of the generation before, those after
   * it of the next (RecordedRecord.generation).
   */
  truncate(area: MarshallingArea, lsn: Lsn): Promise<void> {
    const t: RecordedTruncation = { lsn, startedAt: this.storage.events.length, ackedAt: Infinity };
    this.truncations.push(t);
    return this.#track('truncate', false, async () => {
      await area.truncateLog(lsn);
      t.ackedAt = this.storage.events.length;
    }).then(() => undefined);
  }

  /** log.setArchiveTail(lsn), recorded once acknowledged. */
  setArchiveTail(lsn: Lsn): Promise<void> {
    return this.#track('archive-tail', false, async () => {
      await this.log!.setArchiveTail(lsn);
      this.archiveTails.push({ lsn, ackedAt: this.storage.events.length });
    }).then(() => undefined);
  }

  #baseMoved(lsn: Lsn): void {
    if (lsn > this.ackedBase) this.ackedBase = lsn;
    this.bases.push({ lsn, ackedAt: this.storage.events.length });
  }

  /** Closes and reopens the log on the same storage (a clean restart). */
  async reopen(): Promise<void> {
    await this.#close();
    this.storage.reopen();
    this.log = await this.#track('open', false, () => Log.openStorage('memory', this.storage, 'strict'));
  }

  /** A close that starts on a healthy log promises everything appended is durable: it counts as a flush. */
  async #close(): Promise<void> {
    const log = this.log;
    if (log === undefined) return;
    const target = this.newestKnown();
    await this.#track(
      'close',
      log.core.writer.failure === undefined,
      () => log.close(),
      () => target,
    );
  }

  /**
   * After the workload: once the log has failed, one of each operation
   * (they must all reject); then close.
   */
  async finish(): Promise<void> {
    const log = this.log;
    if (log === undefined) return;
    const area = this.areas[this.areas.length - 1];
    if (log.core.writer.failure !== undefined && area !== undefined) {
      const known = this.newestKnown();
      await this.append(area, 40);
      await this.append(area, 40, { forceFlush: true });
      await this.batch(area, [30, 30], { forceFlush: true });
      await this.flush(area);
      await this.restart(area, 30);
      if (known !== undefined) await this.advance(area, known);
    }
    await this.#close();
  }

  /** The run as the crash tier replays it: the events, and every record appended, in LSN order. */
  recording(name: string): RecordedRun {
    const records = this.attempts
      .filter((a): a is Attempt & { lsn: Lsn } => a.lsn !== undefined)
      .map((a) => ({
        lsn: a.lsn,
        type: a.type,
        data: a.data,
        undoNextLsn: a.undoNextLsn,
        previousLsn: a.previousLsn,
        ackedAt: a.ackedAt,
        generation: a.generation,
      }))
      .sort((a, b) => (a.lsn < b.lsn ? -1 : a.lsn > b.lsn ? 1 : 0));
    return {
      name,
      options: this.options,
      initial: this.initial,
      events: this.storage.events,
      records,
      bases: this.bases,
      bufferSize: this.bufferSize,
      space: this.space,
      truncations: this.truncations,
      ...(this.archiveTails.length > 0 ? { archiveTails: this.archiveTails } : {}),
    };
  }
}
