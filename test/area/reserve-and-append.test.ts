// ClfsReserveAndAppendLog(Aligned): the four modes, reservations (positive
// and negative), entries and their alignment, chain LSNs, the force flags,
// call-order LSNs, and argument checking.
import { describe, expect, it, vi } from 'vitest';

import { Lsn, type AppendOptions, type Entries } from '../../lib/index.ts';
import { bytes, makeArea, readAll, rejectsWith, tag, untag } from '../support/area.ts';

async function readOne(area: Awaited<ReturnType<typeof makeArea>>['area'], lsn: Lsn) {
  const context = await area.readLogRecord(lsn, 'forward');
  const record = context.record;
  context.terminate();
  return record;
}

describe('ClfsReserveAndAppendLog (a): reserve only', () => {
  it('ClfsReserveAndAppendLog (a): null entries with reservations append nothing and give no LSN', async () => {
    const { log, area } = await makeArea();
    await area.reserveAndAppend(tag(1));
    const lastBefore = log.information().lastLsn;
    const result = await area.reserveAndAppend(null, { reservations: [100, 200] });
    expect(result.lsn).toBeUndefined();
    expect(log.information().lastLsn).toBe(lastBefore);
    expect(log.ioStatistics().recordsAppended).toBe(1);
  });

  it('ClfsReserveAndAppendLog (a): the returned reservations are the real sizes, alignReservedLog([size]) each, larger than the data', async () => {
    const { area } = await makeArea({ bufferSize: 65536 });
    const sizes = [1, 100, 4000, 5000, 20000];
    const { reservations } = await area.reserveAndAppend(null, { reservations: sizes });
    expect(reservations.length).toBe(sizes.length);
    sizes.forEach((size, i) => {
      expect(reservations[i]).toBe(area.alignReservedLog([size]));
      expect(reservations[i]).toBeGreaterThan(size);
    });
  });

  it('ClfsReserveAndAppendLog (a): reservedRecords and reservedBytes rise by the count and the real sizes', async () => {
    const { log, area } = await makeArea();
    expect(area.reservedRecords).toBe(0);
    expect(area.reservedBytes).toBe(0);
    const { reservations } = await area.reserveAndAppend(null, { reservations: [100, 5000, 7] });
    const total = reservations.reduce((a, b) => a + b, 0);
    expect(area.reservedRecords).toBe(3);
    expect(area.reservedBytes).toBe(total);
    expect(log.information().totalReservation).toBe(total);
    await area.reserveAndAppend(null, { reservations: [100] });
    expect(area.reservedRecords).toBe(4);
    expect(area.reservedBytes).toBe(total + area.alignReservedLog([100]));
  });
});

describe('ClfsReserveAndAppendLog (b): useReservation', () => {
  it('ClfsReserveAndAppendLog (b): useReservation appends and takes one record and its real size from the reservation', async () => {
    const { area } = await makeArea();
    await area.reserveAndAppend(null, { reservations: [100, 100, 3000] });
    const bytesBefore = area.reservedBytes;
    const { lsn, reservations } = await area.reserveAndAppend(bytes(100), { useReservation: true });
    expect(lsn).toBeDefined();
    expect(reservations).toEqual([]);
    expect(area.reservedRecords).toBe(2);
    expect(area.reservedBytes).toBe(bytesBefore - area.alignReservedLog([100]));
    expect((await readOne(area, lsn!)).data).toEqual(bytes(100));
  });

  it('ClfsReserveAndAppendLog (b): useReservation with nothing reserved -> ERR_CLFS_RESERVATION_INVALID, nothing appended', async () => {
    const { log, area } = await makeArea();
    await rejectsWith(area.reserveAndAppend(bytes(100), { useReservation: true }), 'ERR_CLFS_RESERVATION_INVALID');
    expect(log.information().lastLsn).toBe(Lsn.INVALID);
  });

  it('ClfsReserveAndAppendLog (b): useReservation for a record bigger than the reserved bytes -> ERR_CLFS_RESERVATION_INVALID, nothing changed', async () => {
    const { log, area } = await makeArea();
    await area.reserveAndAppend(null, { reservations: [100] });
    await rejectsWith(area.reserveAndAppend(bytes(6000), { useReservation: true }), 'ERR_CLFS_RESERVATION_INVALID');
    expect(log.information().lastLsn).toBe(Lsn.INVALID);
    expect(area.reservedRecords).toBe(1);
    expect(area.reservedBytes).toBe(area.alignReservedLog([100]));
  });

  it('ClfsReserveAndAppendLog (b): useReservation together with reservations -> ERR_INVALID_ARG_VALUE', async () => {
    const { log, area } = await makeArea();
    await area.reserveAndAppend(null, { reservations: [100] });
    await rejectsWith(
      area.reserveAndAppend(bytes(10), { useReservation: true, reservations: [100] }),
      'ERR_INVALID_ARG_VALUE',
    );
    expect(log.information().lastLsn).toBe(Lsn.INVALID);
    expect(area.reservedRecords).toBe(1);
  });

  it('ClfsReserveAndAppendLog (b): useReservation with null entries -> ERR_INVALID_ARG_VALUE', async () => {
    const { area } = await makeArea();
    await area.reserveAndAppend(null, { reservations: [100] });
    await rejectsWith(area.reserveAndAppend(null, { useReservation: true }), 'ERR_INVALID_ARG_VALUE');
    expect(area.reservedRecords).toBe(1);
  });
});

