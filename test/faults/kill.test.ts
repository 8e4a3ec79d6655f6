// Tier 2 (RELIABILITY.md, after etcd and RocksDB's db_crashtest): child
// processes appending and flushing under load on the real native path are
// SIGKILLed at random times; after each kill the parent reopens the log and
// checks every acknowledged record is there byte-exact, the log is a prefix
// of what was appended, what was recovered before is unchanged, and the
// next child appends after it. `npm test` runs a sample; `npm run test:kill`
// (CLFS_KILL_FULL=1) runs 60 kills per configuration, 240 in all.
import path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { Log, Lsn } from '../../lib/index.ts';
import { KILL_FULL, faultSeed, releaseChildLibrary, replay, sleep, spawnFaultChild } from '../support/faults.ts';
import { ChildLedger, LOAD_CHILD, readReport, type LoadArgs } from '../support/faults-native.ts';
import { MiB, scratchFiles, seededUint32 } from '../support/fixtures.ts';
import { MISSING, skipTestWhere } from '../support/platform.ts';

const SEED = faultSeed();
const scratch = scratchFiles('clfs-kill-');
const ROUNDS = KILL_FULL ? 60 : 4;
const summary: string[] = [];

afterAll(() => {
  releaseChildLibrary();
  console.log(`SIGKILL tier (${KILL_FULL ? 'full' : 'sample'}, ${replay(SEED)}):\n${summary.join('\n')}`);
});

interface KillConfig {
  name: string;
  args: Omit<LoadArgs, 'path' | 'report' | 'seed' | 'round' | 'create' | 'records'>;
}

const CONFIGS: KillConfig[] = [
  {
    name: 'io_uring, dsync: three areas; forceFlush, batch and lazy writers; checkpoints moving the base',
    args: {
      engine: 'uring',
      durability: 'dsync',
      areas: [16384, 65536, 4096],
      writers: ['single:0', 'single:0', 'single:2', 'batch:1', 'lazy:2'],
      maxPayload: 1500,
      checkpointMs: 15,
      baseLag: 40,
    },
  },
  {
    name: 'threads, fdatasync: group commit of six forceFlush writers on one area, a batch writer, checkpoints',
    args: {
      engine: 'threads',
      durability: 'fdatasync',
      areas: [32768, 131072],
      writers: ['single:0', 'single:0', 'single:0', 'single:0', 'single:0', 'single:0', 'batch:1'],
      maxPayload: 3000,
      checkpointMs: 10,
      baseLag: 20,
    },
  },
  {
    name: 'io_uring, fdatasync: lazy writers with forceAppend and flushToLsn on two areas, checkpoints',
    args: {
      engine: 'uring',
      durability: 'fdatasync',
      areas: [8192, 16384],
      writers: ['lazy:0', 'lazy:1', 'single:1', 'batch:0'],
      maxPayload: 800,
      checkpointMs: 20,
      baseLag: 100,
    },
  },
  {
    name: 'threads, dsync: small buffers (one record per block), many blocks in flight, checkpoints',
    args: {
      engine: 'threads',
      durability: 'dsync',
      areas: [4096, 4096, 65536],
      writers: ['single:0', 'single:1', 'single:0', 'single:1', 'batch:2', 'lazy:2'],
      maxPayload: 2000,
      checkpointMs: 12,
      baseLag: 30,
    },
  },
];

