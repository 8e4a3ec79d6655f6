// Hostile files, in memory (DESIGN.md invariant 7; REFERENCE.md section 5,
// the clfs.sys CVEs from trusting in-file lengths and offsets): fields with
// extreme values behind valid CRCs, and files shorter than their metadata
// says. Each must give a typed error or a correct log, bounded in time and in
// memory (HostileStorage counts every buffer the log asks for).
import { describe, expect, it } from 'vitest';

import { BLOCK_VERSION, logIdOf } from '../../lib/format/block.ts';
import { Log } from '../../lib/log/log.ts';
import { Lsn } from '../../lib/lsn.ts';
import { MAX_BLOCK_SIZE } from '../../lib/log/recovery.ts';
import {
  HostileStorage,
  LogBuilder,
  blockBytes,
  copyImage,
  flipBit,
  hex,
  newestSlot,
  openImage,
  readForward,
  readOne,
  rejection,
  resealBlock,
  resealSlot,
  slotBytes,
  withTimeout,
  type MemoryImage,
} from '../support/corruption.ts';
import { KiB, MiB, payload, prng } from '../support/fixtures.ts';

/** A buffer a correct recovery may ask for at most: a whole block, or its 1 MiB scan chunk. */
const LARGEST = Math.max(MAX_BLOCK_SIZE, 1 * MiB);

function setField(bytes: Uint8Array, at: number, width: 4 | 8, value: bigint): void {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (width === 4) v.setUint32(at, Number(value), true);
  else v.setBigUint64(at, value, true);
}

/** Sets a field of the newest metadata slot and recomputes its CRC. */
function forgeMetadata(image: MemoryImage, at: number, width: 4 | 8, value: bigint): void {
  const s = slotBytes(image, newestSlot(image).slot);
  setField(s, at, width, value);
  resealSlot(s);
}

/** Opens over a HostileStorage and reports what happened and what was asked for. */
async function hostileOpen(
  image: MemoryImage,
  recovery: 'strict' | 'salvage' = 'strict',
): Promise<{ code: string | undefined; largest: number; total: number; ms: number; log?: Log }> {
  const storage = new HostileStorage(image, { allocationLimit: 64 * MiB });
  const started = Date.now();
  try {
    const log = await withTimeout(Log.openStorage('hostile', storage, recovery), 60_000, 'open');
    return {
      code: undefined,
      largest: storage.largestAllocation,
      total: storage.totalAllocated,
      ms: Date.now() - started,
      log,
    };
  } catch (error) {
    return {
      code: (error as { code?: string }).code ?? `untyped: ${String(error)}`,
      largest: storage.largestAllocation,
      total: storage.totalAllocated,
      ms: Date.now() - started,
    };
  }
}

