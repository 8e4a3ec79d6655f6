// The table, part 4: the Lsn helpers, aligned memory, CRC32C and DirectFile.
import { existsSync } from 'node:fs';
import path from 'node:path';

import type { DirectFile } from '../../lib/index.ts';
import { type Clfs, type Fixture } from './fixture.ts';
import { X } from './cases-log.ts';
import type { Case } from './runner.ts';
import { KiB } from '../support/sizes.ts';
import { SYSTEM_ERRORS, UNDER_WINE } from '../support/system.ts';

const TYPE = 'ERR_INVALID_ARG_TYPE';
const VALUE = 'ERR_INVALID_ARG_VALUE';
const RANGE = 'ERR_OUT_OF_RANGE';
const MISALIGNED = 'ERR_CLFS_MISALIGNED';
const CLOSED = 'ERR_CLFS_CLOSED';

const sync = (
  fn: string,
  input: string,
  expect: string,
  run: (f: Fixture) => unknown,
  check?: Case['check'],
): Case => ({
  fn,
  input,
  expect,
  sync: true,
  run,
  check,
});

export function lsnCases(clfs: Clfs): Case[] {
  const { Lsn } = clfs;
  const create = (input: string, expect: string, args: unknown[]): Case =>
    sync('Lsn.create', input, expect, () => Lsn.create(X(args[0]), X(args[1]), X(args[2])));
  const cases: Case[] = [
    create('containerId = -1', RANGE, [-1, 0, 0]),
    create('containerId = 1.5', RANGE, [1.5, 0, 0]),
    create('containerId = NaN', RANGE, [NaN, 0, 0]),
    create('containerId = 2**32', RANGE, [2 ** 32, 0, 0]),
    create('containerId = 0xffffffff (would be >= Lsn.INVALID)', RANGE, [0xffffffff, 0, 0]),
    create("containerId = '1'", TYPE, ['1', 0, 0]),
    create('containerId = 1n', TYPE, [1n, 0, 0]),
    create('blockOffset = 100 (not a multiple of 512)', RANGE, [1, 100, 0]),
    create('blockOffset = -512', RANGE, [1, -512, 0]),
    create('blockOffset = 2**32', RANGE, [1, 2 ** 32, 0]),
    create('blockOffset = undefined', TYPE, [1, undefined, 0]),
    create('recordSequence = 512', RANGE, [1, 0, 512]),
    create('recordSequence = -1', RANGE, [1, 0, -1]),
    create('recordSequence = 0.5', RANGE, [1, 0, 0.5]),
    create('recordSequence = null', TYPE, [1, 0, null]),
  ];
  for (const name of ['containerId', 'blockOffset', 'recordSequence', 'format'] as const) {
    cases.push(
      sync(`Lsn.${name}`, 'lsn = 5 (a number)', TYPE, () => Lsn[name](X(5))),
      sync(`Lsn.${name}`, "lsn = '5'", TYPE, () => Lsn[name](X('5'))),
      sync(`Lsn.${name}`, 'lsn = -1n', RANGE, () => Lsn[name](-1n)),
      sync(`Lsn.${name}`, 'lsn = 2n**64n', RANGE, () => Lsn[name](2n ** 64n)),
    );
  }
  const isValid = (input: string, value: unknown): Case =>
    sync(
      'Lsn.isValid',
      input,
      'ok',
      () => Lsn.isValid(value),
      (_f, _s, v) => (v === false ? undefined : `gave ${String(v)}, not false`),
    );
  cases.push(
    isValid("lsn = 'x'", 'x'),
    isValid('lsn = -1n', -1n),
    isValid('lsn = Lsn.INVALID', Lsn.INVALID),
    isValid('lsn = 2n**64n', 2n ** 64n),
  );
  return cases;
}

