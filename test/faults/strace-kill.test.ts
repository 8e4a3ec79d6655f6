// Tier 2, strace fault injection (RELIABILITY.md): a child on the thread
// engine (io_uring writes without system calls strace could stop) runs a
// small workload under `strace -f -e trace=S -e inject=S:signal=SIGKILL:when=N`,
// which kills it right before its Nth call of S; N rises until the workload
// completes without reaching it. After every kill the parent reopens the log
// and checks I1-I4 (a second recovery reads the same, and an append after
// recovery lands at the end).
//
// What the thread engine calls (`strace -f -c` over create, appends, close
// and reopen): pwritev for every write (blocks, metadata slots, and the
// zero-filling of preallocation; never pwrite64), pread64 for every read
// (recovery, reads, base checks), fdatasync (durability 'fdatasync', and
// after preallocating), fallocate (preallocation), and fsync on directories
// (node:fs, from libuv's pool) when files are created or renamed.
//
// Two facts about strace shape this: `-e trace=none` disables injection
// (strace then never stops at the call), so the traced set is S itself, with
// output to /dev/null; and strace counts calls per thread ("per tracee"), so
// N is the Nth call of whichever thread gets there first: the thread engine's
// workers take turns, and a sweep over N kills at many, not all, of the
// process's calls. `-P <base file>` narrows S to the metadata writes.
//
// `npm test` runs a few N per case; `npm run test:kill` sweeps every N.
import { cpSync, existsSync, readdirSync } from 'node:fs';
import path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { KILL_FULL, replay, runTraced, spawnFaultChild, straceTier, injection } from '../support/faults.ts';
import { ChildLedger, LOAD_CHILD, readReport, type LoadArgs } from '../support/faults-native.ts';
import { KiB, seededUint32 } from '../support/fixtures.ts';
import { BASE_FILE } from '../support/log.ts';

const { skip: SKIP, seed: SEED, scratch } = straceTier('strace kill-before-syscall-N tier', 'clfs-strace-kill-');
const random = seededUint32(SEED);
const report: string[] = [];

afterAll(() => {
  if (SKIP === undefined) {
    console.log(`strace kill tier (${KILL_FULL ? 'full' : 'sample'}, ${replay(SEED)}):\n${report.join('\n')}`);
  }
});

const base: Omit<LoadArgs, 'path' | 'report' | 'round'> = {
  seed: SEED,
  durability: 'dsync',
  engine: 'threads',
  areas: [16 * KiB, 64 * KiB],
  writers: ['single:0', 'single:0', 'batch:1', 'lazy:0'],
  maxPayload: 2000,
  checkpointMs: 3,
  baseLag: 20,
};
const create = { containerSize: 512 * KiB, containers: 2, maxContainers: 4 };

/** A log prepared once; each N gets a copy of it and of its ledger. */
interface Template {
  dir: string;
  ledger: ChildLedger;
}

function copyOf(template: Template): { logPath: string; ledger: ChildLedger } {
  const logPath = scratch.fresh('run');
  cpSync(template.dir, logPath, { recursive: true });
  return { logPath, ledger: template.ledger.clone() };
}

/** A log filled by an ordinary child (round 0) to ~85% of its first container, then checked. */
async function filledTemplate(): Promise<Template> {
  const dir = path.join(scratch.dir, 'filled');
  const ledger = new ChildLedger(SEED, base.maxPayload);
  const reportFile = `${dir}.report`;
  const args = { ...base, path: dir, report: reportFile, round: 0, create, records: 400, checkpointMs: 0 };
  const child = spawnFaultChild(LOAD_CHILD, args);
  const exit = await child.exited;
  expect(exit.code, child.stderr()).toBe(0);
  ledger.absorb(readReport(reportFile), 0);
  await ledger.verify(dir, 0, 'template');
  return { dir, ledger };
}

/** A log left behind by a child SIGKILLed mid-append (not recovered: a copy is checked instead). */
async function crashedTemplate(): Promise<Template> {
  const dir = path.join(scratch.dir, 'crashed');
  const ledger = new ChildLedger(SEED, base.maxPayload);
  const reportFile = `${dir}.report`;
  const child = spawnFaultChild(LOAD_CHILD, { ...base, path: dir, report: reportFile, round: 0, create });
  await child.waitForLine('ready');
  await new Promise((resolve) => setTimeout(resolve, 80));
  child.process.kill('SIGKILL');
  expect((await child.exited).signal, child.stderr()).toBe('SIGKILL');
  ledger.absorb(readReport(reportFile), 0);
  const check = path.join(scratch.dir, 'crashed-check');
  cpSync(dir, check, { recursive: true });
  await ledger.verify(check, 0, 'crashed template');
  return { dir, ledger };
}

interface Case {
  name: string;
  /** The log and ledger for one N (a copy of a template, or nothing: the child creates the log). */
  prepare: () => Promise<{ logPath: string; ledger: ChildLedger }>;
  args: Partial<LoadArgs>;
  /** The child creates the log. */
  creates?: boolean;
  /** System calls to kill before; the sample's N for each. */
  sweeps: { syscalls: string; onlyBase?: boolean; sample: number[] }[];
}

