// Reading ahead: recovery's container window (read/container-window.ts with
// readAhead) and forward read contexts (read/read-ahead.ts). What is read
// ahead must never change what is read: the bytes of every view, the records
// of every forward read (while the writer appends too), and the buffers the
// area lends come back.
import { describe, expect, it } from 'vitest';

import { ContainerWindow } from '../../lib/log/read/container-window.ts';
import { MemoryStorage, emptyImage } from '../../lib/storage/memory-storage.ts';
import { makeArea } from '../support/area.ts';
import { KiB, MiB, int, prng } from '../support/fixtures.ts';

const UNIT = 4096;

/** A memory storage with one container of `length` seeded bytes, its reads completing in a seeded order. */
function storageWith(length: number, seed: number): { storage: MemoryStorage; bytes: Uint8Array } {
  const random = prng(seed);
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = int(random, 0, 255);
  const image = emptyImage();
  image.containers.push(bytes);
  return { storage: new MemoryStorage(image, { random: prng(seed + 1), maxDelay: 3 }), bytes };
}

describe('ContainerWindow reading ahead', () => {
  for (const seed of [1, 2, 3]) {
    it(`views moving forward (and now and then back) give the container's bytes (seed ${seed})`, async () => {
      const size = 3 * MiB;
      const { storage, bytes } = storageWith(size, seed);
      const window = new ContainerWindow(storage, size, { chunk: 64 * KiB, max: 256 * KiB, readAhead: true });
      const random = prng(seed + 2);
      let at = 0;
      for (let step = 0; step < 2000 && at < size; step++) {
        const length = int(random, 1, 300 * KiB);
        const view = await window.view(0, at, length);
        const end = Math.min(at + Math.min(length, 256 * KiB), size);
        expect(view.byteLength).toBe(end - at);
        expect(Buffer.compare(view, bytes.subarray(at, end))).toBe(0);
        // Mostly on by a few sectors (a scan), sometimes a jump ahead or back.
        const move = int(random, 0, 9);
        if (move === 0) at = Math.max(0, at - int(random, 0, 64) * UNIT);
        else if (move === 1) at += int(random, 0, 256) * UNIT;
        else at += int(random, 0, 24) * UNIT;
      }
      await window.settle();
    });
  }

  for (const seed of [4, 5]) {
    it(`a scan block by block (a header's sector, then the whole block) gives the container's bytes (seed ${seed})`, async () => {
      const size = 4 * MiB;
      const { storage, bytes } = storageWith(size, seed);
      const window = new ContainerWindow(storage, size, { chunk: 64 * KiB, max: 256 * KiB, readAhead: true });
      const random = prng(seed + 2);
      for (let at = 0; at < size;) {
        const header = await window.view(0, at, UNIT);
        expect(Buffer.compare(header, bytes.subarray(at, at + UNIT))).toBe(0);
        const length = Math.min(int(random, 1, 32) * UNIT, size - at);
        const block = await window.view(0, at, length);
        expect(Buffer.compare(block, bytes.subarray(at, at + length))).toBe(0);
        at += length;
      }
      await window.settle();
      // Blocks up to half the largest view: each byte is still read about once.
      expect(storage.stats.bytesRead).toBeLessThanOrEqual(size + 256 * KiB);
    });
  }

  it('a scan reads each byte about once, in reads of half the largest view', async () => {
    const size = 4 * MiB;
    const { storage, bytes } = storageWith(size, 7);
    const window = new ContainerWindow(storage, size, { chunk: 64 * KiB, max: 256 * KiB, readAhead: true });
    for (let at = 0; at < size; at += UNIT) {
      const view = await window.view(0, at, UNIT);
      expect(view[0]).toBe(bytes[at]);
    }
    await window.settle();
    expect(storage.stats.bytesRead).toBeLessThanOrEqual(size + 128 * KiB);
    expect(storage.stats.reads).toBeLessThanOrEqual(1 + size / (128 * KiB) + 1);
  });

  it('a container file shorter than the container size ends the views where it ends', async () => {
    const { storage, bytes } = storageWith(1 * MiB + 3 * UNIT, 9);
    const size = 2 * MiB;
    const window = new ContainerWindow(storage, size, { chunk: 64 * KiB, max: 256 * KiB, readAhead: true });
    for (let at = 0; at < size; at += 16 * KiB) {
      const view = await window.view(0, at, 32 * KiB);
      const end = Math.max(at, Math.min(at + 32 * KiB, bytes.byteLength));
      expect(Buffer.compare(view, bytes.subarray(at, end))).toBe(0);
    }
    await window.settle();
    expect(window.end(0)).toBe(bytes.byteLength);
  });

  it('a read ahead that fails is made again when wanted (its error is the caller of that read)', async () => {
    const size = 1 * MiB;
    const random = prng(11);
    const bytes = new Uint8Array(size).map(() => int(random, 0, 255));
    const image = emptyImage();
    image.containers.push(bytes);
    let failNext = false;
    const storage = new MemoryStorage(image, {
      fault: (request) => (request.op === 'read' && failNext ? new Error('EIO (injected)') : undefined),
    });
    const window = new ContainerWindow(storage, size, { chunk: 64 * KiB, max: 256 * KiB, readAhead: true });
    await window.view(0, 0, UNIT);
    failNext = true;
    // The next view moves on: its read ahead fails, and so does the read made again.
    await expect(window.view(0, 64 * KiB, UNIT)).rejects.toThrow('EIO (injected)');
    failNext = false;
    const view = await window.view(0, 64 * KiB, 200 * KiB);
    expect(Buffer.compare(view, bytes.subarray(64 * KiB, 264 * KiB))).toBe(0);
    await window.settle();
  });
});

