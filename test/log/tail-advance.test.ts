// CLFS's management callbacks: the tail-advance request (AdvanceTail, the
// 'advance-tail' event, by the LogTail policy) and log-full handling
// (HandleLogFull: appends waiting for room, opt-in with logFullTimeoutMs).
import { describe, expect, it } from 'vitest';

import { Log, Lsn, type AdvanceTailEvent, type MarshallingArea } from '../../lib/index.ts';
import { scratchFiles, KiB } from '../support/fixtures.ts';
import { fillSeeded } from '../support/native.ts';
import { createLog, readAll, rejectionOf } from '../support/log.ts';
import { itWhere, not4096Sectors } from '../support/platform.ts';

const NOT_4K = await not4096Sectors();

const scratch = scratchFiles('clfs-log-tail-');

const CONTAINER = 512 * KiB;
const RECORD = 3000;

async function newLog(options: Parameters<typeof Log.create>[1] = {}): Promise<Log> {
  const log = await createLog(scratch.fresh(), { containerSize: CONTAINER, containers: 2, ...options });
  scratch.keep(log);
  return log;
}

function record(i: number): Uint8Array {
  return fillSeeded(new Uint8Array(RECORD), i + 1);
}

/** Lets microtasks and pending I/O completions run. */
const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Appends records one at a time until ERR_CLFS_LOG_FULL; flushes; returns their LSNs. */
async function fill(area: MarshallingArea): Promise<Lsn[]> {
  const lsns: Lsn[] = [];
  for (;;) {
    try {
      lsns.push((await area.reserveAndAppend(record(lsns.length))).lsn!);
    } catch (error) {
      expect((error as { code?: string }).code).toBe('ERR_CLFS_LOG_FULL');
      await area.flushToLsn();
      return lsns;
    }
  }
}

/** A full log: the area that filled it, its records' LSNs, and two areas whose appends wait for room. */
async function fullLog(
  log: Log,
): Promise<{ writer: MarshallingArea; lsns: Lsn[]; a: MarshallingArea; b: MarshallingArea }> {
  const writer = await log.createMarshallingArea({ bufferSize: 64 * KiB });
  const lsns = await fill(writer);
  const waiting = (): Promise<MarshallingArea> =>
    log.createMarshallingArea({ bufferSize: 64 * KiB, logFullTimeoutMs: 60_000 });
  return { writer, lsns, a: await waiting(), b: await waiting() };
}

/** Whether `promise` has settled (after a few turns). */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  promise.then(
    () => (done = true),
    () => (done = true),
  );
  for (let i = 0; i < 5; i++) await tick();
  return done;
}

/** The first LSN of `lsns` at or after `target`. */
const atOrAfter = (lsns: Lsn[], target: Lsn): Lsn => lsns.find((l) => l >= target) ?? lsns[lsns.length - 1]!;

