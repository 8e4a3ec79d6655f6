// Log.open (CreateLogFile OPEN_EXISTING), the one-writer lock, close
// (CloseLogFileObject) and Log.delete (DeleteLogFile).
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { Log, Lsn, type OpenLogOptions } from '../../lib/index.ts';
import { scratchFiles, KiB } from '../support/fixtures.ts';
import {
  createLog,
  openLog,
  readAll,
  rejectionOf,
  runLogChild,
  spawnLogChild,
  text,
  textOf,
  thrownBy,
} from '../support/log.ts';
import { diedOfOwnKill } from '../support/platform.ts';

const scratch = scratchFiles('clfs-log-open-');

function newPath(): string {
  return scratch.fresh();
}

/** A closed log holding one record 'hello'. */
async function closedLog(): Promise<string> {
  const logPath = newPath();
  const log = await createLog(logPath, { containerSize: 512 * KiB });
  const area = await log.createMarshallingArea({ bufferSize: 4 * KiB });
  await area.reserveAndAppend(text('hello'), { forceFlush: true });
  await log.close();
  return logPath;
}

describe('Log.open', () => {
  it('Log.open: ERR_CLFS_NOT_FOUND for a path that does not exist', async () => {
    const error = await rejectionOf(Log.open(newPath()));
    expect(error.code).toBe('ERR_CLFS_NOT_FOUND');
  });

  it('Log.open: ERR_CLFS_NOT_FOUND for an empty directory', async () => {
    const dir = newPath();
    mkdirSync(dir);
    const error = await rejectionOf(Log.open(dir));
    expect(error.code).toBe('ERR_CLFS_NOT_FOUND');
    expect(readdirSync(dir)).toEqual([]);
  });

  it('Log.open: ERR_CLFS_NOT_FOUND for a directory of other files, which it leaves alone', async () => {
    const dir = newPath();
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'notes.txt'), 'mine');
    const error = await rejectionOf(Log.open(dir));
    expect(error.code).toBe('ERR_CLFS_NOT_FOUND');
    expect(readdirSync(dir)).toEqual(['notes.txt']);
  });

  it('Log.open: ERR_CLFS_NOT_FOUND for a regular file at the path (there is no log there)', async () => {
    const file = newPath();
    writeFileSync(file, 'not a log');
    const error = await rejectionOf(Log.open(file));
    expect(error.code).toBe('ERR_CLFS_NOT_FOUND');
  });

  it.each([
    ['recovery: "sometimes"', { recovery: 'sometimes' }, 'ERR_INVALID_ARG_VALUE'],
    ['durability: 5', { durability: 5 }, 'ERR_INVALID_ARG_TYPE'],
    ['allowBuffered: 1', { allowBuffered: 1 }, 'ERR_INVALID_ARG_TYPE'],
    ['options null', null, 'ERR_INVALID_ARG_TYPE'],
  ])('Log.open: bad options give typed errors (%s)', async (_name, options, code) => {
    const logPath = await closedLog();
    const error = await rejectionOf(Log.open(logPath, options as OpenLogOptions));
    expect(error.code).toBe(code);
    // And the log was not left locked.
    await (await openLog(logPath)).close();
  });

  it('Log.open: a second open in the same process is ERR_CLFS_LOCKED', async () => {
    const logPath = await closedLog();
    const log = await openLog(logPath);
    try {
      const error = await rejectionOf(Log.open(logPath));
      expect(error.code).toBe('ERR_CLFS_LOCKED');
    } finally {
      await log.close();
    }
  });

  it('Log.open: a refused second open leaves the first handle working', async () => {
    const logPath = await closedLog();
    const log = await openLog(logPath);
    try {
      await rejectionOf(Log.open(logPath));
      const area = await log.createMarshallingArea({ bufferSize: 4 * KiB });
      await area.reserveAndAppend(text('after'), { forceFlush: true });
      expect((await readAll(log)).map((r) => textOf(r.data))).toEqual(['hello', 'after']);
    } finally {
      await log.close();
    }
  });

  it('Log.open: an open from another process is ERR_CLFS_LOCKED while this process holds the log', async () => {
    const logPath = await closedLog();
    const log = await openLog(logPath);
    try {
      const result = await runLogChild(
        `import { Log } from 'CLFS';
         try { await Log.open(ARGS.path); console.log('opened'); } catch (e) { console.log('code ' + e.code); }`,
        { path: logPath },
      );
      expect(result.stdout.trim(), result.stderr).toBe('code ERR_CLFS_LOCKED');
    } finally {
      await log.close();
    }
  });

  it('Log.open: a log held by another process is ERR_CLFS_LOCKED here, and opens once that process dies', async () => {
    const logPath = await closedLog();
    // The child opens the log, says so, and dies when told to.
    const child = spawnLogChild(
      `import { Log } from 'CLFS';
       const log = await Log.open(ARGS.path);
       console.log('held');
       process.stdin.on('data', () => process.kill(process.pid, 'SIGKILL'));`,
      { path: logPath },
    );
    await child.waitForLine('held');
    const error = await rejectionOf(Log.open(logPath));
    child.process.stdin.write('die\n');
    const exited = await child.exited;
    expect(diedOfOwnKill({ ...exited, stderr: child.stderr() }), child.stderr()).toBe(true);
    expect(error.code).toBe('ERR_CLFS_LOCKED');
    const log = await openLog(logPath);
    try {
      expect((await readAll(log)).map((r) => textOf(r.data))).toEqual(['hello']);
    } finally {
      await log.close();
    }
  });

  it('Log.open: after close the log reopens with its records', async () => {
    const logPath = await closedLog();
    const first = await openLog(logPath);
    await first.close();
    const second = await openLog(logPath);
    try {
      expect((await readAll(second)).map((r) => textOf(r.data))).toEqual(['hello']);
    } finally {
      await second.close();
    }
  });
});

