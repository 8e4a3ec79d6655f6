// A block's vouchedLsn says what was durable when it was submitted. When a
// block does not fit before its container's end, the writer starts it at
// the next container and never writes the end of the one before. Blocks
// submitted while that first block of the new container is in flight must
// vouch only up to the end of the last durable block: had they vouched up
// to the new container's start (the first block not durable), a power cut
// that lost the first block and kept a later one would read as damage at
// the unwritten end of the container before, and a strict open would
// refuse a log that had lost nothing acknowledged (simulator seed
// 1786354870, regression n7-container-end-vouch-vouched-gap).
import { describe, expect, it } from 'vitest';

import { parseBlockHeader } from '../../lib/format/block.ts';
import { Log } from '../../lib/log/log.ts';
import { Lsn, containerOf, offsetOf } from '../../lib/lsn.ts';
import { MemoryStorage, copyImage, emptyImage } from '../../lib/storage/memory-storage.ts';
import { payload, prng } from '../support/fixtures.ts';
import { KiB } from '../support/sizes.ts';

const CONTAINER = 512 * KiB;
const UNIT = 4096;

async function fdatasyncStorage(): Promise<MemoryStorage> {
  const image = emptyImage();
  for (let i = 0; i < 4; i++) image.containers.push(new Uint8Array(CONTAINER));
  await Log.initializeStorage(new MemoryStorage(image, { durability: 'fdatasync' }), CONTAINER, 4, 0);
  return new MemoryStorage(image, { durability: 'fdatasync' });
}

/** Lets the storage's writes complete (a few turns each), without a flush: nothing is synced. */
async function writesLand(): Promise<void> {
  for (let i = 0; i < 50; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

describe('vouchedLsn across a container change', () => {
  it('Recovery: a lost first block of a container, after the end of the one before was skipped, is a torn tail, not damage (the end is never vouched for)', async () => {
    const storage = await fdatasyncStorage();
    const log = await Log.openStorage('memory', storage, 'strict');
    const random = prng(1786354870);
    const area = await log.createMarshallingArea({ bufferSize: 256 * KiB, flushIntervalMs: 0 });
    // Two 200 KiB records fill container 1 to ~0x66000 and are made durable;
    // the third does not fit there and starts container 2.
    await area.reserveAndAppend(payload(random, 'a', 200 * KiB), { forceFlush: true });
    const lastDurable = (await area.reserveAndAppend(payload(random, 'b', 200 * KiB), { forceFlush: true })).lsn!;
    const pending = [
      area.reserveAndAppend(payload(random, 'c', 200 * KiB), { forceAppend: true }),
      area.reserveAndAppend(payload(random, 'd', 100 * KiB), { forceAppend: true }),
      area.reserveAndAppend(payload(random, 'e', 10 * KiB), { forceAppend: true }),
    ];
    const lsns = (await Promise.all(pending)).map((r) => r.lsn!);
    await writesLand();
    expect(containerOf(lastDurable)).toBe(1);
    expect(containerOf(lsns[0]!)).toBe(2);
    expect(offsetOf(lsns[0]!)).toBe(0);

    // The power cut: every write since the last sync may be lost; this one
    // loses the first block of container 2 and keeps the ones after it.
    const image = copyImage(storage.image);
    const file = image.containers.find((bytes) => {
      const header = parseBlockHeader(bytes.subarray(0, UNIT), UNIT, CONTAINER);
      return typeof header !== 'string' && header.lsn === lsns[0];
    })!;
    const first = parseBlockHeader(file.subarray(0, UNIT), UNIT, CONTAINER);
    if (typeof first === 'string') throw new Error(`no block at 2:0 (${first})`);
    for (const later of lsns.slice(1)) {
      const at = offsetOf(later);
      const header = parseBlockHeader(file.subarray(at, at + UNIT), UNIT, CONTAINER - at);
      if (typeof header === 'string') throw new Error(`no block at ${Lsn.format(later)} (${header})`);
      // It vouches for nothing past the end of container 1's last block.
      expect(containerOf(header.vouchedLsn)).toBe(1);
      expect(header.vouchedLsn > lastDurable).toBe(true);
    }
    file.fill(0, 0, first.blockLength);
    await log.close();

    const again = await Log.openStorage('memory', new MemoryStorage(image, { durability: 'fdatasync' }), 'strict');
    try {
      const info = again.information();
      expect(Lsn.format(info.lastLsn)).toBe(Lsn.format(lastDurable));
      expect(again.recoveryReport.skipped).toEqual([]);
    } finally {
      await again.close();
    }
  });
});
