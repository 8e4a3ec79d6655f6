/**
 * Flushes waiting on the durable watermark: each resolves once its target
 * is durable, whatever order they came in, and all reject at a fail-stop.
 * @module
 */
import { Lsn } from '../../lsn.ts';

interface FlushWaiter {
  target: Lsn;
  /** What the flush resolves with: `value`, or when that is undefined the first LSN not durable. */
  resolve: (result: unknown) => void;
  reject: (error: Error) => void;
  value: unknown;
}

/**
 * The flushes waiting for their target to become durable, kept in target
 * order (ties in arrival order), so settling looks only at those it resolves.
 * Flushes mostly arrive in target order (each for the record just
 * appended): they go at the end.
 */
export class FlushWaiters {
  #waiters: (FlushWaiter | undefined)[] = [];
  /** Index of the first waiter still waiting: those before it are settled. */
  #head = 0;

  get length(): number {
    return this.#waiters.length - this.#head;
  }

  /** The highest target waited for (-1n when none waits). */
  get lastTarget(): Lsn {
    return this.#head < this.#waiters.length ? this.#waiters[this.#waiters.length - 1]!.target : -1n;
  }

  /**
   * A flush of everything up to `target`: resolves with `value` when settled,
   * or when `value` is undefined with the first LSN not durable then.
   */
  wait(target: Lsn, value?: unknown): Promise<unknown> {
    return new Promise<unknown>((resolve, reject) => {
      const waiter: FlushWaiter = { target, resolve, reject, value };
      const waiters = this.#waiters;
      const last = waiters.length - 1;
      if (last < this.#head || waiters[last]!.target <= target) {
        waiters.push(waiter);
        return;
      }
      // After every waiter whose target is at or below this one.
      let low = this.#head;
      let high = last;
      while (low < high) {
        const middle = (low + high) >>> 1;
        if (waiters[middle]!.target <= target) low = middle + 1;
        else high = middle;
      }
      waiters.splice(low, 0, waiter);
    });
  }

  /**
   * Resolves the flushes whose target is below `firstNotDurable` (every
   * record below it is durable), with their value or that LSN. A target
   * need not name a record (FlushLogToLsn flushes every record at or below
   * it): one between blocks, or a record a truncation dropped and whose
   * place a later block took, is durable once the block after it is
   * reached, not only once a record at or past it is.
   */
  settle(firstNotDurable: Lsn): void {
    const waiters = this.#waiters;
    // Settling resolves promises only: the pipeline's state, and so this, does not change meanwhile.
    while (this.#head < waiters.length && waiters[this.#head]!.target < firstNotDurable) {
      const waiter = waiters[this.#head]!;
      waiters[this.#head++] = undefined;
      waiter.resolve(waiter.value === undefined ? firstNotDurable : waiter.value);
    }
    this.#compact();
  }

  /** Rejects the flushes waiting for a target above `lsn` (a truncation dropped it). */
  rejectAbove(lsn: Lsn, error: Error): void {
    const waiters = this.#waiters;
    let cut = waiters.length;
    while (cut > this.#head && waiters[cut - 1]!.target > lsn) cut--;
    const dropped = waiters.splice(cut);
    for (const waiter of dropped) waiter!.reject(error);
    this.#compact();
  }

  /** Rejects every flush waiting now. */
  rejectAll(error: Error): void {
    const waiting = this.#waiters.slice(this.#head);
    this.#waiters = [];
    this.#head = 0;
    for (const waiter of waiting) waiter!.reject(error);
  }

  /** Drops the settled prefix once it is all there is, or dominates. */
  #compact(): void {
    const waiters = this.#waiters;
    if (this.#head === waiters.length) {
      waiters.length = 0;
      this.#head = 0;
    } else if (this.#head >= 1024 && this.#head * 2 >= waiters.length) {
      this.#waiters = waiters.slice(this.#head);
      this.#head = 0;
    }
  }
}