describe('ClfsReserveAndAppendLog (c) and (d)', () => {
  it('ClfsReserveAndAppendLog (c): a plain append leaves the reservation unchanged', async () => {
    const { area } = await makeArea();
    await area.reserveAndAppend(null, { reservations: [100, 200] });
    const before = { records: area.reservedRecords, bytes: area.reservedBytes };
    const { lsn, reservations } = await area.reserveAndAppend(bytes(100));
    expect(lsn).toBeDefined();
    expect(reservations).toEqual([]);
    expect({ records: area.reservedRecords, bytes: area.reservedBytes }).toEqual(before);
  });

  it('ClfsReserveAndAppendLog (d): entries with reservations append and reserve, both', async () => {
    const { area } = await makeArea();
    const { lsn, reservations } = await area.reserveAndAppend(tag(5), { reservations: [100, 300] });
    expect(lsn).toBeDefined();
    expect(reservations).toEqual([area.alignReservedLog([100]), area.alignReservedLog([300])]);
    expect(area.reservedRecords).toBe(2);
    expect(area.reservedBytes).toBe(area.alignReservedLog([100, 300]));
    expect(untag((await readOne(area, lsn!)).data)).toBe(5);
  });

  it('ClfsReserveAndAppendLog (d): atomic: when the reservation part fails, the record is not appended', async () => {
    const { log, area } = await makeArea();
    await rejectsWith(area.reserveAndAppend(tag(1), { reservations: [-100] }), 'ERR_CLFS_RESERVATION_INVALID');
    expect(log.information().lastLsn).toBe(Lsn.INVALID);
    expect(log.ioStatistics().recordsAppended).toBe(0);
  });
});

