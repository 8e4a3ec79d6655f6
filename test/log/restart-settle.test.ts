// A restart area is committed once its block is durable (recovery rolls the
// restart LSN and the base forward to every restart record it scans). A
// metadata write made while a restart record is durable but its own
// metadata write has not come yet (another restart area's, a container's)
// records a tail past that record: it must record the restart area (and
// its base) too, or recovery, which scans only past the tail, keeps the
// older one and the next restart record names it as the one before,
// skipping a restart record the log holds (simulator seed 1786355054).
import { describe, expect, it } from 'vitest';

import { Log } from '../../lib/log/log.ts';
import { Lsn } from '../../lib/lsn.ts';
import { MemoryStorage, copyImage, emptyImage, type MemoryImage } from '../../lib/storage/memory-storage.ts';
import { payload, prng } from '../support/fixtures.ts';
import { KiB } from '../support/sizes.ts';

const CONTAINER = 512 * KiB;

async function freshStorage(seed: number): Promise<MemoryStorage> {
  const image = emptyImage();
  for (let i = 0; i < 2; i++) image.containers.push(new Uint8Array(CONTAINER));
  await Log.initializeStorage(new MemoryStorage(image), CONTAINER, 2, 0);
  return new MemoryStorage(image, { random: prng(seed), maxDelay: 4 });
}

describe('restart areas settle in the metadata once their block is durable', () => {
  it('a metadata write whose tail passes a durable restart record records that restart area and its base', async () => {
    let seen = 0;
    for (let seed = 1; seed <= 40; seed++) {
      const storage = await freshStorage(seed);
      // A crash right after each metadata write: the image as it is then.
      const snapshots: MemoryImage[] = [];
      const writeMetadata = storage.writeMetadata.bind(storage);
      storage.writeMetadata = async (...args) => {
        await writeMetadata(...args);
        snapshots.push(copyImage(storage.image));
      };
      const log = await Log.openStorage('memory', storage, 'strict');
      const random = prng(seed);
      const area = await log.createMarshallingArea({ bufferSize: 256 * KiB, flushIntervalMs: 0 });
      const { lsn: data } = await area.reserveAndAppend(payload(random, 'data', 100), { forceFlush: true });
      snapshots.length = 0;
      const [, second] = await Promise.all([
        area.writeRestartArea(payload(random, 'one', 500)),
        area.writeRestartArea(payload(random, 'two', 80 * KiB), { newBaseLsn: data }),
      ]);
      await log.close();
      for (const image of snapshots) {
        const again = await Log.openStorage('memory', new MemoryStorage(image), 'strict');
        try {
          const info = again.information();
          if (info.lastLsn < second.lsn) continue;
          seen++;
          expect(Lsn.format(info.restartLsn)).toBe(Lsn.format(second.lsn));
          expect(info.baseLsn).toBe(data);
          // The next restart area names the newest one as the one before it.
          const next = await again.createMarshallingArea({ bufferSize: 4 * KiB, flushIntervalMs: 0 });
          const { lsn } = await next.writeRestartArea(payload(random, 'three', 10));
          const context = await next.readLogRecord(lsn, 'previous', { type: 'restart' });
          expect(Lsn.format(context.record.previousLsn)).toBe(Lsn.format(second.lsn));
          context.terminate();
        } finally {
          await again.close();
        }
      }
    }
    expect(seen).toBeGreaterThan(0);
  });
});
