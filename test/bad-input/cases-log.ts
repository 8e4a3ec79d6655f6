// The table, part 1: Log.create / Log.open / Log.delete, log.createMarshallingArea
// (options and allocators), log.addContainers, and a closed log.
import { existsSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import type { BufferAllocator, MarshallingArea } from '../../lib/index.ts';
import { BUFFER_SIZE, caseLog, dirWith, listing, pattern, sameBytes, type Clfs, type Fixture } from './fixture.ts';
import type { Case } from './runner.ts';
import { SYSTEM_ERRORS } from '../support/system.ts';

const TYPE = 'ERR_INVALID_ARG_TYPE';
const VALUE = 'ERR_INVALID_ARG_VALUE';
const RANGE = 'ERR_OUT_OF_RANGE';

/** A bad value, typed as whatever the parameter wants. */
export const X = (value: unknown): never => value as never;

const LONG_NAME = 'n'.repeat(300); // > NAME_MAX (255)
const longPath = (f: Fixture): string => path.join(f.tmpDir(), `${'d'.repeat(200)}/`.repeat(25), 'log'); // > PATH_MAX

// --- Log.create -------------------------------------------------------------------

/**
 * Log.create with the path and options `args` gives, in a fresh directory;
 * the check: the parent directory holds afterwards exactly what it held
 * before (no log, no half-made temporary).
 */
function create(
  input: string,
  expect: string | string[],
  args: (f: Fixture, dir: string) => [unknown, unknown?],
): Case {
  return {
    fn: 'Log.create',
    input,
    expect,
    run: (f, s) => {
      const dir = f.tmpDir();
      const [p, options] = args(f, dir);
      // Where a temporary would be made: beside the path, if that directory exists.
      const beside = typeof p === 'string' && p !== '' && !p.includes('\0') && p.length < 4096 ? path.dirname(p) : dir;
      s.parent = existsSync(beside) && statSync(beside).isDirectory() ? beside : dir;
      s.before = listing(s.parent as string);
      return f.clfs.Log.create(X(p), X(options));
    },
    check: (_f, s) => {
      if (!existsSync(s.parent as string)) return undefined;
      const after = listing(s.parent as string);
      const before = s.before as string[];
      return after.join() === before.join()
        ? undefined
        : `left behind: [${after.filter((n) => !before.includes(n)).join(', ')}]`;
    },
  };
}

/** Log.create at a fresh path in a fresh directory with `options`. */
const createWith = (input: string, expect: string | string[], options: unknown): Case =>
  create(input, expect, (_f, dir) => [path.join(dir, 'log'), options]);

export function logCreateCases(): Case[] {
  return [
    create('path = 42', TYPE, () => [42]),
    create('path = undefined', TYPE, () => [undefined]),
    create('path = null', TYPE, () => [null]),
    create('path = {}', TYPE, () => [{}]),
    create("path = ''", VALUE, () => ['']),
    create('path with a NUL byte', VALUE, (_f, d) => [path.join(d, 'a\0b')]),
    create('path with a 300-byte name', SYSTEM_ERRORS.nameTooLong, (_f, d) => [path.join(d, LONG_NAME)]),
    create('path of 5000 bytes', ['ENAMETOOLONG', 'ENOENT', 'ERR_CLFS_NOT_FOUND'], (f) => [longPath(f)]),
    create('path = an existing regular file', 'ERR_CLFS_EXISTS', (_f, d) => {
      writeFileSync(path.join(d, 'log'), 'not a log');
      return [path.join(d, 'log')];
    }),
    create('path = an existing empty directory', 'ERR_CLFS_EXISTS', (f) => [f.tmpDir()]),
    create('path = log A (open)', 'ERR_CLFS_EXISTS', (f) => [f.A.path]),
    create('path under a regular file (file/log)', [SYSTEM_ERRORS.underAFile, 'ERR_CLFS_NOT_FOUND'], (_f, d) => {
      writeFileSync(path.join(d, 'file'), 'x');
      return [path.join(d, 'file', 'log')];
    }),
    create('path whose parent does not exist', ['ENOENT', 'ERR_CLFS_NOT_FOUND'], (_f, d) => [
      path.join(d, 'missing', 'log'),
    ]),
    createWith('options = 42', TYPE, 42),
    createWith("options = 'x'", TYPE, 'x'),
    createWith('options = null', TYPE, null),
    createWith('options = []', TYPE, []),
    createWith('options with a misspelt option (containerSise: 1 MiB, not ignored)', VALUE, { containerSise: 1 << 20 }),
    createWith('containerSize = -1', RANGE, { containerSize: -1 }),
    createWith('containerSize = 0', RANGE, { containerSize: 0 }),
    createWith('containerSize = 1.5', RANGE, { containerSize: 1.5 }),
    createWith('containerSize = 2**40', RANGE, { containerSize: 2 ** 40 }),
    createWith('containerSize = 4 GiB + 1', RANGE, { containerSize: 2 ** 32 + 1 }),
    createWith('containerSize = NaN', RANGE, { containerSize: NaN }),
    createWith('containerSize = Infinity', RANGE, { containerSize: Infinity }),
    createWith('containerSize = -Infinity', RANGE, { containerSize: -Infinity }),
    createWith("containerSize = '1048576'", TYPE, { containerSize: '1048576' }),
    createWith('containerSize = 1048576n', TYPE, { containerSize: 1048576n }),
    createWith('containerSize = null', TYPE, { containerSize: null }),
    createWith('containers = 0', RANGE, { containers: 0 }),
    createWith('containers = 1', RANGE, { containers: 1 }),
    createWith('containers = 1025', RANGE, { containers: 1025 }),
    createWith('containers = 1.5', RANGE, { containers: 1.5 }),
    createWith('containers = -1', RANGE, { containers: -1 }),
    createWith('containers = NaN', RANGE, { containers: NaN }),
    createWith("containers = '2'", TYPE, { containers: '2' }),
    createWith("durability = 'x'", VALUE, { durability: 'x' }),
    createWith("durability = 'DSYNC'", VALUE, { durability: 'DSYNC' }),
    createWith('durability = 1', TYPE, { durability: 1 }),
    createWith('durability = null', TYPE, { durability: null }),
    createWith("allowBuffered = 'yes'", TYPE, { allowBuffered: 'yes' }),
    createWith('allowBuffered = 1', TYPE, { allowBuffered: 1 }),
    createWith("autoGrow = 'x'", TYPE, { autoGrow: 'x' }),
    createWith('autoGrow = 1', TYPE, { autoGrow: 1 }),
    createWith('autoGrow = null', TYPE, { autoGrow: null }),
    createWith('autoGrow = {}', TYPE, { autoGrow: {} }),
    createWith('autoGrow = []', TYPE, { autoGrow: [] }),
    createWith('autoGrow = () => true', TYPE, { autoGrow: () => true }),
    createWith('autoGrow = { maxContainers: 1 } (below containers)', RANGE, { autoGrow: { maxContainers: 1 } }),
    createWith('autoGrow = { maxContainers: 1025 }', RANGE, { autoGrow: { maxContainers: 1025 } }),
    createWith('autoGrow = { maxContainers: 2.5 }', RANGE, { autoGrow: { maxContainers: 2.5 } }),
    createWith("autoGrow = { maxContainers: '4' }", TYPE, { autoGrow: { maxContainers: '4' } }),
    createWith("engine = 'x'", VALUE, { engine: 'x' }),
    createWith('policy = 5', TYPE, { policy: 5 }),
    createWith('policy.logTail = 101', RANGE, { policy: { logTail: 101 } }),
    createWith("policy.autoGrow = 'yes'", TYPE, { policy: { autoGrow: 'yes' } }),
    createWith('policy.x = 1', VALUE, { policy: { x: 1 } }),
    createWith('policy minContainers above maxContainers', 'ERR_CLFS_POLICY_INVALID', {
      policy: { minContainers: 9, maxContainers: 8 },
    }),
    createWith('policy.minContainers = 3 (above containers)', 'ERR_CLFS_POLICY_CONFLICT', {
      policy: { minContainers: 3 },
    }),
  ];
}

// --- Log.open ---------------------------------------------------------------------

function open(input: string, expect: string | string[], args: (f: Fixture) => [unknown, unknown?]): Case {
  return {
    fn: 'Log.open',
    input,
    expect,
    run: (f) => {
      const [p, options] = args(f);
      return f.clfs.Log.open(X(p), X(options));
    },
  };
}

/** Log.open of log C (closed, valid) with bad options: if they were not checked, it would open. */
const openC = (input: string, expect: string, options: unknown): Case =>
  open(input, expect, (f) => [f.C.path, options]);

export function logOpenCases(): Case[] {
  return [
    open('path = 42', TYPE, () => [42]),
    open('path = undefined', TYPE, () => [undefined]),
    open("path = ''", VALUE, () => ['']),
    open('path with a NUL byte', VALUE, (f) => [`${f.C.path}\0x`]),
    open('path with a 300-byte name', ['ENAMETOOLONG', 'ERR_CLFS_NOT_FOUND'], (f) => [
      path.join(f.tmpDir(), LONG_NAME),
    ]),
    open('path of 5000 bytes', ['ENAMETOOLONG', 'ERR_CLFS_NOT_FOUND'], (f) => [longPath(f)]),
    open('path that does not exist', 'ERR_CLFS_NOT_FOUND', (f) => [f.tmp()]),
    open('path = a regular file', 'ERR_CLFS_NOT_FOUND', (f) => [f.filePath]),
    open('path = an empty directory', 'ERR_CLFS_NOT_FOUND', (f) => [f.tmpDir()]),
    open('path = a directory whose base.blf is 8 KiB of garbage', ['ERR_CLFS_CORRUPT', 'ERR_CLFS_NOT_FOUND'], (f) => [
      dirWith(f, { 'base.blf': pattern(8192, 20) }),
    ]),
    open('path = a directory whose base.blf is empty', ['ERR_CLFS_CORRUPT', 'ERR_CLFS_NOT_FOUND'], (f) => [
      dirWith(f, { 'base.blf': '' }),
    ]),
    open('path = log A, open already', 'ERR_CLFS_LOCKED', (f) => [f.A.path]),
    open('path = log B, open already', 'ERR_CLFS_LOCKED', (f) => [f.B.path]),
    openC('options = 42', TYPE, 42),
    openC('options with an option it does not have (containerSize)', VALUE, { containerSize: 1 << 20 }),
    openC('options = null', TYPE, null),
    openC("durability = 'x'", VALUE, { durability: 'x' }),
    openC("recovery = 'x'", VALUE, { recovery: 'x' }),
    openC('recovery = 1', TYPE, { recovery: 1 }),
    openC("allowBuffered = 'x'", TYPE, { allowBuffered: 'x' }),
    openC("engine = 'x'", VALUE, { engine: 'x' }),
  ];
}

// --- Log.delete -------------------------------------------------------------------

/** Log.delete of `dir`; the check: the files named survive. */
function del(
  input: string,
  expect: string,
  target: (f: Fixture) => unknown,
  survivors: (f: Fixture) => string[] = () => [],
): Case {
  return {
    fn: 'Log.delete',
    input,
    expect,
    run: (f, s) => {
      const p = target(f);
      s.survivors = survivors(f).map((file) => (path.isAbsolute(file) ? file : path.join(p as string, file)));
      return f.clfs.Log.delete(X(p));
    },
    check: (_f, s) => {
      const gone = (s.survivors as string[]).filter((file) => !existsSync(file));
      return gone.length === 0 ? undefined : `deleted what is not a log's: ${gone.join(', ')}`;
    },
  };
}

export function logDeleteCases(): Case[] {
  return [
    del('path = 42', TYPE, () => 42),
    del('path = undefined', TYPE, () => undefined),
    del("path = ''", VALUE, () => ''),
    del('path with a NUL byte', VALUE, (f) => `${f.C.path}\0`),
    {
      ...del('path with a 300-byte name', 'ERR_CLFS_NOT_FOUND', (f) => path.join(f.tmpDir(), LONG_NAME)),
      expect: ['ENAMETOOLONG', 'ERR_CLFS_NOT_FOUND'],
    },
    del('path that does not exist', 'ERR_CLFS_NOT_FOUND', (f) => f.tmp()),
    del(
      'path = a regular file',
      'ERR_CLFS_NOT_FOUND',
      (f) => f.filePath,
      (f) => [f.filePath],
    ),
    del(
      'path = a directory of other files (not a log)',
      'ERR_CLFS_NOT_FOUND',
      (f) => dirWith(f, { 'notes.txt': 'keep me', 'container-000000.clfc': 'x' }),
      () => ['notes.txt'],
    ),
    {
      ...del(
        "path = a directory whose base.blf is garbage, beside someone's file",
        'ERR_CLFS_NOT_FOUND',
        (f) => dirWith(f, { 'base.blf': pattern(8192, 21), 'precious.txt': 'keep me' }),
        () => ['precious.txt'],
      ),
      expect: ['ERR_CLFS_CORRUPT', 'ERR_CLFS_NOT_FOUND'],
    },
    del(
      'path = log A, open',
      'ERR_CLFS_LOCKED',
      (f) => f.A.path,
      () => ['base.blf', 'container-000000.clfc'],
    ),
  ];
}

// --- log.createMarshallingArea: options ------------------------------------------

const areaWith = (input: string, expect: string, options: unknown): Case => ({
  fn: 'log.createMarshallingArea',
  input,
  expect,
  run: (f) => f.A.log.createMarshallingArea(X(options)),
});

const withBuffer = (input: string, expect: string, extra: Record<string, unknown>): Case =>
  areaWith(input, expect, { bufferSize: BUFFER_SIZE, ...extra });

export function createAreaCases(): Case[] {
  return [
    areaWith('options = undefined', TYPE, undefined),
    areaWith('options = null', TYPE, null),
    areaWith('options with a misspelt option (bufferSise)', VALUE, { bufferSize: 4096, bufferSise: 8192 }),
    areaWith('options = 42', TYPE, 42),
    areaWith('options = {} (no bufferSize)', TYPE, {}),
    areaWith('bufferSize = 0', RANGE, { bufferSize: 0 }),
    areaWith('bufferSize = -1', RANGE, { bufferSize: -1 }),
    areaWith('bufferSize = 1.5', RANGE, { bufferSize: 1.5 }),
    areaWith('bufferSize = 2**40', RANGE, { bufferSize: 2 ** 40 }),
    areaWith('bufferSize = 4 MiB + 1', RANGE, { bufferSize: 4 * 1024 * 1024 + 1 }),
    areaWith('bufferSize = NaN', RANGE, { bufferSize: NaN }),
    areaWith('bufferSize = Infinity', RANGE, { bufferSize: Infinity }),
    areaWith('logFullTimeoutMs = -1', RANGE, { bufferSize: 4096, logFullTimeoutMs: -1 }),
    areaWith('logFullTimeoutMs = 1.5', RANGE, { bufferSize: 4096, logFullTimeoutMs: 1.5 }),
    areaWith("logFullTimeoutMs = '5'", TYPE, { bufferSize: 4096, logFullTimeoutMs: '5' }),
    areaWith("bufferSize = '4096'", TYPE, { bufferSize: '4096' }),
    areaWith('bufferSize = 4096n', TYPE, { bufferSize: 4096n }),
    areaWith('bufferSize = null', TYPE, { bufferSize: null }),
    withBuffer("pool = 'x'", VALUE, { pool: 'x' }),
    withBuffer("pool = 'nonpaged' (wrong case)", VALUE, { pool: 'nonpaged' }),
    withBuffer('pool = 1', TYPE, { pool: 1 }),
    withBuffer('maxWriteBuffers = 0', RANGE, { maxWriteBuffers: 0 }),
    withBuffer('maxWriteBuffers = -1', RANGE, { maxWriteBuffers: -1 }),
    withBuffer('maxWriteBuffers = 1.5', RANGE, { maxWriteBuffers: 1.5 }),
    withBuffer('maxWriteBuffers = NaN', RANGE, { maxWriteBuffers: NaN }),
    withBuffer('maxWriteBuffers = -Infinity', RANGE, { maxWriteBuffers: -Infinity }),
    withBuffer("maxWriteBuffers = 'x'", TYPE, { maxWriteBuffers: 'x' }),
    withBuffer('maxWriteBuffers = null', TYPE, { maxWriteBuffers: null }),
    withBuffer('maxReadBuffers = 0', RANGE, { maxReadBuffers: 0 }),
    withBuffer('maxReadBuffers = 2.5', RANGE, { maxReadBuffers: 2.5 }),
    withBuffer("maxReadBuffers = 'x'", TYPE, { maxReadBuffers: 'x' }),
    withBuffer('flushIntervalMs = -1', RANGE, { flushIntervalMs: -1 }),
    withBuffer('flushIntervalMs = 1.5', RANGE, { flushIntervalMs: 1.5 }),
    withBuffer('flushIntervalMs = Infinity', RANGE, { flushIntervalMs: Infinity }),
    withBuffer("flushIntervalMs = 'x'", TYPE, { flushIntervalMs: 'x' }),
    withBuffer('allocator = 42', TYPE, { allocator: 42 }),
    withBuffer('allocator = null', TYPE, { allocator: null }),
    withBuffer('allocator = {}', TYPE, { allocator: {} }),
    withBuffer('allocator with allocate() only', TYPE, { allocator: { allocate: () => new Uint8Array(1) } }),
    withBuffer('allocator with free() only', TYPE, { allocator: { free: () => undefined } }),
    withBuffer("allocator with allocate = 'x'", TYPE, { allocator: { allocate: 'x', free: () => undefined } }),
  ];
}

// --- allocators that misbehave -----------------------------------------------------

/** An allocator whose allocate() is `allocate`; counts what it is given back. */
function allocatorOf(allocate: (size: number, alignment: number) => unknown): BufferAllocator & { freed: unknown[] } {
  const freed: unknown[] = [];
  return {
    allocate: (size, alignment) => allocate(size, alignment) as Uint8Array,
    free: (b) => void freed.push(b),
    freed,
  };
}

/**
 * An area on log A with `allocator`, then a read (the read buffer is the
 * first allocation): it must fail, and the area must still close.
 */
function allocatorRead(
  input: string,
  expect: string,
  allocate: (size: number, alignment: number) => unknown,
  foreign = false,
): Case {
  return {
    fn: 'area.readLogRecord (area with a custom allocator)',
    input,
    expect,
    foreign,
    run: async (f, s) => {
      const allocator = allocatorOf(allocate);
      const area = await f.A.log.createMarshallingArea({ bufferSize: BUFFER_SIZE, flushIntervalMs: 0, allocator });
      s.area = area;
      return area.readLogRecord(f.A.r[1]!, 'forward');
    },
    check: async (_f, s) => {
      await (s.area as MarshallingArea).close();
      return undefined;
    },
  };
}

/** A case log; an area on it with `allocator` appends (must fail); then a good area appends and the log reopens with it. */
function allocatorAppend(
  input: string,
  expect: string | string[],
  allocator: () => BufferAllocator,
  foreign = false,
): Case {
  return {
    fn: 'area.reserveAndAppend (area with a custom allocator)',
    input,
    expect,
    foreign,
    run: async (f, s) => {
      const { log, path: p } = await caseLog(f);
      s.log = log;
      s.path = p;
      const area = await log.createMarshallingArea({ bufferSize: 8192, flushIntervalMs: 0, allocator: allocator() });
      s.area = area;
      // Many blocks in flight at once, so several buffers are allocated.
      const appends = [];
      for (let i = 0; i < 24; i++) {
        appends.push(area.reserveAndAppend(new Uint8Array(3000).fill(i + 1), { forceAppend: true }));
      }
      const results = await Promise.allSettled(appends);
      const failure = results.find((r) => r.status === 'rejected');
      if (failure !== undefined) throw (failure as PromiseRejectedResult).reason;
      return results;
    },
    check: (f, s) => checkLogStillWhole(f, s),
  };
}

/** After a bad area on a case log: every record it acknowledged reads back, a good area appends, and all survives reopen. */
async function checkLogStillWhole(f: Fixture, s: Record<string, unknown>): Promise<string | undefined> {
  const log = s.log as Awaited<ReturnType<Clfs['Log']['create']>>;
  await (s.area as MarshallingArea | undefined)?.close().catch(() => undefined);
  const good = await log.createMarshallingArea({ bufferSize: 8192, flushIntervalMs: 0 });
  const mark = pattern(77, 30);
  const { lsn } = await good.reserveAndAppend(mark, { forceFlush: true });
  await log.close();
  const again = await f.clfs.Log.open(s.path as string);
  try {
    const reader = await again.createMarshallingArea({ bufferSize: 8192 });
    let last: Uint8Array | undefined;
    for await (const record of reader.records()) {
      const first = record.data[0];
      if (record.lsn !== lsn && !record.data.every((b) => b === first)) {
        return `the log holds a damaged record at 0x${record.lsn.toString(16)}`;
      }
      last = record.data;
    }
    if (last === undefined || !sameBytes(last, mark))
      return 'the record appended afterwards is not the last one read back';
    return undefined;
  } catch (error) {
    const e = error as { code?: string; message?: string };
    return `the log was damaged: after reopen, reading it fails with ${e.code}: ${e.message}`;
  } finally {
    await again.close();
  }
}

export function allocatorCases(clfs: Clfs): Case[] {
  const { alignedBuffer } = clfs;
  const MISALIGNED = 'ERR_CLFS_MISALIGNED';
  return [
    allocatorRead('allocate() returns 42', MISALIGNED, () => 42),
    allocatorRead('allocate() returns null', MISALIGNED, () => null),
    allocatorRead('allocate() returns an ArrayBuffer', MISALIGNED, (size) => new ArrayBuffer(size)),
    allocatorRead('allocate() returns an aligned Uint16Array', MISALIGNED, (size, alignment) => {
      const b = alignedBuffer(size * 2, { alignment });
      return new Uint16Array(b.buffer, b.byteOffset, size);
    }),
    allocatorRead('allocate() returns memory misaligned by 1', MISALIGNED, (size, alignment) =>
      alignedBuffer(size + 1, { alignment }).subarray(1),
    ),
    allocatorRead('allocate() returns half the size asked', MISALIGNED, (size, alignment) =>
      alignedBuffer(size / 2, { alignment }),
    ),
    allocatorRead(
      'allocate() throws',
      'E_TEST_ALLOCATOR',
      () => {
        throw Object.assign(new Error('allocator says no'), { code: 'E_TEST_ALLOCATOR' });
      },
      true,
    ),
    allocatorAppend('allocate() returns misaligned memory, while appending', MISALIGNED, () =>
      allocatorOf((size, alignment) => alignedBuffer(size + 512, { alignment }).subarray(512 / 2)),
    ),
    allocatorAppend(
      'allocate() throws on its 3rd call, while blocks are in flight',
      'E_TEST_ALLOCATOR',
      () => {
        let calls = 0;
        return allocatorOf((size, alignment) => {
          if (++calls === 3) throw Object.assign(new Error('allocator says no'), { code: 'E_TEST_ALLOCATOR' });
          return alignedBuffer(size, { alignment });
        });
      },
      true,
    ),
    allocatorAppend('allocate() returns the same memory every time (buffers alias)', [MISALIGNED, VALUE], () => {
      let shared: Uint8Array | undefined;
      return allocatorOf((size, alignment) => (shared ??= alignedBuffer(size, { alignment })));
    }),
    ...pinLimitCases(clfs),
    {
      fn: 'area.close (area with a custom allocator)',
      input: 'free() throws',
      expect: ['ok', 'E_TEST_FREE'],
      foreign: true,
      run: async (f, s) => {
        const { log } = await caseLog(f);
        s.log = log;
        const area = await log.createMarshallingArea({
          bufferSize: 8192,
          flushIntervalMs: 0,
          allocator: {
            allocate: (size, alignment) => alignedBuffer(size, { alignment }),
            free: () => {
              throw Object.assign(new Error('free says no'), { code: 'E_TEST_FREE' });
            },
          },
        });
        s.area = area;
        await area.reserveAndAppend(pattern(100, 31), { reservations: [100], forceFlush: true });
        return area.close();
      },
      check: async (_f, s) => {
        const log = s.log as Awaited<ReturnType<Clfs['Log']['create']>>;
        const problems: string[] = [];
        const reserved = log.information().totalReservation;
        if (reserved !== 0)
          problems.push(`the closed area's ${reserved} reserved bytes still count in information().totalReservation`);
        const again = await (s.area as MarshallingArea).flushToLsn().then(
          () => 'resolved',
          (e: { code?: string }) => e.code,
        );
        if (again !== 'ERR_CLFS_CLOSED') problems.push(`the area is not closed (flushToLsn: ${again})`);
        const closed = await log.close().then(
          () => undefined,
          (e: { code?: string; message?: string }) => `${e.code}: ${e.message}`,
        );
        if (closed !== undefined) problems.push(`log.close() then rejects (${closed})`);
        return problems.length === 0 ? undefined : problems.join('; ');
      },
    },
  ];
}

// --- log.addContainers and a closed log -------------------------------------------

export function addContainersCases(): Case[] {
  const add = (input: string, expect: string, count: unknown): Case => ({
    fn: 'log.addContainers',
    input,
    expect,
    run: (f) => f.A.log.addContainers(X(count)),
  });
  return [
    add('count = 0', RANGE, 0),
    add('count = -1', RANGE, -1),
    add('count = 1.5', RANGE, 1.5),
    add('count = NaN', RANGE, NaN),
    add('count = Infinity', RANGE, Infinity),
    add('count = 2**40', RANGE, 2 ** 40),
    add('count = 1023 (beyond 1024 containers in all)', RANGE, 1023),
    add("count = '1'", TYPE, '1'),
    add('count = undefined', TYPE, undefined),
    add('count = null', TYPE, null),
  ];
}

// --- the space policy, removeContainers, advance-tail ---------------------------------

export function spaceCases(): Case[] {
  const remove = (input: string, expect: string, count: unknown): Case => ({
    fn: 'log.removeContainers',
    input,
    expect,
    run: (f) => f.A.log.removeContainers(X(count)),
  });
  const policy = (input: string, expect: string, value: unknown): Case => ({
    fn: 'log.setPolicy',
    input,
    expect,
    run: (f) => f.A.log.setPolicy(X(value)),
  });
  const on = (input: string, expect: string, event: unknown, listener: unknown): Case => ({
    fn: 'log.on',
    input,
    expect,
    sync: true,
    run: (f) => f.A.log.on(X(event), X(listener)),
  });
  return [
    remove('count = 0', RANGE, 0),
    remove('count = 1.5', RANGE, 1.5),
    remove('count = 1025', RANGE, 1025),
    remove("count = '1'", TYPE, '1'),
    remove('count = undefined', TYPE, undefined),
    remove('count = 1 (below minContainers 2)', 'ERR_CLFS_POLICY_CONFLICT', 1),
    policy('policy = null', TYPE, null),
    policy("policy = 'x'", TYPE, 'x'),
    policy('logTail = 101', RANGE, { logTail: 101 }),
    policy('autoShrink = -1', RANGE, { autoShrink: -1 }),
    policy('growthRate = 0', RANGE, { growthRate: 0 }),
    policy('maxContainers = 1025', RANGE, { maxContainers: 1025 }),
    policy('maxContainers = NaN', RANGE, { maxContainers: NaN }),
    policy("autoGrow = 'yes'", TYPE, { autoGrow: 'yes' }),
    policy('an unknown field', VALUE, { newContainerSize: 1 }),
    policy('minContainers above maxContainers', 'ERR_CLFS_POLICY_INVALID', { minContainers: 9, maxContainers: 8 }),
    policy('minContainers = 3 (above the count)', 'ERR_CLFS_POLICY_CONFLICT', { minContainers: 3 }),
    ...archiveCases(),
    on("event = 'tail'", VALUE, 'tail', () => undefined),
    on('event = 1', TYPE, 1, () => undefined),
    on('listener = 1', TYPE, 'advance-tail', 1),
    on('listener = undefined', TYPE, 'advance-tail', undefined),
  ];
}

/** log.setArchiveTail / log.prepareArchive (log A is ephemeral) and Log.restoreArchive. */
function archiveCases(): Case[] {
  const tail = (input: string, expect: string, lsn: unknown): Case => ({
    fn: 'log.setArchiveTail',
    input,
    expect,
    run: (f) => f.A.log.setArchiveTail(X(lsn)),
  });
  const image = {
    fromLsn: 1n << 32n,
    lastLsn: 1n << 32n,
    baseLsn: 1n << 32n,
    extents: [],
    metadata: new Uint8Array(512),
  };
  const restore = (input: string, expect: string, images: unknown, read: unknown = () => new Uint8Array(0)): Case => ({
    fn: 'Log.restoreArchive',
    input,
    expect,
    run: (f) => f.clfs.Log.restoreArchive(path.join(f.tmpDir(), 'restored'), X(images), X(read)),
  });
  return [
    tail("lsn = '1'", TYPE, '1'),
    tail('lsn = -1n', RANGE, -1n),
    tail('lsn = 2n ** 64n', RANGE, 2n ** 64n),
    tail('an ephemeral log (FIRST record)', 'ERR_CLFS_EPHEMERAL', 1n << 32n),
    {
      fn: 'log.prepareArchive',
      input: 'an ephemeral log',
      expect: 'ERR_CLFS_EPHEMERAL',
      run: (f) => f.A.log.prepareArchive(),
    },
    restore('images = null', TYPE, null),
    restore('images = []', VALUE, []),
    restore('images = [42]', TYPE, [42]),
    restore('extents = 1', TYPE, { ...image, extents: 1 }),
    restore("metadata = 'x'", TYPE, { ...image, metadata: 'x' }),
    restore('metadata = 512 zero bytes', 'ERR_CLFS_CORRUPT', image),
    restore('read = 1', TYPE, image, 1),
  ];
}

export function closedLogCases(): Case[] {
  const CLOSED = 'ERR_CLFS_CLOSED';
  return [
    {
      fn: 'log.information',
      input: 'after log.close()',
      expect: CLOSED,
      sync: true,
      run: (f) => f.C.log.information(),
    },
    {
      fn: 'log.ioStatistics',
      input: 'after log.close()',
      expect: CLOSED,
      sync: true,
      run: (f) => f.C.log.ioStatistics(),
    },
    {
      fn: 'log.createMarshallingArea',
      input: 'after log.close()',
      expect: CLOSED,
      run: (f) => f.C.log.createMarshallingArea({ bufferSize: BUFFER_SIZE }),
    },
    { fn: 'log.addContainers', input: 'after log.close()', expect: CLOSED, run: (f) => f.C.log.addContainers(1) },
    {
      fn: 'log.removeContainers',
      input: 'after log.close()',
      expect: CLOSED,
      run: (f) => f.C.log.removeContainers(1),
    },
    { fn: 'log.setPolicy', input: 'after log.close()', expect: CLOSED, run: (f) => f.C.log.setPolicy({}) },
    {
      fn: 'log.setArchiveTail',
      input: 'after log.close()',
      expect: CLOSED,
      run: (f) => f.C.log.setArchiveTail(1n << 32n),
    },
    { fn: 'log.prepareArchive', input: 'after log.close()', expect: CLOSED, run: (f) => f.C.log.prepareArchive() },
    { fn: 'log.policy', input: 'after log.close()', expect: CLOSED, sync: true, run: (f) => f.C.log.policy() },
    {
      fn: 'log.on',
      input: 'after log.close()',
      expect: CLOSED,
      sync: true,
      run: (f) => f.C.log.on('advance-tail', () => undefined),
    },
    { fn: 'log.close', input: 'a second time', expect: 'ok', run: (f) => f.C.log.close() },
  ];
}

/** Where RLIMIT_MEMLOCK is small: an area whose pinned buffers go past it. */
function pinLimitCases(clfs: Clfs): Case[] {
  const limit = clfs.memoryInfo().pinLimit;
  if (!Number.isFinite(limit) || limit > 32 * 1024 * 1024) return [];
  return [
    {
      fn: 'area.readLogRecord',
      input: `pool 'nonPaged', 4 MiB buffers, contexts opened past RLIMIT_MEMLOCK (${limit} bytes)`,
      expect: 'ERR_CLFS_PIN_LIMIT',
      run: async (f, s) => {
        s.pinned = clfs.memoryInfo().pinnedBytes;
        const area = await f.A.log.createMarshallingArea({ bufferSize: 4 * 1024 * 1024, pool: 'nonPaged' });
        s.area = area;
        const contexts: { terminate(): void }[] = [];
        s.contexts = contexts;
        for (let i = 0; i < 16; i++) contexts.push(await area.readLogRecord(f.A.r[1]!, 'forward'));
      },
      check: async (_f, s) => {
        for (const c of s.contexts as { terminate(): void }[]) c.terminate();
        await (s.area as MarshallingArea).close();
        const pinned = clfs.memoryInfo().pinnedBytes;
        return pinned === s.pinned
          ? undefined
          : `${pinned - (s.pinned as number)} bytes stay pinned after the area closed`;
      },
    },
  ];
}
