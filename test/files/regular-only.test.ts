// The native layer's part of file safety: DirectFile.open({ regularOnly })
// and regularFileSize refuse anything but a plain regular file of the
// directory the path names (no symbolic link followed, no FIFO, socket,
// device or directory opened, no hard link, nothing of another device or
// mount), with ERR_CLFS_UNSAFE_FILE; and with the lock, a file renamed away
// while the opener waited for its lock is not taken (ENOENT: the lock is on
// the file the path names).
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

import { afterAll, describe, expect, it } from 'vitest';

import { DirectFile, Log } from '../../lib/index.ts';
import { regularFileSize } from '../../lib/native/direct-file.ts';
import { announceSkip, childLibrary, releaseChildLibrary, straceSkipReason } from '../support/faults.ts';
import { scratchFiles, KiB } from '../support/fixtures.ts';
import {
  BASE_FILE,
  childScript,
  containerFileName,
  createLog,
  liveChild,
  rejectionOf,
  text,
  toolWorks,
} from '../support/log.ts';
import { KINDS, entryOf, fileSnapshot, plant, plantSkipReason } from './plant.ts';
import { itWhere, MISSING } from '../support/platform.ts';

const scratch = scratchFiles('clfs-files-regular-');
afterAll(() => releaseChildLibrary());

const fresh = (what: string): string => scratch.fresh(what);

/** A 64 KiB regular file. */
function plainFile(): string {
  const file = fresh('file');
  writeFileSync(file, new Uint8Array(64 * KiB).fill(7));
  return file;
}

const open = (file: string): Promise<unknown> =>
  DirectFile.open(file, { regularOnly: true, allowBuffered: true, lock: false });

describe('DirectFile.open({ regularOnly }) and regularFileSize', () => {
  it('DirectFile.open({ regularOnly }): a plain regular file opens, and says its size', async () => {
    const file = await DirectFile.open(plainFile(), { regularOnly: true, allowBuffered: true, lock: false });
    expect(file.sizeAtOpen).toBe(64 * KiB);
    await file.close();
  });

  it('regularFileSize: a plain regular file’s size; ENOENT for no file', async () => {
    expect(await regularFileSize(plainFile())).toBe(64 * KiB);
    expect((await rejectionOf(regularFileSize(fresh('missing')))).code).toBe('ENOENT');
  });

  it.each(KINDS)(
    'DirectFile.open({ regularOnly }) and regularFileSize: a %s is ERR_CLFS_UNSAFE_FILE saying what it is, and is left as it was',
    async (kind) => {
      const skip = plantSkipReason(kind);
      if (skip !== undefined) return void console.warn(`[skipped] ${kind}: ${skip}`);
      const file = plainFile();
      const planted = await plant(kind, file, fresh('outside'));
      try {
        const entry = entryOf(file);
        const outside = planted.outside === undefined ? undefined : fileSnapshot(planted.outside);
        for (const attempt of [open, regularFileSize]) {
          const error = await rejectionOf(attempt(file));
          expect(error.code, error.message).toBe('ERR_CLFS_UNSAFE_FILE');
          expect(error.path).toBe(file);
          expect(typeof error.reason).toBe('string');
        }
        expect(entryOf(file)).toEqual(entry);
        if (planted.outside !== undefined) expect(fileSnapshot(planted.outside)).toEqual(outside);
      } finally {
        await planted.close();
      }
    },
  );

  itWhere(
    MISSING.symlinks,
    'DirectFile.open without regularOnly still follows a symbolic link (the option is the log’s, not the default)',
    async () => {
      const target = plainFile();
      const link = fresh('link');
      symlinkSync(target, link);
      const file = await DirectFile.open(link, { allowBuffered: true, lock: false });
      expect(file.sizeAtOpen).toBe(64 * KiB);
      await file.close();
    },
  );
});

// Bind mounts need root and a kernel that lets this process mount.
const mountSkip =
  process.platform !== 'linux'
    ? 'bind mounts are Linux-only'
    : process.getuid?.() !== 0
      ? 'mount --bind needs root'
      : !toolWorks('sh', ['-c', 'command -v mount'])
        ? 'mount is not installed'
        : undefined;
