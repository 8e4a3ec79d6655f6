// ClfsReadLogRecord / ClfsReadNextLogRecord / ClfsTerminateReadLog: the read
// modes, the record-type filter, user LSNs, where blocks are read from, and
// the errors for LSNs that name no readable record.
import { describe, expect, it } from 'vitest';

import { Lsn, type MarshallingArea, type ReadMode } from '../../lib/index.ts';
import { makeArea, readAll, rejectsWith, reopenLog, tag, untag } from '../support/area.ts';
import { itWhere, not4096Sectors } from '../support/platform.ts';

const NOT_4K = await not4096Sectors();

/**
 * Ten records: two interleaved transactions (even and odd tags) chained by
 * previousLsn; undoNextLsn of each even record skips one back (ARIES-style
 * compensation), so the undo-next chain of record 8 is 8, 4, 0.
 */
async function chained(area: MarshallingArea, flush = true): Promise<Lsn[]> {
  const lsns: Lsn[] = [];
  for (let i = 0; i < 10; i++) {
    const previousLsn = i >= 2 ? lsns[i - 2]! : Lsn.INVALID;
    const undoNextLsn = i >= 4 && i % 2 === 0 ? lsns[i - 4]! : Lsn.INVALID;
    // Some records fill most of a block, so the chain crosses blocks.
    const data = new Uint8Array(i % 3 === 0 ? 3000 : 4);
    data.set(tag(i));
    lsns.push((await area.reserveAndAppend(data, { previousLsn, undoNextLsn, forceFlush: flush && i % 4 === 3 })).lsn!);
  }
  if (flush) await area.flushBuffers();
  return lsns;
}

async function walk(area: MarshallingArea, lsn: Lsn, mode: ReadMode): Promise<number[]> {
  const context = await area.readLogRecord(lsn, mode);
  const seen = [untag(context.record.data)];
  for (let record = await context.next(); record !== null; record = await context.next()) seen.push(untag(record.data));
  context.terminate();
  return seen;
}

describe('ClfsReadLogRecord: modes', () => {
  it("ClfsReadLogRecord 'forward': the context is on the record named, next() returns each later record, then null", async () => {
    const { area } = await makeArea({ bufferSize: 4096 });
    const lsns = await chained(area);
    const context = await area.readLogRecord(lsns[2]!, 'forward');
    expect(context.record.lsn).toBe(lsns[2]);
    expect(context.record.type).toBe('data');
    const seen = [];
    for (let record = await context.next(); record !== null; record = await context.next()) seen.push(record.lsn);
    expect(seen).toEqual(lsns.slice(3));
    expect(await context.next()).toBeNull();
    context.terminate();
  });

  it("ClfsReadLogRecord 'forward': reads records on disk and records still in write buffers in one pass", async () => {
    const { area } = await makeArea({ bufferSize: 4096 });
    const lsns = await chained(area);
    for (let i = 10; i < 15; i++) lsns.push((await area.reserveAndAppend(tag(i))).lsn!);
    expect(await walk(area, lsns[0]!, 'forward')).toEqual([...Array(15).keys()]);
  });

  itWhere(NOT_4K, "ClfsReadLogRecord 'forward': reads on across a container boundary", async () => {
    const { area } = await makeArea({ bufferSize: 4096 }, { containerSize: 512 * 1024 });
    const lsns: Lsn[] = [];
    for (let i = 0; i < 160; i++) {
      const data = new Uint8Array(3000);
      data.set(tag(i));
      lsns.push((await area.reserveAndAppend(data)).lsn!);
    }
    await area.flushBuffers();
    expect(Lsn.containerId(lsns.at(-1)!)).toBeGreaterThan(Lsn.containerId(lsns[0]!));
    expect(await walk(area, lsns[0]!, 'forward')).toEqual([...Array(160).keys()]);
  });

  it("ClfsReadLogRecord 'previous': next() follows previousLsn and returns null when it is Lsn.INVALID", async () => {
    const { area } = await makeArea({ bufferSize: 4096 });
    const lsns = await chained(area);
    expect(await walk(area, lsns[9]!, 'previous')).toEqual([9, 7, 5, 3, 1]);
    expect(await walk(area, lsns[8]!, 'previous')).toEqual([8, 6, 4, 2, 0]);
  });

  it("ClfsReadLogRecord 'undoNext': next() follows undoNextLsn and returns null when the chain ends", async () => {
    const { area } = await makeArea({ bufferSize: 4096 });
    const lsns = await chained(area);
    expect(await walk(area, lsns[8]!, 'undoNext')).toEqual([8, 4, 0]);
    expect(await walk(area, lsns[3]!, 'undoNext')).toEqual([3]);
  });

  it("ClfsReadLogRecord 'previous': follows chains through records not yet on disk", async () => {
    const { log, area } = await makeArea({ bufferSize: 65536 });
    const lsns = await chained(area, false);
    expect(log.information().lastFlushedLsn).toBe(Lsn.INVALID);
    expect(await walk(area, lsns[9]!, 'previous')).toEqual([9, 7, 5, 3, 1]);
  });

  it('ClfsReadNextLogRecord: after null, next() keeps returning null', async () => {
    const { area } = await makeArea();
    const { lsn } = await area.reserveAndAppend(tag(0));
    const context = await area.readLogRecord(lsn!, 'previous');
    expect(await context.next()).toBeNull();
    expect(await context.next()).toBeNull();
    context.terminate();
  });
});