describe('Log.delete', () => {
  it('Log.delete: removes the log directory', async () => {
    const logPath = await closedLog();
    await Log.delete(logPath);
    expect(existsSync(logPath)).toBe(false);
  });

  it('Log.delete: ERR_CLFS_LOCKED while the log is open, and the log is untouched', async () => {
    const logPath = await closedLog();
    const log = await openLog(logPath);
    try {
      const error = await rejectionOf(Log.delete(logPath));
      expect(error.code).toBe('ERR_CLFS_LOCKED');
      expect((await readAll(log)).map((r) => textOf(r.data))).toEqual(['hello']);
    } finally {
      await log.close();
    }
    expect(existsSync(logPath)).toBe(true);
  });

  it('Log.delete: ERR_CLFS_LOCKED while another process holds the log', async () => {
    const logPath = await closedLog();
    const log = await openLog(logPath);
    try {
      const result = await runLogChild(
        `import { Log } from 'CLFS';
         try { await Log.delete(ARGS.path); console.log('deleted'); } catch (e) { console.log('code ' + e.code); }`,
        { path: logPath },
      );
      expect(result.stdout.trim(), result.stderr).toBe('code ERR_CLFS_LOCKED');
    } finally {
      await log.close();
    }
    expect(existsSync(logPath)).toBe(true);
  });

  it('Log.delete: ERR_CLFS_NOT_FOUND when there is nothing at the path', async () => {
    const error = await rejectionOf(Log.delete(newPath()));
    expect(error.code).toBe('ERR_CLFS_NOT_FOUND');
  });

  it('Log.delete: ERR_CLFS_NOT_FOUND for a directory that is not a log, which it does not delete', async () => {
    const dir = newPath();
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'precious.txt'), 'keep me');
    const error = await rejectionOf(Log.delete(dir));
    expect(error.code).toBe('ERR_CLFS_NOT_FOUND');
    expect(readFileSync(path.join(dir, 'precious.txt'), 'utf8')).toBe('keep me');
  });

  it('Log.delete: ERR_CLFS_NOT_FOUND for a regular file at the path, which it does not delete', async () => {
    const file = newPath();
    writeFileSync(file, 'keep me');
    const error = await rejectionOf(Log.delete(file));
    expect(error.code).toBe('ERR_CLFS_NOT_FOUND');
    expect(readFileSync(file, 'utf8')).toBe('keep me');
  });
});

