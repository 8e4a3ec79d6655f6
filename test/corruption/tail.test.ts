// Damage after the durable watermark, in memory: the unacknowledged tail
// (blocks handed to the device together, none of them flushed, none vouching
// for another) is cut cleanly (recoveryReport.tailCutAt), every acknowledged
// record before it reads back byte-exact, appends go on at the cut and
// nothing past it ever comes back. And the documented limit: damage to the
// newest acknowledged blocks that no later block vouches for is
// indistinguishable from a torn write, so it is cut too, with everything
// before it intact.
import { beforeAll, describe, expect, it } from 'vitest';

import { Log } from '../../lib/log/log.ts';
import { Lsn } from '../../lib/lsn.ts';
import { MemoryStorage } from '../../lib/storage/memory-storage.ts';
import {
  LogBuilder,
  blockAt,
  blockBytes,
  checkAgainst,
  copyImage,
  flipBit,
  hex,
  openImage,
  readForward,
  swapSectors,
  zeroSector,
  type KnownRecord,
  type MemoryImage,
} from '../support/corruption.ts';
import { SECTOR, payload, prng } from '../support/fixtures.ts';

type Damage = [name: string, damage: (block: Uint8Array) => void];

const DAMAGES: Damage[] = [
  ['a bit flip in the payload', (b) => flipBit(b, 1000, 3)],
  ['a bit flip in the header (record count)', (b) => flipBit(b, 48, 1)],
  ["a bit flip in the header (the block's own LSN)", (b) => flipBit(b, 17, 2)],
  ['a zeroed first sector', (b) => zeroSector(b, 0)],
  ['a zeroed last sector', (b) => zeroSector(b, b.byteLength / SECTOR - 1)],
  [
    'a garbage sector',
    (b) => {
      const random = prng(3);
      for (let i = 2 * SECTOR; i < 3 * SECTOR; i++) b[i] = Math.floor(random() * 256);
    },
  ],
  ['two sectors swapped', (b) => swapSectors(b, 1, b, 6)],
  ['only its first sector written (the rest zero)', (b) => b.fill(0, SECTOR)],
  ['only its last sector written (the rest zero)', (b) => b.fill(0, 0, b.byteLength - SECTOR)],
];

/** Acknowledged records read back byte-exact from the base, and where the read stopped. */
async function readAllAcked(log: Log, known: KnownRecord[]): Promise<Lsn[]> {
  const { records, error } = await readForward(log);
  expect(error).toBeUndefined();
  expect(checkAgainst(records, known)).toEqual([]);
  return records.map((r) => r.lsn);
}

describe('the unacknowledged tail', () => {
  let crash: MemoryImage;
  let acked: Lsn[];
  let unacked: Lsn[];
  let known: KnownRecord[];
  beforeAll(async () => {
    const b = await LogBuilder.create({ seed: 31 });
    acked = (await b.flushedBlocks(8)).flat();
    unacked = await b.unackedRecords(3);
    crash = b.crashImage();
    known = b.records;
    // Premises: three one-block records after the acknowledged ones, none vouching for another.
    expect(unacked.map((l) => Lsn.recordSequence(l))).toEqual([0, 0, 0]);
    for (const l of unacked.slice(1)) expect(blockAt(crash, l).header.vouchedLsn <= unacked[0]!).toBe(true);
  });

  describe.each(DAMAGES)('%s in the first unacknowledged block', (_name, damage) => {
    const image = (): MemoryImage => {
      const copy = copyImage(crash);
      damage(blockBytes(copy, unacked[0]!));
      return copy;
    };

    it.each(['strict', 'salvage'] as const)(
      '%s open: the tail is cut at that block (recoveryReport.tailCutAt), nothing is skipped',
      async (mode) => {
        const log = await openImage(image(), mode);
        try {
          expect(hex(log.recoveryReport.tailCutAt)).toBe(hex(unacked[0]));
          expect(log.recoveryReport.tailReason).toMatch(/torn/);
          expect(log.recoveryReport.skipped).toEqual([]);
          expect(log.information().lastLsn).toBe(acked.at(-1));
        } finally {
          await log.close();
        }
      },
    );

    it('every acknowledged record reads back byte-exact, and none of the valid blocks after the cut', async () => {
      const log = await openImage(image());
      try {
        expect(await readAllAcked(log, known)).toEqual(acked);
      } finally {
        await log.close();
      }
    });
  });

  it('damage in the second unacknowledged block cuts there: the first, intact, is kept', async () => {
    const copy = copyImage(crash);
    zeroSector(blockBytes(copy, unacked[1]!), 0);
    const log = await openImage(copy);
    try {
      expect(log.recoveryReport.tailCutAt).toBe(unacked[1]);
      expect(await readAllAcked(log, known)).toEqual([...acked, unacked[0]]);
    } finally {
      await log.close();
    }
  });

  it('after a cut, appends go on at the cut; after a clean close and a crash, no stale block past the cut ever comes back', async () => {
    const copy = copyImage(crash);
    flipBit(blockBytes(copy, unacked[0]!), 1000);
    const storage = new MemoryStorage(copy);
    const log = await Log.openStorage('memory', storage, 'strict');
    const area = await log.createMarshallingArea({ bufferSize: 4096, flushIntervalMs: 0 });
    // The same size as the torn block: the stale blocks after it sit right behind the new one.
    const data = payload(prng(7), 'new ', 4096 - 64 - 40);
    const { lsn } = await area.reserveAndAppend(data, { forceFlush: true });
    expect(lsn).toBe(unacked[0]);
    const afterAppend = copyImage(storage.image); // a crash now
    await log.close();
    for (const image of [storage.image, afterAppend]) {
      const again = await openImage(image);
      try {
        expect(again.information().lastLsn).toBe(lsn);
        const { records, error } = await readForward(again);
        expect(error).toBeUndefined();
        expect(records.map((r) => r.lsn)).toEqual([...acked, lsn]);
        expect(Buffer.from(records.at(-1)!.data).equals(Buffer.from(data))).toBe(true);
      } finally {
        await again.close();
      }
    }
  });

  it('recovering a cut tail twice finds the same log (idempotent): the same records, nothing more cut', async () => {
    const copy = copyImage(crash);
    zeroSector(blockBytes(copy, unacked[0]!), 0);
    const storage = new MemoryStorage(copy);
    const first = await Log.openStorage('memory', storage, 'strict');
    const firstRead = await readForward(first);
    await first.close();
    storage.reopen();
    const second = await Log.openStorage('memory', storage, 'strict');
    try {
      // The torn block is still there (nothing overwrote it): the same cut, at the same place, or none.
      expect([undefined, unacked[0]]).toContain(second.recoveryReport.tailCutAt);
      expect(second.information().lastLsn).toBe(acked.at(-1));
      const secondRead = await readForward(second);
      expect(secondRead.records.map((r) => r.lsn)).toEqual(firstRead.records.map((r) => r.lsn));
    } finally {
      await second.close();
    }
  });
});