describe('ClfsReadNextLogRecord: record type filter', () => {
  async function mixed(area: MarshallingArea) {
    const a = (await area.reserveAndAppend(tag(0))).lsn!;
    const r1 = (await area.writeRestartArea(tag(100))).lsn;
    const b = (await area.reserveAndAppend(tag(1))).lsn!;
    const r2 = (await area.writeRestartArea(tag(101))).lsn;
    const c = (await area.reserveAndAppend(tag(2), { forceFlush: true })).lsn!;
    return { a, b, c, r1, r2 };
  }

  it("type filter: the default ('data') skips restart records", async () => {
    const { area } = await makeArea();
    const { a } = await mixed(area);
    expect(await walk(area, a, 'forward')).toEqual([0, 1, 2]);
  });

  it("type filter: 'restart' reads only restart records", async () => {
    const { area } = await makeArea();
    const { r1, r2 } = await mixed(area);
    const context = await area.readLogRecord(r1, 'forward', { type: 'restart' });
    expect(context.record.type).toBe('restart');
    const next = await context.next();
    expect(next?.lsn).toBe(r2);
    expect(next?.type).toBe('restart');
    expect(untag(next!.data)).toBe(101);
    expect(await context.next()).toBeNull();
    context.terminate();
  });

  it("type filter: 'client' reads data and restart records", async () => {
    const { area } = await makeArea();
    const { a, b, c, r1, r2 } = await mixed(area);
    const context = await area.readLogRecord(a, 'forward', { type: 'client' });
    const seen = [[context.record.lsn, context.record.type]];
    for (let r = await context.next(); r !== null; r = await context.next()) seen.push([r.lsn, r.type]);
    expect(seen).toEqual([
      [a, 'data'],
      [r1, 'restart'],
      [b, 'data'],
      [r2, 'restart'],
      [c, 'data'],
    ]);
    context.terminate();
  });

  it("type filter: next({ userLsn }) naming a restart record never yields it on a 'data' context", async () => {
    const { area } = await makeArea();
    const { a, b, r1 } = await mixed(area);
    const context = await area.readLogRecord(b, 'previous');
    expect(context.record.lsn).toBe(b);
    expect(r1 > a && r1 < b).toBe(true);
    let record;
    try {
      record = await context.next({ userLsn: r1 });
    } catch (error) {
      // Refusing the LSN is fine too.
      expect(error).toMatchObject({ code: 'ERR_CLFS_INVALID_LSN' });
    }
    if (record !== undefined && record !== null) expect(record.type).toBe('data');
    context.terminate();
  });

  it('type filter: readLogRecord on a record of a type the filter excludes -> ERR_CLFS_INVALID_LSN', async () => {
    const { area } = await makeArea({ maxReadBuffers: 1 });
    const { a, r1 } = await mixed(area);
    await rejectsWith(area.readLogRecord(r1, 'forward'), 'ERR_CLFS_INVALID_LSN');
    await rejectsWith(area.readLogRecord(a, 'forward', { type: 'restart' }), 'ERR_CLFS_INVALID_LSN');
    // The refused contexts hold no buffer.
    (await area.readLogRecord(a, 'forward')).terminate();
  });
});

