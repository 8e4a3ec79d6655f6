// ClfsFlushToLsn / ClfsFlushBuffers: durability up to an LSN, the LSN of the
// first record not flushed, group commit, and invariant 2 (a flush never
// rewrites a sector that holds an acknowledged record).
import { describe, expect, it } from 'vitest';

import { Log, Lsn } from '../../lib/index.ts';
import { MemoryStorage, emptyImage } from '../../lib/storage/memory-storage.ts';
import { blockAfter, makeArea, rejectsWith, tag } from '../support/area.ts';
import { itWhere, not4096Sectors } from '../support/platform.ts';

const NOT_4K = await not4096Sectors();

describe('ClfsFlushToLsn', () => {
  it('ClfsFlushToLsn: returns a Promise that resolves only when every record up to the LSN is durable', async () => {
    const { log, area } = await makeArea({ bufferSize: 65536, flushIntervalMs: 0 });
    const lsns: Lsn[] = [];
    for (let i = 0; i < 10; i++) lsns.push((await area.reserveAndAppend(tag(i))).lsn!);
    expect(log.information().lastFlushedLsn).toBe(Lsn.INVALID);
    const pending = area.flushToLsn(lsns[5]);
    expect(pending).toBeInstanceOf(Promise);
    await pending;
    expect(log.information().lastFlushedLsn >= lsns[5]!).toBe(true);
  });

  it('ClfsFlushToLsn: resolves with the LSN of the first record not flushed, which is beyond the target', async () => {
    const { log, area } = await makeArea({ bufferSize: 65536, flushIntervalMs: 0 });
    const lsns: Lsn[] = [];
    for (let i = 0; i < 10; i++) lsns.push((await area.reserveAndAppend(tag(i))).lsn!);
    const firstNotFlushed = await area.flushToLsn(lsns[3]);
    expect(firstNotFlushed > lsns[3]!).toBe(true);
    expect(firstNotFlushed > log.information().lastFlushedLsn).toBe(true);
  });

  it('ClfsFlushToLsn: when everything was flushed, the LSN returned is the one the next appended record gets', async () => {
    const { area } = await makeArea({ bufferSize: 65536, flushIntervalMs: 0 });
    for (let i = 0; i < 3; i++) await area.reserveAndAppend(tag(i));
    const next = await area.flushToLsn();
    const { lsn } = await area.reserveAndAppend(tag(3));
    expect(lsn).toBe(next);
  });

  itWhere(
    NOT_4K,
    'ClfsFlushToLsn: when everything was flushed and the container is full, the LSN returned is the one the next record gets (in the next container)',
    async () => {
      // 512 KiB containers, one 3000-byte record per 4 KiB block: 128 fill the first container.
      const { area } = await makeArea({ bufferSize: 4096, flushIntervalMs: 0 }, { containerSize: 512 * 1024 });
      let last: Lsn | undefined;
      for (let i = 0; i < 128; i++) last = (await area.reserveAndAppend(new Uint8Array(3000))).lsn;
      expect(Lsn.blockOffset(last!)).toBe(512 * 1024 - 4096);
      const next = await area.flushToLsn();
      const { lsn } = await area.reserveAndAppend(tag(0));
      expect(Lsn.containerId(lsn!)).toBe(Lsn.containerId(last!) + 1);
      expect(next).toBe(lsn);
    },
  );

  it('ClfsFlushToLsn: on an empty log, the LSN returned is the one the first record gets', async () => {
    const { area } = await makeArea({ flushIntervalMs: 0 });
    const next = await area.flushToLsn();
    const { lsn } = await area.reserveAndAppend(tag(0));
    expect(lsn).toBe(next);
  });

  it('ClfsFlushToLsn: without an argument flushes every record', async () => {
    const { log, area } = await makeArea({ bufferSize: 65536, flushIntervalMs: 0 });
    for (let i = 0; i < 10; i++) await area.reserveAndAppend(tag(i));
    await area.flushToLsn();
    expect(log.information().lastFlushedLsn).toBe(log.information().lastLsn);
  });

  it('ClfsFlushToLsn: every record with LSN <= the target: a target between two blocks, given while the first is being written, resolves once it is durable, not waiting for the open block after it', async () => {
    // Writes wait at a gate the test opens: the first block is in flight when the flush is made.
    const image = emptyImage();
    for (let i = 0; i < 2; i++) image.containers.push(new Uint8Array(512 * 1024));
    await Log.initializeStorage(new MemoryStorage(image), 512 * 1024, 2, 0);
    const storage = new MemoryStorage(image);
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const write = storage.write.bind(storage);
    storage.write = async (...args) => {
      await gate;
      return write(...args);
    };
    const log = await Log.openStorage('memory', storage, 'strict');
    const area = await log.createMarshallingArea({ bufferSize: 8192, flushIntervalMs: 0 });
    const first = (await area.reserveAndAppend(tag(0))).lsn!;
    const firstFlushed = area.flushToLsn(first);
    // Its block sealed (a microtask later) and submitted: the next record starts a block of its own.
    await new Promise((resolve) => setImmediate(resolve));
    const second = (await area.reserveAndAppend(tag(1))).lsn!;
    // No record lies between them: the LSN after the first is in neither block.
    const between = first + 1n;
    expect(blockAfter(second, first) && between < second).toBe(true);
    const flushed = area.flushToLsn(between);
    open();
    expect(await firstFlushed).toBe(second);
    const timeout = new Promise((resolve) => setTimeout(() => resolve('still waiting after 2 s'), 2000));
    expect(await Promise.race([flushed, timeout])).toBe(second);
    // Nothing flushed the open block meanwhile.
    expect(log.information().lastFlushedLsn).toBe(first);
    await log.close();
  });

  it('ClfsFlushToLsn: Lsn.INVALID -> ERR_CLFS_INVALID_LSN', async () => {
    const { area } = await makeArea();
    await area.reserveAndAppend(tag(0));
    await rejectsWith(area.flushToLsn(Lsn.INVALID), 'ERR_CLFS_INVALID_LSN');
  });

  it('ClfsFlushToLsn: an LSN that is not a bigint -> ERR_INVALID_ARG_TYPE; outside 64 bits -> ERR_OUT_OF_RANGE', async () => {
    const { area } = await makeArea();
    await area.reserveAndAppend(tag(0));
    await rejectsWith(area.flushToLsn(5 as unknown as bigint), 'ERR_INVALID_ARG_TYPE');
    await rejectsWith(area.flushToLsn('0' as unknown as bigint), 'ERR_INVALID_ARG_TYPE');
    await rejectsWith(area.flushToLsn(-1n), 'ERR_OUT_OF_RANGE');
  });
});