describe('ClfsReserveAndAppendLog: negative reservations', () => {
  it('ClfsReserveAndAppendLog: a negative size frees one reserved record of that size', async () => {
    const { area } = await makeArea();
    await area.reserveAndAppend(null, { reservations: [100, 5000] });
    const { lsn, reservations } = await area.reserveAndAppend(null, { reservations: [-5000] });
    expect(lsn).toBeUndefined();
    expect(reservations).toEqual([-area.alignReservedLog([5000])]);
    expect(area.reservedRecords).toBe(1);
    expect(area.reservedBytes).toBe(area.alignReservedLog([100]));
  });

  it('ClfsReserveAndAppendLog: freeing more records than reserved -> ERR_CLFS_RESERVATION_INVALID, nothing changed (atomic)', async () => {
    const { log, area } = await makeArea();
    await area.reserveAndAppend(null, { reservations: [100] });
    await rejectsWith(area.reserveAndAppend(tag(1), { reservations: [-100, -100] }), 'ERR_CLFS_RESERVATION_INVALID');
    expect(area.reservedRecords).toBe(1);
    expect(area.reservedBytes).toBe(area.alignReservedLog([100]));
    expect(log.information().lastLsn).toBe(Lsn.INVALID);
  });

  it('ClfsReserveAndAppendLog: freeing a size larger than the bytes reserved -> ERR_CLFS_RESERVATION_INVALID, nothing changed', async () => {
    const { area } = await makeArea();
    await area.reserveAndAppend(null, { reservations: [100] });
    await rejectsWith(area.reserveAndAppend(null, { reservations: [-6000] }), 'ERR_CLFS_RESERVATION_INVALID');
    expect(area.reservedRecords).toBe(1);
    expect(area.reservedBytes).toBe(area.alignReservedLog([100]));
  });

  it('ClfsReserveAndAppendLog: a negative size frees exactly that size, not the reserved record closest to it', async () => {
    const { log, area } = await makeArea({ bufferSize: 65536 });
    await area.reserveAndAppend(null, { reservations: [100, 5000] });
    // Closest-record freeing would take the 5000-byte record; CLFS's "a
    // reservation of that size is released" takes the real size of 3000.
    const { reservations } = await area.reserveAndAppend(null, { reservations: [-3000] });
    expect(reservations).toEqual([-area.alignReservedLog([3000])]);
    const left = area.alignReservedLog([100, 5000]) - area.alignReservedLog([3000]);
    expect(area.reservedRecords).toBe(1);
    expect(area.reservedBytes).toBe(left);
    expect(log.information().totalReservation).toBe(left);
    // What is left covers a 100-byte record appended into it.
    await area.reserveAndAppend(tag(1), { useReservation: true });
    expect(area.reservedRecords).toBe(0);
    expect(log.information().totalReservation).toBe(0);
  });

  it('ClfsReserveAndAppendLog: a negative size frees exactly that size of an AllocReservedLog reservation too', async () => {
    const { area } = await makeArea({ bufferSize: 65536 });
    const bytes = area.alignReservedLog([100, 100, 100, 100]);
    await area.allocReservedLog(4, bytes);
    await area.reserveAndAppend(null, { reservations: [-100, -100] });
    expect(area.reservedRecords).toBe(2);
    expect(area.reservedBytes).toBe(bytes - 2 * area.alignReservedLog([100]));
    // More bytes than are reserved: typed, nothing changed.
    await rejectsWith(area.reserveAndAppend(null, { reservations: [-20000] }), 'ERR_CLFS_RESERVATION_INVALID');
    expect(area.reservedRecords).toBe(2);
    expect(area.reservedBytes).toBe(bytes - 2 * area.alignReservedLog([100]));
  });

  it('ClfsReserveAndAppendLog: a call that reserves and frees applies both', async () => {
    const { area } = await makeArea();
    await area.reserveAndAppend(null, { reservations: [100] });
    await area.reserveAndAppend(null, { reservations: [3000, -100] });
    expect(area.reservedRecords).toBe(1);
    expect(area.reservedBytes).toBe(area.alignReservedLog([3000]));
  });
});

