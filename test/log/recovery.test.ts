// Recovery on real files: clean reopen, torn tails, corruption in
// acknowledged data (strict and salvage), stale blocks after new appends,
// and what a recovery costs. Crashes are real: a child process SIGKILLs
// itself, so the metadata still holds the tail of its open (DESIGN.md
// invariant 5: the scan starts there); damage is done with node:fs on the
// closed files, the way a torn write or a bad sector would leave them.
import { readFileSync } from 'node:fs';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { Log, Lsn } from '../../lib/index.ts';
import { scratchFiles, KiB, MiB } from '../support/fixtures.ts';
import {
  BASE_FILE,
  SLOT_SIZE,
  blockHeaderAt,
  containerFileOf,
  containerFiles,
  createLog,
  dumpCounts,
  expectKilled,
  flipByte,
  newestMetadata,
  openLog,
  readAll,
  rejectionOf,
  runLogChild,
  taggedLines,
  text,
  textOf,
  writeAt,
} from '../support/log.ts';
import { sectorUnitHere } from '../support/platform.ts';

const scratch = scratchFiles('clfs-log-recovery-');

async function track(log: Promise<Log>): Promise<Log> {
  const opened = await log;
  scratch.keep(opened);
  return opened;
}

async function newClosedLog(containerSize = 1 * MiB): Promise<string> {
  const logPath = scratch.fresh();
  await (await createLog(logPath, { containerSize })).close();
  return logPath;
}

function texts(records: { data: Uint8Array }[]): string[] {
  return records.map((r) => textOf(r.data));
}

/**
 * A child opens the log and writes `blocks` blocks of three records each
 * ('b<block> r<k>'), each block flushed (acknowledged) before the next is
 * begun, printing the LSNs; then it SIGKILLs itself.
 */
async function crashAfterFlushedBlocks(logPath: string, blocks: number): Promise<Lsn[][]> {
  const result = await runLogChild(
    `import { Log } from 'CLFS';
     const log = await Log.open(ARGS.path);
     const area = await log.createMarshallingArea({ bufferSize: 4096, flushIntervalMs: 0 });
     const enc = new TextEncoder();
     for (let b = 0; b < ARGS.blocks; b++) {
       const lsns = await area.appendBatch([0, 1, 2].map((k) => enc.encode('b' + b + ' r' + k)), { forceFlush: true });
       console.log('ack ' + lsns.join(' '));
     }
     process.kill(process.pid, 'SIGKILL');`,
    { path: logPath, blocks },
  );
  expectKilled(result);
  const acks = taggedLines(result.stdout, 'ack').map((line) => line.map((l) => BigInt(l)));
  expect(acks).toHaveLength(blocks);
  // Premise: each line is one block of three records, blocks one after another.
  for (const lsns of acks) {
    expect(lsns.map((l) => l & ~0x1ffn)).toEqual([lsns[0], lsns[0], lsns[0]]);
    expect(lsns.map((l) => Lsn.recordSequence(l))).toEqual([0, 1, 2]);
  }
  return acks;
}

function blockTexts(blocks: number): string[] {
  const out: string[] = [];
  for (let b = 0; b < blocks; b++) for (let k = 0; k < 3; k++) out.push(`b${b} r${k}`);
  return out;
}

