// ClfsAlignReservedLog, ClfsAllocReservedLog, FreeReservedLog, and
// reservations charged against log space (they keep reserved records
// appendable when the log is otherwise full).
import { describe, expect, it } from 'vitest';

import { Lsn } from '../../lib/index.ts';
import { makeArea, readAll, rejectsWith, tag, throwsWith, untag } from '../support/area.ts';
import { itWhere, not4096Sectors } from '../support/platform.ts';

const NOT_4K = await not4096Sectors();

describe('ClfsAlignReservedLog', () => {
  it('ClfsAlignReservedLog: returns the bytes a set of records needs, more than their data, synchronously', async () => {
    const { area } = await makeArea({ bufferSize: 65536 });
    const result = area.alignReservedLog([100, 200, 5000]);
    expect(typeof result).toBe('number');
    expect(result).toBeGreaterThan(100 + 200 + 5000);
  });

  it('ClfsAlignReservedLog: the result for a set is the sum of the results for each record', async () => {
    const { area } = await makeArea({ bufferSize: 65536 });
    const sizes = [1, 8, 9, 100, 4000, 4096, 20000];
    const each = sizes.map((s) => area.alignReservedLog([s]));
    expect(area.alignReservedLog(sizes)).toBe(each.reduce((a, b) => a + b, 0));
  });

  it('ClfsAlignReservedLog: the result covers headers and alignment to the sector size', async () => {
    const { log, area } = await makeArea({ bufferSize: 65536 });
    const sector = log.information().sectorSize;
    for (const size of [1, 4000, 4096, 20000]) {
      const real = area.alignReservedLog([size]);
      expect(real % sector).toBe(0);
      expect(real).toBeGreaterThan(size);
    }
  });

  it('ClfsAlignReservedLog: pure: it reserves nothing', async () => {
    const { log, area } = await makeArea();
    area.alignReservedLog([100, 200]);
    expect(area.reservedRecords).toBe(0);
    expect(area.reservedBytes).toBe(0);
    expect(log.information().totalReservation).toBe(0);
  });

  it.each([[[0]], [[-1]], [[100, 0]], [[100, -5]], [[1.5]]])(
    'ClfsAlignReservedLog: a size <= 0 or not an integer (%j) -> ERR_OUT_OF_RANGE',
    async (sizes) => {
      const { area } = await makeArea();
      throwsWith(() => area.alignReservedLog(sizes), 'ERR_OUT_OF_RANGE');
    },
  );

  it('ClfsAlignReservedLog: an empty set -> ERR_INVALID_ARG_TYPE', async () => {
    const { area } = await makeArea();
    throwsWith(() => area.alignReservedLog([]), 'ERR_INVALID_ARG_TYPE');
  });

  it('ClfsAlignReservedLog: not an array, or sizes not numbers -> ERR_INVALID_ARG_TYPE', async () => {
    const { area } = await makeArea();
    throwsWith(() => area.alignReservedLog(100 as unknown as number[]), 'ERR_INVALID_ARG_TYPE');
    throwsWith(() => area.alignReservedLog(['100'] as unknown as number[]), 'ERR_INVALID_ARG_TYPE');
  });

  it('ClfsAlignReservedLog: a size larger than a record can be -> ERR_OUT_OF_RANGE', async () => {
    const { area } = await makeArea({ bufferSize: 8192 });
    throwsWith(() => area.alignReservedLog([area.maxRecordSize + 1]), 'ERR_OUT_OF_RANGE');
    expect(area.alignReservedLog([area.maxRecordSize])).toBeGreaterThan(area.maxRecordSize);
  });
});

