// alignedBuffer: alignment, pinning ('nonPaged') and its accounting, the
// RLIMIT_MEMLOCK quota, release and the garbage-collection safety net.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

import { afterEach, beforeAll, describe, expect, it } from 'vitest';

import {
  alignedBuffer,
  ClfsError,
  memoryInfo,
  misalignment,
  releaseBuffer,
  type AlignedBufferOptions,
  type Pool,
} from '../../lib/index.ts';
import { runChild, type ChildResult } from '../support/helpers.ts';
import { thrownBy } from '../support/native.ts';
import { describeWhere, itWhere, MISSING } from '../support/platform.ts';

const PAGE = memoryInfo().pageSize;
const SIZES = [1, 511, 512, 513, 4095, 4096, 4097, 65536, (1 << 20) + 1];
const ALIGNMENTS = [1, 512, 4096, 65536];
const POOLS: Pool[] = ['paged', 'nonPaged'];

const roundUpToPage = (n: number): number => Math.ceil(n / PAGE) * PAGE;

function isAllZero(buffer: Uint8Array): boolean {
  for (let i = 0; i < buffer.length; i++) if (buffer[i] !== 0) return false;
  return true;
}

// Every nonPaged buffer a test makes is released afterwards, so that no test
// depends on another's pins or on when the collector runs.
const made: Uint8Array[] = [];
function make(size: number, options?: AlignedBufferOptions): Uint8Array {
  const buffer = alignedBuffer(size, options);
  made.push(buffer);
  return buffer;
}
afterEach(() => {
  for (const buffer of made.splice(0)) releaseBuffer(buffer);
});

describe.each(POOLS)("pool '%s'", (pool) => {
  describe.each(ALIGNMENTS)('alignment %i', (alignment) => {
    it.each(SIZES)('a %i-byte buffer starts on the alignment, has that length, is zero-filled and writable', (size) => {
      const buffer = make(size, { alignment, pool });
      expect(buffer).toBeInstanceOf(Uint8Array);
      expect(misalignment(buffer, alignment)).toBe(0);
      expect(buffer.length).toBe(size);
      expect(buffer.byteLength).toBe(size);
      expect(isAllZero(buffer)).toBe(true);
      for (let i = 0; i < size; i++) buffer[i] = (i * 7 + 1) & 0xff;
      let wrong = 0;
      for (let i = 0; i < size; i++) if (buffer[i] !== ((i * 7 + 1) & 0xff)) wrong++;
      expect(wrong).toBe(0);
    });
  });

  it('the default alignment is 4096', () => {
    // Small allocations from the heap are only 16-byte aligned by themselves:
    // 32 of them all landing on 4096 by chance is out of the question.
    for (let i = 0; i < 32; i++) {
      const buffer = make(1 + i * 100, { pool });
      expect(misalignment(buffer, 4096)).toBe(0);
    }
  });
});

describe('default options', () => {
  it("with no options, the buffer is 'paged' (nothing is pinned) and 4096-aligned", () => {
    const before = memoryInfo();
    const buffer = make(10_000);
    expect(misalignment(buffer, 4096)).toBe(0);
    expect(memoryInfo().pinnedBytes).toBe(before.pinnedBytes);
    expect(releaseBuffer(buffer)).toBe(false);
  });
});

describe('pin accounting', () => {
  itWhere(MISSING.processLocked, 'memoryInfo reports the page size and the RLIMIT_MEMLOCK soft limit', () => {
    const shell = execFileSync('bash', ['-c', 'getconf PAGESIZE; ulimit -S -l'], { encoding: 'utf8' })
      .trim()
      .split('\n');
    const info = memoryInfo();
    expect(info.pageSize).toBe(Number(shell[0]));
    expect(info.pinLimit).toBe(shell[1] === 'unlimited' ? Infinity : Number(shell[1]) * 1024);
  });

  itWhere(MISSING.processLocked, 'memoryInfo reports the process-wide locked bytes from VmLck', () => {
    const vmLck = /VmLck:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    expect(vmLck).not.toBeNull();
    expect(memoryInfo().processLockedBytes).toBe(Number(vmLck![1]) * 1024);
  });

  it.each([1, 4096, 5000, 65537])('a nonPaged %i-byte buffer pins its size rounded up to whole pages', (size) => {
    const before = memoryInfo();
    make(size, { pool: 'nonPaged' });
    const after = memoryInfo();
    expect(after.pinnedBytes - before.pinnedBytes).toBe(roundUpToPage(size));
    expect(after.pinnedBuffers - before.pinnedBuffers).toBe(1);
  });

  itWhere(MISSING.processLocked, 'the process-wide locked bytes (VmLck) rise by the pinned pages', () => {
    const before = memoryInfo();
    make(5000, { pool: 'nonPaged' });
    const after = memoryInfo();
    expect(after.processLockedBytes! - before.processLockedBytes!).toBe(roundUpToPage(5000));
  });

  it('a paged buffer pins nothing', () => {
    const before = memoryInfo();
    make(1 << 20, { pool: 'paged' });
    const after = memoryInfo();
    expect(after.pinnedBytes).toBe(before.pinnedBytes);
    expect(after.pinnedBuffers).toBe(before.pinnedBuffers);
    expect(after.processLockedBytes).toBe(before.processLockedBytes);
  });

  it('a nonPaged buffer starts on a page of its own, whatever the requested alignment', () => {
    for (const alignment of [1, 512]) {
      const buffer = make(100, { alignment, pool: 'nonPaged' });
      expect(misalignment(buffer, PAGE)).toBe(0);
    }
  });

  itWhere(MISSING.processLocked, 'releasing one of two adjacent small nonPaged buffers leaves the other locked', () => {
    const before = memoryInfo();
    const first = make(1, { alignment: 1, pool: 'nonPaged' });
    make(1, { alignment: 1, pool: 'nonPaged' });
    expect(memoryInfo().processLockedBytes! - before.processLockedBytes!).toBe(2 * PAGE);
    releaseBuffer(first);
    expect(memoryInfo().processLockedBytes! - before.processLockedBytes!).toBe(PAGE);
  });
});

