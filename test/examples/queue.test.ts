// examples/queue in process: the base follows the acknowledged prefix, an
// out-of-order ack is remembered across a crash, jobs of a dead consumer
// come back, a full log holds producers back while acks still go through.
import { cpSync } from 'node:fs';

import { afterEach, describe, expect, it } from 'vitest';

import { ClfsError } from 'clfs';

import { JobQueue, type Job } from '../../examples/queue/queue.ts';
import { scratchFiles } from '../support/fixtures.ts';

const scratch = scratchFiles('clfs-example-queue-');
const open: JobQueue[] = [];

afterEach(async () => {
  for (const queue of open.splice(0)) await queue.close().catch(() => undefined);
});

async function openQueue(dir: string, options: Parameters<typeof JobQueue.open>[1] = {}): Promise<JobQueue> {
  const queue = await JobQueue.open(dir, options);
  open.push(queue);
  return queue;
}

/** The queue's files as they are now (every acknowledged write), opened: a crash of the process. */
async function crashImage(dir: string): Promise<JobQueue> {
  const copy = scratch.fresh('crash');
  cpSync(dir, copy, { recursive: true });
  return openQueue(copy);
}

function takeAll(queue: JobQueue): Job[] {
  const jobs: Job[] = [];
  for (let job = queue.take(); job !== undefined; job = queue.take()) jobs.push(job);
  return jobs;
}

describe('examples/queue', () => {
  it('acks move the base over the acknowledged prefix only; an ack out of order is remembered across a crash', async () => {
    const dir = scratch.fresh();
    const queue = await openQueue(dir);
    for (const payload of ['one', 'two', 'three', 'four']) await queue.enqueue(payload);
    const [one, two, three] = takeAll(queue);
    const base = queue.baseLsn;
    await queue.ack(two!);
    await queue.ack(three!);
    await queue.settled();
    expect(queue.baseLsn).toBe(base); // 'one' is not acknowledged: the base stays below it
    const crashed = await crashImage(dir);
    expect(takeAll(crashed).map((job) => job.payload)).toEqual(['one', 'four']);
    await queue.ack(one!);
    await queue.settled();
    expect(queue.baseLsn).toBe(three!.id); // over one, two and three at once
    const again = await crashImage(dir);
    expect(takeAll(again).map((job) => job.payload)).toEqual(['four']);
  });

  it('a consumer that dies holding a job: the job comes back after a restart, and in process after redeliverAfterMs', async () => {
    const dir = scratch.fresh();
    const queue = await openQueue(dir, { redeliverAfterMs: 50 });
    await queue.enqueue('job');
    const held = queue.take()!;
    expect(queue.take()).toBeUndefined();
    const crashed = await crashImage(dir);
    expect(takeAll(crashed).map((job) => job.payload)).toEqual(['job']);
    await new Promise((resolve) => setTimeout(resolve, 60));
    const again = queue.take()!;
    expect(again).toEqual(held);
    // Both holders ack (at-least-once: it was delivered twice); both wait for the record.
    await Promise.all([queue.ack(held), queue.ack(again)]);
    expect(takeAll(await crashImage(dir))).toEqual([]);
  });

  it('HandleLogFull: producers wait for room (then ERR_CLFS_LOG_FULL); acks never do, and moving the base frees room', async () => {
    const dir = scratch.fresh();
    const queue = await openQueue(dir, { containerSize: 512 * 1024, containers: 2, logFullTimeoutMs: 100 });
    let full: unknown;
    let count = 0;
    for (; full === undefined && count < 10_000; count++) {
      await queue.enqueue(`job${count}`).catch((error: unknown) => (full = error));
    }
    expect(full).toBeInstanceOf(ClfsError);
    expect((full as ClfsError).code).toBe('ERR_CLFS_LOG_FULL');
    // Full: every ack still goes through (into the room its job reserved).
    const jobs = takeAll(queue);
    expect(jobs.length).toBe(count - 1);
    const waiting = queue.enqueue('after');
    await Promise.all(jobs.map((job) => queue.ack(job)));
    await queue.settled();
    await waiting; // the base moved over the acknowledged jobs: room again
    expect(takeAll(queue).map((job) => job.payload)).toEqual(['after']);
  });
});
