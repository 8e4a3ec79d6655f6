// Calls in the middle of their work when something ends under them: the log
// fail-stopping (a write failed) or the area closing. Each settles with a
// typed error and gives back every buffer (found by the simulator, issue 7).
import { describe, expect, it } from 'vitest';

import { ClfsError } from '../../lib/errors.ts';
import type { Lsn } from '../../lib/lsn.ts';
import { Log } from '../../lib/log/log.ts';
import { MemoryStorage, emptyImage, type FaultAction, type FaultRequest } from '../../lib/storage/memory-storage.ts';
import { countingAllocator, tag } from '../support/area.ts';
import { KiB } from '../support/fixtures.ts';

async function memoryLog(fault: (r: FaultRequest) => Error | FaultAction | undefined): Promise<Log> {
  const image = emptyImage();
  for (let i = 0; i < 2; i++) image.containers.push(new Uint8Array(512 * KiB));
  await Log.initializeStorage(new MemoryStorage(image), 512 * KiB, 2, 0);
  return Log.openStorage('memory', new MemoryStorage(image, { fault }), 'strict');
}

const eio = (): ClfsError => new ClfsError('EIO', 'EIO: injected', { errno: -5, syscall: 'pwritev' });

/** The promise's outcome, or 'pending' if it has not settled after `turns` event-loop turns. */
async function outcome(promise: Promise<unknown>, turns = 200): Promise<string> {
  let result = 'pending';
  promise.then(
    () => (result = 'resolved'),
    (error: unknown) => (result = (error as { code?: string }).code ?? `untyped: ${String(error)}`),
  );
  for (let i = 0; i < turns && result === 'pending'; i++) await new Promise((resolve) => setImmediate(resolve));
  return result;
}

describe('fail-stop in the middle of a call', () => {
  it('appendBatch: a write failing while the batch waits for a write buffer rejects it with ERR_CLFS_IO_FAILED (no hang), and every buffer is freed', async () => {
    const log = await memoryLog((r) => (r.op === 'write' ? { error: eio(), delayed: true } : undefined));
    const allocator = countingAllocator();
    const area = await log.createMarshallingArea({
      bufferSize: 4096,
      maxWriteBuffers: 1,
      flushIntervalMs: 0,
      allocator,
    });
    // Three records of a block each: the second waits for the first block's
    // buffer, which comes back when its write fails.
    const batch = area.appendBatch([new Uint8Array(3000), new Uint8Array(3000), new Uint8Array(3000)], {
      forceAppend: true,
    });
    expect(await outcome(batch)).toBe('ERR_CLFS_IO_FAILED');
    // The area closes (the log's close reports what was lost).
    expect(await outcome(area.close())).toBe('resolved');
    expect(allocator.live).toBe(0);
    expect(await outcome(log.close())).toBe('ERR_CLFS_IO_FAILED');
  });

  it('ReserveAndAppendLog: appends queued behind one waiting for a write buffer reject with ERR_CLFS_IO_FAILED when the write fails, and every buffer is freed', async () => {
    const log = await memoryLog((r) => (r.op === 'write' ? { error: eio(), delayed: true } : undefined));
    const allocator = countingAllocator();
    const area = await log.createMarshallingArea({
      bufferSize: 4096,
      maxWriteBuffers: 1,
      flushIntervalMs: 0,
      allocator,
    });
    const calls = [1, 2, 3, 4].map((n) => area.reserveAndAppend(new Uint8Array(3000).fill(n), { forceAppend: true }));
    const outcomes = await Promise.all(calls.map((c) => outcome(c)));
    expect(outcomes[0]).toBe('resolved'); // appended (not acknowledged) before the write failed
    expect(outcomes.slice(1)).toEqual(['ERR_CLFS_IO_FAILED', 'ERR_CLFS_IO_FAILED', 'ERR_CLFS_IO_FAILED']);
    await outcome(log.close());
    expect(allocator.live).toBe(0);
  });
});