export function memoryCases(clfs: Clfs): Case[] {
  const { alignedBuffer, releaseBuffer, misalignment, crc32c, crc32cPortable, memoryInfo } = clfs;
  const aligned = (input: string, expect: string, size: unknown, options?: unknown): Case =>
    sync('alignedBuffer', input, expect, () => alignedBuffer(X(size), X(options)));
  const u8 = (): Uint8Array => alignedBuffer(4096);
  const limit = memoryInfo().pinLimit;
  const tooMuch = Number.isFinite(limit) && limit <= 2 ** 30 ? Math.max(limit * 2, 1 << 20) : undefined;
  const cases: Case[] = [
    aligned('size = 0', RANGE, 0),
    aligned('size = -1', RANGE, -1),
    aligned('size = 1.5', RANGE, 1.5),
    aligned('size = NaN', RANGE, NaN),
    aligned('size = Infinity', RANGE, Infinity),
    aligned('size = 2**32 + 1', RANGE, 2 ** 32 + 1),
    aligned("size = '4096'", TYPE, '4096'),
    aligned('size = 4096n', TYPE, 4096n),
    aligned('size = undefined', TYPE, undefined),
    aligned('options = 42', TYPE, 4096, 42),
    aligned('options with a misspelt option (alignement)', VALUE, 4096, { alignement: 8192 }),
    aligned('alignment = 3', VALUE, 4096, { alignment: 3 }),
    aligned('alignment = 0', RANGE, 4096, { alignment: 0 }),
    aligned('alignment = -4096', RANGE, 4096, { alignment: -4096 }),
    aligned('alignment = 1.5', RANGE, 4096, { alignment: 1.5 }),
    aligned('alignment = 2**31', RANGE, 4096, { alignment: 2 ** 31 }),
    aligned("alignment = 'x'", TYPE, 4096, { alignment: 'x' }),
    aligned("pool = 'x'", VALUE, 4096, { pool: 'x' }),
    aligned('pool = 1', TYPE, 4096, { pool: 1 }),
    sync('releaseBuffer', 'buffer = 42', TYPE, () => releaseBuffer(X(42))),
    sync('releaseBuffer', 'buffer = null', TYPE, () => releaseBuffer(X(null))),
    sync('releaseBuffer', 'buffer = a Uint16Array', TYPE, () => releaseBuffer(X(new Uint16Array(4)))),
    sync(
      'releaseBuffer',
      'a buffer never pinned',
      'ok',
      () => releaseBuffer(new Uint8Array(8)),
      (_f, _s, v) => (v === false ? undefined : `gave ${String(v)}, not false`),
    ),
    sync(
      'releaseBuffer',
      'the same pinned buffer twice',
      'ok',
      () => {
        const b = alignedBuffer(4096, { pool: 'nonPaged' });
        return [releaseBuffer(b), releaseBuffer(b)];
      },
      (_f, _s, v) => (JSON.stringify(v) === '[true,false]' ? undefined : `gave ${JSON.stringify(v)}, not [true,false]`),
    ),
    sync('misalignment', 'alignment = 3', VALUE, () => misalignment(u8(), 3)),
    sync('misalignment', 'alignment = 0', RANGE, () => misalignment(u8(), 0)),
    sync('misalignment', 'alignment = 1.5', RANGE, () => misalignment(u8(), 1.5)),
    sync('misalignment', 'alignment = 2**31', RANGE, () => misalignment(u8(), 2 ** 31)),
    sync('misalignment', "alignment = 'x'", TYPE, () => misalignment(u8(), X('x'))),
    sync('misalignment', "buffer = 'x'", TYPE, () => misalignment(X('x'), 4096)),
    sync('misalignment', 'buffer = a Uint16Array', TYPE, () => misalignment(X(new Uint16Array(4)), 4096)),
  ];
  if (tooMuch !== undefined) {
    cases.push(
      aligned(`size = ${tooMuch} pinned (RLIMIT_MEMLOCK is ${limit})`, 'ERR_CLFS_PIN_LIMIT', tooMuch, {
        pool: 'nonPaged',
      }),
    );
  }
  for (const [name, fn] of [
    ['crc32c', crc32c],
    ['crc32cPortable', crc32cPortable],
  ] as const) {
    cases.push(
      sync(name, "data = 'x'", TYPE, () => fn(X('x'))),
      sync(name, 'data = null', TYPE, () => fn(X(null))),
      sync(name, 'data = an ArrayBuffer', TYPE, () => fn(X(new ArrayBuffer(4)))),
      sync(name, 'data = a Uint16Array', TYPE, () => fn(X(new Uint16Array(4)))),
      sync(name, 'crc = -1', RANGE, () => fn(new Uint8Array(4), -1)),
      sync(name, 'crc = 2**32', RANGE, () => fn(new Uint8Array(4), 2 ** 32)),
      sync(name, 'crc = 1.5', RANGE, () => fn(new Uint8Array(4), 1.5)),
      sync(name, 'crc = NaN', RANGE, () => fn(new Uint8Array(4), NaN)),
      sync(name, "crc = '1'", TYPE, () => fn(new Uint8Array(4), X('1'))),
      sync(name, 'crc = 1n', TYPE, () => fn(new Uint8Array(4), X(1n))),
    );
  }
  return cases;
}

