// DirectFile: real direct I/O on os.tmpdir() (ext4 here), for each engine.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  alignedBuffer,
  ClfsError,
  crc32c,
  DirectFile,
  type DirectFileOptions,
  type Durability,
} from '../../lib/index.ts';
import { DIST_ENTRY, runChild } from '../support/helpers.ts';
import { scratchFiles } from '../support/fixtures.ts';
import { describeEngines, expectRejection, fillSeeded } from '../support/native.ts';
import { DIRECT_IO, describeWhere, MISSING, SYSTEM_ERRORS } from '../support/platform.ts';

const DURABILITIES: Durability[] = ['dsync', 'fdatasync', 'none'];
const SHM = '/dev/shm';

const scratch = scratchFiles('clfs-direct-file-');

function newPath(): string {
  return scratch.fresh('file');
}

// Every file a test opens is closed afterwards (close twice is a no-op).
async function open(filePath: string, options?: DirectFileOptions): Promise<DirectFile> {
  return scratch.keep(await DirectFile.open(filePath, options));
}

/** An aligned buffer of `size` bytes filled from `seed`. */
function block(size: number, seed: number): Uint8Array {
  return fillSeeded(alignedBuffer(size), seed);
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const whole = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    whole.set(part, at);
    at += part.length;
  }
  return whole;
}

function isAllZero(buffer: Uint8Array): boolean {
  for (let i = 0; i < buffer.length; i++) if (buffer[i] !== 0) return false;
  return true;
}

/** Byte-exact comparison that reports the first difference rather than a megabyte diff. */
function expectSameBytes(actual: Uint8Array, expected: Uint8Array): void {
  expect(actual.length).toBe(expected.length);
  const first = actual.findIndex((byte, i) => byte !== expected[i]);
  expect(first, `first differing byte`).toBe(-1);
}

const readUint32LE = (bytes: Uint8Array, at: number): number =>
  new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(at, true);