describe('ClfsAllocReservedLog / FreeReservedLog', () => {
  it("ClfsAllocReservedLog: adds count and bytes to the area's reservation", async () => {
    const { area } = await makeArea();
    const bytes = area.alignReservedLog([100, 100, 100]);
    await area.allocReservedLog(3, bytes);
    expect(area.reservedRecords).toBe(3);
    expect(area.reservedBytes).toBe(bytes);
    await area.allocReservedLog(1, area.alignReservedLog([50]));
    expect(area.reservedRecords).toBe(4);
  });

  it('ClfsAllocReservedLog: information().totalReservation reflects it, and currentAvailable shrinks by it', async () => {
    const { log, area } = await makeArea();
    const before = log.information();
    const bytes = area.alignReservedLog([100, 200]);
    await area.allocReservedLog(2, bytes);
    const after = log.information();
    expect(after.totalReservation).toBe(before.totalReservation + bytes);
    expect(after.currentAvailable).toBe(before.currentAvailable - bytes);
  });

  it('ClfsAllocReservedLog: totalReservation sums the reservations of every area of the log', async () => {
    const { log, area } = await makeArea();
    const other = await log.createMarshallingArea({ bufferSize: 4096 });
    await area.allocReservedLog(1, area.alignReservedLog([100]));
    await other.reserveAndAppend(null, { reservations: [100, 100] });
    expect(log.information().totalReservation).toBe(area.reservedBytes + other.reservedBytes);
  });

  it('ClfsAllocReservedLog: reserved records can be used by useReservation appends', async () => {
    const { area } = await makeArea();
    await area.allocReservedLog(2, area.alignReservedLog([100, 100]));
    await area.reserveAndAppend(new Uint8Array(100), { useReservation: true });
    await area.reserveAndAppend(new Uint8Array(100), { useReservation: true });
    expect(area.reservedRecords).toBe(0);
    expect(area.reservedBytes).toBe(0);
  });

  it('ClfsAllocReservedLog: more than the log can hold -> ERR_CLFS_LOG_FULL, nothing reserved', async () => {
    const { log, area } = await makeArea({}, { containerSize: 512 * 1024, containers: 2 });
    await rejectsWith(area.allocReservedLog(300, 300 * 4096), 'ERR_CLFS_LOG_FULL');
    expect(area.reservedRecords).toBe(0);
    expect(log.information().totalReservation).toBe(0);
  });

  it('ClfsAllocReservedLog: count or bytes not a positive integer -> ERR_OUT_OF_RANGE / ERR_INVALID_ARG_TYPE', async () => {
    const { area } = await makeArea();
    await rejectsWith(area.allocReservedLog(0, 4096), 'ERR_OUT_OF_RANGE');
    await rejectsWith(area.allocReservedLog(1, 0), 'ERR_OUT_OF_RANGE');
    await rejectsWith(area.allocReservedLog(-1, 4096), 'ERR_OUT_OF_RANGE');
    await rejectsWith(area.allocReservedLog(1.5, 4096), 'ERR_OUT_OF_RANGE');
    await rejectsWith(area.allocReservedLog('1' as unknown as number, 4096), 'ERR_INVALID_ARG_TYPE');
    expect(area.reservedRecords).toBe(0);
  });

  it('ClfsAllocReservedLog: bytes must be what count records can take (count x smallest .. count x largest real size) -> else ERR_CLFS_RESERVATION_INVALID', async () => {
    const { log, area } = await makeArea({ bufferSize: 65536 });
    const smallest = area.alignReservedLog([1]);
    const largest = area.alignReservedLog([area.maxRecordSize]);
    await rejectsWith(area.allocReservedLog(3, 3 * smallest - 1), 'ERR_CLFS_RESERVATION_INVALID');
    await rejectsWith(area.allocReservedLog(3, area.alignReservedLog([100])), 'ERR_CLFS_RESERVATION_INVALID');
    await rejectsWith(area.allocReservedLog(2, 2 * largest + 1), 'ERR_CLFS_RESERVATION_INVALID');
    expect(area.reservedRecords).toBe(0);
    expect(log.information().totalReservation).toBe(0);
    // The bounds themselves, and AlignReservedLog's result, are accepted.
    await area.allocReservedLog(3, 3 * smallest);
    await area.allocReservedLog(2, 2 * largest);
    await area.allocReservedLog(3, area.alignReservedLog([1, 100, 5000]));
    expect(area.reservedRecords).toBe(8);
  });

  it('FreeReservedLog: removes count and bytes from the reservation', async () => {
    const { log, area } = await makeArea();
    const bytes = area.alignReservedLog([100, 100, 100]);
    await area.allocReservedLog(3, bytes);
    const one = area.alignReservedLog([100]);
    await area.freeReservedLog(1, one);
    expect(area.reservedRecords).toBe(2);
    expect(area.reservedBytes).toBe(bytes - one);
    expect(log.information().totalReservation).toBe(bytes - one);
    await area.freeReservedLog(2, bytes - one);
    expect(area.reservedRecords).toBe(0);
    expect(log.information().totalReservation).toBe(0);
  });

  it('FreeReservedLog: frees reservations made by reserveAndAppend too', async () => {
    const { area } = await makeArea();
    const { reservations } = await area.reserveAndAppend(null, { reservations: [100, 3000] });
    await area.freeReservedLog(2, reservations[0]! + reservations[1]!);
    expect(area.reservedRecords).toBe(0);
    expect(area.reservedBytes).toBe(0);
  });

  it('FreeReservedLog: more records than reserved -> ERR_CLFS_RESERVATION_INVALID, nothing changed', async () => {
    const { area } = await makeArea();
    const bytes = area.alignReservedLog([100]);
    await area.allocReservedLog(1, bytes);
    await rejectsWith(area.freeReservedLog(2, bytes), 'ERR_CLFS_RESERVATION_INVALID');
    expect(area.reservedRecords).toBe(1);
    expect(area.reservedBytes).toBe(bytes);
  });

  it('FreeReservedLog: more bytes than reserved -> ERR_CLFS_RESERVATION_INVALID, nothing changed', async () => {
    const { area } = await makeArea();
    const bytes = area.alignReservedLog([100]);
    await area.allocReservedLog(1, bytes);
    await rejectsWith(area.freeReservedLog(1, bytes + 1), 'ERR_CLFS_RESERVATION_INVALID');
    expect(area.reservedRecords).toBe(1);
    expect(area.reservedBytes).toBe(bytes);
  });

  it('FreeReservedLog: with nothing reserved -> ERR_CLFS_RESERVATION_INVALID', async () => {
    const { area } = await makeArea();
    await rejectsWith(area.freeReservedLog(1, 4096), 'ERR_CLFS_RESERVATION_INVALID');
  });

  it('FreeReservedLog: count or bytes not positive -> ERR_OUT_OF_RANGE (CLFS sign convention not copied)', async () => {
    const { area } = await makeArea();
    await area.allocReservedLog(1, area.alignReservedLog([100]));
    await rejectsWith(area.freeReservedLog(0, 4096), 'ERR_OUT_OF_RANGE');
    await rejectsWith(area.freeReservedLog(1, -4096), 'ERR_OUT_OF_RANGE');
    expect(area.reservedRecords).toBe(1);
  });
  it("ClfsAllocReservedLog / FreeReservedLog: run in call order behind the area's appends waiting for a write buffer", async () => {
    // One write buffer, in flight: the second append waits for it outside
    // the log's turn, and the area's later calls queue behind it. A free
    // called before the alloc must meet the reservation as it was then.
    const { area } = await makeArea({ bufferSize: 4096, maxWriteBuffers: 1 });
    const size = area.alignReservedLog([100]);
    const first = area.reserveAndAppend(new Uint8Array(3000), { forceAppend: true });
    const waiting = area.reserveAndAppend(new Uint8Array(3000));
    const free = area.reserveAndAppend(null, { reservations: [-100] });
    const alloc = area.allocReservedLog(1, size);
    await rejectsWith(free, 'ERR_CLFS_RESERVATION_INVALID');
    await Promise.all([first, waiting, alloc]);
    expect([area.reservedRecords, area.reservedBytes]).toEqual([1, size]);
    // A free called after an append into the reservation comes after it.
    const again = area.reserveAndAppend(new Uint8Array(3000), { forceAppend: true });
    const late = area.reserveAndAppend(new Uint8Array(3000));
    const use = area.reserveAndAppend(new Uint8Array(100), { useReservation: true });
    const freeMany = area.freeReservedLog(1, size);
    await rejectsWith(freeMany, 'ERR_CLFS_RESERVATION_INVALID');
    await Promise.all([again, late, use]);
    expect([area.reservedRecords, area.reservedBytes]).toEqual([0, 0]);
  });
});

