/**
 * Checking what recovery finds against the model (RELIABILITY.md I1-I4),
 * after every crash and every reopen:
 * - I1: every acknowledged record at or above the recovered base is there,
 *   byte-exact, with its LSN, type and chain fields;
 * - I2: the recovered log is a prefix of what was appended: every record is
 *   one the model knows (or one whose call had not told its LSN yet), in
 *   LSN order, with no known record missing between two recovered ones;
 *   the base is one some call set, not older than an acknowledged one; the
 *   restart area is not older than an acknowledged one, and restart records
 *   chain to the one before;
 * - I3: recovering again, and recovering after a crash in the middle of
 *   recovery, finds the same log;
 * - I4: the instance that goes on from the recovered end gets LSNs above it
 *   (Model.floor) and the next check finds nothing stale.
 * @module
 */
import { Log } from '../../lib/log/log.ts';
import { Lsn } from '../../lib/lsn.ts';
import { MAX_BUFFER, type SimConfig } from './config.ts';
import { crashImage, type SimDisk } from './disk.ts';
import { codeOf } from './instance.ts';
import { fmt, sameBytes, scribbled, type Model, type ModelRecord, type Report } from './model.ts';
import type { Scheduler } from './scheduler.ts';
import { SimStorage } from './storage.ts';

export interface Recovered {
  base: bigint;
  restartLsn: bigint;
  lastLsn: bigint;
  records: ModelRecord[];
}

/** Runs `promise` to settlement through the scheduler; undefined if it never settles (a hang). */
export async function settle<T>(
  scheduler: Scheduler,
  promise: Promise<T>,
): Promise<{ value: T } | { error: unknown } | undefined> {
  let outcome: { value: T } | { error: unknown } | undefined;
  promise.then(
    (value) => (outcome = { value }),
    (error: unknown) => (outcome = { error }),
  );
  await scheduler.runUntil(() => outcome !== undefined);
  return outcome;
}

/** Reads every record from the base of an open log (one area with the largest buffers). */
export async function readAll(log: Log): Promise<Recovered> {
  const area = await log.createMarshallingArea({ bufferSize: MAX_BUFFER, flushIntervalMs: 0 });
  const info = log.information();
  const records: ModelRecord[] = [];
  for await (const r of area.records(undefined, 'forward', { type: 'client' })) {
    records.push({ lsn: r.lsn, type: r.type, data: r.data, undoNextLsn: r.undoNextLsn, previousLsn: r.previousLsn });
  }
  await area.close();
  return { base: info.baseLsn, restartLsn: info.restartLsn, lastLsn: info.lastLsn, records };
}

/**
 * Opens a log over `disk` (no faults), reads it all and closes it cleanly.
 * `crashAfter` instead kills it after that many scheduler steps (a crash
 * during recovery) and returns the disk as the crash left it.
 */
export async function recoverDisk(
  disk: SimDisk,
  scheduler: Scheduler,
  config: SimConfig,
  name: string,
): Promise<{ recovered: Recovered } | { error: string }> {
  const storage = new SimStorage(disk, scheduler, { unit: config.unit, durability: config.durability, name });
  const outcome = await settle(
    scheduler,
    (async () => {
      const log = await Log.openStorage(name, storage, 'strict');
      try {
        return await readAll(log);
      } finally {
        await log.close();
      }
    })(),
  );
  if (outcome === undefined) return { error: `hang: recovering (${name}) never settled` };
  if ('error' in outcome) {
    const e = outcome.error;
    return { error: `${codeOf(e)}: ${e instanceof Error ? e.message : String(e)}` };
  }
  if (storage.violations.length > 0) {
    return { error: `storage: ${storage.violations.map((v) => `${v.kind} ${v.detail}`).join('; ')}` };
  }
  return { recovered: outcome.value };
}

/** A crash `steps` completions into opening `disk`: the disk as it leaves it. */
export async function crashDuringRecovery(
  disk: SimDisk,
  scheduler: Scheduler,
  config: SimConfig,
  steps: number,
): Promise<{ disk: SimDisk; label: string }> {
  const storage = new SimStorage(disk, scheduler, { unit: config.unit, durability: config.durability, name: 'torn' });
  const opening = Log.openStorage('torn', storage, 'strict').then(
    (log) => log,
    () => undefined,
  );
  let done = false;
  void opening.then(() => (done = true));
  const start = scheduler.steps;
  await scheduler.runUntil(() => done || scheduler.steps - start >= steps);
  storage.kill();
  return crashImage(storage.disk, storage.inFlightWrites(), storage.addsInFlight(), scheduler.random);
}

const sameRecovery = (a: Recovered, b: Recovered): boolean =>
  a.base === b.base &&
  a.restartLsn === b.restartLsn &&
  a.records.length === b.records.length &&
  a.records.every((r, i) => r.lsn === b.records[i]!.lsn && sameBytes(r.data, b.records[i]!.data));

