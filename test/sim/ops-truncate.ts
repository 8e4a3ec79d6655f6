/**
 * The truncation operation (area.truncateLog), racing the other calls of
 * the schedule: appends, flushes, base moves, reads, policy changes and
 * closes. A truncation takes its turn among appends in call order, so the
 * model (Model.beginTruncate) sets the records after its target aside when
 * it is called: an append made before it lands before it and is dropped
 * when after the target (its pending flush, and any flush or base move
 * waiting past the target, reject with ERR_CLFS_TRUNCATED), one made after
 * it lands after it. When it settles (Model.endTruncate) what it set aside
 * is gone (resolved), back (refused) or may be either (the log fail-stopped
 * during it). The races of a truncation with other calls are also tested
 * in test/area/truncate.test.ts, and crashes at each of its writes by the
 * crash tier's truncation workloads.
 *
 * What it checks: the answer (a record in [base, last] at or after the
 * newest restart record succeeds, anything else is ERR_CLFS_TAIL_INVALID,
 * also when a base move, a restart area or another truncation racing it
 * may have made it so); after it, every later read, append (LSNs above the
 * new end, dropped LSNs given again) and recovery (I1-I4: a dropped record
 * that comes back is a record the model does not know) is checked against
 * the truncated log. Calls racing it are marked (Call.raced): what they see
 * may be from before it or after it. Held read contexts on a dropped record
 * have ended (their next() must be null) when nothing raced it.
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
  const pending = env.inst.calls.filter((c) => !c.settled && !c.crashed);
  const code: { value: string | undefined } = { value: undefined };
  const settle = (outcome: 'done' | 'unknown' | 'none', callId: number): void => {
    // Reads of records it set aside, made meanwhile, are checked before they go.
    env.checkObservations();
    model.endTruncate(callId, outcome);
    if (outcome === 'none') return;
    // What an area closes with is its records still there.
    for (const a of env.inst.areas) if (a.lastResolved > target) a.lastResolved = target;
  };
  // Reads made before it of records whose LSN it may give again.
  env.checkObservations(target);
  const { call, done } = track(
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
        // A base move or an archive tail set meanwhile may pass it (neither
        // waits for the appends' turn), and a snapshot taken meanwhile may
        // cover what it drops.
        also: (c) =>
          (c === 'ERR_CLFS_TAIL_INVALID' &&
            (target < model.maxPossibleBase ||
              (env.config.archive === true && target < env.inst.log.core.bases.archiveTailLsn))) ||
          (c === 'ERR_CLFS_ARCHIVE_IN_PROGRESS' && holdsSnapshot(env.inst)),
      },
      ok: (_, call) => {
        const refused = why ?? archived;
        if (refused !== undefined) model.report.add('accepted', `${call.label} succeeded, but ${refused}`);
        // Made after the log fail-stopped, it must fail. One pending when a later
        // call's write failed may still resolve, its own I/O done first (as
        // ops-write.ts's checkFailStop says): the reopen's I1 checks it held.
        if (failStopped)
          model.report.add('I6', `${call.label} resolved (a durable truncation), made after the log fail-stopped`);
        if (why !== undefined) model.beginTruncate(target, call.id);
        settle('done', call.id);
        const alone = call.raced !== true && !raced;
        for (const c of env.inst.contexts) {
          if (c.terminated || c.current.lsn <= target) continue;
          if (alone) c.ended = true;
          else c.raced = true;
        }
      },
      failed: (error, call) => {
        code.value = codeOf(error);
        if (why !== undefined) return;
        settle(code.value === 'ERR_CLFS_IO_FAILED' ? 'unknown' : 'none', call.id);
      },
    },
  );
  // Calls pending now race it; so do calls made while it is in flight (track marks them).
  const raced = pending.length > 0;
  for (const c of pending) c.raced = true;
  if (why === undefined) model.beginTruncate(target, call.id);
  return done.then(() => code.value);
}