describe('ClfsReadNextLogRecord: userLsn', () => {
  it("userLsn: next({ userLsn }) in 'previous' mode reads that older record, then follows its chain", async () => {
    const { area } = await makeArea({ bufferSize: 4096 });
    const lsns = await chained(area);
    const context = await area.readLogRecord(lsns[9]!, 'previous');
    const jumped = await context.next({ userLsn: lsns[4]! });
    expect(jumped?.lsn).toBe(lsns[4]);
    expect(untag(jumped!.data)).toBe(4);
    expect(untag((await context.next())!.data)).toBe(2);
    context.terminate();
  });

  it("userLsn: next({ userLsn }) in 'undoNext' mode reads that older record", async () => {
    const { area } = await makeArea({ bufferSize: 4096 });
    const lsns = await chained(area);
    const context = await area.readLogRecord(lsns[8]!, 'undoNext');
    expect((await context.next({ userLsn: lsns[5]! }))?.lsn).toBe(lsns[5]);
    context.terminate();
  });

  it('userLsn: not older than the current record -> ERR_INVALID_ARG_VALUE', async () => {
    const { area } = await makeArea({ bufferSize: 4096 });
    const lsns = await chained(area);
    const context = await area.readLogRecord(lsns[5]!, 'previous');
    await rejectsWith(context.next({ userLsn: lsns[5]! }), 'ERR_INVALID_ARG_VALUE');
    await rejectsWith(context.next({ userLsn: lsns[7]! }), 'ERR_INVALID_ARG_VALUE');
    // The context is unharmed.
    expect(untag((await context.next())!.data)).toBe(3);
    context.terminate();
  });

  it('userLsn: a next() that fails part way leaves the context where it was (found by the simulator)', async () => {
    const { area } = await makeArea({ bufferSize: 4096 });
    const a = (await area.reserveAndAppend(tag(1))).lsn!;
    const b = (await area.reserveAndAppend(tag(2), { previousLsn: a })).lsn!;
    await area.writeRestartArea(tag(3), { newBaseLsn: b });
    const { context, lsn } = await area.readRestartArea();
    // b is a data record: a restart context goes on along b's chain, to a,
    // which is below the base.
    await rejectsWith(context.next({ userLsn: b }), 'ERR_CLFS_START_OF_LOG');
    expect(context.record.lsn).toBe(lsn);
    // From the restart area itself the chain ends: it had no previous one.
    expect(await context.next()).toBeNull();
    context.terminate();
  });

  it('userLsn: a chain that ends past records of another type leaves the context on the record it gave last, so a userLsn older than that is accepted (found by the simulator)', async () => {
    const { area } = await makeArea({ bufferSize: 4096 });
    const a = (await area.reserveAndAppend(tag(1))).lsn!;
    const { lsn: restart } = await area.writeRestartArea(tag(2));
    // b's previous record is the restart record: a 'data' context passes it, and the chain ends there.
    const b = (await area.reserveAndAppend(tag(3), { previousLsn: restart })).lsn!;
    const context = await area.readLogRecord(b, 'previous');
    expect(await context.next()).toBeNull();
    expect(context.record.lsn).toBe(b);
    // a is older than b, the context's record: read it (it was refused as not older than the restart record).
    const jumped = await context.next({ userLsn: a });
    expect(jumped?.lsn).toBe(a);
    expect(untag(jumped!.data)).toBe(1);
    context.terminate();
  });

  it("userLsn: in 'forward' mode -> ERR_INVALID_ARG_VALUE", async () => {
    const { area } = await makeArea({ bufferSize: 4096 });
    const lsns = await chained(area);
    const context = await area.readLogRecord(lsns[5]!, 'forward');
    await rejectsWith(context.next({ userLsn: lsns[1]! }), 'ERR_INVALID_ARG_VALUE');
    context.terminate();
  });

  it('userLsn: naming no record -> ERR_CLFS_INVALID_LSN', async () => {
    const { area } = await makeArea({ bufferSize: 4096 });
    const lsns = await chained(area);
    const context = await area.readLogRecord(lsns[9]!, 'previous');
    await rejectsWith(context.next({ userLsn: lsns[0]! + 300n }), 'ERR_CLFS_INVALID_LSN');
    context.terminate();
  });

  it('userLsn: not a bigint -> ERR_INVALID_ARG_TYPE', async () => {
    const { area } = await makeArea({ bufferSize: 4096 });
    const lsns = await chained(area);
    const context = await area.readLogRecord(lsns[9]!, 'previous');
    await rejectsWith(context.next({ userLsn: 1 as unknown as bigint }), 'ERR_INVALID_ARG_TYPE');
    context.terminate();
  });
});

