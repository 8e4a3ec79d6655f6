// The I/O-error tier over the in-memory storage (RELIABILITY.md tier 3,
// after SQLite's I/O-error tests): a workload runs on a MemoryStorage whose
// fault hook fails the Nth write, sync, metadata write or container
// creation (once, or from N on) with EIO, ENOSPC or a short write; every
// operation's outcome is recorded outside the log, and the run is checked:
// - I6: the log fail-stops: the failing flush and every pending and later
//   operation reject with ERR_CLFS_IO_FAILED whose cause is the injected
//   error, and nothing not durable is acknowledged (no flush resolves for a
//   record at or after a block whose write failed, nor after a failed sync);
// - I1-I4 on reopening: the files as they are (a new MemoryStorage over the
//   same image, no faults) and as a power cut would leave them (only durable
//   writes) recover every acknowledged record, as a prefix of what was
//   appended; a second recovery reads the same; appends continue.
import { ClfsError } from '../../lib/errors.ts';
import { Log } from '../../lib/log/log.ts';
import type { AppendOptions, MarshallingArea } from '../../lib/log/marshalling-area.ts';
import { Lsn } from '../../lib/lsn.ts';
import type { Durability } from '../../lib/native/direct-file.ts';
import {
  MemoryStorage,
  copyImage,
  emptyImage,
  type FaultAction,
  type FaultRequest,
  type MemoryImage,
} from '../../lib/storage/memory-storage.ts';
import { durableImage, stateAt } from '../crash/images.ts';
import { type RecordedRun } from '../crash/run.ts';
import { prng } from './fixtures.ts';

export type FaultOp = 'write' | 'sync' | 'metadata' | 'add';
/** EIO on completion; ENOSPC at submission; a short write: part of the data lands, then EIO. */
export type FaultKind = 'EIO' | 'ENOSPC' | 'short';

export interface FaultPlan {
  op: FaultOp;
  /** The request (1-based, counted per op) that fails first. */
  n: number;
  kind: FaultKind;
  /** Fail every request of the op from the Nth on (else only the Nth). */
  persistent: boolean;
}

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

const MAGIC = 0x46415554; // 'FAUT'
const FIRST_LSN = Lsn.create(1, 0, 0);

/** A record some operation tried to append. */
interface Attempt {
  id: number;
  type: 'data' | 'restart';
  data: Uint8Array;
  /** Known once its operation resolved. */
  lsn?: Lsn;
  previousLsn: Lsn;
  undoNextLsn: Lsn;
  op?: OpRecord;
}

interface OpRecord {
  kind: string;
  /** Its resolution acknowledges records (a flush). */
  flushing: boolean;
  startedAfterFailure: boolean;
  status: 'pending' | 'resolved' | 'rejected';
  error?: unknown;
  /** Resolved flushes: every record up to here is acknowledged. */
  target?: Lsn;
}

export interface MemoryWorkload {
  name: string;
  durability: Durability;
  containerSize: number;
  containers: number;
  maxContainers?: number;
  run(h: FaultHarness): Promise<void>;
}

interface Recovered {
  base: Lsn;
  restartLsn: Lsn;
  records: { lsn: Lsn; type: 'data' | 'restart'; data: Uint8Array; previousLsn: Lsn; undoNextLsn: Lsn }[];
}

const none = (lsn: Lsn): bigint => (lsn === Lsn.INVALID ? -1n : lsn);
const fmt = (lsn: Lsn | undefined): string => (lsn === undefined ? '?' : Lsn.format(lsn));

/** Drives a workload over a faulty MemoryStorage and records everything outside the log. */
export class FaultHarness {
  readonly workload: MemoryWorkload;
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
  readonly areas: MarshallingArea[] = [];

  private constructor(workload: MemoryWorkload, plan: FaultPlan | undefined, seed: number, initial: MemoryImage) {
    this.workload = workload;
    this.plan = plan;
    this.random = prng(seed);
    this.initial = initial;
    this.error = plan === undefined ? undefined : injectedError(plan);
    this.storage = new MemoryStorage(copyImage(initial), {
      durability: workload.durability,
      random: this.random,
      maxDelay: 3,
      fault: (request) => this.#fault(request),
    });
  }