describe('clean reopen', () => {
  it('Recovery: a clean reopen recovers every record byte-exact with its LSN, type, previous and undo-next LSNs', async () => {
    const logPath = await newClosedLog();
    const log = await openLog(logPath);
    const area = await log.createMarshallingArea({ bufferSize: 16 * KiB });
    const written: { lsn: Lsn; data: Uint8Array; previousLsn: Lsn; undoNextLsn: Lsn }[] = [];
    let previous = Lsn.INVALID;
    for (let i = 0; i < 200; i++) {
      const data = new Uint8Array((i * 97) % 5000).map((_, k) => (i * 31 + k) & 0xff);
      const undoNext = i % 3 === 0 ? Lsn.INVALID : (written[i - 1]?.lsn ?? Lsn.INVALID);
      const { lsn } = await area.reserveAndAppend(data, {
        previousLsn: previous,
        undoNextLsn: undoNext,
        forceFlush: i % 7 === 0,
      });
      written.push({ lsn: lsn!, data, previousLsn: previous, undoNextLsn: undoNext });
      previous = lsn!;
    }
    await log.close();

    const again = await track(openLog(logPath));
    const reader = await again.createMarshallingArea({ bufferSize: 16 * KiB });
    const read = [];
    for await (const record of reader.records()) read.push(record);
    expect(read.map((r) => r.lsn)).toEqual(written.map((w) => w.lsn));
    read.forEach((r, i) => {
      expect(r.type, `record ${i}`).toBe('data');
      expect(Buffer.from(r.data).equals(Buffer.from(written[i]!.data)), `record ${i} bytes`).toBe(true);
      expect(r.previousLsn, `record ${i} previous`).toBe(written[i]!.previousLsn);
      expect(r.undoNextLsn, `record ${i} undo-next`).toBe(written[i]!.undoNextLsn);
    });
  });

  it("Recovery: a clean reopen reports tailReason 'clean end', no cut and nothing skipped", async () => {
    const logPath = await newClosedLog();
    const log = await openLog(logPath);
    const area = await log.createMarshallingArea({ bufferSize: 4 * KiB });
    for (let i = 0; i < 5; i++) await area.reserveAndAppend(text(`r${i}`), { forceFlush: true });
    await log.close();
    const again = await track(openLog(logPath));
    expect(again.recoveryReport.tailReason).toBe('clean end');
    expect(again.recoveryReport.tailCutAt).toBeUndefined();
    expect(again.recoveryReport.skipped).toEqual([]);
    expect(again.recoveryReport.mode).toBe('strict');
  });

  it('Recovery: after a SIGKILL with nothing damaged, every acknowledged record is recovered', async () => {
    const logPath = await newClosedLog();
    const acks = await crashAfterFlushedBlocks(logPath, 10);
    const log = await track(openLog(logPath));
    const read = await readAll(log);
    expect(read.map((r) => r.lsn)).toEqual(acks.flat());
    expect(texts(read)).toEqual(blockTexts(10));
    expect(log.recoveryReport.tailReason).toBe('clean end');
  });
});

describe('torn tail', () => {
  /** A log whose child wrote 8 flushed blocks then died, with its last block damaged by `damage`. */
  async function tornLog(damage: (file: string, offset: number) => void): Promise<{ logPath: string; acks: Lsn[][] }> {
    const logPath = await newClosedLog();
    const acks = await crashAfterFlushedBlocks(logPath, 8);
    const last = acks[acks.length - 1]![0]!;
    damage(containerFileOf(logPath, last), Lsn.blockOffset(last));
    return { logPath, acks };
  }
  const flip = (file: string, offset: number): void => flipByte(file, offset + 200);
  const garbage = (file: string, offset: number): void => writeAt(file, offset, new Uint8Array(4096).fill(0xa5));
  const zeros = (file: string, offset: number): void => writeAt(file, offset, new Uint8Array(4096));

  it.each([
    ['a flipped byte', flip],
    ['garbage', garbage],
    ['zeros', zeros],
  ])(
    "Recovery: a last block holding %s is cut off: lastLsn goes back to the previous block's last record",
    async (_name, damage) => {
      const { logPath, acks } = await tornLog(damage);
      const log = await track(openLog(logPath));
      expect(log.information().lastLsn).toBe(acks[6]![2]);
      expect(texts(await readAll(log))).toEqual(blockTexts(7));
    },
  );

  it.each([
    ['a flipped byte', flip],
    ['garbage', garbage],
  ])('Recovery: a cut torn tail (%s) is reported in recoveryReport.tailCutAt', async (_name, damage) => {
    const { logPath, acks } = await tornLog(damage);
    const log = await track(openLog(logPath));
    expect(log.recoveryReport.tailCutAt).toBe(acks[7]![0]);
    expect(log.recoveryReport.tailReason).toMatch(/torn/);
  });

  it('Recovery: a cut torn tail is counted once in recoveryReport.problems, under the reason tailReason names', async () => {
    const { logPath } = await tornLog(flip);
    const log = await track(openLog(logPath));
    const { problems, tailReason } = log.recoveryReport;
    expect(Object.values(problems)).toEqual([1]);
    expect(tailReason).toBe(`torn tail (${Object.keys(problems)[0]})`);
  });

  it('Recovery: after a cut, new appends continue where the tail was cut', async () => {
    const { logPath, acks } = await tornLog(flip);
    const log = await track(openLog(logPath));
    const area = await log.createMarshallingArea({ bufferSize: 4 * KiB });
    const { lsn } = await area.reserveAndAppend(text('new'), { forceFlush: true });
    expect(lsn).toBe(acks[7]![0]);
    expect(texts(await readAll(log))).toEqual([...blockTexts(7), 'new']);
  });

  it('Recovery: reopening after a cut is idempotent (the same records, nothing more cut)', async () => {
    const { logPath } = await tornLog(flip);
    const first = await openLog(logPath);
    const firstRecords = await readAll(first);
    const firstLast = first.information().lastLsn;
    await first.close();
    const second = await track(openLog(logPath));
    expect(second.information().lastLsn).toBe(firstLast);
    expect(await readAll(second)).toEqual(firstRecords);
  });

  it('Recovery: a crash right after recovering a cut tail recovers the same records (I3)', async () => {
    const { logPath } = await tornLog(flip);
    const result = await runLogChild(
      `import { Log } from 'CLFS';
       const log = await Log.open(ARGS.path);
       console.log('last ' + log.information().lastLsn);
       process.kill(process.pid, 'SIGKILL');`,
      { path: logPath },
    );
    expectKilled(result);
    const lastInChild = BigInt(taggedLines(result.stdout, 'last')[0]![0]!);
    const log = await track(openLog(logPath));
    expect(log.information().lastLsn).toBe(lastInChild);
    expect(texts(await readAll(log))).toEqual(blockTexts(7));
  });
});