describe('ClfsReserveAndAppendLog: entries', () => {
  it('entries: a Uint8Array is the record data', async () => {
    const { area } = await makeArea();
    const { lsn } = await area.reserveAndAppend(bytes(300, 3));
    expect((await readOne(area, lsn!)).data).toEqual(bytes(300, 3));
  });

  it('entries: only the bytes of a view are stored (subarray, Buffer)', async () => {
    const { area } = await makeArea();
    const big = bytes(100, 4);
    const a = await area.reserveAndAppend(big.subarray(10, 30));
    const b = await area.reserveAndAppend(Buffer.from(big.buffer, big.byteOffset + 50, 7));
    expect((await readOne(area, a.lsn!)).data).toEqual(big.slice(10, 30));
    expect((await readOne(area, b.lsn!)).data).toEqual(big.slice(50, 57));
  });

  it('entries: an array of Uint8Arrays is concatenated into one record', async () => {
    const { log, area } = await makeArea();
    const parts = [bytes(3, 1), bytes(0, 2), bytes(10, 3), bytes(1, 4)];
    const { lsn } = await area.reserveAndAppend(parts);
    expect(log.ioStatistics().recordsAppended).toBe(1);
    const expected = new Uint8Array([...parts[0]!, ...parts[2]!, ...parts[3]!]);
    expect((await readOne(area, lsn!)).data).toEqual(expected);
  });

  it.each([
    ['[]', [] as Uint8Array[]],
    ['an empty Uint8Array', new Uint8Array(0)],
  ])('entries: %s appends an empty record', async (_name, entries) => {
    const { area } = await makeArea();
    const { lsn } = await area.reserveAndAppend(entries);
    expect(lsn).toBeDefined();
    const record = await readOne(area, lsn!);
    expect(record.lsn).toBe(lsn);
    expect(record.data.byteLength).toBe(0);
  });

  it('entryAlignment: each entry starts at a multiple of it within the record, gaps zeroed', async () => {
    // One write buffer, dirtied by an earlier block, so zeroed gaps are not luck.
    const { area } = await makeArea({ bufferSize: 4096, maxWriteBuffers: 1 });
    await area.reserveAndAppend(new Uint8Array(3000).fill(0xaa), { forceFlush: true });
    const entries = [new Uint8Array(3).fill(0xff), new Uint8Array(5).fill(0xee), new Uint8Array(2).fill(0xdd)];
    const { lsn } = await area.reserveAndAppend(entries, { entryAlignment: 8 });
    const { data } = await readOne(area, lsn!);
    const expected = new Uint8Array(18);
    expected.set(entries[0]!, 0);
    expected.set(entries[1]!, 8);
    expected.set(entries[2]!, 16);
    expect(data).toEqual(expected);
  });

  it('entryAlignment: need not be a power of two (3 puts entries at 0, 3, 6)', async () => {
    const { area } = await makeArea();
    const { lsn } = await area.reserveAndAppend([new Uint8Array([1]), new Uint8Array([2]), new Uint8Array([3])], {
      entryAlignment: 3,
    });
    expect((await readOne(area, lsn!)).data).toEqual(new Uint8Array([1, 0, 0, 2, 0, 0, 3]));
  });

  it('entryAlignment: 1 (the default) is plain concatenation', async () => {
    const { area } = await makeArea();
    const a = await area.reserveAndAppend([new Uint8Array([1, 2, 3]), new Uint8Array([4])], { entryAlignment: 1 });
    const b = await area.reserveAndAppend([new Uint8Array([1, 2, 3]), new Uint8Array([4])]);
    expect((await readOne(area, a.lsn!)).data).toEqual(new Uint8Array([1, 2, 3, 4]));
    expect((await readOne(area, b.lsn!)).data).toEqual(new Uint8Array([1, 2, 3, 4]));
  });

  it('entries: the record holds the entries as they were at the call, even when the append waits for a write buffer', async () => {
    // With one write buffer holding a full block, the next append must wait
    // for that block's write. The caller reuses its array meanwhile.
    const { area } = await makeArea({ bufferSize: 8192, maxWriteBuffers: 1 });
    await area.reserveAndAppend(new Uint8Array(7000).fill(0xaa));
    const data = new Uint8Array(7000).fill(0xbb);
    const pending = area.reserveAndAppend(data);
    data.fill(0xcc);
    const { lsn } = await pending;
    const record = await readOne(area, lsn!);
    expect(record.data[0]).toBe(0xbb);
    expect(record.data).toEqual(new Uint8Array(7000).fill(0xbb));
  });
});