describe('ClfsTerminateReadLog', () => {
  it('ClfsTerminateReadLog: next() on a terminated context -> ERR_CLFS_CLOSED', async () => {
    const { area } = await makeArea();
    const lsns = await chained(area);
    const context = await area.readLogRecord(lsns[0]!, 'forward');
    context.terminate();
    await rejectsWith(context.next(), 'ERR_CLFS_CLOSED');
  });

  it('ClfsTerminateReadLog: terminating twice is harmless and frees the buffer once', async () => {
    const { area } = await makeArea({ maxReadBuffers: 2 });
    const lsns = await chained(area);
    const a = await area.readLogRecord(lsns[0]!, 'forward');
    const b = await area.readLogRecord(lsns[1]!, 'forward');
    a.terminate();
    a.terminate();
    const c = await area.readLogRecord(lsns[2]!, 'forward');
    // b and c hold both buffers: a's double terminate freed only one.
    await rejectsWith(area.readLogRecord(lsns[3]!, 'forward'), 'ERR_CLFS_BLOCKS_EXHAUSTED');
    b.terminate();
    c.terminate();
  });

  it('ClfsTerminateReadLog: `await using` (Symbol.asyncDispose) terminates the context', async () => {
    const { area } = await makeArea({ maxReadBuffers: 1 });
    const lsns = await chained(area);
    let escaped;
    {
      await using context = await area.readLogRecord(lsns[0]!, 'forward');
      escaped = context;
      expect(untag((await context.next())!.data)).toBe(1);
    }
    await rejectsWith(escaped.next(), 'ERR_CLFS_CLOSED');
    (await area.readLogRecord(lsns[0]!, 'forward')).terminate();
  });
});

