// Archiving (CLFS's non-ephemeral logs): Log.create({ archive: true }), the
// archive tail (SetLogArchiveTail), container recycling by min(base, archive
// tail), archive snapshots (PrepareLogArchive / GetNextLogArchiveExtent /
// ReadLogArchiveMetadata / TerminateLogArchive) and restoring from them.
import { closeSync, openSync, readSync } from 'node:fs';
import path from 'node:path';

import { describe, expect, it, onTestFinished } from 'vitest';

import { Log, Lsn, type ArchiveExtent, type ArchiveSnapshot, type MarshallingArea } from '../../lib/index.ts';
import { KiB, scratchDir } from '../support/fixtures.ts';
import { makeArea, makeLog, openCrashImage, readAll, rejectsWith, reopenLog, seededBytes } from '../support/area.ts';

const CONTAINER = 512 * KiB;
const ARCHIVE = { containerSize: CONTAINER, containers: 2, archive: true } as const;

/** Record `i`: 3000 seeded bytes, `i` in the first four. */
function record(i: number, size = 3000): Uint8Array {
  const bytes = seededBytes(size, i + 1);
  new DataView(bytes.buffer).setUint32(0, i, true);
  return bytes;
}

function indexOf(data: Uint8Array): number {
  return new DataView(data.buffer, data.byteOffset, data.byteLength).getUint32(0, true);
}

/** Appends records `from`.. one at a time until `count` or ERR_CLFS_LOG_FULL; their LSNs. */
async function appendUntil(area: MarshallingArea, from: number, count: number, flush = false): Promise<Lsn[]> {
  const lsns: Lsn[] = [];
  for (let i = from; i < from + count; i++) {
    try {
      lsns.push((await area.reserveAndAppend(record(i), { forceFlush: flush })).lsn!);
    } catch (error) {
      if ((error as { code?: string }).code === 'ERR_CLFS_LOG_FULL') break;
      throw error;
    }
  }
  return lsns;
}

/** An archive log with `count` durable records (16 KiB buffers). */
async function archiveLog(count: number): Promise<Awaited<ReturnType<typeof makeArea>> & { lsns: Lsn[] }> {
  const made = await makeArea({}, ARCHIVE);
  return { ...made, lsns: await appendUntil(made.area, 0, count, true) };
}

/** Copies an extent with a plain file read (what a backup tool does). */
function copyExtent(extent: ArchiveExtent): Uint8Array {
  const fd = openSync(extent.path, 'r');
  try {
    const out = new Uint8Array(extent.length);
    let done = 0;
    while (done < out.length) {
      const n = readSync(fd, out, done, out.length - done, extent.fileOffset + done);
      if (n === 0) break;
      done += n;
    }
    return out;
  } finally {
    closeSync(fd);
  }
}

/** A scratch path for a restored log, removed when the test ends. */
function restorePath(): string {
  const { dir, cleanup } = scratchDir('clfs-restore-');
  onTestFinished(cleanup);
  return path.join(dir, 'restored');
}

/** Copies every extent of `snapshot` now. */
function copyAll(snapshot: ArchiveSnapshot): Uint8Array[] {
  return snapshot.extents.map(copyExtent);
}

/** Restores `images` (with their copies) and opens the result. */
async function restore(images: ArchiveSnapshot[], copies: Uint8Array[][]): Promise<Log> {
  const target = restorePath();
  await Log.restoreArchive(target, images, (extent, i) => copies[i]![images[i]!.extents.indexOf(extent)]!);
  return reopenLog(target);
}

async function recordsOf(log: Log): Promise<{ lsn: Lsn; data: Uint8Array }[]> {
  const area = await log.createMarshallingArea({ bufferSize: 64 * KiB });
  return readAll(area);
}

