// Log.create (CLFS's CreateLogFile + AddLogContainerSet): the directory it
// makes, what it refuses, container sizes, preallocation, and that a failed
// create leaves nothing behind.
import { execFileSync, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

import { afterAll, describe, expect, it } from 'vitest';

import { Log, type CreateLogOptions } from '../../lib/index.ts';
import { DIST_ENTRY } from '../support/helpers.ts';
import { scratchFiles, KiB, MiB } from '../support/fixtures.ts';
import { describeWhere, itWhere, MISSING } from '../support/platform.ts';
import { BASE_FILE, containerFiles, createLog, readAll, rejectionOf, text, textOf, toolWorks } from '../support/log.ts';

const scratch = scratchFiles('clfs-log-create-');

/** A fresh parent directory (so leftovers can be checked) and a log path in it. */
function fresh(): { parent: string; logPath: string } {
  const parent = scratch.freshDir('case');
  return { parent, logPath: path.join(parent, 'log') };
}

describe('Log.create', () => {
  it('Log.create: makes the log directory, holding the base file and the containers', async () => {
    const { logPath } = fresh();
    expect(existsSync(logPath)).toBe(false);
    const log = await createLog(logPath, { containerSize: 512 * KiB, containers: 3 });
    await log.close();
    expect(statSync(logPath).isDirectory()).toBe(true);
    const names = readdirSync(logPath);
    expect(names).toContain(BASE_FILE);
    expect(containerFiles(logPath)).toHaveLength(3);
    expect(names).toHaveLength(4);
  });

  it('Log.create: the new log is empty and already open for appends', async () => {
    const { logPath } = fresh();
    const log = await createLog(logPath, { containerSize: 512 * KiB });
    try {
      expect(log.information().totalContainers).toBe(2);
      const area = await log.createMarshallingArea({ bufferSize: 4 * KiB });
      const { lsn } = await area.reserveAndAppend(text('first'), { forceFlush: true });
      expect(lsn).toBe(log.information().baseLsn);
      expect((await readAll(log)).map((r) => textOf(r.data))).toEqual(['first']);
    } finally {
      await log.close();
    }
  });

  it('Log.create: fails with ERR_CLFS_EXISTS when an empty directory exists at the path, and leaves it as it was', async () => {
    const { logPath } = fresh();
    mkdirSync(logPath);
    const error = await rejectionOf(Log.create(logPath, { containerSize: 512 * KiB }));
    expect(error.code).toBe('ERR_CLFS_EXISTS');
    expect(readdirSync(logPath)).toEqual([]);
  });

  it('Log.create: fails with ERR_CLFS_EXISTS when a file exists at the path, and leaves it as it was', async () => {
    const { logPath } = fresh();
    writeFileSync(logPath, 'not a log');
    const error = await rejectionOf(Log.create(logPath, { containerSize: 512 * KiB }));
    expect(error.code).toBe('ERR_CLFS_EXISTS');
    expect(readFileSync(logPath, 'utf8')).toBe('not a log');
  });

  it('Log.create: fails with ERR_CLFS_EXISTS when a log exists at the path, and the existing log keeps its records', async () => {
    const { logPath } = fresh();
    const log = await createLog(logPath, { containerSize: 512 * KiB });
    const area = await log.createMarshallingArea({ bufferSize: 4 * KiB });
    await area.reserveAndAppend(text('kept'), { forceFlush: true });
    const identity = log.information().identity;
    await log.close();

    const error = await rejectionOf(Log.create(logPath, { containerSize: 512 * KiB }));
    expect(error.code).toBe('ERR_CLFS_EXISTS');
    const again = await Log.open(logPath);
    try {
      expect(again.information().identity).toBe(identity);
      expect((await readAll(again)).map((r) => textOf(r.data))).toEqual(['kept']);
    } finally {
      await again.close();
    }
  });

  it('Log.create: ERR_CLFS_EXISTS leaves no temporary directory behind', async () => {
    const { parent, logPath } = fresh();
    mkdirSync(logPath);
    const before = readdirSync(parent);
    await rejectionOf(Log.create(logPath, { containerSize: 512 * KiB }));
    expect(readdirSync(parent)).toEqual(before);
  });

  it.each([1, 0, -1])('Log.create: containers: %d (below 2) is ERR_OUT_OF_RANGE', async (containers) => {
    const { parent, logPath } = fresh();
    const error = await rejectionOf(Log.create(logPath, { containerSize: 512 * KiB, containers }));
    expect(error.code).toBe('ERR_OUT_OF_RANGE');
    expect(readdirSync(parent)).toEqual([]);
  });

  it.each([
    [1, 512 * KiB],
    [512 * KiB - 1, 512 * KiB],
    [512 * KiB, 512 * KiB],
    [512 * KiB + 1, 1024 * KiB],
    [1_000_000, 1024 * KiB],
    [1536 * KiB - 1, 1536 * KiB],
  ])(
    'ClfsAddLogContainer: container sizes round up to a multiple of 512 KiB, minimum 512 KiB (%d -> %d)',
    async (requested, expected) => {
      const { logPath } = fresh();
      const log = await createLog(logPath, { containerSize: requested, containers: 2 });
      try {
        expect(log.information().containerSize).toBe(expected);
        expect(log.information().totalAvailable).toBe(2 * expected);
      } finally {
        await log.close();
      }
    },
  );

  it('Log.create: every container file is preallocated to exactly the container size', async () => {
    const { logPath } = fresh();
    const log = await createLog(logPath, { containerSize: 700 * KiB, containers: 3 });
    const size = log.information().containerSize;
    await log.close();
    const sizes = containerFiles(logPath).map((name) => statSync(path.join(logPath, name)).size);
    expect(sizes).toEqual([size, size, size]);
    expect(size).toBe(1 * MiB);
  });

  const filefrag = toolWorks('filefrag', ['-V']);
  itWhere(
    filefrag ? undefined : 'filefrag (e2fsprogs) is not usable here',
    'Log.create: containers are written at creation, not just allocated (filefrag -v shows no unwritten extents; skipped without e2fsprogs)',
    async () => {
      const { logPath } = fresh();
      const log = await createLog(logPath, { containerSize: 1 * MiB, containers: 2 });
      await log.close();
      for (const name of containerFiles(logPath)) {
        const report = execFileSync('filefrag', ['-v', path.join(logPath, name)], { encoding: 'utf8' });
        expect(report, `filefrag -v ${name}`).toMatch(/extents? found/);
        expect(report, `filefrag -v ${name}`).not.toMatch(/unwritten/);
      }
    },
  );

  it.each(['dsync', 'fdatasync', 'none'] as const)(
    'Log.create: durability %s is what information().durability reports',
    async (durability) => {
      const { logPath } = fresh();
      const log = await createLog(logPath, { containerSize: 512 * KiB, durability });
      try {
        expect(log.information().durability).toBe(durability);
      } finally {
        await log.close();
      }
    },
  );

  const badOptions: [string, unknown, string][] = [
    ['containers as a string', { containers: '2' }, 'ERR_INVALID_ARG_TYPE'],
    ['fractional containers', { containers: 2.5 }, 'ERR_OUT_OF_RANGE'],
    ['more than 1024 containers', { containers: 1025 }, 'ERR_OUT_OF_RANGE'],
    ['NaN containers', { containers: Number.NaN }, 'ERR_OUT_OF_RANGE'],
    ['containerSize as a string', { containerSize: '1048576' }, 'ERR_INVALID_ARG_TYPE'],
    ['containerSize as a bigint', { containerSize: 1048576n }, 'ERR_INVALID_ARG_TYPE'],
    ['containerSize 0', { containerSize: 0 }, 'ERR_OUT_OF_RANGE'],
    ['negative containerSize', { containerSize: -512 * KiB }, 'ERR_OUT_OF_RANGE'],
    ['fractional containerSize', { containerSize: 524288.5 }, 'ERR_OUT_OF_RANGE'],
    ['containerSize over 4 GiB', { containerSize: 4 * 1024 * MiB + 1 }, 'ERR_OUT_OF_RANGE'],
    ['huge containerSize', { containerSize: 2 ** 53 }, 'ERR_OUT_OF_RANGE'],
    ['Infinity containerSize', { containerSize: Infinity }, 'ERR_OUT_OF_RANGE'],
    ['unknown durability', { durability: 'sometimes' }, 'ERR_INVALID_ARG_VALUE'],
    ['durability as a number', { durability: 1 }, 'ERR_INVALID_ARG_TYPE'],
    ['allowBuffered as a string', { allowBuffered: 'yes' }, 'ERR_INVALID_ARG_TYPE'],
    ['autoGrow as a number', { autoGrow: 3 }, 'ERR_INVALID_ARG_TYPE'],
    ['autoGrow.maxContainers below containers', { containers: 3, autoGrow: { maxContainers: 2 } }, 'ERR_OUT_OF_RANGE'],
    ['autoGrow.maxContainers over 1024', { autoGrow: { maxContainers: 1025 } }, 'ERR_OUT_OF_RANGE'],
    ['autoGrow without maxContainers', { autoGrow: {} }, 'ERR_INVALID_ARG_TYPE'],
    ['options null', null, 'ERR_INVALID_ARG_TYPE'],
    ['options a number', 5, 'ERR_INVALID_ARG_TYPE'],
    ['options an array', [], 'ERR_INVALID_ARG_TYPE'],
  ];
  it.each(badOptions)(
    'Log.create: bad options give typed errors and create nothing (%s)',
    async (_name, options, code) => {
      const { parent, logPath } = fresh();
      const error = await rejectionOf(Log.create(logPath, options as CreateLogOptions));
      expect(error.code).toBe(code);
      expect(readdirSync(parent)).toEqual([]);
    },
  );

  it.each([
    ['a number', 5, 'ERR_INVALID_ARG_TYPE'],
    ['empty', '', 'ERR_INVALID_ARG_VALUE'],
    ['holding a NUL byte', 'a\0b', 'ERR_INVALID_ARG_VALUE'],
  ])('Log.create: a path %s is a typed error', async (_name, bad, code) => {
    const error = await rejectionOf(Log.create(bad as string));
    expect(error.code).toBe(code);
  });

  const strace = toolWorks('strace', ['-f', '-qq', '-o', '/dev/null', 'true']);
  itWhere(
    strace ? undefined : 'strace is not usable here',
    'Log.create: a failure while building the log leaves nothing behind (fallocate fails with ENOSPC, injected by strace; skipped without strace)',
    async () => {
      const { parent, logPath } = fresh();
      const source = `import { Log } from ${JSON.stringify(pathToFileURL(DIST_ENTRY).href)};
        try {
          await Log.create(${JSON.stringify(logPath)}, { containerSize: 512 * 1024 });
          console.log('created');
        } catch (error) {
          console.log('code ' + error.code);
        }`;
      const result = spawnSync(
        'strace',
        [
          '-f',
          '-qq',
          '-o',
          '/dev/null',
          '-e',
          'trace=fallocate',
          '-e',
          'inject=fallocate:error=ENOSPC',
          process.execPath,
          '--input-type=module',
          '-e',
          source,
        ],
        { encoding: 'utf8', timeout: 30_000 },
      );
      expect(result.stdout.trim(), result.stderr).toBe('code ENOSPC');
      expect(readdirSync(parent)).toEqual([]);
    },
  );
});

// tmpfs ignores O_DIRECT here: the documented allowBuffered fallback.
const shm = '/dev/shm';
function shmIgnoresDirectIo(): boolean {
  if (!existsSync(shm)) return false;
  try {
    const probe = execFileSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import { DirectFile } from ${JSON.stringify(pathToFileURL(DIST_ENTRY).href)};
         const f = await DirectFile.open(process.argv[1], { create: true, allowBuffered: true });
         console.log(f.direct);
         await f.close();`,
        path.join(shm, `clfs-probe-${process.pid}`),
      ],
      { encoding: 'utf8' },
    );
    return probe.trim() === 'false';
  } catch {
    return false;
  } finally {
    rmSync(path.join(shm, `clfs-probe-${process.pid}`), { force: true });
  }
}

describeWhere(
  MISSING.tmpfs ?? (shmIgnoresDirectIo() ? undefined : '/dev/shm does not ignore O_DIRECT here'),
  'Log.create where the filesystem ignores O_DIRECT (/dev/shm)',
  () => {
    const dir = existsSync(shm) ? mkdtempSync(path.join(shm, 'clfs-log-create-')) : '';
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('Log.create: without allowBuffered it fails with ERR_CLFS_DIRECT_IO_UNSUPPORTED and leaves nothing behind', async () => {
      const parent = mkdtempSync(path.join(dir, 'case-'));
      const error = await rejectionOf(Log.create(path.join(parent, 'log'), { containerSize: 512 * KiB }));
      expect(error.code).toBe('ERR_CLFS_DIRECT_IO_UNSUPPORTED');
      expect(readdirSync(parent)).toEqual([]);
    });

    it('Log.create: allowBuffered: true creates a buffered log, and information().direct says so', async () => {
      const parent = mkdtempSync(path.join(dir, 'case-'));
      const logPath = path.join(parent, 'log');
      const error = await Log.create(logPath, { containerSize: 512 * KiB, allowBuffered: true }).then(
        async (log) => {
          try {
            expect(log.information().direct).toBe(false);
            const area = await log.createMarshallingArea({ bufferSize: 4 * KiB });
            await area.reserveAndAppend(text('buffered'), { forceFlush: true });
            expect((await readAll(log)).map((r) => textOf(r.data))).toEqual(['buffered']);
          } finally {
            await log.close();
          }
          return undefined;
        },
        (e: unknown) => e as Error & { code?: string },
      );
      expect(error, `Log.create rejected: ${String(error?.message)}`).toBeUndefined();
    });
  },
);