describe('SIGKILL at random times on the native path', () => {
  it.each(CONFIGS.map((c, i) => ({ ...c, index: i })))(
    `$name: ${ROUNDS} kills, every acknowledged record recovered, no gap or phantom, appends continue`,
    async ({ args, index }) => {
      skipTestWhere(args.engine === 'uring' ? MISSING.ioUring : undefined);
      const seed = (SEED + index * 0x9e37) >>> 0;
      const random = seededUint32(seed);
      const logPath = path.join(scratch.dir, `log-${index}`);
      const create = { containerSize: MiB, containers: 3, maxContainers: 6 };
      await (
        await Log.create(logPath, {
          containerSize: create.containerSize,
          containers: create.containers,
          autoGrow: { maxContainers: create.maxContainers },
          engine: args.engine,
          durability: args.durability,
        })
      ).close();
      const ledger = new ChildLedger(seed, args.maxPayload);
      let acks = 0;
      let early = 0;
      const started = performance.now();
      for (let round = 0; round < ROUNDS; round++) {
        const context = `${replay(SEED)} config ${index} round ${round}`;
        const report = path.join(scratch.dir, `report-${index}-${round}`);
        const child = spawnFaultChild(LOAD_CHILD, { ...args, path: logPath, report, seed, round } satisfies LoadArgs);
        // One round in five is killed while it opens the log (recovery).
        if (random() % 5 === 0) {
          early++;
          await child.waitForLine('phase open');
          await sleep(random() % 40);
        } else {
          await child.waitForLine('ready');
          await sleep(20 + (random() % 230));
        }
        child.process.kill('SIGKILL');
        const exit = await child.exited;
        expect(exit.signal, `${context}: the child died on its own: ${child.stderr()}`).toBe('SIGKILL');
        acks += ledger.absorb(readReport(report), round);
        await ledger.verify(logPath, round, context, { twice: round % 10 === 9 });
      }
      // A last child runs to the end (appends continue, close is clean).
      const report = path.join(scratch.dir, `report-${index}-final`);
      const final = spawnFaultChild(LOAD_CHILD, {
        ...args,
        path: logPath,
        report,
        seed,
        round: ROUNDS,
        records: 300,
      } satisfies LoadArgs);
      const exit = await final.exited;
      const context = `${replay(SEED)} config ${index} final round`;
      expect(exit.code, `${context}: ${final.stderr()}`).toBe(0);
      expect(readReport(report)).toContain('closed');
      acks += ledger.absorb(readReport(report), ROUNDS);
      await ledger.verify(logPath, ROUNDS, context, { twice: true });
      await ledger.appendAndCheck(logPath, ROUNDS + 1, context);
      expect(acks, `${context}: the rounds acknowledged records`).toBeGreaterThan(300);
      summary.push(
        `  config ${index}: ${ROUNDS} kills (${early} while opening), ${acks} acknowledged records, ${ledger.records} in the log at the end (logical container ${Lsn.containerId(ledger.recovered.at(-1)!.lsn)}), ${((performance.now() - started) / 1000).toFixed(1)} s`,
      );
    },
    KILL_FULL ? 600_000 : 60_000,
  );
});

// The checks are not vacuous: an acknowledged record that is not in the log,
// and an acknowledged base move the log does not have, are both caught.
describe('the SIGKILL checks themselves', () => {
  it('catch a lost acknowledged record and a lost base move', async () => {
    const logPath = path.join(scratch.dir, 'self-test');
    const report = path.join(scratch.dir, 'self-test-report');
    // The first configuration the platform can run (io_uring's is first, off Linux the thread engine's).
    const config = CONFIGS.find((c) => c.args.engine !== 'uring' || MISSING.ioUring === undefined)!;
    const args = { ...config.args, path: logPath, report, seed: SEED, round: 0, records: 40, checkpointMs: 0 };
    const child = spawnFaultChild(LOAD_CHILD, {
      ...args,
      create: { containerSize: MiB, containers: 2, maxContainers: 2 },
    } satisfies LoadArgs);
    expect((await child.exited).code, child.stderr()).toBe(0);
    const honest = new ChildLedger(SEED, args.maxPayload);
    honest.absorb(readReport(report), 0);
    await honest.verify(logPath, 0, 'honest');

    const lost = honest.clone();
    const last = lost.recovered.at(-1)!.lsn;
    lost.absorb(`ack ${last + 1n} 999 ${'0'.repeat(40)}\n`, 0);
    await expect(lost.verify(logPath, 0, 'lost record')).rejects.toThrow(/I1: acked record .* lost/);

    const moved = honest.clone();
    moved.absorb(`want-base ${last}\nbase ${last}\n`, 0);
    await expect(moved.verify(logPath, 0, 'lost base')).rejects.toThrow(/I1: base .* older than the acked/);

    // A last line the kill cut short (no newline) was never wholly reported: not taken.
    expect(honest.clone().absorb(`ack ${last} 999 ${'0'.repeat(20)}`, 0)).toBe(0);
  });
});
