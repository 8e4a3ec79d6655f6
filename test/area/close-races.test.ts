// Calls that race a close without being awaited (issue 7, defect 1): a call
// made before close() runs to its end, close waits for it, and nothing it
// acknowledged is lost or given an LSN another record has.
import { expect, it } from 'vitest';

import { Lsn, type Log, type MarshallingArea } from '../../lib/index.ts';
import type { IoEngine } from '../../lib/native/direct-file.ts';
import { makeArea, readAll, rejectsWith, reopenLog, tag, untag } from '../support/area.ts';
import { describeEngines } from '../support/native.ts';

/** Two areas of one write buffer each; the first has appended record 1, the second record 2. */
async function twoAreas(engine: IoEngine): Promise<{ log: Log; a: MarshallingArea; b: MarshallingArea; path: string }> {
  const { log, area: a, path } = await makeArea({ bufferSize: 4096, maxWriteBuffers: 1 }, { engine });
  const b = await log.createMarshallingArea({ bufferSize: 4096, maxWriteBuffers: 1, flushIntervalMs: 0 });
  await a.reserveAndAppend(tag(1));
  await b.reserveAndAppend(tag(2));
  return { log, a, b, path };
}

async function restartAreaAfterReopen(path: string): Promise<{ data: number; lsn: Lsn; base: Lsn }> {
  const log = await reopenLog(path);
  const area = await log.createMarshallingArea({ bufferSize: 4096, flushIntervalMs: 0 });
  const { data, lsn, context } = await area.readRestartArea();
  context.terminate();
  const base = log.information().baseLsn;
  await log.close();
  return { data: untag(data), lsn, base };
}

describeEngines('a restart area racing a close ($engine engine)', ({ engine }) => {
  it('ClfsWriteRestartArea: with a new base, then its own area closed at once while another area appends: the restart area is written and names a restart record', async () => {
    const { log, a, b, path } = await twoAreas(engine);
    const base = log.information().lastLsn;
    const restart = a.writeRestartArea(tag(100), { newBaseLsn: base });
    const closed = a.close();
    const other = b.reserveAndAppend(tag(3), { forceFlush: true });
    const [{ lsn }] = await Promise.all([restart, closed, other]);
    expect(log.information().restartLsn).toBe(lsn);
    const records = await readAll(b, { type: 'client' });
    const named = records.find((r) => r.lsn === lsn);
    expect(named).toMatchObject({ type: 'restart' });
    expect(untag(named!.data)).toBe(100);
    await log.close();
    expect(await restartAreaAfterReopen(path)).toEqual({ data: 100, lsn, base });
  });

  it('ClfsWriteRestartArea: with a new base, then the log closed at once: both settle, and the restart area is there after reopen', async () => {
    const { log, a, path } = await twoAreas(engine);
    const base = log.information().lastLsn;
    const restart = a.writeRestartArea(tag(200), { newBaseLsn: base });
    const closed = log.close();
    const [{ lsn }] = await Promise.all([restart, closed]);
    expect(await restartAreaAfterReopen(path)).toEqual({ data: 200, lsn, base });
  });

  it('ClfsAdvanceLogBase: then the log closed at once: both settle, and the base moved', async () => {
    const { log, a, path } = await twoAreas(engine);
    const base = log.information().lastLsn;
    await Promise.all([a.advanceLogBase(base), log.close()]);
    const again = await reopenLog(path);
    expect(again.information().baseLsn).toBe(base);
  });

  it('CloseLogFileObject: appends, restart areas and base moves of several areas, none awaited, then close: every call settles and every acknowledged record is there', async () => {
    const { log, a, b, path } = await twoAreas(engine);
    const calls: Promise<unknown>[] = [];
    const acknowledged: Lsn[] = [];
    for (let i = 0; i < 20; i++) {
      const area = i % 2 === 0 ? a : b;
      calls.push(
        area.reserveAndAppend(tag(10 + i), { forceFlush: i % 3 === 0 }).then((r) => acknowledged.push(r.lsn!)),
      );
      if (i % 5 === 4) calls.push(area.writeRestartArea(tag(500 + i), { newBaseLsn: log.information().baseLsn }));
    }
    calls.push(log.close());
    const results = await Promise.allSettled(calls);
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    const again = await reopenLog(path);
    const reader = await again.createMarshallingArea({ bufferSize: 4096, flushIntervalMs: 0 });
    const lsns = new Set((await readAll(reader)).map((r) => r.lsn));
    for (const lsn of acknowledged) expect(lsns.has(lsn)).toBe(true);
  });

  // The shapes that lost the restart area or hung: the other area has 0, 3,
  // 6 or 9 appends queued (every other one flushing) when the restart area
  // and the close are called, and 5 more flushing appends after them.
  it.each([0, 3, 6, 9])(
    'ClfsWriteRestartArea: its area closed at once, with %i appends of another area queued: every call settles, the restart LSN names the restart record',
    async (queued) => {
      const { log, a, b } = await twoAreas(engine);
      const calls: Promise<unknown>[] = [];
      for (let i = 0; i < queued; i++) calls.push(b.reserveAndAppend(tag(10 + i), { forceFlush: i % 2 === 0 }));
      const restart = a.writeRestartArea(tag(100), { newBaseLsn: log.information().lastLsn });
      calls.push(a.close());
      for (let i = 0; i < 5; i++) calls.push(b.reserveAndAppend(tag(50 + i), { forceFlush: true }));
      const { lsn } = await restart;
      await Promise.all(calls);
      const named = (await readAll(b, { type: 'client' })).filter((r) => r.lsn === lsn);
      expect(named.map((r) => [r.type, untag(r.data)])).toEqual([['restart', 100]]);
    },
  );

  it.each([0, 3, 6, 9])(
    'CloseLogFileObject: called right after a restart area with a new base, with %i appends queued: both settle and the log unlocks',
    async (queued) => {
      const { log, a, b, path } = await twoAreas(engine);
      const calls: Promise<unknown>[] = [];
      for (let i = 0; i < queued; i++) calls.push(b.reserveAndAppend(tag(10 + i), { forceFlush: i % 2 === 0 }));
      const base = log.information().lastLsn;
      const restart = a.writeRestartArea(tag(300), { newBaseLsn: base });
      await Promise.all([...calls, log.close()]);
      const { lsn } = await restart;
      expect(await restartAreaAfterReopen(path)).toEqual({ data: 300, lsn, base });
    },
  );

  it('ClfsWriteRestartArea: meeting a full log after close() began (it was called before) -> ERR_CLFS_LOG_FULL, not ERR_CLFS_CLOSED', async () => {
    const { log, area } = await makeArea({ bufferSize: 4096 }, { engine, containerSize: 512 * 1024, containers: 2 });
    const first = (await area.reserveAndAppend(tag(0))).lsn!;
    for (let i = 1; ; i++) {
      const appended = await area.reserveAndAppend(new Uint8Array(3000)).catch((e: unknown) => e);
      if (appended instanceof Error) break;
    }
    await area.flushBuffers();
    // Its turn comes after the new base's block is read from disk, by when the close has begun.
    const restart = area.writeRestartArea(new Uint8Array(3000), { newBaseLsn: first });
    const closed = log.close();
    await rejectsWith(restart, 'ERR_CLFS_LOG_FULL');
    await closed;
  });
});