describe('reservations are charged against log space', () => {
  // Two 512 KiB containers (256 blocks of 4 KiB); each 3000-byte record
  // fills a 4 KiB block of its own.
  const RECORD = 3000;

  async function fullLogWithReservation(reserved: number) {
    const made = await makeArea({ bufferSize: 4096 }, { containerSize: 512 * 1024, containers: 2 });
    const { area } = made;
    await area.allocReservedLog(reserved, reserved * area.alignReservedLog([RECORD]));
    let unreserved = 0;
    let error: unknown;
    while (unreserved < 1000) {
      try {
        await area.reserveAndAppend(withTag(unreserved));
        unreserved++;
      } catch (e) {
        error = e;
        break;
      }
    }
    return { ...made, unreserved, error };
  }

  function withTag(n: number): Uint8Array {
    const data = new Uint8Array(RECORD);
    data.set(tag(n));
    return data;
  }

  itWhere(
    NOT_4K,
    'reservations: with a large reservation, unreserved appends fail with ERR_CLFS_LOG_FULL before the log is physically full',
    async () => {
      const { log, unreserved, error } = await fullLogWithReservation(150);
      expect(error).toMatchObject({ code: 'ERR_CLFS_LOG_FULL' });
      // 256 blocks in all: the reservation kept about 150 of them free.
      expect(unreserved).toBeGreaterThan(50);
      expect(unreserved).toBeLessThanOrEqual(256 - 150);
      expect(log.information().totalReservation).toBe(150 * 4096);
    },
  );

  it('reservations: when unreserved appends fail with ERR_CLFS_LOG_FULL, every reserved record can still be appended', async () => {
    const { log, area, unreserved } = await fullLogWithReservation(150);
    for (let i = 0; i < 150; i++) {
      await area.reserveAndAppend(withTag(unreserved + i), { useReservation: true });
    }
    expect(area.reservedRecords).toBe(0);
    await area.flushBuffers();
    const records = await readAll(area);
    expect(records.map((r) => untag(r.data))).toEqual([...Array(unreserved + 150).keys()]);
    expect(log.information().lastFlushedLsn).toBe(log.information().lastLsn);
  });

  itWhere(NOT_4K, 'reservations: an unreserved append still fails while reserved appends succeed', async () => {
    const { area, unreserved } = await fullLogWithReservation(150);
    await area.reserveAndAppend(withTag(unreserved), { useReservation: true });
    await rejectsWith(area.reserveAndAppend(withTag(0)), 'ERR_CLFS_LOG_FULL');
    await area.reserveAndAppend(withTag(unreserved + 1), { useReservation: true });
    expect(area.reservedRecords).toBe(148);
  });

  it('reservations: freeing the reservation gives the space back to unreserved appends', async () => {
    const { area } = await fullLogWithReservation(150);
    await rejectsWith(area.reserveAndAppend(withTag(0)), 'ERR_CLFS_LOG_FULL');
    await area.freeReservedLog(150, area.reservedBytes);
    for (let i = 0; i < 100; i++) await area.reserveAndAppend(withTag(i));
  });

  it('reservations: a reservation the log cannot cover -> ERR_CLFS_LOG_FULL from reserveAndAppend, atomically', async () => {
    const { log, area } = await makeArea({ bufferSize: 4096 }, { containerSize: 512 * 1024, containers: 2 });
    const sizes = new Array(300).fill(RECORD);
    await rejectsWith(area.reserveAndAppend(withTag(1), { reservations: sizes }), 'ERR_CLFS_LOG_FULL');
    expect(area.reservedRecords).toBe(0);
    expect(log.information().lastLsn).toBe(Lsn.INVALID);
  });
});