describe('ClfsReserveAndAppendLog: chain LSNs', () => {
  it('chain LSNs: undoNextLsn and previousLsn are stored in the record and read back', async () => {
    const { area } = await makeArea();
    const a = await area.reserveAndAppend(tag(1));
    const b = await area.reserveAndAppend(tag(2));
    const c = await area.reserveAndAppend(tag(3), { previousLsn: b.lsn!, undoNextLsn: a.lsn! });
    await area.flushBuffers();
    const record = await readOne(area, c.lsn!);
    expect(record.previousLsn).toBe(b.lsn);
    expect(record.undoNextLsn).toBe(a.lsn);
  });

  it('chain LSNs: without previousLsn / undoNextLsn the record stores Lsn.INVALID', async () => {
    const { area } = await makeArea();
    await area.reserveAndAppend(tag(1));
    const { lsn } = await area.reserveAndAppend(tag(2));
    const record = await readOne(area, lsn!);
    expect(record.previousLsn).toBe(Lsn.INVALID);
    expect(record.undoNextLsn).toBe(Lsn.INVALID);
  });

  it('chain LSNs: Lsn.INVALID given explicitly is stored as "no LSN"', async () => {
    const { area } = await makeArea();
    const { lsn } = await area.reserveAndAppend(tag(1), { previousLsn: Lsn.INVALID, undoNextLsn: Lsn.INVALID });
    const record = await readOne(area, lsn!);
    expect(record.previousLsn).toBe(Lsn.INVALID);
    expect(record.undoNextLsn).toBe(Lsn.INVALID);
  });

  it.each(['previousLsn', 'undoNextLsn'] as const)(
    'chain LSNs: %s not older than the record -> ERR_CLFS_INVALID_LSN, nothing appended',
    async (name) => {
      const { log, area } = await makeArea();
      // On an empty log no LSN is older than the first record.
      await rejectsWith(area.reserveAndAppend(tag(0), { [name]: Lsn.create(1, 0, 0) }), 'ERR_CLFS_INVALID_LSN');
      const { lsn } = await area.reserveAndAppend(tag(1));
      // The LSN the next record would get, and beyond.
      for (const bad of [lsn! + 1n, lsn! + 0x1000n, Lsn.create(9, 0, 0), Lsn.INVALID + 1n]) {
        await rejectsWith(area.reserveAndAppend(tag(2), { [name]: bad }), 'ERR_CLFS_INVALID_LSN');
      }
      expect(log.information().lastLsn).toBe(lsn);
    },
  );

  it.each(['previousLsn', 'undoNextLsn'] as const)(
    'chain LSNs (REFERENCE 5.5, validate record existence): %s naming no record inside [base, last] -> ERR_CLFS_INVALID_LSN, nothing appended',
    async (name) => {
      const { log, area } = await makeArea({ bufferSize: 65536, flushIntervalMs: 0 });
      const sector = log.information().sectorSize;
      // Each record its own block (forceFlush seals it), the first over several sectors.
      const a = (await area.reserveAndAppend(bytes(20000), { forceFlush: true })).lsn!;
      const b = (await area.reserveAndAppend(tag(2), { forceFlush: true })).lsn!;
      const c = (await area.reserveAndAppend(tag(3))).lsn!; // in the open block
      const container = Lsn.containerId(a);
      const gaps = [
        a + 1n, // a record number the block does not have
        Lsn.create(container, Lsn.blockOffset(a) + 2 * sector, 0), // inside a block, no block starts there
        b + 7n,
      ];
      for (const bad of gaps) {
        await rejectsWith(area.reserveAndAppend(tag(9), { [name]: bad }), 'ERR_CLFS_INVALID_LSN');
      }
      expect(log.information().lastLsn).toBe(c);
      // Real records are accepted, in the open block, a queued or a written one.
      for (const good of [a, b, c]) await area.reserveAndAppend(tag(8), { [name]: good });
    },
  );

  it.each(['previousLsn', 'undoNextLsn'] as const)(
    'chain LSNs (REFERENCE 5.5): %s below the base names no live record -> ERR_CLFS_INVALID_LSN',
    async (name) => {
      const { area } = await makeArea({ flushIntervalMs: 0 });
      const a = (await area.reserveAndAppend(tag(1))).lsn!;
      const b = (await area.reserveAndAppend(tag(2))).lsn!;
      await area.advanceLogBase(b);
      await rejectsWith(area.reserveAndAppend(tag(3), { [name]: a }), 'ERR_CLFS_INVALID_LSN');
      await rejectsWith(area.appendBatch([tag(3), tag(4)], { [name]: a }), 'ERR_CLFS_INVALID_LSN');
      const { lsn } = await area.reserveAndAppend(tag(3), { [name]: b });
      expect((await readOne(area, lsn!))[name]).toBe(b);
    },
  );

  it.each(['previousLsn', 'undoNextLsn'] as const)(
    'chain LSNs: %s naming the newest record is older than the new record, accepted',
    async (name) => {
      const { area } = await makeArea();
      const { lsn } = await area.reserveAndAppend(tag(1));
      const next = await area.reserveAndAppend(tag(2), { [name]: lsn });
      expect((await readOne(area, next.lsn!))[name]).toBe(lsn);
    },
  );
});