describe('forward reads reading ahead', () => {
  /** Records of seeded sizes, each recognisable: its index, then seeded bytes. */
  function records(count: number, seed: number, largest: number): Uint8Array[] {
    const random = prng(seed);
    return Array.from({ length: count }, (_, i) => {
      const data = new Uint8Array(int(random, 4, largest));
      data.forEach((_, j) => (data[j] = int(random, 0, 255)));
      new DataView(data.buffer).setUint32(0, i, true);
      return data;
    });
  }

  it('every record reads back byte-exact across blocks of many sizes and containers, and the lent buffers come back', async () => {
    const { log, area } = await makeArea({ bufferSize: 64 * KiB }, { containerSize: 1 * MiB, containers: 8 });
    const written = records(500, 21, 20 * KiB);
    for (let i = 0; i < written.length; i += 7) {
      // Batches flushed now and then: blocks from one sector to the whole buffer.
      await area.appendBatch(written.slice(i, i + 7), { forceFlush: i % 3 === 0 });
    }
    await area.flushBuffers();
    expect(log.information().lastFlushedLsn).toBe(log.information().lastLsn);
    let n = 0;
    for await (const record of area.records()) {
      expect(Buffer.compare(record.data, written[n]!)).toBe(0);
      n++;
      // A forward context borrows at most two buffers to read ahead.
      expect(area.buffersAllocated.read).toBeLessThanOrEqual(3);
    }
    expect(n).toBe(written.length);
    await area.close();
    expect(area.buffersAllocated.read).toBe(0);
  });

  it('a context reading forward while the writer appends serves what was appended, never stale bytes', async () => {
    const { area } = await makeArea({ bufferSize: 32 * KiB }, { containerSize: 1 * MiB, containers: 4 });
    const written = records(400, 31, 12 * KiB);
    await area.appendBatch(written.slice(0, 20), { forceFlush: true });
    const first = (await area.appendBatch([written[20]!], { forceFlush: true }))[0]!;
    const lsns: bigint[] = [];
    const context = await area.readLogRecord(first, 'forward');
    let n = 20;
    expect(Buffer.compare(context.record.data, written[n]!)).toBe(0);
    for (let i = 21; i < written.length; i += 5) {
      // Some appended and written, some only appended (the writer's memory).
      lsns.push(...(await area.appendBatch(written.slice(i, i + 5), { forceFlush: i % 2 === 0 })));
      for (let k = 0; k < 3; k++) {
        const record = await context.next();
        if (record === null) break;
        n++;
        expect(Buffer.compare(record.data, written[n]!)).toBe(0);
      }
    }
    for (let record = await context.next(); record !== null; record = await context.next()) {
      n++;
      expect(Buffer.compare(record.data, written[n]!)).toBe(0);
    }
    expect(n).toBe(written.length - 1);
    context.terminate();
  });

  it('with maxReadBuffers set, a forward context borrows no buffer (every context the limit allows can still open)', async () => {
    const { area } = await makeArea({ bufferSize: 16 * KiB, maxReadBuffers: 2 });
    const written = records(200, 41, 6 * KiB);
    const lsns = await area.appendBatch(written, { forceFlush: true });
    const context = await area.readLogRecord(lsns[0]!, 'forward');
    for (let i = 1; i < 100; i++) expect(Buffer.compare((await context.next())!.data, written[i]!)).toBe(0);
    expect(area.buffersAllocated.read).toBe(1);
    const other = await area.readLogRecord(lsns[150]!, 'forward');
    expect(Buffer.compare(other.record.data, written[150]!)).toBe(0);
    other.terminate();
    context.terminate();
  });
});
