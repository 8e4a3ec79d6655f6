/**
 * Checking one crash image against RELIABILITY.md's invariants:
 * I1 every acknowledged record present byte-exact (LSN, type, chains);
 * I2 the recovered log is a prefix of what was appended (no gaps, duplicates,
 *    reordering or phantoms);
 * I3 recovery is idempotent, and a crash during recovery is recoverable;
 * I4 appends after recovery continue at the recovered end and nothing stale
 *    comes back.
 */
import { Log } from '../../lib/log/log.ts';
import { Lsn } from '../../lib/lsn.ts';
import { MemoryStorage, copyImage, type MemoryImage } from '../../lib/storage/memory-storage.ts';
import { applyTorn, type Fill } from './images.ts';
import type { RecordedRecord, RecordedRun } from './run.ts';

interface Recovered {
  base: Lsn;
  /** The policy and container count the log opened with. */
  space: string;
  /** The archive tail the log opened with (Lsn.INVALID: ephemeral). */
  archiveTail: Lsn;
  records: { lsn: Lsn; type: string; data: Uint8Array; undoNextLsn: Lsn; previousLsn: Lsn }[];
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Opens the image, reads every record from the base, and closes (the open and close write to `image`). */
async function recoverImage(image: MemoryImage, run: RecordedRun): Promise<Recovered> {
  const storage = new MemoryStorage(image, { durability: run.options.durability });
  const log = await Log.openStorage('image', storage, 'strict');
  try {
    const area = await log.createMarshallingArea({ bufferSize: Math.max(run.bufferSize, 4096), flushIntervalMs: 0 });
    const base = log.information().baseLsn;
    const space = spaceOf(log.policy(), log.information().totalContainers);
    const records: Recovered['records'] = [];
    for await (const r of area.records(undefined, 'forward', { type: 'client' })) {
      records.push({ lsn: r.lsn, type: r.type, data: r.data, undoNextLsn: r.undoNextLsn, previousLsn: r.previousLsn });
    }
    return { base, space, records, archiveTail: log.information().archiveTailLsn };
  } finally {
    await log.close();
  }
}

/** A policy (keys in order) and a container count, to compare. */
function spaceOf(policy: object, containers: number): string {
  return JSON.stringify({ policy: Object.fromEntries(Object.entries(policy).sort()), containers });
}

/**
 * The logs a crash at `point` may leave, as records appended in LSN order:
 * without truncations, every record appended. With them, the history after
 * the first k truncations (each drops the records after its LSN appended
 * before it, then come those appended after it), for every k from the
 * truncations acknowledged by `point` to those called by then.
 */
function histories(run: RecordedRun, point: number): RecordedRecord[][] {
  const truncations = run.truncations ?? [];
  const ofGeneration = (k: number): RecordedRecord[] => run.records.filter((r) => (r.generation ?? 0) === k);
  const out: RecordedRecord[][] = [];
  let current = ofGeneration(0);
  for (let k = 0; ; k++) {
    if (k >= truncations.filter((t) => t.ackedAt <= point).length) out.push(current);
    const next = truncations[k];
    if (next === undefined || next.startedAt > point) return out;
    current = [...current.filter((r) => r.lsn <= next.lsn), ...ofGeneration(k + 1)];
  }
}

/** check() against each log the crash may leave: the problems of the closest one (none if one matches). */
function checkHistories(run: RecordedRun, point: number, got: Recovered, problems: string[]): void {
  let best: string[] | undefined;
  for (const records of histories(run, point)) {
    const found: string[] = [];
    check(run, records, point, got, found);
    if (best === undefined || found.length < best.length) best = found;
    if (found.length === 0) break;
  }
  problems.push(...(best ?? ['no history to check against']));
}

function check(run: RecordedRun, appended: RecordedRecord[], point: number, got: Recovered, problems: string[]): void {
  // A policy change or container removal: the log opens with one made at or
  // after the newest acknowledged (never a mix, never an older one); growth
  // (autoGrow) may have added containers since.
  if (run.space.length > 0) {
    let from = 0;
    run.space.forEach((s, i) => {
      if (s.ackedAt <= point) from = i;
    });
    const allowed = run.space.slice(from);
    const ok = allowed.some((s) => {
      const { containers } = JSON.parse(got.space) as { containers: number };
      const grown = s.policy.autoGrow && containers > s.containers && containers <= s.policy.maxContainers;
      return spaceOf(s.policy, grown ? containers : s.containers) === got.space;
    });
    if (!ok) {
      problems.push(
        `space state ${got.space} is none of ${allowed.map((s) => spaceOf(s.policy, s.containers)).join(' | ')}`,
      );
    }
  }
  // The archive tail: one that was set, not older than the newest acknowledged.
  if (run.archiveTails !== undefined) {
    const acked = run.archiveTails.filter((t) => t.ackedAt <= point).reduce((m, t) => (t.lsn > m ? t.lsn : m), 0n);
    if (!run.archiveTails.some((t) => t.lsn === got.archiveTail)) {
      problems.push(`archive tail ${Lsn.format(got.archiveTail)} was never set`);
    } else if (got.archiveTail < acked) {
      problems.push(`archive tail ${Lsn.format(got.archiveTail)} is older than acknowledged ${Lsn.format(acked)}`);
    }
  }
  const byLsn = new Map<Lsn, RecordedRecord>(appended.map((r) => [r.lsn, r]));
  // The base: one that was set, and not older than the newest acknowledged move.
  const bases = run.bases.map((b) => b.lsn);
  const lastAckedBase = run.bases.filter((b) => b.ackedAt <= point).reduce((m, b) => (b.lsn > m ? b.lsn : m), 0n);
  if (!bases.includes(got.base)) problems.push(`base ${Lsn.format(got.base)} was never set`);
  if (got.base < lastAckedBase)
    problems.push(`base ${Lsn.format(got.base)} is older than acknowledged ${Lsn.format(lastAckedBase)}`);

  // I2: records = appended[i..j] from the first appended at or above the base.
  const expected = appended.filter((r) => r.lsn >= got.base);
  got.records.forEach((r, i) => {
    const want = expected[i];
    const original = byLsn.get(r.lsn);
    if (original === undefined) {
      problems.push(`I2: phantom record ${Lsn.format(r.lsn)}`);
    } else if (want === undefined || want.lsn !== r.lsn) {
      problems.push(
        `I2: record ${Lsn.format(r.lsn)} at position ${i}, expected ${want ? Lsn.format(want.lsn) : 'the end'}`,
      );
    } else if (
      !same(r.data, original.data) ||
      r.type !== original.type ||
      r.undoNextLsn !== original.undoNextLsn ||
      r.previousLsn !== original.previousLsn
    ) {
      problems.push(`I1/I2: record ${Lsn.format(r.lsn)} differs from what was appended`);
    }
  });
  // I1: every acknowledged record at or above the base is there.
  const present = new Set(got.records.map((r) => r.lsn));
  for (const r of expected) {
    if (r.ackedAt <= point && !present.has(r.lsn)) {
      problems.push(`I1: acknowledged record ${Lsn.format(r.lsn)} (acked at event ${r.ackedAt}) is missing`);
      break;
    }
  }
}

function sameRecovery(a: Recovered, b: Recovered): boolean {
  return (
    a.base === b.base &&
    a.archiveTail === b.archiveTail &&
    a.records.length === b.records.length &&
    a.records.every((r, i) => r.lsn === b.records[i]!.lsn)
  );
}

export interface VerifyOptions {
  /** Also tear the metadata write of the recovery itself (I3). */
  crashDuringRecovery: boolean;
  /** Append after recovery and recover again (I4). */
  appendAfter: boolean;
  random: () => number;
}

/** The invariant violations of one image (empty when it passes). `pristine` is not changed. */
export async function verifyImage(
  run: RecordedRun,
  point: number,
  pristine: MemoryImage,
  options: VerifyOptions,
): Promise<string[]> {
  const problems: string[] = [];
  // Recovery writes metadata: the first recovery works on a copy, kept for I3 and I4.
  const image = copyImage(pristine);
  let first: Recovered;
  try {
    first = await recoverImage(image, run);
  } catch (error) {
    return [`recovery failed: ${(error as { code?: string }).code ?? ''} ${(error as Error).message}`];
  }
  checkHistories(run, point, first, problems);

  // I3: recovering again (the first recovery wrote metadata) finds the same log.
  try {
    const again = await recoverImage(copyImage(image), run);
    if (!sameRecovery(first, again)) problems.push('I3: a second recovery found a different log');
  } catch (error) {
    problems.push(`I3: the second recovery failed: ${(error as Error).message}`);
  }

  // I3: a crash in the middle of recovery's own metadata write.
  if (options.crashDuringRecovery) {
    const storage = new MemoryStorage(copyImage(pristine), { durability: run.options.durability });
    const log = await Log.openStorage('image', storage, 'strict');
    await log.close();
    const recoveryWrite = storage.events.find((e) => e.kind === 'write');
    if (recoveryWrite !== undefined && recoveryWrite.kind === 'write') {
      const torn = copyImage(pristine);
      const sectors = recoveryWrite.data.byteLength / 512;
      const mask = Math.floor(options.random() * 2 ** Math.min(sectors, 30));
      const fill: Fill = (['old', 'zero', 'garbage'] as const)[Math.floor(options.random() * 3)]!;
      applyTorn(torn, recoveryWrite, (s) => ((mask >>> (s % 30)) & 1) === 1, fill, options.random);
      try {
        const after = await recoverImage(torn, run);
        if (!sameRecovery(first, after))
          problems.push('I3: recovery after a crash during recovery found a different log');
      } catch (error) {
        problems.push(`I3: recovery after a crash during recovery failed: ${(error as Error).message}`);
      }
    }
  }

  // I4: appends after recovery go on from the recovered end; nothing stale returns.
  if (options.appendAfter) {
    try {
      const work = copyImage(image);
      const storage = new MemoryStorage(work, { durability: run.options.durability });
      const log = await Log.openStorage('image', storage, 'strict');
      const area = await log.createMarshallingArea({ bufferSize: Math.max(run.bufferSize, 4096), flushIntervalMs: 0 });
      const marker = new TextEncoder().encode('after-recovery');
      const lsns: Lsn[] = [];
      for (let i = 0; i < 3; i++) {
        const entries = [marker, new Uint8Array([i])];
        const appended = await area.reserveAndAppend(entries, { forceFlush: true }).catch(async (error: unknown) => {
          // A log recovered full is legitimately full: make room as a user would.
          if ((error as { code?: string }).code !== 'ERR_CLFS_LOG_FULL') throw error;
          await area.advanceLogBase(log.information().lastLsn);
          if (log.information().archive) await log.setArchiveTail(log.information().lastLsn);
          return area.reserveAndAppend(entries, { forceFlush: true });
        });
        lsns.push(appended.lsn!);
      }
      // Everything was flushed: a crash now leaves the image as it is.
      await log.close();
      const after = await recoverImage(work, run);
      const newOnes = after.records.filter((r) => lsns.includes(r.lsn));
      if (newOnes.length !== 3) problems.push(`I4: ${3 - newOnes.length} records appended after recovery are missing`);
      const old = after.records.filter((r) => !lsns.includes(r.lsn));
      if (
        !sameRecovery(
          { ...after, records: old },
          { ...after, records: first.records.filter((r) => r.lsn >= after.base) },
        )
      ) {
        problems.push(
          'I4: after recovery and new appends, the older records changed (a stale record came back or one vanished)',
        );
      }
      if (lsns.some((l) => first.records.length > 0 && l <= first.records[first.records.length - 1]!.lsn)) {
        problems.push('I4: a record appended after recovery got an LSN not above the recovered end');
      }
    } catch (error) {
      problems.push(`I4: appending after recovery failed: ${(error as Error).message}`);
    }
  }
  return problems;
}
