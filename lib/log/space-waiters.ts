/**
 * Appends waiting for room (CLFS's HandleLogFull, opt-in): an append that
 * finds the log full, in an area with `logFullTimeoutMs`, waits here for a
 * base move, growth, added containers or freed reservations, and tries
 * again, up to its timeout (then ERR_CLFS_LOG_FULL). Waiters are served in
 * the order they came (FIFO): only the first tries again, and a new append
 * that needs room queues behind them instead of taking the room first.
 * Appends into reservations never come here (they never need new room).
 * @module
 */
import { ClfsError } from '../errors.ts';

interface Waiter {
  /** The area it belongs to (its close rejects its waiters). */
  readonly owner: object;
  /** Wakes the waiter to try again (or settles it with an error). */
  wake: (error?: unknown) => void;
  /** Set by a wake that came while the waiter was trying. */
  signalled: boolean;
  error: unknown;
}

/** Whether `error` says the log had no room (what a wait can cure). */
export function isLogFull(error: unknown): boolean {
  return error instanceof ClfsError && error.code === 'ERR_CLFS_LOG_FULL';
}

const NOTHING = (): void => undefined;

export class SpaceWaiters {
  readonly #queue: Waiter[] = [];

  /** How many appends wait for room now. */
  get length(): number {
    return this.#queue.length;
  }

  /**
   * Runs `attempt`; if it fails with ERR_CLFS_LOG_FULL (or others wait
   * already), waits its turn and tries again whenever room may have been
   * freed, until `timeoutMs` has passed. `attempt` calls `inLine` in its
   * turn among appends: it throws when others started to wait meanwhile
   * (this one queues behind them). `take` runs before this returns unless
   * the first attempt was done at once (the caller's data is taken: the
   * call may be made again later); `onWait` when it starts to wait (the
   * log asks its clients to move their base).
   */
  run<T>(
    owner: object,
    timeoutMs: number,
    attempt: (inLine: () => void) => Promise<T> | T,
    take: () => void,
    onWait: () => void,
  ): Promise<T> {
    if (this.#queue.length > 0) {
      take();
      return this.#wait(owner, timeoutMs, attempt, onWait);
    }
    let first: Promise<T> | T;
    try {
      first = attempt(this.#inLine);
    } catch (error) {
      first = Promise.reject(error);
    }
    if (!(first instanceof Promise)) return Promise.resolve(first);
    take();
    return first.catch((error: unknown) => {
      if (!isLogFull(error)) throw error;
      return this.#wait(owner, timeoutMs, attempt, onWait);
    });
  }

  /** Waits in line; tries again when woken first in line; until the timeout. */
  async #wait<T>(
    owner: object,
    timeoutMs: number,
    attempt: (inLine: () => void) => Promise<T> | T,
    onWait: () => void,
  ): Promise<T> {
    let wake: () => void = () => undefined;
    const waiter: Waiter = {
      owner,
      // The first in line tries once more at once: room freed while its
      // attempt failed woke nobody.
      signalled: this.#queue.length === 0,
      error: undefined,
      wake: (error?: unknown) => {
        waiter.signalled = true;
        waiter.error ??= error;
        wake();
      },
    };
    this.#queue.push(waiter);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      wake();
    }, timeoutMs);
    onWait();
    try {
      for (;;) {
        if (!waiter.signalled && !timedOut) await new Promise<void>((resolve) => (wake = resolve));
        if (waiter.error !== undefined) throw waiter.error;
        // Only the first waiter tries; the others wait for it to be served.
        if (this.#queue[0] === waiter && waiter.signalled) {
          waiter.signalled = false;
          try {
            return await attempt(NOTHING);
          } catch (error) {
            if (!isLogFull(error)) throw error;
          }
        }
        if (timedOut) {
          throw new ClfsError(
            'ERR_CLFS_LOG_FULL',
            `the log stayed full for ${timeoutMs} ms (logFullTimeoutMs): no base move, growth or freed reservation made room for this append`,
            { timeoutMs },
          );
        }
      }
    } finally {
      clearTimeout(timer);
      const at = this.#queue.indexOf(waiter);
      if (at !== -1) this.#queue.splice(at, 1);
      // The next in line tries at once: room may be left for it.
      if (at === 0) this.#queue[0]?.wake();
    }
  }

  /** For a first attempt, in its turn: others waiting went first. */
  readonly #inLine = (): void => {
    if (this.#queue.length > 0) {
      throw new ClfsError('ERR_CLFS_LOG_FULL', 'the log is full: appends that came earlier wait for room');
    }
  };

  /** Room may have been freed: the first waiter tries again. */
  wake(): void {
    this.#queue[0]?.wake();
  }

  /** Settles the waiters of `owner` (all when undefined) with `error`. */
  reject(error: unknown, owner?: object): void {
    for (const waiter of [...this.#queue]) if (owner === undefined || waiter.owner === owner) waiter.wake(error);
  }
}
