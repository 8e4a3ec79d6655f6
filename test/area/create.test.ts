// ClfsCreateMarshallingArea: buffer size rounding, the paged / non-paged
// pool, the buffer-count options, and the caller's allocator.
import { describe, expect, it } from 'vitest';

import { alignedBuffer, Lsn, memoryInfo, releaseBuffer, type MarshallingAreaOptions } from '../../lib/index.ts';
import { bytes, countingAllocator, makeArea, makeLog, rejectsWith, tag } from '../support/area.ts';
import { itWhere, sectorUnitHere } from '../support/platform.ts';

describe('ClfsCreateMarshallingArea: bufferSize', () => {
  it('createMarshallingArea returns a Promise of the area', async () => {
    const { log } = await makeLog();
    const pending = log.createMarshallingArea({ bufferSize: 4096 });
    expect(pending).toBeInstanceOf(Promise);
    const area = await pending;
    expect(area.bufferSize).toBe(4096);
  });

  it.each([1, 511, 512, 4095, 4096, 4097, 10000, 65536])(
    'ClfsCreateMarshallingArea: bufferSize %i rounds up to a multiple of the sector size',
    async (requested) => {
      const { log } = await makeLog();
      const sector = log.information().sectorSize;
      expect(sector).toBe(await sectorUnitHere());
      const area = await log.createMarshallingArea({ bufferSize: requested });
      expect(area.bufferSize % sector).toBe(0);
      expect(area.bufferSize).toBeGreaterThanOrEqual(requested);
      expect(area.bufferSize - requested).toBeLessThan(sector);
    },
  );

  it('ClfsCreateMarshallingArea: every buffer the area allocates is area.bufferSize (the rounded size)', async () => {
    const allocator = countingAllocator();
    const { area } = await makeArea({ bufferSize: 5000, allocator });
    const unit = await sectorUnitHere();
    expect(area.bufferSize).toBe(Math.ceil(5000 / unit) * unit);
    const { lsn } = await area.reserveAndAppend(bytes(100));
    const context = await area.readLogRecord(lsn!, 'forward');
    context.terminate();
    expect(allocator.calls.length).toBeGreaterThanOrEqual(2);
    for (const call of allocator.calls) expect(call.size).toBe(area.bufferSize);
  });

  it.each([
    ['missing', {}],
    ['a string', { bufferSize: '4096' }],
    ['null', { bufferSize: null }],
  ])('ClfsCreateMarshallingArea: bufferSize %s -> ERR_INVALID_ARG_TYPE', async (_name, options) => {
    const { log } = await makeLog();
    await rejectsWith(log.createMarshallingArea(options as unknown as MarshallingAreaOptions), 'ERR_INVALID_ARG_TYPE');
  });

  it.each([0, -4096, 4096.5, NaN, Infinity, (4 << 20) + 1])(
    'ClfsCreateMarshallingArea: bufferSize %d -> ERR_OUT_OF_RANGE',
    async (bufferSize) => {
      const { log } = await makeLog();
      await rejectsWith(log.createMarshallingArea({ bufferSize }), 'ERR_OUT_OF_RANGE');
    },
  );

  it('ClfsCreateMarshallingArea: options that are not an object -> ERR_INVALID_ARG_TYPE', async () => {
    const { log } = await makeLog();
    await rejectsWith(log.createMarshallingArea(4096 as unknown as MarshallingAreaOptions), 'ERR_INVALID_ARG_TYPE');
    await rejectsWith(log.createMarshallingArea(null as unknown as MarshallingAreaOptions), 'ERR_INVALID_ARG_TYPE');
  });
});