let filled: Promise<Template> | undefined;
let crashed: Promise<Template> | undefined;

const CASES: Case[] = [
  {
    name: 'appends crossing into the next container, with restart areas and base moves (dsync)',
    prepare: async () => copyOf(await (filled ??= filledTemplate())),
    args: { records: 150 },
    sweeps: [
      { syscalls: 'pwritev', sample: [1, 2 + (random() % 30)] },
      { syscalls: 'pwritev', onlyBase: true, sample: [1 + (random() % 6)] },
      { syscalls: 'pread64', sample: [1 + (random() % 4)] },
    ],
  },
  {
    // One writer: few worker threads, so a sweep reaches most of the writes.
    name: 'one forceFlush append at a time into the next container, with restart areas and base moves (dsync)',
    prepare: async () => copyOf(await (filled ??= filledTemplate())),
    args: { records: 90, writers: ['single:0'], checkpointMs: 2 },
    sweeps: [
      { syscalls: 'pwritev', sample: [2 + (random() % 40)] },
      { syscalls: 'pwritev', onlyBase: true, sample: [] },
    ],
  },
  {
    name: 'creating a log, then appends (fdatasync)',
    prepare: async () => ({
      logPath: scratch.fresh('created'),
      ledger: new ChildLedger(SEED, base.maxPayload),
    }),
    args: { create, records: 60, durability: 'fdatasync' },
    creates: true,
    sweeps: [
      { syscalls: 'pwritev', sample: [1 + (random() % 12)] },
      { syscalls: 'fdatasync', sample: [1 + (random() % 8)] },
      { syscalls: 'fsync', sample: [] },
      { syscalls: 'fallocate', sample: [] },
      { syscalls: 'rename', sample: [1] },
    ],
  },
  {
    name: 'recovering a log left by a SIGKILLed writer, then appends (dsync)',
    prepare: async () => copyOf(await (crashed ??= crashedTemplate())),
    args: { records: 30 },
    sweeps: [
      { syscalls: 'pread64', sample: [1 + (random() % 6)] },
      { syscalls: 'pwritev', sample: [1 + (random() % 3)] },
    ],
  },
];

describe.skipIf(SKIP !== undefined)(
  `strace: SIGKILL right before the Nth system call${SKIP ? ` (skipped: ${SKIP})` : ''}`,
  () => {
    it.each(CASES)(
      '$name: after every kill the log recovers every acknowledged record, as a prefix, twice alike, and takes appends',
      async (c) => {
        for (const sweep of c.sweeps) {
          const label = `${sweep.syscalls}${sweep.onlyBase ? ` on ${BASE_FILE}` : ''}`;
          let kills = 0;
          let completed = false;
          let lastN = 0;
          const ns = KILL_FULL ? Array.from({ length: 2000 }, (_, i) => i + 1) : sweep.sample;
          for (const n of ns) {
            lastN = n;
            const { logPath, ledger } = await c.prepare();
            const context = `${c.name}: kill before ${label} #${n}, ${replay(SEED)}`;
            const reportFile = `${logPath}.report`;
            const args: LoadArgs = { ...base, ...c.args, path: logPath, report: reportFile, round: 1 };
            const strace = injection(
              sweep.syscalls,
              `signal=SIGKILL:when=${n}`,
              sweep.onlyBase ? [path.join(logPath, BASE_FILE)] : [],
            );
            const result = await runTraced(LOAD_CHILD, args, strace);
            const killed = result.signal === 'SIGKILL';
            if (!killed) {
              expect(result.code, `${context}: the child failed: ${result.stderr}`).toBe(0);
              expect(readReport(reportFile), context).toContain('closed');
            }
            ledger.absorb(readReport(reportFile), 1);
            if (c.creates) {
              // Killed while creating: no log, or a whole one, under the real name.
              const leftovers = readdirSync(scratch.dir).filter((e) =>
                e.startsWith(`.${path.basename(logPath)}.creating`),
              );
              if (!existsSync(logPath)) {
                expect(readReport(reportFile), `${context}: no log, yet records were acknowledged`).not.toContain(
                  'ack ',
                );
                kills++;
                continue;
              }
              if (!existsSync(path.join(logPath, BASE_FILE))) {
                // Log.create made the directory, then died before renaming the
                // finished log onto it (fixed; see defects.test.ts).
                expect.fail(
                  `${context}: an empty directory is left at the log's path (the finished log is in ${leftovers.join(', ')}): Log.open gives ERR_CLFS_NOT_FOUND and Log.create ERR_CLFS_EXISTS`,
                );
              }
            }
            await ledger.verify(logPath, 1, context, { twice: true });
            await ledger.appendAndCheck(logPath, 2, context);
            if (killed) kills++;
            else {
              completed = true;
              break;
            }
          }
          report.push(
            `  ${c.name}: kill before ${label}: ${kills} kills, N = ${KILL_FULL ? `1..${lastN}` : ns.join(', ')}${completed ? ` (N = ${lastN} completed)` : ''}`,
          );
          if (KILL_FULL) expect(completed, `${c.name}: ${label}: the sweep never completed`).toBe(true);
        }
      },
      KILL_FULL ? 1_200_000 : 60_000,
    );
  },
);