describe('area.records()', () => {
  it('area.records(): yields every record in order, from the base', async () => {
    const { area } = await makeArea({ bufferSize: 4096 });
    const lsns = await chained(area);
    const read = await readAll(area);
    expect(read.map((r) => r.lsn)).toEqual(lsns);
    expect(read.map((r) => untag(r.data))).toEqual([...Array(10).keys()]);
  });

  it('area.records(): starts at the base after the base moved', async () => {
    const { area } = await makeArea({ bufferSize: 4096 });
    const lsns = await chained(area);
    await area.advanceLogBase(lsns[4]!);
    expect((await readAll(area)).map((r) => untag(r.data))).toEqual([4, 5, 6, 7, 8, 9]);
  });

  it("area.records(fromLsn, 'previous'): follows the previous chain from fromLsn", async () => {
    const { area } = await makeArea({ bufferSize: 4096 });
    const lsns = await chained(area);
    const seen = [];
    for await (const record of area.records(lsns[7]!, 'previous')) seen.push(untag(record.data));
    expect(seen).toEqual([7, 5, 3, 1]);
  });

  it('area.records(): leaving the loop early terminates its read context', async () => {
    const { area } = await makeArea({ bufferSize: 4096, maxReadBuffers: 1 });
    const lsns = await chained(area);
    for await (const record of area.records()) {
      if (untag(record.data) === 2) break;
    }
    (await area.readLogRecord(lsns[0]!, 'forward')).terminate();
  });

  it('area.records(): type filters skip records of the other type inside one block', async () => {
    const { area } = await makeArea({ bufferSize: 65536 });
    const restart: Lsn[] = [];
    for (let i = 0; i < 12; i++) {
      if (i % 4 === 3) restart.push((await area.writeRestartArea(tag(i))).lsn);
      else await area.reserveAndAppend(tag(i));
    }
    await area.flushBuffers();
    const seen = async (type: 'data' | 'restart' | 'client'): Promise<number[]> => {
      const out: number[] = [];
      for await (const r of area.records(undefined, 'forward', { type, view: true })) out.push(untag(r.data));
      return out;
    };
    expect(await seen('data')).toEqual([0, 1, 2, 4, 5, 6, 8, 9, 10]);
    expect(await seen('restart')).toEqual([3, 7, 11]);
    expect(await seen('client')).toEqual([...Array(12).keys()]);
    const fromRestart = [];
    for await (const r of area.records(restart[0], 'forward', { type: 'client' })) fromRestart.push(r.lsn);
    expect(fromRestart[0]).toBe(restart[0]);
  });

  it('area.records(): a base moved past the iteration inside its block gives ERR_CLFS_START_OF_LOG', async () => {
    const { area } = await makeArea({ bufferSize: 65536 });
    const lsns: Lsn[] = [];
    for (let i = 0; i < 10; i++) lsns.push((await area.reserveAndAppend(tag(i))).lsn!);
    await area.flushBuffers();
    const seen: number[] = [];
    const scan = async (): Promise<void> => {
      for await (const r of area.records()) {
        seen.push(untag(r.data));
        if (seen.length === 2) await area.advanceLogBase(lsns[6]!);
      }
    };
    await rejectsWith(scan(), 'ERR_CLFS_START_OF_LOG');
    expect(seen).toEqual([0, 1]);
  });

  it('area.records(): records appended while iterating are yielded too', async () => {
    const { area } = await makeArea({ bufferSize: 65536 });
    for (let i = 0; i < 3; i++) await area.reserveAndAppend(tag(i));
    const seen: number[] = [];
    for await (const r of area.records()) {
      seen.push(untag(r.data));
      if (seen.length === 2) await area.reserveAndAppend(tag(3));
    }
    expect(seen).toEqual([0, 1, 2, 3]);
  });

  it('area.records(): yields nothing on an empty log', async () => {
    const { area } = await makeArea();
    expect(await readAll(area)).toEqual([]);
  });
});

