// Damage in acknowledged data (DESIGN.md invariants 5-6, RELIABILITY.md I5),
// in memory: a log whose blocks were each flushed before the next was begun
// (so every block vouches for the ones before it), damaged one way at a
// time: bit flips in each header field, the record header, the payload and
// the padding; zeroed, garbage and swapped 512-byte sectors; a sector swapped
// with the next block's.
//
// - In the region recovery scans (after the metadata's tail: a crash image),
//   a strict open is ERR_CLFS_CORRUPT naming the damaged block; a salvage
//   open lists it in recoveryReport.skipped and the records after it read
//   back, byte-exact; reading across it is ERR_CLFS_CORRUPT naming it.
// - Below the metadata's tail (a closed log: recovery does not scan there),
//   the log opens, and reading the damaged records is ERR_CLFS_CORRUPT naming
//   the damaged block: never a silent end, never wrong data.
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
  newestSlot,
  openImage,
  readForward,
  readOne,
  rejection,
  swapSectors,
  zeroSector,
  type KnownRecord,
  type MemoryImage,
} from '../support/corruption.ts';
import { KiB, SECTOR, payload, prng } from '../support/fixtures.ts';

interface Layout {
  name: string;
  unit: number;
  bufferSize: number;
}

const LAYOUTS: Layout[] = [
  { name: '4 KiB blocks on 4096-byte sectors', unit: 4096, bufferSize: 4 * KiB },
  { name: '16 KiB blocks on 512-byte sectors', unit: 512, bufferSize: 16 * KiB },
];

/** A damage to `block` (the victim); `next` is the block after it. */
type Damage = [name: string, damage: (block: Uint8Array, next: Uint8Array) => void];

const garbage = (block: Uint8Array, sector: number): void => {
  const random = prng(99);
  for (let i = sector * SECTOR; i < (sector + 1) * SECTOR; i++) block[i] = Math.floor(random() * 256);
};
const middle = (block: Uint8Array): number => Math.floor(block.byteLength / SECTOR / 2);
const lastSector = (block: Uint8Array): number => block.byteLength / SECTOR - 1;

const DAMAGES: Damage[] = [
  ['a bit flip in the magic', (b) => flipBit(b, 0, 1)],
  ['a bit flip in the version', (b) => flipBit(b, 4, 0)],
  ['a bit flip in the stored CRC', (b) => flipBit(b, 8, 5)],
  ['a bit flip in the block length (low)', (b) => flipBit(b, 13, 4)],
  ['a bit flip in the block length (bit 31)', (b) => flipBit(b, 15, 7)],
  ["a bit flip in the block's own LSN", (b) => flipBit(b, 17, 3)],
  ['a bit flip in the previous-block LSN', (b) => flipBit(b, 25, 0)],
  ['a bit flip in the epoch', (b) => flipBit(b, 32, 0)],
  ['a bit flip in the epoch (bit 63)', (b) => flipBit(b, 39, 7)],
  ['a bit flip in the vouched LSN', (b) => flipBit(b, 41, 2)],
  ['a bit flip in the record count', (b) => flipBit(b, 48, 0)],
  ['a bit flip in the record count (1024)', (b) => flipBit(b, 49, 2)],
  ['a bit flip in the used length', (b) => flipBit(b, 52, 3)],
  ['a bit flip in the log id', (b) => flipBit(b, 60, 5)],
  ["a bit flip in the first record's data length", (b) => flipBit(b, 64, 1)],
  ["a bit flip in the first record's type", (b) => flipBit(b, 68, 1)],
  ['a bit flip in the payload', (b) => flipBit(b, 64 + 32 + 100, 6)],
  ["a bit flip in the block's last byte", (b) => flipBit(b, b.byteLength - 1, 0)],
  ['a zeroed first sector (the header)', (b) => zeroSector(b, 0)],
  ['a zeroed middle sector', (b) => zeroSector(b, middle(b))],
  ['a zeroed last sector', (b) => zeroSector(b, lastSector(b))],
  ['a garbage middle sector', (b) => garbage(b, middle(b))],
  ['two of its sectors swapped', (b) => swapSectors(b, 1, b, lastSector(b) - 1)],
  ["a sector swapped with the next block's", (b, n) => swapSectors(b, 2, n, 2)],
];

interface Built {
  /** A crash image: the metadata's tail is before the 12 blocks, which recovery scans. */
  crash: MemoryImage;
  /** The same log closed: the metadata's tail is after every block. */
  clean: MemoryImage;
  /** Record LSNs of the 4 blocks below the tail in `crash`. */
  early: Lsn[][];
  /** Record LSNs of the 12 blocks after the tail in `crash`. */
  blocks: Lsn[][];
  known: KnownRecord[];
}