describe('the documented limit: the newest acknowledged blocks, which no later block vouches for', () => {
  it.each(DAMAGES)(
    '%s in the last acknowledged block: cut there (tailCutAt), every record before it intact',
    async (_name, damage) => {
      const b = await LogBuilder.create({ seed: 32 });
      const blocks = await b.flushedBlocks(10);
      const copy = b.crashImage();
      damage(blockBytes(copy, blocks[9]![0]!));
      for (const mode of ['strict', 'salvage'] as const) {
        const log = await openImage(copy, mode);
        try {
          expect(hex(log.recoveryReport.tailCutAt)).toBe(hex(blocks[9]![0]));
          expect(log.recoveryReport.skipped).toEqual([]);
          expect(await readAllAcked(log, b.records)).toEqual(blocks.slice(0, 9).flat());
        } finally {
          await log.close();
        }
      }
    },
  );

  it('damage in a block of the last batch flushed together that no later block vouches for (not the last block): cut there, everything before it intact', async () => {
    const b = await LogBuilder.create({ seed: 33 });
    const before = (await b.flushedBlocks(6)).flat();
    const batch = await b.flushedBatch(5, 3900);
    const copy = b.crashImage();
    // The first block of the batch that no later block vouches for (blocks submitted together do not).
    expect(new Set(batch.map((l) => Lsn.recordSequence(l)))).toEqual(new Set([0]));
    const vouchedUpTo = (i: number): Lsn =>
      batch
        .slice(i + 1)
        .reduce((m, l) => (blockAt(copy, l).header.vouchedLsn > m ? blockAt(copy, l).header.vouchedLsn : m), 0n);
    const victim = batch.findIndex((l, i) => vouchedUpTo(i) <= l);
    expect(victim).toBeGreaterThanOrEqual(0);
    expect(victim, 'premise: the victim is not the last block').toBeLessThan(batch.length - 1);
    zeroSector(blockBytes(copy, batch[victim]!), 4);
    const log = await openImage(copy);
    try {
      expect(log.recoveryReport.tailCutAt).toBe(batch[victim]);
      expect(await readAllAcked(log, b.records)).toEqual([...before, ...batch.slice(0, victim)]);
    } finally {
      await log.close();
    }
  });

  it('the same damage followed by one more acknowledged block is no longer a cut: ERR_CLFS_CORRUPT (the new block vouches for it)', async () => {
    const b = await LogBuilder.create({ seed: 33 });
    await b.flushedBlocks(6);
    const batch = await b.flushedBatch(5, 3900);
    await b.flushedBlocks(1);
    const copy = b.crashImage();
    zeroSector(blockBytes(copy, batch[0]!), 4);
    await expect(openImage(copy)).rejects.toMatchObject({ code: 'ERR_CLFS_CORRUPT', lsn: batch[0] });
  });
});