describe('where records are read from', () => {
  it('reading: records not yet on disk are read from the write buffers, without container reads', async () => {
    const { log, area } = await makeArea({ bufferSize: 65536 });
    for (let i = 0; i < 20; i++) await area.reserveAndAppend(tag(i));
    expect(log.information().lastFlushedLsn).toBe(Lsn.INVALID);
    const reads = log.ioStatistics().reads;
    expect((await readAll(area)).map((r) => untag(r.data))).toEqual([...Array(20).keys()]);
    expect(log.ioStatistics().reads).toBe(reads);
  });

  it('reading: a block another context has read is served without I/O', async () => {
    const made = await makeArea({ bufferSize: 65536 });
    const lsns: Lsn[] = [];
    for (let i = 0; i < 20; i++) lsns.push((await made.area.reserveAndAppend(tag(i))).lsn!);
    await made.log.close();
    // Reopened: every block is on disk only.
    const log = await reopenLog(made.path);
    const area = await log.createMarshallingArea({ bufferSize: 65536 });
    const before = log.ioStatistics().reads;
    const first = await area.readLogRecord(lsns[3]!, 'forward');
    const afterFirst = log.ioStatistics().reads;
    expect(afterFirst).toBeGreaterThan(before);
    const second = await area.readLogRecord(lsns[10]!, 'forward');
    expect(untag(second.record.data)).toBe(10);
    expect(log.ioStatistics().reads).toBe(afterFirst);
    first.terminate();
    second.terminate();
  });

  it("reading 'forward' with { view: true } over many blocks on disk: every record intact, about one container read per buffer of blocks", async () => {
    // Forward reads look at each block's follower before serving it (a lost
    // write leaves an older block that only its follower can expose); when
    // the follower is past the buffer, the block is read again from its own
    // start, so the look costs no extra read.
    const made = await makeArea({ bufferSize: 4096 });
    const lsns: Lsn[] = [];
    for (let i = 0; i < 200; i++) {
      const data = new Uint8Array(1000 + (i % 5) * 500);
      data.fill(i % 251);
      data.set(tag(i));
      lsns.push((await made.area.reserveAndAppend(data, { forceFlush: true })).lsn!);
    }
    await made.log.close();
    const log = await reopenLog(made.path);
    const area = await log.createMarshallingArea({ bufferSize: 65536, flushIntervalMs: 0 });
    const before = log.ioStatistics().reads;
    const context = await area.readLogRecord(lsns[0]!, 'forward', { view: true });
    const seen: number[] = [];
    for (let record = context.record; record !== null; record = (await context.next())!) {
      const i = untag(record.data);
      expect(record.lsn).toBe(lsns[i]);
      expect(record.data.byteLength).toBe(1000 + (i % 5) * 500);
      expect(record.data.subarray(4).every((b) => b === i % 251)).toBe(true);
      seen.push(i);
      if (i === 199) break;
    }
    context.terminate();
    expect(seen).toEqual([...Array(200).keys()]);
    // 200 blocks of at most 4 KiB: about 16 per 64 KiB read, so about 13
    // reads (a separate read of each follower's header would make it 26).
    expect(log.ioStatistics().reads - before).toBeLessThanOrEqual(20);
  });
});

describe('block sizes and buffer sizes', () => {
  it('reading: an area with smaller buffers reads blocks that fit them, even if written by an area with larger buffers', async () => {
    const { log, area: big } = await makeArea({ bufferSize: 65536 });
    const small = await log.createMarshallingArea({ bufferSize: 4096 });
    const lsns: Lsn[] = [];
    for (let i = 0; i < 5; i++) lsns.push((await big.reserveAndAppend(tag(i), { forceFlush: true })).lsn!);
    expect((await readAll(small)).map((r) => untag(r.data))).toEqual([0, 1, 2, 3, 4]);
  });
});