describe('CloseLogFileObject (log.close)', () => {
  it('CloseLogFileObject: close() twice is a no-op', async () => {
    const logPath = await closedLog();
    const log = await openLog(logPath);
    await log.close();
    await expect(log.close()).resolves.toBeUndefined();
  });

  it('CloseLogFileObject: two concurrent close() calls both resolve', async () => {
    const logPath = await closedLog();
    const log = await openLog(logPath);
    await expect(Promise.all([log.close(), log.close()])).resolves.toEqual([undefined, undefined]);
  });

  it('CloseLogFileObject: close() flushes every marshalling area first (an unflushed record survives)', async () => {
    const logPath = newPath();
    const log = await createLog(logPath, { containerSize: 512 * KiB });
    const area = await log.createMarshallingArea({ bufferSize: 4 * KiB, flushIntervalMs: 0 });
    const { lsn } = await area.reserveAndAppend(text('unflushed'));
    expect(log.information().lastFlushedLsn).toBe(Lsn.INVALID);
    await log.close();
    const again = await openLog(logPath);
    try {
      expect(await readAll(again)).toEqual([{ lsn, data: text('unflushed') }]);
    } finally {
      await again.close();
    }
  });

  /** Settles `promise` into a description, or 'still pending' after `ms`. */
  function settleWithin(promise: Promise<unknown>, ms: number): Promise<string> {
    return Promise.race([
      promise.then(
        () => 'resolved',
        (e: { code?: string }) => `rejected ${e.code}`,
      ),
      new Promise<string>((resolve) => setTimeout(() => resolve('still pending'), ms).unref()),
    ]);
  }

  it('CloseLogFileObject: close() called while an append is in progress settles', async () => {
    const log = await openLog(await closedLog());
    const area = await log.createMarshallingArea({ bufferSize: 4 * KiB });
    const append = area.reserveAndAppend(text('racing close'));
    const closing = log.close();
    await settleWithin(append, 2000);
    expect(await settleWithin(closing, 2000)).toBe('resolved');
  });

  it('CloseLogFileObject: an append with forceFlush in progress when close() is called settles', async () => {
    const log = await openLog(await closedLog());
    const area = await log.createMarshallingArea({ bufferSize: 4 * KiB });
    const append = area.reserveAndAppend(text('racing close'), { forceFlush: true });
    void log.close().catch(() => undefined);
    expect(await settleWithin(append, 2000)).not.toBe('still pending');
  });

  describe('operations after close give ERR_CLFS_CLOSED', () => {
    const asyncOperations: [string, (log: Log) => Promise<unknown>][] = [
      ['createMarshallingArea', (log) => log.createMarshallingArea({ bufferSize: 4 * KiB })],
      ['addContainers', (log) => log.addContainers(1)],
    ];
    it.each(asyncOperations)('CloseLogFileObject: log.%s() after close is ERR_CLFS_CLOSED', async (_name, op) => {
      const log = await openLog(await closedLog());
      await log.close();
      const error = await rejectionOf(op(log));
      expect(error.code).toBe('ERR_CLFS_CLOSED');
    });

    it.each([
      ['information', (log: Log) => log.information()],
      ['ioStatistics', (log: Log) => log.ioStatistics()],
    ])('CloseLogFileObject: log.%s() after close is ERR_CLFS_CLOSED', async (_name, op) => {
      const log = await openLog(await closedLog());
      await log.close();
      expect(thrownBy(() => op(log)).code).toBe('ERR_CLFS_CLOSED');
    });

    it.each([
      ['reserveAndAppend', (a: Awaited<ReturnType<Log['createMarshallingArea']>>) => a.reserveAndAppend(text('x'))],
      ['flushToLsn', (a: Awaited<ReturnType<Log['createMarshallingArea']>>) => a.flushToLsn()],
      ['readRestartArea', (a: Awaited<ReturnType<Log['createMarshallingArea']>>) => a.readRestartArea()],
    ])('CloseLogFileObject: area.%s() on an area of a closed log is ERR_CLFS_CLOSED', async (_name, op) => {
      const log = await openLog(await closedLog());
      const area = await log.createMarshallingArea({ bufferSize: 4 * KiB });
      await log.close();
      const error = await rejectionOf(op(area));
      expect(error.code).toBe('ERR_CLFS_CLOSED');
    });
  });
});