describe('hostile lengths', () => {
  it('a block header (scanned by recovery) claiming nearly 4 GiB under a forged 4 GiB container size: a typed error, and no buffer larger than a block is allocated', async () => {
    const b = await LogBuilder.create({ seed: 71 });
    const blocks = await b.flushedBlocks(4);
    const image = b.crashImage();
    forgeMetadata(image, 48, 8, 0x1_0000_0000n); // containerSize
    setField(blockBytes(image, blocks[1]![0]!), 12, 4, 0xffff_f000n); // blockLength
    const result = await hostileOpen(image);
    await result.log?.close();
    expect(['ERR_CLFS_CORRUPT', undefined]).toContain(result.code);
    expect(result.largest, `largest allocation ${result.largest} bytes`).toBeLessThanOrEqual(LARGEST);
  });

  it("a bit flip (bit 24) in an acknowledged block's length, in a 64 MiB container, scanned by recovery: ERR_CLFS_CORRUPT, and no buffer larger than a block is allocated", async () => {
    const b = await LogBuilder.create({ seed: 72, containerSize: 64 * MiB });
    const blocks = await b.flushedBlocks(6);
    const image = b.crashImage();
    const block = blockBytes(image, blocks[2]![0]!);
    block[15] = block[15]! ^ 0x01; // + 16 MiB
    const result = await hostileOpen(image);
    await result.log?.close();
    expect(result.code).toBe('ERR_CLFS_CORRUPT');
    expect(result.largest, `largest allocation ${result.largest} bytes`).toBeLessThanOrEqual(LARGEST);
  });

  it('below the tail (closed log), a block whose length was flipped beyond the largest possible block: reading it is ERR_CLFS_CORRUPT, not "use a larger buffer" (ERR_CLFS_RECORD_TOO_LARGE)', async () => {
    const b = await LogBuilder.create({ seed: 73, containerSize: 64 * MiB });
    const blocks = await b.flushedBlocks(6);
    const image = await b.close();
    const block = blockBytes(image, blocks[2]![0]!);
    block[15] = block[15]! ^ 0x01; // + 16 MiB: more than any marshalling buffer (4 MiB) can hold
    const log = await openImage(image);
    try {
      const { records, error } = await readForward(log, undefined, MAX_BLOCK_SIZE);
      expect(records.map((r) => r.lsn)).toEqual(blocks.slice(0, 2).flat());
      expect(error?.code, error?.message).toBe('ERR_CLFS_CORRUPT');
      expect(hex(error?.lsn)).toBe(hex(blocks[2]![0]));
    } finally {
      await log.close();
    }
  });

  it('below the tail (closed log), a container file cut short in the middle of a block while the log is open: reading it is ERR_CLFS_CORRUPT, not ERR_CLFS_RECORD_TOO_LARGE', async () => {
    // (Cut before the open, it is ERR_CLFS_CORRUPT at open: test/files/container-size.test.ts.)
    const b = await LogBuilder.create({ seed: 74, bufferSize: 16 * KiB });
    const blocks = await b.flushedBlocks(6);
    const image = await b.close();
    const storage = new HostileStorage(image);
    const log = await Log.openStorage('hostile', storage, 'strict');
    const containers = storage.inner.image.containers;
    containers[0] = containers[0]!.slice(0, Lsn.blockOffset(blocks[3]![0]!) + 4096);
    try {
      const { records, error } = await readForward(log, undefined, 16 * KiB);
      expect(records.map((r) => r.lsn)).toEqual(blocks.slice(0, 3).flat());
      expect(error?.code, error?.message).toBe('ERR_CLFS_CORRUPT');
      expect(hex(error?.lsn)).toBe(hex(blocks[3]![0]));
    } finally {
      await log.close();
    }
  });

  it('a forged 4 GiB container size over 512 KiB container files and a torn tail (recovery looks past the end of the files for a voucher): open ends quickly, allocating little', async () => {
    const b = await LogBuilder.create({ seed: 75 });
    await b.flushedBlocks(4);
    const image = b.crashImage();
    forgeMetadata(image, 48, 8, 0x1_0000_0000n);
    // A torn last block: recovery searches for a voucher as far as one could be (2 x 16 MiB + 4 MiB).
    flipBit(blockBytes(image, b.records.at(-1)!.lsn & ~0x1ffn), 200);
    const result = await hostileOpen(image);
    await result.log?.close();
    expect(['ERR_CLFS_CORRUPT', undefined]).toContain(result.code);
    expect(result.total, `${result.total} bytes allocated in ${result.ms} ms`).toBeLessThan(256 * MiB);
    expect(result.ms).toBeLessThan(5_000);
  });

  it('a container full of block headers that each claim 4 MiB (right LSN and log id, no valid CRC) after a torn tail: recovery reads a bounded amount', async () => {
    const b = await LogBuilder.create({ seed: 76, containerSize: 8 * MiB });
    const blocks = await b.flushedBlocks(3);
    const image = b.crashImage();
    const container = image.containers[0]!;
    const start = Lsn.blockOffset(blocks[2]![0]!) + 4096;
    const logId = logIdOf(newestSlot(image).metadata.identity);
    for (let at = start; at + 64 <= container.byteLength; at += 4096) {
      const v = new DataView(container.buffer, container.byteOffset + at, 64);
      v.setUint32(0, 0x424c4643, true); // magic
      v.setUint16(4, BLOCK_VERSION, true); // version
      v.setUint32(12, 4 * MiB, true); // blockLength
      v.setBigUint64(16, (1n << 32n) | BigInt(at), true); // its own LSN (the position)
      v.setUint32(48, 1, true); // recordCount
      v.setUint32(52, 96, true); // usedLength
      v.setBigUint64(56, logId, true); // the log id (the metadata is just as readable)
    }
    flipBit(blockBytes(image, blocks[2]![0]!), 300); // a torn last block: recovery looks for a voucher
    const storage = new HostileStorage(image, { allocationLimit: 64 * MiB });
    const started = Date.now();
    const log = await withTimeout(Log.openStorage('hostile', storage, 'strict'), 120_000, 'open');
    const ms = Date.now() - started;
    await log.close();
    const read = storage.stats.bytesRead;
    expect(read, `recovery read ${read} bytes (${storage.totalAllocated} allocated) in ${ms} ms`).toBeLessThan(
      256 * MiB,
    );
  });
});