describeEngines("engine '$engine'", ({ engine, reported }) => {
  describe('opening a new file under os.tmpdir()', () => {
    it('does real direct I/O', async () => {
      const file = await open(newPath(), { create: true, engine });
      expect(file.direct).toBe(true);
      expect(file.reason).toContain(DIRECT_IO.flag);
    });

    it(`takes its alignment from ${DIRECT_IO.alignmentSources.join(' or ')}: 512 bytes for memory and for offsets`, async () => {
      const file = await open(newPath(), { create: true, engine });
      expect(file.direct).toBe(true);
      expect(DIRECT_IO.alignmentSources).toContain(file.alignmentSource);
      expect(file.memoryAlignment).toBe(512);
      expect(file.offsetAlignment).toBe(512);
    });

    it('reports a physical sector size at least as large as the logical one', async () => {
      const file = await open(newPath(), { create: true, engine });
      expect(file.direct).toBe(true);
      expect(file.logicalSectorSize).toBeGreaterThanOrEqual(512);
      expect(file.physicalSectorSize).toBeGreaterThanOrEqual(file.logicalSectorSize);
    });

    it(`runs on the requested engine ('${reported}')`, async () => {
      const file = await open(newPath(), { create: true, engine });
      expect(file.direct).toBe(true);
      expect(file.engine).toBe(reported);
    });

    it.each(DURABILITIES)("echoes durability '%s'", async (durability) => {
      const file = await open(newPath(), { create: true, engine, durability });
      expect(file.direct).toBe(true);
      expect(file.durability).toBe(durability);
    });

    it("defaults to durability 'dsync' and depth 64", async () => {
      const file = await open(newPath(), { create: true, engine });
      expect(file.direct).toBe(true);
      expect(file.durability).toBe('dsync');
      expect(file.depth).toBe(64);
    });

    it('echoes the requested depth and the path', async () => {
      const filePath = newPath();
      const file = await open(filePath, { create: true, engine, depth: 8 });
      expect(file.direct).toBe(true);
      expect(file.depth).toBe(8);
      expect(file.path).toBe(filePath);
    });

    it('creates the file, empty', async () => {
      const filePath = newPath();
      const file = await open(filePath, { create: true, engine });
      expect(file.direct).toBe(true);
      expect(existsSync(filePath)).toBe(true);
      expect(await file.size()).toBe(0);
    });

    it('without create, a missing file rejects with ENOENT', async () => {
      await expectRejection(() => DirectFile.open(newPath(), { engine }), { code: 'ENOENT', errno: -2 });
    });

    it('with create and exclusive, an existing file rejects with EEXIST', async () => {
      const filePath = newPath();
      writeFileSync(filePath, '');
      await expectRejection(() => DirectFile.open(filePath, { create: true, exclusive: true, engine }), {
        code: 'EEXIST',
        syscall: SYSTEM_ERRORS.openCall,
        path: filePath,
      });
    });
  });

  describe('writing and reading', () => {
    it('a vectored write of several aligned buffers at several offsets reads back byte-exact', async () => {
      const file = await open(newPath(), { create: true, engine });
      expect(file.direct).toBe(true);
      const writes = [
        { offset: 0, sizes: [512, 4096, 1536] },
        { offset: 512 * 37, sizes: [8192, 512] },
        { offset: 1 << 20, sizes: [4096, 4096, 4096, 65536] },
      ];
      let seed = 1;
      const expected: { offset: number; data: Uint8Array }[] = [];
      for (const { offset, sizes } of writes) {
        const buffers = sizes.map((size) => block(size, seed++));
        const total = sizes.reduce((a, b) => a + b, 0);
        expect(await file.write(offset, buffers)).toBe(total);
        expected.push({ offset, data: concat(buffers) });
      }
      for (const { offset, data } of expected) {
        const back = alignedBuffer(data.length);
        expect(await file.read(offset, back)).toBe(data.length);
        expectSameBytes(back, data);
      }
    });

    it('a single Uint8Array (not in an array) is written whole', async () => {
      const file = await open(newPath(), { create: true, engine });
      expect(file.direct).toBe(true);
      const data = block(8192, 11);
      expect(await file.write(4096, data)).toBe(8192);
      const back = alignedBuffer(8192);
      expect(await file.read(4096, back)).toBe(8192);
      expectSameBytes(back, data);
    });

    it('a write past the end grows the file to the end of the write', async () => {
      const file = await open(newPath(), { create: true, engine });
      expect(file.direct).toBe(true);
      await file.write(65536, block(4096, 12));
      expect(await file.size()).toBe(65536 + 4096);
    });

    it('a read that runs past the end of the file resolves with the bytes there were', async () => {
      const file = await open(newPath(), { create: true, engine });
      expect(file.direct).toBe(true);
      const data = block(4096, 13);
      await file.write(0, data);
      const back = alignedBuffer(16384);
      expect(await file.read(0, back)).toBe(4096);
      expectSameBytes(back.subarray(0, 4096), data);
    });

    it('a read at or beyond the end of the file resolves with 0', async () => {
      const file = await open(newPath(), { create: true, engine });
      expect(file.direct).toBe(true);
      await file.write(0, block(4096, 14));
      expect(await file.read(4096, alignedBuffer(4096))).toBe(0);
      expect(await file.read(1 << 20, alignedBuffer(4096))).toBe(0);
    });

    it('stats count requests and bytes', async () => {
      const file = await open(newPath(), { create: true, engine, durability: 'fdatasync' });
      expect(file.direct).toBe(true);
      await file.write(0, [block(4096, 15), block(512, 16)]);
      await file.write(8192, block(512, 17));
      await file.read(0, alignedBuffer(8192));
      await file.sync();
      expect(file.stats()).toEqual({
        writes: 2,
        bytesWritten: 4096 + 512 + 512,
        reads: 1,
        bytesRead: 8192,
        syncs: 1,
        rejectedBeforeIo: 0,
        inFlight: 0,
        unsubmitted: 0,
      });
    });

    it('a system error from the I/O itself rejects with code, errno, syscall and path', async () => {
      const filePath = newPath();
      writeFileSync(filePath, new Uint8Array(4096));
      const file = await open(filePath, { readOnly: true, engine });
      expect(file.direct).toBe(true);
      const error = await expectRejection(() => file.write(0, block(4096, 18)), SYSTEM_ERRORS.writeReadOnly);
      expect(error).toBeInstanceOf(ClfsError);
      expect(error.path).toBe(filePath);
      expect(String(error.syscall)).toMatch(/write/i);
    });
  });

  describe('preallocate', () => {
    it('grows the file to exactly the requested size', async () => {
      const file = await open(newPath(), { create: true, engine });
      expect(file.direct).toBe(true);
      await file.preallocate(3 * 65536 + 512);
      expect(await file.size()).toBe(3 * 65536 + 512);
    });

    it('keeps the data already written and fills the new region with zeros', async () => {
      const file = await open(newPath(), { create: true, engine });
      expect(file.direct).toBe(true);
      const data = block(8192, 21);
      await file.write(0, data);
      await file.preallocate(1 << 20);
      const back = alignedBuffer(1 << 20);
      back.fill(0xee);
      expect(await file.read(0, back)).toBe(1 << 20);
      expectSameBytes(back.subarray(0, 8192), data);
      expect(isAllZero(back.subarray(8192))).toBe(true);
    });

    it('keeps the bytes of a partial last sector (a file whose size is not a multiple of 512)', async () => {
      const filePath = newPath();
      const head = fillSeeded(new Uint8Array(1000), 22);
      writeFileSync(filePath, head);
      const file = await open(filePath, { engine });
      expect(file.direct).toBe(true);
      await file.preallocate(8192);
      expect(await file.size()).toBe(8192);
      const back = alignedBuffer(8192);
      back.fill(0xee);
      await file.read(0, back);
      expectSameBytes(back.subarray(0, 1000), head);
      expect(isAllZero(back.subarray(1000))).toBe(true);
    });

    it('to a size no larger than the file changes nothing', async () => {
      const file = await open(newPath(), { create: true, engine });
      expect(file.direct).toBe(true);
      const data = block(16384, 23);
      await file.write(0, data);
      await file.preallocate(4096);
      await file.preallocate(16384);
      expect(await file.size()).toBe(16384);
      const back = alignedBuffer(16384);
      await file.read(0, back);
      expectSameBytes(back, data);
    });

    it('rejects a size that is not a multiple of the offset alignment with ERR_CLFS_MISALIGNED', async () => {
      const file = await open(newPath(), { create: true, engine });
      expect(file.direct).toBe(true);
      await expectRejection(() => file.preallocate(4097), {
        code: 'ERR_CLFS_MISALIGNED',
        misaligned: 'length',
        misalignment: 1,
      });
      expect(await file.size()).toBe(0);
    });
  });

  describe('alignment is checked before anything reaches the kernel', () => {
    const cases = [
      {
        what: 'a buffer 1 byte past an aligned address',
        misaligned: 'address',
        misalignment: 1,
        offset: 0,
        buffer: () => alignedBuffer(1024).subarray(1, 513),
      },
      {
        what: 'offset 513',
        misaligned: 'offset',
        misalignment: 1,
        offset: 513,
        buffer: () => alignedBuffer(512),
      },
      {
        what: 'a 511-byte buffer',
        misaligned: 'length',
        misalignment: 511,
        offset: 0,
        buffer: () => alignedBuffer(511),
      },
    ];

    it.each(cases)('a write with $what rejects with ERR_CLFS_MISALIGNED ($misaligned)', async (c) => {
      const file = await open(newPath(), { create: true, engine });
      expect(file.direct).toBe(true);
      const before = file.stats();
      const error = await expectRejection(() => file.write(c.offset, c.buffer()), {
        code: 'ERR_CLFS_MISALIGNED',
        misaligned: c.misaligned,
        misalignment: c.misalignment,
        alignment: 512,
      });
      expect(error).toBeInstanceOf(ClfsError);
      const after = file.stats();
      expect(after.writes).toBe(before.writes);
      expect(after.bytesWritten).toBe(before.bytesWritten);
      expect(after.rejectedBeforeIo).toBe(before.rejectedBeforeIo + 1);
      expect(await file.size()).toBe(0);
    });

    it.each(cases)('a read with $what rejects with ERR_CLFS_MISALIGNED ($misaligned)', async (c) => {
      const file = await open(newPath(), { create: true, engine });
      expect(file.direct).toBe(true);
      await file.write(0, block(4096, 31));
      const before = file.stats();
      await expectRejection(() => file.read(c.offset, c.buffer()), {
        code: 'ERR_CLFS_MISALIGNED',
        misaligned: c.misaligned,
        misalignment: c.misalignment,
      });
      const after = file.stats();
      expect(after.reads).toBe(before.reads);
      expect(after.rejectedBeforeIo).toBe(before.rejectedBeforeIo + 1);
    });

    it('one misaligned buffer among aligned ones rejects the whole write', async () => {
      const file = await open(newPath(), { create: true, engine });
      expect(file.direct).toBe(true);
      const bad = alignedBuffer(1024).subarray(8, 520);
      await expectRejection(() => file.write(0, [block(4096, 32), bad, block(512, 33)]), {
        code: 'ERR_CLFS_MISALIGNED',
        misaligned: 'address',
        misalignment: 8,
      });
      expect(file.stats().writes).toBe(0);
      expect(await file.size()).toBe(0);
    });

    it('the error message names the file and the required alignment', async () => {
      const filePath = newPath();
      const file = await open(filePath, { create: true, engine });
      expect(file.direct).toBe(true);
      const error = await expectRejection(() => file.write(513, alignedBuffer(512)), { code: 'ERR_CLFS_MISALIGNED' });
      expect(error.message).toContain(filePath);
      expect(error.message).toContain('512');
      expect(error.path).toBe(filePath);
    });
  });

  describe('checksums computed natively before the write', () => {
    it('stores the CRC32C of each range, computed with its field as zero, in the written data', async () => {
      const file = await open(newPath(), { create: true, engine });
      expect(file.direct).toBe(true);
      const first = block(4096, 41);
      const second = block(4096, 42);
      await file.write(0, [first, second], {
        checksums: [
          { start: 0, length: 4096, field: 8 },
          { start: 4096, length: 4096, field: 4096 + 100 },
        ],
      });
      const back = alignedBuffer(8192);
      await file.read(0, back);
      for (const { start, field } of [
        { start: 0, field: 8 },
        { start: 4096, field: 4196 },
      ]) {
        const blockBytes = back.slice(start, start + 4096);
        const stored = readUint32LE(back, field);
        blockBytes.fill(0, field - start, field - start + 4);
        expect(stored).toBe(crc32c(blockBytes));
      }
    });

    it('leaves the bytes outside the fields as they were', async () => {
      const file = await open(newPath(), { create: true, engine });
      expect(file.direct).toBe(true);
      const data = block(4096, 43);
      const original = data.slice();
      await file.write(0, data, { checksums: [{ start: 0, length: 4096, field: 0 }] });
      const back = alignedBuffer(4096);
      await file.read(0, back);
      expectSameBytes(back.subarray(4), original.subarray(4));
    });

    it('also stores the CRC in the caller’s buffer', async () => {
      const file = await open(newPath(), { create: true, engine });
      expect(file.direct).toBe(true);
      const data = block(512, 44);
      await file.write(0, data, { checksums: [{ start: 0, length: 512, field: 508 }] });
      const zeroed = data.slice();
      zeroed.fill(0, 508, 512);
      expect(readUint32LE(data, 508)).toBe(crc32c(zeroed));
    });

    it('handles a range and a field that straddle two buffers', async () => {
      const file = await open(newPath(), { create: true, engine });
      expect(file.direct).toBe(true);
      const parts = [block(512, 45), block(512, 46), block(512, 47)];
      // Bytes 100..1400 of the write; the field is bytes 510..513, across the first two buffers.
      await file.write(0, parts, { checksums: [{ start: 100, length: 1300, field: 510 }] });
      const back = alignedBuffer(1536);
      await file.read(0, back);
      const covered = back.slice(100, 1400);
      const stored = readUint32LE(back, 510);
      covered.fill(0, 410, 414);
      expect(stored).toBe(crc32c(covered));
      expectSameBytes(back.subarray(0, 510), concat(parts).subarray(0, 510));
      expectSameBytes(back.subarray(514), concat(parts).subarray(514));
    });

    it.each([
      { what: 'a range beyond the write', range: { start: 4096, length: 512, field: 4096 } },
      { what: 'a range running past the end', range: { start: 3584, length: 1024, field: 3584 } },
      { what: 'a field before the range', range: { start: 512, length: 512, field: 508 } },
      { what: 'a field running past the range', range: { start: 0, length: 512, field: 510 } },
      { what: 'a range too short for its field', range: { start: 0, length: 3, field: 0 } },
      { what: 'a negative start', range: { start: -1, length: 512, field: 0 } },
      { what: 'a fractional length', range: { start: 0, length: 511.5, field: 0 } },
      { what: 'a missing field', range: { start: 0, length: 512 } },
      { what: 'a string start', range: { start: '0', length: 512, field: 0 } },
    ])('$what rejects with ERR_OUT_OF_RANGE and writes nothing', async ({ range }) => {
      const file = await open(newPath(), { create: true, engine });
      expect(file.direct).toBe(true);
      const data = block(4096, 48);
      const original = data.slice();
      await expectRejection(() => file.write(0, data, { checksums: [range as never] }), { code: 'ERR_OUT_OF_RANGE' });
      expect(file.stats().writes).toBe(0);
      expect(await file.size()).toBe(0);
      expectSameBytes(data, original);
    });
  });

  describe('the exclusive lock', () => {
    it('a second open of the same path in this process rejects with ERR_CLFS_LOCKED', async () => {
      const filePath = newPath();
      const file = await open(filePath, { create: true, engine });
      expect(file.direct).toBe(true);
      const error = await expectRejection(() => DirectFile.open(filePath, { engine }), {
        code: 'ERR_CLFS_LOCKED',
        clfsError: 'ERROR_SHARING_VIOLATION',
        path: filePath,
      });
      expect(error).toBeInstanceOf(ClfsError);
    });

    it('an open from another process rejects with ERR_CLFS_LOCKED', async () => {
      const filePath = newPath();
      const file = await open(filePath, { create: true, engine });
      expect(file.direct).toBe(true);
      const child = await runChild(
        `
        import { DirectFile } from 'CLFS';
        try {
          const file = await DirectFile.open(process.argv[1], { engine: '${engine}' });
          await file.close();
          console.log('opened');
        } catch (error) {
          console.log(error.code);
        }
        `,
        { args: [filePath] },
      );
      expect(child.stderr).toBe('');
      expect(child.stdout.trim()).toBe('ERR_CLFS_LOCKED');
    });

    it('is released by close: the file opens again, here and from another process', async () => {
      const filePath = newPath();
      const first = await open(filePath, { create: true, engine });
      expect(first.direct).toBe(true);
      await first.close();
      const second = await open(filePath, { engine });
      expect(second.direct).toBe(true);
      await second.close();
      const child = await runChild(
        `
        import { DirectFile } from 'CLFS';
        const file = await DirectFile.open(process.argv[1], { engine: '${engine}' });
        console.log(file.direct);
        await file.close();
        `,
        { args: [filePath] },
      );
      expect(child.stderr).toBe('');
      expect(child.stdout.trim()).toBe('true');
    });

    it('lock: false opens a file another handle has locked', async () => {
      const filePath = newPath();
      const first = await open(filePath, { create: true, engine });
      const second = await open(filePath, { engine, lock: false });
      expect(first.direct).toBe(true);
      expect(second.direct).toBe(true);
      await first.write(0, block(512, 51));
      const back = alignedBuffer(512);
      expect(await second.read(0, back)).toBe(512);
    });
  });

  describe('close', () => {
    it('waits for the I/O in flight: 32 writes resolve, then close resolves (5 rounds)', async () => {
      // Run a few times: an engine that hands completions back out of order
      // shows it in most rounds, rarely in every one.
      const orders: string[][] = [];
      for (let round = 0; round < 5; round++) {
        const file = await open(newPath(), { create: true, engine });
        expect(file.direct).toBe(true);
        const order: string[] = [];
        const writes = Array.from({ length: 32 }, (_, i) =>
          file.write(i * 4096, block(4096, 100 + i)).then((n) => {
            order.push(`write ${i}`);
            return n;
          }),
        );
        const closed = file.close().then(() => order.push('close'));
        expect(await Promise.all(writes)).toEqual(Array(32).fill(4096));
        await closed;
        expect(file.stats().inFlight).toBe(0);
        orders.push(order);
      }
      for (const order of orders) {
        expect(order).toHaveLength(33);
        expect(
          order.indexOf('close'),
          `close resolved before: ${order.slice(order.indexOf('close') + 1).join(', ')}`,
        ).toBe(32);
      }
    });

    it('the writes it waited for are in the file', async () => {
      const filePath = newPath();
      const file = await open(filePath, { create: true, engine });
      expect(file.direct).toBe(true);
      const data = Array.from({ length: 32 }, (_, i) => block(4096, 200 + i));
      const writes = data.map((d, i) => file.write(i * 4096, d));
      await file.close();
      await Promise.all(writes);
      expectSameBytes(readFileSync(filePath), concat(data));
    });

    it.each([
      { op: 'write', call: (f: DirectFile) => f.write(0, alignedBuffer(512)) },
      { op: 'read', call: (f: DirectFile) => f.read(0, alignedBuffer(512)) },
      { op: 'sync', call: (f: DirectFile) => f.sync() },
      { op: 'preallocate', call: (f: DirectFile) => f.preallocate(4096) },
      { op: 'size', call: (f: DirectFile) => f.size() },
    ])('$op after close rejects with ERR_CLFS_CLOSED', async ({ call }) => {
      const file = await open(newPath(), { create: true, engine });
      expect(file.direct).toBe(true);
      await file.close();
      const error = await expectRejection(() => call(file), {
        code: 'ERR_CLFS_CLOSED',
        clfsError: 'ERROR_INVALID_HANDLE',
      });
      expect(error).toBeInstanceOf(ClfsError);
    });

    it('a write issued after close() was called, before it resolved, rejects with ERR_CLFS_CLOSED', async () => {
      const file = await open(newPath(), { create: true, engine });
      expect(file.direct).toBe(true);
      const inFlight = file.write(0, block(4096, 52));
      const closing = file.close();
      await expectRejection(() => file.write(4096, block(4096, 53)), { code: 'ERR_CLFS_CLOSED' });
      expect(await inFlight).toBe(4096);
      await closing;
    });

    it('a second close resolves and does nothing', async () => {
      const file = await open(newPath(), { create: true, engine });
      expect(file.direct).toBe(true);
      await file.close();
      await expect(file.close()).resolves.toBeUndefined();
      await expectRejection(() => file.size(), { code: 'ERR_CLFS_CLOSED' });
    });

    it('two closes in a row both resolve', async () => {
      const file = await open(newPath(), { create: true, engine });
      expect(file.direct).toBe(true);
      await expect(Promise.all([file.close(), file.close()])).resolves.toEqual([undefined, undefined]);
    });

    it('`await using` closes the file at the end of the block', async () => {
      const filePath = newPath();
      let escaped: DirectFile | undefined;
      {
        await using file = await DirectFile.open(filePath, { create: true, engine });
        expect(file.direct).toBe(true);
        escaped = file;
        await file.write(0, block(512, 54));
      }
      await expectRejection(() => escaped!.size(), { code: 'ERR_CLFS_CLOSED' });
      const again = await open(filePath, { engine });
      expect(again.direct).toBe(true);
      expect(await again.size()).toBe(512);
    });

    it('Symbol.asyncDispose closes the file', async () => {
      const filePath = newPath();
      const file = await DirectFile.open(filePath, { create: true, engine });
      expect(file.direct).toBe(true);
      await file[Symbol.asyncDispose]();
      await expectRejection(() => file.sync(), { code: 'ERR_CLFS_CLOSED' });
      const again = await open(filePath, { engine });
      expect(again.direct).toBe(true);
    });
  });

  describe('sync', () => {
    it('resolves after every write submitted before it (50 rounds of 16 writes)', async () => {
      // durability 'none' keeps fdatasync short, which is when an engine that
      // hands completions back out of order shows it.
      const file = await open(newPath(), { create: true, engine, durability: 'none' });
      expect(file.direct).toBe(true);
      const early: string[] = [];
      for (let round = 0; round < 50; round++) {
        const order: string[] = [];
        const writes = Array.from({ length: 16 }, (_, i) =>
          file.write((round * 16 + i) * 4096, block(4096, i)).then(() => order.push(`write ${i}`)),
        );
        const synced = file.sync().then(() => order.push('sync'));
        await Promise.all([...writes, synced]);
        if (order.indexOf('sync') !== 16)
          early.push(`round ${round}: sync before ${order.slice(order.indexOf('sync') + 1).join(', ')}`);
      }
      expect(early).toEqual([]);
    });

    it('with durability dsync, fdatasync and none alike, resolves with undefined and counts', async () => {
      for (const durability of DURABILITIES) {
        const file = await open(newPath(), { create: true, engine, durability });
        expect(file.direct).toBe(true);
        await file.write(0, block(4096, 1));
        await expect(file.sync()).resolves.toBeUndefined();
        expect(file.stats().syncs).toBe(1);
      }
    });
  });

  describe.each(DURABILITIES)("many writes in flight, then sync (durability '%s')", (durability) => {
    it('256 writes of 4 KiB at distinct offsets all land, and sync resolves after them', async () => {
      const file = await open(newPath(), { create: true, engine, durability });
      expect(file.direct).toBe(true);
      expect(file.durability).toBe(durability);
      // Offsets in a shuffled order, so that the file is not written front to back.
      const count = 256;
      const slots = Array.from({ length: count }, (_, i) => (i * 97) % count);
      const data = slots.map((slot) => block(4096, 1000 + slot));
      const writes = slots.map((slot, i) => file.write(slot * 4096, data[i]!));
      expect(file.stats().inFlight).toBe(count);
      const synced = file.sync();
      expect(await Promise.all(writes)).toEqual(Array(count).fill(4096));
      await synced;
      expect(file.stats()).toMatchObject({ writes: count, bytesWritten: count * 4096, syncs: 1, inFlight: 0 });
      const back = alignedBuffer(count * 4096);
      expect(await file.read(0, back)).toBe(count * 4096);
      for (let i = 0; i < count; i++) {
        const slot = slots[i]!;
        expectSameBytes(back.subarray(slot * 4096, (slot + 1) * 4096), data[i]!);
      }
    });
  });

  const noShm = MISSING.tmpfs ?? (existsSync(SHM) ? undefined : `no tmpfs at ${SHM}`);
  describeWhere(noShm, 'a filesystem that ignores O_DIRECT (tmpfs)', () => {
    const shmPaths: string[] = [];
    const shmPath = (): string => {
      const p = path.join(SHM, `clfs-test-${process.pid}-${engine}-${shmPaths.length}`);
      shmPaths.push(p);
      return p;
    };
    afterAll(() => {
      for (const p of shmPaths) rmSync(p, { force: true });
    });

    it('is refused with ERR_CLFS_DIRECT_IO_UNSUPPORTED, with a reason', async () => {
      const error = await expectRejection(() => DirectFile.open(shmPath(), { create: true, engine }), {
        code: 'ERR_CLFS_DIRECT_IO_UNSUPPORTED',
        clfsError: 'ERROR_NOT_SUPPORTED',
      });
      expect(error).toBeInstanceOf(ClfsError);
      expect(typeof error.reason).toBe('string');
      expect(error.reason).not.toBe('');
      expect(error.message).toContain('allowBuffered');
    });

    it('with create and exclusive, a refused open leaves no file behind', async () => {
      const filePath = shmPath();
      await expectRejection(() => DirectFile.open(filePath, { create: true, exclusive: true, engine }), {
        code: 'ERR_CLFS_DIRECT_IO_UNSUPPORTED',
      });
      expect(existsSync(filePath)).toBe(false);
    });

    it('with create (not exclusive), a refused open leaves no file behind', async () => {
      const filePath = shmPath();
      await expectRejection(() => DirectFile.open(filePath, { create: true, engine }), {
        code: 'ERR_CLFS_DIRECT_IO_UNSUPPORTED',
      });
      expect(existsSync(filePath)).toBe(false);
    });

    it('with create (not exclusive), a refused open of a file that existed leaves it as it was', async () => {
      const filePath = shmPath();
      writeFileSync(filePath, 'kept');
      await expectRejection(() => DirectFile.open(filePath, { create: true, engine }), {
        code: 'ERR_CLFS_DIRECT_IO_UNSUPPORTED',
      });
      expect(readFileSync(filePath, 'utf8')).toBe('kept');
    });

    it('with allowBuffered, opens buffered, says so, and does I/O', async () => {
      const file = await open(shmPath(), { create: true, engine, allowBuffered: true });
      expect(file.direct).toBe(false);
      expect(file.reason).toMatch(/buffered/);
      expect(file.alignmentSource).toBe('buffered');
      const data = block(8192, 61);
      expect(await file.write(0, data)).toBe(8192);
      const back = alignedBuffer(8192);
      expect(await file.read(0, back)).toBe(8192);
      expectSameBytes(back, data);
    });
  });
});