describe('releaseBuffer', () => {
  it('returns true for a pinned buffer, then false once it is released', () => {
    const buffer = make(4096, { pool: 'nonPaged' });
    expect(releaseBuffer(buffer)).toBe(true);
    expect(releaseBuffer(buffer)).toBe(false);
  });

  it('returns the pinned bytes and buffer count to what they were', () => {
    const before = memoryInfo();
    const buffer = make(3 * PAGE + 1, { pool: 'nonPaged' });
    expect(memoryInfo().pinnedBytes).toBe(before.pinnedBytes + 4 * PAGE);
    releaseBuffer(buffer);
    const after = memoryInfo();
    expect(after.pinnedBytes).toBe(before.pinnedBytes);
    expect(after.pinnedBuffers).toBe(before.pinnedBuffers);
  });

  itWhere(MISSING.processLocked, 'unlocks the pages (VmLck drops back)', () => {
    const before = memoryInfo();
    const buffer = make(8 * PAGE, { pool: 'nonPaged' });
    expect(memoryInfo().processLockedBytes).toBe(before.processLockedBytes! + 8 * PAGE);
    releaseBuffer(buffer);
    expect(memoryInfo().processLockedBytes).toBe(before.processLockedBytes);
  });

  it('returns false for a paged buffer and for an ordinary Uint8Array', () => {
    expect(releaseBuffer(make(4096, { pool: 'paged' }))).toBe(false);
    expect(releaseBuffer(new Uint8Array(4096))).toBe(false);
  });

  it('leaves the memory usable, with its contents', () => {
    const buffer = make(2 * PAGE, { pool: 'nonPaged' });
    for (let i = 0; i < buffer.length; i++) buffer[i] = i & 0xff;
    releaseBuffer(buffer);
    for (let i = 0; i < buffer.length; i++) expect(buffer[i]).toBe(i & 0xff);
    buffer.fill(0x3c);
    expect(buffer.every((b) => b === 0x3c)).toBe(true);
  });

  it('rejects a non-Uint8Array with ERR_INVALID_ARG_TYPE', () => {
    for (const value of ['x', null, undefined, new ArrayBuffer(8), new Uint16Array(4)]) {
      const error = thrownBy(() => releaseBuffer(value as unknown as Uint8Array));
      expect(error).toBeInstanceOf(ClfsError);
      expect(error.code).toBe('ERR_INVALID_ARG_TYPE');
    }
  });
});

describe('misalignment', () => {
  it('is the address modulo the alignment', () => {
    const buffer = make(8192, { alignment: 4096 });
    expect(misalignment(buffer, 4096)).toBe(0);
    expect(misalignment(buffer.subarray(1), 4096)).toBe(1);
    expect(misalignment(buffer.subarray(513), 512)).toBe(1);
    expect(misalignment(buffer.subarray(4095), 4096)).toBe(4095);
    expect(misalignment(buffer.subarray(4095), 1)).toBe(0);
  });

  it.each([
    { what: 'alignment 3', alignment: 3, code: 'ERR_INVALID_ARG_VALUE' },
    { what: 'alignment 0', alignment: 0, code: 'ERR_OUT_OF_RANGE' },
    { what: "alignment '512'", alignment: '512', code: 'ERR_INVALID_ARG_TYPE' },
  ])('rejects $what with $code', ({ alignment, code }) => {
    const error = thrownBy(() => misalignment(new Uint8Array(8), alignment as number));
    expect(error).toBeInstanceOf(ClfsError);
    expect(error.code).toBe(code);
  });

  it('rejects a non-Uint8Array buffer with ERR_INVALID_ARG_TYPE', () => {
    expect(thrownBy(() => misalignment([1, 2] as unknown as Uint8Array, 1)).code).toBe('ERR_INVALID_ARG_TYPE');
  });
});