describe('ClfsReserveAndAppendLog: FORCE_FLUSH and FORCE_APPEND', () => {
  it('forceFlush: when it resolves, lastFlushedLsn >= the record LSN', async () => {
    const { log, area } = await makeArea({ flushIntervalMs: 0 });
    for (let i = 0; i < 10; i++) {
      const { lsn } = await area.reserveAndAppend(tag(i), { forceFlush: true });
      expect(log.information().lastFlushedLsn >= lsn!).toBe(true);
      expect(log.information().lastFlushedLsn).not.toBe(Lsn.INVALID);
    }
  });

  it('forceAppend: the block is queued for writing without any flush call', async () => {
    const { log, area } = await makeArea({ flushIntervalMs: 0 });
    const before = log.ioStatistics().flushes;
    const { lsn } = await area.reserveAndAppend(tag(1), { forceAppend: true });
    await vi.waitFor(() => expect(log.ioStatistics().flushes).toBeGreaterThan(before), { timeout: 5000 });
    await vi.waitFor(() => expect(log.information().lastFlushedLsn).toBe(lsn), { timeout: 5000 });
  });

  it('forceAppend: the block is sealed, so the next record starts a new block', async () => {
    const { area } = await makeArea({ flushIntervalMs: 0 });
    const a = await area.reserveAndAppend(tag(1), { forceAppend: true });
    const b = await area.reserveAndAppend(tag(2));
    expect(Lsn.blockOffset(b.lsn!)).toBeGreaterThan(Lsn.blockOffset(a.lsn!));
    expect(Lsn.recordSequence(b.lsn!)).toBe(0);
  });
});

describe('ClfsReserveAndAppendLog: ordering', () => {
  it('concurrent reserveAndAppend calls get LSNs in call order', async () => {
    const { area } = await makeArea({ bufferSize: 8192, maxWriteBuffers: 2 });
    const calls = [];
    for (let i = 0; i < 100; i++) {
      const data = new Uint8Array(i % 10 === 0 ? 5000 : 8);
      data.set(tag(i));
      calls.push(area.reserveAndAppend(data, { forceFlush: i % 17 === 0, reservations: i % 13 === 0 ? [10] : [] }));
    }
    const lsns = (await Promise.all(calls)).map((r) => r.lsn!);
    for (let i = 1; i < lsns.length; i++) expect(lsns[i]! > lsns[i - 1]!).toBe(true);
    await area.flushBuffers();
    const records = await readAll(area);
    expect(records.map((r) => untag(r.data))).toEqual([...Array(100).keys()]);
    expect(records.map((r) => r.lsn)).toEqual(lsns);
  });

  it('LSNs strictly increase across the marshalling areas of one log', async () => {
    const { log, area } = await makeArea();
    const other = await log.createMarshallingArea({ bufferSize: 4096, flushIntervalMs: 0 });
    const lsns: Lsn[] = [];
    for (let i = 0; i < 20; i++) lsns.push((await (i % 3 === 0 ? other : area).reserveAndAppend(tag(i))).lsn!);
    for (let i = 1; i < lsns.length; i++) expect(lsns[i]! > lsns[i - 1]!).toBe(true);
    await area.flushBuffers();
    expect((await readAll(area)).map((r) => untag(r.data))).toEqual([...Array(20).keys()]);
  });
});