describe('archive logs', () => {
  it('Non-ephemeral log (FILE_ATTRIBUTE_ARCHIVE): information() reports archive and the archive tail; both survive a reopen', async () => {
    const { log, area, path: logPath } = await makeArea({}, ARCHIVE);
    const info = log.information();
    expect(info.archive).toBe(true);
    expect(info.archiveTailLsn).toBe(Lsn.create(1, 0, 0));
    const lsns = await appendUntil(area, 0, 5, true);
    await log.setArchiveTail(lsns[3]!);
    expect(log.information().archiveTailLsn).toBe(lsns[3]);
    await log.close();
    const again = await reopenLog(logPath);
    expect(again.information()).toMatchObject({ archive: true, archiveTailLsn: lsns[3] });
  });

  it('Ephemeral logs ignore the archive tail: archiveTailLsn is Lsn.INVALID', async () => {
    const { log } = await makeLog();
    expect(log.information()).toMatchObject({ archive: false, archiveTailLsn: Lsn.INVALID });
  });

  it('SetLogArchiveTail: an ephemeral log refuses it with ERR_CLFS_EPHEMERAL (ERROR_LOG_EPHEMERAL), as it does prepareArchive', async () => {
    const { log, area } = await makeArea();
    const [lsn] = await appendUntil(area, 0, 1, true);
    const error = await rejectsWith(log.setArchiveTail(lsn!), 'ERR_CLFS_EPHEMERAL');
    expect(error.clfsError).toBe('ERROR_LOG_EPHEMERAL');
    await rejectsWith(log.prepareArchive(), 'ERR_CLFS_EPHEMERAL');
  });

  it('SetLogArchiveTail: exact LSN of a record: one naming no record is ERR_CLFS_TAIL_INVALID (ERROR_LOG_TAIL_INVALID)', async () => {
    const { log, lsns } = await archiveLog(3);
    const error = await rejectsWith(log.setArchiveTail(lsns[1]! + 7n), 'ERR_CLFS_TAIL_INVALID');
    expect(error.clfsError).toBe('ERROR_LOG_TAIL_INVALID');
    expect(log.information().archiveTailLsn).toBe(Lsn.create(1, 0, 0));
  });

  it('SetLogArchiveTail: the tail never moves back (below the current archive tail: ERR_CLFS_TAIL_INVALID)', async () => {
    const { log, lsns } = await archiveLog(4);
    await log.setArchiveTail(lsns[2]!);
    await rejectsWith(log.setArchiveTail(lsns[1]!), 'ERR_CLFS_TAIL_INVALID');
    await log.setArchiveTail(lsns[2]!);
    expect(log.information().archiveTailLsn).toBe(lsns[2]);
  });

  it('SetLogArchiveTail: beyond the last durable record is ERR_CLFS_TAIL_INVALID', async () => {
    const { log, area } = await makeArea({}, ARCHIVE);
    const durable = await appendUntil(area, 0, 2, true);
    const [pending] = await appendUntil(area, 2, 1, false);
    await rejectsWith(log.setArchiveTail(pending!), 'ERR_CLFS_TAIL_INVALID');
    await log.setArchiveTail(durable[1]!);
    await rejectsWith(log.setArchiveTail(Lsn.create(9, 0, 0)), 'ERR_CLFS_TAIL_INVALID');
  });

  it('SetLogArchiveTail: the archive tail may lag the base, and may move between them (records below the base stay on disk)', async () => {
    const { log, area, lsns } = await archiveLog(6);
    await area.advanceLogBase(lsns[4]!);
    await log.setArchiveTail(lsns[2]!);
    expect(log.information()).toMatchObject({ baseLsn: lsns[4], archiveTailLsn: lsns[2] });
  });

  it('SetLogArchiveTail: durable when it resolves (a crash image right after has the new tail)', async () => {
    const { log, path: logPath, lsns } = await archiveLog(3);
    await log.setArchiveTail(lsns[2]!);
    const image = await openCrashImage(logPath);
    expect(image.information().archiveTailLsn).toBe(lsns[2]);
  });

  it('SetLogArchiveTail: after close is ERR_CLFS_CLOSED; one called before close() finishes first', async () => {
    const { log, path: logPath, lsns } = await archiveLog(3);
    const moving = log.setArchiveTail(lsns[1]!);
    const closing = log.close();
    await rejectsWith(log.setArchiveTail(lsns[2]!), 'ERR_CLFS_CLOSED');
    await rejectsWith(log.prepareArchive(), 'ERR_CLFS_CLOSED');
    await moving;
    await closing;
    const again = await reopenLog(logPath);
    expect(again.information().archiveTailLsn).toBe(lsns[1]);
  });
});

