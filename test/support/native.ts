// Helpers for the native-layer tests: the engines to parametrize over,
// seeded random data, and assertions on how errors are delivered.
import { expect } from 'vitest';

import type { IoEngine } from '../../lib/index.ts';
import { seededUint32 } from './fixtures.ts';
import { MISSING, describeWhere } from './platform.ts';

/** An engine an I/O test runs on: what is asked for, what the file reports, and why it cannot run here. */
export interface EngineCase {
  engine: Exclude<IoEngine, 'auto'>;
  reported: 'io_uring' | 'threads';
  missing: string | undefined;
}

/** The engines every I/O test runs on (io_uring's tests skip, saying why, off Linux). */
export const ENGINES: readonly EngineCase[] = [
  { engine: 'uring', reported: 'io_uring', missing: MISSING.ioUring },
  { engine: 'threads', reported: 'threads', missing: undefined },
];

/**
 * `describe.each(ENGINES)(title, fn)` ('$engine' in `title` names the
 * engine), each engine's suite skipped with its reason in its name where the
 * engine is missing.
 */
export function describeEngines(title: string, fn: (engine: EngineCase) => void): void {
  for (const engine of ENGINES) {
    describeWhere(engine.missing, title.replaceAll('$engine', engine.engine), () => fn(engine));
  }
}

/** Fills `buffer` with bytes from `seed`; returns it. */
export function fillSeeded(buffer: Uint8Array, seed: number): Uint8Array {
  const next = seededUint32(seed);
  let i = 0;
  for (; i + 4 <= buffer.length; i += 4) {
    const word = next();
    buffer[i] = word;
    buffer[i + 1] = word >>> 8;
    buffer[i + 2] = word >>> 16;
    buffer[i + 3] = word >>> 24;
  }
  for (; i < buffer.length; i++) buffer[i] = next();
  return buffer;
}

/** `length` seeded random bytes in a plain Uint8Array. */
export function seededBytes(length: number, seed: number): Uint8Array {
  return fillSeeded(new Uint8Array(length), seed);
}

/** A bitwise CRC32C, independent of the library's table and hardware code. */
export function referenceCrc32c(data: Uint8Array, crc = 0): number {
  let c = ~crc;
  for (const byte of data) {
    c ^= byte;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0x82f63b78 & -(c & 1));
  }
  return ~c >>> 0;
}

/**
 * Calls `start` and checks that it returned a promise rather than throwing,
 * then that the promise rejects with an error having `properties`. Returns
 * the error for further checks.
 */
export async function expectRejection(
  start: () => Promise<unknown>,
  properties: Record<string, unknown>,
): Promise<Error & Record<string, unknown>> {
  let promise: Promise<unknown> | undefined;
  expect(() => {
    promise = start();
  }, 'the call threw synchronously instead of rejecting').not.toThrow();
  expect(promise).toBeInstanceOf(Promise);
  let caught: unknown;
  await promise!.then(
    () => expect.fail('the promise resolved; a rejection was expected'),
    (error: unknown) => {
      caught = error;
    },
  );
  expect(caught).toMatchObject(properties);
  return caught as Error & Record<string, unknown>;
}

/** Calls `fn` and returns what it threw (failing if it did not throw). */
export function thrownBy(fn: () => unknown): Error & Record<string, unknown> {
  try {
    fn();
  } catch (error) {
    return error as Error & Record<string, unknown>;
  }
  return expect.fail('expected the call to throw');
}
