// A crash at any point of Log.delete leaves either the whole log (it opens,
// with its records) or a half-deleted one that Log.open reports as
// ERR_CLFS_NOT_FOUND and the next Log.delete finishes, after which the path
// takes a new log. Proved by killing a child running Log.delete right before
// its Nth call of each system call that changes the directory (strace
// fault injection, as in test/faults/strace-kill.test.ts), for N from 1 until
// the delete completes without reaching it.
//
// What Log.delete calls, all from libuv's pool: rename (the base file to
// deleting.blf, then out beside the directory), unlink (the containers, then
// the moved base file), rmdir, and fsync (the directory after each step, its
// parent after the last ones). strace counts calls per thread: the child
// runs with one pool thread (UV_THREADPOOL_SIZE=1), so the Nth call of the
// thread is the Nth of the delete.
//
// `npm test` kills at a sample of N per system call; CLFS_KILL_FULL=1 at
// every N.
import { copyFileSync, readdirSync } from 'node:fs';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { Log } from '../../lib/index.ts';
import { KILL_FULL, replay, runTraced, straceTier, injection } from '../support/faults.ts';
import { KiB } from '../support/fixtures.ts';
import { containerFileName, createLog, readAll, text, textOf } from '../support/log.ts';
import { prng } from '../support/random.ts';

const {
  skip: SKIP,
  seed: SEED,
  scratch,
} = straceTier('Log.delete killed before its Nth system call', 'clfs-files-delete-crash-');
const random = prng(SEED);

const CHILD = `import { Log } from 'CLFS';
await Log.delete(ARGS.path);
console.log('deleted');`;

const RECORDS = ['first', 'second'];
const pick = (from: number, to: number): number => from + Math.floor(random() * (to - from + 1));

/**
 * Per system call, the N a sample kills before. The log has three
 * containers and a leftover fourth: two renames, five unlinks, one rmdir,
 * five fsyncs.
 */
const SWEEPS = [
  { syscall: 'rename', sample: [1, 2] },
  { syscall: 'unlink', sample: [1, pick(2, 4), 5] },
  { syscall: 'rmdir', sample: [1] },
  { syscall: 'fsync', sample: [pick(1, 3), pick(4, 5)] },
];

/** A closed log at a fresh parent/log: three containers holding RECORDS, and a leftover fourth (an interrupted addContainers). */
async function preparedLog(): Promise<{ parent: string; logPath: string }> {
  const parent = scratch.freshDir('parent');
  const logPath = path.join(parent, 'log');
  const log = await createLog(logPath, { containerSize: 512 * KiB, containers: 3 });
  const area = await log.createMarshallingArea({ bufferSize: 4 * KiB });
  for (const r of RECORDS) await area.reserveAndAppend(text(r), { forceFlush: true });
  await log.close();
  copyFileSync(path.join(logPath, containerFileName(2)), path.join(logPath, containerFileName(3)));
  return { parent, logPath };
}

const codeOf = (e: unknown): string => (e as { code?: string }).code ?? String(e);

/**
 * What a killed delete left: the whole log; or one that Log.open does not
 * open and Log.delete finishes; or nothing (only the last fsync was
 * missing: the delete was done, and a second one is ERR_CLFS_NOT_FOUND as
 * after any delete). In every case the path then takes a new log.
 */
async function checkLeftState(
  parent: string,
  logPath: string,
  context: string,
): Promise<'whole' | 'half-deleted' | 'gone'> {
  let state: 'whole' | 'half-deleted' | 'gone';
  if (readdirSync(parent).length === 0) {
    state = 'gone';
    expect(codeOf(await Log.open(logPath).catch((e: unknown) => e)), context).toBe('ERR_CLFS_NOT_FOUND');
    expect(codeOf(await Log.delete(logPath).catch((e: unknown) => e)), context).toBe('ERR_CLFS_NOT_FOUND');
  } else {
    try {
      const log = await Log.open(logPath);
      try {
        expect(
          (await readAll(log)).map((r) => textOf(r.data)),
          `${context}: the log opened`,
        ).toEqual(RECORDS);
      } finally {
        await log.close();
      }
      state = 'whole';
    } catch (error) {
      expect(codeOf(error), `${context}: Log.open of what the delete left`).toBe('ERR_CLFS_NOT_FOUND');
      state = 'half-deleted';
    }
    await Log.delete(logPath).catch((error: unknown) =>
      expect.fail(`${context}: Log.delete after the kill (the log was ${state}): ${String(error)}`),
    );
    expect(readdirSync(parent), `${context}: left after Log.delete`).toEqual([]);
  }
  const log = await Log.create(logPath, { containerSize: 512 * KiB });
  await log.close();
  return state;
}

describe.skipIf(SKIP !== undefined)(`Log.delete killed at each step${SKIP ? ` (skipped: ${SKIP})` : ''}`, () => {
  it.each(SWEEPS)(
    'Log.delete killed right before its Nth $syscall: the log is whole, or half-deleted (Log.open: ERR_CLFS_NOT_FOUND) and the next Log.delete finishes it',
    async ({ syscall, sample }) => {
      const ns = KILL_FULL ? Array.from({ length: 100 }, (_, i) => i + 1) : sample;
      const seen: string[] = [];
      let completed = false;
      for (const n of ns) {
        const { parent, logPath } = await preparedLog();
        const context = `kill before ${syscall} #${n}, ${replay(SEED)}`;
        const result = await runTraced(CHILD, { path: logPath }, injection(syscall, `signal=SIGKILL:when=${n}`), {
          env: { UV_THREADPOOL_SIZE: '1' },
        });
        if (result.signal !== 'SIGKILL') {
          // It got through without its Nth call: the delete is complete.
          expect(result.code, `${context}: ${result.stderr}`).toBe(0);
          expect(result.stdout.trim(), context).toBe('deleted');
          expect(readdirSync(parent), context).toEqual([]);
          completed = true;
          break;
        }
        seen.push(`#${n}: ${await checkLeftState(parent, logPath, context)}`);
      }
      console.log(`Log.delete killed before ${syscall}: ${seen.join(', ')}${completed ? ' (then completed)' : ''}`);
      // The sample's first N is a call the delete makes: the system call name is right.
      expect(seen.length, `no kill before ${syscall} happened`).toBeGreaterThan(0);
      if (KILL_FULL) expect(completed, `the ${syscall} sweep never completed`).toBe(true);
    },
    KILL_FULL ? 600_000 : 60_000,
  );
});