describe('corruption before the durable watermark (invariant 6)', () => {
  /** 12 acknowledged blocks, then a SIGKILL; block 5 is damaged by `damage`. */
  async function damagedLog(
    damage: (file: string, offset: number) => void = (file, offset) => flipByte(file, offset + 200),
  ): Promise<{ logPath: string; acks: Lsn[][] }> {
    const logPath = await newClosedLog();
    const acks = await crashAfterFlushedBlocks(logPath, 12);
    const victim = acks[5]![0]!;
    // Premise: the next block was submitted after the victim was durable, and says so.
    expect(blockHeaderAt(logPath, acks[6]![0]!).vouchedLsn > victim).toBe(true);
    damage(containerFileOf(logPath, victim), Lsn.blockOffset(victim));
    return { logPath, acks };
  }

  it("Recovery (strict): damage in an acknowledged block that later blocks vouch for is ERR_CLFS_CORRUPT naming that block's LSN", async () => {
    const { logPath, acks } = await damagedLog();
    const error = await rejectionOf(Log.open(logPath));
    expect(error.code).toBe('ERR_CLFS_CORRUPT');
    expect(error.lsn).toBe(acks[5]![0]);
  });

  it('Recovery (strict): a zeroed acknowledged block in the middle is ERR_CLFS_CORRUPT, not mistaken for the end', async () => {
    // One sector: the block's header (a larger stretch would zero the blocks after it on 512-byte sectors).
    const unit = await sectorUnitHere();
    const { logPath, acks } = await damagedLog((file, offset) => writeAt(file, offset, new Uint8Array(unit)));
    const error = await rejectionOf(Log.open(logPath));
    expect(error.code).toBe('ERR_CLFS_CORRUPT');
    expect(error.lsn).toBe(acks[5]![0]);
  });

  it('Recovery (strict): a refused open writes nothing (base file and containers unchanged)', async () => {
    const { logPath } = await damagedLog();
    const files = [BASE_FILE, ...containerFiles(logPath)].map((name) => path.join(logPath, name));
    const before = files.map((file) => readFileSync(file));
    await rejectionOf(Log.open(logPath));
    files.forEach((file, i) => expect(readFileSync(file).equals(before[i]!), file).toBe(true));
  });

  it('Recovery (salvage): opens past the damage and lists it in recoveryReport.skipped as { fromLsn, toLsn, reason }', async () => {
    const { logPath, acks } = await damagedLog();
    const log = await track(openLog(logPath, { recovery: 'salvage' }));
    expect(log.recoveryReport.mode).toBe('salvage');
    expect(log.recoveryReport.skipped).toEqual([
      { fromLsn: acks[5]![0], toLsn: acks[6]![0], reason: expect.any(String) as string },
    ]);
    expect(log.information().lastLsn).toBe(acks[11]![2]);
  });

  it('Recovery (salvage): each skipped stretch is counted in recoveryReport.problems under its reason', async () => {
    const { logPath } = await damagedLog();
    const log = await track(openLog(logPath, { recovery: 'salvage' }));
    const [skipped] = log.recoveryReport.skipped;
    expect(log.recoveryReport.problems).toEqual({ [skipped!.reason]: 1 });
  });

  it("Recovery (salvage): a read refused in a skipped stretch is counted in the log's reader problems", async () => {
    const { logPath, acks } = await damagedLog();
    const log = await track(openLog(logPath, { recovery: 'salvage' }));
    const area = await log.createMarshallingArea({ bufferSize: 4 * KiB });
    expect((await rejectionOf(area.readLogRecord(acks[5]![0]!, 'forward'))).code).toBe('ERR_CLFS_CORRUPT');
    expect(log.core.blocks.problems.counts()).toEqual({ 'skipped by salvage recovery': 1 });
  });

  it('Recovery (salvage): the records after the damage are readable, byte-exact', async () => {
    const { logPath, acks } = await damagedLog();
    const log = await track(openLog(logPath, { recovery: 'salvage' }));
    const area = await log.createMarshallingArea({ bufferSize: 4 * KiB });
    const after = [];
    for await (const record of area.records(acks[6]![0])) after.push(record);
    expect(after.map((r) => r.lsn)).toEqual(acks.slice(6).flat());
    expect(texts(after)).toEqual(blockTexts(12).slice(18));
  });

  it('Recovery (salvage): the records before the damage are readable', async () => {
    const { logPath, acks } = await damagedLog();
    const log = await track(openLog(logPath, { recovery: 'salvage' }));
    const area = await log.createMarshallingArea({ bufferSize: 4 * KiB });
    const context = await area.readLogRecord(acks[4]![2]!, 'forward');
    expect(textOf(context.record.data)).toBe('b4 r2');
    context.terminate();
  });

  it('Recovery (salvage): appends continue after the last valid block, and a strict reopen then succeeds', async () => {
    const { logPath, acks } = await damagedLog();
    const log = await openLog(logPath, { recovery: 'salvage' });
    const area = await log.createMarshallingArea({ bufferSize: 4 * KiB });
    const { lsn } = await area.reserveAndAppend(text('after salvage'), { forceFlush: true });
    expect(lsn! > acks[11]![2]!).toBe(true);
    await log.close();
    const again = await track(openLog(logPath));
    expect(again.information().lastLsn).toBe(lsn);
  });
});