describe('archive tail races', () => {
  it('SetLogArchiveTail racing TruncateLog: each takes its turn in call order (a tail set first refuses the truncation below it; a truncation first leaves the tail beyond the end)', async () => {
    const { log, area, lsns } = await archiveLog(6);
    // Called together, not awaited between: each is checked when its own rejection is.
    await Promise.all([log.setArchiveTail(lsns[4]!), rejectsWith(area.truncateLog(lsns[2]!), 'ERR_CLFS_TAIL_INVALID')]);
    expect(log.information().lastLsn).toBe(lsns[5]);
    await Promise.all([area.truncateLog(lsns[4]!), rejectsWith(log.setArchiveTail(lsns[5]!), 'ERR_CLFS_TAIL_INVALID')]);
    expect(log.information()).toMatchObject({ lastLsn: lsns[4], archiveTailLsn: lsns[4] });
  });

  it('SetLogArchiveTail racing AdvanceLogBase: both land, each durable (a crash image has both)', async () => {
    const { log, area, path: logPath, lsns } = await archiveLog(6);
    await Promise.all([area.advanceLogBase(lsns[5]!), log.setArchiveTail(lsns[3]!), area.advanceLogBase(lsns[4]!)]);
    expect(log.information()).toMatchObject({ baseLsn: lsns[5], archiveTailLsn: lsns[3] });
    const image = await openCrashImage(logPath);
    expect(image.information()).toMatchObject({ baseLsn: lsns[5], archiveTailLsn: lsns[3] });
  });
});

