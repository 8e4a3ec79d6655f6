/**
 * Runs one plan: the simulation loop. It builds the log on a simulated
 * disk, opens an instance, and makes the plan's calls at their seeded
 * points between scheduler steps, mostly without waiting for them. A crash
 * kills the instance where it stands (requests in flight never complete),
 * builds a crash image, checks what recovery finds (checker.ts) and goes on
 * with a new instance over the image; a reopen closes the instance (racing
 * whatever is in flight), waits for the close, and does the same over the
 * disk as it is. At the end: every call must have settled once the storage
 * is idle (no hang), the log closes, and a power cut after the close must
 * lose nothing acknowledged.
 *
 * Everything that happens goes into the trace (calls, outcomes, storage
 * completions, crash images); its hash is the same for every run of a plan.
 * @module
 */
import { follow } from './ops-follow.ts';
import { createHash } from 'node:crypto';

import { Log } from '../../lib/log/log.ts';
import { Lsn } from '../../lib/lsn.ts';
import { chance, fork, int, prng } from '../support/random.ts';
import {
  checkRecovered,
  compareRecoveries,
  crashDuringRecovery,
  readAll,
  recoverDisk,
  settle,
  type Recovered,
} from './checker.ts';
import { crashImage, type SimDisk } from './disk.ts';
import { Env } from './env.ts';
import { codeOf, corruptKind, type Instance, type Tracker } from './instance.ts';
import { Model, Report, fmt, sameBytes, scribbled, type Violation } from './model.ts';
import { addContainers, bad, closeArea, closeLog, createArea, info } from './ops-life.ts';
import { nextOp, read, readRestart, records, terminate } from './ops-read.ts';
import { advance, align, alloc, append, batch, fill, flush, free, restart } from './ops-write.ts';
import { listenForTail, removeContainers, setPolicy, tail } from './ops-space.ts';
import { archive } from './ops-archive.ts';
import { truncate } from './ops-truncate.ts';
import type { Op, Plan } from './plan.ts';
import { Scheduler } from './scheduler.ts';
import { newLog } from './setup.ts';
import { Faults, SimStorage } from './storage.ts';

export interface SimResult {
  seed: number;
  violations: Violation[];
  /** Operations of the plan carried out. */
  ops: number;
  /** API calls made. */
  calls: number;
  crashes: number;
  reopens: number;
  faults: number;
  /** Storage completions and timer firings. */
  steps: number;
  hash: string;
  trace?: string[];
  aborted?: string;
}

export interface SimOptions {
  /** Keep the trace's lines (else only its hash). */
  trace?: boolean;
}

class Driver {
  readonly plan: Plan;
  readonly scheduler: Scheduler;
  readonly report = new Report();
  readonly faults: Faults;
  readonly #hash = createHash('sha256');
  readonly lines: string[] | undefined;
  readonly tracker: Tracker;
  readonly argRandom: () => number;
  readonly crashRandom: () => number;
  readonly state = { tag: 0, largestBuffer: 0 };
  calls = 0;
  instances = 0;
  crashes = 0;
  kills = 0;
  reopens = 0;
  opsDone = 0;
  aborted: string | undefined;
  /** The disk being recovered lost blocks a recovery had read from the page cache (see recoveryKind). */
  pageCache = false;
  inst!: Instance;
  env!: Env;

  constructor(plan: Plan, options: SimOptions) {
    this.plan = plan;
    const root = prng(plan.seed ^ 0x51a7e5);
    this.scheduler = new Scheduler(fork(root));
    this.argRandom = fork(root);
    this.crashRandom = fork(root);
    this.faults = new Faults(plan.config.faults);
    this.lines = options.trace === true ? [] : undefined;
    this.tracker = { faults: this.faults, nextCall: () => ++this.calls, trace: (line) => this.trace(line) };
  }

  trace(line: string): void {
    this.#hash.update(line);
    this.#hash.update('\n');
    this.lines?.push(line);
  }

  get hash(): string {
    return this.#hash.digest('hex');
  }

  abort(kind: string, detail: string): void {
    this.report.add(kind, detail);
    this.aborted ??= `${kind}: ${detail}`;
  }

