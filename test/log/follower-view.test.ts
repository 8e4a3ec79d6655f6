// A read-only log's view is a prefix of the log: its base names a record
// the view serves. A refresh scans on from the metadata it read, then reads
// the metadata again (to see a new generation begun meanwhile); a writer
// that moved the base between the two recorded a base past the end the scan
// found. The view took that newer base: information() gave a base past the
// last record, records(baseLsn) failed with ERR_CLFS_INVALID_LSN, and
// `clfs tail`, which goes on from the base after ERR_CLFS_START_OF_LOG,
// exited 2 beside a writer lapping the log (CI, seed 2086897836; simulator
// seed 120704368).
import { describe, expect, it } from 'vitest';

import { Log } from '../../lib/log/log.ts';
import type { MarshallingArea } from '../../lib/log/marshalling-area.ts';
import { Lsn } from '../../lib/lsn.ts';
import { MemoryStorage, emptyImage } from '../../lib/storage/memory-storage.ts';
import { NativeStorage } from '../../lib/storage/native-storage.ts';
import { payload, prng, scratchFiles } from '../support/fixtures.ts';
import { createLog, text } from '../support/log.ts';
import { KiB } from '../support/sizes.ts';

const CONTAINER = 512 * KiB;

async function lsns(area: MarshallingArea, from?: Lsn): Promise<Lsn[]> {
  const out: Lsn[] = [];
  for await (const r of area.records(from)) out.push(r.lsn);
  return out;
}

describe('a read-only view beside a writer that moves the base while a refresh scans', () => {
  for (const how of ['advanceLogBase', 'writeRestartArea with newBaseLsn'] as const) {
    it(`${how}: the view's base names a record it serves; the next refresh brings the new base`, async () => {
      const random = prng(7);
      const image = emptyImage();
      for (let i = 0; i < 2; i++) image.containers.push(new Uint8Array(CONTAINER));
      await Log.initializeStorage(new MemoryStorage(image), CONTAINER, 2, 0);
      // Writer and reader share the image: what the writer completes, the reader reads.
      const writer = await Log.openStorage('writer', new MemoryStorage(image), 'strict');
      const area = await writer.createMarshallingArea({ bufferSize: 64 * KiB, flushIntervalMs: 0 });
      const { lsn: first } = await area.reserveAndAppend(payload(random, 'r0', 100), { forceFlush: true });
      // A later block vouches for r0: the reader serves it.
      await area.reserveAndAppend(payload(random, 'r0b', 100), { forceFlush: true });
      const readerStorage = new MemoryStorage(image);
      const reader = await Log.openStorage('reader', readerStorage, 'strict', { readOnly: true });
      const readerArea = await reader.createMarshallingArea({ bufferSize: 64 * KiB });
      expect(await lsns(readerArea)).toEqual([first]);

      // The refresh's scan reads a container: just before, the writer appends
      // a record and moves the base to it (its metadata records both).
      let moved: Lsn | undefined;
      const read = readerStorage.read.bind(readerStorage);
      readerStorage.read = async (...args) => {
        if (moved === undefined) {
          const { lsn } = await area.reserveAndAppend(payload(random, 'r1', 3000), { forceFlush: true });
          moved = lsn;
          if (how === 'advanceLogBase') await area.advanceLogBase(lsn);
          else await area.writeRestartArea(payload(random, 'restart', 10), { newBaseLsn: lsn });
        }
        return read(...args);
      };
      await reader.refresh();
      expect(moved).toBeDefined();
      const seen = reader.information();
      expect(seen.baseLsn <= seen.lastLsn, `base ${Lsn.format(seen.baseLsn)}, last ${Lsn.format(seen.lastLsn)}`).toBe(
        true,
      );
      // Reading from the base the view gives works.
      expect((await lsns(readerArea, seen.baseLsn)).length).toBeGreaterThan(0);

      // The next refresh adopts the writer's metadata: the new base, and the record it names.
      await reader.refresh();
      const now = reader.information();
      expect(Lsn.format(now.baseLsn)).toBe(Lsn.format(writer.information().baseLsn));
      expect(now.lastLsn >= now.baseLsn).toBe(true);
      expect(now.baseLsn).toBe(moved);
      expect(await lsns(readerArea, now.baseLsn)).toEqual([moved]);
      await reader.close();
      await writer.close();
    });
  }
});

describe('a read-only open beside a writer that removes containers while the reader reads its metadata', () => {
  const scratch = scratchFiles('clfs-follower-open-');

  it('the open reads the metadata again and opens with the containers left, rather than failing on a removed one', async () => {
    const logPath = scratch.fresh();
    const writer = await createLog(logPath, { containerSize: 512 * KiB, containers: 4 });
    const area = await writer.createMarshallingArea({ bufferSize: 4 * KiB });
    await area.reserveAndAppend(text('r0'), { forceFlush: true });
    await area.reserveAndAppend(text('r1'), { forceFlush: true });
    const storage = await NativeStorage.open(logPath, { durability: 'dsync', allowBuffered: false, readOnly: true });
    // The reader has read both metadata copies (4 containers); then the writer removes two.
    const readMetadata = storage.readMetadata.bind(storage);
    let removed = false;
    storage.readMetadata = async (slot, into) => {
      const n = await readMetadata(slot, into);
      if (slot === 1 && !removed) {
        removed = true;
        await writer.removeContainers(2);
      }
      return n;
    };
    const reader = await Log.openStorage(logPath, storage, 'strict', { readOnly: true }).catch(
      async (error: unknown) => {
        await storage.close();
        await writer.close();
        throw error;
      },
    );
    expect(removed).toBe(true);
    expect(reader.information().totalContainers).toBe(2);
    const readerArea = await reader.createMarshallingArea({ bufferSize: 4 * KiB });
    // The metadata the writer wrote to remove them records its durable tail: both records.
    expect(await lsns(readerArea)).toHaveLength(2);
    await reader.close();
    await writer.close();
  });
});
