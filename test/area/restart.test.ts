// ClfsWriteRestartArea / ClfsReadRestartArea / ClfsReadPreviousRestartArea
// and ClfsAdvanceLogBase: the restart chain, base moves and their checks.
import { describe, expect, it } from 'vitest';

import { Lsn, type MarshallingArea } from '../../lib/index.ts';
import { makeArea, readAll, rejectsWith, reopenLog, tag, untag } from '../support/area.ts';
import { itWhere, not4096Sectors } from '../support/platform.ts';

const NOT_4K = await not4096Sectors();

async function appendTags(area: MarshallingArea, from: number, count: number): Promise<Lsn[]> {
  const lsns: Lsn[] = [];
  for (let i = from; i < from + count; i++) lsns.push((await area.reserveAndAppend(tag(i))).lsn!);
  return lsns;
}

describe('ClfsWriteRestartArea', () => {
  it('ClfsWriteRestartArea: returns the restart record LSN and bytesWritten > 0', async () => {
    const { log, area } = await makeArea();
    await appendTags(area, 0, 3);
    const { lsn, bytesWritten } = await area.writeRestartArea(tag(100));
    expect(typeof lsn).toBe('bigint');
    expect(lsn > log.information().baseLsn).toBe(true);
    expect(bytesWritten).toBeGreaterThan(0);
    expect(bytesWritten % log.information().sectorSize).toBe(0);
  });

  it('ClfsWriteRestartArea: sets information().restartLsn', async () => {
    const { log, area } = await makeArea();
    expect(log.information().restartLsn).toBe(Lsn.INVALID);
    const { lsn } = await area.writeRestartArea(tag(100));
    expect(log.information().restartLsn).toBe(lsn);
    const second = await area.writeRestartArea(tag(101));
    expect(log.information().restartLsn).toBe(second.lsn);
  });

  it('ClfsWriteRestartArea: flushes every record before it and itself (lastFlushedLsn >= its LSN)', async () => {
    const { log, area } = await makeArea({ flushIntervalMs: 0 });
    await appendTags(area, 0, 5);
    expect(log.information().lastFlushedLsn).toBe(Lsn.INVALID);
    const { lsn } = await area.writeRestartArea(tag(100));
    expect(log.information().lastFlushedLsn >= lsn).toBe(true);
    expect(log.information().lastLsn).toBe(lsn);
  });

  it('ClfsWriteRestartArea: the restart record is a record of type restart holding the data', async () => {
    const { area } = await makeArea();
    const { lsn } = await area.writeRestartArea(new Uint8Array([7, 8, 9]));
    const context = await area.readLogRecord(lsn, 'forward', { type: 'restart' });
    expect(context.record.type).toBe('restart');
    expect(context.record.data).toEqual(new Uint8Array([7, 8, 9]));
    context.terminate();
  });

  it('ClfsWriteRestartArea: data not a Uint8Array -> ERR_INVALID_ARG_TYPE; newBaseLsn not a bigint -> ERR_INVALID_ARG_TYPE', async () => {
    const { log, area } = await makeArea();
    const [lsn] = await appendTags(area, 0, 1);
    await rejectsWith(area.writeRestartArea('x' as unknown as Uint8Array), 'ERR_INVALID_ARG_TYPE');
    await rejectsWith(area.writeRestartArea(tag(1), { newBaseLsn: 1 as unknown as bigint }), 'ERR_INVALID_ARG_TYPE');
    expect(log.information().restartLsn).toBe(Lsn.INVALID);
    expect(log.information().lastLsn).toBe(lsn);
  });

  it('ClfsWriteRestartArea: restart data larger than a record can be -> ERR_CLFS_RECORD_TOO_LARGE, nothing written', async () => {
    const { log, area } = await makeArea({ bufferSize: 8192 });
    await rejectsWith(area.writeRestartArea(new Uint8Array(area.maxRecordSize + 1)), 'ERR_CLFS_RECORD_TOO_LARGE');
    expect(log.information().restartLsn).toBe(Lsn.INVALID);
    const { lsn } = await area.writeRestartArea(new Uint8Array(area.maxRecordSize));
    expect(log.information().restartLsn).toBe(lsn);
  });

  it('ClfsWriteRestartArea: concurrent calls chain in call order; restartLsn is the last one', async () => {
    const { log, area } = await makeArea();
    const calls = [];
    for (let i = 0; i < 6; i++) {
      calls.push(area.reserveAndAppend(tag(i)));
      calls.push(area.writeRestartArea(tag(100 + i)));
    }
    const results = await Promise.all(calls);
    const restarts = results.filter((_, i) => i % 2 === 1).map((r) => r.lsn!);
    for (let i = 1; i < restarts.length; i++) expect(restarts[i]! > restarts[i - 1]!).toBe(true);
    expect(log.information().restartLsn).toBe(restarts.at(-1));
    const { data, context } = await area.readRestartArea();
    const chain = [untag(data)];
    for (let r = await context.readPreviousRestartArea(); r !== null; r = await context.readPreviousRestartArea()) {
      chain.push(untag(r.data));
    }
    expect(chain).toEqual([105, 104, 103, 102, 101, 100]);
    context.terminate();
  });

  it('ClfsWriteRestartArea: useReservation takes the restart record from the reservation', async () => {
    const { area } = await makeArea();
    await area.reserveAndAppend(null, { reservations: [100] });
    await area.writeRestartArea(new Uint8Array(100), { useReservation: true });
    expect(area.reservedRecords).toBe(0);
    expect(area.reservedBytes).toBe(0);
  });

  it('ClfsWriteRestartArea: useReservation with nothing reserved -> ERR_CLFS_RESERVATION_INVALID, nothing written', async () => {
    const { log, area } = await makeArea();
    await rejectsWith(area.writeRestartArea(tag(1), { useReservation: true }), 'ERR_CLFS_RESERVATION_INVALID');
    expect(log.information().restartLsn).toBe(Lsn.INVALID);
    expect(log.information().lastLsn).toBe(Lsn.INVALID);
  });
});