describe('bad arguments to alignedBuffer', () => {
  it.each([
    { what: 'size 0', size: 0, options: undefined, code: 'ERR_OUT_OF_RANGE' },
    { what: 'size -1', size: -1, options: undefined, code: 'ERR_OUT_OF_RANGE' },
    { what: 'size 1.5', size: 1.5, options: undefined, code: 'ERR_OUT_OF_RANGE' },
    { what: 'size 2 ** 32 + 1', size: 2 ** 32 + 1, options: undefined, code: 'ERR_OUT_OF_RANGE' },
    { what: 'size NaN', size: NaN, options: undefined, code: 'ERR_OUT_OF_RANGE' },
    { what: 'size Infinity', size: Infinity, options: undefined, code: 'ERR_OUT_OF_RANGE' },
    { what: "size '4096'", size: '4096', options: undefined, code: 'ERR_INVALID_ARG_TYPE' },
    { what: 'size 4096n', size: 4096n, options: undefined, code: 'ERR_INVALID_ARG_TYPE' },
    { what: 'alignment 3', size: 4096, options: { alignment: 3 }, code: 'ERR_INVALID_ARG_VALUE' },
    { what: 'alignment 0', size: 4096, options: { alignment: 0 }, code: 'ERR_OUT_OF_RANGE' },
    { what: 'alignment 2 ** 31', size: 4096, options: { alignment: 2 ** 31 }, code: 'ERR_OUT_OF_RANGE' },
    { what: "alignment '4096'", size: 4096, options: { alignment: '4096' }, code: 'ERR_INVALID_ARG_TYPE' },
    { what: "pool 'x'", size: 4096, options: { pool: 'x' }, code: 'ERR_INVALID_ARG_VALUE' },
    { what: 'pool 1', size: 4096, options: { pool: 1 }, code: 'ERR_INVALID_ARG_TYPE' },
    { what: 'options null', size: 4096, options: null, code: 'ERR_INVALID_ARG_TYPE' },
    { what: "options 'nonPaged'", size: 4096, options: 'nonPaged', code: 'ERR_INVALID_ARG_TYPE' },
  ])('$what throws a ClfsError with code $code', ({ size, options, code }) => {
    const before = memoryInfo();
    const error = thrownBy(() => alignedBuffer(size as number, options as AlignedBufferOptions));
    expect(error).toBeInstanceOf(ClfsError);
    expect(error.code).toBe(code);
    expect(error.message).not.toBe('');
    expect(memoryInfo().pinnedBytes).toBe(before.pinnedBytes);
  });
});

describe('the pin limit in this process', () => {
  // Windows has no fixed limit: clfs raises the working set a lock needs (win32.cc).
  itWhere(
    MISSING.processLocked,
    'a nonPaged buffer larger than RLIMIT_MEMLOCK throws ERR_CLFS_PIN_LIMIT carrying the limit',
    () => {
      const { pinLimit } = memoryInfo();
      expect(Number.isFinite(pinLimit), 'this test needs a finite RLIMIT_MEMLOCK').toBe(true);
      const before = memoryInfo();
      const error = thrownBy(() => alignedBuffer(pinLimit + PAGE, { pool: 'nonPaged' }));
      expect(error).toBeInstanceOf(ClfsError);
      expect(error.code).toBe('ERR_CLFS_PIN_LIMIT');
      expect(error.limit).toBe(pinLimit);
      expect(memoryInfo().pinnedBytes).toBe(before.pinnedBytes);
      expect(memoryInfo().processLockedBytes).toBe(before.processLockedBytes);
    },
  );
});