describe('error objects', () => {
  it('a failed open rejects with a ClfsError carrying code, errno, syscall and path', async () => {
    const error = await expectRejection(() => DirectFile.open('/nonexistent-dir/x', { create: true }), {
      code: 'ENOENT',
      errno: -2,
      syscall: SYSTEM_ERRORS.openCall,
      path: '/nonexistent-dir/x',
    });
    expect(error).toBeInstanceOf(ClfsError);
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('ClfsError');
    expect(error.message).toContain('/nonexistent-dir/x');
  });

  it('a system error has no clfsError property (not one set to undefined), and JSON.stringify shows its fields', async () => {
    const error = await expectRejection(() => DirectFile.open('/nonexistent-dir/x', {}), { code: 'ENOENT' });
    expect('clfsError' in error).toBe(false);
    expect(JSON.parse(JSON.stringify(error))).toMatchObject({
      name: 'ClfsError',
      code: 'ENOENT',
      syscall: SYSTEM_ERRORS.openCall,
    });
  });

  it('an error raised natively carries a stack through the awaiting callers', async () => {
    async function callerOfOpen(): Promise<unknown> {
      return await DirectFile.open('/nonexistent-dir/x', {});
    }
    const error = await expectRejection(callerOfOpen, { code: 'ENOENT' });
    expect(error.stack).toMatch(/^ClfsError: ENOENT/);
    expect(error.stack).toMatch(/\n {4}at (async )?callerOfOpen /);
  });
});

