// The read commands beside a writer (issue 11 §2): they open the log
// read-only, so they work while another process has it open and appends,
// and they change nothing on disk; `clfs tail` follows a writer in another
// process and stops on SIGINT with exit 0.
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';

import { afterEach, describe, expect, it } from 'vitest';

import { Lsn } from '../../lib/index.ts';
import { replay, scratchFiles, seedFrom } from '../support/fixtures.ts';
import { spawnLogChild, type LiveChild } from '../support/log.ts';
import { MISSING, itWhere } from '../support/platform.ts';
import { clfs, clfsJson, clfsLive, until, writeLog } from './cli.ts';

const scratch = scratchFiles('clfs-cli-live-');
const SEED = seedFrom('CLFS_CLI_SEED');
const children: LiveChild[] = [];
afterEach(async () => {
  for (const child of children.splice(0)) {
    child.process.kill('SIGKILL');
    await child.exited;
  }
});

/**
 * A writer in another process: opens the log, appends `count` records
 * ('w0', 'w1', ...) each flushed, printing 'ack <lsn>' for each; then, with
 * `hold`, prints 'holding' and goes on appending ('h', one every 20 ms)
 * until killed, else closes the log ('closed').
 */
function writer(logPath: string, count: number, hold: boolean): LiveChild {
  const child = spawnLogChild(
    `import { Log } from 'CLFS';
     const log = await Log.open(ARGS.path);
     const area = await log.createMarshallingArea({ bufferSize: 65536 });
     for (let i = 0; i < ARGS.count; i++) {
       const { lsn } = await area.reserveAndAppend(new TextEncoder().encode('w' + i), { forceFlush: true });
       console.log('ack ' + lsn);
       await new Promise((resolve) => setTimeout(resolve, 10));
     }
     if (ARGS.hold) {
       console.log('holding');
       for (;;) {
         await area.reserveAndAppend(new TextEncoder().encode('h'), { forceFlush: true });
         await new Promise((resolve) => setTimeout(resolve, 20));
       }
     }
     else { await log.close(); console.log('closed'); }`,
    { path: logPath, count, hold },
  );
  children.push(child);
  return child;
}

/** A digest of every file of the log. */
function digest(logPath: string): string {
  const hash = createHash('sha256');
  for (const name of readdirSync(logPath).sort()) hash.update(name).update(readFileSync(path.join(logPath, name)));
  return hash.digest('hex');
}

const text = (hex: unknown): string => Buffer.from(String(hex), 'hex').toString();

