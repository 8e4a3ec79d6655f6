/**
 * The truncation operation (area.truncateLog). The driver makes it once
 * every other call of the instance has settled (driver.ts truncateAlone),
 * so the model knows the log exactly: which records exist, the base, the
 * newest restart record. The races of a truncation with other calls are
 * tested in test/area/truncate.test.ts, and crashes at each of its writes
 * by the crash tier's truncation workloads.
 *
 * What it checks: the answer (a record in [base, last] at or after the
 * newest restart record succeeds, anything else is ERR_CLFS_TAIL_INVALID);
 * after it, the model drops the records after the LSN (Model.truncate), so
 * every later read, append (LSNs above the new end, dropped LSNs given
 * again) and recovery (I1-I4: a dropped record that comes back is a record
 * the model does not know) is checked against the truncated log. Held read
 * contexts on a dropped record have ended (their next() must be null).
 * @module
 */
import { noRecordLsn, resolvePick } from './args.ts';
import type { Env } from './env.ts';
import { codeOf, track } from './instance.ts';
import { fmt } from './model.ts';
import { holdsSnapshot } from './ops-archive.ts';
import type { OpBody } from './plan.ts';

export function truncate(env: Env, op: Extract<OpBody, { k: 'truncate' }>): Promise<string | undefined> {
  const area = env.area(op.area);
  if (area === undefined) return Promise.resolve('no area');
  const { model } = env;
  const restart = model.restartLsns().at(-1) ?? -1n;
  // A rank picks among the records it may name (the other picks try the errors).
  const eligible = model.lsns.filter((l) => l >= model.ackedBase && l >= restart);
  const target =
    op.target >= 0 && eligible.length > 0
      ? eligible[Math.min(eligible.length - 1, Math.floor(op.target * eligible.length))]!
      : (resolvePick(op.target, model, env.random) ?? noRecordLsn(model));
  const last = env.lastLsn();
  const why =
    target < model.ackedBase
      ? `${fmt(target)} is below the base ${fmt(model.ackedBase)}`
      : target > last || !model.records.has(target)
        ? `${fmt(target)} names no record (last ${fmt(last)})`
        : target < restart
          ? `${fmt(target)} is below the newest restart record ${fmt(restart)}`
          : undefined;
  // A base some failed call may have set, or a restart record the model has only as an attempt.
  const mayBeBad = target < model.maxPossibleBase || model.openAttempts().some((a) => a.type === 'restart');
  // An archive log: not below the archive tail, nor what a held snapshot covers (ops-archive.ts).
  const archiveTail = env.config.archive === true ? env.inst.log.core.bases.archiveTailLsn : -1n;
  const archived = target < archiveTail ? `${fmt(target)} is below the archive tail ${fmt(archiveTail)}` : undefined;
  const snapshot = holdsSnapshot(env.inst) ? ['ERR_CLFS_ARCHIVE_IN_PROGRESS'] : [];
  const failStopped = env.failStopped();
  const code: { value: string | undefined } = { value: undefined };
  const { done } = track(
    env.inst,
    env.tracker,
    `truncate ${fmt(target)} a${area.index}`,
    () => area.area.truncateLog(target),
    {
      allowed: {
        codes: [
          ...(why !== undefined || mayBeBad || archived !== undefined ? ['ERR_CLFS_TAIL_INVALID'] : []),
          ...snapshot,
        ],
        area,
      },
      ok: (_, call) => {
        const refused = why ?? archived;
        if (refused !== undefined) model.report.add('accepted', `${call.label} succeeded, but ${refused}`);
        if (failStopped || env.failStopped()) {
          model.report.add('I6', `${call.label} resolved (a durable truncation) on a fail-stopped log`);
        }
        model.truncate(target, true, call.id);
        // What an area closes with is its records still there.
        for (const a of env.inst.areas) if (a.lastResolved > target) a.lastResolved = target;
        for (const c of env.inst.contexts) if (!c.terminated && c.current.lsn > target) c.ended = true;
      },
      failed: (error, call) => {
        code.value = codeOf(error);
        if (code.value !== 'ERR_CLFS_IO_FAILED') return;
        model.truncate(target, false, call.id);
        for (const a of env.inst.areas) if (a.lastResolved > target) a.lastResolved = target;
      },
    },
  );
  return done.then(() => code.value);
}
