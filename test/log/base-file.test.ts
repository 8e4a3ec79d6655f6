// The base file: two shadow copies of the metadata (lib/format/metadata.ts:
// slot N at N * 64 KiB, dump count at byte 16, CRC32C at byte 8), the newest
// valid one wins; and (DESIGN.md invariant 7) a base file whose CRC is right
// but whose fields are not gets a typed error, never an internal one.
import { readFileSync } from 'node:fs';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { ClfsError, crc32c, Log } from '../../lib/index.ts';
import { scratchFiles, KiB } from '../support/fixtures.ts';
import {
  BASE_FILE,
  SLOT_SIZE,
  createLog,
  dumpCounts,
  flipByte,
  openLog,
  readAll,
  readAt,
  rejectionOf,
  text,
  textOf,
  writeAt,
} from '../support/log.ts';

const scratch = scratchFiles('clfs-log-base-');

/** A closed log with records 'r0'..'r4' (flushed one by one) and a restart area in the middle. */
async function closedLog(): Promise<string> {
  const logPath = scratch.fresh();
  const log = await createLog(logPath, { containerSize: 512 * KiB });
  const area = await log.createMarshallingArea({ bufferSize: 4 * KiB });
  for (let i = 0; i < 5; i++) {
    await area.reserveAndAppend(text(`r${i}`), { forceFlush: true });
    if (i === 2) await area.writeRestartArea(text('checkpoint'));
  }
  await log.close();
  return logPath;
}

function baseFile(logPath: string): string {
  return path.join(logPath, BASE_FILE);
}

/** The slot holding the higher dump count. */
function newestSlot(logPath: string): 0 | 1 {
  const [d0, d1] = dumpCounts(logPath);
  return d0 > d1 ? 0 : 1;
}

const RECORDS = ['r0', 'r1', 'r2', 'r3', 'r4'];

describe('base file shadow copies', () => {
  it('Base file: each metadata write goes to slot dumpCount % 2 with a dump count one higher than the last', async () => {
    const logPath = scratch.fresh();
    // No idle tail write between the calls counted (a slow machine can idle that long).
    const log = await createLog(logPath, { containerSize: 512 * KiB, idlePublishMs: 0 });
    scratch.keep(log);
    const area = await log.createMarshallingArea({ bufferSize: 4 * KiB });
    let [d0, d1] = dumpCounts(logPath);
    let newest = d0 > d1 ? d0 : d1;
    for (let i = 0; i < 5; i++) {
      const flushes = log.ioStatistics().metadataFlushes;
      if (i % 2 === 0) {
        await area.writeRestartArea(text(`checkpoint ${i}`));
      } else {
        const { lsn } = await area.reserveAndAppend(text(`data ${i}`), { forceFlush: true });
        await area.advanceLogBase(lsn!);
      }
      expect(log.ioStatistics().metadataFlushes - flushes, 'one metadata write').toBe(1);
      [d0, d1] = dumpCounts(logPath);
      const slots = [d0, d1];
      const next = newest + 1n;
      expect(slots[Number(next % 2n)], `dump ${next} in slot ${next % 2n}`).toBe(next);
      expect(slots[Number((next + 1n) % 2n)], 'the other slot keeps the previous dump').toBe(newest);
      newest = next;
    }
  });

  it('Base file: Log.open takes the newest valid slot (its own write gets the next dump count)', async () => {
    const logPath = await closedLog();
    const [d0, d1] = dumpCounts(logPath);
    const newest = d0 > d1 ? d0 : d1;
    const log = await openLog(logPath);
    scratch.keep(log);
    const after = dumpCounts(logPath);
    expect(after[Number((newest + 1n) % 2n)]).toBe(newest + 1n);
    expect(after[Number(newest % 2n)]).toBe(newest);
  });

  it.each([
    ['a flipped byte in the dump count', 16],
    ['a flipped byte in the base LSN', 64],
    ['a flipped byte in the container table', 120],
    ['a flipped byte in the space policy', 108],
  ])(
    'Base file: with %s of the newest slot, Log.open uses the older copy and recovers every record',
    async (_name, offset) => {
      const logPath = await closedLog();
      flipByte(baseFile(logPath), newestSlot(logPath) * SLOT_SIZE + offset);
      const log = await openLog(logPath);
      scratch.keep(log);
      expect((await readAll(log)).map((r) => textOf(r.data))).toEqual(RECORDS);
    },
  );

  it('Base file: a torn newest slot (its first 512-byte sector zero) falls back to the older copy', async () => {
    const logPath = await closedLog();
    writeAt(baseFile(logPath), newestSlot(logPath) * SLOT_SIZE, new Uint8Array(512));
    const log = await openLog(logPath);
    scratch.keep(log);
    expect((await readAll(log)).map((r) => textOf(r.data))).toEqual(RECORDS);
  });

  it('Base file: recoveryReport.metadataProblems names the damaged slot', async () => {
    const logPath = await closedLog();
    const slot = newestSlot(logPath);
    flipByte(baseFile(logPath), slot * SLOT_SIZE + 64);
    const log = await openLog(logPath);
    scratch.keep(log);
    expect(log.recoveryReport.metadataProblems.join('\n')).toMatch(new RegExp(`slot ${slot}`));
  });

  it('Base file: the restart area survives falling back to the older copy', async () => {
    const logPath = await closedLog();
    flipByte(baseFile(logPath), newestSlot(logPath) * SLOT_SIZE + 64);
    const log = await openLog(logPath);
    scratch.keep(log);
    const area = await log.createMarshallingArea({ bufferSize: 4 * KiB });
    const restart = await area.readRestartArea();
    restart.context.terminate();
    expect(textOf(restart.data)).toBe('checkpoint');
  });

  it('Base file: both slots damaged is ERR_CLFS_CORRUPT', async () => {
    const logPath = await closedLog();
    flipByte(baseFile(logPath), 64);
    flipByte(baseFile(logPath), SLOT_SIZE + 64);
    const error = await rejectionOf(Log.open(logPath));
    expect(error).toBeInstanceOf(ClfsError);
    expect(error.code).toBe('ERR_CLFS_CORRUPT');
  });

  it('Base file: a refused open (both slots damaged) writes nothing to the base file', async () => {
    const logPath = await closedLog();
    flipByte(baseFile(logPath), 64);
    flipByte(baseFile(logPath), SLOT_SIZE + 64);
    const before = readFileSync(baseFile(logPath));
    await rejectionOf(Log.open(logPath));
    expect(readFileSync(baseFile(logPath)).equals(before)).toBe(true);
  });
});