describe('ClfsReadRestartArea / ClfsReadPreviousRestartArea', () => {
  it('ClfsReadRestartArea: returns the newest restart area: its data, its LSN and a context', async () => {
    const { area } = await makeArea();
    await area.writeRestartArea(tag(100));
    await appendTags(area, 0, 2);
    const newest = await area.writeRestartArea(tag(101));
    await appendTags(area, 2, 2);
    const { data, lsn, context } = await area.readRestartArea();
    expect(untag(data)).toBe(101);
    expect(lsn).toBe(newest.lsn);
    expect(context.record.lsn).toBe(newest.lsn);
    context.terminate();
  });

  it('ClfsReadRestartArea: with no restart area -> ERR_CLFS_NO_RESTART', async () => {
    const { area } = await makeArea();
    await appendTags(area, 0, 2);
    await rejectsWith(area.readRestartArea(), 'ERR_CLFS_NO_RESTART');
  });

  it('ClfsReadPreviousRestartArea: walks older restart areas, newest first, then null', async () => {
    const { area } = await makeArea();
    const written = [];
    for (let i = 0; i < 4; i++) {
      await appendTags(area, i * 10, 2);
      written.push((await area.writeRestartArea(tag(100 + i))).lsn);
    }
    const { context } = await area.readRestartArea();
    const seen = [];
    for (let r = await context.readPreviousRestartArea(); r !== null; r = await context.readPreviousRestartArea()) {
      seen.push([r.lsn, untag(r.data)]);
    }
    expect(seen).toEqual([
      [written[2], 102],
      [written[1], 101],
      [written[0], 100],
    ]);
    expect(await context.readPreviousRestartArea()).toBeNull();
    context.terminate();
  });

  it('ClfsReadPreviousRestartArea: with a single restart area returns null', async () => {
    const { area } = await makeArea();
    await area.writeRestartArea(tag(100));
    const { context } = await area.readRestartArea();
    expect(await context.readPreviousRestartArea()).toBeNull();
    context.terminate();
  });

  it('ClfsReadPreviousRestartArea: an earlier restart area below the base -> ERR_CLFS_START_OF_LOG', async () => {
    const { area } = await makeArea();
    await area.writeRestartArea(tag(100));
    const [after] = await appendTags(area, 0, 1);
    await area.writeRestartArea(tag(101), { newBaseLsn: after! });
    const { context } = await area.readRestartArea();
    await rejectsWith(context.readPreviousRestartArea(), 'ERR_CLFS_START_OF_LOG');
    context.terminate();
  });

  it('ClfsReadRestartArea: the context also reads on with next() (restart records, backward)', async () => {
    const { area } = await makeArea();
    const first = await area.writeRestartArea(tag(100));
    await area.writeRestartArea(tag(101));
    const { context } = await area.readRestartArea();
    const previous = await context.next();
    expect(previous?.lsn).toBe(first.lsn);
    expect(previous?.type).toBe('restart');
    context.terminate();
  });

  it('restart areas survive close and reopen (data, LSN, restartLsn and the chain)', async () => {
    const made = await makeArea();
    const a = await made.area.writeRestartArea(tag(100));
    await appendTags(made.area, 0, 3);
    const b = await made.area.writeRestartArea(tag(101));
    await made.log.close();
    const log = await reopenLog(made.path);
    expect(log.information().restartLsn).toBe(b.lsn);
    const area = await log.createMarshallingArea({ bufferSize: 16384 });
    const { data, lsn, context } = await area.readRestartArea();
    expect([lsn, untag(data)]).toEqual([b.lsn, 101]);
    const previous = await context.readPreviousRestartArea();
    expect([previous?.lsn, untag(previous!.data)]).toEqual([a.lsn, 100]);
    expect(await context.readPreviousRestartArea()).toBeNull();
    context.terminate();
  });

  it('a restart area written after reopen chains to the one written before', async () => {
    const made = await makeArea();
    const a = await made.area.writeRestartArea(tag(100));
    await made.log.close();
    const log = await reopenLog(made.path);
    const area = await log.createMarshallingArea({ bufferSize: 16384 });
    await area.writeRestartArea(tag(101));
    const { context } = await area.readRestartArea();
    expect((await context.readPreviousRestartArea())?.lsn).toBe(a.lsn);
    context.terminate();
  });
});

