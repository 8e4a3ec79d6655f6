// cMaxWriteBuffers and cMaxReadBuffers: how many log I/O buffers an area
// allocates at once for writing and for reading, and what happens at the cap.
import { describe, expect, it } from 'vitest';

import { Lsn } from '../../lib/index.ts';
import { bytes, countingAllocator, makeArea, readAll, rejectsWith, tag, untag } from '../support/area.ts';

describe('cMaxWriteBuffers', () => {
  it('cMaxWriteBuffers: at most that many buffers are allocated for writing at once, under a burst of large records', async () => {
    const allocator = countingAllocator();
    const { area } = await makeArea({ bufferSize: 8192, maxWriteBuffers: 2, allocator });
    let peakSeen = 0;
    const appends = [];
    for (let i = 0; i < 40; i++) {
      // 6000 of 8192 bytes: each record seals the block before it.
      appends.push(
        area.reserveAndAppend(bytes(6000, i)).then((r) => {
          peakSeen = Math.max(peakSeen, area.buffersAllocated.write);
          return r;
        }),
      );
      peakSeen = Math.max(peakSeen, area.buffersAllocated.write);
    }
    await Promise.all(appends);
    await area.flushBuffers();
    expect(peakSeen).toBeLessThanOrEqual(2);
    expect(allocator.peak).toBeLessThanOrEqual(2);
    // The cap was reached (the test exercised it).
    expect(allocator.peak).toBe(2);
  });

  it('cMaxWriteBuffers: buffers released as writes complete are reused, not freed and allocated again', async () => {
    const allocator = countingAllocator();
    const { area } = await makeArea({ bufferSize: 8192, maxWriteBuffers: 4, allocator });
    for (let round = 0; round < 5; round++) {
      const appends = [];
      for (let i = 0; i < 12; i++) appends.push(area.reserveAndAppend(bytes(6000, round * 12 + i)));
      await Promise.all(appends);
      await area.flushBuffers();
    }
    expect(allocator.peak).toBe(4);
    // Every buffer came back idle between rounds, and was kept.
    expect(allocator.freed.length).toBe(0);
    expect(allocator.allocated.length).toBe(4);
    await area.close();
    expect(allocator.freed.length).toBe(4);
  });

  it('cMaxWriteBuffers: when every buffer is filled or in flight an append waits, and completes', async () => {
    const { area } = await makeArea({ bufferSize: 8192, maxWriteBuffers: 1 });
    const appends = [];
    for (let i = 0; i < 30; i++) appends.push(area.reserveAndAppend(bytes(7000, i)));
    const results = await Promise.allSettled(appends);
    expect(results.map((r) => r.status)).toEqual(new Array(30).fill('fulfilled'));
    await area.flushBuffers();
    const records = await readAll(area);
    expect(records.length).toBe(30);
    records.forEach((record, i) => expect(record.data).toEqual(bytes(7000, i)));
  });

  it('cMaxWriteBuffers: with maxWriteBuffers 1, many appends all succeed, in call order', async () => {
    const { area } = await makeArea({ bufferSize: 4096, maxWriteBuffers: 1 });
    const appends = [];
    for (let i = 0; i < 300; i++) {
      // Mixed sizes: some share a block, some need a new one.
      const size = i % 7 === 0 ? 3000 : 4;
      const data = new Uint8Array(size);
      data.set(tag(i));
      appends.push(area.reserveAndAppend(data, { forceFlush: i % 50 === 49 }));
    }
    const lsns = (await Promise.all(appends)).map((r) => r.lsn!);
    for (let i = 1; i < lsns.length; i++) expect(lsns[i]! > lsns[i - 1]!).toBe(true);
    await area.flushBuffers();
    const records = await readAll(area);
    expect(records.map((r) => untag(r.data))).toEqual([...Array(300).keys()]);
    expect(records.map((r) => r.lsn)).toEqual(lsns);
  });

  it('cMaxWriteBuffers: read buffers do not count against the write cap', async () => {
    const { area } = await makeArea({ bufferSize: 8192, maxWriteBuffers: 1, maxReadBuffers: 1 });
    const { lsn } = await area.reserveAndAppend(bytes(100), { forceFlush: true });
    const context = await area.readLogRecord(lsn!, 'forward');
    const next = await area.reserveAndAppend(bytes(7000), { forceFlush: true });
    expect(next.lsn! > lsn!).toBe(true);
    expect(area.buffersAllocated.read).toBe(1);
    context.terminate();
  });
});

