/**
 * Archiving as a simulator operation (lib/log/archive.ts): `archive` moves
 * the archive tail (log.setArchiveTail) or takes an archive snapshot
 * (log.prepareArchive), released at once or held until the next `archive`
 * operation of the instance (a held one refuses truncations of what it
 * covers: ops-truncate.ts).
 *
 * What it checks: on an ephemeral log both are ERR_CLFS_EPHEMERAL; on an
 * archive log a tail move succeeds only to a record the model knows, at or
 * above the tail before it (else ERR_CLFS_TAIL_INVALID), and the tail never
 * goes back: information().archiveTailLsn is at least every acknowledged
 * move, also after a crash and reopen (crash-safe metadata). A snapshot
 * starts at the archive tail, names extents in LSN order, each after the
 * one before, and covers every record acknowledged before the call (its
 * last record is one the model knows). A lagging archive tail fills the
 * log as a lagging base does: appends may then get ERR_CLFS_LOG_FULL (the
 * model allows it wherever it allows a full log), and a tail-advance
 * request says `heldBy: 'archive-tail'` (ops-space.ts answers it by moving
 * both).
 * @module
 */
import type { ArchiveSnapshot } from '../../lib/log/archive.ts';
import { resolvePick } from './args.ts';
import type { Env } from './env.ts';
import { codeOf, track, type Instance, type Tracker } from './instance.ts';
import { fmt } from './model.ts';
import type { OpBody } from './plan.ts';

type Body = Extract<OpBody, { k: 'archive' }>;

/** What lasts across a run's instances: the newest acknowledged archive tail. */
const acked = new WeakMap<Tracker, { tail: bigint }>();
/** Snapshots an instance holds. */
const held = new WeakMap<Instance, ArchiveSnapshot[]>();

function ackedOf(tracker: Tracker): { tail: bigint } {
  let state = acked.get(tracker);
  if (state === undefined) {
    state = { tail: -1n };
    acked.set(tracker, state);
  }
  return state;
}

/** Whether the instance holds an archive snapshot (truncations of what it covers are refused). */
export function holdsSnapshot(inst: Instance): boolean {
  return (held.get(inst)?.length ?? 0) > 0;
}

/** The archive tail information() reports now, checked against the acknowledged one (-1n: unknown). */
function tailNow(env: Env): bigint {
  const { inst, tracker } = env;
  let tail: bigint;
  try {
    tail = inst.log.information().archiveTailLsn;
  } catch {
    return -1n;
  }
  const state = ackedOf(tracker);
  if (tail < state.tail) {
    inst.model.report.add(
      'archive-tail',
      `archiveTailLsn ${fmt(tail)} is older than the acknowledged ${fmt(state.tail)}`,
    );
  }
  return tail;
}

export function archive(env: Env, op: Body): Promise<string | undefined> {
  const { inst, model, tracker, config } = env;
  const snapshots = held.get(inst) ?? [];
  held.set(inst, []);
  for (const s of snapshots) s.release();
  const ephemeral = config.archive !== true;
  const code: { value: string | undefined } = { value: undefined };
  const failed = (error: unknown): void => void (code.value = codeOf(error));
  if (op.prepare) {
    const bound = model.ackBound;
    const tail = ephemeral ? -1n : tailNow(env);
    const { done } = track(inst, tracker, 'prepareArchive', () => inst.log.prepareArchive(), {
      allowed: { codes: ephemeral ? ['ERR_CLFS_EPHEMERAL'] : [] },
      ok: (snapshot, call) => {
        if (op.hold) held.get(inst)?.push(snapshot);
        else snapshot.release();
        const report = model.report;
        if (ephemeral) report.add('accepted', `${call.label} succeeded on an ephemeral log`);
        if (snapshot.fromLsn < tail)
          report.add('archive', `${call.label} starts at ${fmt(snapshot.fromLsn)}, below the tail ${fmt(tail)}`);
        if (
          bound >= 0n &&
          (snapshot.lastLsn === -1n || snapshot.lastLsn < bound || snapshot.lastLsn >= 0xffff_ffff_0000_0000n)
        ) {
          report.add(
            'archive',
            `${call.label} ends at ${fmt(snapshot.lastLsn)}, before the acknowledged ${fmt(bound)}`,
          );
        }
        let previous = -1n;
        for (const e of snapshot.extents) {
          if (e.firstLsn < previous || e.length <= 0 || e.endLsn <= e.firstLsn) {
            report.add('archive', `${call.label}: extents out of order at ${fmt(e.firstLsn)}`);
          }
          previous = e.endLsn;
        }
      },
      failed,
    });
    return done.then(() => code.value);
  }
  const target = resolvePick(op.target, model, env.random) ?? -1n;
  if (target < 0n) return Promise.resolve('no record');
  const before = ephemeral ? -1n : tailNow(env);
  // A record when called, or when it resolves: a truncation called meanwhile
  // sets aside the records past its target until it settles (and fails when
  // the archive tail passes its target).
  const named = (): boolean => model.records.has(target) || model.belowBase.includes(target);
  const namedAtCall = named();
  const { done } = track(inst, tracker, `setArchiveTail ${fmt(target)}`, () => inst.log.setArchiveTail(target), {
    allowed: { codes: ephemeral ? ['ERR_CLFS_EPHEMERAL'] : ['ERR_CLFS_TAIL_INVALID'] },
    ok: (_, call) => {
      const report = model.report;
      if (ephemeral) report.add('accepted', `${call.label} succeeded on an ephemeral log`);
      if (!namedAtCall && !named()) report.add('accepted', `${call.label} succeeded, but it names no record`);
      if (target < before) report.add('accepted', `${call.label} succeeded below the tail ${fmt(before)}`);
      const state = ackedOf(tracker);
      if (target > state.tail) state.tail = target;
      if (inst.closedAt === undefined) tailNow(env);
    },
    failed,
  });
  return done.then(() => code.value);
}