describe('ClfsWriteRestartArea: newBaseLsn', () => {
  it('newBaseLsn: moves the base (information().baseLsn)', async () => {
    const { log, area } = await makeArea();
    const lsns = await appendTags(area, 0, 6);
    await area.writeRestartArea(tag(100), { newBaseLsn: lsns[3]! });
    expect(log.information().baseLsn).toBe(lsns[3]);
  });

  it('newBaseLsn: reading below the new base -> ERR_CLFS_START_OF_LOG', async () => {
    const { area } = await makeArea();
    const lsns = await appendTags(area, 0, 6);
    await area.writeRestartArea(tag(100), { newBaseLsn: lsns[3]! });
    await rejectsWith(area.readLogRecord(lsns[2]!, 'forward'), 'ERR_CLFS_START_OF_LOG');
    expect((await readAll(area)).map((r) => untag(r.data))).toEqual([3, 4, 5]);
  });

  it('newBaseLsn: below the base -> ERR_CLFS_TAIL_INVALID, nothing written', async () => {
    const { log, area } = await makeArea();
    const lsns = await appendTags(area, 0, 6);
    await area.advanceLogBase(lsns[3]!);
    const last = log.information().lastLsn;
    await rejectsWith(area.writeRestartArea(tag(100), { newBaseLsn: lsns[1]! }), 'ERR_CLFS_TAIL_INVALID');
    expect(log.information().restartLsn).toBe(Lsn.INVALID);
    expect(log.information().lastLsn).toBe(last);
    expect(log.information().baseLsn).toBe(lsns[3]);
  });

  it('newBaseLsn: beyond the last record -> ERR_CLFS_TAIL_INVALID, nothing written', async () => {
    const { log, area } = await makeArea();
    const lsns = await appendTags(area, 0, 3);
    const base = log.information().baseLsn;
    await rejectsWith(area.writeRestartArea(tag(100), { newBaseLsn: lsns[2]! + 1n }), 'ERR_CLFS_TAIL_INVALID');
    await rejectsWith(area.writeRestartArea(tag(100), { newBaseLsn: Lsn.INVALID }), 'ERR_CLFS_TAIL_INVALID');
    expect(log.information().restartLsn).toBe(Lsn.INVALID);
    expect(log.information().lastLsn).toBe(lsns[2]);
    expect(log.information().baseLsn).toBe(base);
  });

  it('newBaseLsn: an LSN in [base, last] naming no record -> ERR_CLFS_TAIL_INVALID, nothing written', async () => {
    const { log, area } = await makeArea();
    const lsns = await appendTags(area, 0, 3);
    await area.flushBuffers();
    await appendTags(area, 3, 3);
    const last = log.information().lastLsn;
    // Sequence 7 of a block holding 3 records.
    await rejectsWith(area.writeRestartArea(tag(100), { newBaseLsn: lsns[0]! + 7n }), 'ERR_CLFS_TAIL_INVALID');
    expect(log.information().restartLsn).toBe(Lsn.INVALID);
    expect(log.information().lastLsn).toBe(last);
  });

  it('newBaseLsn: the base move survives close and reopen', async () => {
    const made = await makeArea();
    const lsns = await appendTags(made.area, 0, 6);
    await made.area.writeRestartArea(tag(100), { newBaseLsn: lsns[2]! });
    await made.log.close();
    const log = await reopenLog(made.path);
    expect(log.information().baseLsn).toBe(lsns[2]);
  });
});