async function build(layout: Layout): Promise<Built> {
  const b = await LogBuilder.create({ unit: layout.unit, bufferSize: layout.bufferSize, seed: 21 });
  const early = await b.flushedBlocks(4);
  await b.reopen(await b.close());
  const blocks = await b.flushedBlocks(12);
  const crash = b.crashImage();
  const clean = await b.close();
  return { crash, clean, early, blocks, known: b.records };
}

function damaged(image: MemoryImage, victim: Lsn, next: Lsn, damage: Damage[1]): MemoryImage {
  const copy = copyImage(image);
  damage(blockBytes(copy, victim), blockBytes(copy, next));
  return copy;
}

const VICTIMS = [
  ['block 5 of 16 (the first written after the last open)', 0],
  ['block 10 of 16', 5],
  ['block 13 of 16 (three later blocks vouch for it)', 8],
] as const;

describe.each(LAYOUTS)('acknowledged damage ($name)', (layout) => {
  let built: Built;
  beforeAll(async () => {
    built = await build(layout);
    // Premises: the crash image's tail is at the fifth block; every block vouches for its predecessors.
    expect(newestSlot(built.crash).metadata.tailLsn).toBe(built.blocks[0]![0]);
    expect(newestSlot(built.clean).metadata.tailLsn > built.blocks[11]![0]!).toBe(true);
  });
  const victimOf = (index: number): Lsn => built.blocks[index]![0]!;
  const image = (which: 'crash' | 'clean', index: number, damage: Damage[1]): MemoryImage =>
    damaged(built[which], victimOf(index), victimOf(index + 1), damage);
  const after = (index: number, skip = 1): KnownRecord[] =>
    built.known.filter((k) => k.lsn >= victimOf(index + skip) && k.acked);
  const before = (index: number): KnownRecord[] => built.known.filter((k) => k.lsn < victimOf(index) && k.acked);

  describe.each(DAMAGES)('%s', (_name, damage) => {
    const spansTwo = _name.includes("next block's");

    it.each(VICTIMS)(
      'strict open: damage in %s (scanned by recovery, vouched for by later blocks) is ERR_CLFS_CORRUPT naming that block',
      async (_where, index) => {
        const error = await rejection(openImage(image('crash', index, damage), 'strict', layout.unit));
        expect(error.code, error.message).toBe('ERR_CLFS_CORRUPT');
        expect(hex(error.lsn)).toBe(hex(victimOf(index)));
      },
    );

    it.each(VICTIMS)(
      'salvage open: damage in %s is listed in recoveryReport.skipped as { fromLsn: the block, toLsn: the next valid block, reason }',
      async (_where, index) => {
        const log = await openImage(image('crash', index, damage), 'salvage', layout.unit);
        try {
          expect(log.recoveryReport.skipped).toEqual([
            {
              fromLsn: victimOf(index),
              toLsn: victimOf(index + (spansTwo ? 2 : 1)),
              reason: expect.any(String) as string,
            },
          ]);
          expect(log.information().lastLsn).toBe(built.blocks[11]![2]);
          expect(log.recoveryReport.tailCutAt).toBeUndefined();
        } finally {
          await log.close();
        }
      },
    );

    it('salvage open: every acknowledged record after the skipped damage reads back byte-exact', async () => {
      const index = 5;
      const log = await openImage(image('crash', index, damage), 'salvage', layout.unit);
      try {
        const skip = spansTwo ? 2 : 1;
        const { records, error } = await readForward(log, victimOf(index + skip));
        expect(error).toBeUndefined();
        expect(records.map((r) => r.lsn)).toEqual(after(index, skip).map((k) => k.lsn));
        expect(checkAgainst(records, built.known)).toEqual([]);
      } finally {
        await log.close();
      }
    });

    it('salvage open: reading forward from the base returns the records before the damage byte-exact, then ERR_CLFS_CORRUPT naming the damaged block', async () => {
      const index = 5;
      const log = await openImage(image('crash', index, damage), 'salvage', layout.unit);
      try {
        const { records, error } = await readForward(log);
        expect(records.map((r) => r.lsn)).toEqual(before(index).map((k) => k.lsn));
        expect(checkAgainst(records, built.known)).toEqual([]);
        expect(error?.code).toBe('ERR_CLFS_CORRUPT');
        expect(hex(error?.lsn)).toBe(hex(victimOf(index)));
      } finally {
        await log.close();
      }
    });

    it.each([VICTIMS[0], VICTIMS[1]])(
      'below the tail (closed log): damage in %s opens, and reading forward from the base gives the records before it byte-exact, then ERR_CLFS_CORRUPT naming it',
      async (_where, index) => {
        const log = await openImage(image('clean', index, damage), 'strict', layout.unit);
        try {
          expect(log.recoveryReport.blocksScanned).toBe(0);
          const { records, error } = await readForward(log);
          expect(records.map((r) => r.lsn)).toEqual(before(index).map((k) => k.lsn));
          expect(checkAgainst(records, built.known)).toEqual([]);
          expect(error?.code, error?.message).toBe('ERR_CLFS_CORRUPT');
          expect(hex(error?.lsn)).toBe(hex(victimOf(index)));
        } finally {
          await log.close();
        }
      },
    );

    it.each([VICTIMS[0], VICTIMS[1]])(
      'below the tail (closed log): reading a record of the damaged block by its LSN (%s) is ERR_CLFS_CORRUPT naming the block, never its data',
      async (_where, index) => {
        const log = await openImage(image('clean', index, damage), 'strict', layout.unit);
        try {
          for (const lsn of built.blocks[index]!) {
            const error = await rejection(readOne(log, lsn));
            expect(error.code, `${hex(lsn)}: ${error.message}`).toBe('ERR_CLFS_CORRUPT');
            expect(hex(error.lsn)).toBe(hex(victimOf(index)));
          }
        } finally {
          await log.close();
        }
      },
    );
  });

  it('below the tail (closed log): a damaged block does not stop reads that start after it (records read back byte-exact)', async () => {
    const log = await openImage(
      image('clean', 5, (b) => zeroSector(b, 0)),
      'strict',
      layout.unit,
    );
    try {
      const { records, error } = await readForward(log, victimOf(6));
      expect(error).toBeUndefined();
      expect(records.map((r) => r.lsn)).toEqual(after(5).map((k) => k.lsn));
      expect(checkAgainst(records, built.known)).toEqual([]);
    } finally {
      await log.close();
    }
  });

  it('the base block itself damaged (closed log): reading from the base is ERR_CLFS_CORRUPT naming it, not "names no record"', async () => {
    const copy = copyImage(built.clean);
    zeroSector(blockBytes(copy, built.early[0]![0]!), 0);
    const log = await openImage(copy, 'strict', layout.unit);
    try {
      expect(log.information().baseLsn).toBe(built.early[0]![0]);
      const { records, error } = await readForward(log);
      expect(records).toEqual([]);
      expect(error?.code, error?.message).toBe('ERR_CLFS_CORRUPT');
      expect(hex(error?.lsn)).toBe(hex(built.early[0]![0]));
    } finally {
      await log.close();
    }
  });

  it('salvage open: two separate damaged blocks are both listed, in order, and everything between and after them reads back', async () => {
    const copy = copyImage(built.crash);
    flipBit(blockBytes(copy, victimOf(3)), 300);
    zeroSector(blockBytes(copy, victimOf(7)), 0);
    const log = await openImage(copy, 'salvage', layout.unit);
    try {
      expect(log.recoveryReport.skipped.map((s) => [s.fromLsn, s.toLsn])).toEqual([
        [victimOf(3), victimOf(4)],
        [victimOf(7), victimOf(8)],
      ]);
      const between = await readForward(log, victimOf(4));
      expect(between.records.map((r) => r.lsn)).toEqual(
        built.known.filter((k) => k.lsn >= victimOf(4) && k.lsn < victimOf(7)).map((k) => k.lsn),
      );
      expect(between.error?.code).toBe('ERR_CLFS_CORRUPT');
      expect(hex(between.error?.lsn)).toBe(hex(victimOf(7)));
      const rest = await readForward(log, victimOf(8));
      expect(rest.error).toBeUndefined();
      expect(checkAgainst([...between.records, ...rest.records], built.known)).toEqual([]);
    } finally {
      await log.close();
    }
  });

  it('salvage open: appends continue after the last valid block, and a strict reopen then succeeds with the damage below the tail', async () => {
    const copy = copyImage(built.crash);
    flipBit(blockBytes(copy, victimOf(5)), 300);
    const storage = new MemoryStorage(copy, { unit: layout.unit });
    const log = await Log.openStorage('memory', storage, 'salvage');
    const area = await log.createMarshallingArea({ bufferSize: layout.bufferSize, flushIntervalMs: 0 });
    const data = payload(prng(5), 'after salvage ', 100);
    const { lsn } = await area.reserveAndAppend(data, { forceFlush: true });
    expect(lsn! > built.blocks[11]![2]!).toBe(true);
    await log.close();
    storage.reopen();
    const again = await Log.openStorage('memory', storage, 'strict');
    try {
      expect(again.information().lastLsn).toBe(lsn);
      const read = await readOne(again, lsn!);
      expect(Buffer.from(read.data).equals(Buffer.from(data))).toBe(true);
      const error = await rejection(readOne(again, built.blocks[5]![1]!));
      expect(error.code).toBe('ERR_CLFS_CORRUPT');
    } finally {
      await again.close();
    }
  });
});

