// Damage in the base file's two metadata slots, in memory: one slot damaged
// (bit flips in its fields and its container table, zeroed or garbage
// sectors, a stale sector of an earlier dump, the whole slot zeroed, the
// file cut short) -> the other slot wins and every acknowledged record is
// still recovered, byte-exact; both damaged -> ERR_CLFS_CORRUPT.
import { beforeAll, describe, expect, it } from 'vitest';

import { Log } from '../../lib/log/log.ts';
import { Lsn } from '../../lib/lsn.ts';
import { MemoryStorage } from '../../lib/storage/memory-storage.ts';
import {
  LogBuilder,
  SLOT_SIZE,
  blockBytes,
  checkAgainst,
  copyImage,
  flipBit,
  newestSlot,
  openImage,
  readForward,
  rejection,
  slotBytes,
  staleSector,
  zeroSector,
  type KnownRecord,
  type MemoryImage,
} from '../support/corruption.ts';
import { KiB, SECTOR, payload, prng } from '../support/fixtures.ts';

type SlotDamage = [name: string, damage: (slot: Uint8Array, earlier: Uint8Array) => void];

const SLOT_DAMAGES: SlotDamage[] = [
  ['a bit flip in the magic', (s) => flipBit(s, 1, 0)],
  ['a bit flip in the dump count', (s) => flipBit(s, 16, 0)],
  ['a bit flip in the epoch', (s) => flipBit(s, 56, 0)],
  ['a bit flip in the tail LSN', (s) => flipBit(s, 81, 4)],
  ['a bit flip in the container table', (s) => flipBit(s, 120, 1)],
  ['a bit flip in the space policy', (s) => flipBit(s, 109, 0)],
  ['its first sector zeroed', (s) => zeroSector(s, 0)],
  [
    'its first sector garbage',
    (s) => {
      const random = prng(5);
      for (let i = 0; i < SECTOR; i++) s[i] = Math.floor(random() * 256);
    },
  ],
  ['a stale first sector from an earlier dump of the same slot', (s, earlier) => staleSector(s, earlier, 0)],
  ['the whole slot zeroed', (s) => s.fill(0)],
];

interface Scenario {
  name: string;
  /** The image, and the same base file some dumps earlier (for stale sectors). */
  make: () => Promise<{ image: MemoryImage; earlier: MemoryImage; known: KnownRecord[] }>;
}

const SCENARIOS: Scenario[] = [
  {
    name: 'a cleanly closed log',
    async make() {
      const b = await LogBuilder.create({ seed: 51 });
      await b.flushedBlocks(4);
      await b.restart(new Uint8Array(10));
      const earlier = b.crashImage();
      await b.flushedBlocks(4);
      await b.restart(new Uint8Array(10));
      await b.flushedBlocks(4);
      return { image: await b.close(), earlier, known: b.records };
    },
  },
  {
    name: 'a crash after a restart area',
    async make() {
      const b = await LogBuilder.create({ seed: 52 });
      await b.flushedBlocks(4);
      const earlier = b.crashImage();
      await b.restart(new Uint8Array(10));
      await b.flushedBlocks(4);
      await b.restart(new Uint8Array(10));
      await b.flushedBlocks(4);
      return { image: b.crashImage(), earlier, known: b.records };
    },
  },
  {
    name: 'a crash in a later generation, before any metadata write after its open',
    async make() {
      const b = await LogBuilder.create({ seed: 53 });
      await b.flushedBlocks(4);
      const earlier = b.crashImage();
      await b.reopen(await b.close());
      await b.flushedBlocks(4);
      await b.reopen(b.crashImage());
      await b.flushedBlocks(4);
      return { image: b.crashImage(), earlier, known: b.records };
    },
  },
  {
    name: 'a crash after a container was recycled',
    async make() {
      const b = await LogBuilder.create({ seed: 54, containerSize: 512 * KiB, containers: 2 });
      await b.flushedBlocks(128, 1, 3900);
      const second = (await b.flushedBlocks(100, 1, 3900)).flat();
      await b.advanceBase(second[50]!);
      const earlier = b.crashImage();
      await b.flushedBlocks(40, 1, 3900);
      return { image: b.crashImage(), earlier, known: b.records };
    },
  },
];

