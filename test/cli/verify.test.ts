// `clfs verify` on damaged logs (issue 11 §2), real files damaged with
// node:fs: damage in the middle of the log is exit 2 naming its LSN, whether
// recovery trusted the block (before the metadata's tail: only the full
// scan finds it) or found it vouched for (after the tail: the open refuses
// it); a torn tail (what a crash leaves, nothing after it) is exit 1; the
// other read commands refuse a damaged log with exit 2 too.
import { describe, expect, it } from 'vitest';

import { CHECKSUM_OFFSET } from '../../lib/format/block.ts';
import { Log, Lsn } from '../../lib/index.ts';
import { replay, scratchFiles, seedFrom } from '../support/fixtures.ts';
import { containerFileOf, expectKilled, flipByte, runLogChild, taggedLines } from '../support/log.ts';
import { clfs, clfsJson, expectFailure, writeLog } from './cli.ts';

const scratch = scratchFiles('clfs-cli-verify-');
const SEED = seedFrom('CLFS_CLI_SEED');

/** Flips a byte of the block at `blockLsn`, `at` bytes into it. */
function damage(logPath: string, blockLsn: Lsn, at: number): void {
  flipByte(containerFileOf(logPath, blockLsn), Lsn.blockOffset(blockLsn) + at);
}

/**
 * A child opens the log, appends `blocks` records each flushed on its own
 * (a block each), prints their LSNs and SIGKILLs itself: the metadata's tail
 * stays where the open left it, and recovery scans every block written.
 */
async function crashAfter(logPath: string, blocks: number): Promise<Lsn[]> {
  await writeLog(logPath, SEED, 1, { restart: false });
  const result = await runLogChild(
    `import { Log } from 'CLFS';
     const log = await Log.open(ARGS.path);
     const area = await log.createMarshallingArea({ bufferSize: 65536, flushIntervalMs: 0 });
     for (let b = 0; b < ARGS.blocks; b++) {
       const { lsn } = await area.reserveAndAppend(new Uint8Array(1000).fill(b + 1), { forceFlush: true });
       console.log('ack ' + lsn);
     }
     process.kill(process.pid, 'SIGKILL');`,
    { path: logPath, blocks },
  );
  expectKilled(result);
  return taggedLines(result.stdout, 'ack').map(([lsn]) => BigInt(lsn!));
}