  async run(): Promise<void> {
    this.scheduler.install();
    this.scheduler.onStep = (line) => this.trace(line);
    try {
      const { disk } = await newLog(this.plan.config, this.scheduler, this.argRandom);
      await this.startInstance(disk, undefined, 'start');
      for (const [i, op] of this.plan.ops.entries()) {
        if (this.aborted !== undefined) break;
        for (let g = 0; g < op.gap; g++) await this.scheduler.step();
        await this.scheduler.ticks(op.ticks);
        this.trace(`op ${i} ${op.k}`);
        const done = this.issue(op).catch((error: unknown) => {
          this.report.add(
            'sim-bug',
            `op ${i} ${op.k}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
          );
        });
        // A crash or reopen drives the scheduler itself (recovery runs to its end).
        if (op.k === 'crash' || op.k === 'kill' || op.k === 'open') await done;
        else if (op.wait) {
          let settled = false;
          void done.then(() => (settled = true));
          if (!(await this.scheduler.runUntil(() => settled))) {
            this.abort(
              this.hangKind(this.inst),
              `op ${i} (${op.k}) never settled, with the storage idle: ${this.unsettled(this.inst)}`,
            );
          }
        }
        this.opsDone++;
      }
      if (this.aborted === undefined) await this.finish();
    } finally {
      this.scheduler.uninstall();
    }
  }

  issue(op: Op): Promise<unknown> {
    const env = this.env;
    switch (op.k) {
      case 'append':
        return append(env, op);
      case 'batch':
        return batch(env, op);
      case 'alloc':
        return alloc(env, op);
      case 'free':
        return free(env, op);
      case 'align':
        return align(env, op);
      case 'flush':
      case 'flushBuffers':
        return flush(env, op);
      case 'restart':
        return restart(env, op);
      case 'readRestart':
        return readRestart(env, op);
      case 'advance':
        return advance(env, op);
      case 'truncate':
        return truncate(this.env, op);
      case 'read':
        return read(env, op);
      case 'next':
        return nextOp(env, op);
      case 'terminate':
        return terminate(env, op);
      case 'records':
        return records(env, op);
      case 'follow':
        return follow(env, op);
      case 'addContainers':
        return addContainers(env, op);
      case 'policy':
        return setPolicy(env, op);
      case 'removeContainers':
        return removeContainers(env, op);
      case 'tail':
        return tail(env, op);
      case 'archive':
        return archive(env, op);
      case 'createArea':
        return createArea(env, op.config);
      case 'closeArea':
        return closeArea(env, op);
      case 'closeLog':
        return closeLog(env);
      case 'open':
        return this.reopen();
      case 'crash':
        return this.crash();
      case 'kill':
        return this.kill();
      case 'info':
        return info(env);
      case 'fill':
        return fill(env, op);
      case 'bad':
        return bad(env, op);
    }
  }

  /**
   * A hang, told apart by what is stuck: calls after the instance
   * fail-stopped (they wait on what the failure abandoned), a close or
   * restart area or base move, or appends alone.
   */
  hangKind(inst: Instance): string {
    if (inst.log.core.writer.failure !== undefined) return 'hang-fail-stop';
    // A close or restart area among the stuck calls, or appends alone.
    const open = inst.calls.filter((c) => !c.settled && !c.crashed);
    return open.some((c) => /^(restart|closeLog|closeArea|advance)/.test(c.label)) ? 'hang' : 'hang-appends';
  }

  /**
   * A failed recovery, by what failed: both metadata copies refused; a
   * disk whose metadata a recovery wrote over blocks it read from the page
   * cache, none synced since (a power cut took them); or the rest.
   */
  recoveryKind(detail: string, pageCache = this.pageCache): string {
    if (detail.includes('neither metadata copy')) return 'metadata-invalid';
    if (pageCache) return 'page-cache-recovery';
    return corruptKind(detail) ?? 'recovery-failed';
  }

  unsettled(inst: Instance): string {
    const open = inst.calls.filter((c) => !c.settled && !c.crashed);
    return open.length === 0
      ? 'none'
      : open
          .slice(0, 6)
          .map((c) => c.label)
          .join('; ') + (open.length > 6 ? ` and ${open.length - 6} more` : '');
  }

  /**
   * Opens an instance over `disk` (recovery), reads everything it holds
   * (checked against `previous`, the model of what the disk should hold),
   * and creates the configured areas. Returns what recovery found.
   */
  async startInstance(
    disk: SimDisk,
    previous: Model | undefined,
    why: string,
    durable = true,
  ): Promise<Recovered | undefined> {
    const n = ++this.instances;
    const config = this.plan.config;
    let log: Log | undefined;
    let storage: SimStorage | undefined;
    for (let attempt = 0; log === undefined; attempt++) {
      if (attempt >= 2) this.faults.enabled = false;
      const injected = this.faults.injected;
      storage = new SimStorage(disk, this.scheduler, {
        unit: config.unit,
        durability: config.durability,
        faults: this.faults,
        name: `i${n}`,
      });
      const outcome = await settle(
        this.scheduler,
        Log.openStorage('sim', storage, 'strict', { idlePublishMs: config.idlePublishMs ?? 0 }),
      );
      if (outcome === undefined) return void this.abort('hang', `opening instance ${n} never settled`);
      if ('error' in outcome) {
        const code = codeOf(outcome.error);
        this.trace(`open i${n} failed ${code}`);
        const detail = `${code} ${outcome.error instanceof Error ? outcome.error.message : ''}`;
        if (this.faults.injected === injected || code.startsWith('untyped')) {
          return void this.abort(this.recoveryKind(detail), `${why}: opening instance ${n} failed: ${detail}`);
        }
        if (attempt > 4)
          return void this.abort(this.recoveryKind(detail), `${why}: opening instance ${n} kept failing: ${detail}`);
        continue;
      }
      log = outcome.value;
    }
    // Reading it all back is the check, not the run: no faults meanwhile.
    const enabled = this.faults.enabled;
    this.faults.enabled = false;
    const read = await settle(this.scheduler, readAll(log));
    this.faults.enabled = enabled;
    if (read === undefined) return void this.abort('hang', `${why}: reading instance ${n} back never settled`);
    if ('error' in read) {
      const e = read.error;
      const detail = `${codeOf(e)} ${e instanceof Error ? e.message : ''}`;
      return void this.abort(this.recoveryKind(detail), `${why}: reading the recovered log failed: ${detail}`);
    }
    const recovered = read.value;
    this.trace(
      `open i${n}: ${recovered.records.length} records, base ${fmt(recovered.base)}, last ${fmt(recovered.lastLsn)}, restart ${fmt(recovered.restartLsn)}`,
    );
    if (previous !== undefined) checkRecovered(previous, recovered, why);
    const belowBase =
      previous === undefined
        ? []
        : [...previous.belowBase, ...previous.lsns.filter((l) => l < recovered.base)].slice(-64);
    const model = new Model(this.report, {
      base: recovered.base,
      restartLsn: recovered.restartLsn,
      records: recovered.records,
      belowBase,
      ...(durable || previous === undefined ? {} : { acked: previous.ackBound }),
    });
    model.writerLast = () => (log.core.writer.lastLsn === Lsn.INVALID ? -1n : log.core.writer.lastLsn);
    storage!.failStopped = () => log.core.writer.failure !== undefined;
    this.inst = {
      n,
      log,
      storage: storage!,
      fromPageCache: disk.unsynced.length > 0,
      model,
      areas: [],
      contexts: [],
      calls: [],
      closedAt: undefined,
      closeCall: undefined,
      lastInfo: undefined,
    };
    this.env = new Env(this.inst, this.tracker, this.argRandom, config, this.state);
    const env = this.env;
    env.checkObservations = (above) => this.checkObservations(model, env, above);
    listenForTail(this.inst);
    for (const area of config.areas) {
      let settled = false;
      void createArea(this.env, area).then(() => (settled = true));
      if (!(await this.scheduler.runUntil(() => settled)))
        return void this.abort('hang', `creating an area of instance ${n} never settled`);
    }
    return recovered;
  }

  /**
   * Checks the reads of records whose LSN was unknown then against what the
   * model knows now, and forgets them: at the instance's end, and around a
   * truncation: when it is called, those above its target (appends made
   * after it get their LSNs again, even before it settles: a record read
   * before would look like no call's), and when it settles, those read
   * meanwhile. `above`: only those above it.
   */
  checkObservations(model: Model, env: Env, above = -1n): void {
    const now = env.observations.filter((o) => o.record.lsn > above);
    const later = env.observations.filter((o) => o.record.lsn <= above);
    for (const { record, label, raced } of now) {
      const known = model.records.get(record.lsn);
      const same = (a: typeof record): boolean =>
        a.type === record.type &&
        sameBytes(a.data, record.data) &&
        a.undoNextLsn === record.undoNextLsn &&
        (a.type === 'restart' || a.previousLsn === record.previousLsn);
      if (scribbled(record.data) && !(known !== undefined && scribbled(known.data))) {
        this.report.add(
          'buffer-read-late',
          `${label} read record ${fmt(record.lsn)} as the caller's buffer after the call returned: the library read the entries late`,
        );
      } else if (
        !(known !== undefined && same(known)) &&
        (known !== undefined && raced !== true
          ? true
          : ![...model.openAttempts(), ...(raced === true ? model.dropped : [])].some((a) =>
              same({ ...a, lsn: record.lsn }),
            ))
      ) {
        this.report.add(
          'read-phantom',
          `${label} read ${record.type} record ${fmt(record.lsn)} (${record.data.byteLength} bytes), which no call appended there`,
        );
      }
    }
    env.observations.splice(0, env.observations.length, ...later);
  }

  /** What can only be checked once an instance is gone: reads of records whose LSN was unknown then, storage misuse. */
  endInstance(inst: Instance, env: Env): void {
    // Its follower goes with it (what it read was checked as it read).
    inst.follower?.storage?.kill();
    this.checkObservations(inst.model, env);
    for (const v of inst.storage.violations) this.report.add(v.kind, v.detail);
    for (const area of inst.areas) {
      const a = area.allocations;
      if (a !== undefined && area.closedAt !== undefined && a.allocate !== a.free && inst.closeCall?.settled === true) {
        this.report.add(
          inst.log.core.writer.failure !== undefined ? 'allocator-fail-stop' : 'allocator',
          `area ${area.index}: ${a.allocate} buffers allocated, ${a.free} freed after close`,
        );
      }
    }
  }

  /** Whether `inst` was recovered from a page cache and never synced since: a power cut now takes what it recovered. */
  pageCacheLost(inst: Instance): boolean {
    return inst.fromPageCache && inst.storage.stats.syncs === 0 && this.plan.config.durability === 'fdatasync';
  }

  async crash(): Promise<void> {
    const old = this.inst;
    const oldEnv = this.env;
    old.storage.kill();
    old.follower?.storage?.kill();
    for (const c of old.calls) if (!c.settled) c.crashed = true;
    this.crashes++;
    const image = crashImage(
      old.storage.disk,
      old.storage.inFlightWrites(),
      old.storage.addsInFlight(),
      this.crashRandom,
    );
    this.trace(`crash ${this.crashes}: ${image.label}`);
    this.endInstance(old, oldEnv);
    this.pageCache = this.pageCacheLost(old);
    await this.recover(image.disk, old.model, `crash ${this.crashes} (${image.label})`);
    this.pageCache = false;
  }

  /**
   * The process dies, the machine does not: requests in flight never
   * complete (a write in flight reached the page cache, or not), but the
   * page cache survives: writes not yet synced are still there, still not
   * durable, for the next instance to read (and a later power cut to take).
   */
  async kill(): Promise<void> {
    const old = this.inst;
    const disk = old.storage.disk;
    const inFlight = old.storage.inFlightWrites();
    old.storage.kill();
    old.follower?.storage?.kill();
    for (const c of old.calls) if (!c.settled) c.crashed = true;
    const landed: string[] = [];
    for (const w of inFlight) {
      if (!chance(this.crashRandom, 0.5)) continue;
      // The base file is written O_DSYNC; containers through the page cache (unless 'dsync').
      disk.write(w.file, w.offset, w.data, w.file === 'base' || this.plan.config.durability === 'dsync');
      landed.push(`${String(w.file)}@${w.offset}`);
    }
    this.kills++;
    this.trace(
      `kill ${this.kills}: in flight ${inFlight.length}, landed [${landed.join(' ')}], unsynced ${disk.unsynced.length}`,
    );
    this.endInstance(old, this.env);
    await this.recover(disk, old.model, `process kill ${this.kills}`, false);
  }

  /** Closes the instance (if not yet) and waits for it: close must settle, everything must settle. */
  async closeAndWait(): Promise<boolean> {
    const old = this.inst;
    if (old.closeCall === undefined) void closeLog(this.env);
    const closing = old.closeCall!;
    if (!(await this.scheduler.runUntil(() => closing.settled))) {
      this.abort(this.hangKind(old), `log.close() never settled; pending: ${this.unsettled(old)}`);
      return false;
    }
    await this.scheduler.drain();
    const open = old.calls.filter((c) => !c.settled && !c.crashed);
    if (open.length > 0)
      this.report.add(
        this.hangKind(old),
        `after close, with the storage idle, calls never settled: ${this.unsettled(old)}`,
      );
    if (old.storage.writeFaultsDelivered > 0 && old.log.core.writer.failure === undefined) {
      this.report.add(
        'I6',
        `instance ${old.n} saw ${old.storage.writeFaultsDelivered} failed writes/syncs and did not fail-stop`,
      );
    }
    this.endInstance(old, this.env);
    return true;
  }

  async reopen(): Promise<void> {
    const old = this.inst;
    if (!(await this.closeAndWait())) return;
    this.reopens++;
    // After a failed close, what the page cache holds may not be durable.
    const clean = old.storage.writeFaultsDelivered === 0;
    await this.recover(old.storage.disk, old.model, `reopen ${this.reopens}`, clean);
  }

  /**
   * Goes on with a new instance over `disk`, checking what its recovery
   * finds against `model`. Sometimes also crashes a recovery of the same
   * disk part-way, recovers that, and compares (I3).
   */
  async recover(disk: SimDisk, model: Model, why: string, durable = true): Promise<void> {
    const config = this.plan.config;
    const before = chance(this.crashRandom, 0.25) ? disk.clone() : undefined;
    const recovered = await this.startInstance(disk, model, why, durable);
    if (recovered === undefined || before === undefined) return;
    const steps = int(this.crashRandom, 0, 12);
    const torn = await crashDuringRecovery(before, this.scheduler, config, steps);
    const again = await recoverDisk(torn.disk, this.scheduler, config, 'verify');
    const what = `${why}: recovery after a crash ${steps} steps into recovery (${torn.label})`;
    if ('error' in again) {
      this.report.add(this.recoveryKind(again.error, before.unsynced.length > 0), `I3: ${what} failed: ${again.error}`);
    }
    // With writes in the page cache that the crash could take, it may rightly find less.
    else if (before.unsynced.length === 0) compareRecoveries(this.report, recovered, again.recovered, what);
  }

  async finish(): Promise<void> {
    await this.scheduler.drain();
    const open = this.inst.calls.filter((c) => !c.settled && !c.crashed);
    if (open.length > 0)
      this.report.add(
        this.hangKind(this.inst),
        `at the end, with the storage idle, calls never settled: ${this.unsettled(this.inst)}`,
      );
    const last = this.inst;
    if (!(await this.closeAndWait())) return;
    // A power cut after the close: everything acknowledged must be on stable storage.
    const image = crashImage(last.storage.disk, [], [], this.crashRandom);
    this.trace(`power cut after close: ${image.label}`);
    this.pageCache = this.pageCacheLost(last);
    await this.recover(image.disk, last.model, `power cut after the final close (${image.label})`);
    this.pageCache = false;
    if (this.aborted === undefined) await this.closeAndWait();
  }
}

export async function simulate(plan: Plan, options: SimOptions = {}): Promise<SimResult> {
  const driver = new Driver(plan, options);
  try {
    await driver.run();
  } catch (error) {
    driver.report.add('sim-bug', error instanceof Error ? (error.stack ?? error.message) : String(error));
  }
  return {
    seed: plan.seed,
    violations: driver.report.violations,
    ops: driver.opsDone,
    calls: driver.calls,
    crashes: driver.crashes + driver.kills,
    reopens: driver.reopens,
    faults: driver.faults.injected,
    steps: driver.scheduler.steps,
    hash: driver.hash,
    ...(driver.lines !== undefined ? { trace: driver.lines } : {}),
    ...(driver.aborted !== undefined ? { aborted: driver.aborted } : {}),
  };
}