describe('hostile generations and positions', () => {
  it('a metadata epoch of 2^64-1 (valid CRC): the open is refused as corrupt, or a record acknowledged after it survives a reopen', async () => {
    const b = await LogBuilder.create({ seed: 77 });
    await b.flushedBlocks(3);
    const image = await b.close();
    forgeMetadata(image, 56, 8, 0xffff_ffff_ffff_ffffn);
    const storage = new HostileStorage(image);
    let log: Log;
    try {
      log = await Log.openStorage('hostile', storage, 'strict');
    } catch (error) {
      expect((error as { code?: string }).code).toBe('ERR_CLFS_CORRUPT');
      return;
    }
    const area = await log.createMarshallingArea({ bufferSize: 4096, flushIntervalMs: 0 });
    const data = payload(prng(1), 'acknowledged ', 500);
    const { lsn } = await area.reserveAndAppend(data, { forceFlush: true });
    await log.close();
    storage.reopen();
    const again = await Log.openStorage('hostile', storage, 'strict');
    try {
      const record = await readOne(again, lsn!).catch((e: unknown) => e as Error);
      expect(record instanceof Error ? `${(record as { code?: string }).code}: ${record.message}` : 'read').toBe(
        'read',
      );
      expect(Buffer.from((record as { data: Uint8Array }).data).equals(Buffer.from(data))).toBe(true);
      const { error } = await readForward(again);
      expect(error?.message).toBeUndefined();
    } finally {
      await again.close();
    }
  });

  it('a metadata tail (valid CRC) pointing into the middle of an acknowledged block of a closed log: refused, or at least never written over', async () => {
    const b = await LogBuilder.create({ seed: 78, bufferSize: 16 * KiB });
    const blocks = await b.flushedBlocks(6);
    const image = await b.close();
    const victim = blocks[3]![0]!;
    const s = slotBytes(image, newestSlot(image).slot);
    setField(s, 80, 8, victim + 8192n); // tailLsn: 8 KiB into block 3
    setField(s, 88, 8, victim); // tailPreviousLsn: block 3
    setField(s, 96, 8, blocks[3]![2]!); // lastLsn
    resealSlot(s);
    const storage = new HostileStorage(image);
    let log: Log;
    try {
      log = await Log.openStorage('hostile', storage, 'strict');
    } catch (error) {
      expect((error as { code?: string }).code).toBe('ERR_CLFS_CORRUPT');
      return;
    }
    const area = await log.createMarshallingArea({ bufferSize: 16 * KiB, flushIntervalMs: 0 });
    await area.reserveAndAppend(payload(prng(2), 'new ', 100), { forceFlush: true });
    await log.close();
    storage.reopen();
    const again = await Log.openStorage('hostile', storage, 'strict');
    try {
      const read = await readOne(again, blocks[3]![1]!).then(
        (r) => r,
        (e: unknown) => e as Error & { code?: string },
      );
      expect(
        read instanceof Error ? `${read.code}: ${read.message}` : 'read',
        `the acknowledged record ${hex(blocks[3]![1])}`,
      ).toBe('read');
      expect(Buffer.from((read as { data: Uint8Array }).data).equals(Buffer.from(b.record(blocks[3]![1]!).data))).toBe(
        true,
      );
    } finally {
      await again.close();
    }
  });

  it('a block with a valid CRC but a record count above 512 or a data length past the block (forged): refused as corrupt, never read', async () => {
    const b = await LogBuilder.create({ seed: 79 });
    const blocks = await b.flushedBlocks(4);
    for (const [at, width, value] of [
      [48, 4, 513n],
      [48, 4, 0xffff_ffffn],
      [64, 4, 0xffff_fff0n],
      [64, 4, 5000n],
    ] as const) {
      const image = copyImage(b.crashImage());
      const block = blockBytes(image, blocks[1]![0]!);
      setField(block, at, width, value);
      resealBlock(block);
      const error = await rejection(openImage(image));
      expect(error.code, `field at ${at} = ${value}`).toBe('ERR_CLFS_CORRUPT');
      expect(error.lsn).toBe(blocks[1]![0]);
    }
  });
});