export function compareRecoveries(report: Report, reference: Recovered, other: Recovered, what: string): void {
  if (!sameRecovery(reference, other)) {
    report.add(
      'I3',
      `${what} found base ${fmt(other.base)}, restart ${fmt(other.restartLsn)}, ${other.records.length} records ` +
        `(last ${fmt(other.records.at(-1)?.lsn)}); the first recovery: base ${fmt(reference.base)}, restart ${fmt(reference.restartLsn)}, ` +
        `${reference.records.length} records (last ${fmt(reference.records.at(-1)?.lsn)})`,
    );
  }
}

/** I1/I2 and the base and restart rules: `got` against what the model says the log held. */
export function checkRecovered(model: Model, got: Recovered, why: string): void {
  const report = model.report;
  if (got.base < model.ackedBase) {
    report.add(
      'I1-base',
      `${why}: the recovered base ${fmt(got.base)} is older than the acknowledged base ${fmt(model.ackedBase)}`,
    );
  } else if (!model.possibleBases.has(got.base)) {
    report.add('I2-base', `${why}: the recovered base ${fmt(got.base)} was never set`);
  }
  let previous = -1n;
  let lastRestart: ModelRecord | undefined;
  for (const r of got.records) {
    if (r.lsn <= previous) report.add('I2-order', `${why}: record ${fmt(r.lsn)} after ${fmt(previous)}`);
    previous = r.lsn;
    const known = model.records.get(r.lsn);
    if (known === undefined) {
      if (scribbled(r.data) && model.openAttempts().some((a) => a.data.byteLength === r.data.byteLength)) {
        model.claimAttempt({
          ...r,
          data: model.openAttempts().find((a) => a.data.byteLength === r.data.byteLength)!.data,
        });
        report.add(
          'buffer-read-late',
          `${why}: recovered record ${fmt(r.lsn)} holds the caller's buffer as it was after the call returned (${r.data.byteLength} bytes): the library read the entries late`,
        );
      } else if (!model.claimAttempt(r)) {
        report.add(
          'I2-phantom',
          `${why}: recovered record ${fmt(r.lsn)} (${r.type}, ${r.data.byteLength} bytes) was never appended`,
        );
      }
    } else if (known.type === r.type && scribbled(r.data) && !scribbled(known.data)) {
      report.add(
        'buffer-read-late',
        `${why}: record ${fmt(r.lsn)} holds the caller's buffer as it was after the call returned: the library read the entries late`,
      );
    } else if (
      known.type !== r.type ||
      !sameBytes(known.data, r.data) ||
      known.undoNextLsn !== r.undoNextLsn ||
      (known.type === 'data' && known.previousLsn !== r.previousLsn)
    ) {
      report.add(
        'I1-differs',
        `${why}: record ${fmt(r.lsn)} differs from what was appended (${r.type} ${r.data.byteLength} bytes, appended ${known.type} ${known.data.byteLength} bytes${sameBytes(known.data, r.data) ? ', same data' : ''})`,
      );
    }
    if (r.type === 'restart') {
      if (lastRestart !== undefined && r.previousLsn !== lastRestart.lsn) {
        report.add(
          'restart-chain',
          `${why}: restart record ${fmt(r.lsn)} names ${fmt(r.previousLsn)} as the one before, not ${fmt(lastRestart.lsn)}`,
        );
      }
      if (r.previousLsn !== Lsn.INVALID && r.previousLsn >= r.lsn) {
        report.add('restart-chain', `${why}: restart record ${fmt(r.lsn)} names a later one (${fmt(r.previousLsn)})`);
      }
      lastRestart = r;
    }
  }
  const present = new Set(got.records.map((r) => r.lsn));
  const last = got.records.at(-1)?.lsn ?? -1n;
  for (const lsn of model.lsns) {
    if (lsn < got.base || present.has(lsn)) continue;
    if (model.isAcked(lsn)) {
      report.add(
        'I1-lost',
        `${why}: acknowledged record ${fmt(lsn)} (${model.records.get(lsn)!.type}) is missing after recovery`,
      );
      break;
    }
    if (lsn < last) {
      report.add('I2-gap', `${why}: record ${fmt(lsn)} is missing between recovered records (before ${fmt(last)})`);
      break;
    }
  }
  if (model.ackedRestart !== Lsn.INVALID && (got.restartLsn === Lsn.INVALID || got.restartLsn < model.ackedRestart)) {
    report.add(
      'I1-restart',
      `${why}: the restart area is ${fmt(got.restartLsn)}, older than the acknowledged ${fmt(model.ackedRestart)}`,
    );
  }
  if (got.restartLsn !== Lsn.INVALID && got.restartLsn >= got.base) {
    const r = got.records.find((x) => x.lsn === got.restartLsn);
    if (r === undefined || r.type !== 'restart') {
      report.add('I2-restart', `${why}: the restart LSN ${fmt(got.restartLsn)} names no restart record`);
    }
  }
}