describe('ClfsCreateMarshallingArea: pool', () => {
  it("ClfsCreateMarshallingArea: pool defaults to 'paged'", async () => {
    const { area } = await makeArea({});
    expect(area.pool).toBe('paged');
  });

  it("ClfsCreateMarshallingArea: pool 'paged' buffers are not pinned", async () => {
    const before = memoryInfo().pinnedBytes;
    const { area } = await makeArea({ pool: 'paged', bufferSize: 65536 });
    await area.reserveAndAppend(bytes(1000));
    expect(area.buffersAllocated.write).toBeGreaterThan(0);
    expect(memoryInfo().pinnedBytes).toBe(before);
  });

  it("ClfsCreateMarshallingArea: pool 'nonPaged' pins the area's buffers while it has them", async () => {
    const before = memoryInfo().pinnedBytes;
    const { area } = await makeArea({ pool: 'nonPaged', bufferSize: 65536 });
    expect(area.pool).toBe('nonPaged');
    const { lsn } = await area.reserveAndAppend(bytes(1000));
    const context = await area.readLogRecord(lsn!, 'forward');
    const { write, read } = area.buffersAllocated;
    expect(write).toBeGreaterThan(0);
    expect(read).toBe(1);
    expect(memoryInfo().pinnedBytes - before).toBeGreaterThanOrEqual((write + read) * 65536);
    context.terminate();
  });

  it("ClfsCreateMarshallingArea: pool 'nonPaged' buffers are unpinned when the area closes", async () => {
    const before = memoryInfo().pinnedBytes;
    const { area } = await makeArea({ pool: 'nonPaged', bufferSize: 65536 });
    const { lsn } = await area.reserveAndAppend(bytes(1000));
    const context = await area.readLogRecord(lsn!, 'forward');
    context.terminate();
    expect(memoryInfo().pinnedBytes).toBeGreaterThan(before);
    await area.close();
    expect(memoryInfo().pinnedBytes).toBe(before);
  });

  const pinLimit = memoryInfo().pinLimit;
  itWhere(
    pinLimit <= 16 << 20 ? undefined : `pin limit: ${pinLimit} bytes here, the test needs one of at most 16 MiB`,
    "ClfsCreateMarshallingArea: pool 'nonPaged' buffers count against RLIMIT_MEMLOCK: beyond it an append fails with ERR_CLFS_PIN_LIMIT naming the limit (never silently unpinned)",
    async () => {
      const bufferSize = 4 << 20;
      const { log, area } = await makeArea({ pool: 'nonPaged', bufferSize }, { containerSize: 32 << 20 });
      const fit = Math.floor((pinLimit - memoryInfo().pinnedBytes) / bufferSize);
      const appends = [];
      // Each record needs a buffer of its own; none is written before the last is appended.
      for (let i = 0; i <= fit; i++) appends.push(area.reserveAndAppend(new Uint8Array(3 << 20).fill(i)));
      const results = await Promise.allSettled(appends);
      const failed = results.filter((r) => r.status === 'rejected');
      expect(failed.length).toBeGreaterThan(0);
      for (const f of failed) {
        expect((f as PromiseRejectedResult).reason).toMatchObject({ code: 'ERR_CLFS_PIN_LIMIT' });
        expect(String((f as PromiseRejectedResult).reason.message)).toContain('MiB');
      }
      expect(memoryInfo().pinnedBytes).toBeLessThanOrEqual(pinLimit);
      expect(log.ioStatistics().recordsAppended).toBe(results.length - failed.length);
    },
  );

  it("ClfsCreateMarshallingArea: pool other than 'paged' / 'nonPaged' -> ERR_INVALID_ARG_VALUE", async () => {
    const { log } = await makeLog();
    await rejectsWith(
      log.createMarshallingArea({ bufferSize: 4096, pool: 'locked' as 'paged' }),
      'ERR_INVALID_ARG_VALUE',
    );
  });
});

