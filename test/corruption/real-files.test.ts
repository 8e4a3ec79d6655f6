// Damage on real files, read back through the native direct-I/O storage.
// Crashes are real where it matters (a child process SIGKILLs itself after
// acknowledged flushes, so the metadata's tail is where its open left it and
// recovery scans what it wrote); other images are built in memory and written
// out as a log directory. Damage is done with node:fs on the closed files.
import { readFileSync, rmSync, truncateSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { Log, Lsn } from '../../lib/index.ts';
import { scratchFiles, KiB, MiB, SECTOR } from '../support/fixtures.ts';
import {
  BASE_FILE,
  SLOT_SIZE,
  containerFileName,
  containerFileOf,
  containerFiles,
  createLog,
  dumpCounts,
  expectKilled,
  flipByte,
  openLog,
  readAt,
  readAll,
  rejectionOf,
  runLogChild,
  taggedLines,
  writeAt,
} from '../support/log.ts';
import {
  LogBuilder,
  blockBytes,
  copyImage,
  flipBit,
  hex,
  newestSlot,
  resealSlot,
  slotBytes,
  type MemoryImage,
} from '../support/corruption.ts';

const scratch = scratchFiles('clfs-corruption-');
const fresh = (): string => scratch.fresh();

/**
 * A child creates nothing: it opens the log at `logPath`, writes `blocks`
 * blocks of three ~5000-byte records each (16 KiB blocks: 32 sectors of 512
 * bytes), each flushed before the next is begun, prints the LSNs and
 * SIGKILLs itself.
 */
async function crashAfterBlocks(logPath: string, blocks: number): Promise<Lsn[][]> {
  const result = await runLogChild(
    `import { Log } from 'CLFS';
     const log = await Log.open(ARGS.path);
     const area = await log.createMarshallingArea({ bufferSize: 16384, flushIntervalMs: 0 });
     for (let b = 0; b < ARGS.blocks; b++) {
       const records = [0, 1, 2].map((k) => { const d = new Uint8Array(5000); for (let i = 0; i < d.length; i++) d[i] = (b * 31 + k * 7 + i) % 251 + 1; return d; });
       const lsns = await area.appendBatch(records, { forceFlush: true });
       console.log('ack ' + lsns.join(' '));
     }
     process.kill(process.pid, 'SIGKILL');`,
    { path: logPath, blocks },
  );
  expectKilled(result);
  const acks = taggedLines(result.stdout, 'ack').map((line) => line.map((l) => BigInt(l)));
  expect(acks).toHaveLength(blocks);
  for (const lsns of acks) expect(lsns.map((l) => Lsn.recordSequence(l))).toEqual([0, 1, 2]);
  return acks;
}

function expected(b: number, k: number): Uint8Array {
  const d = new Uint8Array(5000);
  for (let i = 0; i < d.length; i++) d[i] = ((b * 31 + k * 7 + i) % 251) + 1;
  return d;
}

/** Writes an in-memory image out as a log directory (base file and containers). */
function writeImage(logPath: string, image: MemoryImage): void {
  mkdirSync(logPath);
  writeFileSync(path.join(logPath, BASE_FILE), image.base);
  image.containers.forEach((c, i) => writeFileSync(path.join(logPath, containerFileName(i)), c));
}

describe('real files: a SIGKILLed writer, then damage in an acknowledged 16 KiB block', () => {
  async function crashed(): Promise<{ logPath: string; acks: Lsn[][]; file: string; offset: number }> {
    const logPath = fresh();
    await (await createLog(logPath, { containerSize: 1 * MiB })).close();
    const acks = await crashAfterBlocks(logPath, 12);
    const victim = acks[5]![0]!;
    return { logPath, acks, file: containerFileOf(logPath, victim), offset: Lsn.blockOffset(victim) };
  }

  it.each([
    [
      'a zeroed 512-byte sector in its middle',
      (file: string, at: number) => writeAt(file, at + 9 * SECTOR, new Uint8Array(SECTOR)),
    ],
    [
      'two of its 512-byte sectors swapped',
      (file: string, at: number) => {
        const a = readAt(file, at + 3 * SECTOR, SECTOR);
        const b = readAt(file, at + 20 * SECTOR, SECTOR);
        writeAt(file, at + 3 * SECTOR, b);
        writeAt(file, at + 20 * SECTOR, a);
      },
    ],
    [
      'a 512-byte sector of the block before it (a misdirected write)',
      (file: string, at: number) => writeAt(file, at + 7 * SECTOR, readAt(file, at - 16 * KiB + 7 * SECTOR, SECTOR)),
    ],
    ['a flipped bit in its header', (file: string, at: number) => flipByte(file, at + 48)],
  ])('%s: a strict Log.open is ERR_CLFS_CORRUPT naming the block, and writes nothing', async (_name, damage) => {
    const { logPath, acks, file, offset } = await crashed();
    damage(file, offset);
    const files = [BASE_FILE, ...containerFiles(logPath)].map((n) => path.join(logPath, n));
    const before = files.map((f) => readFileSync(f));
    const error = await rejectionOf(Log.open(logPath));
    expect(error.code).toBe('ERR_CLFS_CORRUPT');
    expect(hex(error.lsn as bigint)).toBe(hex(acks[5]![0]));
    files.forEach((f, i) => expect(readFileSync(f).equals(before[i]!), f).toBe(true));
  });

  it('a zeroed sector: a salvage open skips the block, and every record after it reads back byte-exact', async () => {
    const { logPath, acks, file, offset } = await crashed();
    writeAt(file, offset + 9 * SECTOR, new Uint8Array(SECTOR));
    const log = await openLog(logPath, { recovery: 'salvage' });
    try {
      expect(log.recoveryReport.skipped.map((s) => [s.fromLsn, s.toLsn])).toEqual([[acks[5]![0], acks[6]![0]]]);
      const area = await log.createMarshallingArea({ bufferSize: 16 * KiB });
      const after = [];
      for await (const r of area.records(acks[6]![0])) after.push(r);
      expect(after.map((r) => r.lsn)).toEqual(acks.slice(6).flat());
      after.forEach((r, i) => {
        const b = 6 + Math.floor(i / 3);
        expect(Buffer.from(r.data).equals(Buffer.from(expected(b, i % 3))), hex(r.lsn)).toBe(true);
      });
    } finally {
      await log.close();
    }
  });

  it('damage in the last acknowledged block (nothing vouches for it) is cut as a torn tail; the 11 blocks before it read back', async () => {
    const logPath = fresh();
    await (await createLog(logPath, { containerSize: 1 * MiB })).close();
    const acks = await crashAfterBlocks(logPath, 12);
    const last = acks[11]![0]!;
    writeAt(containerFileOf(logPath, last), Lsn.blockOffset(last) + 4 * SECTOR, new Uint8Array(SECTOR));
    const log = await openLog(logPath);
    try {
      expect(log.recoveryReport.tailCutAt).toBe(last);
      const read = await readAll(log);
      expect(read.map((r) => r.lsn)).toEqual(acks.slice(0, 11).flat());
    } finally {
      await log.close();
    }
  });
});

describe('real files: a closed log (damage below the metadata tail)', () => {
  async function closedLog(): Promise<{ logPath: string; lsns: Lsn[][] }> {
    const logPath = fresh();
    const log = await createLog(logPath, { containerSize: 1 * MiB });
    const area = await log.createMarshallingArea({ bufferSize: 16 * KiB });
    const lsns: Lsn[][] = [];
    for (let b = 0; b < 8; b++)
      lsns.push(
        await area.appendBatch(
          [0, 1, 2].map((k) => expected(b, k)),
          { forceFlush: true },
        ),
      );
    await log.close();
    return { logPath, lsns };
  }

  it('a flipped bit in block 4: the log opens, and reading forward gives blocks 0-3 byte-exact then ERR_CLFS_CORRUPT naming block 4', async () => {
    const { logPath, lsns } = await closedLog();
    flipByte(containerFileOf(logPath, lsns[4]![0]!), Lsn.blockOffset(lsns[4]![0]!) + 3000);
    const log = await openLog(logPath);
    try {
      const area = await log.createMarshallingArea({ bufferSize: 16 * KiB });
      const read: { lsn: Lsn; data: Uint8Array }[] = [];
      const error = await (async () => {
        try {
          for await (const r of area.records()) read.push(r);
        } catch (e) {
          return e as { code: string; lsn: bigint };
        }
        return undefined;
      })();
      expect(read.map((r) => r.lsn)).toEqual(lsns.slice(0, 4).flat());
      read.forEach((r, i) =>
        expect(Buffer.from(r.data).equals(Buffer.from(expected(Math.floor(i / 3), i % 3)))).toBe(true),
      );
      expect(error?.code).toBe('ERR_CLFS_CORRUPT');
      expect(error?.lsn).toBe(lsns[4]![0]);
    } finally {
      await log.close();
    }
  });

  it('the newest metadata slot zeroed: the other wins and every record reads back', async () => {
    const { logPath, lsns } = await closedLog();
    const [d0, d1] = dumpCounts(logPath);
    writeAt(path.join(logPath, BASE_FILE), (d0 > d1 ? 0 : 1) * SLOT_SIZE, new Uint8Array(4096));
    const log = await openLog(logPath);
    try {
      expect(log.recoveryReport.metadataProblems).toHaveLength(1);
      expect((await readAll(log)).map((r) => r.lsn)).toEqual(lsns.flat());
    } finally {
      await log.close();
    }
  });

  it('both metadata slots damaged: ERR_CLFS_CORRUPT', async () => {
    const { logPath } = await closedLog();
    flipByte(path.join(logPath, BASE_FILE), 64);
    flipByte(path.join(logPath, BASE_FILE), SLOT_SIZE + 64);
    const error = await rejectionOf(Log.open(logPath));
    expect(error.code).toBe('ERR_CLFS_CORRUPT');
  });

  it('the base file replaced by random bytes: ERR_CLFS_CORRUPT', async () => {
    const { logPath } = await closedLog();
    const random = new Uint8Array(2 * SLOT_SIZE);
    for (let i = 0; i < random.length; i++) random[i] = (i * 2654435761) >>> 24;
    writeFileSync(path.join(logPath, BASE_FILE), random);
    const error = await rejectionOf(Log.open(logPath));
    expect(error.code).toBe('ERR_CLFS_CORRUPT');
  });

  it("the base file cut inside slot 0's header (100 bytes): ERR_CLFS_CORRUPT", async () => {
    const { logPath } = await closedLog();
    truncateSync(path.join(logPath, BASE_FILE), 100);
    const error = await rejectionOf(Log.open(logPath));
    expect(error.code).toBe('ERR_CLFS_CORRUPT');
  });

  it('a container file truncated in the middle of a block while the log is open: reading gives the records before it, then ERR_CLFS_CORRUPT (not a buffer-size error)', async () => {
    // (Truncated before the open, it is ERR_CLFS_CORRUPT at open: test/files/container-size.test.ts.
    // Recovery has the container open by now, so the cut is found by the reader.)
    const { logPath, lsns } = await closedLog();
    const log = await openLog(logPath);
    truncateSync(containerFileOf(logPath, lsns[0]![0]!), Lsn.blockOffset(lsns[5]![0]!) + 1000);
    try {
      const area = await log.createMarshallingArea({ bufferSize: 16 * KiB });
      const read: Lsn[] = [];
      let code: string | undefined;
      try {
        for await (const r of area.records()) read.push(r.lsn);
      } catch (e) {
        code = (e as { code: string }).code;
      }
      expect(read).toEqual(lsns.slice(0, 5).flat());
      expect(code).toBe('ERR_CLFS_CORRUPT');
    } finally {
      await log.close();
    }
  });

  it('a container file removed: opening or reading fails with a typed error (ENOENT), never a crash', async () => {
    const { logPath, lsns } = await closedLog();
    rmSync(containerFileOf(logPath, lsns[0]![0]!));
    let code: string | undefined;
    try {
      const log = await Log.open(logPath);
      try {
        await readAll(log);
      } finally {
        await log.close();
      }
    } catch (e) {
      code = (e as { code: string }).code;
    }
    expect(code).toBe('ENOENT');
  });
});

describe('real files: images built in memory', () => {
  it('a torn unacknowledged tail is cut, and the acknowledged records before it read back byte-exact through direct I/O', async () => {
    const b = await LogBuilder.create({ seed: 61, containerSize: 512 * KiB });
    const acked = (await b.flushedBlocks(6)).flat();
    const unacked = await b.unackedRecords(3);
    const image = b.crashImage();
    flipBit(blockBytes(image, unacked[0]!), 1234);
    const logPath = fresh();
    writeImage(logPath, image);
    const log = await openLog(logPath);
    try {
      expect(log.recoveryReport.tailCutAt).toBe(unacked[0]);
      const read = await readAll(log);
      expect(read.map((r) => r.lsn)).toEqual(acked);
      read.forEach((r) => expect(Buffer.from(r.data).equals(Buffer.from(b.record(r.lsn).data))).toBe(true));
    } finally {
      await log.close();
    }
  });

  it('a hostile base file (a valid CRC over a 4 GiB container size) and a block claiming a 4 GiB length: Log.open fails with a typed error, without allocating gigabytes', async () => {
    const b = await LogBuilder.create({ seed: 62, containerSize: 512 * KiB });
    const blocks = await b.flushedBlocks(4);
    const image = copyImage(b.crashImage());
    const { slot } = newestSlot(image);
    const s = slotBytes(image, slot);
    new DataView(s.buffer, s.byteOffset).setBigUint64(48, 0x1_0000_0000n, true);
    resealSlot(s);
    const block = blockBytes(image, blocks[1]![0]!);
    new DataView(block.buffer, block.byteOffset).setUint32(12, 0xffff_f000, true);
    const logPath = fresh();
    writeImage(logPath, image);
    const before = process.memoryUsage();
    let peak = 0;
    const timer = setInterval(() => {
      const m = process.memoryUsage();
      peak = Math.max(peak, m.arrayBuffers - before.arrayBuffers, m.rss - before.rss);
    }, 1);
    let outcome: string;
    try {
      const log = await Log.open(logPath);
      await log.close();
      outcome = 'opened';
    } catch (e) {
      outcome = e instanceof Error && 'code' in e ? String(e.code) : `untyped ${String(e)}`;
    } finally {
      clearInterval(timer);
      const m = process.memoryUsage();
      peak = Math.max(peak, m.arrayBuffers - before.arrayBuffers, m.rss - before.rss);
    }
    expect(['ERR_CLFS_CORRUPT', 'opened']).toContain(outcome);
    expect(peak, `memory grew by ${peak} bytes during the open`).toBeLessThan(256 * MiB);
  });
});
