/**
 * A load for the job queue, as a program: producers enqueue the jobs of a
 * plan while consumers take and acknowledge them; some consumers "crash"
 * (take a job and never acknowledge it). It prints a line on stdout for
 * each thing it knows for sure, so a parent that kills it at any moment
 * knows what was acknowledged.
 *
 *     node dist/examples/queue/load.js <queue directory> <plan.json>
 *
 * The plan (JSON): `{ "jobs": ["payload", ...], "producers": n, "consumers": n, "dropEvery": n }`:
 * every `dropEvery`-th job a consumer takes is dropped (its consumer dies; the queue gives it to
 * another after 200 ms).
 * Lines: `ready <json>` (the jobs ready after recovery, oldest first),
 * `enq <payload>` once an enqueue is durable, `ack-call <payload>` before an
 * acknowledgement is asked for and `ack <payload>` once it is durable, `done` when every job is enqueued.
 * @module
 */
import { readFileSync } from 'node:fs';

import { ClfsError } from 'clfs';

import { openWhileLocked, run, say } from '../shared/log.ts';
import { JobQueue, type Job } from './queue.ts';

interface Plan {
  jobs: string[];
  producers: number;
  consumers: number;
  dropEvery: number;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function main(): Promise<void> {
  const [dir, planFile] = process.argv.slice(2);
  if (dir === undefined || planFile === undefined) throw new Error('usage: load.js <queue directory> <plan.json>');
  const plan = JSON.parse(readFileSync(planFile, 'utf8')) as Plan;
  const queue = await openWhileLocked(() =>
    JobQueue.open(dir, { containerSize: 512 * 1024, containers: 3, redeliverAfterMs: 200 }),
  );
  const ready: Job[] = [];
  for (let job = queue.take(); job !== undefined; job = queue.take()) ready.push(job);
  say(`ready ${JSON.stringify(ready.map((job) => job.payload))}`);
  for (const job of ready.reverse()) queue.release(job);

  let next = 0;
  let taken = 0;
  let producing = plan.producers;
  const producer = async (): Promise<void> => {
    for (let i = next++; i < plan.jobs.length; i = next++) {
      for (;;) {
        try {
          await queue.enqueue(plan.jobs[i]!);
          break;
        } catch (error) {
          // Back-pressure: the log stayed full (consumers are behind); try again.
          if (!(error instanceof ClfsError && error.code === 'ERR_CLFS_LOG_FULL')) throw error;
        }
      }
      say(`enq ${plan.jobs[i]!}`);
    }
    producing--;
  };
  const consumer = async (): Promise<void> => {
    for (;;) {
      const job = queue.take();
      if (job === undefined) {
        if (producing === 0) return;
        await sleep(1);
        continue;
      }
      if (++taken % plan.dropEvery === 0) continue; // this consumer died holding the job
      await sleep(taken % 3);
      say(`ack-call ${job.payload}`);
      await queue.ack(job);
      say(`ack ${job.payload}`);
    }
  };
  await Promise.all([
    ...Array.from({ length: plan.producers }, producer),
    ...Array.from({ length: plan.consumers }, consumer),
  ]);
  say('done');
  await queue.close();
}

run(main);