describe('cMaxReadBuffers', () => {
  async function areaWithRecords(maxReadBuffers: number) {
    const made = await makeArea({ bufferSize: 8192, maxReadBuffers });
    const lsns: Lsn[] = [];
    for (let i = 0; i < 4; i++) lsns.push((await made.area.reserveAndAppend(tag(i), { forceFlush: true })).lsn!);
    return { ...made, lsns };
  }

  it('cMaxReadBuffers: opening more read contexts than it -> ERR_CLFS_BLOCKS_EXHAUSTED', async () => {
    const { area, lsns } = await areaWithRecords(2);
    const a = await area.readLogRecord(lsns[0]!, 'forward');
    const b = await area.readLogRecord(lsns[1]!, 'forward');
    expect(area.buffersAllocated.read).toBe(2);
    await rejectsWith(area.readLogRecord(lsns[2]!, 'forward'), 'ERR_CLFS_BLOCKS_EXHAUSTED');
    // The refused call took nothing, and the open contexts still work.
    expect(area.buffersAllocated.read).toBe(2);
    expect(untag((await a.next())!.data)).toBe(1);
    a.terminate();
    b.terminate();
  });

  it('cMaxReadBuffers: terminating a context frees its buffer for another', async () => {
    const { area, lsns } = await areaWithRecords(1);
    const a = await area.readLogRecord(lsns[0]!, 'forward');
    await rejectsWith(area.readLogRecord(lsns[1]!, 'forward'), 'ERR_CLFS_BLOCKS_EXHAUSTED');
    a.terminate();
    const b = await area.readLogRecord(lsns[1]!, 'forward');
    expect(untag(b.record.data)).toBe(1);
    b.terminate();
  });

  it("cMaxReadBuffers: readRestartArea's context counts as a read context", async () => {
    const { area, lsns } = await areaWithRecords(1);
    await area.writeRestartArea(tag(99));
    const restart = await area.readRestartArea();
    await rejectsWith(area.readLogRecord(lsns[0]!, 'forward'), 'ERR_CLFS_BLOCKS_EXHAUSTED');
    restart.context.terminate();
    const context = await area.readLogRecord(lsns[0]!, 'forward');
    await rejectsWith(area.readRestartArea(), 'ERR_CLFS_BLOCKS_EXHAUSTED');
    context.terminate();
  });

  it('cMaxReadBuffers: a readLogRecord that fails (no such record) keeps no buffer', async () => {
    const { area, log, lsns } = await areaWithRecords(1);
    await rejectsWith(area.readLogRecord(log.information().lastLsn + 1n, 'forward'), 'ERR_CLFS_INVALID_LSN');
    const context = await area.readLogRecord(lsns[0]!, 'forward');
    expect(untag(context.record.data)).toBe(0);
    context.terminate();
  });

  it('cMaxReadBuffers: area.records() holds one read context while it iterates', async () => {
    const { area, lsns } = await areaWithRecords(1);
    const seen = [];
    for await (const record of area.records()) {
      seen.push(untag(record.data));
      if (seen.length === 2) await rejectsWith(area.readLogRecord(lsns[0]!, 'forward'), 'ERR_CLFS_BLOCKS_EXHAUSTED');
    }
    expect(seen).toEqual([0, 1, 2, 3]);
    (await area.readLogRecord(lsns[0]!, 'forward')).terminate();
  });
});
