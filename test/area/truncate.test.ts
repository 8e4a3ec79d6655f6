// ClfsSetEndOfLog / TruncateLog: area.truncateLog(lsn) drops every record
// after lsn, durably and crash-safely; appends continue after it.

import { describe, expect, it } from 'vitest';

import { Log, Lsn, type MarshallingArea } from '../../lib/index.ts';
import { makeArea, openCrashImage, readAll, rejectsWith, reopenLog, tag, untag } from '../support/area.ts';

async function appendTags(area: MarshallingArea, from: number, count: number, forceFlush = false): Promise<Lsn[]> {
  const lsns: Lsn[] = [];
  for (let i = from; i < from + count; i++) lsns.push((await area.reserveAndAppend(tag(i), { forceFlush })).lsn!);
  return lsns;
}

async function tags(area: MarshallingArea): Promise<number[]> {
  return (await readAll(area)).map((r) => untag(r.data));
}

/** A crash image of the log at `logPath` now, opened, with an area. */
async function crashImage(logPath: string, bufferSize = 16384): Promise<{ log: Log; area: MarshallingArea }> {
  const log = await openCrashImage(logPath);
  return { log, area: await log.createMarshallingArea({ bufferSize, flushIntervalMs: 0 }) };
}

describe('TruncateLog', () => {
  it('TruncateLog: drops every record after lsn; lastLsn is lsn', async () => {
    const { log, area } = await makeArea();
    const lsns = await appendTags(area, 0, 10);
    await area.truncateLog(lsns[3]!);
    expect(log.information().lastLsn).toBe(lsns[3]);
    expect(await tags(area)).toEqual([0, 1, 2, 3]);
  });

  it('TruncateLog: durable when it resolves (a crash image right after shows the new end)', async () => {
    const { area, path: logPath } = await makeArea();
    const lsns = await appendTags(area, 0, 10, true);
    await area.truncateLog(lsns[5]!);
    const image = await crashImage(logPath);
    expect(image.log.information().lastLsn).toBe(lsns[5]);
    expect(await tags(image.area)).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('TruncateLog: inside a block already written (a cut): the dropped records never come back, also after appends', async () => {
    const { log, area, path: logPath } = await makeArea();
    const lsns = await appendTags(area, 0, 8);
    await area.flushToLsn();
    // All 8 in one block on disk: truncating at the 3rd leaves a cut block.
    expect(Lsn.blockOffset(lsns[7]!)).toBe(Lsn.blockOffset(lsns[0]!));
    await area.truncateLog(lsns[2]!);
    await rejectsWith(area.readLogRecord(lsns[3]!, 'forward'), 'ERR_CLFS_INVALID_LSN');
    await rejectsWith(area.advanceLogBase(lsns[4]!), 'ERR_CLFS_TAIL_INVALID');
    const more = await appendTags(area, 100, 3, true);
    expect(more[0]! > lsns[7]!).toBe(true);
    expect(await tags(area)).toEqual([0, 1, 2, 100, 101, 102]);
    const image = await crashImage(logPath);
    expect(await tags(image.area)).toEqual([0, 1, 2, 100, 101, 102]);
    await rejectsWith(image.area.readLogRecord(lsns[5]!, 'forward'), 'ERR_CLFS_INVALID_LSN');
    await log.close();
    const again = await reopenLog(logPath);
    const area2 = await again.createMarshallingArea({ bufferSize: 16384 });
    expect(await tags(area2)).toEqual([0, 1, 2, 100, 101, 102]);
  });

  it('TruncateLog: its rule stays in the metadata until the base passes what it dropped', async () => {
    const { log, area } = await makeArea();
    const lsns = await appendTags(area, 0, 6);
    await area.flushToLsn();
    await area.truncateLog(lsns[2]!);
    const rules = (): bigint[] => log.core.metadata.current.truncations.map((t) => t.lsn);
    expect(rules()).toEqual([lsns[2]]);
    expect(log.core.metadata.current.truncations[0]!.end).toBe(lsns[5]);
    await area.advanceLogBase(lsns[1]!);
    expect(rules()).toEqual([lsns[2]]);
    const next = await appendTags(area, 10, 5, true);
    // The new records' LSNs lie past the dropped ones (their block was written before).
    expect(next[0]! > lsns[5]!).toBe(true);
    await area.advanceLogBase(next[4]!);
    expect(rules()).toEqual([]);
    expect(await tags(area)).toEqual([14]);
  });

  it('TruncateLog: inside the open block (never written): the block is written with the kept records only', async () => {
    const { log, area, path: logPath } = await makeArea();
    const lsns = await appendTags(area, 0, 6);
    await area.truncateLog(lsns[1]!);
    expect(log.information().lastFlushedLsn).toBe(lsns[1]);
    await appendTags(area, 50, 2, true);
    const image = await crashImage(logPath);
    expect(await tags(image.area)).toEqual([0, 1, 50, 51]);
  });

  it('TruncateLog: across blocks and containers; appends reuse the space and LSNs of dropped records', async () => {
    const { area, path: logPath } = await makeArea({ bufferSize: 64 * 1024 }, { containerSize: 512 * 1024 });
    const big = new Uint8Array(20_000).fill(7);
    const lsns: Lsn[] = [];
    for (let i = 0; i < 40; i++) lsns.push((await area.reserveAndAppend([tag(i), big], { forceFlush: true })).lsn!);
    expect(Lsn.containerId(lsns[39]!)).toBeGreaterThan(Lsn.containerId(lsns[0]!));
    await area.truncateLog(lsns[4]!);
    const reused: Lsn[] = [];
    for (let i = 0; i < 3; i++) reused.push((await area.reserveAndAppend([tag(200 + i)], { forceFlush: true })).lsn!);
    // The next block starts where the dropped record 5 did.
    expect(reused[0]).toBe(lsns[5]);
    const image = await crashImage(logPath, 64 * 1024);
    expect((await readAll(image.area)).map((r) => untag(r.data))).toEqual([0, 1, 2, 3, 4, 200, 201, 202]);
    expect(image.log.recoveryReport.skipped).toEqual([]);
  });

  it('TruncateLog: chain LSNs given after it are checked against the blocks written since, not the dropped ones', async () => {
    const { area } = await makeArea({ bufferSize: 4096 });
    // Blocks of 10 records each (forceFlush seals them), then a truncation inside the second.
    const lsns: Lsn[] = [];
    for (let b = 0; b < 3; b++) {
      lsns.push(...(await appendTags(area, 10 * b, 9)));
      lsns.push(...(await appendTags(area, 10 * b + 9, 1, true)));
    }
    await area.truncateLog(lsns[12]!);
    // Dropped records of the cut block name nothing now, though they are below the last record.
    const after = await appendTags(area, 100, 3, true);
    expect(after[0]).toBeGreaterThan(lsns[12]!);
    await rejectsWith(area.reserveAndAppend(tag(1), { previousLsn: lsns[15]! }), 'ERR_CLFS_INVALID_LSN');
    // Records kept and records appended since are valid chain targets.
    for (const previousLsn of [lsns[12]!, lsns[3]!, after[1]!]) {
      expect((await area.reserveAndAppend(tag(2), { previousLsn })).lsn).toBeGreaterThan(after[2]!);
    }
  });

  it('TruncateLog: dropped blocks left in a gap (the next block went to the next container) are never read', async () => {
    const { area, path: logPath } = await makeArea({ bufferSize: 256 * 1024 }, { containerSize: 512 * 1024 });
    const lsns: Lsn[] = [];
    // 25 blocks of 20 KiB fill the 512 KiB container.
    for (let i = 0; i < 25; i++) {
      lsns.push((await area.reserveAndAppend([tag(i), new Uint8Array(20_000)], { forceFlush: true })).lsn!);
    }
    expect(Lsn.containerId(lsns[24]!)).toBe(Lsn.containerId(lsns[0]!));
    await area.truncateLog(lsns[21]!);
    // Too large for what is left of the container: it starts the next one, and
    // the dropped blocks 22..24 stay where they were, the first chained to record 21's block.
    const { lsn: big } = await area.reserveAndAppend([tag(50), new Uint8Array(250_000)], { forceFlush: true });
    expect(Lsn.containerId(big!)).toBe(Lsn.containerId(lsns[0]!) + 1);
    const tagsOf = async (a: MarshallingArea): Promise<number[]> => (await readAll(a)).map((r) => untag(r.data));
    const kept = [...Array.from({ length: 22 }, (_, i) => i), 50];
    expect(await tagsOf(area)).toEqual(kept);
    await rejectsWith(area.readLogRecord(lsns[23]!, 'forward'), 'ERR_CLFS_INVALID_LSN');
    const image = await crashImage(logPath, 256 * 1024);
    expect(await tagsOf(image.area)).toEqual(kept);
    await rejectsWith(image.area.readLogRecord(lsns[23]!, 'forward'), 'ERR_CLFS_INVALID_LSN');
  });

  it('TruncateLog: lsn must name a record in [base, last] -> ERR_CLFS_TAIL_INVALID', async () => {
    const { area } = await makeArea();
    await rejectsWith(area.truncateLog(Lsn.create(1, 0, 0)), 'ERR_CLFS_TAIL_INVALID');
    const lsns = await appendTags(area, 0, 5, true);
    await area.advanceLogBase(lsns[2]!);
    await rejectsWith(area.truncateLog(lsns[1]!), 'ERR_CLFS_TAIL_INVALID');
    await rejectsWith(area.truncateLog(lsns[4]! + 1n), 'ERR_CLFS_TAIL_INVALID');
    // A block offset with no block, and a sequence past the block's records.
    await rejectsWith(area.truncateLog(Lsn.create(1, 4096 * 8, 0)), 'ERR_CLFS_TAIL_INVALID');
    await rejectsWith(area.truncateLog(lsns[4]! + 3n), 'ERR_CLFS_TAIL_INVALID');
    await rejectsWith(area.truncateLog(1 as unknown as bigint), 'ERR_INVALID_ARG_TYPE');
    expect(await tags(area)).toEqual([2, 3, 4]);
  });

  it('TruncateLog: below the newest restart area -> ERR_CLFS_TAIL_INVALID; at or after it, allowed', async () => {
    const { area } = await makeArea();
    const lsns = await appendTags(area, 0, 3);
    const restart = await area.writeRestartArea(tag(9));
    const after = await appendTags(area, 3, 2);
    await rejectsWith(area.truncateLog(lsns[2]!), 'ERR_CLFS_TAIL_INVALID');
    await area.truncateLog(restart.lsn);
    expect((await readAll(area, { type: 'client' })).map((r) => r.lsn)).toEqual([...lsns, restart.lsn]);
    expect(after[0]! > restart.lsn).toBe(true);
  });

  it('TruncateLog: the last record itself drops nothing and flushes it', async () => {
    const { log, area } = await makeArea();
    const lsns = await appendTags(area, 0, 3);
    await area.truncateLog(lsns[2]!);
    expect(log.information().lastFlushedLsn).toBe(lsns[2]);
    expect(await tags(area)).toEqual([0, 1, 2]);
  });

  it('TruncateLog: pending flushes and forced appends of dropped records reject with ERR_CLFS_TRUNCATED', async () => {
    const { area } = await makeArea();
    const lsns = await appendTags(area, 0, 4);
    const flush = rejectsWith(area.flushToLsn(lsns[3]!), 'ERR_CLFS_TRUNCATED');
    const forced = rejectsWith(area.reserveAndAppend(tag(4), { forceFlush: true }), 'ERR_CLFS_TRUNCATED');
    const kept = area.flushToLsn(lsns[1]!);
    await area.truncateLog(lsns[1]!);
    await Promise.all([flush, forced, kept]);
    expect(await tags(area)).toEqual([0, 1]);
  });

  it('TruncateLog: reservations are kept (they are room, not records) and can be used after it', async () => {
    const { area } = await makeArea();
    await area.allocReservedLog(2, 8192);
    const lsns = await appendTags(area, 0, 3);
    await area.truncateLog(lsns[0]!);
    expect(area.reservedRecords).toBe(2);
    const { lsn } = await area.reserveAndAppend(tag(7), { useReservation: true, forceFlush: true });
    expect(lsn! > lsns[0]!).toBe(true);
    expect(area.reservedRecords).toBe(1);
    expect(await tags(area)).toEqual([0, 7]);
  });

  it('TruncateLog: a read context on a dropped record sees null; one on the new end sees later appends', async () => {
    const { area } = await makeArea();
    const lsns = await appendTags(area, 0, 6, true);
    const past = await area.readLogRecord(lsns[4]!, 'forward');
    const atEnd = await area.readLogRecord(lsns[2]!, 'forward');
    await area.truncateLog(lsns[2]!);
    expect(await past.next()).toBeNull();
    await appendTags(area, 10, 2, true);
    expect(await past.next()).toBeNull();
    expect(untag((await atEnd.next())!.data)).toBe(10);
    past.terminate();
    atEnd.terminate();
  });

  it('TruncateLog: calls racing it behave in call order (append, flush, restart area, another truncate)', async () => {
    const { area } = await makeArea();
    const lsns = await appendTags(area, 0, 5);
    const t1 = area.truncateLog(lsns[3]!);
    const t2 = area.truncateLog(lsns[1]!);
    const appended = area.reserveAndAppend(tag(20), { forceFlush: true });
    const t3 = area.truncateLog(lsns[4]!); // beyond the end by its turn
    const restart = area.writeRestartArea(tag(21));
    await Promise.all([t1, t2]);
    await rejectsWith(t3, 'ERR_CLFS_TAIL_INVALID');
    const { lsn } = await appended;
    expect(lsn! > lsns[1]!).toBe(true);
    await restart;
    expect(await tags(area)).toEqual([0, 1, 20]);
  });

  it('TruncateLog: a base move whose target a truncation dropped meanwhile -> ERR_CLFS_TRUNCATED', async () => {
    const { log, area } = await makeArea();
    const lsns = await appendTags(area, 0, 5);
    const move = area.advanceLogBase(lsns[4]!).then(
      () => undefined,
      (e: unknown) => e as { code: string },
    );
    await area.truncateLog(lsns[1]!);
    const error = await move;
    // The base move either finished before the truncation's turn (then the
    // truncation, below the base, is refused) or is refused.
    if (error === undefined) expect.fail('the base move resolved although the truncation did too');
    expect(error.code).toBe('ERR_CLFS_TRUNCATED');
    expect(log.information().baseLsn <= lsns[1]!).toBe(true);
  });

  it('TruncateLog: close waits for a truncation made before it; after close -> ERR_CLFS_CLOSED', async () => {
    const { log, area, path: logPath } = await makeArea();
    const lsns = await appendTags(area, 0, 5);
    const truncation = area.truncateLog(lsns[2]!);
    await log.close();
    await truncation;
    await rejectsWith(area.truncateLog(lsns[1]!), 'ERR_CLFS_CLOSED');
    const again = await reopenLog(logPath);
    expect(await tags(await again.createMarshallingArea({ bufferSize: 16384 }))).toEqual([0, 1, 2]);
  });

  it('TruncateLog: truncating again, to an earlier record of a cut block, and appending between', async () => {
    const { area, path: logPath } = await makeArea();
    const lsns = await appendTags(area, 0, 8, true);
    await area.truncateLog(lsns[5]!);
    await appendTags(area, 10, 2, true);
    await area.truncateLog(lsns[3]!);
    await appendTags(area, 20, 2, true);
    await area.truncateLog(lsns[1]!);
    await appendTags(area, 30, 1, true);
    expect(await tags(area)).toEqual([0, 1, 30]);
    const image = await crashImage(logPath);
    expect(await tags(image.area)).toEqual([0, 1, 30]);
  });
});