describe('container recycling with an archive tail', () => {
  it('Container recycling: a container is reused only once min(base LSN, archive tail) has moved past every record in it', async () => {
    const { log, area } = await makeArea({ bufferSize: 64 * KiB }, ARCHIVE);
    const lsns = await appendUntil(area, 0, 1000);
    await area.flushToLsn();
    const inSecond = lsns.find((l) => Lsn.containerId(l) === 2)!;
    await area.advanceLogBase(inSecond);
    // The base has passed container 1, the archive tail has not: still full.
    expect(log.information().freeContainers).toBe(0);
    const full = await rejectsWith(area.reserveAndAppend(record(5000)), 'ERR_CLFS_LOG_FULL');
    expect(full.message).toMatch(/archive tail/);
    await log.setArchiveTail(inSecond);
    expect(log.information().freeContainers).toBe(1);
    const { lsn } = await area.reserveAndAppend(record(5001), { forceFlush: true });
    expect(Lsn.containerId(lsn!)).toBe(3);
  });

  it('Container recycling: with the archive tail ahead, the base alone holds the container (min of both)', async () => {
    const { log, area } = await makeArea({ bufferSize: 64 * KiB }, ARCHIVE);
    const lsns = await appendUntil(area, 0, 1000);
    await area.flushToLsn();
    const inSecond = lsns.find((l) => Lsn.containerId(l) === 2)!;
    await log.setArchiveTail(inSecond);
    await rejectsWith(area.reserveAndAppend(record(5000)), 'ERR_CLFS_LOG_FULL');
    await area.advanceLogBase(inSecond);
    await area.reserveAndAppend(record(5001), { forceFlush: true });
  });

  it('HandleLogFull: an append waiting for room (logFullTimeoutMs) goes on once the archive tail moves', async () => {
    const { log, area } = await makeArea({ bufferSize: 64 * KiB, logFullTimeoutMs: 5000 }, ARCHIVE);
    const lsns: Lsn[] = [];
    for (let i = 0; ; i++) {
      if (log.information().currentAvailable < 40 * KiB && Lsn.containerId(lsns.at(-1) ?? 0n) === 2) break;
      lsns.push((await area.reserveAndAppend(record(i))).lsn!);
    }
    await area.flushToLsn();
    const inSecond = lsns.find((l) => Lsn.containerId(l) === 2)!;
    await area.advanceLogBase(inSecond);
    const waiting = Array.from({ length: 20 }, (_, k) => area.reserveAndAppend(record(9000 + k), { forceFlush: true }));
    let settled = false;
    void Promise.allSettled(waiting).then(() => (settled = true));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(settled).toBe(false);
    await log.setArchiveTail(inSecond);
    const results = await Promise.all(waiting);
    expect(Lsn.containerId(results.at(-1)!.lsn!)).toBe(3);
  });

  it('RemoveLogContainer: a container the archive tail holds is ERR_CLFS_CONTAINER_ACTIVE', async () => {
    const { log, area } = await makeArea(
      { bufferSize: 64 * KiB },
      { ...ARCHIVE, containers: 3, policy: { minContainers: 2 } },
    );
    const lsns = await appendUntil(area, 0, 250);
    await area.flushToLsn();
    const inSecond = lsns.find((l) => Lsn.containerId(l) === 2)!;
    expect(inSecond).toBeDefined();
    await area.advanceLogBase(inSecond);
    // Container 1 (physical 0) is below the base but not the archive tail; the
    // last physical one is unused, so it goes; the first could not.
    await log.removeContainers(1);
    await rejectsWith(log.removeContainers(1), 'ERR_CLFS_POLICY_CONFLICT');
    expect(log.information().freeContainers).toBe(0);
  });

  it('AdvanceTail: when the archive tail holds the space, the event says so (heldBy: archive-tail)', async () => {
    const { log, area } = await makeArea({ bufferSize: 64 * KiB }, { ...ARCHIVE, policy: { logTail: 50 } });
    const events: { heldBy: string; archiveTailLsn: Lsn }[] = [];
    log.on('advance-tail', (event) => events.push(event));
    const lsns = await appendUntil(area, 0, 150);
    await area.flushToLsn();
    await area.advanceLogBase(lsns[140]!);
    await appendUntil(area, 150, 200);
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(events.at(-1)).toMatchObject({ heldBy: 'archive-tail', archiveTailLsn: Lsn.create(1, 0, 0) });
  });

  it('Reservations: an append into a reservation never fails, also when the archive tail fills the log', async () => {
    const { log, area } = await makeArea({ bufferSize: 64 * KiB }, ARCHIVE);
    await area.allocReservedLog(1, area.alignReservedLog([3000]));
    await appendUntil(area, 0, 1000);
    await area.flushToLsn();
    expect(log.information().archiveTailLsn).toBe(Lsn.create(1, 0, 0));
    await rejectsWith(area.reserveAndAppend(record(5000)), 'ERR_CLFS_LOG_FULL');
    await area.reserveAndAppend(record(5001), { useReservation: true, forceFlush: true });
  });
});

