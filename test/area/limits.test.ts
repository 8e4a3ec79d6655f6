// Sizes at their documented limits: the largest container (4 GiB, whose end
// does not fit an LSN's 32 offset bits) and records as large as a container
// or a buffer allows (issue 7, defects 2 and 3).
import { describe, expect, it } from 'vitest';

import { Log, Lsn } from '../../lib/index.ts';
import { BLOCK_HEADER_SIZE, MAX_RECORD_HEADER_SIZE } from '../../lib/format/block.ts';
import { MAX_CONTAINER_SIZE, SLOT_SIZE } from '../../lib/format/metadata.ts';
import { MetadataStore } from '../../lib/log/metadata-store.ts';
import { makeLsn } from '../../lib/lsn.ts';
import { MemoryStorage, type MemoryImage } from '../../lib/storage/memory-storage.ts';
import { bytes, makeArea, readAll, rejectsWith, reopenLog } from '../support/area.ts';
import { KiB } from '../support/fixtures.ts';

/**
 * A log of two 4 GiB containers in memory (typed arrays that large are
 * zero pages until written, so this costs what is written) whose writer
 * starts `before` bytes short of the first container's end: the state a
 * log reaches after writing 4 GiB, without writing them.
 */
async function fourGiBLogNearTheEnd(before: number): Promise<MemoryImage> {
  const image: MemoryImage = {
    base: new Uint8Array(2 * SLOT_SIZE),
    containers: [new Uint8Array(MAX_CONTAINER_SIZE), new Uint8Array(MAX_CONTAINER_SIZE)],
  };
  const storage = new MemoryStorage(image);
  await Log.initializeStorage(storage, MAX_CONTAINER_SIZE, 2, 0);
  const { metadata } = await MetadataStore.read(storage);
  await new MetadataStore(storage, metadata).write({ tailLsn: makeLsn(1, MAX_CONTAINER_SIZE - before) });
  return image;
}

describe('4 GiB containers (the documented maximum)', () => {
  it('a block that ends exactly at the end of a 4 GiB container: the log closes and reopens with its record', async () => {
    const image = await fourGiBLogNearTheEnd(8 * KiB);
    const log = await Log.openStorage('memory', new MemoryStorage(image), 'strict');
    const area = await log.createMarshallingArea({ bufferSize: 8 * KiB, flushIntervalMs: 0 });
    // The largest record an 8 KiB block takes (room left for its header at its largest, both chain LSNs).
    const data = bytes(8 * KiB - BLOCK_HEADER_SIZE - MAX_RECORD_HEADER_SIZE, 7);
    const { lsn } = await area.reserveAndAppend(data, { forceFlush: true });
    expect(Lsn.containerId(lsn!)).toBe(1);
    expect(Lsn.blockOffset(lsn!)).toBe(MAX_CONTAINER_SIZE - 8 * KiB);
    // The durable tail is the start of container 2, not container 1 + 4 GiB.
    expect(log.core.writer.durableTail().tailLsn).toBe(makeLsn(2, 0));
    const next = await area.reserveAndAppend(bytes(100, 8), { forceFlush: true });
    expect(next.lsn).toBe(makeLsn(2, 0));
    await log.close();

    for (const recovery of ['strict', 'salvage'] as const) {
      const again = await Log.openStorage('memory', new MemoryStorage(image), recovery);
      const reader = await again.createMarshallingArea({ bufferSize: 8 * KiB, flushIntervalMs: 0 });
      const records = await readAll(reader, { from: lsn! });
      expect(records.map((r) => r.lsn)).toEqual([lsn, next.lsn]);
      expect(records[0]!.data).toEqual(data);
      await again.close();
    }
  });

  it('a log closed with its tail at the end of a 4 GiB container (nothing written after) reopens and appends there', async () => {
    const image = await fourGiBLogNearTheEnd(4 * KiB);
    const log = await Log.openStorage('memory', new MemoryStorage(image), 'strict');
    const area = await log.createMarshallingArea({ bufferSize: 4 * KiB, flushIntervalMs: 0 });
    const data = bytes(4 * KiB - BLOCK_HEADER_SIZE - MAX_RECORD_HEADER_SIZE, 3);
    const { lsn } = await area.reserveAndAppend(data, { forceFlush: true });
    await log.close();

    const again = await Log.openStorage('memory', new MemoryStorage(image), 'strict');
    expect(again.information().lastLsn).toBe(lsn);
    const more = await again.createMarshallingArea({ bufferSize: 4 * KiB, flushIntervalMs: 0 });
    const next = await more.reserveAndAppend(bytes(10, 4), { forceFlush: true });
    expect(next.lsn).toBe(makeLsn(2, 0));
    await again.close();
  });
});

describe('records at the size limit', () => {
  it('ReserveAndAppendLog: a record larger than a container (buffers larger than the containers) -> ERR_CLFS_RECORD_TOO_LARGE, nothing appended', async () => {
    const { log, area } = await makeArea({ bufferSize: 1024 * KiB }, { containerSize: 512 * KiB });
    expect(area.maxRecordSize).toBe(512 * KiB - BLOCK_HEADER_SIZE - MAX_RECORD_HEADER_SIZE);
    const error = await rejectsWith(
      area.reserveAndAppend(new Uint8Array(600 * KiB), { forceFlush: true }),
      'ERR_CLFS_RECORD_TOO_LARGE',
    );
    expect(error.message).toContain('524288-byte containers');
    await rejectsWith(area.appendBatch([new Uint8Array(600 * KiB)]), 'ERR_CLFS_RECORD_TOO_LARGE');
    await rejectsWith(area.writeRestartArea(new Uint8Array(600 * KiB)), 'ERR_CLFS_RECORD_TOO_LARGE');
    expect(() => area.alignReservedLog([600 * KiB])).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(log.information().lastLsn).toBe(Lsn.INVALID);
  });

  it('ReserveAndAppendLog: a record filling a whole container is acknowledged and read back after reopen', async () => {
    const { log, area, path } = await makeArea({ bufferSize: 1024 * KiB }, { containerSize: 512 * KiB, containers: 3 });
    const first = await area.reserveAndAppend(bytes(100, 1), { forceFlush: true });
    const big = bytes(area.maxRecordSize, 2);
    const { lsn } = await area.reserveAndAppend(big, { forceFlush: true });
    // It did not fit after the first record: it fills container 2 alone.
    expect(Lsn.containerId(lsn!)).toBe(2);
    expect(Lsn.blockOffset(lsn!)).toBe(0);
    await log.close();
    const again = await reopenLog(path);
    const reader = await again.createMarshallingArea({ bufferSize: 1024 * KiB, flushIntervalMs: 0 });
    const records = await readAll(reader);
    expect(records.map((r) => r.lsn)).toEqual([first.lsn, lsn]);
    expect(records[1]!.data).toEqual(big);
  });
});
