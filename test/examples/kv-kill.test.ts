// examples/kv under SIGKILL: a child runs the store under load (8
// transactions at once on 24 keys, a fifth of them aborted, conflicts dying
// and retrying, checkpoints every few commits and when the log asks); the
// parent kills it at random moments (about one in six while it is still
// recovering from the last kill) and checks after each restart that every
// acknowledged commit's effects are there, no effect of a transaction that
// never asked to commit is, and a commit in doubt is all there or not at
// all. Replays with CLFS_EXAMPLES_SEED.
import { writeFileSync } from 'node:fs';

import { afterAll, describe, expect, it } from 'vitest';

import { int, pick, prng, replay, scratchFiles, seedFrom, chance } from '../support/fixtures.ts';
import { KILLS, runExample, sleep } from './kill-loop.ts';

const SEED = seedFrom('CLFS_EXAMPLES_SEED');
const scratch = scratchFiles('clfs-example-kv-kill-');
const KEYS = Array.from({ length: 24 }, (_, i) => `key${i}`);
const summary: string[] = [];

afterAll(() =>
  console.log(`examples/kv kill test (${KILLS} kills, ${replay(SEED, 'CLFS_EXAMPLES_SEED')}):\n${summary.join('\n')}`),
);

interface PlannedTxn {
  ops: [string, string | null][];
  abort: boolean;
}

function makePlan(
  random: () => number,
  round: number,
): { workers: number; checkpointEvery: number; txns: PlannedTxn[] } {
  const txns = Array.from({ length: 4000 }, (_, i): PlannedTxn => {
    const ops = Array.from({ length: int(random, 1, 4) }, (_, j): [string, string | null] => [
      pick(random, KEYS),
      chance(random, 0.1) ? null : `r${round}t${i}o${j}`,
    ]);
    return { ops, abort: chance(random, 0.2) };
  });
  return { workers: 8, checkpointEvery: pick(random, [3, 10, 40]), txns };
}

/** Every state the store may recover: acknowledged commits applied in order; unacknowledged ones may or may not be there. */
function allowedValues(
  before: Map<string, string>,
  plan: PlannedTxn[],
  lines: readonly string[],
): {
  acked: Map<string, string | null>;
  maybe: Map<string, Set<string | null>>;
  unacked: Set<string>;
  order: Map<string, number>;
  finals: (tag: string) => Map<string, string | null>;
} {
  const acked = new Map<string, string | null>(before);
  const calls = new Set<string>();
  const order = new Map<string, number>();
  const finals = (tag: string): Map<string, string | null> => {
    const out = new Map<string, string | null>();
    for (const [key, value] of plan[Number(tag.split('.')[0])]!.ops)
      out.set(key, value === null ? null : `${value}@${tag}`);
    return out;
  };
  for (const line of lines) {
    const [what, tag] = line.split(' ');
    if (what === 'commit-call') {
      calls.add(tag!);
      order.set(tag!, order.size);
    }
    if (what === 'commit') {
      calls.delete(tag!);
      for (const [key, value] of finals(tag!)) acked.set(key, value);
    }
  }
  const maybe = new Map<string, Set<string | null>>();
  for (const tag of calls) {
    for (const [key, value] of finals(tag)) {
      if (!maybe.has(key)) maybe.set(key, new Set());
      maybe.get(key)!.add(value);
    }
  }
  return { acked, maybe, unacked: calls, order, finals };
}

/**
 * Atomicity of the commits in doubt: one whose value shows on any key shows
 * on all of its keys, unless a transaction that asked to commit after it
 * (so after its commit was durable: strict 2PL) overwrote the key.
 */
