// File safety (RELIABILITY.md): a log's files are opened without following
// symbolic links and checked to be regular files with one link on the log
// directory's device before anything is read or written. Whatever is
// planted in place of the base file, a container holding records, or a free
// container, Log.open and Log.delete refuse it with ERR_CLFS_UNSAFE_FILE,
// at once, and nothing outside the log is touched (a link's target keeps
// its bytes, size and modification time; the planted entry stays as it was).
import { linkSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { Log } from '../../lib/index.ts';
import { scratchFiles, KiB } from '../support/fixtures.ts';
import { BASE_FILE, containerFileName, createLog, runLogChild, text } from '../support/log.ts';
import { ENGINES, seededBytes } from '../support/native.ts';
import { KINDS, entryOf, fileSnapshot, plant, plantSkipReason, settleWithin, type Kind } from './plant.ts';
import { describeWhere, MISSING } from '../support/platform.ts';

const scratch = scratchFiles('clfs-files-unsafe-');

const fresh = (what: string): string => scratch.fresh(what);

/** A closed log of three containers: records in container 0, containers 1 and 2 free. */
async function closedLog(): Promise<string> {
  const logPath = fresh('log');
  const log = await createLog(logPath, { containerSize: 512 * KiB, containers: 3 });
  const area = await log.createMarshallingArea({ bufferSize: 4 * KiB });
  await area.reserveAndAppend(text('hello'), { forceFlush: true });
  expect(log.core.table.logicalIds, 'container 0 holds the records, 1 and 2 are free').toEqual([1, 0, 0]);
  await log.close();
  return logPath;
}

const PLACES = [
  { place: 'the base file', name: BASE_FILE },
  { place: 'a container holding records', name: containerFileName(0) },
  // The free container after the one in use: recovery looks into it.
  { place: 'a free container', name: containerFileName(1) },
] as const;

const CASES = KINDS.flatMap((kind) => PLACES.map((p) => ({ kind, ...p })));

/** The entries of a directory and what each is. */
function listing(dir: string): Record<string, ReturnType<typeof entryOf>> {
  return Object.fromEntries(readdirSync(dir).map((name) => [name, entryOf(path.join(dir, name))]));
}

/**
 * Plants `kind` in place of `name` in a closed log, runs `operation` on the
 * log, and checks it was refused with ERR_CLFS_UNSAFE_FILE naming the
 * planted file, within seconds, with the planted entry and (for links) the
 * outside file exactly as they were.
 */
async function expectRefused(
  kind: Kind,
  name: string,
  operation: (logPath: string) => Promise<unknown>,
): Promise<void> {
  const logPath = await closedLog();
  const target = path.join(logPath, name);
  const planted = await plant(kind, target, fresh('outside'));
  try {
    const outside = planted.outside === undefined ? undefined : fileSnapshot(planted.outside);
    const entries = listing(logPath);
    const outcome = await settleWithin(operation(logPath), 10_000);
    expect(outcome, 'the outcome').toBeInstanceOf(Error);
    expect((outcome as Error & { code?: string }).code, String(outcome)).toBe('ERR_CLFS_UNSAFE_FILE');
    expect((outcome as Error & { path?: string }).path).toBe(target);
    if (planted.outside !== undefined) expect(fileSnapshot(planted.outside), 'the outside file').toEqual(outside);
    expect(listing(logPath), 'the log directory').toEqual(entries);
  } finally {
    await planted.close();
  }
}

/** Opens the log and, if that works, appends and closes (what a follower would then write). */
async function openAndAppend(logPath: string): Promise<'opened'> {
  const log = await Log.open(logPath, { allowBuffered: true });
  try {
    const area = await log.createMarshallingArea({ bufferSize: 4 * KiB });
    await area.reserveAndAppend(text('written through a planted file'), { forceFlush: true });
  } finally {
    await log.close();
  }
  return 'opened';
}

describe('Log.open refuses what is planted in place of a log file', () => {
  it.each(CASES)(
    'Log.open: a $kind in place of $place is ERR_CLFS_UNSAFE_FILE naming it, and nothing outside the log is touched',
    async ({ kind, name }) => {
      const skip = plantSkipReason(kind);
      if (skip !== undefined) return void console.warn(`[skipped] ${kind}: ${skip}`);
      await expectRefused(kind, name, openAndAppend);
    },
  );
});

describe('Log.delete refuses what is planted in place of a log file, and removes nothing', () => {
  it.each(CASES)(
    'Log.delete: a $kind in place of $place is ERR_CLFS_UNSAFE_FILE naming it; no file is removed, nothing outside is touched',
    async ({ kind, name }) => {
      const skip = plantSkipReason(kind);
      if (skip !== undefined) return void console.warn(`[skipped] ${kind}: ${skip}`);
      await expectRefused(kind, name, (logPath) => Log.delete(logPath));
    },
  );
});

describeWhere(MISSING.posixFileKinds, 'a FIFO never blocks', () => {
  it.each(ENGINES)(
    'Log.open ($engine engine, allowBuffered): a FIFO in place of a free container is ERR_CLFS_UNSAFE_FILE at once (before: io_uring waited on it forever; the thread engine opened the log over it)',
    async ({ engine }) => {
      // Two containers: the free one is where recovery looks past the one in use.
      const logPath = fresh('log');
      const log = await createLog(logPath, { containerSize: 512 * KiB, containers: 2 });
      const area = await log.createMarshallingArea({ bufferSize: 4 * KiB });
      await area.reserveAndAppend(text('hello'), { forceFlush: true });
      await log.close();
      const planted = await plant('FIFO', path.join(logPath, containerFileName(1)), fresh('unused'));
      // In a child: a Log.open that waits on the FIFO is killed, not left behind here.
      const result = await runLogChild(
        `import { Log } from 'CLFS';
         try {
           const log = await Log.open(ARGS.path, { allowBuffered: true, engine: ARGS.engine });
           console.log('opened');
           await log.close();
         } catch (e) { console.log('code ' + e.code); }`,
        { path: logPath, engine },
        15_000,
      );
      await planted.close();
      expect(result.signal, `the child hung: ${result.stderr}`).toBe(null);
      expect(result.stdout.trim(), result.stderr).toBe('code ERR_CLFS_UNSAFE_FILE');
    },
  );
});

describe('a link where the next container goes', () => {
  it.each(['symbolic link', 'hard link'] as const)(
    'AddLogContainer: a %s planted where the next container goes is replaced by a file of the log’s own; the file it led to keeps its bytes',
    async (kind) => {
      const logPath = await closedLog();
      const next = path.join(logPath, containerFileName(3));
      const outside = fresh('outside');
      writeFileSync(outside, seededBytes(512 * KiB, 21));
      if (kind === 'symbolic link') symlinkSync(outside, next);
      else linkSync(outside, next);
      const before = fileSnapshot(outside);
      const log = await Log.open(logPath);
      try {
        await log.addContainers(1);
        const area = await log.createMarshallingArea({ bufferSize: 4 * KiB });
        await area.reserveAndAppend(text('after'), { forceFlush: true });
      } finally {
        await log.close();
      }
      expect(fileSnapshot(outside), 'the outside file').toEqual(before);
      expect(entryOf(next)).toMatchObject({ type: 'file', links: 1, size: 512 * KiB });
    },
  );
});