describe('stale blocks never come back (I4)', () => {
  /**
   * Run 1 (a child, epoch e1): blocks A1..A7 acknowledged one by one, then
   * A8, A9, A10 (one 3900-byte record each, so one 4 KiB block each) handed
   * to the device together with forceAppend and never flushed: none is
   * acknowledged, and since A8 was still in flight when A9 and A10 were
   * submitted, neither vouches for it. The child waits until all three are
   * written, then dies. The parent then tears A8 (a flipped byte: one of the
   * unacknowledged writes did not fully reach the disk), which makes A9 and
   * A10 stale: valid blocks past the end of the log. Every record carries
   * its generation ('gen1 ...').
   */
  async function staleLog(): Promise<{ logPath: string; acked: Lsn[]; unacked: Lsn[] }> {
    const logPath = await newClosedLog();
    const result = await runLogChild(
      `import { Log } from 'CLFS';
       const log = await Log.open(ARGS.path);
       const area = await log.createMarshallingArea({ bufferSize: 4096, flushIntervalMs: 0 });
       const enc = new TextEncoder();
       const big = (s) => { const b = new Uint8Array(3900); b.set(enc.encode(s)); return b; };
       for (let i = 1; i <= 7; i++) {
         const { lsn } = await area.reserveAndAppend(big('gen1 A' + i), { forceFlush: true });
         console.log('ack ' + lsn);
       }
       const lsns = await area.appendBatch([8, 9, 10].map((i) => big('gen1 A' + i)), { forceAppend: true });
       console.log('unacked ' + lsns.join(' '));
       while (log.information().lastFlushedLsn !== lsns[2]) await new Promise((r) => setTimeout(r, 2));
       process.kill(process.pid, 'SIGKILL');`,
      { path: logPath },
    );
    expectKilled(result);
    const acked = taggedLines(result.stdout, 'ack').map(([l]) => BigInt(l!));
    const unacked = taggedLines(result.stdout, 'unacked')[0]!.map((l) => BigInt(l));
    expect(acked).toHaveLength(7);
    // Premises: A8..A10 are consecutive one-sector blocks, and neither A9 nor A10 vouches for A8.
    const [a8, a9, a10] = unacked as [Lsn, Lsn, Lsn];
    expect([Lsn.blockOffset(a9) - Lsn.blockOffset(a8), Lsn.blockOffset(a10) - Lsn.blockOffset(a9)]).toEqual([
      4096, 4096,
    ]);
    expect(blockHeaderAt(logPath, a9).vouchedLsn <= a8).toBe(true);
    expect(blockHeaderAt(logPath, a10).vouchedLsn <= a8).toBe(true);
    flipByte(containerFileOf(logPath, a8), Lsn.blockOffset(a8) + 200);
    return { logPath, acked, unacked };
  }

  const big = (s: string): Uint8Array => {
    const b = new Uint8Array(3900);
    b.set(text(s));
    return b;
  };
  const label = (data: Uint8Array): string => textOf(data.subarray(0, data.indexOf(0)));

  it('I4: after a cut tail, one new block the size of the torn one, and a clean close, no stale record past the cut comes back', async () => {
    const { logPath, acked, unacked } = await staleLog();
    const first = await openLog(logPath);
    // Premise: the scan cut the log at A8.
    expect(first.recoveryReport.tailCutAt).toBe(unacked[0]);
    const area = await first.createMarshallingArea({ bufferSize: 4 * KiB });
    const { lsn: b1 } = await area.reserveAndAppend(big('gen2 B1'), { forceFlush: true });
    // Premise: B1 took A8's place (same LSN, same length), so A9 now sits right after it.
    expect(b1).toBe(unacked[0]);
    await first.close();

    const log = await track(openLog(logPath));
    expect(log.information().lastLsn, `lastLsn ${Lsn.format(log.information().lastLsn)}`).toBe(b1);
    const read = await readAll(log);
    expect(read.map((r) => label(r.data))).toEqual([
      'gen1 A1',
      'gen1 A2',
      'gen1 A3',
      'gen1 A4',
      'gen1 A5',
      'gen1 A6',
      'gen1 A7',
      'gen2 B1',
    ]);
    expect(read.map((r) => r.lsn)).toEqual([...acked, b1]);
  });

  it('I4: after a cut tail, one new block the size of the torn one, and a crash, no stale record past the cut comes back', async () => {
    const { logPath, acked, unacked } = await staleLog();
    const result = await runLogChild(
      `import { Log } from 'CLFS';
       const log = await Log.open(ARGS.path);
       const area = await log.createMarshallingArea({ bufferSize: 4096, flushIntervalMs: 0 });
       const b = new Uint8Array(3900); b.set(new TextEncoder().encode('gen2 B1'));
       const { lsn } = await area.reserveAndAppend(b, { forceFlush: true });
       console.log('ack ' + lsn);
       process.kill(process.pid, 'SIGKILL');`,
      { path: logPath },
    );
    expectKilled(result);
    const b1 = BigInt(taggedLines(result.stdout, 'ack')[0]![0]!);
    expect(b1).toBe(unacked[0]);

    const log = await track(openLog(logPath));
    expect(log.information().lastLsn).toBe(b1);
    const read = await readAll(log);
    expect(read.map((r) => label(r.data))).toEqual([
      'gen1 A1',
      'gen1 A2',
      'gen1 A3',
      'gen1 A4',
      'gen1 A5',
      'gen1 A6',
      'gen1 A7',
      'gen2 B1',
    ]);
    expect(read.map((r) => r.lsn)).toEqual([...acked, b1]);
  });
  it('I4: after a cut tail, one new block the size of the torn one, a base move (a metadata write) and a crash, no stale record past the cut comes back', async () => {
    const { logPath, acked, unacked } = await staleLog();
    const result = await runLogChild(
      `import { Log } from 'CLFS';
       const log = await Log.open(ARGS.path);
       const area = await log.createMarshallingArea({ bufferSize: 4096, flushIntervalMs: 0 });
       const b = new Uint8Array(3900); b.set(new TextEncoder().encode('gen2 B1'));
       const { lsn } = await area.reserveAndAppend(b, { forceFlush: true });
       await area.advanceLogBase(BigInt(ARGS.base));
       console.log('ack ' + lsn);
       process.kill(process.pid, 'SIGKILL');`,
      { path: logPath, base: String(acked[3]) },
    );
    expectKilled(result);
    const b1 = BigInt(taggedLines(result.stdout, 'ack')[0]![0]!);
    expect(b1).toBe(unacked[0]);

    const log = await track(openLog(logPath));
    expect(log.information().lastLsn, `lastLsn ${Lsn.format(log.information().lastLsn)}`).toBe(b1);
    const read = await readAll(log);
    expect(read.map((r) => label(r.data))).toEqual(['gen1 A4', 'gen1 A5', 'gen1 A6', 'gen1 A7', 'gen2 B1']);
    expect(read.map((r) => r.lsn)).toEqual([...acked.slice(3), b1]);
  });
});