// --- hostile base files: the CRC is right, the fields are not ---

/** Rewrites the newest slot with `patch` applied, and a correct CRC32C. */
function patchNewestSlot(logPath: string, patch: (slot: Buffer) => void): void {
  const at = newestSlot(logPath) * SLOT_SIZE;
  const slot = Buffer.from(readAt(baseFile(logPath), at, 4096));
  patch(slot);
  const used = slot.readUInt32LE(12);
  const covered = Buffer.from(slot.subarray(0, used));
  covered.fill(0, 8, 12);
  slot.writeUInt32LE(crc32c(covered), 8);
  writeAt(baseFile(logPath), at, slot);
}

/**
 * Opens the log and uses it (read all, read the restart area, append and
 * flush, close); returns every error met. A hostile file may fail any of
 * these, but only with a typed ClfsError.
 */
async function exercise(logPath: string): Promise<unknown[]> {
  const errors: unknown[] = [];
  let log: Log;
  try {
    log = await Log.open(logPath);
  } catch (error) {
    return [error];
  }
  try {
    const area = await log.createMarshallingArea({ bufferSize: 4 * KiB });
    await readAll(log).catch((e: unknown) => errors.push(e));
    await area.readRestartArea().then(
      (r) => r.context.terminate(),
      (e: unknown) => errors.push(e),
    );
    await area.reserveAndAppend(text('new'), { forceFlush: true }).catch((e: unknown) => errors.push(e));
  } catch (error) {
    errors.push(error);
  } finally {
    await log.close().catch((e: unknown) => errors.push(e));
  }
  return errors;
}

const C1 = 1n << 32n;
const hostile: [string, (slot: Buffer) => void][] = [
  ['a tail LSN past the end of its container', (s) => s.writeBigUInt64LE(C1 | 0x7ff000n, 80)],
  ['a tail LSN not on a sector boundary', (s) => s.writeBigUInt64LE(C1 | 100n, 80)],
  ['a tail LSN in a container the table does not have', (s) => s.writeBigUInt64LE(77n << 32n, 80)],
  ['a tail LSN of Lsn.INVALID', (s) => s.writeBigUInt64LE(0xffff_ffff_0000_0000n, 80)],
  ['a base LSN above every record', (s) => s.writeBigUInt64LE(9n << 32n, 64)],
  ['a restart LSN naming no record', (s) => s.writeBigUInt64LE(C1 | 0x3000n, 72)],
  ['a last LSN beyond every record', (s) => s.writeBigUInt64LE((5n << 32n) | 0x1000n, 96)],
  ['two physical containers with the same logical id', (s) => s.writeUInt32LE(s.readUInt32LE(120), 124)],
  ['a logical container id of 0xffffffff', (s) => s.writeUInt32LE(0xffff_ffff, 124)],
  ['a policy whose minContainers is above its maxContainers', (s) => s.writeUInt16LE(9, 110)],
  ['a policy whose maxContainers is below the container count', (s) => s.writeUInt16LE(1, 108)],
  ['a policy whose maxContainers is over 1024', (s) => s.writeUInt16LE(1025, 108)],
  ['a policy whose growthRate is 0', (s) => s.writeUInt16LE(0, 112)],
  ['a policy whose logTail is over 100 percent', (s) => s.writeUInt8(101, 115)],
  ['a policy whose autoShrink is over 100 percent', (s) => s.writeUInt8(200, 114)],
  ['a policy with an unknown flag', (s) => s.writeUInt8(2, 116)],
  ['the largest epoch', (s) => s.writeBigUInt64LE(0xffff_ffff_ffff_ffffn, 56)],
  ['a sector unit of 512 (smaller than the device writes)', (s) => s.writeUInt32LE(512, 40)],
  ['a sector unit of 64 KiB', (s) => s.writeUInt32LE(65536, 40)],
];

describe('hostile base files (invariant 7)', () => {
  it.each(hostile)('Invariant 7: a base file with %s gives only typed errors', async (_name, patch) => {
    const logPath = await closedLog();
    patchNewestSlot(logPath, patch);
    const errors = await exercise(logPath);
    for (const error of errors) {
      expect(error, String(error)).toBeInstanceOf(ClfsError);
      expect((error as ClfsError).code, String(error)).toMatch(/^(ERR_|E[A-Z]+$)/);
    }
  });
});