describe('ClfsCreateMarshallingArea: maxWriteBuffers / maxReadBuffers', () => {
  it.each(['maxWriteBuffers', 'maxReadBuffers'] as const)(
    'ClfsCreateMarshallingArea: %s defaults to Infinity (INFINITE)',
    async (name) => {
      const { area } = await makeArea({});
      expect(area[name]).toBe(Infinity);
    },
  );

  it.each(['maxWriteBuffers', 'maxReadBuffers'] as const)(
    'ClfsCreateMarshallingArea: %s accepts positive integers and Infinity',
    async (name) => {
      const { log } = await makeLog();
      for (const value of [1, 3, 1000, Infinity]) {
        const area = await log.createMarshallingArea({ bufferSize: 4096, [name]: value });
        expect(area[name]).toBe(value);
        await area.close();
      }
    },
  );

  it.each(['maxWriteBuffers', 'maxReadBuffers'] as const)(
    'ClfsCreateMarshallingArea: %s 0, negative, fractional, NaN or -Infinity -> ERR_OUT_OF_RANGE',
    async (name) => {
      const { log } = await makeLog();
      for (const value of [0, -1, 1.5, NaN, -Infinity]) {
        await rejectsWith(log.createMarshallingArea({ bufferSize: 4096, [name]: value }), 'ERR_OUT_OF_RANGE');
      }
    },
  );

  it.each(['maxWriteBuffers', 'maxReadBuffers'] as const)(
    'ClfsCreateMarshallingArea: %s not a number -> ERR_INVALID_ARG_TYPE',
    async (name) => {
      const { log } = await makeLog();
      for (const value of ['2', null, 2n, true]) {
        await rejectsWith(
          log.createMarshallingArea({ bufferSize: 4096, [name]: value as unknown as number }),
          'ERR_INVALID_ARG_TYPE',
        );
      }
    },
  );

  it('ClfsCreateMarshallingArea: flushIntervalMs negative or fractional -> ERR_OUT_OF_RANGE, not a number -> ERR_INVALID_ARG_TYPE', async () => {
    const { log } = await makeLog();
    await rejectsWith(log.createMarshallingArea({ bufferSize: 4096, flushIntervalMs: -1 }), 'ERR_OUT_OF_RANGE');
    await rejectsWith(log.createMarshallingArea({ bufferSize: 4096, flushIntervalMs: 0.5 }), 'ERR_OUT_OF_RANGE');
    await rejectsWith(
      log.createMarshallingArea({ bufferSize: 4096, flushIntervalMs: '50' as unknown as number }),
      'ERR_INVALID_ARG_TYPE',
    );
  });
});