// --- DirectFile ----------------------------------------------------------------------------

/**
 * Memory on a plain ArrayBuffer, aligned: it could be detached (transferred)
 * while the kernel uses it, so direct I/O refuses it. (alignedBuffer's memory
 * is a SharedArrayBuffer, which cannot be transferred at all.)
 */
const detachable = (clfs: Clfs): Uint8Array => {
  const memory = new ArrayBuffer(3 * 4096);
  const whole = new Uint8Array(memory);
  const offset = (4096 - clfs.misalignment(whole, 4096)) % 4096;
  return new Uint8Array(memory, offset, 4096);
};

export function directFileCases(clfs: Clfs): Case[] {
  const { DirectFile, alignedBuffer } = clfs;
  const open = (input: string, expect: string | string[], args: (f: Fixture) => [unknown, unknown?]): Case => ({
    fn: 'DirectFile.open',
    input,
    expect,
    run: (f, s) => {
      const [p, options] = args(f);
      s.path = p;
      return DirectFile.open(X(p), X(options));
    },
  });
  /** DirectFile.open of a fresh path with create and bad options: the file must not be made. */
  const openNew = (input: string, expect: string, options: Record<string, unknown>): Case => ({
    ...open(input, expect, (f) => [f.tmp('file'), { create: true, ...options }]),
    check: (_f, s) => (existsSync(s.path as string) ? 'created the file anyway' : undefined),
  });
  const write = (input: string, expect: string | string[], args: (f: Fixture) => unknown[], effects = false): Case => ({
    fn: 'file.write',
    input,
    expect,
    effects,
    run: (f) => {
      const [offset, buffers, options] = args(f);
      return f.file.write(X(offset), X(buffers), X(options));
    },
  });
  const block = (): Uint8Array => alignedBuffer(4096);
  const w = (
    input: string,
    expect: string | string[],
    offset: unknown,
    buffers: () => unknown,
    options?: unknown,
  ): Case => write(input, expect, () => [offset, buffers(), options]);
  const read = (input: string, expect: string, offset: unknown, buffer: () => unknown): Case => ({
    fn: 'file.read',
    input,
    expect,
    run: (f) => f.file.read(X(offset), X(buffer())),
  });
  const prealloc = (input: string, expect: string | string[], size: unknown): Case => ({
    fn: 'file.preallocate',
    input,
    expect,
    run: (f) => f.file.preallocate(X(size)),
  });
  const closed = (name: string, call: (file: DirectFile) => unknown): Case => ({
    fn: `file.${name}`,
    input: 'after close()',
    expect: CLOSED,
    run: (f) => call(f.closedFile),
  });
  return [
    open('path = 42', TYPE, () => [42]),
    open('path = undefined', TYPE, () => [undefined]),
    open("path = ''", VALUE, () => ['']),
    open('path with a NUL byte', VALUE, (f) => [`${f.tmp()}\0x`, { create: true }]),
    open('path with a 300-byte name', SYSTEM_ERRORS.nameTooLong, (f) => [
      path.join(f.tmpDir(), 'n'.repeat(300)),
      { create: true },
    ]),
    open('a missing file without create', 'ENOENT', (f) => [f.tmp()]),
    open('a missing directory with create', 'ENOENT', (f) => [path.join(f.tmp(), 'file'), { create: true }]),
    open('a directory', SYSTEM_ERRORS.aDirectory, (f) => [f.tmpDir()]),
    open('an existing file with create + exclusive', 'EEXIST', (f) => [f.filePath, { create: true, exclusive: true }]),
    open('a file another handle has locked', 'ERR_CLFS_LOCKED', (f) => [f.filePath]),
    open('options = 42', TYPE, (f) => [f.filePath, 42]),
    open("options with a misspelt option (durabilty: 'none')", VALUE, (f) => [f.filePath, { durabilty: 'none' }]),
    openNew("create = 'x'", TYPE, { create: 'x' }),
    openNew('lock = 1', TYPE, { lock: 1 }),
    openNew("durability = 'x'", VALUE, { durability: 'x' }),
    openNew("engine = 'x'", VALUE, { engine: 'x' }),
    openNew('depth = 0', RANGE, { depth: 0 }),
    openNew('depth = 1.5', RANGE, { depth: 1.5 }),
    openNew('depth = 5000', RANGE, { depth: 5000 }),
    openNew("depth = 'x'", TYPE, { depth: 'x' }),
    w('offset = -1', RANGE, -1, block),
    w('offset = 1.5', RANGE, 1.5, block),
    w('offset = NaN', RANGE, NaN, block),
    w('offset = 2**53', RANGE, 2 ** 53, block),
    w("offset = '0'", TYPE, '0', block),
    w('offset = 100 (misaligned)', MISALIGNED, 100, block),
    w('buffers = 42', TYPE, 0, () => 42),
    w('buffers = null', TYPE, 0, () => null),
    w('buffers = []', RANGE, 0, () => []),
    w('buffers = [42]', TYPE, 0, () => [42]),
    w('buffers = a Uint16Array', TYPE, 0, () => new Uint16Array(2048)),
    w('buffers = 1025 aligned buffers', RANGE, 0, () => Array.from({ length: 1025 }, () => alignedBuffer(512))),
    w('buffer misaligned by 1', MISALIGNED, 0, () => alignedBuffer(4097).subarray(1)),
    w('buffer of 100 bytes (length not a multiple)', MISALIGNED, 0, () => alignedBuffer(100)),
    w('buffer of 0 bytes', [VALUE, MISALIGNED], 0, () => new Uint8Array(0)),
    w('buffer on a plain (detachable) ArrayBuffer', VALUE, 0, () => detachable(clfs)),
    w('options = 42', TYPE, 0, block, 42),
    w("checksums = 'x'", TYPE, 0, block, { checksums: 'x' }),
    w('checksums = [42]', TYPE, 0, block, { checksums: [42] }),
    w('checksums = [{}]', RANGE, 0, block, { checksums: [{}] }),
    w('checksums = [{ start: -1, ... }]', RANGE, 0, block, { checksums: [{ start: -1, length: 8, field: 0 }] }),
    w('checksums: a field past its range', RANGE, 0, block, { checksums: [{ start: 0, length: 4096, field: 4094 }] }),
    w('checksums: a range past the write', RANGE, 0, block, { checksums: [{ start: 0, length: 8192, field: 0 }] }),
    w("sync = 'x'", TYPE, 0, block, { sync: 'x' }),
    {
      ...write('offset = 2**50 (beyond the largest file)', 'EFBIG', () => [2 ** 50, block()], true),
      skip: UNDER_WINE ? 'wine: a write at 2**50 fails with ERROR_GEN_FAILURE (EIO)' : undefined,
    },
    read('offset = -1', RANGE, -1, block),
    read("offset = 'x'", TYPE, 'x', block),
    read('offset = 100 (misaligned)', MISALIGNED, 100, block),
    read('buffer = 42', TYPE, 0, () => 42),
    read('buffer = null', TYPE, 0, () => null),
    read('buffer = a Uint16Array', TYPE, 0, () => new Uint16Array(2048)),
    read('buffer misaligned by 1', MISALIGNED, 0, () => alignedBuffer(4097).subarray(1)),
    read('buffer of 100 bytes', MISALIGNED, 0, () => alignedBuffer(100)),
    read('buffer of 0 bytes', VALUE, 0, () => new Uint8Array(0)),
    read('buffer on a plain (detachable) ArrayBuffer', VALUE, 0, () => detachable(clfs)),
    {
      fn: 'file.read',
      input: 'offset = 2**50 (far beyond the end)',
      expect: 'ok',
      run: (f) => f.file.read(2 ** 50, alignedBuffer(4096)),
      check: (_f, _s, v) => (v === 0 ? undefined : `gave ${String(v)}, not 0 bytes`),
    },
    prealloc('size = -1', RANGE, -1),
    prealloc('size = 1.5', RANGE, 1.5),
    prealloc("size = 'x'", TYPE, 'x'),
    prealloc('size = 100 (misaligned)', MISALIGNED, 100),
    prealloc('size = 2**50 (beyond the largest file)', ['EFBIG', 'ENOSPC'], 2 ** 50),
    {
      fn: 'file.preallocate',
      input: 'size = 0, smaller than the file (must not shrink it)',
      expect: 'ok',
      run: (f) => f.file.preallocate(0),
      check: async (f) => {
        const size = await f.file.size();
        return size === 64 * KiB ? undefined : `the file is now ${size} bytes`;
      },
    },
    closed('write', (file) => file.write(0, alignedBuffer(4096))),
    closed('read', (file) => file.read(0, alignedBuffer(4096))),
    closed('sync', (file) => file.sync()),
    closed('preallocate', (file) => file.preallocate(4096)),
    closed('size', (file) => file.size()),
    { fn: 'file.close', input: 'a second time', expect: 'ok', run: (f) => f.closedFile.close() },
    { fn: 'file.stats', input: 'after close()', expect: 'ok', sync: true, run: (f) => f.closedFile.stats() },
    {
      fn: 'file.read',
      input:
        "transferring the buffer's memory while reads are in flight is refused, and the reads complete (50 rounds x 32)",
      expect: 'ok',
      isolated: true,
      // 1,600 reads and 50 full GCs: seconds under ASan on a loaded machine, not a hang.
      hangMs: 30_000,
      run: async (f) => {
        const gc = (globalThis as { gc?: () => void }).gc;
        const codes = new Set<string>();
        for (let round = 0; round < 50; round++) {
          const reads: Promise<unknown>[] = [];
          for (let i = 0; i < 32; i++) {
            const buffer = alignedBuffer(64 * KiB);
            reads.push(f.file.read(0, buffer).catch((e: { code?: string }) => codes.add(e.code ?? 'no code')));
            // A SharedArrayBuffer cannot be transferred: the memory stays with the read.
            try {
              structuredClone(buffer.buffer, { transfer: [buffer.buffer as unknown as ArrayBuffer] });
              codes.add('transfer succeeded');
            } catch (error) {
              if ((error as Error).name !== 'DataCloneError') codes.add(`transfer threw ${(error as Error).name}`);
            }
          }
          gc?.();
          const churn: Uint8Array[] = [];
          for (let i = 0; i < 32; i++) churn.push(new Uint8Array(64 * KiB).fill(0xaa));
          await Promise.all(reads);
        }
        return [...codes];
      },
    },
  ];
}