describe('appends into reservations never meet a full log', () => {
  it('ReserveAndAppendLog (USE_RESERVATION): reserved records stay appendable after an area with smaller buffers fills the log', async () => {
    const { log, area } = await makeArea({ bufferSize: 256 * 1024 }, { containerSize: 512 * 1024, containers: 2 });
    const filler = await log.createMarshallingArea({ bufferSize: 4096, flushIntervalMs: 0 });
    const big = 200 * 1024;
    await area.reserveAndAppend(null, { reservations: [big, big, big] });
    let appended = 0;
    const error = await (async () => {
      for (;;) {
        try {
          await filler.reserveAndAppend(tag(appended));
          appended++;
        } catch (e) {
          return e;
        }
      }
    })();
    expect(error).toMatchObject({ code: 'ERR_CLFS_LOG_FULL' });
    expect(appended).toBeGreaterThan(0);
    const reserved: (Lsn | undefined)[] = [];
    for (let i = 0; i < 3; i++) {
      const record = new Uint8Array(big);
      record.set(tag(1000 + i));
      reserved.push((await area.reserveAndAppend(record, { useReservation: true, forceFlush: true })).lsn);
    }
    expect(area.reservedRecords).toBe(0);
    expect(area.reservedBytes).toBe(0);
    const records = await readAll(area);
    expect(records.map((r) => untag(r.data))).toEqual([...Array(appended).keys(), 1000, 1001, 1002]);
    expect(records.slice(-3).map((r) => r.lsn)).toEqual(reserved);
  });

  it('ClfsAllocReservedLog: reserved records of unknown sizes stay appendable after other areas fill the log', async () => {
    const { log, area } = await makeArea({ bufferSize: 128 * 1024 }, { containerSize: 512 * 1024, containers: 2 });
    const filler = await log.createMarshallingArea({ bufferSize: 4096, flushIntervalMs: 0 });
    const sizes = [100 * 1024, 120 * 1024, 64 * 1024, 90 * 1024];
    await area.allocReservedLog(sizes.length, area.alignReservedLog(sizes));
    let appended = 0;
    for (;;) {
      const result = await filler.reserveAndAppend(new Uint8Array(3000)).catch((e: unknown) => e);
      if (result instanceof Error) {
        expect(result).toMatchObject({ code: 'ERR_CLFS_LOG_FULL' });
        break;
      }
      appended++;
    }
    // Appended in the order least favourable to packing: the largest last.
    for (const size of [...sizes].sort((a, b) => a - b)) {
      await area.reserveAndAppend(new Uint8Array(size), { useReservation: true });
    }
    await area.flushBuffers();
    expect(area.reservedRecords).toBe(0);
    expect(appended).toBeGreaterThan(0);
  });

  it('ReserveAndAppendLog (USE_RESERVATION): a record smaller than its reservation gives the rest back with the last reserved record', async () => {
    const { log, area } = await makeArea({ bufferSize: 16384 });
    await area.reserveAndAppend(null, { reservations: [8000, 8000] });
    const total = area.reservedBytes;
    await area.reserveAndAppend(tag(1), { useReservation: true });
    expect(area.reservedRecords).toBe(1);
    expect(area.reservedBytes).toBe(total - area.alignReservedLog([4]));
    await area.reserveAndAppend(tag(2), { useReservation: true });
    expect(area.reservedRecords).toBe(0);
    expect(area.reservedBytes).toBe(0);
    expect(log.information().totalReservation).toBe(0);
    await area.writeRestartArea(tag(3));
    await area.reserveAndAppend(null, { reservations: [8000] });
    await area.writeRestartArea(tag(4), { useReservation: true });
    expect(area.reservedBytes).toBe(0);
  });
});
