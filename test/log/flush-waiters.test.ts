// The flushes waiting on the durable watermark (lib/log/write/flush-waiters.ts):
// each resolves once its target is durable, in whatever order they came.
import { describe, expect, it } from 'vitest';

import { FlushWaiters } from '../../lib/log/write/flush-waiters.ts';

/** Waits for `targets` in order; returns the order they settled in. */
function waitAll(waiters: FlushWaiters, targets: bigint[]): { settled: string[]; results: Promise<unknown>[] } {
  const settled: string[] = [];
  const results = targets.map((target, i) =>
    waiters.wait(target).then(
      (first) => settled.push(`${i}:${first}`),
      (error: Error) => settled.push(`${i}:${error.message}`),
    ),
  );
  return { settled, results };
}

describe('FlushWaiters', () => {
  it('resolves exactly the flushes below the first LSN not durable, targets in any order, ties in arrival order', async () => {
    const waiters = new FlushWaiters();
    const { settled } = waitAll(waiters, [50n, 10n, 30n, 10n, 70n, 30n, 5n]);
    expect(waiters.length).toBe(7);
    waiters.settle(0n);
    waiters.settle(5n);
    await Promise.resolve();
    expect(settled).toEqual([]);
    waiters.settle(31n);
    await new Promise((resolve) => setImmediate(resolve));
    expect(settled).toEqual(['6:31', '1:31', '3:31', '2:31', '5:31']);
    expect(waiters.length).toBe(2);
    const late = waitAll(waiters, [40n, 60n]);
    waiters.settle(61n);
    await new Promise((resolve) => setImmediate(resolve));
    expect(settled).toEqual(['6:31', '1:31', '3:31', '2:31', '5:31', '0:61']);
    expect(late.settled).toEqual(['0:61', '1:61']);
    expect(waiters.length).toBe(1);
    waiters.rejectAll(new Error('stop'));
    await new Promise((resolve) => setImmediate(resolve));
    expect(settled.at(-1)).toBe('4:stop');
    expect(waiters.length).toBe(0);
  });

  it('a flush given a value (an append result) resolves with it, the others with the first LSN not durable', async () => {
    const waiters = new FlushWaiters();
    const result = { lsn: 7n };
    const withValue = waiters.wait(7n, result);
    const plain = waiters.wait(7n);
    const later = waiters.wait(9n, result);
    waiters.settle(9n);
    expect(await withValue).toBe(result);
    expect(await plain).toBe(9n);
    expect(waiters.length).toBe(1);
    waiters.rejectAll(new Error('stop'));
    await expect(later).rejects.toThrow('stop');
  });

  it('many flushes settled a few at a time all resolve once, in target order', async () => {
    const waiters = new FlushWaiters();
    const targets = Array.from({ length: 5000 }, (_, i) => BigInt((i * 7919) % 5000));
    const order: bigint[] = [];
    const all = targets.map((t) => waiters.wait(t).then(() => order.push(t)));
    for (let durable = 0n; durable < 5000n; durable += 37n) waiters.settle(durable + 1n);
    waiters.settle(5001n);
    await Promise.all(all);
    expect(order).toEqual([...targets].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
    expect(waiters.length).toBe(0);
  });
});
