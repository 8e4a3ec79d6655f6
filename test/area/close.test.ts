// ClfsDeleteMarshallingArea (area.close()) and log.close() for areas: flush
// first, invalidate read contexts, free buffers, refuse later calls.
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { Lsn, type MarshallingArea } from '../../lib/index.ts';
import {
  countingAllocator,
  makeArea,
  readAll,
  rejectsWith,
  reopenLog,
  tag,
  throwsWith,
  untag,
} from '../support/area.ts';
import { runChild } from '../support/helpers.ts';
import { diedOfOwnKill } from '../support/platform.ts';
import { scratchDir } from '../support/fixtures.ts';

describe('ClfsDeleteMarshallingArea: area.close()', () => {
  it('area.close(): flushes first: records appended without a flush are durable when it resolves', async () => {
    const { log, area } = await makeArea({ bufferSize: 65536, flushIntervalMs: 0 });
    for (let i = 0; i < 10; i++) await area.reserveAndAppend(tag(i));
    expect(log.information().lastFlushedLsn).toBe(Lsn.INVALID);
    await area.close();
    expect(log.information().lastFlushedLsn).toBe(log.information().lastLsn);
  });

  it('area.close(): records appended without a flush survive the process being killed right after it (no log.close)', async () => {
    const { dir, cleanup } = scratchDir('clfs-area-close-');
    try {
      const logPath = path.join(dir, 'log');
      const child = await runChild(
        `
        import { Log } from 'CLFS';
        const log = await Log.create(process.argv[1], { containerSize: 1 << 20 });
        const area = await log.createMarshallingArea({ bufferSize: 65536, flushIntervalMs: 0 });
        for (let i = 0; i < 10; i++) {
          const data = new Uint8Array(4);
          new DataView(data.buffer).setUint32(0, i, true);
          await area.reserveAndAppend(data);
        }
        await area.close();
        process.stdout.write('closed\\n');
        process.kill(process.pid, 'SIGKILL');
        `,
        { args: [logPath] },
      );
      expect(child.stdout).toBe('closed\n');
      expect(diedOfOwnKill(child), child.stderr).toBe(true);
      const log = await reopenLog(logPath);
      const area = await log.createMarshallingArea({ bufferSize: 65536 });
      expect((await readAll(area)).map((r) => untag(r.data))).toEqual([...Array(10).keys()]);
      await log.close();
    } finally {
      cleanup();
    }
  });

  it('area.close(): terminates its read contexts (next() -> ERR_CLFS_CLOSED)', async () => {
    const { area } = await makeArea();
    const { lsn } = await area.reserveAndAppend(tag(0));
    await area.reserveAndAppend(tag(1));
    const context = await area.readLogRecord(lsn!, 'forward');
    await area.close();
    await rejectsWith(context.next(), 'ERR_CLFS_CLOSED');
  });

  it('area.close(): frees every buffer, including those of read contexts still open (allocator free calls)', async () => {
    const allocator = countingAllocator();
    const { area } = await makeArea({ bufferSize: 8192, allocator });
    const lsns: Lsn[] = [];
    for (let i = 0; i < 6; i++) lsns.push((await area.reserveAndAppend(new Uint8Array(5000).fill(i))).lsn!);
    await area.readLogRecord(lsns[0]!, 'forward');
    await area.readLogRecord(lsns[3]!, 'forward');
    expect(area.buffersAllocated.read).toBe(2);
    await area.close();
    expect(allocator.live).toBe(0);
    expect(new Set(allocator.freed)).toEqual(new Set(allocator.allocated));
    expect(area.buffersAllocated).toEqual({ write: 0, read: 0 });
  });

  it("area.close(): frees the area's reservation (information().totalReservation drops)", async () => {
    const { log, area } = await makeArea();
    const other = await log.createMarshallingArea({ bufferSize: 4096 });
    await area.reserveAndAppend(null, { reservations: [100, 200] });
    await other.reserveAndAppend(null, { reservations: [100] });
    await area.close();
    expect(log.information().totalReservation).toBe(other.reservedBytes);
  });

  const calls: [string, (area: MarshallingArea, lsn: Lsn) => Promise<unknown>][] = [
    ['reserveAndAppend', (a) => a.reserveAndAppend(tag(1))],
    ['reserveAndAppend (reserve only)', (a) => a.reserveAndAppend(null, { reservations: [10] })],
    ['appendBatch', (a) => a.appendBatch([tag(1)])],
    ['flushToLsn', (a, lsn) => a.flushToLsn(lsn)],
    ['flushBuffers', (a) => a.flushBuffers()],
    ['readLogRecord', (a, lsn) => a.readLogRecord(lsn, 'forward')],
    ['records()', (a) => a.records().next()],
    ['writeRestartArea', (a) => a.writeRestartArea(tag(1))],
    ['readRestartArea', (a) => a.readRestartArea()],
    ['advanceLogBase', (a, lsn) => a.advanceLogBase(lsn)],
    ['allocReservedLog', (a) => a.allocReservedLog(1, 4096)],
    ['freeReservedLog', (a) => a.freeReservedLog(1, 4096)],
  ];

  it.each(calls)('area.close(): later %s -> ERR_CLFS_CLOSED', async (_name, call) => {
    const { area } = await makeArea();
    await area.writeRestartArea(tag(0));
    const { lsn } = await area.reserveAndAppend(tag(0), { reservations: [10] });
    await area.close();
    await rejectsWith(call(area, lsn!), 'ERR_CLFS_CLOSED');
  });

  it('area.close(): later alignReservedLog -> ERR_CLFS_CLOSED (thrown: it is synchronous)', async () => {
    const { area } = await makeArea();
    await area.close();
    throwsWith(() => area.alignReservedLog([100]), 'ERR_CLFS_CLOSED');
  });

  it('area.close(): a second close is a no-op', async () => {
    const { area } = await makeArea();
    await area.reserveAndAppend(tag(0));
    const first = area.close();
    const second = area.close();
    await expect(first).resolves.toBeUndefined();
    await expect(second).resolves.toBeUndefined();
    await expect(area.close()).resolves.toBeUndefined();
  });

  it('area.close(): other areas of the log keep working', async () => {
    const { log, area } = await makeArea();
    const other = await log.createMarshallingArea({ bufferSize: 4096, flushIntervalMs: 0 });
    await area.reserveAndAppend(tag(0));
    await area.close();
    await other.reserveAndAppend(tag(1), { forceFlush: true });
    expect((await readAll(other)).map((r) => untag(r.data))).toEqual([0, 1]);
  });

  it('area.close(): the log can still be closed and reopened with everything in it', async () => {
    const made = await makeArea({ flushIntervalMs: 0 });
    for (let i = 0; i < 5; i++) await made.area.reserveAndAppend(tag(i));
    await made.area.close();
    await made.log.close();
    const log = await reopenLog(made.path);
    const area = await log.createMarshallingArea({ bufferSize: 16384 });
    expect((await readAll(area)).map((r) => untag(r.data))).toEqual([0, 1, 2, 3, 4]);
  });
});