describe(`clfs verify on damaged logs (${replay(SEED, 'CLFS_CLI_SEED')})`, () => {
  it('damage in a block recovery trusted (before the metadata tail): exit 2, the LSN named; stats and dump refuse it', async () => {
    const logPath = scratch.fresh();
    const written = await writeLog(logPath, SEED, 12, { flushEach: true });
    const bad = written[5]!.lsn;
    damage(logPath, bad, 200);
    const run = clfs('verify', logPath);
    const line = expectFailure(run, 2, 'ERR_CLFS_CORRUPT');
    expect(line).toContain(Lsn.format(bad));
    expect(run.stdout).toMatch(new RegExp(`damage +at ${Lsn.format(bad)}: checksum`));
    const json = JSON.parse(clfs('verify', logPath, '--json').stdout) as Record<string, unknown>;
    expect(json).toMatchObject({ status: 'damaged', damage: { lsn: Lsn.format(bad), reason: 'checksum' } });
    expect(json.scan).toMatchObject({ blocks: 5 });
    expect(expectFailure(clfs('stats', logPath), 2, 'ERR_CLFS_CORRUPT')).toContain(Lsn.format(bad));
    const dump = clfs('dump', logPath);
    expectFailure(dump, 2, 'ERR_CLFS_CORRUPT');
    expect(dump.stdout.trim().split('\n')).toHaveLength(5);
    // --limit stops before the damage: the record after the limit is never read.
    const limited = clfs('dump', logPath, '--limit', '5');
    expect(limited.status, limited.stderr).toBe(0);
    expect(limited.stdout.trim().split('\n')).toHaveLength(5);
    expect(clfs('dump', logPath, '--limit', '0')).toMatchObject({ status: 0, stdout: '', stderr: '' });
  });

  it('a flipped checksum in a block written after the metadata tail, a later block vouching for it: exit 2', async () => {
    const logPath = scratch.fresh();
    const acks = await crashAfter(logPath, 6);
    const bad = acks[2]!;
    damage(logPath, bad, CHECKSUM_OFFSET);
    const line = expectFailure(clfs('verify', logPath), 2, 'ERR_CLFS_CORRUPT');
    expect(line).toContain(Lsn.format(bad));
    const json = JSON.parse(clfs('verify', logPath, '--json').stdout) as Record<string, unknown>;
    expect(json).toMatchObject({ status: 'damaged', damage: { lsn: Lsn.format(bad) } });
    expectFailure(clfs('info', logPath), 2, 'ERR_CLFS_CORRUPT');
  });

  it('a torn last block (nothing after it vouches for it): exit 1, the LSN where recovery cuts; not damage', async () => {
    const logPath = scratch.fresh();
    const acks = await crashAfter(logPath, 4);
    const torn = acks.at(-1)!;
    damage(logPath, torn, 300);
    const run = clfs('verify', logPath);
    expect(run.status, run.stderr).toBe(1);
    expect(run.stderr).toBe('');
    expect(run.stdout).toMatch(new RegExp(`torn tail +at ${Lsn.format(torn)}`));
    // verify opens read-only: it cuts nothing, and says so again.
    expect(clfs('verify', logPath, '--json')).toMatchObject({ status: 1 });
    expect(JSON.parse(clfs('verify', logPath, '--json').stdout)).toMatchObject({
      status: 'torn-tail',
      tornTail: { lsn: Lsn.format(torn) },
      damage: null,
    });
  });

  it('a clean log whose records span containers is clean', async () => {
    const logPath = scratch.fresh();
    await writeLog(logPath, SEED + 1, 200, { flushEach: true });
    const json = clfsJson('verify', logPath);
    expect(json).toMatchObject({ status: 'clean' });
    expect((json.scan as { blocks: number }).blocks).toBe(201);
  });

  it('a log with a truncation (inside a block: its dropped records left on disk) and recycled containers is clean', async () => {
    const logPath = scratch.fresh();
    let log = await Log.create(logPath, { containerSize: 512 * 1024, containers: 3 });
    let area = await log.createMarshallingArea({ bufferSize: 64 * 1024 });
    const append = async (n: number, fill: number): Promise<Lsn[]> => {
      const lsns: Lsn[] = [];
      for (let i = 0; i < n; i++) {
        // 3500 bytes: a block of 4 KiB whether the sector is 512 bytes (wine) or 4096 (here).
        lsns.push((await area.reserveAndAppend(new Uint8Array(3500).fill(fill), { forceFlush: true })).lsn);
      }
      return lsns;
    };
    // Ten records in one block, then blocks of one; the truncation keeps six of the ten.
    const batch = await area.appendBatch(
      Array.from({ length: 10 }, () => [new Uint8Array(300).fill(9)]),
      {
        forceFlush: true,
      },
    );
    await append(10, 1);
    await area.truncateLog(batch[5]!);
    await append(10, 2);
    await log.close();
    expect(clfsJson('verify', logPath)).toMatchObject({ status: 'clean', scan: { blocks: 11 } });
    expect(clfsJson('stats', logPath).records).toMatchObject({ data: { count: 16 } });
    // Move the base on, round the containers: the first is recycled.
    log = await Log.open(logPath);
    area = await log.createMarshallingArea({ bufferSize: 64 * 1024 });
    const later = await append(300, 3);
    await area.writeRestartArea(new Uint8Array(8), { newBaseLsn: later[150]! });
    await append(150, 4);
    await log.close();
    const json = clfsJson('verify', logPath);
    expect(json).toMatchObject({ status: 'clean', scan: { firstBlockLsn: Lsn.format(later[150]!) } });
    const stats = clfsJson('stats', logPath);
    expect(stats.records).toMatchObject({ data: { count: 300 - 150 + 150 }, restart: { count: 1 } });
    expect((stats.containers as { state: string }[]).map((c) => c.state)).toEqual(['in use', 'in use', 'in use']);
  });
});