describe('PrepareLogArchive', () => {
  it('PrepareLogArchive: the extents run from the archive tail to the last durable record, in LSN order, across containers', async () => {
    const { log, area } = await makeArea({ bufferSize: 64 * KiB }, { ...ARCHIVE, containers: 3 });
    const lsns = await appendUntil(area, 0, 250, false);
    await area.flushToLsn();
    await appendUntil(area, 250, 3, false); // not durable: not in the snapshot
    await log.setArchiveTail(lsns[10]!);
    using snapshot = await log.prepareArchive();
    expect(snapshot.fromLsn).toBe(lsns[10]);
    expect(snapshot.lastLsn).toBe(lsns[249]);
    expect(snapshot.extents.map((e) => e.logicalId)).toEqual([1, 2]);
    const [first, second] = snapshot.extents;
    expect(first!.firstLsn).toBe(Lsn.create(1, Lsn.blockOffset(lsns[10]!), 0));
    expect(first!.fileOffset).toBe(Lsn.blockOffset(lsns[10]!));
    expect(first!.fileOffset + first!.length).toBe(CONTAINER);
    expect(second!.fileOffset).toBe(0);
    expect(second!.endLsn > lsns[249]!).toBe(true);
    expect(path.basename(first!.path)).toBe(first!.file);
  });

  it('PrepareLogArchive: nothing durable after the archive tail gives no extents', async () => {
    const { log } = await makeLog(ARCHIVE);
    using snapshot = await log.prepareArchive();
    expect(snapshot.extents).toEqual([]);
    expect(snapshot.lastLsn).toBe(Lsn.INVALID);
  });

  it('TerminateLogArchive: the containers a snapshot names are not reused until it is released', async () => {
    const { log, area } = await makeArea({ bufferSize: 64 * KiB }, ARCHIVE);
    const lsns = await appendUntil(area, 0, 1000);
    await area.flushToLsn();
    const snapshot = await log.prepareArchive();
    const inSecond = lsns.find((l) => Lsn.containerId(l) === 2)!;
    await area.advanceLogBase(inSecond);
    await log.setArchiveTail(inSecond);
    await rejectsWith(area.reserveAndAppend(record(5000)), 'ERR_CLFS_LOG_FULL');
    const copies = copyAll(snapshot);
    snapshot.release();
    snapshot.release();
    await area.reserveAndAppend(record(5001), { forceFlush: true });
    const restored = await restore([snapshot], [copies]);
    expect((await recordsOf(restored)).map((r) => indexOf(r.data))).toEqual(lsns.map((_, i) => i));
  });

  it('TruncateLog: below the archive tail is ERR_CLFS_TAIL_INVALID (archived records are never dropped)', async () => {
    const { log, area, lsns } = await archiveLog(6);
    await log.setArchiveTail(lsns[3]!);
    await rejectsWith(area.truncateLog(lsns[2]!), 'ERR_CLFS_TAIL_INVALID');
    await area.truncateLog(lsns[3]!);
    expect(log.information().lastLsn).toBe(lsns[3]);
  });

  it('TruncateLog: dropping records an unreleased snapshot covers is ERR_CLFS_ARCHIVE_IN_PROGRESS (ERROR_LOG_ARCHIVE_IN_PROGRESS)', async () => {
    const { log, area, lsns } = await archiveLog(6);
    const snapshot = await log.prepareArchive();
    const error = await rejectsWith(area.truncateLog(lsns[2]!), 'ERR_CLFS_ARCHIVE_IN_PROGRESS');
    expect(error.clfsError).toBe('ERROR_LOG_ARCHIVE_IN_PROGRESS');
    await area.truncateLog(lsns[5]!);
    snapshot.release();
    await area.truncateLog(lsns[2]!);
  });

  it('PrepareLogArchive: point-in-time restore of a log copied while a writer appends finds every record durable before the call, nothing torn', async () => {
    const { log, area } = await makeArea({ bufferSize: 32 * KiB, flushIntervalMs: 1 }, { ...ARCHIVE, containers: 4 });
    const appended = new Map<Lsn, number>();
    const acked = new Set<number>();
    let stop = false;
    let i = 0;
    const writer = (async () => {
      const pending: Promise<unknown>[] = [];
      while (!stop && i < 400) {
        const n = i++;
        const p = area.reserveAndAppend(record(n, 500 + ((n * 37) % 1500)), { forceFlush: n % 5 === 0 }).then((r) => {
          appended.set(r.lsn!, n);
          if (n % 5 === 0) for (let k = n; k >= 0 && !acked.has(k); k--) acked.add(k);
        });
        pending.push(p);
        if (n % 8 === 0) await new Promise((resolve) => setImmediate(resolve));
      }
      await Promise.all(pending);
    })();
    while (acked.size < 100) await new Promise((resolve) => setTimeout(resolve, 1));
    const before = new Set(acked);
    const snapshot = await log.prepareArchive();
    // The copy runs while the writer goes on.
    const copies: Uint8Array[] = [];
    for (const extent of snapshot.extents) {
      copies.push(copyExtent(extent));
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    await log.setArchiveTail(snapshot.lastLsn);
    snapshot.release();
    stop = true;
    await writer;
    expect(appended.size).toBeGreaterThan(before.size);
    const restored = await recordsOf(await restore([snapshot], [copies]));
    const found = new Set<number>();
    for (const r of restored) {
      const n = appended.get(r.lsn);
      expect(n, `restored ${Lsn.format(r.lsn)} was appended`).toBeDefined();
      expect(r.lsn <= snapshot.lastLsn).toBe(true);
      expect(Buffer.from(r.data).equals(Buffer.from(record(n!, 500 + ((n! * 37) % 1500))))).toBe(true);
      found.add(n!);
    }
    for (const n of before) expect(found.has(n), `acknowledged record ${n}`).toBe(true);
    expect(restored.at(-1)!.lsn).toBe(snapshot.lastLsn);
  });

  it('PrepareLogArchive: the next archive starts at or before the archive tail (incremental snapshots, the tail moved between them, restore together; the newer alone is refused when it starts above the base)', async () => {
    const { log, area } = await makeArea({ bufferSize: 64 * KiB }, { ...ARCHIVE, containers: 3 });
    const first = await appendUntil(area, 0, 100, false);
    await area.flushToLsn();
    const one = await log.prepareArchive();
    const copiesOne = copyAll(one);
    await log.setArchiveTail(one.lastLsn);
    one.release();
    const second = await appendUntil(area, 100, 100, false);
    await area.flushToLsn();
    const two = await log.prepareArchive();
    const copiesTwo = copyAll(two);
    two.release();
    expect(two.fromLsn).toBe(first[99]);
    expect(two.extents[0]!.firstLsn <= first[99]!).toBe(true);
    const restored = await restore([one, two], [copiesOne, copiesTwo]);
    expect((await recordsOf(restored)).map((r) => r.lsn)).toEqual([...first, ...second]);
    await rejectsWith(restore([two], [copiesTwo]), 'ERR_INVALID_ARG_VALUE');
  });

  it('restoreArchive: the restored log is an archive log that appends on, its LSNs above the snapshot, and reopens', async () => {
    const { log, lsns } = await archiveLog(8);
    using snapshot = await log.prepareArchive();
    const restored = await restore([snapshot], [copyAll(snapshot)]);
    expect(restored.information()).toMatchObject({
      archive: true,
      archiveTailLsn: Lsn.create(1, 0, 0),
      lastLsn: lsns[7],
    });
    const area = await restored.createMarshallingArea({ bufferSize: 16 * KiB });
    const { lsn } = await area.reserveAndAppend(record(100), { forceFlush: true });
    expect(lsn! > lsns[7]!).toBe(true);
    await restored.close();
    const again = await reopenLog(restored.path);
    expect((await recordsOf(again)).map((r) => indexOf(r.data))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 100]);
  });

  it('restoreArchive: a damaged metadata copy is ERR_CLFS_CORRUPT; bytes of the wrong length are ERR_INVALID_ARG_VALUE; an existing path is ERR_CLFS_EXISTS', async () => {
    const { log, area, path: logPath } = await makeArea({}, ARCHIVE);
    await appendUntil(area, 0, 10, true);
    using snapshot = await log.prepareArchive();
    const copies = copyAll(snapshot);
    const damaged = { ...snapshot, metadata: snapshot.metadata.slice() };
    damaged.metadata[70] = damaged.metadata[70]! ^ 1;
    await rejectsWith(
      Log.restoreArchive(restorePath(), damaged, () => copies[0]!),
      'ERR_CLFS_CORRUPT',
    );
    await rejectsWith(
      Log.restoreArchive(restorePath(), snapshot, () => new Uint8Array(512)),
      'ERR_INVALID_ARG_VALUE',
    );
    await rejectsWith(
      Log.restoreArchive(logPath, snapshot, () => copies[0]!),
      'ERR_CLFS_EXISTS',
    );
  });
});
