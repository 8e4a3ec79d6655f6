/**
 * The append lock: serialises appends so LSNs follow call order. A holder
 * runs to completion before the next in line starts, first in, first out.
 * @module
 */
import { Fifo } from '../../util/fifo.ts';

/** A first-in first-out lock whose uncontended holder runs at once, synchronously. */
export class AppendLock {
  #held = false;
  /** Set while #leave lets waiters in, so a waiter that finishes at once does not recurse. */
  #draining = false;
  readonly #waiting = new Fifo<() => void>();
  /** Run at the start of each holder's turn, before it (a throw fails that holder). */
  readonly #atTurn: () => void;

  constructor(atTurn: () => void = () => undefined) {
    this.#atTurn = atTurn;
  }

  /** Whether a holder runs or waiters are queued. */
  get contended(): boolean {
    return this.#held || this.#waiting.length > 0;
  }

  /**
   * Runs `fn` holding the lock, after those queued before it. When nothing
   * holds the lock and `fn` does not need to wait, it runs to completion at
   * once, synchronously.
   */
  run<T>(fn: () => Promise<T> | T): Promise<T> {
    const out = this.runEager(fn);
    return out instanceof Promise ? out : Promise.resolve(out);
  }

  /**
   * As run(), but when `fn` runs at once and returns without waiting, its
   * value itself, not a promise of it (a failure is still a rejected
   * promise). For `T` that is not itself a promise.
   */
  runEager<T>(fn: () => Promise<T> | T): Promise<T> | T {
    if (this.contended) {
      return new Promise<T>((resolve, reject) =>
        this.#waiting.push(() => {
          const out = this.#enter(fn);
          if (out instanceof Promise) out.then(resolve, reject);
          else resolve(out);
        }),
      );
    }
    return this.#enter(fn);
  }

  #enter<T>(fn: () => Promise<T> | T): Promise<T> | T {
    this.#held = true;
    let out: Promise<T> | T;
    try {
      this.#atTurn();
      out = fn();
    } catch (error) {
      this.#leave();
      return Promise.reject(error);
    }
    if (!(out instanceof Promise)) {
      this.#leave();
      return out;
    }
    return out.then(
      (value) => {
        this.#leave();
        return value;
      },
      (error: unknown) => {
        this.#leave();
        throw error;
      },
    );
  }

  /** Lets the next waiter in; a loop, not recursion, however many are queued. */
  #leave(): void {
    this.#held = false;
    if (this.#draining) return;
    this.#draining = true;
    while (!this.#held && this.#waiting.length > 0) this.#waiting.shift()!();
    this.#draining = false;
  }
}
