// log.information() (GetLogFileInformation) and log.ioStatistics()
// (GetLogIoStatistics).
import { statSync } from 'node:fs';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { Log, Lsn, type MarshallingArea } from '../../lib/index.ts';
import { KiB, MiB, scratchFiles } from '../support/fixtures.ts';
import { BASE_FILE, createLog, openLog, text } from '../support/log.ts';
import { sectorUnitHere } from '../support/platform.ts';

const scratch = scratchFiles('clfs-log-info-');

async function newLog(options: Parameters<typeof Log.create>[1] = {}): Promise<{ log: Log; logPath: string }> {
  const logPath = scratch.fresh();
  const log = await createLog(logPath, { containerSize: 512 * KiB, idlePublishMs: 0, ...options });
  scratch.keep(log);
  return { log, logPath };
}

/** An area that never flushes on its own. */
function quietArea(log: Log, bufferSize = 4 * KiB): Promise<MarshallingArea> {
  return log.createMarshallingArea({ bufferSize, flushIntervalMs: 0 });
}

/** Appends 3000-byte records until one lands in logical container `id`; returns every LSN. */
async function fillUntilContainer(area: MarshallingArea, id: number): Promise<Lsn[]> {
  const lsns: Lsn[] = [];
  while (lsns.length === 0 || Lsn.containerId(lsns[lsns.length - 1]!) < id) {
    lsns.push(...(await area.appendBatch(Array.from({ length: 16 }, () => new Uint8Array(3000)))));
  }
  await area.flushToLsn();
  return lsns;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('GetLogFileInformation (log.information)', () => {
  it('GetLogFileInformation: every field has its documented type (numbers, bigint LSNs, UUID identity)', async () => {
    const { log } = await newLog();
    const area = await quietArea(log);
    await area.reserveAndAppend(text('x'), { forceFlush: true });
    const info = log.information();
    expect(Object.keys(info).sort()).toEqual(
      [
        'totalAvailable',
        'currentAvailable',
        'totalReservation',
        'baseFileSize',
        'containerSize',
        'totalContainers',
        'freeContainers',
        'sectorSize',
        'baseLsn',
        'lastFlushedLsn',
        'lastLsn',
        'restartLsn',
        'identity',
        'direct',
        'durability',
        'archive',
        'archiveTailLsn',
      ].sort(),
    );
    for (const name of [
      'totalAvailable',
      'currentAvailable',
      'totalReservation',
      'baseFileSize',
      'containerSize',
      'totalContainers',
      'freeContainers',
      'sectorSize',
    ] as const) {
      expect(Number.isSafeInteger(info[name]), name).toBe(true);
      expect(info[name], name).toBeGreaterThanOrEqual(0);
    }
    for (const name of ['baseLsn', 'lastFlushedLsn', 'lastLsn', 'restartLsn', 'archiveTailLsn'] as const) {
      expect(typeof info[name], name).toBe('bigint');
    }
    expect(info.identity).toMatch(UUID);
    expect(info.direct).toBe(true);
    expect(info.durability).toBe('dsync');
    expect(info.sectorSize).toBe(await sectorUnitHere());
    expect(info.archive).toBe(false);
  });

  it('GetLogFileInformation: identity is the same after reopen and differs between logs', async () => {
    const { log, logPath } = await newLog();
    const { log: other } = await newLog();
    const identity = log.information().identity;
    expect(other.information().identity).not.toBe(identity);
    await log.close();
    const again = await openLog(logPath);
    scratch.keep(again);
    expect(again.information().identity).toBe(identity);
  });

  it('GetLogFileInformation: lastLsn and lastFlushedLsn are Lsn.INVALID on an empty log', async () => {
    const { log } = await newLog();
    expect(log.information().lastLsn).toBe(Lsn.INVALID);
    expect(log.information().lastFlushedLsn).toBe(Lsn.INVALID);
  });

  it('GetLogFileInformation: restartLsn is Lsn.INVALID before any restart area', async () => {
    const { log } = await newLog();
    const area = await quietArea(log);
    await area.reserveAndAppend(text('data'), { forceFlush: true });
    expect(log.information().restartLsn).toBe(Lsn.INVALID);
  });

  it('GetLogFileInformation: restartLsn is the newest restart record, also after reopen', async () => {
    const { log, logPath } = await newLog();
    const area = await quietArea(log);
    await area.writeRestartArea(text('one'));
    const { lsn } = await area.writeRestartArea(text('two'));
    expect(log.information().restartLsn).toBe(lsn);
    await log.close();
    const again = await openLog(logPath);
    scratch.keep(again);
    expect(again.information().restartLsn).toBe(lsn);
  });

  it('GetLogFileInformation: lastLsn is the youngest record appended', async () => {
    const { log } = await newLog();
    const area = await quietArea(log);
    await area.reserveAndAppend(text('a'));
    await area.reserveAndAppend(text('b'));
    const { lsn } = await area.reserveAndAppend(text('c'));
    expect(log.information().lastLsn).toBe(lsn);
  });

  it('GetLogFileInformation: lastFlushedLsn stays at the youngest durable record while a younger one is unflushed', async () => {
    const { log } = await newLog();
    const area = await quietArea(log);
    const { lsn: durable } = await area.reserveAndAppend(text('durable'), { forceFlush: true });
    const { lsn: pending } = await area.reserveAndAppend(text('pending'));
    const info = log.information();
    expect(info.lastLsn).toBe(pending);
    expect(info.lastFlushedLsn).toBe(durable);
    expect(info.lastFlushedLsn < info.lastLsn).toBe(true);
  });

  it('GetLogFileInformation: lastFlushedLsn equals lastLsn after flushToLsn', async () => {
    const { log } = await newLog();
    const area = await quietArea(log);
    await area.reserveAndAppend(text('durable'), { forceFlush: true });
    const { lsn } = await area.reserveAndAppend(text('pending'));
    await area.flushToLsn(lsn);
    expect(log.information().lastFlushedLsn).toBe(lsn);
    expect(log.information().lastLsn).toBe(lsn);
  });

  it("GetLogFileInformation: baseLsn on a new log is the first record's LSN", async () => {
    const { log } = await newLog();
    const base = log.information().baseLsn;
    const area = await quietArea(log);
    const { lsn } = await area.reserveAndAppend(text('first'));
    expect(lsn).toBe(base);
    expect(log.information().baseLsn).toBe(base);
  });

  it('GetLogFileInformation: baseLsn follows advanceLogBase', async () => {
    const { log } = await newLog();
    const area = await quietArea(log);
    await area.reserveAndAppend(text('a'));
    const { lsn } = await area.reserveAndAppend(text('b'), { forceFlush: true });
    await area.advanceLogBase(lsn!);
    expect(log.information().baseLsn).toBe(lsn);
  });

  it('GetLogFileInformation: totalAvailable is containers x containerSize, and grows with addContainers', async () => {
    const { log } = await newLog({ containerSize: 1 * MiB, containers: 3 });
    expect(log.information().totalAvailable).toBe(3 * MiB);
    expect(log.information().totalContainers).toBe(3);
    await log.addContainers(2);
    expect(log.information().totalAvailable).toBe(5 * MiB);
    expect(log.information().totalContainers).toBe(5);
  });

  it('GetLogFileInformation: baseFileSize is the size of the base file', async () => {
    const { log, logPath } = await newLog();
    expect(log.information().baseFileSize).toBe(statSync(path.join(logPath, BASE_FILE)).size);
  });

  it('GetLogFileInformation: freeContainers counts the containers holding nothing at or above the base', async () => {
    const { log } = await newLog({ containers: 3 });
    // A new log: the first container holds the base, the others nothing.
    expect(log.information().freeContainers).toBe(2);
    const area = await quietArea(log, 64 * KiB);
    const lsns = await fillUntilContainer(area, 2);
    expect(log.information().freeContainers).toBe(1);
    // Moving the base into the second container frees the first.
    await area.advanceLogBase(lsns.find((l) => Lsn.containerId(l) === 2)!);
    expect(log.information().freeContainers).toBe(2);
  });

  it('GetLogFileInformation: currentAvailable drops by the sectors a flushed block takes', async () => {
    const { log } = await newLog();
    const area = await quietArea(log);
    const before = log.information().currentAvailable;
    await area.reserveAndAppend(new Uint8Array(100), { forceFlush: true });
    expect(log.information().currentAvailable).toBe(before - log.information().sectorSize);
  });

  it('GetLogFileInformation: currentAvailable is totalAvailable on a new log', async () => {
    const { log } = await newLog({ containers: 3 });
    expect(log.information().currentAvailable).toBe(log.information().totalAvailable);
  });

  it('GetLogFileInformation: allocReservedLog shows in totalReservation and is taken from currentAvailable', async () => {
    const { log } = await newLog();
    const area = await quietArea(log);
    const before = log.information();
    const bytes = area.alignReservedLog([100, 200]);
    await area.allocReservedLog(2, bytes);
    const after = log.information();
    expect(after.totalReservation).toBe(before.totalReservation + bytes);
    expect(after.currentAvailable).toBe(before.currentAvailable - bytes);
  });

  it('GetLogFileInformation: freeReservedLog gives the reserved bytes back to currentAvailable', async () => {
    const { log } = await newLog();
    const area = await quietArea(log);
    const before = log.information();
    const bytes = area.alignReservedLog([100, 200]);
    await area.allocReservedLog(2, bytes);
    await area.freeReservedLog(2, bytes);
    expect(log.information().totalReservation).toBe(before.totalReservation);
    expect(log.information().currentAvailable).toBe(before.currentAvailable);
  });

  it('GetLogFileInformation: totalReservation sums the reservations of every marshalling area', async () => {
    const { log } = await newLog();
    const one = await quietArea(log);
    const two = await quietArea(log);
    const a = one.alignReservedLog([100]);
    const b = two.alignReservedLog([1000, 2000]);
    await one.allocReservedLog(1, a);
    await two.allocReservedLog(2, b);
    expect(log.information().totalReservation).toBe(a + b);
  });

  it('GetLogFileInformation: a closed marshalling area no longer counts in totalReservation', async () => {
    const { log } = await newLog();
    const area = await quietArea(log);
    await area.allocReservedLog(1, area.alignReservedLog([100]));
    await area.close();
    expect(log.information().totalReservation).toBe(0);
  });

  it('GetLogFileInformation: the result is a snapshot that later appends do not change', async () => {
    const { log } = await newLog();
    const area = await quietArea(log);
    const snapshot = log.information();
    await area.reserveAndAppend(text('later'), { forceFlush: true });
    expect(snapshot.lastLsn).toBe(Lsn.INVALID);
    expect(log.information().lastLsn).not.toBe(Lsn.INVALID);
  });
});

describe('GetLogIoStatistics (log.ioStatistics)', () => {
  it('GetLogIoStatistics: flushes and bytesFlushed grow with each flushed block', async () => {
    const { log } = await newLog();
    const area = await quietArea(log);
    const before = log.ioStatistics();
    for (let i = 0; i < 3; i++) await area.reserveAndAppend(new Uint8Array(100), { forceFlush: true });
    const after = log.ioStatistics();
    expect(after.flushes - before.flushes).toBe(3);
    expect(after.bytesFlushed - before.bytesFlushed).toBe(3 * log.information().sectorSize);
  });

  it('GetLogIoStatistics: a flushed append writes no metadata', async () => {
    const { log } = await newLog();
    const area = await quietArea(log);
    const before = log.ioStatistics().metadataFlushes;
    await area.reserveAndAppend(new Uint8Array(100), { forceFlush: true });
    expect(log.ioStatistics().metadataFlushes).toBe(before);
  });

  it('GetLogIoStatistics: metadataFlushes and metadataBytesFlushed grow on writeRestartArea', async () => {
    const { log } = await newLog();
    const area = await quietArea(log);
    const before = log.ioStatistics();
    await area.writeRestartArea(text('checkpoint'));
    const after = log.ioStatistics();
    expect(after.metadataFlushes - before.metadataFlushes).toBe(1);
    expect(after.metadataBytesFlushed).toBeGreaterThan(before.metadataBytesFlushed);
  });

  it('GetLogIoStatistics: metadataFlushes and metadataBytesFlushed grow on advanceLogBase', async () => {
    const { log } = await newLog();
    const area = await quietArea(log);
    await area.reserveAndAppend(text('a'));
    const { lsn } = await area.reserveAndAppend(text('b'), { forceFlush: true });
    const before = log.ioStatistics();
    await area.advanceLogBase(lsn!);
    const after = log.ioStatistics();
    expect(after.metadataFlushes - before.metadataFlushes).toBe(1);
    expect(after.metadataBytesFlushed).toBeGreaterThan(before.metadataBytesFlushed);
  });
});