  /** Formats a new log (without faults), then opens it on the faulty storage. */
  static async start(workload: MemoryWorkload, plan: FaultPlan | undefined, seed: number): Promise<FaultHarness> {
    const image = emptyImage();
    for (let i = 0; i < workload.containers; i++) image.containers.push(new Uint8Array(workload.containerSize));
    const setup = new MemoryStorage(image, { durability: workload.durability });
    await Log.initializeStorage(setup, workload.containerSize, workload.containers, workload.maxContainers ?? 0);
    const h = new FaultHarness(workload, plan, seed, copyImage(image));
    h.log = await h.#track('open', false, () => Log.openStorage('memory', h.storage, 'strict'));
    return h;
  }

  #fault(request: FaultRequest): Error | FaultAction | undefined {
    const plan = this.plan;
    if (plan === undefined || request.op !== plan.op) return undefined;
    if (request.n < plan.n || (!plan.persistent && request.n !== plan.n)) return undefined;
    this.injections++;
    this.durableAtFault ??= this.log === undefined ? -1n : none(this.log.writer.durableLsn);
    if (request.op === 'write' && this.log !== undefined) {
      const logical = this.log.table.logicalIds[request.file as number]!;
      this.failedBlocks.push(Lsn.create(logical, request.offset, 0));
    }
    const error = this.error!;
    if (plan.kind === 'ENOSPC') return error;
    if (plan.kind === 'EIO' || request.length === 0) return { error, delayed: true };
    // A short write: some of its sectors land (never all), then the error.
    const sectors = request.length / 512;
    return { error, landed: 512 * (1 + ((request.n * 7) % Math.max(1, sectors - 1))) };
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
      startedAfterFailure: this.log?.writer.failure !== undefined,
      status: 'pending',
    };
    for (const a of attempts) a.op = op;
    this.ops.push(op);
    try {
      const value = await start();
      op.status = 'resolved';
      op.target = targetOf?.(value);
      return value;
    } catch (error) {
      op.status = 'rejected';
      op.error = error;
      return undefined;
    }
  }

  #attempt(type: 'data' | 'restart', size: number, options: AppendOptions = {}): Attempt {
    const id = this.attempts.length;
    const data = new Uint8Array(Math.max(8, size));
    const view = new DataView(data.buffer);
    view.setUint32(0, MAGIC);
    view.setUint32(4, id);
    for (let i = 8; i < data.length; i++) data[i] = Math.floor(this.random() * 256);
    const attempt: Attempt = {
      id,
      type,
      data,
      previousLsn: options.previousLsn ?? Lsn.INVALID,
      undoNextLsn: options.undoNextLsn ?? Lsn.INVALID,
    };
    this.attempts.push(attempt);
    return attempt;
  }

  /** The youngest record whose LSN is known. */
  #newestKnown(): Lsn | undefined {
    let newest: Lsn | undefined;
    for (const a of this.attempts) if (a.lsn !== undefined && (newest === undefined || a.lsn > newest)) newest = a.lsn;
    return newest;
  }

  /** A size in [min, max]. */
  size(min: number, max: number): number {
    return min + Math.floor(this.random() * (max - min + 1));
  }

  async area(options: Parameters<Log['createMarshallingArea']>[0]): Promise<MarshallingArea | undefined> {
    if (this.log === undefined) return undefined;
    const area = await this.log.createMarshallingArea({ flushIntervalMs: 0, ...options });
    this.areas.push(area);
    return area;
  }

  append(area: MarshallingArea, size: number, options: AppendOptions = {}): Promise<Lsn | undefined> {
    const a = this.#attempt('data', size, options);
    const flushing = options.forceFlush === true;
    return this.#track(
      flushing ? 'append+flush' : 'append',
      flushing,
      async () => {
        const { lsn } = await area.reserveAndAppend(a.data, options);
        a.lsn = lsn;
        return lsn;
      },
      (lsn) => (flushing ? lsn : undefined),
      [a],
    );
  }

  batch(
    area: MarshallingArea,
    sizes: number[],
    options: Omit<AppendOptions, 'reservations'> = {},
  ): Promise<Lsn[] | undefined> {
    const list = sizes.map((s) => this.#attempt('data', s, options));
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
    const target = lsn ?? this.#newestKnown();
    return this.#track(
      'flush',
      true,
      () => area.flushToLsn(lsn),
      () => target,
    );
  }

  restart(area: MarshallingArea, size: number, newBaseLsn?: Lsn): Promise<Lsn | undefined> {
    const a = this.#attempt('restart', size);
    if (newBaseLsn !== undefined) this.wantedBases.add(newBaseLsn);
    return this.#track(
      'restart',
      true,
      async () => {
        const { lsn } = await area.writeRestartArea(a.data, newBaseLsn === undefined ? {} : { newBaseLsn });
        a.lsn = lsn;
        if (lsn > this.ackedRestart) this.ackedRestart = lsn;
        if (newBaseLsn !== undefined && newBaseLsn > this.ackedBase) this.ackedBase = newBaseLsn;
        return lsn;
      },
      (lsn) => lsn,
      [a],
    );
  }

  advance(area: MarshallingArea, lsn: Lsn | undefined): Promise<void> {
    if (lsn === undefined) return Promise.resolve();
    this.wantedBases.add(lsn);
    return this.#track(
      'advance',
      true,
      async () => {
        await area.advanceLogBase(lsn);
        if (lsn > this.ackedBase) this.ackedBase = lsn;
      },
      () => lsn,
    ).then(() => undefined);
  }

  /**
   * After the workload: once the log has failed, one of each operation
   * (they must all reject); then close. A close that starts on a healthy
   * log promises everything appended is durable: it counts as a flush.
   */
  async finish(): Promise<void> {
    const log = this.log;
    if (log === undefined) return;
    const area = this.areas[this.areas.length - 1];
    if (log.writer.failure !== undefined && area !== undefined) {
      const known = this.#newestKnown();
      await this.append(area, 40);
      await this.append(area, 40, { forceFlush: true });
      await this.batch(area, [30, 30], { forceFlush: true });
      await this.flush(area);
      await this.restart(area, 30);
      if (known !== undefined) await this.advance(area, known);
    }
    const healthy = log.writer.failure === undefined;
    const target = this.#newestKnown();
    await this.#track(
      'close',
      healthy,
      () => log.close(),
      () => target,
    );
  }

  /** Checks the run (I6) and the log it left (I1-I4); returns the problems found. */
  async check(): Promise<string[]> {
    const problems: string[] = [];
    const injected = this.injections > 0;
    const error = this.error;
    const isFailStop = (e: unknown): boolean =>
      e instanceof ClfsError && e.code === 'ERR_CLFS_IO_FAILED' && (e as { cause?: unknown }).cause === error;
    const show = (e: unknown): string =>
      e instanceof ClfsError
        ? `${e.code} (${e.message}; cause ${String((e as { cause?: unknown }).cause)})`
        : String(e);
    const open = this.ops[0]!;
    const close = this.ops.find((op) => op.kind === 'close');
    if (injected && close?.status === 'resolved' && close.flushing && this.log?.writer.failure !== undefined) {
      problems.push('I6: close() began on a healthy log, the flush it made failed, and it resolved');
    }

    if (!injected) {
      for (const op of this.ops)
        if (op.status !== 'resolved') problems.push(`${op.kind} failed without a fault: ${show(op.error)}`);
    } else if (this.plan!.op === 'add') {
      // A container that cannot be made fails the append that needs it with
      // a typed error; the log stays usable (nothing was written).
      const typed = this.ops.filter(
        (op) =>
          op.status === 'rejected' &&
          (op.error === error || isFailStop(op.error) || (op.error as { code?: string })?.code === error!.code),
      );
      if (typed.length === 0) problems.push('no operation reported the failed container creation');
      for (const op of this.ops) {
        if (op.status === 'rejected' && !typed.includes(op) && op.kind !== 'close') {
          problems.push(`${op.kind} rejected with ${show(op.error)}, not the injected error`);
        }
      }
    } else if (open.status === 'rejected') {
      if (open.error !== error && !isFailStop(open.error)) problems.push(`open rejected with ${show(open.error)}`);
    } else {
      // I6: fail-stop.
      if (!this.ops.some((op) => op.status === 'rejected' && isFailStop(op.error))) {
        problems.push('I6: no operation rejected with ERR_CLFS_IO_FAILED caused by the injected error');
      }
      for (const op of this.ops) {
        if (op.status === 'rejected' && !isFailStop(op.error)) {
          problems.push(
            `I6: ${op.kind} rejected with ${show(op.error)}, not ERR_CLFS_IO_FAILED caused by the injected error`,
          );
        }
        // close() is how a failed log is let go of: it may resolve.
        if (op.startedAfterFailure && op.status !== 'rejected' && op.kind !== 'close') {
          problems.push(`I6: ${op.kind} started after the log failed, and resolved`);
        }
      }
      const firstFailed = this.failedBlocks.reduce<Lsn | undefined>(
        (m, b) => (m === undefined || b < m ? b : m),
        undefined,
      );
      for (const op of this.ops) {
        if (op.status !== 'resolved' || !op.flushing || op.target === undefined) continue;
        if (firstFailed !== undefined && op.target >= firstFailed) {
          problems.push(
            `I6: ${op.kind} acknowledged ${fmt(op.target)}, at or after the failed block ${fmt(firstFailed)}`,
          );
        }
        if (this.plan!.op === 'sync' && op.target > this.durableAtFault!) {
          problems.push(
            `I6: ${op.kind} acknowledged ${fmt(op.target)} though the sync that was to make it durable failed`,
          );
        }
      }
    }

    // I1-I4 on the files as they are, then as a power cut leaves them.
    const asIs = copyImage(this.storage.image);
    await this.#checkImage(asIs, 'as left', problems, true);
    const run: RecordedRun = {
      name: this.workload.name,
      options: {
        durability: this.workload.durability,
        containerSize: this.workload.containerSize,
        containers: this.workload.containers,
        seed: 0,
      },
      initial: this.initial,
      events: this.storage.events,
      records: [],
      bases: [],
      bufferSize: 0,
    };
    await this.#checkImage(durableImage(run, stateAt(run, run.events.length)), 'after a power cut', problems, false);
    return problems;
  }

  async #recover(image: MemoryImage): Promise<Recovered> {
    const log = await Log.openStorage(
      'memory',
      new MemoryStorage(image, { durability: this.workload.durability }),
      'strict',
    );
    try {
      const area = await log.createMarshallingArea({ bufferSize: 1 << 20, flushIntervalMs: 0 });
      const records: Recovered['records'] = [];
      for await (const r of area.records(undefined, 'forward', { type: 'client' })) {
        records.push({
          lsn: r.lsn,
          type: r.type,
          data: r.data,
          previousLsn: r.previousLsn,
          undoNextLsn: r.undoNextLsn,
        });
      }
      const { baseLsn, restartLsn } = log.information();
      return { base: baseLsn, restartLsn, records };
    } finally {
      await log.close();
    }
  }

  async #checkImage(image: MemoryImage, label: string, problems: string[], appendAfter: boolean): Promise<void> {
    let got: Recovered;
    try {
      got = await this.#recover(image);
    } catch (e) {
      problems.push(`${label}: recovery failed: ${String(e)}`);
      return;
    }
    const before = problems.length;
    this.#checkRecovered(got, label, problems);
    if (problems.length > before) return;
    // I3: recovering again reads the same.
    const again = await this.#recover(image);
    if (
      again.records.length !== got.records.length ||
      again.records.some((r, i) => r.lsn !== got.records[i]!.lsn) ||
      again.base !== got.base
    ) {
      problems.push(
        `${label}: I3: a second recovery read ${again.records.length} records, the first ${got.records.length}`,
      );
      return;
    }
    if (!appendAfter) return;
    // I4: an append after recovery lands after the recovered end and survives a reopen.
    const log = await Log.openStorage(
      'memory',
      new MemoryStorage(image, { durability: this.workload.durability }),
      'strict',
    );
    let lsn: Lsn | undefined;
    try {
      const area = await log.createMarshallingArea({ bufferSize: 1 << 16, flushIntervalMs: 0 });
      ({ lsn } = await area.reserveAndAppend(new TextEncoder().encode('after recovery'), { forceFlush: true }));
    } finally {
      await log.close();
    }
    const last = got.records[got.records.length - 1]?.lsn;
    if (lsn === undefined || (last !== undefined && lsn <= last)) {
      problems.push(`${label}: I4: the append after recovery got ${fmt(lsn)}, not after ${fmt(last)}`);
      return;
    }
    const third = await this.#recover(image);
    const end = third.records[third.records.length - 1];
    if (third.records.length !== got.records.length + 1 || end?.lsn !== lsn) {
      problems.push(`${label}: I4: after appending at ${fmt(lsn)} and reopening, the log ends at ${fmt(end?.lsn)}`);
    }
  }

  #checkRecovered(got: Recovered, label: string, problems: string[]): void {
    const at = (lsn: Lsn): string => `${label}: record ${fmt(lsn)}`;
    if (!this.wantedBases.has(got.base)) problems.push(`${label}: base ${fmt(got.base)} was never asked for`);
    if (got.base < this.ackedBase)
      problems.push(`${label}: I1: base ${fmt(got.base)} older than acked ${fmt(this.ackedBase)}`);
    if (this.ackedRestart !== Lsn.NULL && (got.restartLsn === Lsn.INVALID || got.restartLsn < this.ackedRestart)) {
      problems.push(`${label}: I1: restart area ${fmt(got.restartLsn)} older than acked ${fmt(this.ackedRestart)}`);
    }
    // I2: each record is one appended, byte-exact, in order.
    const present = new Set<number>();
    let lastDataId = -1;
    got.records.forEach((r, i) => {
      if (i > 0 && !(r.lsn > got.records[i - 1]!.lsn)) problems.push(`${at(r.lsn)}: I2: out of order`);
      const view = new DataView(r.data.buffer, r.data.byteOffset, r.data.byteLength);
      const attempt =
        r.data.byteLength >= 8 && view.getUint32(0) === MAGIC ? this.attempts[view.getUint32(4)] : undefined;
      if (attempt === undefined || !Buffer.from(attempt.data).equals(Buffer.from(r.data)) || attempt.type !== r.type) {
        problems.push(`${at(r.lsn)}: I2: phantom (${r.data.byteLength} bytes nobody appended)`);
        return;
      }
      if (attempt.lsn !== undefined && attempt.lsn !== r.lsn) {
        problems.push(`${at(r.lsn)}: I2: was appended at ${fmt(attempt.lsn)}`);
      }
      if (attempt.type === 'data') {
        if (attempt.previousLsn !== r.previousLsn || attempt.undoNextLsn !== r.undoNextLsn) {
          problems.push(`${at(r.lsn)}: I1: chain fields differ`);
        }
        if (attempt.id <= lastDataId) problems.push(`${at(r.lsn)}: I2: appended before the record preceding it`);
        lastDataId = attempt.id;
      }
      if (
        attempt.op?.status === 'rejected' &&
        !(attempt.op.error instanceof ClfsError && attempt.op.error.code === 'ERR_CLFS_IO_FAILED')
      ) {
        problems.push(
          `${at(r.lsn)}: its ${attempt.op.kind} was refused (${String(attempt.op.error)}) yet it is in the log`,
        );
      }
      present.add(attempt.id);
    });
    // No gap: every record known appended between the base and the end is there;
    // I1: the end is not before anything acknowledged.
    const end = got.records[got.records.length - 1]?.lsn ?? -1n;
    for (const a of this.attempts) {
      if (a.lsn !== undefined && a.lsn >= got.base && a.lsn <= end && !present.has(a.id)) {
        problems.push(
          `${label}: I2: record ${fmt(a.lsn)} (attempt ${a.id}) missing inside the recovered range (a gap)`,
        );
        break;
      }
    }
    for (const op of this.ops) {
      if (
        op.status === 'resolved' &&
        op.flushing &&
        op.target !== undefined &&
        op.target >= got.base &&
        op.target > end
      ) {
        problems.push(`${label}: I1: ${op.kind} acknowledged up to ${fmt(op.target)}, the log ends at ${fmt(end)}`);
        break;
      }
    }
  }
}

/** Runs `workload` with `plan` (or none) and checks it. */
export async function runWithFault(
  workload: MemoryWorkload,
  plan: FaultPlan | undefined,
  seed: number,
): Promise<{ injections: number; problems: string[]; operations: number }> {
  const h = await FaultHarness.start(workload, plan, seed);
  if (h.log !== undefined) {
    await workload.run(h);
    await h.finish();
  }
  const problems = await h.check();
  return { injections: h.injections, problems, operations: h.ops.length };
}
