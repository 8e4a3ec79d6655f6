// area.appendBatch (ours): many records in one call, with the guarantees of
// one reserveAndAppend each.
import { describe, expect, it } from 'vitest';

import { Lsn, type Entries } from '../../lib/index.ts';
import { bytes, makeArea, readAll, rejectsWith, tag, untag } from '../support/area.ts';

function sized(n: number, size: number): Uint8Array {
  const data = new Uint8Array(Math.max(4, size));
  data.set(tag(n));
  return data;
}

const SIZES = [4, 100, 3000, 8, 6000, 4, 4, 2000, 7000, 1, 500];

describe('appendBatch', () => {
  it('appendBatch: returns one LSN per record, in order, and the records read back in that order', async () => {
    const { area } = await makeArea({ bufferSize: 8192 });
    const records = SIZES.map((s, i) => sized(i, s));
    const lsns = await area.appendBatch(records);
    expect(lsns.length).toBe(records.length);
    for (let i = 1; i < lsns.length; i++) expect(lsns[i]! > lsns[i - 1]!).toBe(true);
    await area.flushBuffers();
    const read = await readAll(area);
    expect(read.map((r) => r.lsn)).toEqual(lsns);
    read.forEach((r, i) => expect(r.data).toEqual(records[i]));
  });

  it('appendBatch: gives the same LSNs as one reserveAndAppend per record', async () => {
    const records = SIZES.map((s, i) => sized(i, s));
    const one = await makeArea({ bufferSize: 8192 });
    const batch = await one.area.appendBatch(records);
    const other = await makeArea({ bufferSize: 8192 });
    const single = [];
    for (const record of records) single.push((await other.area.reserveAndAppend(record)).lsn!);
    expect(batch).toEqual(single);
  });

  it('appendBatch: an array record is concatenated into one record', async () => {
    const { area } = await makeArea();
    const [lsn] = await area.appendBatch([[new Uint8Array([1, 2]), new Uint8Array([3])]]);
    const context = await area.readLogRecord(lsn!, 'forward');
    expect(context.record.data).toEqual(new Uint8Array([1, 2, 3]));
    context.terminate();
  });

  it('appendBatch: an empty batch resolves with [] and appends nothing', async () => {
    const { log, area } = await makeArea();
    expect(await area.appendBatch([])).toEqual([]);
    expect(log.information().lastLsn).toBe(Lsn.INVALID);
  });

  it('appendBatch: options apply to every record of the batch (previousLsn, undoNextLsn, entryAlignment)', async () => {
    const { area } = await makeArea();
    const { lsn: first } = await area.reserveAndAppend(tag(0));
    const lsns = await area.appendBatch(
      [
        [new Uint8Array([1]), new Uint8Array([2])],
        [new Uint8Array([3]), new Uint8Array([4])],
      ],
      { previousLsn: first!, undoNextLsn: first!, entryAlignment: 4 },
    );
    const read = await readAll(area, { from: lsns[0]! });
    expect(read.map((r) => [r.previousLsn, r.undoNextLsn])).toEqual([
      [first, first],
      [first, first],
    ]);
    expect(read.map((r) => [...r.data])).toEqual([
      [1, 0, 0, 0, 2],
      [3, 0, 0, 0, 4],
    ]);
  });

  it('appendBatch: forceFlush applies to the whole batch: when it resolves, lastFlushedLsn >= the last LSN', async () => {
    const { log, area } = await makeArea({ bufferSize: 8192, flushIntervalMs: 0 });
    const lsns = await area.appendBatch(
      SIZES.map((s, i) => sized(i, s)),
      { forceFlush: true },
    );
    expect(log.information().lastFlushedLsn >= lsns.at(-1)!).toBe(true);
  });

  it('appendBatch: useReservation takes one reserved record per record of the batch', async () => {
    const { area } = await makeArea();
    await area.reserveAndAppend(null, { reservations: [100, 100, 100] });
    await area.appendBatch([bytes(100, 1), bytes(100, 2)], { useReservation: true });
    expect(area.reservedRecords).toBe(1);
    expect(area.reservedBytes).toBe(area.alignReservedLog([100]));
  });

  it('appendBatch: useReservation without enough reserved -> ERR_CLFS_RESERVATION_INVALID, nothing appended', async () => {
    const { log, area } = await makeArea();
    await area.reserveAndAppend(null, { reservations: [100, 100] });
    await rejectsWith(
      area.appendBatch([bytes(100, 1), bytes(100, 2), bytes(100, 3)], { useReservation: true }),
      'ERR_CLFS_RESERVATION_INVALID',
    );
    expect(log.information().lastLsn).toBe(Lsn.INVALID);
    expect(area.reservedRecords).toBe(2);
  });

  it('appendBatch: a batch of 1000 small records keeps at most 512 per block', async () => {
    const { area } = await makeArea({ bufferSize: 65536 }, { containerSize: 4 << 20 });
    const lsns = await area.appendBatch(Array.from({ length: 1000 }, (_, i) => tag(i)));
    for (const lsn of lsns) expect(Lsn.recordSequence(lsn)).toBeLessThanOrEqual(511);
    await area.flushBuffers();
    expect((await readAll(area)).map((r) => untag(r.data))).toEqual([...Array(1000).keys()]);
  });

  it('appendBatch: same guarantees as one call each: a batch that fits the log one call at a time is not refused as ERR_CLFS_LOG_FULL', async () => {
    // 1000 records of 4 bytes take about 40 KiB; the log has 2 MiB.
    const records = Array.from({ length: 1000 }, (_, i) => tag(i));
    const single = await makeArea({ bufferSize: 65536 });
    for (const record of records) await single.area.reserveAndAppend(record);
    const { log, area } = await makeArea({ bufferSize: 65536 });
    expect(log.information().totalAvailable).toBe(2 << 20);
    const lsns = await area.appendBatch(records);
    expect(lsns.length).toBe(1000);
  });

  it('appendBatch: batches and single appends started together get LSNs in call order', async () => {
    const { area } = await makeArea({ bufferSize: 8192 });
    const a = area.reserveAndAppend(tag(0));
    const b = area.appendBatch([tag(1), sized(2, 6000), tag(3)]);
    const c = area.reserveAndAppend(tag(4), { forceFlush: true });
    const d = area.appendBatch([tag(5)]);
    const lsns = [(await a).lsn!, ...(await b), (await c).lsn!, ...(await d)];
    for (let i = 1; i < lsns.length; i++) expect(lsns[i]! > lsns[i - 1]!).toBe(true);
    await area.flushBuffers();
    expect((await readAll(area)).map((r) => untag(r.data))).toEqual([0, 1, 2, 3, 4, 5]);
  });

  const bad: [string, (max: number) => Entries[], string][] = [
    ['a string', () => [tag(1), tag(2), 'x' as unknown as Entries, tag(4)], 'ERR_INVALID_ARG_TYPE'],
    ['an array holding a number', () => [tag(1), [tag(2), 3 as unknown as Uint8Array]], 'ERR_INVALID_ARG_TYPE'],
    ['null', () => [tag(1), tag(2), null], 'ERR_INVALID_ARG_VALUE'],
    ['a record too large', (max) => [tag(1), tag(2), new Uint8Array(max + 1), tag(4)], 'ERR_CLFS_RECORD_TOO_LARGE'],
  ];

  it.each(bad)(
    'appendBatch: %s anywhere in the batch -> typed error and nothing appended',
    async (_name, make, code) => {
      const { log, area } = await makeArea();
      const { lsn } = await area.reserveAndAppend(tag(0));
      await rejectsWith(area.appendBatch(make(area.maxRecordSize)), code);
      expect(log.information().lastLsn).toBe(lsn);
      expect(log.ioStatistics().recordsAppended).toBe(1);
      await area.reserveAndAppend(tag(9), { forceFlush: true });
      expect((await readAll(area)).map((r) => untag(r.data))).toEqual([0, 9]);
    },
  );

  it('appendBatch: a batch that waits for write buffers appends the bytes its records held at the call, whatever the caller does with its arrays afterwards', async () => {
    // One 4 KiB buffer: the batch (several blocks) waits for it after each
    // block, and takes the records it has not placed yet.
    const { area } = await makeArea({ bufferSize: 4096, maxWriteBuffers: 1 });
    const records = Array.from({ length: 40 }, (_, i) => [bytes(300, i + 1), bytes(5, i + 100)]);
    const expected = records.map(([head, tail]) => {
      const data = new Uint8Array(304 + 5);
      data.set(head!, 0);
      data.set(tail!, 304);
      return data;
    });
    const pending = area.appendBatch(records, { entryAlignment: 8 });
    for (const record of records) for (const entry of record) entry.fill(0xee);
    const lsns = await pending;
    await area.flushBuffers();
    const read = await readAll(area);
    expect(read.map((r) => r.lsn)).toEqual(lsns);
    read.forEach((r, i) => expect(r.data).toEqual(expected[i]));
    expect(area.buffersAllocated.write).toBeLessThanOrEqual(1);
  });

  it('appendBatch: records not an array -> ERR_INVALID_ARG_TYPE', async () => {
    const { area } = await makeArea();
    await rejectsWith(area.appendBatch(tag(1) as unknown as Entries[]), 'ERR_INVALID_ARG_TYPE');
  });

  it('appendBatch: chain LSNs not older than the batch -> ERR_CLFS_INVALID_LSN, nothing appended', async () => {
    const { log, area } = await makeArea();
    const { lsn } = await area.reserveAndAppend(tag(0));
    await rejectsWith(area.appendBatch([tag(1), tag(2)], { previousLsn: lsn! + 1n }), 'ERR_CLFS_INVALID_LSN');
    expect(log.information().lastLsn).toBe(lsn);
  });
});
