/**
 * Flushes waiting on the durable watermark: each resolves once its target
 * is durable, whatever order they came in, and all reject at a fail-stop.
 * @module
 */
import { Lsn } from '../../lsn.ts';

interface FlushWaiter {
  target: Lsn;
  resolve: (firstNotFlushed: Lsn) => void;
  reject: (error: Error) => void;
}

/** The flushes waiting for their target to become durable. */
export class FlushWaiters {
  readonly #waiters: FlushWaiter[] = [];

  get length(): number {
    return this.#waiters.length;
  }

  /** A flush of everything up to `target`: resolves with the first LSN not durable when settled. */
  wait(target: Lsn): Promise<Lsn> {
    return new Promise<Lsn>((resolve, reject) => this.#waiters.push({ target, resolve, reject }));
  }

  /** Resolves the flushes whose target is at or below `durable`, with `firstNotDurable()`. */
  settle(durable: Lsn, firstNotDurable: () => Lsn): void {
    if (this.#waiters.length === 0) return;
    const remaining: FlushWaiter[] = [];
    for (const waiter of this.#waiters) {
      if (durable !== Lsn.INVALID && waiter.target <= durable) waiter.resolve(firstNotDurable());
      else remaining.push(waiter);
    }
    this.#waiters.length = 0;
    this.#waiters.push(...remaining);
  }

  /** Rejects every flush waiting now. */
  rejectAll(error: Error): void {
    for (const waiter of this.#waiters.splice(0)) waiter.reject(error);
  }
}