describe('ClfsCreateMarshallingArea: allocator', () => {
  it('allocator: allocate(size, alignment) gets the buffer size and a power-of-two alignment of at least 512', async () => {
    const allocator = countingAllocator();
    const { area } = await makeArea({ bufferSize: 16384, allocator });
    await area.reserveAndAppend(bytes(100));
    expect(allocator.calls.length).toBeGreaterThan(0);
    for (const { size, alignment } of allocator.calls) {
      expect(size).toBe(area.bufferSize);
      expect(Number.isInteger(alignment)).toBe(true);
      expect(alignment).toBeGreaterThanOrEqual(512);
      expect(alignment & (alignment - 1)).toBe(0);
    }
  });

  it('allocator: called whenever the area allocates a buffer, for writing and for reading', async () => {
    const allocator = countingAllocator();
    const { area } = await makeArea({ bufferSize: 8192, allocator });
    const lsns = [];
    for (let i = 0; i < 5; i++) lsns.push((await area.reserveAndAppend(bytes(6000, i))).lsn!);
    expect(allocator.live).toBe(area.buffersAllocated.write + area.buffersAllocated.read);
    const contexts = [];
    for (const lsn of lsns.slice(0, 3)) contexts.push(await area.readLogRecord(lsn, 'forward'));
    expect(area.buffersAllocated.read).toBe(3);
    expect(allocator.live).toBe(area.buffersAllocated.write + area.buffersAllocated.read);
    for (const context of contexts) context.terminate();
    await area.flushBuffers();
    expect(allocator.live).toBe(area.buffersAllocated.write + area.buffersAllocated.read);
  });

  it('allocator: the area uses the memory allocate returned (a view record lies in an allocated buffer)', async () => {
    const allocator = countingAllocator();
    const { area } = await makeArea({ bufferSize: 8192, allocator });
    const { lsn } = await area.reserveAndAppend(bytes(100));
    const context = await area.readLogRecord(lsn!, 'forward', { view: true });
    const backing = allocator.allocated.map((b) => b.buffer);
    expect(backing).toContain(context.record.data.buffer);
    context.terminate();
  });

  it('allocator: free gets exactly the object allocate returned (not a view of it)', async () => {
    // Oversized buffers: the area uses only the first bufferSize bytes, but
    // must hand the very same object back.
    const allocator = countingAllocator((size, alignment) => alignedBuffer(size + 8192, { alignment }));
    const { area } = await makeArea({ bufferSize: 8192, allocator });
    const { lsn } = await area.reserveAndAppend(bytes(7000));
    await area.reserveAndAppend(bytes(7000, 2));
    (await area.readLogRecord(lsn!, 'forward')).terminate();
    await area.close();
    expect(allocator.freed.length).toBeGreaterThan(0);
    for (const freed of allocator.freed) expect(allocator.allocated).toContain(freed);
  });

  it('allocator: allocate and free calls match one to one after area.close()', async () => {
    const allocator = countingAllocator();
    const { area } = await makeArea({ bufferSize: 8192, allocator, maxWriteBuffers: 3 });
    const appends = [];
    for (let i = 0; i < 30; i++) appends.push(area.reserveAndAppend(bytes(5000, i)));
    const lsns = (await Promise.all(appends)).map((r) => r.lsn!);
    const contexts = await Promise.all(lsns.slice(0, 4).map((lsn) => area.readLogRecord(lsn, 'forward')));
    for (const context of contexts) context.terminate();
    expect(allocator.allocated.length).toBeGreaterThan(3);
    await area.close();
    expect(allocator.freed.length).toBe(allocator.allocated.length);
    expect(new Set(allocator.freed)).toEqual(new Set(allocator.allocated));
  });

  it('allocator: misaligned memory from allocate -> ERR_CLFS_MISALIGNED, and free is still called for it', async () => {
    const allocator = countingAllocator((size, alignment) => alignedBuffer(size + 1, { alignment }).subarray(1));
    const { log, area } = await makeArea({ bufferSize: 8192, allocator });
    await rejectsWith(area.reserveAndAppend(bytes(100)), 'ERR_CLFS_MISALIGNED');
    expect(allocator.allocated.length).toBe(1);
    expect(allocator.freed).toEqual([allocator.allocated[0]]);
    expect(allocator.freed[0]).toBe(allocator.allocated[0]);
    expect(log.information().lastLsn).toBe(Lsn.INVALID);
  });

  it('allocator: too-short memory from allocate -> ERR_CLFS_MISALIGNED, and free is still called for it', async () => {
    const allocator = countingAllocator((size, alignment) => alignedBuffer(size - 512, { alignment }));
    const { area } = await makeArea({ bufferSize: 8192, allocator });
    await rejectsWith(area.reserveAndAppend(bytes(100)), 'ERR_CLFS_MISALIGNED');
    expect(allocator.freed.length).toBe(1);
    expect(allocator.freed[0]).toBe(allocator.allocated[0]);
  });

  it('allocator: misaligned memory for a read buffer -> ERR_CLFS_MISALIGNED from readLogRecord', async () => {
    let calls = 0;
    // Good memory for the write buffer, misaligned after that.
    const allocator = countingAllocator((size, alignment) =>
      calls++ === 0 ? alignedBuffer(size, { alignment }) : alignedBuffer(size + 1, { alignment }).subarray(1),
    );
    const { area } = await makeArea({ bufferSize: 8192, allocator });
    const { lsn } = await area.reserveAndAppend(bytes(100));
    await rejectsWith(area.readLogRecord(lsn!, 'forward'), 'ERR_CLFS_MISALIGNED');
    expect(allocator.freed).toEqual([allocator.allocated[1]]);
  });

  it('allocator: after ERR_CLFS_MISALIGNED the log still works (another area appends and reads)', async () => {
    const bad = countingAllocator((size, alignment) => alignedBuffer(size + 1, { alignment }).subarray(1));
    const { log, area } = await makeArea({ bufferSize: 8192, allocator: bad });
    const good = await log.createMarshallingArea({ bufferSize: 8192, flushIntervalMs: 0 });
    // forceAppend seals the block, so the bad area's record needs a buffer of its own.
    const first = await good.reserveAndAppend(tag(1), { forceAppend: true });
    await rejectsWith(area.reserveAndAppend(tag(2)), 'ERR_CLFS_MISALIGNED');
    const second = await good.reserveAndAppend(tag(3), { forceFlush: true });
    expect(second.lsn! > first.lsn!).toBe(true);
    const context = await good.readLogRecord(first.lsn!, 'forward');
    expect(context.record.data).toEqual(tag(1));
    expect((await context.next())?.data).toEqual(tag(3));
    expect(await context.next()).toBeNull();
    context.terminate();
  });

  it.each([
    ['only allocate', { allocate: (size: number) => alignedBuffer(size) }],
    ['only free', { free: (buffer: Uint8Array) => void releaseBuffer(buffer) }],
    ['free not a function', { allocate: (size: number) => alignedBuffer(size), free: 1 }],
    ['null', null],
    ['a function', (size: number) => alignedBuffer(size)],
  ])('allocator: %s -> ERR_INVALID_ARG_TYPE', async (_name, allocator) => {
    const { log } = await makeLog();
    await rejectsWith(
      log.createMarshallingArea({ bufferSize: 4096, allocator } as unknown as MarshallingAreaOptions),
      'ERR_INVALID_ARG_TYPE',
    );
  });
});
