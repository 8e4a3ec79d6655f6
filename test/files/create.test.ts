// Log.create at a path (CLFS's CreateLogFile, CREATE_NEW): the log is built
// in a temporary directory of a name no other create uses and renamed into
// place, so of concurrent creates of one path exactly one wins and every
// other gets ERR_CLFS_EXISTS, and nothing is ever made through something
// planted at the path.
import { existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { Log } from '../../lib/index.ts';
import { scratchFiles, KiB } from '../support/fixtures.ts';
import { runLogChild } from '../support/log.ts';
import { entryOf } from './plant.ts';
import { itWhere, MISSING } from '../support/platform.ts';

const scratch = scratchFiles('clfs-files-create-');

/** A fresh directory to create logs in: its listing is all a test's doing. */
function freshParent(): string {
  const dir = scratch.freshDir('parent');
  return dir;
}

const codeOf = (e: unknown): string => (e as { code?: string }).code ?? String(e);
const small = { containerSize: 512 * KiB };

describe('concurrent creates of one path', () => {
  it('Log.create: of 8 concurrent creates of one path in one process, exactly one wins, the other 7 get ERR_CLFS_EXISTS, and no temporary directory is left', async () => {
    const parent = freshParent();
    const logPath = path.join(parent, 'log');
    const outcomes = await Promise.allSettled(Array.from({ length: 8 }, () => Log.create(logPath, small)));
    const winners = outcomes.filter((o) => o.status === 'fulfilled');
    const losers = outcomes.flatMap((o) => (o.status === 'rejected' ? [codeOf(o.reason)] : []));
    for (const w of winners) await w.value.close();
    expect(winners.length).toBe(1);
    expect(losers).toEqual(Array(7).fill('ERR_CLFS_EXISTS'));
    expect(readdirSync(parent)).toEqual(['log']);
    const log = await Log.open(logPath);
    await log.close();
  });

  it('Log.create: of 4 processes creating one path at once, exactly one wins, the others get ERR_CLFS_EXISTS, and no temporary directory is left', async () => {
    const parent = freshParent();
    const logPath = path.join(parent, 'log');
    const child = `import { Log } from 'CLFS';
      try { const log = await Log.create(ARGS.path, { containerSize: 512 * 1024 }); await log.close(); console.log('created'); }
      catch (e) { console.log('code ' + e.code); }`;
    const results = await Promise.all(Array.from({ length: 4 }, () => runLogChild(child, { path: logPath })));
    const said = results.map((r) => r.stdout.trim() || `nothing (${r.stderr})`).sort();
    expect(said).toEqual(['code ERR_CLFS_EXISTS', 'code ERR_CLFS_EXISTS', 'code ERR_CLFS_EXISTS', 'created']);
    expect(readdirSync(parent)).toEqual(['log']);
  });
});

describe('something planted at the path', () => {
  itWhere(
    MISSING.symlinks,
    'Log.create: a symbolic link at the path (to an empty directory) is ERR_CLFS_EXISTS, and nothing is made in that directory',
    async () => {
      const parent = freshParent();
      const target = path.join(parent, 'elsewhere');
      mkdirSync(target);
      const logPath = path.join(parent, 'log');
      symlinkSync(target, logPath);
      expect(codeOf(await Log.create(logPath, small).catch((e: unknown) => e))).toBe('ERR_CLFS_EXISTS');
      expect(readdirSync(target)).toEqual([]);
      expect(entryOf(logPath).type).toBe('symbolic link');
      expect(readdirSync(parent).sort()).toEqual(['elsewhere', 'log']);
    },
  );

  itWhere(
    MISSING.symlinks,
    'Log.create: a dangling symbolic link at the path is ERR_CLFS_EXISTS, and nothing is made where it points',
    async () => {
      const parent = freshParent();
      const target = path.join(parent, 'not-yet');
      const logPath = path.join(parent, 'log');
      symlinkSync(target, logPath);
      expect(codeOf(await Log.create(logPath, small).catch((e: unknown) => e))).toBe('ERR_CLFS_EXISTS');
      expect(existsSync(target)).toBe(false);
      expect(readdirSync(parent)).toEqual(['log']);
    },
  );

  it('Log.create: a regular file at the path is ERR_CLFS_EXISTS, and the file keeps its bytes', async () => {
    const parent = freshParent();
    const logPath = path.join(parent, 'log');
    writeFileSync(logPath, 'keep me');
    expect(codeOf(await Log.create(logPath, small).catch((e: unknown) => e))).toBe('ERR_CLFS_EXISTS');
    expect(readFileSync(logPath, 'utf8')).toBe('keep me');
    expect(readdirSync(parent)).toEqual(['log']);
  });
});
