// How records reach stable storage (the seed: "CLFS periodically writes
// those records to stable storage"): when a buffer fills, on demand, and on
// a timer; the record size limit; at most 512 records per block.
import { describe, expect, it, vi } from 'vitest';

import { Lsn } from '../../lib/index.ts';
import { bytes, makeArea, readAll, rejectsWith, sleep, tag, untag } from '../support/area.ts';

describe('stable storage', () => {
  it('stable storage: a full buffer is written without any flush call (a record that does not fit seals the block)', async () => {
    const { log, area } = await makeArea({ bufferSize: 8192, flushIntervalMs: 0 });
    const before = log.ioStatistics().flushes;
    const first = await area.reserveAndAppend(bytes(3000, 1));
    const second = await area.reserveAndAppend(bytes(3000, 2));
    await sleep(100);
    // Two records fit in one 8 KiB buffer: nothing was written yet.
    expect(log.ioStatistics().flushes).toBe(before);
    expect(log.information().lastFlushedLsn).toBe(Lsn.INVALID);
    const third = await area.reserveAndAppend(bytes(3000, 3));
    expect(Lsn.blockOffset(third.lsn!)).toBeGreaterThan(Lsn.blockOffset(second.lsn!));
    await vi.waitFor(() => expect(log.ioStatistics().flushes).toBeGreaterThan(before), { timeout: 5000 });
    await vi.waitFor(() => expect(log.information().lastFlushedLsn).toBe(second.lsn), { timeout: 5000 });
    expect(first.lsn! < second.lsn!).toBe(true);
  });

  it('stable storage: flushIntervalMs 50 writes appended records within a second without any call', async () => {
    const { log, area } = await makeArea({ bufferSize: 65536, flushIntervalMs: 50 });
    expect(area.flushIntervalMs).toBe(50);
    for (let i = 0; i < 5; i++) await area.reserveAndAppend(tag(i));
    const last = log.information().lastLsn;
    await vi.waitFor(() => expect(log.information().lastFlushedLsn).toBe(last), { timeout: 1000, interval: 10 });
  });

  it('stable storage: flushIntervalMs keeps writing later appends too (not only the first)', async () => {
    const { log, area } = await makeArea({ bufferSize: 65536, flushIntervalMs: 50 });
    await area.reserveAndAppend(tag(1));
    await vi.waitFor(() => expect(log.information().lastFlushedLsn).toBe(log.information().lastLsn), {
      timeout: 1000,
      interval: 10,
    });
    await area.reserveAndAppend(tag(2));
    const last = log.information().lastLsn;
    await vi.waitFor(() => expect(log.information().lastFlushedLsn).toBe(last), { timeout: 1000, interval: 10 });
  });

  it('stable storage: flushIntervalMs 0 disables the periodic write (nothing durable after 300 ms)', async () => {
    const { log, area } = await makeArea({ bufferSize: 65536, flushIntervalMs: 0 });
    const before = log.ioStatistics().flushes;
    for (let i = 0; i < 5; i++) await area.reserveAndAppend(tag(i));
    await sleep(300);
    expect(log.information().lastFlushedLsn).toBe(Lsn.INVALID);
    expect(log.ioStatistics().flushes).toBe(before);
  });

  it('stable storage: on demand, flushToLsn makes the records durable', async () => {
    const { log, area } = await makeArea({ bufferSize: 65536, flushIntervalMs: 0 });
    const { lsn } = await area.reserveAndAppend(tag(1));
    expect(log.information().lastFlushedLsn).toBe(Lsn.INVALID);
    await area.flushToLsn(lsn);
    expect(log.information().lastFlushedLsn).toBe(lsn);
  });
});