describe('bad arguments reject the promise (they do not throw)', () => {
  describe('DirectFile.open', () => {
    it.each([
      { what: 'path 42', path: 42, options: { create: true }, code: 'ERR_INVALID_ARG_TYPE' },
      { what: "path ''", path: '', options: { create: true }, code: 'ERR_INVALID_ARG_VALUE' },
      { what: 'a path with a NUL byte', path: 'a\0b', options: { create: true }, code: 'ERR_INVALID_ARG_VALUE' },
      { what: 'options null', path: 'x', options: null, code: 'ERR_INVALID_ARG_TYPE' },
      { what: "options.durability 'x'", path: 'x', options: { durability: 'x' }, code: 'ERR_INVALID_ARG_VALUE' },
      { what: "options.engine 'x'", path: 'x', options: { engine: 'x' }, code: 'ERR_INVALID_ARG_VALUE' },
      { what: 'options.depth 0', path: 'x', options: { depth: 0 }, code: 'ERR_OUT_OF_RANGE' },
      { what: 'options.depth 1.5', path: 'x', options: { depth: 1.5 }, code: 'ERR_OUT_OF_RANGE' },
      { what: 'options.depth 4097', path: 'x', options: { depth: 4097 }, code: 'ERR_OUT_OF_RANGE' },
      { what: "options.depth '8'", path: 'x', options: { depth: '8' }, code: 'ERR_INVALID_ARG_TYPE' },
      { what: "options.create 'yes'", path: 'x', options: { create: 'yes' }, code: 'ERR_INVALID_ARG_TYPE' },
    ])('$what rejects with $code', async ({ path: p, options, code }) => {
      const error = await expectRejection(() => DirectFile.open(p as string, options as DirectFileOptions), { code });
      expect(error).toBeInstanceOf(ClfsError);
    });
  });

  describeEngines("on an open file (engine '$engine')", ({ engine }) => {
    let file: DirectFile;
    beforeAll(async () => {
      file = await DirectFile.open(newPath(), { create: true, engine });
    });
    afterAll(async () => {
      await file.close();
    });

    it.each([
      { what: 'write at offset -1', call: () => file.write(-1, alignedBuffer(512)), code: 'ERR_OUT_OF_RANGE' },
      { what: 'write at offset 1.5', call: () => file.write(1.5, alignedBuffer(512)), code: 'ERR_OUT_OF_RANGE' },
      { what: 'write at offset NaN', call: () => file.write(NaN, alignedBuffer(512)), code: 'ERR_OUT_OF_RANGE' },
      {
        what: "write at offset '0'",
        call: () => file.write('0' as never, alignedBuffer(512)),
        code: 'ERR_INVALID_ARG_TYPE',
      },
      { what: 'write of a string', call: () => file.write(0, 'data' as never), code: 'ERR_INVALID_ARG_TYPE' },
      {
        what: 'write of an ArrayBuffer',
        call: () => file.write(0, new ArrayBuffer(512) as never),
        code: 'ERR_INVALID_ARG_TYPE',
      },
      {
        what: 'write of [Uint16Array]',
        call: () => file.write(0, [new Uint16Array(256) as never]),
        code: 'ERR_INVALID_ARG_TYPE',
      },
      {
        what: 'write of [Uint8Array, null]',
        call: () => file.write(0, [alignedBuffer(512), null as never]),
        code: 'ERR_INVALID_ARG_TYPE',
      },
      { what: 'write of an empty array', call: () => file.write(0, []), code: 'ERR_OUT_OF_RANGE' },
      {
        what: 'write of 1025 buffers',
        call: () =>
          file.write(
            0,
            Array.from({ length: 1025 }, () => alignedBuffer(512)),
          ),
        code: 'ERR_OUT_OF_RANGE',
      },
      {
        what: 'write with options.checksums not an array',
        call: () => file.write(0, alignedBuffer(512), { checksums: {} as never }),
        code: 'ERR_INVALID_ARG_TYPE',
      },
      { what: 'read at offset -1', call: () => file.read(-1, alignedBuffer(512)), code: 'ERR_OUT_OF_RANGE' },
      {
        what: "read at offset '0'",
        call: () => file.read('0' as never, alignedBuffer(512)),
        code: 'ERR_INVALID_ARG_TYPE',
      },
      { what: 'read into a plain array', call: () => file.read(0, [0, 0] as never), code: 'ERR_INVALID_ARG_TYPE' },
      { what: 'preallocate(-1)', call: () => file.preallocate(-1), code: 'ERR_OUT_OF_RANGE' },
      { what: 'preallocate(1.5)', call: () => file.preallocate(1.5), code: 'ERR_OUT_OF_RANGE' },
      { what: "preallocate('4096')", call: () => file.preallocate('4096' as never), code: 'ERR_INVALID_ARG_TYPE' },
    ])('$what rejects with $code', async ({ call, code }) => {
      expect(file.direct).toBe(true);
      const before = file.stats();
      const error = await expectRejection(call, { code });
      expect(error).toBeInstanceOf(ClfsError);
      expect(file.stats().writes).toBe(before.writes);
      expect(file.stats().reads).toBe(before.reads);
    });
  });
});

