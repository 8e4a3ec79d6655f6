// Several marshalling areas writing one log. CLFS: LSNs of a stream strictly
// increase whichever area appended; each area has its own log I/O buffers
// (cMaxWriteBuffers caps the area's own). clfs's open block is the log's:
// areas appending in turn share it instead of sealing one per switch.
import { describe, expect, it } from 'vitest';

import { Lsn, type MarshallingArea } from '../../lib/index.ts';
import { Log } from '../../lib/log/log.ts';
import { MemoryStorage, emptyImage } from '../../lib/storage/memory-storage.ts';
import { makeArea, readAll, reopenLog, tag, untag } from '../support/area.ts';
import { KiB } from '../support/fixtures.ts';

describe('two marshalling areas appending in turn', () => {
  it('ClfsReserveAndAppendLog (one log block for any area, LSNs strictly increase): 40 alternating 10-byte appends of two areas share blocks', async () => {
    const { log, area } = await makeArea({ bufferSize: 65536 });
    const other = await log.createMarshallingArea({ bufferSize: 65536, flushIntervalMs: 0 });
    const sector = log.information().sectorSize;
    const before = log.ioStatistics();
    const lsns: Lsn[] = [];
    for (let i = 0; i < 40; i++) lsns.push((await (i % 2 === 0 ? area : other).reserveAndAppend(tag(i))).lsn!);
    await other.flushBuffers();
    const after = log.ioStatistics();
    // One area writes these in one block of one sector; so do two (before: 40 blocks, 160 KiB).
    expect(after.blocksWritten - before.blocksWritten).toBe(1);
    expect(after.bytesFlushed - before.bytesFlushed).toBeLessThanOrEqual(2 * sector);
    for (let i = 1; i < lsns.length; i++) expect(lsns[i]! > lsns[i - 1]!).toBe(true);
    expect((await readAll(area)).map((r) => untag(r.data))).toEqual([...Array(40).keys()]);
  });

  it('ClfsFlushToLsn (every record up to the LSN is durable): a flush of one area makes the records of the other in the shared block durable', async () => {
    const { log, area } = await makeArea({ bufferSize: 65536 });
    const other = await log.createMarshallingArea({ bufferSize: 65536, flushIntervalMs: 0 });
    const a = await area.reserveAndAppend(tag(1));
    const b = await other.reserveAndAppend(tag(2));
    expect(log.information().lastFlushedLsn).toBe(Lsn.INVALID);
    await other.flushToLsn(b.lsn);
    expect(log.information().lastFlushedLsn >= b.lsn!).toBe(true);
    expect(log.information().lastFlushedLsn >= a.lsn!).toBe(true);
  });

  it('ClfsDeleteMarshallingArea (flushes first): closing the area whose buffer holds the open block keeps the other area records, durable', async () => {
    const { log, area, path } = await makeArea({ bufferSize: 65536 });
    const other = await log.createMarshallingArea({ bufferSize: 8192, flushIntervalMs: 0 });
    await area.reserveAndAppend(tag(1));
    await other.reserveAndAppend(tag(2));
    await other.reserveAndAppend(tag(3));
    await area.close();
    // The other area goes on after the first closed: its own buffers now.
    await other.reserveAndAppend(tag(4));
    await other.close();
    await log.close();
    const again = await reopenLog(path);
    const reader = await again.createMarshallingArea({ bufferSize: 65536 });
    expect((await readAll(reader)).map((r) => untag(r.data))).toEqual([1, 2, 3, 4]);
  });

  it('a record too large for the open block (the other area has smaller buffers) starts a block of its own area', async () => {
    const { log, area } = await makeArea({ bufferSize: 4096 });
    const big = await log.createMarshallingArea({ bufferSize: 65536, flushIntervalMs: 0 });
    await area.reserveAndAppend(tag(1));
    const { lsn } = await big.reserveAndAppend(new Uint8Array(20000));
    await area.reserveAndAppend(tag(2));
    await big.flushBuffers();
    const records = await readAll(area.bufferSize < 65536 ? big : area);
    expect(records.map((r) => r.data.byteLength)).toEqual([4, 20000, 4]);
    expect(records[1]!.lsn).toBe(lsn);
  });
});