describe('calls made after a fail-stop', () => {
  it('AddLogContainer after a fail-stop rejects with ERR_CLFS_IO_FAILED and adds no container file (found by the simulator, seed 76)', async () => {
    const adds: number[] = [];
    const log = await memoryLog((r) => {
      if (r.op === 'add') adds.push(r.n);
      return r.op === 'write' ? eio() : undefined;
    });
    const area = await log.createMarshallingArea({ bufferSize: 4096, flushIntervalMs: 0 });
    expect(await outcome(area.reserveAndAppend(tag(1), { forceFlush: true }))).toBe('ERR_CLFS_IO_FAILED');
    expect(await outcome(log.addContainers(1))).toBe('ERR_CLFS_IO_FAILED');
    expect(adds).toEqual([]);
    expect(await outcome(area.close())).toBe('resolved');
    expect(await outcome(log.close())).toBe('ERR_CLFS_IO_FAILED');
  });
});

describe('an area closing in the middle of a read', () => {
  it('ReadLogRecord: racing the area close -> ERR_CLFS_CLOSED (typed), and the read buffer is freed once the read is done with it', async () => {
    const log = await memoryLog(() => undefined);
    const writer = await log.createMarshallingArea({ bufferSize: 4096, flushIntervalMs: 0 });
    const { lsn } = await writer.reserveAndAppend(tag(1), { forceFlush: true });
    for (const mode of ['forward', 'previous'] as const) {
      const allocator = countingAllocator();
      const area = await log.createMarshallingArea({ bufferSize: 4096, flushIntervalMs: 0, allocator });
      const read = area.readLogRecord(lsn!, mode);
      const closed = area.close();
      expect(await outcome(read)).toBe('ERR_CLFS_CLOSED');
      expect(await outcome(closed)).toBe('resolved');
      expect(allocator.live).toBe(0);
    }
    await log.close();
  });
});

describe('a read in progress when the log closes', () => {
  /** A memory storage whose reads are slow (a close overtakes them), noting any read asked after it closed. */
  class Watched extends MemoryStorage {
    closed = false;
    afterClose: string[] = [];
    override async read(container: number, offset: number, into: Uint8Array): Promise<number> {
      if (this.closed) this.afterClose.push(`read c${container}@${offset}`);
      const got = await super.read(container, offset, into);
      for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
      return got;
    }
    override async close(): Promise<void> {
      this.closed = true;
      return super.close();
    }
  }

  it.each([0, 1, 2, 3, 4, 5, 6, 7])(
    'ReadLogRecord then CloseLogFileObject at once (%i turns apart): no read reaches the storage after it closed, and the read settles typed',
    async (turns) => {
      const image = emptyImage();
      for (let i = 0; i < 2; i++) image.containers.push(new Uint8Array(512 * KiB));
      await Log.initializeStorage(new MemoryStorage(image), 512 * KiB, 2, 0);
      const writer = await Log.openStorage('memory', new MemoryStorage(image), 'strict');
      const w = await writer.createMarshallingArea({ bufferSize: 4096, flushIntervalMs: 0 });
      // Blocks that fill a buffer each, on disk: a forward read then reads
      // the next block's header on its own.
      const lsns: Lsn[] = [];
      for (let i = 0; i < 4; i++) {
        lsns.push((await w.reserveAndAppend(new Uint8Array(3900).fill(i), { forceFlush: true })).lsn!);
      }
      await writer.close();
      const storage = new Watched(image);
      const log = await Log.openStorage('memory', storage, 'strict');
      const area = await log.createMarshallingArea({ bufferSize: 4096, flushIntervalMs: 0 });
      const read = area.readLogRecord(lsns[1]!, 'forward');
      const settled = read.then(
        () => 'resolved',
        (error: unknown) => (error as { code?: string }).code ?? `untyped: ${String(error)}`,
      );
      for (let i = 0; i < turns; i++) await new Promise((resolve) => setImmediate(resolve));
      await log.close();
      expect(['resolved', 'ERR_CLFS_CLOSED']).toContain(await settled);
      expect(storage.afterClose).toEqual([]);
    },
  );
});
