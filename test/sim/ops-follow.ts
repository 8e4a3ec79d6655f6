/**
 * A read-only follower beside the writer (issue 11 §1): a second log
 * opened with `readOnly` on the same simulated disk, refreshed and read
 * forward from where it last stopped. It may lag, but whatever it returns
 * must be a record the model knows, byte-exact (checkRead), in LSN order,
 * and durable: it counts as acknowledged (Model.acknowledge), so a crash
 * that loses it, or a read after it that does not find it, is a violation.
 * The follower lives as long as the writer's instance.
 * @module
 */
import { Log } from '../../lib/log/log.ts';
import type { MarshallingArea } from '../../lib/log/marshalling-area.ts';
import { Lsn } from '../../lib/lsn.ts';
import type { Env } from './env.ts';
import { codeOf, track, type Allowed } from './instance.ts';
import { fmt, type ModelRecord } from './model.ts';
import { checkRead } from './ops-read.ts';
import type { SimStorage } from './storage.ts';

/** The instance's follower, made by its first follow op (they run one at a time). */
export interface FollowerHandle {
  opened?: { log: Log; area: MarshallingArea; bufferSize: number };
  storage?: SimStorage;
  /** The last record it returned (-1: none yet). */
  last: bigint;
  busy: boolean;
}

async function openFollower(env: Env, follower: FollowerHandle): Promise<NonNullable<FollowerHandle['opened']>> {
  const storage = (follower.storage = env.inst.storage.sibling(`f${env.inst.n}`));
  const log = await Log.openStorage('follower', storage, 'strict', { readOnly: true });
  const bufferSize = Math.max(env.largestBuffer, 4096);
  return { log, area: await log.createMarshallingArea({ bufferSize }), bufferSize };
}

export function follow(env: Env, op: { k: 'follow'; limit: number }): Promise<string | undefined> {
  const { inst, model } = env;
  const follower = (inst.follower ??= { last: -1n, busy: false });
  if (follower.busy) return Promise.resolve('busy');
  follower.busy = true;
  const from = follower.last;
  const code: { value: string | undefined } = { value: undefined };
  const allowed: Allowed = {
    codes: [
      // The base moved past where it stopped; a truncation dropped it.
      'ERR_CLFS_START_OF_LOG',
      'ERR_CLFS_INVALID_LSN',
      'ERR_CLFS_TRUNCATED',
    ],
    read: true,
    also: (c) => c === 'ERR_CLFS_RECORD_TOO_LARGE' && (follower.opened?.bufferSize ?? 0) < env.largestBuffer,
  };
  const label = `follow ${op.limit} from ${from < 0n ? 'the base' : fmt(from)}`;
  const { done } = track(
    inst,
    env.tracker,
    label,
    async () => {
      const { log, area } = (follower.opened ??= await openFollower(env, follower));
      await log.refresh();
      // The view is a prefix of the log: its base and restart area name records it serves.
      const { baseLsn, lastLsn, restartLsn } = log.information();
      for (const [name, lsn] of [
        ['base', baseLsn],
        ['restart area', restartLsn],
      ] as const) {
        if (lastLsn !== Lsn.INVALID && lsn !== Lsn.INVALID && lsn > lastLsn) {
          model.report.add(
            'follower-view',
            `${label}: the view's ${name} ${fmt(lsn)} is past its last record ${fmt(lastLsn)}`,
          );
        }
      }
      // From the base as a reader that asks the log for it would (tail's restart does).
      const start = from >= 0n ? from : lastLsn === Lsn.INVALID ? undefined : baseLsn;
      const out: ModelRecord[] = [];
      for await (const r of area.records(start, 'forward', { type: 'client' })) {
        if (r.lsn <= from) continue;
        out.push({
          lsn: r.lsn,
          type: r.type,
          data: r.data.slice(),
          undoNextLsn: r.undoNextLsn,
          previousLsn: r.previousLsn,
        });
        if (out.length >= op.limit) break;
      }
      return out;
    },
    {
      allowed,
      ok: (list, call) => {
        follower.busy = false;
        let previous = from;
        for (const r of list) {
          if (r.lsn <= previous) {
            model.report.add('follower-order', `${call.label} returned ${fmt(r.lsn)} after ${fmt(previous)}`);
          }
          previous = r.lsn;
          checkRead(env, r, call.label, call.raced === true);
        }
        if (list.length > 0) {
          follower.last = previous;
          // What a follower returns is durable: everything up to it must survive any crash.
          model.acknowledge(previous, call.id);
        }
      },
      failed: (error) => {
        follower.busy = false;
        code.value = codeOf(error);
        // Start again from the base.
        follower.last = -1n;
      },
    },
  );
  return done.then(() => code.value);
}
