// examples/queue under SIGKILL: a child enqueues and consumes jobs (some
// consumers die holding a job); the parent kills it at random moments
// (sometimes while it is still recovering) and checks after each restart,
// at-least-once: every job whose enqueue was acknowledged and that no
// consumer asked to acknowledge is ready again, no job whose ack was acknowledged is, and nothing that
// was never enqueued is. Replays with CLFS_EXAMPLES_SEED.
import { writeFileSync } from 'node:fs';

import { afterAll, describe, expect, it } from 'vitest';

import { chance, int, pick, prng, replay, scratchFiles, seedFrom } from '../support/fixtures.ts';
import { KILLS, runExample, sleep } from './kill-loop.ts';

const SEED = seedFrom('CLFS_EXAMPLES_SEED');
const scratch = scratchFiles('clfs-example-queue-kill-');
const summary: string[] = [];

afterAll(() =>
  console.log(
    `examples/queue kill test (${KILLS} kills, ${replay(SEED, 'CLFS_EXAMPLES_SEED')}):\n${summary.join('\n')}`,
  ),
);

describe('examples/queue under SIGKILL', () => {
  it(`${KILLS} kills: after each restart every durable job nobody acknowledged is delivered again, no acknowledged one is`, async () => {
    const random = prng(SEED);
    const dir = scratch.fresh('queue');
    const called = new Set<string>(); // every payload ever enqueued (acknowledged or not)
    const enqueued = new Set<string>(); // enqueue acknowledged
    const ackCalled = new Set<string>(); // ack asked for (it may be durable, unacknowledged)
    const acked = new Set<string>(); // ack acknowledged
    let duringRecovery = 0;
    let redelivered = 0;
    for (let round = 0; round <= KILLS; round++) {
      const last = round === KILLS;
      const jobs = last ? [] : Array.from({ length: 20_000 }, (_, i) => `r${round}j${i}`);
      for (const job of jobs) called.add(job);
      const plan = {
        jobs,
        producers: last ? 0 : int(random, 1, 4),
        consumers: last ? 0 : int(random, 1, 6),
        dropEvery: pick(random, [7, 31, 97]),
      };
      const planFile = scratch.fresh('plan');
      writeFileSync(planFile, JSON.stringify(plan));
      const run = runExample('queue/load', [dir, planFile]);
      const early = !last && chance(random, 0.17);
      if (early) {
        await sleep(int(random, 0, 60));
        await run.kill();
      }
      const ready = await run.line('ready ');
      if (ready === undefined) {
        const end = await run.exited;
        if (early && end.signal === 'SIGKILL') {
          duringRecovery++;
          continue;
        }
        throw new Error(`round ${round}: the queue did not open (${end.code} ${end.signal}): ${end.stderr}`);
      }
      const pending = JSON.parse(ready.slice('ready '.length)) as string[];
      const where = `round ${round}, ${replay(SEED, 'CLFS_EXAMPLES_SEED')}`;
      expect(new Set(pending).size, `no job twice in the ready list, ${where}`).toBe(pending.length);
      const set = new Set(pending);
      const lost = [...enqueued].filter((job) => !ackCalled.has(job) && !set.has(job));
      expect(lost, `durable jobs nobody acknowledged are delivered again, ${where}`).toEqual([]);
      expect(
        pending.filter((job) => acked.has(job)),
        `acknowledged jobs are not, ${where}`,
      ).toEqual([]);
      expect(
        pending.filter((job) => !called.has(job)),
        `nothing else is, ${where}`,
      ).toEqual([]);
      redelivered += pending.length;
      if (!early && !last) {
        await sleep(int(random, 30, 700));
        await run.kill();
      }
      const end = await run.exited;
      if (end.signal !== 'SIGKILL' && end.code !== 0) throw new Error(`round ${round}: the load failed: ${end.stderr}`);
      for (const line of run.lines) {
        const [what, job] = line.split(' ');
        if (what === 'enq') enqueued.add(job!);
        if (what === 'ack-call') ackCalled.add(job!);
        if (what === 'ack') acked.add(job!);
      }
    }
    summary.push(
      `${KILLS} kills (${duringRecovery} during recovery): ${enqueued.size} enqueues and ${acked.size} acks acknowledged, ` +
        `${redelivered} deliveries after restarts checked`,
    );
  }, 600_000);
});