describe("AdvanceTail (log.on('advance-tail'))", () => {
  it('LogTail policy: when free space falls below logTail percent, advance-tail fires once with a targetLsn; moving the base there frees the space', async () => {
    const log = await newLog({ containers: 4, policy: { logTail: 50 } });
    const events: AdvanceTailEvent[] = [];
    log.on('advance-tail', (event) => events.push(event));
    const area = await log.createMarshallingArea({ bufferSize: 64 * KiB });
    const lsns: Lsn[] = [];
    while (events.length === 0) {
      lsns.push((await area.reserveAndAppend(record(lsns.length))).lsn!);
      await tick();
    }
    const [event] = events;
    expect(event!.reason).toBe('log-tail');
    expect(event!.currentAvailable * 100).toBeLessThan(50 * event!.totalAvailable);
    expect(event!.baseLsn).toBe(log.information().baseLsn);
    expect(event!.targetLsn).toBeGreaterThan(event!.baseLsn);
    // Not on every append: more appends, still short, no new request.
    for (let i = 0; i < 20; i++) lsns.push((await area.reserveAndAppend(record(lsns.length))).lsn!);
    await tick();
    expect(events).toHaveLength(1);
    await area.advanceLogBase(atOrAfter(lsns, event!.targetLsn));
    await tick();
    expect(log.information().currentAvailable * 100).toBeGreaterThanOrEqual(50 * log.information().totalAvailable);
    expect(events).toHaveLength(1);
  });

  it('AdvanceTail: after a base move short of the target, it is asked again (with a new target), once', async () => {
    const log = await newLog({ containers: 4, policy: { logTail: 50 } });
    const events: AdvanceTailEvent[] = [];
    log.on('advance-tail', (event) => events.push(event));
    const area = await log.createMarshallingArea({ bufferSize: 64 * KiB });
    const lsns: Lsn[] = [];
    while (Lsn.containerId(lsns[lsns.length - 1] ?? 0n) < 4) {
      lsns.push((await area.reserveAndAppend(record(lsns.length))).lsn!);
    }
    await tick();
    expect(events).toHaveLength(1);
    // A base move that frees nothing (a record in the base's own container).
    await area.advanceLogBase(lsns[1]!);
    await tick();
    expect(events).toHaveLength(2);
    expect(events[1]!.baseLsn).toBe(lsns[1]);
  });

  it('LogTail policy: 0 (the default) makes no request; off() stops a listener', async () => {
    const log = await newLog();
    const events: AdvanceTailEvent[] = [];
    const listener = (event: AdvanceTailEvent): number => events.push(event);
    log.on('advance-tail', listener);
    const area = await log.createMarshallingArea({ bufferSize: 64 * KiB });
    await fill(area);
    await tick();
    expect(events).toHaveLength(0);
    log.off('advance-tail', listener);
    await log.setPolicy({ logTail: 90 });
    await tick();
    expect(events).toHaveLength(0);
  });

  it('AdvanceTail: a listener added when space is already short is asked at once', async () => {
    const log = await newLog({ policy: { logTail: 90 } });
    const area = await log.createMarshallingArea({ bufferSize: 64 * KiB });
    await fill(area);
    const events: AdvanceTailEvent[] = [];
    log.on('advance-tail', (event) => events.push(event));
    await tick();
    expect(events).toHaveLength(1);
  });

  it('AdvanceTail: bad event names and listeners are typed errors', async () => {
    const log = await newLog();
    expect(() => log.on('tail' as 'advance-tail', () => undefined)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }),
    );
    expect(() => log.on('advance-tail', 7 as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
  });
});