describe('record size limit', () => {
  it('record size: a record larger than area.maxRecordSize -> ERR_CLFS_RECORD_TOO_LARGE, whose message names the limit', async () => {
    const { log, area } = await makeArea({ bufferSize: 8192 });
    expect(area.maxRecordSize).toBeGreaterThan(0);
    expect(area.maxRecordSize).toBeLessThan(area.bufferSize);
    const error = await rejectsWith(
      area.reserveAndAppend(new Uint8Array(area.maxRecordSize + 1)),
      'ERR_CLFS_RECORD_TOO_LARGE',
    );
    expect(error.message).toContain(String(area.maxRecordSize));
    expect(log.information().lastLsn).toBe(Lsn.INVALID);
  });

  it('record size: a record of exactly area.maxRecordSize is appended and reads back whole', async () => {
    const { area } = await makeArea({ bufferSize: 8192 });
    const data = bytes(area.maxRecordSize, 7);
    const { lsn } = await area.reserveAndAppend(data, { forceFlush: true });
    const context = await area.readLogRecord(lsn!, 'forward');
    expect(context.record.data).toEqual(data);
    context.terminate();
  });

  it('record size: a record of exactly area.maxRecordSize with both chain LSNs fits after a partly filled block (it starts a new one)', async () => {
    const { area } = await makeArea({ bufferSize: 8192 });
    const small = await area.reserveAndAppend(tag(1));
    const chains = { undoNextLsn: small.lsn!, previousLsn: small.lsn! };
    const big = await area.reserveAndAppend(bytes(area.maxRecordSize, 8), chains);
    expect(Lsn.blockOffset(big.lsn!)).toBeGreaterThan(Lsn.blockOffset(small.lsn!));
    await area.flushBuffers();
    const records = await readAll(area);
    expect(records.map((r) => r.data.byteLength)).toEqual([4, area.maxRecordSize]);
    const context = await area.readLogRecord(big.lsn!, 'forward');
    expect(context.record).toMatchObject(chains);
    context.terminate();
  });

  it('record size: a record of exactly area.maxRecordSize without chain LSNs joins a block holding a small record (its header is 16 bytes shorter)', async () => {
    const { area } = await makeArea({ bufferSize: 8192 });
    const small = await area.reserveAndAppend(tag(1));
    const big = await area.reserveAndAppend(bytes(area.maxRecordSize, 8));
    expect(Lsn.blockOffset(big.lsn!)).toBe(Lsn.blockOffset(small.lsn!));
    await area.flushBuffers();
    expect((await readAll(area)).map((r) => r.data.byteLength)).toEqual([4, area.maxRecordSize]);
  });

  it('record size: the limit applies to the concatenated entries', async () => {
    const { area } = await makeArea({ bufferSize: 8192 });
    const half = Math.ceil(area.maxRecordSize / 2);
    await rejectsWith(
      area.reserveAndAppend([new Uint8Array(half), new Uint8Array(half + 1)]),
      'ERR_CLFS_RECORD_TOO_LARGE',
    );
    const ok = await area.reserveAndAppend([new Uint8Array(half), new Uint8Array(area.maxRecordSize - half)]);
    expect(ok.lsn).toBeDefined();
  });

  it('record size: the limit applies to the record with its entry-alignment padding', async () => {
    const { area } = await makeArea({ bufferSize: 8192 });
    // One byte, then an entry aligned to 64: 64 + (max - 63) > max.
    await rejectsWith(
      area.reserveAndAppend([new Uint8Array(1), new Uint8Array(area.maxRecordSize - 63)], { entryAlignment: 64 }),
      'ERR_CLFS_RECORD_TOO_LARGE',
    );
    const ok = await area.reserveAndAppend([new Uint8Array(1), new Uint8Array(area.maxRecordSize - 64)], {
      entryAlignment: 64,
    });
    expect(ok.lsn).toBeDefined();
  });

  it('record size: a record longer than the buffer cannot be read (block on disk) -> ERR_CLFS_RECORD_TOO_LARGE', async () => {
    const { log, area: big } = await makeArea({ bufferSize: 65536 });
    const small = await log.createMarshallingArea({ bufferSize: 4096, flushIntervalMs: 0 });
    const { lsn } = await big.reserveAndAppend(bytes(30000), { forceFlush: true });
    await rejectsWith(small.readLogRecord(lsn!, 'forward'), 'ERR_CLFS_RECORD_TOO_LARGE');
  });

  it('record size: a record longer than the buffer cannot be read (block still in memory) -> ERR_CLFS_RECORD_TOO_LARGE', async () => {
    // Same rule as above; only where the block is differs.
    const { log, area: big } = await makeArea({ bufferSize: 65536 });
    const small = await log.createMarshallingArea({ bufferSize: 4096, flushIntervalMs: 0 });
    const { lsn } = await big.reserveAndAppend(bytes(30000));
    await rejectsWith(small.readLogRecord(lsn!, 'forward'), 'ERR_CLFS_RECORD_TOO_LARGE');
  });
});

describe('records per block', () => {
  it('records per block: at most 512 records share a block; the 513th starts a new one', async () => {
    const { area } = await makeArea({ bufferSize: 65536, flushIntervalMs: 0 });
    const lsns: Lsn[] = [];
    for (let i = 0; i < 600; i++) lsns.push((await area.reserveAndAppend(tag(i))).lsn!);
    for (const lsn of lsns) expect(Lsn.recordSequence(lsn)).toBeLessThanOrEqual(511);
    const firstBlock = Lsn.blockOffset(lsns[0]!);
    for (let i = 0; i < 512; i++) {
      expect(Lsn.blockOffset(lsns[i]!)).toBe(firstBlock);
      expect(Lsn.recordSequence(lsns[i]!)).toBe(i);
    }
    expect(Lsn.recordSequence(lsns[512]!)).toBe(0);
    expect(Lsn.blockOffset(lsns[512]!)).toBeGreaterThan(firstBlock);
    for (let i = 513; i < 600; i++) expect(lsns[i]).toBe(lsns[512]! + BigInt(i - 512));
  });

  it('records per block: 600 records written 512 + 88 read back in order after a flush', async () => {
    const { area } = await makeArea({ bufferSize: 65536, flushIntervalMs: 0 });
    const lsns: Lsn[] = [];
    for (let i = 0; i < 600; i++) lsns.push((await area.reserveAndAppend(tag(i))).lsn!);
    await area.flushBuffers();
    const records = await readAll(area);
    expect(records.map((r) => r.lsn)).toEqual(lsns);
    expect(records.map((r) => untag(r.data))).toEqual([...Array(600).keys()]);
  });
});