function checkAtomic(got: Map<string, string>, seen: ReturnType<typeof allowedValues>, where: string): void {
  const writer = (value: string | undefined): string | undefined => value?.slice(value.lastIndexOf('@') + 1);
  const visible = new Set([...got.values()].map(writer));
  for (const tag of seen.unacked) {
    if (!visible.has(tag)) continue;
    for (const [key, value] of seen.finals(tag)) {
      const now = got.get(key) ?? null;
      if (now === value) continue;
      const later = [...seen.order].some(
        ([other, at]) =>
          at > seen.order.get(tag)! &&
          seen.finals(other).has(key) &&
          (now === null ? seen.finals(other).get(key) === null : writer(now) === other),
      );
      expect(later, `${where}: transaction ${tag} is half there (${key} = ${now})`).toBe(true);
    }
  }
}

describe('examples/kv under SIGKILL', () => {
  it(`${KILLS} kills under load: after each restart every acknowledged commit is there and no loser's effect is`, async () => {
    const random = prng(SEED);
    const dir = scratch.fresh('store');
    let truth = new Map<string, string>();
    let previous: { plan: PlannedTxn[]; lines: readonly string[] } | undefined;
    let duringRecovery = 0;
    let duringCheckpoint = 0;
    let losers = 0;
    let compensated = 0;
    let commits = 0;
    for (let round = 0; round <= KILLS; round++) {
      const plan = round === KILLS ? { workers: 1, checkpointEvery: 0, txns: [] } : makePlan(random, round);
      const planFile = scratch.fresh('plan');
      writeFileSync(planFile, JSON.stringify(plan));
      const run = runExample('kv/load', [dir, planFile]);
      const early = round < KILLS && chance(random, 0.17);
      if (early) {
        // Killed while recovering (or just after): recovery must recover again.
        await sleep(int(random, 0, 60));
        await run.kill();
        if (run.lines.some((line) => line.startsWith('ready'))) {
          // It got through: what it printed counts like any round's.
        } else {
          duringRecovery++;
          continue;
        }
      }
      const ready = await run.line('ready ');
      if (ready === undefined) {
        const end = await run.exited;
        throw new Error(
          `round ${round}: the store did not open (${end.code} ${end.signal}): ${end.stderr}; ${replay(SEED, 'CLFS_EXAMPLES_SEED')}`,
        );
      }
      const recovered = JSON.parse(ready.slice('ready '.length)) as {
        entries: [string, string][];
        recovery: { losers: number[]; compensated: number };
      };
      const got = new Map(recovered.entries);
      if (previous !== undefined) {
        const seen = allowedValues(truth, previous.plan, previous.lines);
        const { acked, maybe } = seen;
        checkAtomic(got, seen, `round ${round}, ${replay(SEED, 'CLFS_EXAMPLES_SEED')}`);
        for (const key of new Set([...acked.keys(), ...maybe.keys(), ...got.keys()])) {
          const allowed = new Set([acked.get(key) ?? null, ...(maybe.get(key) ?? [])]);
          expect(allowed, `round ${round}, ${key}: ${replay(SEED, 'CLFS_EXAMPLES_SEED')}`).toContain(
            got.get(key) ?? null,
          );
        }
        commits += previous.lines.filter((line) => line.startsWith('commit ')).length;
      }
      truth = got;
      losers += recovered.recovery.losers.length;
      compensated += recovered.recovery.compensated;
      if (round < KILLS && !early) {
        await sleep(int(random, 30, 700));
        await run.kill();
      }
      const end = await run.exited;
      if (end.signal !== 'SIGKILL' && end.code !== 0) throw new Error(`round ${round}: the load failed: ${end.stderr}`);
      const checkpoints = run.lines.filter((line) => line.startsWith('checkpoint-'));
      if (end.signal === 'SIGKILL' && checkpoints.at(-1) === 'checkpoint-start') duringCheckpoint++;
      previous = { plan: plan.txns, lines: [...run.lines] };
    }
    summary.push(
      `${KILLS} kills (${duringRecovery} during recovery, ${duringCheckpoint} during a checkpoint), ${commits} acknowledged commits checked, ` +
        `${losers} losers rolled back by recovery with ${compensated} compensation records`,
    );
  }, 600_000);
});