describe('the garbage-collection safety net (child process with --expose-gc)', () => {
  let child: ChildResult;
  let report: {
    pinnedAfterAllocation: number;
    lockedAfterAllocation: number | null;
    pinnedAtEnd: number;
    buffersAtEnd: number;
    lockedAtEnd: number | null;
    keptLength: number;
    keptByte: number;
  };

  beforeAll(async () => {
    child = await runChild(
      `
      import { alignedBuffer, memoryInfo } from 'CLFS';
      const kept = alignedBuffer(4096, { pool: 'nonPaged' });
      (() => {
        for (let i = 0; i < 16; i++) alignedBuffer(8192, { pool: 'nonPaged' })[0] = i;
      })();
      const afterAllocation = memoryInfo();
      // Finalizers of native objects run after the collection, from the event
      // loop (Node 20 defers them): collect, then give the loop a few turns.
      for (let i = 0; i < 100 && memoryInfo().pinnedBuffers > 1; i++) {
        globalThis.gc();
        await new Promise((resolve) => setImmediate(resolve));
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      const atEnd = memoryInfo();
      kept[0] = 42;
      console.log(JSON.stringify({
        pinnedAfterAllocation: afterAllocation.pinnedBytes,
        lockedAfterAllocation: afterAllocation.processLockedBytes,
        pinnedAtEnd: atEnd.pinnedBytes,
        buffersAtEnd: atEnd.pinnedBuffers,
        lockedAtEnd: atEnd.processLockedBytes,
        keptLength: kept.length,
        keptByte: kept[0],
      }));
      `,
      { nodeArgs: ['--expose-gc'] },
    );
    expect(child.stderr).toBe('');
    expect(child.code).toBe(0);
    report = JSON.parse(child.stdout);
  });

  it('the child pinned all 17 buffers before collecting', () => {
    expect(report.pinnedAfterAllocation).toBe(4096 + 16 * 8192);
  });

  it('buffers with no references left are unpinned by the collector', () => {
    expect(report.pinnedAtEnd).toBe(4096);
    expect(report.buffersAtEnd).toBe(1);
  });

  itWhere(MISSING.processLocked, 'their pages are unlocked (VmLck falls back to the one kept buffer)', () => {
    expect(report.lockedAfterAllocation).toBe(4096 + 16 * 8192);
    expect(report.lockedAtEnd).toBe(4096);
  });

  it('a buffer still referenced stays pinned and usable', () => {
    expect(report.keptLength).toBe(4096);
    expect(report.keptByte).toBe(42);
  });
});

describeWhere(MISSING.processLocked, 'the pin quota under `ulimit -l 64` (child process)', () => {
  let child: ChildResult;
  let report: {
    pinLimit: number;
    small: number;
    secondSmall: number;
    big: string | null;
    error: { isClfsError: boolean; code: string; message: string; limit: number } | null;
    paged: number;
    pinnedAtEnd: number;
    lockedAtEnd: number | null;
  };

  beforeAll(async () => {
    child = await runChild(
      `
      import { alignedBuffer, memoryInfo, ClfsError } from 'CLFS';
      const report = { pinLimit: memoryInfo().pinLimit, big: null, error: null };
      const small = alignedBuffer(32 * 1024, { pool: 'nonPaged' });
      report.small = small.length;
      try {
        const big = alignedBuffer(128 * 1024, { pool: 'nonPaged' });
        report.big = 'returned a buffer of ' + big.length + ' bytes';
      } catch (error) {
        report.error = { isClfsError: error instanceof ClfsError, code: error.code, message: error.message, limit: error.limit };
      }
      report.paged = alignedBuffer(1024 * 1024, { pool: 'paged' }).length;
      const second = alignedBuffer(32 * 1024, { pool: 'nonPaged' });
      report.secondSmall = second.length;
      report.pinnedAtEnd = memoryInfo().pinnedBytes;
      report.lockedAtEnd = memoryInfo().processLockedBytes;
      console.log(JSON.stringify(report));
      `,
      { shellPrefix: 'ulimit -l 64;' },
    );
    expect(child.stderr).toBe('');
    expect(child.code).toBe(0);
    report = JSON.parse(child.stdout);
  });

  it('the child runs with a 64 KiB RLIMIT_MEMLOCK', () => {
    expect(report.pinLimit).toBe(65536);
  });

  it('a 32 KiB nonPaged buffer is pinned', () => {
    expect(report.small).toBe(32 * 1024);
  });

  it('a 128 KiB nonPaged buffer throws ERR_CLFS_PIN_LIMIT rather than returning a buffer', () => {
    expect(report.big).toBeNull();
    expect(report.error).toMatchObject({ isClfsError: true, code: 'ERR_CLFS_PIN_LIMIT' });
  });

  it('the error names the limit ("64 KiB") and the fix ("ulimit -l")', () => {
    expect(report.error!.message).toContain('64 KiB');
    expect(report.error!.message).toContain('ulimit -l');
  });

  it('the error carries the limit in bytes', () => {
    expect(report.error!.limit).toBe(65536);
  });

  it("a 1 MiB 'paged' buffer still works", () => {
    expect(report.paged).toBe(1024 * 1024);
  });

  it('the refused request pinned nothing: a second 32 KiB buffer fills the quota exactly', () => {
    expect(report.secondSmall).toBe(32 * 1024);
    expect(report.pinnedAtEnd).toBe(64 * 1024);
    expect(report.lockedAtEnd).toBe(64 * 1024);
  });
});
