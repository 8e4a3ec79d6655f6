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
import { Lsn } from '../../lib/lsn.ts';
import { MemoryStorage, copyImage, type MemoryImage } from '../../lib/storage/memory-storage.ts';
import { durableImage, stateAt } from '../crash/images.ts';
import { LogHarness, type FaultPlan } from './harness.ts';
import type { Workload } from './workloads.ts';

export { describePlan, type FaultKind, type FaultOp, type FaultPlan } from './harness.ts';

interface Recovered {
  base: Lsn;
  restartLsn: Lsn;
  records: { lsn: Lsn; type: 'data' | 'restart'; data: Uint8Array; previousLsn: Lsn; undoNextLsn: Lsn }[];
}

const fmt = (lsn: Lsn | undefined): string => (lsn === undefined ? '?' : Lsn.format(lsn));

/** Checks the run (I6) and the log it left (I1-I4); returns the problems found. */
export async function checkRun(h: LogHarness): Promise<string[]> {
  const problems: string[] = [];
  const injected = h.injections > 0;
  const error = h.error;
  const isFailStop = (e: unknown): boolean =>
    e instanceof ClfsError && e.code === 'ERR_CLFS_IO_FAILED' && (e as { cause?: unknown }).cause === error;
  const show = (e: unknown): string =>
    e instanceof ClfsError ? `${e.code} (${e.message}; cause ${String((e as { cause?: unknown }).cause)})` : String(e);
  const open = h.ops[0]!;
  const close = h.ops.find((op) => op.kind === 'close');
  if (injected && close?.status === 'resolved' && close.flushing && h.log?.core.writer.failure !== undefined) {
    problems.push('I6: close() began on a healthy log, the flush it made failed, and it resolved');
  }

  if (!injected) {
    for (const op of h.ops)
      if (op.status !== 'resolved') problems.push(`${op.kind} failed without a fault: ${show(op.error)}`);
  } else if (h.plan!.op === 'add') {
    // A container that cannot be made fails the append that needs it with
    // a typed error; the log stays usable (nothing was written).
    const typed = h.ops.filter(
      (op) =>
        op.status === 'rejected' &&
        (op.error === error || isFailStop(op.error) || (op.error as { code?: string })?.code === error!.code),
    );
    if (typed.length === 0) problems.push('no operation reported the failed container creation');
    for (const op of h.ops) {
      if (op.status === 'rejected' && !typed.includes(op) && op.kind !== 'close') {
        problems.push(`${op.kind} rejected with ${show(op.error)}, not the injected error`);
      }
    }
  } else if (open.status === 'rejected') {
    if (open.error !== error && !isFailStop(open.error)) problems.push(`open rejected with ${show(open.error)}`);
  } else {
    // I6: fail-stop.
    if (!h.ops.some((op) => op.status === 'rejected' && isFailStop(op.error))) {
      problems.push('I6: no operation rejected with ERR_CLFS_IO_FAILED caused by the injected error');
    }
    for (const op of h.ops) {
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
    const firstFailed = h.failedBlocks.reduce<Lsn | undefined>((m, b) => (m === undefined || b < m ? b : m), undefined);
    for (const op of h.ops) {
      if (op.status !== 'resolved' || !op.flushing || op.target === undefined) continue;
      if (firstFailed !== undefined && op.target >= firstFailed) {
        problems.push(
          `I6: ${op.kind} acknowledged ${fmt(op.target)}, at or after the failed block ${fmt(firstFailed)}`,
        );
      }
      if (h.plan!.op === 'sync' && op.target > h.durableAtFault!) {
        problems.push(
          `I6: ${op.kind} acknowledged ${fmt(op.target)} though the sync that was to make it durable failed`,
        );
      }
    }
  }

  // I1-I4 on the files as they are, then as a power cut leaves them.
  const asIs = copyImage(h.storage.image);
  await checkImage(h, asIs, 'as left', problems, true);
  const run = h.recording('');
  await checkImage(h, durableImage(run, stateAt(run, run.events.length)), 'after a power cut', problems, false);
  return problems;
}

async function recover(h: LogHarness, image: MemoryImage): Promise<Recovered> {
  const log = await Log.openStorage('memory', new MemoryStorage(image, { durability: h.options.durability }), 'strict');
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

async function checkImage(
  h: LogHarness,
  image: MemoryImage,
  label: string,
  problems: string[],
  appendAfter: boolean,
): Promise<void> {
  let got: Recovered;
  try {
    got = await recover(h, image);
  } catch (e) {
    problems.push(`${label}: recovery failed: ${String(e)}`);
    return;
  }
  const before = problems.length;
  checkRecovered(h, got, label, problems);
  if (problems.length > before) return;
  // I3: recovering again reads the same.
  const again = await recover(h, image);
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
  const log = await Log.openStorage('memory', new MemoryStorage(image, { durability: h.options.durability }), 'strict');
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
  const third = await recover(h, image);
  const end = third.records[third.records.length - 1];
  if (third.records.length !== got.records.length + 1 || end?.lsn !== lsn) {
    problems.push(`${label}: I4: after appending at ${fmt(lsn)} and reopening, the log ends at ${fmt(end?.lsn)}`);
  }
}

function checkRecovered(h: LogHarness, got: Recovered, label: string, problems: string[]): void {
  const at = (lsn: Lsn): string => `${label}: record ${fmt(lsn)}`;
  if (!h.wantedBases.has(got.base)) problems.push(`${label}: base ${fmt(got.base)} was never asked for`);
  if (got.base < h.ackedBase) problems.push(`${label}: I1: base ${fmt(got.base)} older than acked ${fmt(h.ackedBase)}`);
  if (h.ackedRestart !== Lsn.NULL && (got.restartLsn === Lsn.INVALID || got.restartLsn < h.ackedRestart)) {
    problems.push(`${label}: I1: restart area ${fmt(got.restartLsn)} older than acked ${fmt(h.ackedRestart)}`);
  }
  // I2: each record is one appended, byte-exact, in order.
  const present = new Set<number>();
  let lastDataId = -1;
  const lastIdOf = new Map<unknown, number>();
  got.records.forEach((r, i) => {
    if (i > 0 && !(r.lsn > got.records[i - 1]!.lsn)) problems.push(`${at(r.lsn)}: I2: out of order`);
    const attempt = h.attemptOf(r.data);
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
      // Call order: within an area always; across areas unless the earlier
      // call's area has a maxWriteBuffers (waiting for one of its buffers,
      // it lets other areas' later appends go first).
      const ownLast = lastIdOf.get(attempt.area) ?? -1;
      const mayWait = attempt.area !== undefined && attempt.area.maxWriteBuffers !== Infinity;
      if (attempt.id <= ownLast || (attempt.id <= lastDataId && !mayWait)) {
        problems.push(`${at(r.lsn)}: I2: appended before the record preceding it`);
      }
      lastIdOf.set(attempt.area, Math.max(ownLast, attempt.id));
      lastDataId = Math.max(lastDataId, attempt.id);
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
  for (const a of h.attempts) {
    if (a.lsn !== undefined && a.lsn >= got.base && a.lsn <= end && !present.has(a.id)) {
      problems.push(`${label}: I2: record ${fmt(a.lsn)} (attempt ${a.id}) missing inside the recovered range (a gap)`);
      break;
    }
  }
  for (const op of h.ops) {
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

/** Runs `workload` with `plan` (or none) and checks it. */
export async function runWithFault(
  workload: Workload,
  plan: FaultPlan | undefined,
  seed: number,
): Promise<{ injections: number; problems: string[]; operations: number }> {
  const h = await LogHarness.start(workload.options, seed, plan);
  if (h.log !== undefined) {
    await workload.run(h);
    await h.finish();
  }
  const problems = await checkRun(h);
  return { injections: h.injections, problems, operations: h.ops.length };
}