describe('ClfsReadLogRecord: LSNs that name no readable record', () => {
  async function setup() {
    const made = await makeArea({ bufferSize: 16384, maxReadBuffers: 1 });
    const lsns: Lsn[] = [];
    // Block 1 (flushed): records 0..4; block 2 (flushed): record 5; then 6..7 in memory.
    for (let i = 0; i < 5; i++) lsns.push((await made.area.reserveAndAppend(tag(i))).lsn!);
    await made.area.flushBuffers();
    lsns.push((await made.area.reserveAndAppend(tag(5), { forceFlush: true })).lsn!);
    for (let i = 6; i < 8; i++) lsns.push((await made.area.reserveAndAppend(tag(i))).lsn!);
    return { ...made, lsns };
  }

  it('reading: an LSN below the base -> ERR_CLFS_START_OF_LOG', async () => {
    const { area, lsns } = await setup();
    await area.advanceLogBase(lsns[5]!);
    await rejectsWith(area.readLogRecord(lsns[2]!, 'forward'), 'ERR_CLFS_START_OF_LOG');
    await rejectsWith(area.readLogRecord(Lsn.NULL, 'forward'), 'ERR_CLFS_START_OF_LOG');
    expect(untag((await area.readLogRecord(lsns[5]!, 'forward')).record.data)).toBe(5);
  });

  it("reading: 'previous' reaching a record below the base -> ERR_CLFS_START_OF_LOG", async () => {
    const { area } = await makeArea({ bufferSize: 4096 });
    const lsns = await chained(area);
    await area.advanceLogBase(lsns[6]!);
    const context = await area.readLogRecord(lsns[9]!, 'previous');
    expect(untag((await context.next())!.data)).toBe(7);
    await rejectsWith(context.next(), 'ERR_CLFS_START_OF_LOG');
    context.terminate();
  });

  it("reading: 'forward' next() from a context the base has moved past -> ERR_CLFS_START_OF_LOG, not a record below the base", async () => {
    const { area } = await makeArea({ bufferSize: 4096 });
    const lsns: Lsn[] = [];
    for (let i = 0; i < 10; i++) lsns.push((await area.reserveAndAppend(new Uint8Array(3000).fill(i))).lsn!);
    await area.flushBuffers();
    const context = await area.readLogRecord(lsns[0]!, 'forward');
    await area.advanceLogBase(lsns[5]!);
    await rejectsWith(context.next(), 'ERR_CLFS_START_OF_LOG');
    context.terminate();
  });

  itWhere(
    NOT_4K,
    "reading: 'forward' next() from a context whose container was recycled -> ERR_CLFS_START_OF_LOG, not ERR_CLFS_CORRUPT",
    async () => {
      // Two 512 KiB containers; each 3000-byte record fills a 4 KiB block.
      const { log, area } = await makeArea({ bufferSize: 4096 }, { containerSize: 512 * 1024, containers: 2 });
      const record = (i: number) => new Uint8Array(3000).fill(i & 0xff);
      const lsns: Lsn[] = [];
      for (let i = 0; i < 10; i++) lsns.push((await area.reserveAndAppend(record(i))).lsn!);
      await area.flushBuffers();
      const context = await area.readLogRecord(lsns[5]!, 'forward');
      for (let i = 10; i < 200; i++) lsns.push((await area.reserveAndAppend(record(i))).lsn!);
      await area.advanceLogBase(lsns[150]!);
      // Into a third logical container: the first physical one is reused.
      for (let i = 200; i < 320; i++) lsns.push((await area.reserveAndAppend(record(i))).lsn!);
      await area.flushBuffers();
      expect(Lsn.containerId(lsns.at(-1)!)).toBe(3);
      expect(log.information().baseLsn).toBe(lsns[150]);
      await rejectsWith(context.next(), 'ERR_CLFS_START_OF_LOG');
      context.terminate();
    },
  );

  it('reading: a record sequence beyond the records of a block on disk -> ERR_CLFS_INVALID_LSN', async () => {
    const { area, lsns } = await setup();
    await rejectsWith(area.readLogRecord(lsns[4]! + 1n, 'forward'), 'ERR_CLFS_INVALID_LSN');
    await rejectsWith(area.readLogRecord(lsns[0]! + 511n, 'forward'), 'ERR_CLFS_INVALID_LSN');
  });

  it('reading: a record sequence beyond the records of a block in memory -> ERR_CLFS_INVALID_LSN', async () => {
    const { area, lsns } = await setup();
    // lsns[7] is the last record, so lsns[7] + 1 is beyond lastLsn too: use
    // a sequence inside the range of the in-memory block instead.
    await area.reserveAndAppend(tag(8));
    await rejectsWith(area.readLogRecord(lsns[6]! + 5n, 'forward'), 'ERR_CLFS_INVALID_LSN');
  });

  itWhere(NOT_4K, 'reading: a block offset where no block starts -> ERR_CLFS_INVALID_LSN', async () => {
    const { area, lsns } = await setup();
    const first = lsns[0]!;
    for (const offset of [512, 1024, 2048]) {
      const lsn = Lsn.create(Lsn.containerId(first), Lsn.blockOffset(first) + offset, 0);
      await rejectsWith(area.readLogRecord(lsn, 'forward'), 'ERR_CLFS_INVALID_LSN');
    }
  });

  it('reading: an LSN beyond lastLsn (or Lsn.INVALID) -> ERR_CLFS_INVALID_LSN', async () => {
    const { log, area } = await setup();
    const last = log.information().lastLsn;
    await rejectsWith(area.readLogRecord(last + 1n, 'forward'), 'ERR_CLFS_INVALID_LSN');
    await rejectsWith(area.readLogRecord(last + 0x1000n, 'forward'), 'ERR_CLFS_INVALID_LSN');
    await rejectsWith(area.readLogRecord(Lsn.create(50, 0, 0), 'forward'), 'ERR_CLFS_INVALID_LSN');
    await rejectsWith(area.readLogRecord(Lsn.INVALID, 'forward'), 'ERR_CLFS_INVALID_LSN');
  });

  it('reading: after refused LSNs the area still reads (no buffer kept)', async () => {
    const { log, area, lsns } = await setup();
    await rejectsWith(area.readLogRecord(log.information().lastLsn + 1n, 'forward'), 'ERR_CLFS_INVALID_LSN');
    await rejectsWith(area.readLogRecord(lsns[4]! + 1n, 'forward'), 'ERR_CLFS_INVALID_LSN');
    const context = await area.readLogRecord(lsns[0]!, 'forward');
    expect(untag(context.record.data)).toBe(0);
    context.terminate();
  });
});