describe(`the read commands beside a writer (${replay(SEED, 'CLFS_CLI_SEED')})`, () => {
  it('change nothing on disk: info, dump, verify and stats leave every file as it was', async () => {
    const logPath = scratch.fresh();
    await writeLog(logPath, SEED, 30, { flushEach: true });
    const before = digest(logPath);
    for (const command of ['info', 'dump', 'verify', 'stats']) expect(clfs(command, logPath).status).toBe(0);
    expect(digest(logPath)).toBe(before);
  });

  it('info, dump, verify and stats work while another process has the log open and goes on appending', async () => {
    const logPath = scratch.fresh();
    await writeLog(logPath, SEED + 1, 5, { restart: false });
    const child = writer(logPath, 20, true);
    await child.waitForLine('holding');
    const acked = child
      .stdout()
      .split('\n')
      .filter((l) => l.startsWith('ack '))
      .map((l) => BigInt(l.slice(4)));
    const info = clfsJson('info', logPath);
    // What the reader serves is what is known durable: all but perhaps the last block.
    const last = BigInt((info.information as { lastLsn: string }).lastLsn);
    expect(last).toBeGreaterThanOrEqual(acked.at(-2)!);
    const dumped = clfs('dump', logPath, '--json')
      .stdout.trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { lsn: string; data: string });
    // The writer's records (the last one once a later block vouches for it),
    // then the ones it goes on appending meanwhile.
    const served = dumped.slice(5).filter((r) => text(r.data).startsWith('w'));
    expect(served.length).toBeGreaterThanOrEqual(19);
    expect(served.map((r) => r.lsn)).toEqual(acked.slice(0, served.length).map((l) => Lsn.format(l)));
    expect(served.map((r) => text(r.data))).toEqual(served.map((_, i) => `w${i}`));
    expect(dumped.slice(5 + served.length).every((r) => text(r.data) === 'h')).toBe(true);
    expect(clfsJson('verify', logPath)).toMatchObject({ status: 'clean' });
    const count = (clfsJson('stats', logPath).records as { data: { count: number } }).data.count;
    expect(count).toBeGreaterThanOrEqual(dumped.length);
    expect(clfs('create', logPath).status).toBe(3);
  });

  itWhere(MISSING.signals, 'tail follows a writer in another process and stops on SIGINT with exit 0', async () => {
    const logPath = scratch.fresh();
    const written = await writeLog(logPath, SEED + 2, 3, { restart: false });
    const tail = clfsLive('tail', logPath, '--from', Lsn.format(written[2]!.lsn), '--json', '--interval', '20');
    children.push(tail);
    const lines = (): { lsn: string; data: string }[] =>
      tail
        .stdout()
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as { lsn: string; data: string });
    await until(() => lines().length >= 1, 'tail to print the record it starts at');
    const child = writer(logPath, 10, false);
    await child.waitForLine('closed');
    await until(() => lines().length >= 11, 'tail to print the writer records');
    tail.process.kill('SIGINT');
    expect((await tail.exited).code).toBe(0);
    expect(tail.stderr()).toBe('');
    const acked = child
      .stdout()
      .split('\n')
      .filter((l) => l.startsWith('ack '))
      .map((l) => Lsn.format(BigInt(l.slice(4))));
    expect(lines().map((r) => r.lsn)).toEqual([Lsn.format(written[2]!.lsn), ...acked]);
    expect(
      lines()
        .slice(1)
        .map((r) => text(r.data)),
    ).toEqual(acked.map((_, i) => `w${i}`));
  });

  it('verify and stats stay clean beside a writer that moves the base and reuses containers', async () => {
    const logPath = scratch.fresh();
    expect(clfs('create', logPath, '--container-size', '1M', '--containers', '3').status).toBe(0);
    const child = spawnLogChild(
      `import { Log } from 'CLFS';
       const log = await Log.open(ARGS.path);
       const area = await log.createMarshallingArea({ bufferSize: 262144 });
       for (let i = 0; ; i++) {
         const { lsn } = await area.reserveAndAppend(new Uint8Array(200000).fill(i % 250), { forceFlush: true });
         await area.advanceLogBase(lsn);
         if (i === 20) console.log('lapped');
       }`,
      { path: logPath },
    );
    children.push(child);
    await child.waitForLine('lapped');
    for (const command of ['verify', 'stats']) {
      const run = clfs(command, logPath);
      expect(run.stderr, command).toBe('');
      expect(run.status, command).toBe(0);
    }
  });

  it('verify beside a writer appending large records without pause: a cut at the end the writer then makes durable is not a torn tail (exit 0, every run)', async () => {
    const logPath = scratch.fresh();
    expect(clfs('create', logPath, '--container-size', '4M', '--containers', '3').status).toBe(0);
    const child = spawnLogChild(
      `import { Log } from 'CLFS';
       const log = await Log.open(ARGS.path);
       const area = await log.createMarshallingArea({ bufferSize: 524288 });
       for (let i = 0; ; i++) {
         const { lsn } = await area.reserveAndAppend(new Uint8Array(100000 + (i % 4) * 100000).fill(i % 250), { forceFlush: true });
         if (i % 8 === 7) await area.advanceLogBase(lsn);
         if (i === 20) console.log('going');
       }`,
      { path: logPath },
    );
    children.push(child);
    await child.waitForLine('going');
    for (let run = 0; run < 6; run++) {
      const result = clfs('verify', logPath, '--json');
      expect(result.stderr, `run ${run}`).toBe('');
      expect(result.status, `run ${run}: ${result.stdout}`).toBe(0);
    }
  });

  itWhere(
    MISSING.signals,
    'tail: a writer that moves the base past records tail has not printed yet: tail says so on stderr and goes on from the new base',
    async () => {
      const logPath = scratch.fresh();
      // Two containers of 512 KiB; records of 200 KB, the base moved past each.
      const written = await writeLog(logPath, SEED + 3, 1, { restart: false });
      // Polling every 400 ms: meanwhile the writer laps the containers.
      const tail = clfsLive('tail', logPath, '--from', Lsn.format(written[0]!.lsn), '--json', '--interval', '400');
      children.push(tail);
      const child = spawnLogChild(
        `import { Log } from 'CLFS';
         const log = await Log.open(ARGS.path);
         const area = await log.createMarshallingArea({ bufferSize: 262144 });
         for (let i = 0; i < 40; i++) {
           const { lsn } = await area.reserveAndAppend(new Uint8Array(200000).fill(i % 250), { forceFlush: true });
           await area.advanceLogBase(lsn);
         }
         // Then slowly, the base kept 64 records back (the log never fills): tail catches up.
         const slow = [];
         for (let i = 0; ; i++) {
           slow.push((await area.reserveAndAppend(new TextEncoder().encode('slow'), { forceFlush: true })).lsn);
           if (i >= 64) await area.advanceLogBase(slow[i - 64]);
           await new Promise((resolve) => setTimeout(resolve, 20));
         }`,
        { path: logPath },
      );
      children.push(child);
      await until(() => tail.stderr().includes('moved the base'), 'tail to say the base moved past it');
      const printed = (): number =>
        tail
          .stdout()
          .split('\n')
          .filter((l) => l !== '').length;
      const before = printed();
      await until(
        () => printed() > before,
        () => `tail to go on printing (tail's stderr: ${tail.stderr()}; the writer's: ${child.stderr()})`,
      );
      tail.process.kill('SIGINT');
      expect((await tail.exited).code).toBe(0);
      for (const line of tail.stderr().trimEnd().split('\n')) {
        expect(line).toMatch(
          /^clfs: the writer moved the base to 0x[0-9a-f]{16} past records not yet printed; going on from there$/,
        );
      }
      const lsns = tail
        .stdout()
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => BigInt((JSON.parse(l) as { lsn: string }).lsn));
      for (let i = 1; i < lsns.length; i++) expect(lsns[i]! > lsns[i - 1]!).toBe(true);
    },
  );
});