describe('restart areas in recovery', () => {
  it('Recovery: a restart area whose metadata write was lost is rolled forward from the log (restartLsn and base)', async () => {
    const logPath = await newClosedLog();
    const result = await runLogChild(
      `import { Log } from 'CLFS';
       const log = await Log.open(ARGS.path);
       const area = await log.createMarshallingArea({ bufferSize: 4096 });
       const lsns = [];
       for (let i = 0; i < 10; i++) lsns.push((await area.reserveAndAppend(new TextEncoder().encode('r' + i), { forceFlush: true })).lsn);
       const { lsn } = await area.writeRestartArea(new TextEncoder().encode('checkpoint'), { newBaseLsn: lsns[5] });
       console.log('restart ' + lsn + ' ' + lsns[5]);
       process.kill(process.pid, 'SIGKILL');`,
      { path: logPath },
    );
    expectKilled(result);
    const [restart, base] = taggedLines(result.stdout, 'restart')[0]!.map((l) => BigInt(l));
    // Lose the metadata write of writeRestartArea: the newest slot is damaged,
    // so the open falls back to the copy written when the child opened.
    const [d0, d1] = dumpCounts(logPath);
    flipByte(path.join(logPath, BASE_FILE), (d0 > d1 ? 0 : 1) * SLOT_SIZE + 64);
    expect(newestMetadata(logPath).restartLsn, 'premise: the copy left predates the restart area').toBe(Lsn.INVALID);

    const log = await track(openLog(logPath));
    expect(log.information().restartLsn).toBe(restart);
    expect(log.information().baseLsn).toBe(base);
    const area = await log.createMarshallingArea({ bufferSize: 4 * KiB });
    const read = await area.readRestartArea();
    read.context.terminate();
    expect(textOf(read.data)).toBe('checkpoint');
    expect(texts(await readAll(log))).toEqual(['r5', 'r6', 'r7', 'r8', 'r9']);
  });
});