describe('ClfsAdvanceLogBase', () => {
  it('ClfsAdvanceLogBase: a record in [base, last] becomes the base, and metadata is written', async () => {
    const { log, area } = await makeArea();
    const lsns = await appendTags(area, 0, 6);
    const before = log.ioStatistics().metadataFlushes;
    await area.advanceLogBase(lsns[4]!);
    expect(log.information().baseLsn).toBe(lsns[4]);
    expect(log.ioStatistics().metadataFlushes).toBeGreaterThan(before);
  });

  it('ClfsAdvanceLogBase: the new base is durable when it resolves (flushed up to it first)', async () => {
    const { log, area } = await makeArea({ flushIntervalMs: 0 });
    const lsns = await appendTags(area, 0, 6);
    expect(log.information().lastFlushedLsn).toBe(Lsn.INVALID);
    await area.advanceLogBase(lsns[3]!);
    expect(log.information().lastFlushedLsn).not.toBe(Lsn.INVALID);
    expect(log.information().lastFlushedLsn >= lsns[3]!).toBe(true);
  });

  it('ClfsAdvanceLogBase: the last record itself can be the base', async () => {
    const { log, area } = await makeArea();
    const lsns = await appendTags(area, 0, 3);
    await area.advanceLogBase(lsns[2]!);
    expect(log.information().baseLsn).toBe(lsns[2]);
    expect((await readAll(area)).map((r) => untag(r.data))).toEqual([2]);
  });

  it('ClfsAdvanceLogBase: the current base again is accepted and changes nothing', async () => {
    const { log, area } = await makeArea();
    const lsns = await appendTags(area, 0, 3);
    await area.advanceLogBase(lsns[1]!);
    await area.advanceLogBase(lsns[1]!);
    expect(log.information().baseLsn).toBe(lsns[1]);
  });

  it('ClfsAdvanceLogBase: below the base -> ERR_CLFS_TAIL_INVALID', async () => {
    const { log, area } = await makeArea();
    const lsns = await appendTags(area, 0, 6);
    await area.advanceLogBase(lsns[3]!);
    await rejectsWith(area.advanceLogBase(lsns[2]!), 'ERR_CLFS_TAIL_INVALID');
    await rejectsWith(area.advanceLogBase(Lsn.NULL), 'ERR_CLFS_TAIL_INVALID');
    expect(log.information().baseLsn).toBe(lsns[3]);
  });

  it('ClfsAdvanceLogBase: beyond the last record -> ERR_CLFS_TAIL_INVALID', async () => {
    const { log, area } = await makeArea();
    const lsns = await appendTags(area, 0, 3);
    const base = log.information().baseLsn;
    await rejectsWith(area.advanceLogBase(lsns[2]! + 1n), 'ERR_CLFS_TAIL_INVALID');
    await rejectsWith(area.advanceLogBase(Lsn.create(9, 0, 0)), 'ERR_CLFS_TAIL_INVALID');
    await rejectsWith(area.advanceLogBase(Lsn.INVALID), 'ERR_CLFS_TAIL_INVALID');
    expect(log.information().baseLsn).toBe(base);
  });

  it('ClfsAdvanceLogBase: on an empty log -> ERR_CLFS_TAIL_INVALID', async () => {
    const { log, area } = await makeArea();
    await rejectsWith(area.advanceLogBase(log.information().baseLsn), 'ERR_CLFS_TAIL_INVALID');
  });

  itWhere(
    NOT_4K,
    'ClfsAdvanceLogBase: a block offset where no block starts (mid-block) -> ERR_CLFS_TAIL_INVALID',
    async () => {
      const { log, area } = await makeArea({ bufferSize: 16384 });
      const lsns = await appendTags(area, 0, 3);
      await area.flushBuffers();
      await appendTags(area, 3, 3);
      const first = lsns[0]!;
      const base = log.information().baseLsn;
      for (const offset of [512, 1024, 3584]) {
        const lsn = Lsn.create(Lsn.containerId(first), Lsn.blockOffset(first) + offset, 0);
        await rejectsWith(area.advanceLogBase(lsn), 'ERR_CLFS_TAIL_INVALID');
      }
      expect(log.information().baseLsn).toBe(base);
    },
  );

  it('ClfsAdvanceLogBase: a record sequence beyond the records of its block -> ERR_CLFS_TAIL_INVALID', async () => {
    const { log, area } = await makeArea();
    const lsns = await appendTags(area, 0, 3);
    await area.flushBuffers();
    await appendTags(area, 3, 3);
    const base = log.information().baseLsn;
    await rejectsWith(area.advanceLogBase(lsns[2]! + 1n), 'ERR_CLFS_TAIL_INVALID');
    await rejectsWith(area.advanceLogBase(lsns[0]! + 511n), 'ERR_CLFS_TAIL_INVALID');
    expect(log.information().baseLsn).toBe(base);
  });

  it('ClfsAdvanceLogBase: a record sequence beyond the records of a block still in memory -> ERR_CLFS_TAIL_INVALID', async () => {
    const { log, area } = await makeArea();
    await appendTags(area, 0, 1);
    const lsns = await appendTags(area, 1, 3);
    await appendTags(area, 4, 1);
    // All five records share the open block; sequence 9 of it is no record.
    expect(log.information().lastFlushedLsn).toBe(Lsn.INVALID);
    await rejectsWith(area.advanceLogBase(lsns[0]! + 8n), 'ERR_CLFS_TAIL_INVALID');
  });

  it('ClfsAdvanceLogBase: an LSN not a bigint -> ERR_INVALID_ARG_TYPE', async () => {
    const { area } = await makeArea();
    await appendTags(area, 0, 3);
    await rejectsWith(area.advanceLogBase(1 as unknown as bigint), 'ERR_INVALID_ARG_TYPE');
  });

  it('ClfsAdvanceLogBase: the new base survives close and reopen', async () => {
    const made = await makeArea();
    const lsns = await appendTags(made.area, 0, 6);
    await made.area.advanceLogBase(lsns[4]!);
    await made.log.close();
    const log = await reopenLog(made.path);
    expect(log.information().baseLsn).toBe(lsns[4]);
  });
});

describe('a checkpoint while read contexts hold every read buffer', () => {
  it('ClfsAdvanceLogBase / ClfsWriteRestartArea: need no read buffer (no ERR_CLFS_BLOCKS_EXHAUSTED while a recovery scan holds them all)', async () => {
    const { log, area } = await makeArea({ maxReadBuffers: 1 });
    const first = (await area.reserveAndAppend(tag(1), { forceFlush: true })).lsn!;
    const second = (await area.reserveAndAppend(tag(2), { forceFlush: true })).lsn!;
    const third = (await area.reserveAndAppend(tag(3))).lsn!;
    const scan = await area.readLogRecord(first, 'forward');
    await rejectsWith(area.readLogRecord(first, 'forward'), 'ERR_CLFS_BLOCKS_EXHAUSTED');
    await area.advanceLogBase(second);
    const { lsn } = await area.writeRestartArea(tag(9), { newBaseLsn: third });
    expect(log.information()).toMatchObject({ baseLsn: third, restartLsn: lsn });
    // The scan kept its buffer and its record.
    expect(untag(scan.record.data)).toBe(1);
    scan.terminate();
  });
});
