// Log.delete (CLFS's DeleteLogFile): it holds the log's lock from before its
// first change to after its last, so no Log.open succeeds during or after
// it; its first change (the base file renamed deleting.blf) makes the log
// unopenable; and wherever it stops (test/files/delete-crash.test.ts kills
// it at each step), the next Log.delete finishes it. Only the log's own
// files are removed.
import { copyFileSync, existsSync, readdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { Log } from '../../lib/index.ts';
import { DELETING_FILE, deletedMarkerOf } from '../../lib/storage/log-directory.ts';
import { scratchFiles, KiB } from '../support/fixtures.ts';
import { BASE_FILE, containerFileName, createLog, readAll, text, textOf } from '../support/log.ts';
import { prng } from '../support/random.ts';
import { itWhere, MISSING } from '../support/platform.ts';

const scratch = scratchFiles('clfs-files-delete-');

/** A fresh directory to keep logs in: its listing is all a test's doing. */
function freshParent(): string {
  const dir = scratch.freshDir('parent');
  return dir;
}

/** A closed log at `parent`/log holding one record 'hello'. */
async function closedLog(parent: string): Promise<string> {
  const logPath = path.join(parent, 'log');
  const log = await createLog(logPath, { containerSize: 512 * KiB });
  const area = await log.createMarshallingArea({ bufferSize: 4 * KiB });
  await area.reserveAndAppend(text('hello'), { forceFlush: true });
  await log.close();
  return logPath;
}

const codeOf = (e: unknown): string => (e as { code?: string }).code ?? String(e);
const outcomeOf = (p: Promise<unknown>, resolved: string): Promise<string> =>
  p.then(
    () => resolved,
    (e: unknown) => codeOf(e),
  );
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Checks a log at `logPath` holds exactly `records` and takes an append. */
async function expectIntact(logPath: string, records: string[]): Promise<void> {
  const log = await Log.open(logPath);
  try {
    expect((await readAll(log)).map((r) => textOf(r.data))).toEqual(records);
    const area = await log.createMarshallingArea({ bufferSize: 4 * KiB });
    await area.reserveAndAppend(text('after'), { forceFlush: true });
  } finally {
    await log.close();
  }
}

/** The path takes a new log (nothing of the old one is in the way), which is then deleted again. */
async function expectCreatable(logPath: string): Promise<void> {
  const log = await Log.create(logPath, { containerSize: 512 * KiB });
  await log.close();
  await Log.delete(logPath);
}

describe('Log.delete and Log.open racing', () => {
  it('Log.delete: no Log.open succeeds during or after a delete (40 in-process races at seeded offsets): either the open wins and the delete is ERR_CLFS_LOCKED, or the delete wins and the open is ERR_CLFS_LOCKED or ERR_CLFS_NOT_FOUND', async () => {
    const random = prng(0x5eed);
    const seen = new Map<string, number>();
    for (let race = 0; race < 40; race++) {
      const parent = freshParent();
      const logPath = await closedLog(parent);
      const offset = Math.floor(random() * 60);
      const deleting = outcomeOf(Log.delete(logPath), 'deleted');
      for (let t = 0; t < offset; t++) await turn();
      const opening = outcomeOf(
        Log.open(logPath).then((log) => log.close()),
        'opened',
      );
      const [deleted, opened] = await Promise.all([deleting, opening]);
      const context = `race ${race} (open after ${offset} turns): delete ${deleted}, open ${opened}`;
      seen.set(`${deleted}/${opened}`, (seen.get(`${deleted}/${opened}`) ?? 0) + 1);
      if (deleted === 'deleted') {
        expect(['ERR_CLFS_LOCKED', 'ERR_CLFS_NOT_FOUND'], context).toContain(opened);
        expect(readdirSync(parent), context).toEqual([]);
      } else {
        expect([deleted, opened], context).toEqual(['ERR_CLFS_LOCKED', 'opened']);
        await expectIntact(logPath, ['hello']);
      }
    }
    // The offsets reach into the delete: some opens came while it held the lock or after.
    const during = (seen.get('deleted/ERR_CLFS_LOCKED') ?? 0) + (seen.get('deleted/ERR_CLFS_NOT_FOUND') ?? 0);
    expect(during, JSON.stringify(Object.fromEntries(seen))).toBeGreaterThan(0);
  });

  it('Log.delete: of two concurrent deletes of one log, one deletes it, the other gets ERR_CLFS_LOCKED or ERR_CLFS_NOT_FOUND or finishes it; nothing is left', async () => {
    const parent = freshParent();
    const logPath = await closedLog(parent);
    const outcomes = await Promise.all([
      outcomeOf(Log.delete(logPath), 'deleted'),
      outcomeOf(Log.delete(logPath), 'deleted'),
    ]);
    expect(outcomes).toContain('deleted');
    for (const o of outcomes) expect(['deleted', 'ERR_CLFS_LOCKED', 'ERR_CLFS_NOT_FOUND']).toContain(o);
    expect(readdirSync(parent)).toEqual([]);
  });
});

describe('a delete that stopped part way is finished by the next', () => {
  // The states a crash can leave, made by hand (delete-crash.test.ts makes
  // them by killing real deletes): Log.open finds no log, Log.create finds
  // the path taken until a Log.delete finishes, then takes it.
  const STATES: { name: string; make: (logPath: string) => void }[] = [
    {
      name: 'after renaming the base file (all containers still there)',
      make: (logPath) => renameSync(path.join(logPath, BASE_FILE), path.join(logPath, DELETING_FILE)),
    },
    {
      name: 'while removing the containers (one gone)',
      make: (logPath) => {
        renameSync(path.join(logPath, BASE_FILE), path.join(logPath, DELETING_FILE));
        rmSync(path.join(logPath, containerFileName(0)));
      },
    },
    {
      name: 'after moving the base file out beside the empty directory',
      make: (logPath) => {
        renameSync(path.join(logPath, BASE_FILE), deletedMarkerOf(logPath));
        for (const name of readdirSync(logPath)) rmSync(path.join(logPath, name));
      },
    },
  ];

  it.each(STATES)(
    'Log.delete: stopped $name, Log.open is ERR_CLFS_NOT_FOUND and Log.create ERR_CLFS_EXISTS; Log.delete finishes it, leaving nothing, and the path takes a new log',
    async ({ make }) => {
      const parent = freshParent();
      const logPath = await closedLog(parent);
      make(logPath);
      expect(await outcomeOf(Log.open(logPath), 'opened')).toBe('ERR_CLFS_NOT_FOUND');
      expect(await outcomeOf(Log.create(logPath), 'created')).toBe('ERR_CLFS_EXISTS');
      await Log.delete(logPath);
      expect(readdirSync(parent)).toEqual([]);
      await expectCreatable(logPath);
      expect(readdirSync(parent)).toEqual([]);
    },
  );

  it('Log.delete: stopped after removing the directory (only the moved base file is left beside it), Log.delete removes that file, and a new log at the path is not disturbed by it', async () => {
    const parent = freshParent();
    const logPath = await closedLog(parent);
    renameSync(path.join(logPath, BASE_FILE), deletedMarkerOf(logPath));
    rmSync(logPath, { recursive: true });
    expect(await outcomeOf(Log.open(logPath), 'opened')).toBe('ERR_CLFS_NOT_FOUND');
    await Log.delete(logPath);
    expect(readdirSync(parent)).toEqual([]);
    // Left there instead, it is in nobody's way.
    const again = await closedLog(parent);
    renameSync(path.join(again, BASE_FILE), deletedMarkerOf(again));
    rmSync(again, { recursive: true });
    await closedLog(parent);
    await expectIntact(logPath, ['hello']);
    await Log.delete(logPath);
    expect(readdirSync(parent)).toEqual([]);
  });
});

describe('only the log’s own files are removed', () => {
  it("Log.delete: a file of someone else's in the log directory stays, and the directory with it; the log is gone", async () => {
    const parent = freshParent();
    const logPath = await closedLog(parent);
    writeFileSync(path.join(logPath, 'notes.txt'), 'mine');
    await Log.delete(logPath);
    expect(readdirSync(parent)).toEqual(['log']);
    expect(readdirSync(logPath)).toEqual(['notes.txt']);
    expect(await outcomeOf(Log.open(logPath), 'opened')).toBe('ERR_CLFS_NOT_FOUND');
  });

  it('Log.delete: a container file past the count in the metadata (left by an interrupted addContainers) goes with the log', async () => {
    const parent = freshParent();
    const logPath = await closedLog(parent);
    copyFileSync(path.join(logPath, containerFileName(1)), path.join(logPath, containerFileName(2)));
    await Log.delete(logPath);
    expect(readdirSync(parent)).toEqual([]);
  });

  itWhere(
    MISSING.symlinks,
    'Log.delete: a symbolic link at the path (to a log) is ERR_CLFS_UNSAFE_FILE, and the log it points to is untouched',
    async () => {
      const parent = freshParent();
      const logPath = await closedLog(parent);
      const link = path.join(parent, 'link');
      symlinkSync(logPath, link);
      expect(await outcomeOf(Log.delete(link), 'deleted')).toBe('ERR_CLFS_UNSAFE_FILE');
      expect(await outcomeOf(Log.delete(`${link}/`), 'deleted'), 'with a trailing slash').toBe('ERR_CLFS_UNSAFE_FILE');
      expect(readdirSync(parent).sort()).toEqual(['link', 'log']);
      await expectIntact(logPath, ['hello']);
      expect(existsSync(path.join(logPath, BASE_FILE))).toBe(true);
    },
  );
});