describe('acknowledged damage at container boundaries', () => {
  /**
   * 4 KiB blocks: 100 flushed one by one, then a batch of 40 flushed together
   * that crosses from container 1 into container 2 (the switch persists the
   * metadata while the batch's blocks are still in flight, so its tail is
   * before the boundary), then 6 more flushed one by one, which vouch for
   * everything before them. A crash image.
   */
  let image: MemoryImage;
  let lsns: Lsn[];
  let known: KnownRecord[];
  const lastOfContainer = (): Lsn => lsns.filter((l) => Lsn.containerId(l) === 1).at(-1)!;
  const firstOfNext = (): Lsn => lsns.find((l) => Lsn.containerId(l) === 2)!;
  beforeAll(async () => {
    const b = await LogBuilder.create({ seed: 22, containerSize: 512 * KiB, containers: 3 });
    lsns = (await b.flushedBlocks(100, 1, 3900)).flat();
    lsns.push(...(await b.flushedBatch(40, 3900)));
    lsns.push(...(await b.flushedBlocks(6, 1, 3900)).flat());
    image = b.crashImage();
    known = b.records;
    // Premises: one record per block; the tail is before the boundary; the blocks after it vouch across it.
    expect(new Set(lsns.map((l) => Lsn.recordSequence(l)))).toEqual(new Set([0]));
    expect(newestSlot(image).metadata.tailLsn <= lastOfContainer()).toBe(true);
    expect(blockAt(image, lsns.at(-1)!).header.vouchedLsn > firstOfNext()).toBe(true);
  });
  const following = (lsn: Lsn): Lsn => lsns[lsns.indexOf(lsn) + 1]!;

  it.each([
    ['the last block of a container', () => lastOfContainer()],
    ['the first block of the next container', () => firstOfNext()],
  ])(
    'strict open: damage in %s is ERR_CLFS_CORRUPT naming it (the voucher is looked for across the boundary)',
    async (_n, victim) => {
      const copy = copyImage(image);
      flipBit(blockBytes(copy, victim()), 500);
      const error = await rejection(openImage(copy));
      expect(error.code).toBe('ERR_CLFS_CORRUPT');
      expect(hex(error.lsn)).toBe(hex(victim()));
    },
  );

  it.each([
    ['the last block of a container', () => lastOfContainer()],
    ['the first block of the next container', () => firstOfNext()],
  ])(
    'salvage open: damage in %s is skipped as { fromLsn: it, toLsn: the next block } and the records after it read back byte-exact',
    async (_n, victim) => {
      const copy = copyImage(image);
      zeroSector(blockBytes(copy, victim()), 0);
      const log = await openImage(copy, 'salvage');
      try {
        expect(log.recoveryReport.skipped.map((s) => [hex(s.fromLsn), hex(s.toLsn)])).toEqual([
          [hex(victim()), hex(following(victim()))],
        ]);
        const { records, error } = await readForward(log, following(victim()));
        expect(error).toBeUndefined();
        expect(records.map((r) => r.lsn)).toEqual(lsns.slice(lsns.indexOf(victim()) + 1));
        expect(checkAgainst(records, known)).toEqual([]);
      } finally {
        await log.close();
      }
    },
  );

  it('a closed log: damage in the last block of a container (below the tail) opens, and reading across it is ERR_CLFS_CORRUPT naming it', async () => {
    const b = await LogBuilder.create({ seed: 23, containerSize: 512 * KiB, containers: 3 });
    const blocks = (await b.flushedBlocks(134, 1, 3900)).flat();
    const clean = await b.close();
    const victim = blocks.filter((l) => Lsn.containerId(l) === 1).at(-1)!;
    zeroSector(blockBytes(clean, victim), 3);
    const log = await openImage(clean);
    try {
      const { records, error } = await readForward(log);
      expect(records.map((r) => r.lsn)).toEqual(blocks.slice(0, blocks.indexOf(victim)));
      expect(error?.code).toBe('ERR_CLFS_CORRUPT');
      expect(hex(error?.lsn)).toBe(hex(victim));
    } finally {
      await log.close();
    }
  });
});