describe('an area waiting for one of its own write buffers', () => {
  /**
   * A memory storage whose container writes wait while `hold` is set (the
   * area's buffers stay in flight), and its reads while `holdReads` is.
   */
  class Held extends MemoryStorage {
    hold: Promise<void> | undefined;
    holdReads: Promise<void> | undefined;
    override async write(...args: Parameters<MemoryStorage['write']>): Promise<void> {
      if (this.hold !== undefined) await this.hold;
      return super.write(...args);
    }
    override async read(...args: Parameters<MemoryStorage['read']>): ReturnType<MemoryStorage['read']> {
      if (this.holdReads !== undefined) await this.holdReads;
      return super.read(...args);
    }
  }

  /** A log on a Held storage, with a `slow` area of one write buffer and an `other` area of no limit. */
  async function heldLog(): Promise<{ storage: Held; log: Log; slow: MarshallingArea; other: MarshallingArea }> {
    const image = emptyImage();
    for (let i = 0; i < 2; i++) image.containers.push(new Uint8Array(512 * KiB));
    await Log.initializeStorage(new MemoryStorage(image), 512 * KiB, 2, 0);
    const storage = new Held(image);
    const log = await Log.openStorage('memory', storage, 'strict');
    const slow = await log.createMarshallingArea({ bufferSize: 4096, maxWriteBuffers: 1, flushIntervalMs: 0 });
    const other = await log.createMarshallingArea({ bufferSize: 4096, flushIntervalMs: 0 });
    return { storage, log, slow, other };
  }

  it('cMaxWriteBuffers (per area): an area at its maxWriteBuffers waits alone: another area appends meanwhile; LSNs keep each area call order', async () => {
    const { storage, log, slow, other } = await heldLog();
    let release!: () => void;
    storage.hold = new Promise((resolve) => (release = resolve));
    const first = await slow.reserveAndAppend(new Uint8Array(3000).fill(1));
    // Does not fit in the block its one buffer holds: that block is sealed,
    // its write held, and the append waits for the buffer to come back.
    let waited = false;
    const second = slow.reserveAndAppend(new Uint8Array(3000).fill(2)).then((r) => ((waited = true), r));
    const third = slow.reserveAndAppend(new Uint8Array(10).fill(3));
    // The other area's appends do not wait behind it.
    const others: Lsn[] = [];
    for (let i = 0; i < 10; i++) others.push((await other.reserveAndAppend(tag(i))).lsn!);
    expect(waited).toBe(false);
    expect(slow.buffersAllocated.write).toBe(1);
    release();
    storage.hold = undefined;
    const [a, b] = [(await second).lsn!, (await third).lsn!];
    // The slow area's records in its call order, after its first; the other area's in theirs.
    expect(first.lsn! < a && a < b).toBe(true);
    for (let i = 1; i < others.length; i++) expect(others[i]! > others[i - 1]!).toBe(true);
    expect(others[0]! > first.lsn!).toBe(true);
    await other.flushBuffers();
    await slow.flushBuffers();
    const records = await readAll(other);
    expect(records.map((r) => r.lsn)).toEqual([first.lsn!, ...[...others, a, b].sort((x, y) => (x < y ? -1 : 1))]);
    await log.close();
  });

  /** How `call` settles within 2 s; 'pending' if it has not (a hang, reported instead of a test timeout). */
  async function settles(call: Promise<unknown>): Promise<'fulfilled' | 'rejected' | 'pending'> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'pending'>((resolve) => (timer = setTimeout(() => resolve('pending'), 2000)));
    const done = call.then(
      () => 'fulfilled' as const,
      () => 'rejected' as const,
    );
    const outcome = await Promise.race([done, late]);
    clearTimeout(timer);
    return outcome;
  }

  it("ClfsDeleteMarshallingArea (calls made before it run to their end): two appends queued behind another area's turn, which then wait outside it for the area's one write buffer, settle and are durable", async () => {
    const { storage, log, slow, other } = await heldLog();
    const base = (await other.reserveAndAppend(tag(0), { forceFlush: true })).lsn!;
    await slow.reserveAndAppend(new Uint8Array(3000).fill(1));
    let releaseReads!: () => void;
    let releaseWrites!: () => void;
    storage.holdReads = new Promise((resolve) => (releaseReads = resolve));
    storage.hold = new Promise((resolve) => (releaseWrites = resolve));
    // The other area's restart area holds the log's turn while it reads the new base's block.
    const restart = other.writeRestartArea(tag(100), { newBaseLsn: base });
    // Queued in the log's turn behind it when the close begins (the area has
    // no call waiting outside the turn yet). At their turns the open block
    // (in the slow area's one buffer) has no room: both leave the turn to
    // wait for that buffer, the second for the one the first then fills.
    const second = slow.reserveAndAppend(new Uint8Array(3000).fill(2));
    const third = slow.reserveAndAppend(new Uint8Array(3000).fill(3));
    const closed = slow.close();
    storage.holdReads = undefined;
    releaseReads();
    await new Promise((resolve) => setTimeout(resolve, 10));
    storage.hold = undefined;
    releaseWrites();
    const outcomes = await Promise.all([second, third, closed, restart].map(settles));
    expect(outcomes).toEqual(Array(4).fill('fulfilled'));
    const lsns = new Set((await readAll(other)).map((r) => r.lsn));
    for (const call of [second, third]) expect(lsns.has((await call).lsn!)).toBe(true);
    await log.close();
  });
});