describe('log.close() and areas', () => {
  it('log.close(): closes every area (later calls on them -> ERR_CLFS_CLOSED)', async () => {
    const { log, area } = await makeArea();
    const other = await log.createMarshallingArea({ bufferSize: 4096 });
    await area.reserveAndAppend(tag(0));
    await log.close();
    await rejectsWith(area.reserveAndAppend(tag(1)), 'ERR_CLFS_CLOSED');
    await rejectsWith(other.reserveAndAppend(tag(1)), 'ERR_CLFS_CLOSED');
    await expect(area.close()).resolves.toBeUndefined();
  });

  it("log.close(): frees every area's buffers and terminates their read contexts", async () => {
    const a = countingAllocator();
    const b = countingAllocator();
    const { log, area } = await makeArea({ bufferSize: 8192, allocator: a });
    const other = await log.createMarshallingArea({ bufferSize: 8192, allocator: b, flushIntervalMs: 0 });
    const { lsn } = await area.reserveAndAppend(tag(0));
    await other.reserveAndAppend(tag(1));
    const context = await other.readLogRecord(lsn!, 'forward');
    await log.close();
    expect(a.allocated.length).toBeGreaterThan(0);
    expect(b.allocated.length).toBeGreaterThan(0);
    expect(a.live).toBe(0);
    expect(b.live).toBe(0);
    await rejectsWith(context.next(), 'ERR_CLFS_CLOSED');
  });

  it('log.close(): flushes every area first (records survive reopen)', async () => {
    const made = await makeArea({ flushIntervalMs: 0 });
    const other = await made.log.createMarshallingArea({ bufferSize: 4096, flushIntervalMs: 0 });
    await made.area.reserveAndAppend(tag(0));
    await other.reserveAndAppend(tag(1));
    await made.area.reserveAndAppend(tag(2));
    await made.log.close();
    const log = await reopenLog(made.path);
    const area = await log.createMarshallingArea({ bufferSize: 16384 });
    expect((await readAll(area)).map((r) => untag(r.data))).toEqual([0, 1, 2]);
  });

  it('log.createMarshallingArea after log.close() -> ERR_CLFS_CLOSED', async () => {
    const { log } = await makeArea();
    await log.close();
    await rejectsWith(log.createMarshallingArea({ bufferSize: 4096 }), 'ERR_CLFS_CLOSED');
  });
});