announceSkip('a file bind-mounted over a container', mountSkip);

describe.skipIf(mountSkip !== undefined)(
  `a file mounted over a container${mountSkip ? ` (skipped: ${mountSkip})` : ''}`,
  () => {
    it.each([
      ['of another file system (/dev/shm): another device', '/dev/shm'],
      ['of the same file system: the same device, another mount', 'same'],
    ])(
      'Log.open: a file %s, bind-mounted over a container, is ERR_CLFS_UNSAFE_FILE, and is not written',
      async (_name, where) => {
        const logPath = fresh('log');
        const log = await createLog(logPath, { containerSize: 512 * KiB, containers: 2 });
        await log.close();
        const container = path.join(logPath, containerFileName(1));
        const outside =
          where === 'same'
            ? fresh('outside')
            : path.join(where, `clfs-outside-${process.pid}-${path.basename(fresh('outside'))}`);
        // The container's own bytes, so that a follower would find a valid container.
        renameSync(container, fresh('moved'));
        writeFileSync(outside, new Uint8Array(512 * KiB));
        writeFileSync(container, '');
        execFileSync('mount', ['--bind', outside, container]);
        try {
          const before = fileSnapshot(outside);
          const error = await rejectionOf(Log.open(logPath));
          expect(error.code, error.message).toBe('ERR_CLFS_UNSAFE_FILE');
          expect(error.path).toBe(container);
          expect(fileSnapshot(outside)).toEqual(before);
        } finally {
          execFileSync('umount', [container]);
          if (where !== 'same') execFileSync('rm', ['-f', outside]);
        }
      },
    );
  },
);

const straceSkip = straceSkipReason();
announceSkip('a base file renamed while Log.open waits for its lock (needs strace)', straceSkip);

describe.skipIf(straceSkip !== undefined)(
  `the lock is on the file the path names${straceSkip ? ` (skipped: ${straceSkip})` : ''}`,
  () => {
    it('Log.open: a base file renamed away (a delete beginning) after Log.open opened it and before it got the lock is not opened: ERR_CLFS_NOT_FOUND', async () => {
      const logPath = fresh('log');
      const log = await createLog(logPath, { containerSize: 512 * KiB });
      const area = await log.createMarshallingArea({ bufferSize: 4 * KiB });
      await area.reserveAndAppend(text('hello'), { forceFlush: true });
      await log.close();
      // strace holds the child's flock for 1.5 s once the child is in it (its
      // output shows the call's entry); meanwhile the base file is renamed.
      const straceOut = fresh('strace');
      const source = `import { Log } from 'CLFS';
        try { const log = await Log.open(ARGS.path); console.log('opened'); await log.close(); }
        catch (e) { console.log('code ' + e.code); }`;
      const library = childLibrary();
      const child = liveChild(
        spawn(
          'strace',
          [
            '-f',
            '-qq',
            '-o',
            straceOut,
            '-e',
            'trace=flock',
            '-e',
            'inject=flock:delay_enter=1500000',
            '--',
            process.execPath,
            '--input-type=module',
            '-e',
            childScript(source, pathToFileURL(library.entry).href),
          ],
          {
            env: {
              ...process.env,
              ...library.env,
              CLFS_IO_ENGINE: 'threads',
              CLFS_TEST_ARGS: JSON.stringify({ path: logPath }),
            },
          },
        ),
      );
      const inFlock = (): boolean => existsSync(straceOut) && readFileSync(straceOut, 'utf8').includes('flock(');
      for (let waited = 0; !inFlock(); waited += 20) {
        if (waited > 20_000) expect.fail(`the child never reached flock: ${child.stderr()}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const moved = fresh('moved');
      mkdirSync(moved);
      renameSync(path.join(logPath, BASE_FILE), path.join(moved, BASE_FILE));
      const exit = await child.exited;
      expect(exit.code, child.stderr()).toBe(0);
      expect(child.stdout().trim()).toBe('code ERR_CLFS_NOT_FOUND');
    });
  },
);