describe('ClfsFlushBuffers', () => {
  it('ClfsFlushBuffers: flushes every record appended so far', async () => {
    const { log, area } = await makeArea({ bufferSize: 8192, flushIntervalMs: 0 });
    for (let i = 0; i < 20; i++) await area.reserveAndAppend(new Uint8Array(i % 2 ? 3000 : 4));
    expect(log.information().lastFlushedLsn).not.toBe(log.information().lastLsn);
    await area.flushBuffers();
    expect(log.information().lastFlushedLsn).toBe(log.information().lastLsn);
  });
});

describe.each(['dsync', 'fdatasync', 'none'] as const)('group commit (durability %s)', (durability) => {
  it('group commit: 64 concurrent forceFlush appends complete with fewer than 64 block writes', async () => {
    const { log, area } = await makeArea({ bufferSize: 65536, flushIntervalMs: 0 }, { durability });
    await area.reserveAndAppend(tag(0), { forceFlush: true });
    const before = log.ioStatistics().flushes;
    const calls = [];
    for (let i = 1; i <= 64; i++) calls.push(area.reserveAndAppend(tag(i), { forceFlush: true }));
    const lsns = (await Promise.all(calls)).map((r) => r.lsn!);
    const writes = log.ioStatistics().flushes - before;
    expect(writes).toBeGreaterThan(0);
    expect(writes).toBeLessThan(64);
    expect(log.information().lastFlushedLsn >= lsns.at(-1)!).toBe(true);
  });

  it('group commit: committers resumed together by one write share the next write (closed loop)', async () => {
    const { log, area } = await makeArea({ bufferSize: 65536, flushIntervalMs: 0 }, { durability });
    const committers = 32;
    const rounds = 10;
    const before = log.ioStatistics().flushes;
    await Promise.all(
      Array.from({ length: committers }, async (_, c) => {
        for (let r = 0; r < rounds; r++) await area.reserveAndAppend(tag(c * rounds + r), { forceFlush: true });
      }),
    );
    const writes = log.ioStatistics().flushes - before;
    // One write per round (a write per flush call as it comes gives 34-48 here: the first committer of a
    // burst would seal a block of its own).
    expect(writes).toBeLessThanOrEqual(2 * rounds);
  });

  it('group commit: every concurrent forceFlush append is durable when its own promise resolves', async () => {
    const { log, area } = await makeArea({ bufferSize: 65536, flushIntervalMs: 0 }, { durability });
    const checks: boolean[] = [];
    const calls = [];
    for (let i = 0; i < 64; i++) {
      calls.push(
        area.reserveAndAppend(tag(i), { forceFlush: true }).then(({ lsn }) => {
          checks.push(log.information().lastFlushedLsn >= lsn!);
        }),
      );
    }
    await Promise.all(calls);
    expect(checks).toEqual(new Array(64).fill(true));
  });
});

describe('invariant 2: no rewrite of acknowledged sectors', () => {
  it('a flush never rewrites a sector holding an acknowledged record: after each forceFlush append the next record starts a later block', async () => {
    const { area } = await makeArea({ bufferSize: 16384, flushIntervalMs: 0 });
    let previous = (await area.reserveAndAppend(tag(0), { forceFlush: true })).lsn!;
    for (let i = 1; i < 40; i++) {
      const { lsn } = await area.reserveAndAppend(new Uint8Array(i * 37), { forceFlush: true });
      expect(blockAfter(lsn!, previous), `record ${i}`).toBe(true);
      expect(Lsn.recordSequence(lsn!)).toBe(0);
      previous = lsn!;
    }
  });

  it('a flush never rewrites a sector holding an acknowledged record: after flushToLsn the next record starts a later block', async () => {
    const { area } = await makeArea({ bufferSize: 65536, flushIntervalMs: 0 });
    const a = await area.reserveAndAppend(tag(0));
    const b = await area.reserveAndAppend(tag(1));
    await area.flushToLsn(b.lsn);
    const c = await area.reserveAndAppend(tag(2));
    expect(Lsn.blockOffset(a.lsn!)).toBe(Lsn.blockOffset(b.lsn!));
    expect(blockAfter(c.lsn!, b.lsn!)).toBe(true);
  });

  it('a flushed block covers whole sectors: the next block starts on a sector boundary', async () => {
    const { log, area } = await makeArea({ bufferSize: 65536, flushIntervalMs: 0 });
    const sector = log.information().sectorSize;
    for (let i = 0; i < 20; i++) {
      const { lsn } = await area.reserveAndAppend(new Uint8Array(i * 500), { forceFlush: true });
      expect(Lsn.blockOffset(lsn!) % sector).toBe(0);
    }
  });
});