describe('recovery cost', () => {
  /**
   * A child writes `lot` bytes (flushed), then optionally a restart area,
   * then five small flushed records, then dies. Returns the five LSNs.
   */
  async function crashAfterLotAndLittle(logPath: string, lot: number, restart: boolean): Promise<Lsn[]> {
    const result = await runLogChild(
      `import { Log } from 'CLFS';
       const log = await Log.open(ARGS.path);
       const area = await log.createMarshallingArea({ bufferSize: 65536, flushIntervalMs: 0 });
       for (let written = 0; written < ARGS.lot; written += 100 * 2000) {
         await area.appendBatch(Array.from({ length: 100 }, () => new Uint8Array(2000).fill(7)), { forceFlush: true });
       }
       if (ARGS.restart) await area.writeRestartArea(new TextEncoder().encode('checkpoint'));
       for (let i = 0; i < 5; i++) {
         const { lsn } = await area.reserveAndAppend(new TextEncoder().encode('little ' + i), { forceFlush: true });
         console.log('ack ' + lsn);
       }
       process.kill(process.pid, 'SIGKILL');`,
      { path: logPath, lot, restart },
    );
    expectKilled(result);
    return taggedLines(result.stdout, 'ack').map(([l]) => BigInt(l!));
  }

  it('Recovery: after a restart area, the scan after a SIGKILL covers only what followed it (bytesScanned), not the log', async () => {
    const logPath = await newClosedLog(8 * MiB);
    const lot = 4 * MiB;
    const little = await crashAfterLotAndLittle(logPath, lot, true);
    const log = await track(openLog(logPath));
    const report = log.recoveryReport;
    expect(report.blocksScanned).toBeGreaterThanOrEqual(5);
    expect(report.bytesScanned).toBeLessThanOrEqual(64 * KiB);
    expect(report.bytesScanned).toBeLessThan(lot / 50);
    expect(log.information().lastLsn).toBe(little[4]);
  });

  it('Recovery (control): without a restart area, the scan after a SIGKILL covers everything written since open', async () => {
    const logPath = await newClosedLog(8 * MiB);
    const lot = 4 * MiB;
    const little = await crashAfterLotAndLittle(logPath, lot, false);
    const log = await track(openLog(logPath));
    expect(log.recoveryReport.bytesScanned).toBeGreaterThanOrEqual(lot);
    expect(log.information().lastLsn).toBe(little[4]);
  });
});