/** Opens `image`; every acknowledged record at or above the base reads back byte-exact. */
async function expectAllAcked(image: MemoryImage, known: KnownRecord[], problemSlot: 0 | 1 | undefined): Promise<void> {
  const log = await openImage(image);
  try {
    if (problemSlot !== undefined) {
      expect(log.recoveryReport.metadataProblems.join(' ')).toContain(`slot ${problemSlot}`);
    }
    const base = log.information().baseLsn;
    const { records, error } = await readForward(log);
    expect(error, error?.message).toBeUndefined();
    expect(checkAgainst(records, known)).toEqual([]);
    const present = new Set(records.map((r) => r.lsn));
    const missing = known.filter((k) => k.acked && k.lsn >= base && !present.has(k.lsn)).map((k) => Lsn.format(k.lsn));
    expect(missing, `acknowledged records lost (${missing.length})`).toEqual([]);
  } finally {
    await log.close();
  }
}

describe.each(SCENARIOS)('metadata slots: $name', (scenario) => {
  let image: MemoryImage;
  let earlier: MemoryImage;
  let known: KnownRecord[];
  let newest: 0 | 1;
  beforeAll(async () => {
    ({ image, earlier, known } = await scenario.make());
    newest = newestSlot(image).slot;
  });
  const other = (slot: 0 | 1): 0 | 1 => (slot === 0 ? 1 : 0);

  it('(control) undamaged, it opens and every acknowledged record reads back', async () => {
    await expectAllAcked(image, known, undefined);
  });

  it.each(SLOT_DAMAGES)(
    'the newest slot with %s: the other slot wins, and every acknowledged record is still recovered',
    async (_name, damage) => {
      const copy = copyImage(image);
      damage(slotBytes(copy, newest), slotBytes(earlier, newest));
      // (A stale first sector holds a whole earlier dump: the slot is then valid, only older.)
      await expectAllAcked(copy, known, _name.includes('stale') ? undefined : newest);
    },
  );

  it.each(SLOT_DAMAGES.filter(([name]) => !name.includes('stale')))(
    'the older slot with %s: the newest slot wins, and every acknowledged record is recovered',
    async (_name, damage) => {
      const copy = copyImage(image);
      damage(slotBytes(copy, other(newest)), new Uint8Array(SLOT_SIZE));
      await expectAllAcked(copy, known, other(newest));
    },
  );

  it('both slots damaged: ERR_CLFS_CORRUPT, naming both problems', async () => {
    const copy = copyImage(image);
    flipBit(slotBytes(copy, 0), 64, 2);
    zeroSector(slotBytes(copy, 1), 0);
    const error = await rejection(openImage(copy));
    expect(error.code).toBe('ERR_CLFS_CORRUPT');
    expect(error.message).toMatch(/slot 0.*slot 1/);
  });

  it('the base file cut to nothing: ERR_CLFS_CORRUPT', async () => {
    const copy = copyImage(image);
    copy.base = new Uint8Array(0);
    const error = await rejection(openImage(copy));
    expect(error.code).toBe('ERR_CLFS_CORRUPT');
  });

  it('the base file cut in the middle of slot 0: ERR_CLFS_CORRUPT if slot 0 was not whole, never anything untyped', async () => {
    const copy = copyImage(image);
    copy.base = copy.base.slice(0, 100);
    const error = await rejection(openImage(copy));
    expect(error.code).toBe('ERR_CLFS_CORRUPT');
  });
});

describe('metadata slots: a later generation whose copy was lost', () => {
  it('a block it left behind after a torn one never follows a block the next generation writes (the new epoch is above every epoch read)', async () => {
    const b = await LogBuilder.create({ seed: 55 });
    const acked = (await b.flushedBlocks(4)).flat();
    await b.reopen(await b.close());
    // The generation's first block is torn; the two after it are whole (none vouches for another).
    const unacked = await b.unackedRecords(3);
    const crash = b.crashImage();
    zeroSector(blockBytes(crash, unacked[0]!), 0);
    flipBit(slotBytes(crash, newestSlot(crash).slot), 1, 0);
    const storage = new MemoryStorage(copyImage(crash));
    const log = await Log.openStorage('memory', storage, 'strict');
    const area = await log.createMarshallingArea({ bufferSize: 4096, flushIntervalMs: 0 });
    // The same size as the torn block: the stale whole ones sit right behind the new one.
    const data = payload(prng(7), 'new ', 4096 - 64 - 40);
    const { lsn } = await area.reserveAndAppend(data, { forceFlush: true });
    expect(lsn).toBe(unacked[0]);
    const crashAfterAppend = copyImage(storage.image);
    await log.close();
    for (const image of [crashAfterAppend, storage.image]) {
      const again = await openImage(image);
      try {
        expect(again.information().lastLsn).toBe(lsn);
        const { records, error } = await readForward(again);
        expect(error).toBeUndefined();
        expect(records.map((r) => r.lsn)).toEqual([...acked, lsn]);
      } finally {
        await again.close();
      }
    }
  });
});
