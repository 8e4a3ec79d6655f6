// Helpers for the marshalling-area tests (test/area): small logs on the real
// disk that close and vanish after each test, an allocator that keeps count,
// and assertions on typed errors.
import { cpSync } from 'node:fs';
import path from 'node:path';

import { expect, onTestFinished } from 'vitest';

import {
  alignedBuffer,
  Log,
  Lsn,
  type BufferAllocator,
  type CreateLogOptions,
  type MarshallingArea,
  type MarshallingAreaOptions,
} from '../../lib/index.ts';
import { scratchDir } from './fixtures.ts';
import { seededBytes } from './native.ts';

export { seededBytes };

/**
 * A fresh log in a scratch directory (1 MiB containers unless told), checked
 * to do real direct I/O, closed and deleted when the test ends.
 */
export async function makeLog(options: CreateLogOptions = {}): Promise<{ log: Log; path: string }> {
  const { dir, cleanup } = scratchDir('clfs-area-');
  const logPath = path.join(dir, 'log');
  const opened: Log[] = [];
  onTestFinished(async () => {
    for (const log of opened) await log.close().catch(() => undefined);
    cleanup();
  });
  const log = await Log.create(logPath, { containerSize: 1 << 20, ...options });
  opened.push(log);
  expect(log.information().direct).toBe(true);
  return { log, path: logPath };
}

/** Opens `logPath` again (after a close); closed when the test ends. */
export async function reopenLog(logPath: string): Promise<Log> {
  const log = await Log.open(logPath);
  onTestFinished(async () => {
    await log.close().catch(() => undefined);
  });
  expect(log.information().direct).toBe(true);
  return log;
}

/**
 * The log's files as they are now, copied while it is open (every
 * acknowledged write, nothing torn: a crash image), opened; closed and
 * deleted when the test ends.
 */
export async function openCrashImage(logPath: string): Promise<Log> {
  const { dir, cleanup } = scratchDir('clfs-crash-image-');
  const copy = path.join(dir, 'log');
  cpSync(logPath, copy, { recursive: true });
  const log = await Log.open(copy);
  onTestFinished(async () => {
    await log.close().catch(() => undefined);
    cleanup();
  });
  return log;
}

/**
 * A log and one marshalling area on it. The area does not flush on a timer
 * unless `flushIntervalMs` is given, so tests decide when blocks are written.
 */
export async function makeArea(
  options: Partial<MarshallingAreaOptions> = {},
  logOptions: CreateLogOptions = {},
): Promise<{ log: Log; area: MarshallingArea; path: string }> {
  const { log, path: logPath } = await makeLog(logOptions);
  const area = await log.createMarshallingArea({ bufferSize: 16384, flushIntervalMs: 0, ...options });
  return { log, area, path: logPath };
}

/** Bytes 0..n-1 of a recognisable pattern derived from `seed`. */
export function bytes(length: number, seed = 1): Uint8Array {
  return seededBytes(length, seed);
}

/** A 4-byte record holding `n`, to tell records apart. */
export function tag(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, true);
  return b;
}

/** The number a {@link tag} record holds. */
export function untag(data: Uint8Array): number {
  return new DataView(data.buffer, data.byteOffset, data.byteLength).getUint32(0, true);
}

/** An allocator built on alignedBuffer that records every call. */
export interface CountingAllocator extends BufferAllocator {
  allocated: Uint8Array[];
  freed: Uint8Array[];
  calls: { size: number; alignment: number }[];
  /** Buffers allocated and not yet freed. */
  readonly live: number;
  /** The most buffers live at once. */
  peak: number;
}

export function countingAllocator(
  make: (size: number, alignment: number) => Uint8Array = (size, alignment) => alignedBuffer(size, { alignment }),
): CountingAllocator {
  const allocator: CountingAllocator = {
    allocated: [],
    freed: [],
    calls: [],
    peak: 0,
    get live() {
      return allocator.allocated.length - allocator.freed.length;
    },
    allocate(size, alignment) {
      allocator.calls.push({ size, alignment });
      const buffer = make(size, alignment);
      allocator.allocated.push(buffer);
      allocator.peak = Math.max(allocator.peak, allocator.live);
      return buffer;
    },
    free(buffer) {
      allocator.freed.push(buffer);
    },
  };
  return allocator;
}

/** Awaits `promise` and checks it rejects with `code`; returns the error. */
export async function rejectsWith(promise: Promise<unknown>, code: string): Promise<Error & Record<string, unknown>> {
  let caught: unknown;
  await promise.then(
    () => expect.fail(`resolved; a rejection with ${code} was expected`),
    (error: unknown) => {
      caught = error;
    },
  );
  expect(caught).toMatchObject({ code });
  return caught as Error & Record<string, unknown>;
}

/** Calls `fn` and checks it throws synchronously with `code`; returns the error. */
export function throwsWith(fn: () => unknown, code: string): Error & Record<string, unknown> {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(caught, `expected a throw with ${code}`).toMatchObject({ code });
  return caught as Error & Record<string, unknown>;
}

/** Every record readable forward from `from` (default: the base), any type filter. */
export async function readAll(
  area: MarshallingArea,
  options: { from?: Lsn; type?: 'data' | 'restart' | 'client' } = {},
): Promise<{ lsn: Lsn; type: string; data: Uint8Array; previousLsn: Lsn; undoNextLsn: Lsn }[]> {
  const out = [];
  for await (const record of area.records(options.from, 'forward', { type: options.type ?? 'data' })) out.push(record);
  return out;
}

/** Sleeps (only to give something the chance to happen that must not). */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The block an LSN's record lives in, as a comparable position (container, offset). */
export function blockPosition(lsn: Lsn): [number, number] {
  return [Lsn.containerId(lsn), Lsn.blockOffset(lsn)];
}

/** Whether block position `a` comes strictly after `b`. */
export function blockAfter(a: Lsn, b: Lsn): boolean {
  const [ca, oa] = blockPosition(a);
  const [cb, ob] = blockPosition(b);
  return ca > cb || (ca === cb && oa > ob);
}