describe('HandleLogFull (logFullTimeoutMs)', () => {
  it('HandleLogFull: an append that finds the log full waits for a base move, then succeeds', async () => {
    const log = await newLog();
    const { writer, lsns, a: waiting } = await fullLog(log);
    const append = waiting.reserveAndAppend(record(9999), { forceFlush: true });
    expect(await settled(append)).toBe(false);
    await writer.advanceLogBase(lsns.find((l) => Lsn.containerId(l) === 2)!);
    const { lsn } = await append;
    expect(lsn! > lsns[lsns.length - 1]!).toBe(true);
  });

  it('HandleLogFull: growth (addContainers) frees a waiting append too', async () => {
    const log = await newLog();
    await fill(await log.createMarshallingArea({ bufferSize: 64 * KiB }));
    const waiting = await log.createMarshallingArea({ bufferSize: 64 * KiB, logFullTimeoutMs: 60_000 });
    const append = waiting.reserveAndAppend(record(1));
    expect(await settled(append)).toBe(false);
    await log.addContainers(1);
    await append;
  });

  it("HandleLogFull: a waiting append takes the caller's bytes when called: changing the array afterwards changes nothing", async () => {
    const log = await newLog();
    const { writer, lsns, a: waiting } = await fullLog(log);
    const data = record(4242);
    const batch = [record(1), record(2)];
    const append = waiting.reserveAndAppend(data, { forceFlush: true });
    const appendedBatch = waiting.appendBatch(batch, { forceFlush: true });
    // At once, as a caller reusing its buffers would (seed 998565580).
    data.fill(0xa5);
    for (const r of batch) r.fill(0x5a);
    expect(await settled(append)).toBe(false);
    await writer.advanceLogBase(lsns.find((l) => Lsn.containerId(l) === 2)!);
    const { lsn } = await append;
    const [b1, b2] = await appendedBatch;
    const read = new Map((await readAll(log)).map((r) => [r.lsn, r.data]));
    expect(Buffer.from(read.get(lsn!)!).equals(Buffer.from(record(4242)))).toBe(true);
    expect(Buffer.from(read.get(b1!)!).equals(Buffer.from(record(1)))).toBe(true);
    expect(Buffer.from(read.get(b2!)!).equals(Buffer.from(record(2)))).toBe(true);
  });

  it('HandleLogFull: after logFullTimeoutMs with no room, the append fails with ERR_CLFS_LOG_FULL', async () => {
    const log = await newLog();
    await fill(await log.createMarshallingArea({ bufferSize: 64 * KiB }));
    const waiting = await log.createMarshallingArea({ bufferSize: 64 * KiB, logFullTimeoutMs: 30 });
    const error = await rejectionOf(waiting.reserveAndAppend(record(1)));
    expect(error.code).toBe('ERR_CLFS_LOG_FULL');
    expect(error.message).toContain('logFullTimeoutMs');
  });

  it('HandleLogFull: waiting appends are served first come, first served (their LSNs in call order)', async () => {
    const log = await newLog();
    const { writer, lsns, a, b } = await fullLog(log);
    const first = a.reserveAndAppend(record(1));
    const second = b.appendBatch([record(2), record(3)]);
    const third = a.allocReservedLog(1, a.alignReservedLog([100]));
    expect(await settled(first)).toBe(false);
    await writer.advanceLogBase(lsns.find((l) => Lsn.containerId(l) === 2)!);
    const [one, [two, three]] = await Promise.all([first.then((r) => r.lsn!), second, third]);
    expect(one < two! && two! < three!).toBe(true);
    expect(a.reservedRecords).toBe(1);
  });

  it("HandleLogFull: an area's call made right after one that finds the log full waits behind it even where it would fit (LSNs in call order; simulator seed 968499873)", async () => {
    const log = await newLog();
    const { writer, lsns, a } = await fullLog(log);
    // One container free: the batch (600 KiB) needs more, the small append fits.
    await writer.advanceLogBase(lsns.find((l) => Lsn.containerId(l) === 2)!);
    const big = Array.from({ length: 10 }, (_, i) => fillSeeded(new Uint8Array(60 * KiB), i + 7));
    // Not awaited between them, as a program racing its calls would: the
    // second call's turn comes before the first's rejection is seen.
    const batch = a.appendBatch(big);
    const small = a.reserveAndAppend(record(1));
    expect(await settled(batch)).toBe(false);
    expect(await settled(small)).toBe(false);
    await log.addContainers(1);
    const [lsnsOfBatch, { lsn }] = await Promise.all([batch, small]);
    expect(lsn! > lsnsOfBatch[lsnsOfBatch.length - 1]!).toBe(true);
  });

  itWhere(
    NOT_4K,
    'HandleLogFull: appends into reservations never wait and never fail while others wait for room',
    async () => {
      const log = await newLog();
      const reserved = await log.createMarshallingArea({ bufferSize: 64 * KiB });
      await reserved.reserveAndAppend(null, { reservations: [RECORD] });
      const { writer, lsns, a: waiting } = await fullLog(log);
      const append = waiting.reserveAndAppend(record(1));
      expect(await settled(append)).toBe(false);
      const { lsn } = await reserved.reserveAndAppend(record(2), { useReservation: true, forceFlush: true });
      expect(lsn! > lsns[lsns.length - 1]!).toBe(true);
      expect(await settled(append)).toBe(false);
      await writer.advanceLogBase(lsns.find((l) => Lsn.containerId(l) === 2)!);
      expect((await append).lsn! > lsn!).toBe(true);
    },
  );

  it('HandleLogFull: freeing a reservation frees a waiting append', async () => {
    const log = await newLog();
    const reserved = await log.createMarshallingArea({ bufferSize: 64 * KiB });
    const size = reserved.alignReservedLog([60 * KiB]);
    await reserved.allocReservedLog(4, 4 * size);
    const writer = await log.createMarshallingArea({ bufferSize: 64 * KiB, logFullTimeoutMs: 60_000 });
    await fill(await log.createMarshallingArea({ bufferSize: 64 * KiB }));
    const append = writer.reserveAndAppend(record(1));
    expect(await settled(append)).toBe(false);
    await reserved.freeReservedLog(4, 4 * size);
    await append;
  });

  it("HandleLogFull: a waiting append makes the log ask for a base move ('advance-tail', reason 'log-full'); moving it there lets the append through", async () => {
    const log = await newLog();
    const writer = await log.createMarshallingArea({ bufferSize: 64 * KiB, logFullTimeoutMs: 60_000 });
    const lsns = await fill(await log.createMarshallingArea({ bufferSize: 64 * KiB }));
    const events: AdvanceTailEvent[] = [];
    log.on('advance-tail', (event) => {
      events.push(event);
      void writer.advanceLogBase(atOrAfter(lsns, event.targetLsn));
    });
    await writer.reserveAndAppend(record(1), { forceFlush: true });
    expect(events).toHaveLength(1);
    expect(events[0]!.reason).toBe('log-full');
    expect(Lsn.containerId(events[0]!.targetLsn)).toBe(2);
  });

  it('HandleLogFull: closing the log while an append waits rejects it with ERR_CLFS_CLOSED, and the close completes', async () => {
    const log = await newLog();
    const lsns = await fill(await log.createMarshallingArea({ bufferSize: 64 * KiB }));
    const waiting = await log.createMarshallingArea({ bufferSize: 64 * KiB, logFullTimeoutMs: 60_000 });
    const append = waiting.reserveAndAppend(record(1));
    expect(await settled(append)).toBe(false);
    await log.close();
    expect((await rejectionOf(append)).code).toBe('ERR_CLFS_CLOSED');
    const again = await Log.open(log.path);
    scratch.keep(again);
    expect((await readAll(again)).map((r) => r.lsn)).toEqual(lsns);
  });

  it("HandleLogFull: closing the waiting append's area rejects it with ERR_CLFS_CLOSED; others keep waiting", async () => {
    const log = await newLog();
    const { writer, lsns, a, b } = await fullLog(log);
    const first = a.reserveAndAppend(record(1));
    const second = b.reserveAndAppend(record(2));
    expect(await settled(first)).toBe(false);
    await a.close();
    expect((await rejectionOf(first)).code).toBe('ERR_CLFS_CLOSED');
    expect(await settled(second)).toBe(false);
    await writer.advanceLogBase(lsns.find((l) => Lsn.containerId(l) === 2)!);
    await second;
  });

  it('HandleLogFull: logFullTimeoutMs must be an integer >= 0 (typed errors); 0 fails at once as before', async () => {
    const log = await newLog();
    await expect(log.createMarshallingArea({ bufferSize: 4096, logFullTimeoutMs: -1 })).rejects.toMatchObject({
      code: 'ERR_OUT_OF_RANGE',
    });
    await expect(
      log.createMarshallingArea({ bufferSize: 4096, logFullTimeoutMs: '5' as unknown as number }),
    ).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    const area = await log.createMarshallingArea({ bufferSize: 64 * KiB, logFullTimeoutMs: 0 });
    await fill(area);
    expect((await rejectionOf(area.reserveAndAppend(record(1)))).code).toBe('ERR_CLFS_LOG_FULL');
  });
});
