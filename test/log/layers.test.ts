// One record followed from reserveAndAppend to the disk and back through a
// read (issue 8): it passes each layer once. The area places it once (its
// bytes appear once in one container write), the pipeline writes its block
// once, and a read brings that block in with one container read, checked
// once, with nothing counted as a problem.
import { describe, expect, it } from 'vitest';

import { Log } from '../../lib/log/log.ts';
import { offsetOf, type Lsn } from '../../lib/lsn.ts';
import { MemoryStorage, emptyImage, type MemoryImage } from '../../lib/storage/memory-storage.ts';
import type { ChecksumRange } from '../../lib/storage/storage.ts';
import { KiB } from '../support/fixtures.ts';

/** A memory storage that records every container write and read. */
class Traced extends MemoryStorage {
  readonly writes: { container: number; offset: number; bytes: Uint8Array }[] = [];
  readonly reads: { container: number; offset: number; length: number }[] = [];
  override async write(container: number, offset: number, buffers: Uint8Array[], sums: ChecksumRange[]): Promise<void> {
    const length = buffers.reduce((n, b) => n + b.byteLength, 0);
    const bytes = new Uint8Array(length);
    let at = 0;
    for (const b of buffers) {
      bytes.set(b, at);
      at += b.byteLength;
    }
    this.writes.push({ container, offset, bytes });
    return super.write(container, offset, buffers, sums);
  }
  override async read(container: number, offset: number, into: Uint8Array): Promise<number> {
    this.reads.push({ container, offset, length: into.byteLength });
    return super.read(container, offset, into);
  }
}

/** How many times `needle` occurs in `haystack`. */
function occurrences(haystack: Uint8Array, needle: Uint8Array): number {
  let count = 0;
  outer: for (let i = 0; i + needle.byteLength <= haystack.byteLength; i++) {
    for (let j = 0; j < needle.byteLength; j++) if (haystack[i + j] !== needle[j]) continue outer;
    count++;
  }
  return count;
}

async function newImage(): Promise<MemoryImage> {
  const image = emptyImage();
  for (let i = 0; i < 2; i++) image.containers.push(new Uint8Array(512 * KiB));
  await Log.initializeStorage(new MemoryStorage(image), 512 * KiB, 2, 0);
  return image;
}

/** Reads the record at `lsn` with a fresh area; returns its data. */
async function readBack(log: Log, lsn: Lsn): Promise<Uint8Array> {
  const area = await log.createMarshallingArea({ bufferSize: 64 * KiB, flushIntervalMs: 0 });
  const context = await area.readLogRecord(lsn, 'forward');
  const data = context.record.data;
  context.terminate();
  await area.close();
  return data;
}

describe('one record through every layer', () => {
  const payload = new TextEncoder().encode('one record, followed through every layer of clfs: 0123456789');

  it('ReserveAndAppendLog with FORCE_FLUSH: one container write holds the record once; read back, its block comes in with one container read and is checked once', async () => {
    const image = await newImage();
    const storage = new Traced(image);
    const log = await Log.openStorage('memory', storage, 'strict');
    storage.reads.length = 0; // recovery's reads are recovery's
    const area = await log.createMarshallingArea({ bufferSize: 64 * KiB, flushIntervalMs: 0 });
    const { lsn } = await area.reserveAndAppend(payload, { forceFlush: true });
    const holding = storage.writes.filter((w) => occurrences(w.bytes, payload) > 0);
    expect(holding).toHaveLength(1);
    expect(occurrences(holding[0]!.bytes, payload)).toBe(1);
    expect(holding[0]!.offset).toBe(offsetOf(lsn!));
    // Written: the writer no longer holds it; the read goes to the container.
    expect(storage.reads).toEqual([]);
    expect(await readBack(log, lsn!)).toEqual(payload);
    expect(storage.reads).toEqual([{ container: holding[0]!.container, offset: offsetOf(lsn!), length: 64 * KiB }]);
    expect(log.core.blocks.problems.counts()).toEqual({});
    await area.close();
    await log.close();

    // And after a reopen: recovery finds it, a read brings it in once more.
    const again = new Traced(image);
    const reopened = await Log.openStorage('memory', again, 'strict');
    again.reads.length = 0;
    expect(await readBack(reopened, lsn!)).toEqual(payload);
    expect(again.reads).toHaveLength(1);
    expect(again.writes.filter((w) => occurrences(w.bytes, payload) > 0)).toEqual([]);
    await reopened.close();
  });

  it('before it is written, a read serves it from the writer with no container read at all', async () => {
    const storage = new Traced(await newImage());
    const log = await Log.openStorage('memory', storage, 'strict');
    storage.reads.length = 0;
    const area = await log.createMarshallingArea({ bufferSize: 64 * KiB, flushIntervalMs: 0 });
    const { lsn } = await area.reserveAndAppend(payload);
    expect(await readBack(log, lsn!)).toEqual(payload);
    expect(storage.reads).toEqual([]);
    expect(storage.writes.filter((w) => occurrences(w.bytes, payload) > 0)).toEqual([]);
    await log.close();
    expect(storage.writes.filter((w) => occurrences(w.bytes, payload) > 0)).toHaveLength(1);
  });
});