const STRACE = '/usr/bin/strace';
const straceUsable =
  process.platform === 'linux' &&
  existsSync(STRACE) &&
  (() => {
    try {
      // ptrace may be forbidden in a container even where strace is installed.
      return readFileSync('/proc/sys/kernel/yama/ptrace_scope', 'utf8').trim() !== '3';
    } catch {
      return true;
    }
  })();

describe('misaligned requests issue no system call (strace)', () => {
  it.skipIf(!straceUsable)(
    `a process making only misaligned writes with engine 'threads' calls no pwritev${straceUsable ? '' : ` (skipped: ${STRACE} is not usable here)`}`,
    async () => {
      const trace = path.join(scratch.dir, 'strace.txt');
      const target = newPath();
      const marker = 'CLFS-MISALIGNED-DONE';
      const script = `
        import { writeSync } from 'node:fs';
        import { DirectFile, alignedBuffer } from ${JSON.stringify(pathToFileURL(DIST_ENTRY).href)};
        const file = await DirectFile.open(process.argv[1], { create: true, engine: 'threads', depth: 2 });
        const memory = alignedBuffer(8192);
        const attempts = [
          () => file.write(0, memory.subarray(1, 513)),
          () => file.write(513, memory.subarray(0, 512)),
          () => file.write(0, memory.subarray(0, 511)),
          () => file.write(0, [memory.subarray(0, 512), memory.subarray(1025, 1537)]),
        ];
        let rejected = 0;
        for (const attempt of attempts) {
          try { await attempt(); } catch (error) { if (error.code === 'ERR_CLFS_MISALIGNED') rejected++; }
        }
        writeSync(2, '${marker}\\n');
        // The control: an aligned write after the marker must show up in the trace.
        await file.write(0, memory.subarray(0, 4096));
        await file.close();
        console.log(JSON.stringify({ direct: file.direct, rejected }));
      `;
      const { stdout } = await promisify(execFile)(
        STRACE,
        [
          '-f',
          '-qq',
          '-o',
          trace,
          '-e',
          'trace=pwritev,pwritev2,pwrite64,write',
          process.execPath,
          '--input-type=module',
          '-e',
          script,
          target,
        ],
        { timeout: 60_000 },
      );
      expect(JSON.parse(stdout)).toEqual({ direct: true, rejected: 4 });
      const lines = readFileSync(trace, 'utf8').split('\n');
      const markerLine = lines.findIndex((line) => line.includes(marker));
      expect(markerLine, 'the marker write is in the trace').toBeGreaterThanOrEqual(0);
      const isFileWrite = (line: string): boolean => /\bpwrite(v2?|64)\(/.test(line);
      expect(lines.slice(0, markerLine).filter(isFileWrite)).toEqual([]);
      expect(lines.slice(markerLine).filter(isFileWrite).length, 'the aligned control write').toBeGreaterThan(0);
    },
  );
});

// What happens when the collector frees a DirectFile: in child processes, so
// that a crash fails one test rather than the whole file. A closed file once
// left its environment cleanup hook behind (fixed in 8ad9cb8): a new file at the
// same address then aborted in napi_add_env_cleanup_hook, and teardown ran the
// stale hook on freed memory.
describeEngines("native object lifetime (engine '$engine', child process with --expose-gc)", ({ engine }) => {
  const collect = `
    async function collect(until) {
      for (let i = 0; i < 50 && !until(); i++) {
        globalThis.gc();
        await new Promise((resolve) => setImmediate(resolve));
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
    }
  `;

  it('closed files that were garbage-collected do not crash the process when it exits', async () => {
    const child = await runChild(
      `
      import { DirectFile } from 'CLFS';
      ${collect}
      let collected = 0;
      let direct = true;
      const registry = new FinalizationRegistry(() => collected++);
      for (let i = 0; i < 4; i++) {
        const file = await DirectFile.open(process.argv[1] + '-' + i, { create: true, engine: '${engine}' });
        direct &&= file.direct;
        registry.register(file, i);
        await file.close();
      }
      await collect(() => collected === 4);
      console.log(JSON.stringify({ direct, someCollected: collected > 0 }));
      `,
      { nodeArgs: ['--expose-gc'], args: [newPath()] },
    );
    expect(JSON.parse(child.stdout || '{}')).toEqual({ direct: true, someCollected: true });
    expect({ code: child.code, signal: child.signal, stderr: child.stderr }).toEqual({
      code: 0,
      signal: null,
      stderr: '',
    });
  });

  it('files whose open failed, once garbage-collected, do not crash the process when it exits', async () => {
    const child = await runChild(
      `
      import { DirectFile } from 'CLFS';
      ${collect}
      let failed = 0;
      for (let i = 0; i < 4; i++) {
        await DirectFile.open('/nonexistent-dir/x', { engine: '${engine}' }).catch((error) => {
          if (error.code === 'ENOENT') failed++;
        });
      }
      let turns = 0;
      await collect(() => ++turns > 10);
      console.log(JSON.stringify({ failed }));
      `,
      { nodeArgs: ['--expose-gc'] },
    );
    expect(JSON.parse(child.stdout || '{}')).toEqual({ failed: 4 });
    expect({ code: child.code, signal: child.signal, stderr: child.stderr }).toEqual({
      code: 0,
      signal: null,
      stderr: '',
    });
  });

  it('opening files one after another while closed ones are collected works every time', async () => {
    const child = await runChild(
      `
      import { DirectFile } from 'CLFS';
      ${collect}
      let collected = 0;
      const registry = new FinalizationRegistry(() => collected++);
      let opened = 0;
      let direct = true;
      for (let i = 0; i < 40; i++) {
        const file = await DirectFile.open(process.argv[1] + '-' + i, { create: true, engine: '${engine}' });
        opened++;
        direct &&= file.direct;
        registry.register(file, i);
        await file.close();
        const before = collected;
        await collect(() => collected > before);
      }
      console.log(JSON.stringify({ opened, direct, someCollected: collected > 0 }));
      process.exit(0); // only the opens are under test here, not the exit
      `,
      { nodeArgs: ['--expose-gc'], args: [newPath()] },
    );
    expect(child.stderr).toBe('');
    expect(JSON.parse(child.stdout || '{}')).toEqual({ opened: 40, direct: true, someCollected: true });
    expect(child.code).toBe(0);
  });
});