describe('ReadContext: records and concurrency', () => {
  it('record.data is the caller’s copy: changing it does not change a later read', async () => {
    const { area } = await makeArea();
    const { lsn } = await area.reserveAndAppend(tag(42), { forceFlush: true });
    const context = await area.readLogRecord(lsn!, 'forward');
    expect(context.record.data.byteOffset).toBe(0);
    expect(context.record.data.buffer.byteLength).toBe(4);
    context.record.data.fill(0xff);
    context.terminate();
    const again = await area.readLogRecord(lsn!, 'forward');
    expect(untag(again.record.data)).toBe(42);
    again.terminate();
  });

  it('{ view: true }: record.data is a view into the read buffer, not a copy', async () => {
    const { area } = await makeArea();
    const { lsn } = await area.reserveAndAppend(tag(42), { forceFlush: true });
    const context = await area.readLogRecord(lsn!, 'forward', { view: true });
    expect(untag(context.record.data)).toBe(42);
    expect(context.record.data.byteOffset).toBeGreaterThan(0);
    expect(context.record.data.buffer.byteLength).toBeGreaterThanOrEqual(area.bufferSize);
    context.terminate();
  });

  it('ClfsReadNextLogRecord: a second next() while one is pending -> ERR_CLFS_CONTEXT_BUSY; the first completes', async () => {
    const { area } = await makeArea({ bufferSize: 4096 });
    const lsns = await chained(area);
    const context = await area.readLogRecord(lsns[0]!, 'forward');
    const first = context.next();
    await rejectsWith(context.next(), 'ERR_CLFS_CONTEXT_BUSY');
    expect(untag((await first)!.data)).toBe(1);
    expect(untag((await context.next())!.data)).toBe(2);
    context.terminate();
  });

  it('ClfsReadLogRecord: bad mode or type -> ERR_INVALID_ARG_VALUE; an LSN not a bigint -> ERR_INVALID_ARG_TYPE', async () => {
    const { area } = await makeArea({ maxReadBuffers: 1 });
    const { lsn } = await area.reserveAndAppend(tag(1));
    await rejectsWith(area.readLogRecord(lsn!, 'backward' as ReadMode), 'ERR_INVALID_ARG_VALUE');
    await rejectsWith(area.readLogRecord(lsn!, 'forward', { type: 'any' as 'data' }), 'ERR_INVALID_ARG_VALUE');
    await rejectsWith(area.readLogRecord(1 as unknown as bigint, 'forward'), 'ERR_INVALID_ARG_TYPE');
    (await area.readLogRecord(lsn!, 'forward')).terminate();
  });
});