describe('ClfsReserveAndAppendLog: bad arguments', () => {
  const cases: [string, Entries, AppendOptions | undefined, string][] = [
    ['entries a string', 'abc' as unknown as Entries, undefined, 'ERR_INVALID_ARG_TYPE'],
    ['entries a number', 42 as unknown as Entries, undefined, 'ERR_INVALID_ARG_TYPE'],
    ['entries undefined', undefined as unknown as Entries, undefined, 'ERR_INVALID_ARG_TYPE'],
    ['entries an ArrayBuffer', new ArrayBuffer(8) as unknown as Entries, undefined, 'ERR_INVALID_ARG_TYPE'],
    ['an entry not a Uint8Array', [new Uint8Array(1), 'x'] as unknown as Entries, undefined, 'ERR_INVALID_ARG_TYPE'],
    ['an entry a plain array', [[1, 2]] as unknown as Entries, undefined, 'ERR_INVALID_ARG_TYPE'],
    ['options a string', tag(1), 'x' as unknown as AppendOptions, 'ERR_INVALID_ARG_TYPE'],
    ['options an array', tag(1), [] as unknown as AppendOptions, 'ERR_INVALID_ARG_TYPE'],
    ['forceFlush 1', tag(1), { forceFlush: 1 as unknown as boolean }, 'ERR_INVALID_ARG_TYPE'],
    ['forceAppend "yes"', tag(1), { forceAppend: 'yes' as unknown as boolean }, 'ERR_INVALID_ARG_TYPE'],
    ['useReservation 1', tag(1), { useReservation: 1 as unknown as boolean }, 'ERR_INVALID_ARG_TYPE'],
    ['reservations a number', tag(1), { reservations: 5 as unknown as number[] }, 'ERR_INVALID_ARG_TYPE'],
    ['reservations of strings', tag(1), { reservations: ['100'] as unknown as number[] }, 'ERR_INVALID_ARG_TYPE'],
    ['reservation 0', tag(1), { reservations: [0] }, 'ERR_OUT_OF_RANGE'],
    ['reservation fractional', tag(1), { reservations: [1.5] }, 'ERR_OUT_OF_RANGE'],
    ['reservation NaN', tag(1), { reservations: [NaN] }, 'ERR_OUT_OF_RANGE'],
    ['reservation huge', tag(1), { reservations: [2 ** 40] }, 'ERR_OUT_OF_RANGE'],
    ['reservation larger than a record can be', tag(1), { reservations: [1 << 20] }, 'ERR_OUT_OF_RANGE'],
    ['previousLsn a number', tag(1), { previousLsn: 5 as unknown as bigint }, 'ERR_INVALID_ARG_TYPE'],
    ['undoNextLsn negative', tag(1), { undoNextLsn: -1n }, 'ERR_OUT_OF_RANGE'],
    ['entryAlignment a string', tag(1), { entryAlignment: '8' as unknown as number }, 'ERR_INVALID_ARG_TYPE'],
    ['entryAlignment 0', tag(1), { entryAlignment: 0 }, 'ERR_OUT_OF_RANGE'],
    ['entryAlignment fractional', tag(1), { entryAlignment: 2.5 }, 'ERR_OUT_OF_RANGE'],
  ];

  it.each(cases)(
    'ClfsReserveAndAppendLog: %s -> typed error, nothing changed, the log still works',
    async (_name, entries, options, code) => {
      const { log, area } = await makeArea();
      const first = await area.reserveAndAppend(tag(1), { reservations: [100] });
      const before = { last: log.information().lastLsn, records: area.reservedRecords, bytes: area.reservedBytes };
      await rejectsWith(area.reserveAndAppend(entries, options), code);
      expect({ last: log.information().lastLsn, records: area.reservedRecords, bytes: area.reservedBytes }).toEqual(
        before,
      );
      const after = await area.reserveAndAppend(tag(2), { forceFlush: true });
      expect(after.lsn! > first.lsn!).toBe(true);
      expect((await readAll(area)).map((r) => untag(r.data))).toEqual([1, 2]);
    },
  );
});
