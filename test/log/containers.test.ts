// Containers: recycling once the base moves past them (new logical ids),
// ERR_CLFS_LOG_FULL and its remedies, autoGrow, addContainers
// (AddLogContainer).
import { existsSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { Log, Lsn, type MarshallingArea } from '../../lib/index.ts';
import { ContainerTable } from '../../lib/log/containers.ts';
import { scratchFiles, KiB } from '../support/fixtures.ts';
import { fillSeeded } from '../support/native.ts';
import {
  containerFileName,
  containerFiles,
  createLog,
  expectKilled,
  openLog,
  readAll,
  rejectionOf,
  runLogChild,
  taggedLines,
} from '../support/log.ts';

const scratch = scratchFiles('clfs-log-containers-');

const CONTAINER = 512 * KiB;

async function newLog(options: Parameters<typeof Log.create>[1] = {}): Promise<{ log: Log; logPath: string }> {
  const logPath = scratch.fresh();
  const log = await createLog(logPath, { containerSize: CONTAINER, containers: 2, ...options });
  scratch.keep(log);
  return { log, logPath };
}

/** Record `i`: 3000 seeded bytes, its index in the first four. */
function record(i: number): Uint8Array {
  const bytes = fillSeeded(new Uint8Array(3000), i + 1);
  new DataView(bytes.buffer).setUint32(0, i);
  return bytes;
}

/** A writer of numbered records that remembers what it appended. */
class Writer {
  readonly lsns: Lsn[] = [];
  next = 0;
  constructor(readonly area: MarshallingArea) {}

  /** Appends 16 records at once. */
  async batch(): Promise<Lsn[]> {
    const records = Array.from({ length: 16 }, (_, k) => record(this.next + k));
    const lsns = await this.area.appendBatch(records);
    this.next += records.length;
    this.lsns.push(...lsns);
    return lsns;
  }

  /** Appends until a record lands in logical container `id`, then flushes. */
  async until(id: number): Promise<void> {
    while (this.lsns.length === 0 || Lsn.containerId(this.lsns[this.lsns.length - 1]!) < id) await this.batch();
    await this.area.flushToLsn();
  }

  /** Appends single records until ERR_CLFS_LOG_FULL; returns that error. */
  async untilFull(limit = 5000): Promise<Error & Record<string, unknown>> {
    for (let n = 0; n < limit; n++) {
      try {
        const { lsn } = await this.area.reserveAndAppend(record(this.next));
        this.next++;
        this.lsns.push(lsn!);
      } catch (error) {
        return error as Error & Record<string, unknown>;
      }
    }
    return expect.fail(`no ERR_CLFS_LOG_FULL after ${limit} appends`);
  }

  firstIn(id: number): Lsn {
    const lsn = this.lsns.find((l) => Lsn.containerId(l) === id);
    if (lsn === undefined) throw new Error(`no record in container ${id}`);
    return lsn;
  }
}

async function writerOn(log: Log): Promise<Writer> {
  return new Writer(await log.createMarshallingArea({ bufferSize: 64 * KiB }));
}

/** Checks records read back are `expected` indices, byte-exact, at the LSNs they were given. */
function expectRecords(read: { lsn: Lsn; data: Uint8Array }[], writer: Writer, from: number): void {
  expect(read.length).toBe(writer.lsns.length - from);
  read.forEach((r, k) => {
    const i = from + k;
    expect(r.lsn, `record ${i}`).toBe(writer.lsns[i]);
    expect(Buffer.from(r.data).equals(Buffer.from(record(i))), `record ${i} bytes`).toBe(true);
  });
}

describe('container recycling', () => {
  it('Container recycling: once the base passes every record of the first container, appending on never hits ERR_CLFS_LOG_FULL', async () => {
    const { log } = await newLog();
    const w = await writerOn(log);
    await w.until(2);
    await w.area.advanceLogBase(w.firstIn(2));
    // Three more containers' worth, keeping the base at the start of the
    // newest container: both physical containers must be reused.
    const start = w.lsns.length;
    while ((w.lsns.length - start) * 3000 < 3 * CONTAINER) {
      const last = (await w.batch()).pop()!;
      const newest = w.firstIn(Lsn.containerId(last));
      if (newest > log.information().baseLsn) await w.area.advanceLogBase(newest);
    }
    await w.area.flushToLsn();
    expect(Lsn.containerId(w.lsns[w.lsns.length - 1]!)).toBeGreaterThanOrEqual(5);
  });

  it('Container recycling: nextRecycled names the container recycle takes (the lowest logical id below the base) and changes nothing', () => {
    const table = new ContainerTable([3, 0, 2, 4], 64 * KiB);
    const base = Lsn.create(4, 0, 0);
    expect(table.nextRecycled(base)).toBe(1);
    expect(table.logicalIds).toEqual([3, 0, 2, 4]);
    expect(table.recycle(base)).toBe(1);
    expect(table.logicalIds).toEqual([3, 5, 2, 4]);
    expect(table.nextRecycled(base)).toBe(2);
    expect(table.nextRecycled(Lsn.create(2, 0, 0))).toBe(-1);
  });

  it('Container recycling: LSNs keep increasing through the recycled container', async () => {
    const { log } = await newLog();
    const w = await writerOn(log);
    await w.until(2);
    await w.area.advanceLogBase(w.firstIn(2));
    await w.until(3);
    for (let i = 1; i < w.lsns.length; i++) expect(w.lsns[i]! > w.lsns[i - 1]!, `LSN ${i}`).toBe(true);
  });

  it('Container recycling: a recycled physical container gets a new logical id above every earlier one', async () => {
    const { log } = await newLog();
    const w = await writerOn(log);
    await w.until(2);
    const before = Math.max(...w.lsns.map((l) => Lsn.containerId(l)));
    await w.area.advanceLogBase(w.firstIn(2));
    const start = w.lsns.length;
    await w.until(3);
    const recycled = w.lsns.slice(start).filter((l) => Lsn.containerId(l) > before);
    expect(recycled.length).toBeGreaterThan(0);
    expect(Lsn.containerId(recycled[0]!)).toBe(before + 1);
    // Two physical containers only: the new logical container is the old first one.
    expect(log.information().totalContainers).toBe(2);
  });

  it('Container recycling: writeRestartArea with newBaseLsn frees the container as advanceLogBase does', async () => {
    const { log } = await newLog();
    const w = await writerOn(log);
    await w.until(2);
    expect(log.information().freeContainers).toBe(0);
    await w.area.writeRestartArea(new Uint8Array(8), { newBaseLsn: w.firstIn(2) });
    expect(log.information().freeContainers).toBe(1);
    await w.until(3);
    expect(Lsn.containerId(w.lsns[w.lsns.length - 1]!)).toBe(3);
  });

  it('Container recycling: records at and above the base read back byte-exact from the recycled log', async () => {
    const { log } = await newLog();
    const w = await writerOn(log);
    await w.until(2);
    const base = w.firstIn(2);
    await w.area.advanceLogBase(base);
    await w.until(3);
    expectRecords(await readAll(log), w, w.lsns.indexOf(base));
  });

  it('Container recycling: after reopen the records above the base are readable and new LSNs continue above them', async () => {
    const { log, logPath } = await newLog();
    const w = await writerOn(log);
    await w.until(2);
    const base = w.firstIn(2);
    await w.area.advanceLogBase(base);
    await w.until(3);
    await log.close();

    const again = await openLog(logPath);
    scratch.keep(again);
    expect(again.information().baseLsn).toBe(base);
    expectRecords(await readAll(again), w, w.lsns.indexOf(base));
    const area = await again.createMarshallingArea({ bufferSize: 64 * KiB });
    const { lsn } = await area.reserveAndAppend(record(w.next), { forceFlush: true });
    expect(lsn! > w.lsns[w.lsns.length - 1]!).toBe(true);
  });

  it('Container recycling: the recycled state survives a SIGKILL (acknowledged records at and above the base all recovered)', async () => {
    const { log, logPath } = await newLog();
    await log.close();
    const result = await runLogChild(
      `import { Log, Lsn } from 'CLFS';
       const log = await Log.open(ARGS.path);
       const area = await log.createMarshallingArea({ bufferSize: 65536 });
       const rec = (i) => { const b = new Uint8Array(3000).fill(i & 255); new DataView(b.buffer).setUint32(0, i); return b; };
       let base = log.information().baseLsn;
       for (let i = 0; i < 500; i++) {
         const { lsn } = await area.reserveAndAppend(rec(i), { forceFlush: true });
         console.log('ack ' + lsn + ' ' + i);
         // Keep the base at the first record of the newest container.
         if (Lsn.containerId(lsn) > Lsn.containerId(base)) {
           base = Lsn.create(Lsn.containerId(lsn), 0, 0);
           await area.advanceLogBase(base);
           console.log('base ' + base);
         }
       }
       process.kill(process.pid, 'SIGKILL');`,
      { path: logPath },
    );
    expectKilled(result);
    const acks = taggedLines(result.stdout, 'ack').map(([lsn, i]) => ({ lsn: BigInt(lsn!), i: Number(i) }));
    const base = BigInt(taggedLines(result.stdout, 'base').pop()![0]!);
    expect(Lsn.containerId(acks[acks.length - 1]!.lsn), 'the child went through recycled containers').toBeGreaterThan(
      2,
    );

    const again = await openLog(logPath);
    scratch.keep(again);
    expect(again.information().baseLsn).toBe(base);
    const read = await readAll(again);
    const expected = acks.filter((a) => a.lsn >= base);
    expect(read.map((r) => r.lsn)).toEqual(expected.map((a) => a.lsn));
    read.forEach((r, k) => {
      const view = new DataView(r.data.buffer, r.data.byteOffset);
      expect(view.getUint32(0), `record at ${Lsn.format(r.lsn)}`).toBe(expected[k]!.i);
    });
  });
});

describe('many containers', () => {
  it('Containers: a log appends into more than eight containers', async () => {
    const { log } = await newLog({ containers: 12 });
    const w = await writerOn(log);
    const error = await w.until(10).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(error, String(error)).toBeUndefined();
    expect(log.information().lastFlushedLsn).toBe(w.lsns[w.lsns.length - 1]);
  });

  it('Containers: every record of a log spread over more than eight containers reads back', async () => {
    // Written in three sessions of at most four containers each.
    const { log, logPath } = await newLog({ containers: 12 });
    let w = await writerOn(log);
    await w.until(4);
    await log.close();
    const all = [...w.lsns];
    let next = w.next;
    for (const until of [8, 10]) {
      const session = await openLog(logPath);
      w = await writerOn(session);
      w.next = next;
      await w.until(until);
      all.push(...w.lsns);
      next = w.next;
      await session.close();
    }
    const again = await openLog(logPath);
    scratch.keep(again);
    const read = await readAll(again).then(
      (records) => records,
      (e: unknown) => e as Error,
    );
    expect(read instanceof Error ? String(read) : undefined).toBeUndefined();
    expect((read as { lsn: Lsn }[]).map((r) => r.lsn)).toEqual(all);
    expect(Lsn.containerId(all[all.length - 1]!)).toBe(10);
  });
});

describe('ERR_CLFS_LOG_FULL', () => {
  it('Log full: without moving the base, appending eventually fails with ERR_CLFS_LOG_FULL (ERROR_LOG_FULL)', async () => {
    const { log } = await newLog();
    const w = await writerOn(log);
    const error = await w.untilFull();
    expect(error.code).toBe('ERR_CLFS_LOG_FULL');
    expect(error.clfsError).toBe('ERROR_LOG_FULL');
    // It took about the whole log.
    expect(w.lsns.length * 3000).toBeGreaterThan(CONTAINER);
  });

  it('Log full: every record appended before ERR_CLFS_LOG_FULL stays readable', async () => {
    const { log } = await newLog();
    const w = await writerOn(log);
    await w.untilFull();
    expectRecords(await readAll(log), w, 0);
  });

  it('Log full: a refused append leaves lastLsn at the last record appended', async () => {
    const { log } = await newLog();
    const w = await writerOn(log);
    await w.untilFull();
    expect(log.information().lastLsn).toBe(w.lsns[w.lsns.length - 1]);
  });

  it('Log full: after advancing the base past the first container, appends succeed again', async () => {
    const { log } = await newLog();
    const w = await writerOn(log);
    await w.untilFull();
    await w.area.advanceLogBase(w.firstIn(2));
    const { lsn } = await w.area.reserveAndAppend(record(w.next), { forceFlush: true });
    expect(lsn! > w.lsns[w.lsns.length - 1]!).toBe(true);
  });

  it('Log full: a base moved to a record inside the first container frees nothing', async () => {
    const { log } = await newLog();
    const w = await writerOn(log);
    await w.untilFull();
    const inFirst = w.lsns.filter((l) => Lsn.containerId(l) === 1);
    await w.area.advanceLogBase(inFirst[inFirst.length - 1]!);
    expect(log.information().freeContainers).toBe(0);
    const error = await rejectionOf(w.area.reserveAndAppend(record(w.next)));
    expect(error.code).toBe('ERR_CLFS_LOG_FULL');
  });

  it('Log full: addContainers makes room again', async () => {
    const { log } = await newLog();
    const w = await writerOn(log);
    await w.untilFull();
    await log.addContainers(1);
    const { lsn } = await w.area.reserveAndAppend(record(w.next), { forceFlush: true });
    expect(lsn! > w.lsns[w.lsns.length - 1]!).toBe(true);
  });
});

describe('autoGrow', () => {
  it('autoGrow: { maxContainers } adds containers as the log fills (totalContainers grows, files appear)', async () => {
    const { log, logPath } = await newLog({ autoGrow: { maxContainers: 4 } });
    const w = await writerOn(log);
    await w.until(3);
    expect(log.information().totalContainers).toBe(3);
    expect(containerFiles(logPath)).toHaveLength(3);
    await w.until(4);
    expect(log.information().totalContainers).toBe(4);
    expect(containerFiles(logPath)).toHaveLength(4);
  });

  it('autoGrow: past maxContainers appends fail with ERR_CLFS_LOG_FULL', async () => {
    const { log } = await newLog({ autoGrow: { maxContainers: 3 } });
    const w = await writerOn(log);
    const error = await w.untilFull();
    expect(error.code).toBe('ERR_CLFS_LOG_FULL');
    expect(log.information().totalContainers).toBe(3);
    expect(w.lsns.length * 3000).toBeGreaterThan(2 * CONTAINER);
  });

  it('autoGrow: grown containers are part of the log after reopen', async () => {
    const { log, logPath } = await newLog({ autoGrow: { maxContainers: 4 } });
    const w = await writerOn(log);
    await w.until(3);
    await log.close();
    const again = await openLog(logPath);
    scratch.keep(again);
    expect(again.information().totalContainers).toBe(3);
    expectRecords(await readAll(again), w, 0);
  });
});

describe('AddLogContainer (log.addContainers)', () => {
  it('AddLogContainer: addContainers(n) adds n containers of the log size, and their files', async () => {
    const { log, logPath } = await newLog();
    await log.addContainers(3);
    expect(log.information().totalContainers).toBe(5);
    expect(log.information().freeContainers).toBe(4);
    const files = containerFiles(logPath);
    expect(files).toHaveLength(5);
    for (const name of files) expect(statSync(path.join(logPath, name)).size, name).toBe(CONTAINER);
  });

  it('AddLogContainer: added containers are part of the log after reopen', async () => {
    const { log, logPath } = await newLog();
    await log.addContainers(2);
    await log.close();
    const again = await openLog(logPath);
    scratch.keep(again);
    expect(again.information().totalContainers).toBe(4);
    expect(again.information().totalAvailable).toBe(4 * CONTAINER);
  });

  it.each([
    ['0', 0, 'ERR_OUT_OF_RANGE'],
    ['-1', -1, 'ERR_OUT_OF_RANGE'],
    ['1.5', 1.5, 'ERR_OUT_OF_RANGE'],
    ['NaN', Number.NaN, 'ERR_OUT_OF_RANGE'],
    ['1025', 1025, 'ERR_OUT_OF_RANGE'],
    ["'1'", '1', 'ERR_INVALID_ARG_TYPE'],
    ['undefined', undefined, 'ERR_INVALID_ARG_TYPE'],
    ['1n', 1n, 'ERR_INVALID_ARG_TYPE'],
  ])('AddLogContainer: addContainers(%s) is a typed error and adds nothing', async (_name, count, code) => {
    const { log, logPath } = await newLog();
    const error = await rejectionOf(log.addContainers(count as number));
    expect(error.code).toBe(code);
    expect(log.information().totalContainers).toBe(2);
    expect(containerFiles(logPath)).toHaveLength(2);
  });

  it('AddLogContainer: more than 1024 containers in all is ERR_OUT_OF_RANGE and adds nothing', async () => {
    const { log, logPath } = await newLog();
    const error = await rejectionOf(log.addContainers(1023));
    expect(error.code).toBe('ERR_OUT_OF_RANGE');
    expect(log.information().totalContainers).toBe(2);
    expect(containerFiles(logPath)).toHaveLength(2);
  });

  it('AddLogContainer: a container file left behind by a crash during addContainers is replaced by a fresh one', async () => {
    const { log, logPath } = await newLog();
    await log.close();
    // A crash after the file was made but before the metadata counted it.
    const stray = path.join(logPath, containerFileName(2));
    writeFileSync(stray, Buffer.alloc(12345, 0xab));
    const again = await openLog(logPath);
    scratch.keep(again);
    expect(again.information().totalContainers).toBe(2);
    await again.addContainers(1);
    expect(existsSync(stray)).toBe(true);
    expect(statSync(stray).size).toBe(CONTAINER);
    const w = await writerOn(again);
    await w.until(3);
    expectRecords(await readAll(again), w, 0);
  });
});
