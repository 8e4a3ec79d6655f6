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
  /** Resumes its wait loop (set while it waits). */
  resume: () => void;
  /** Set by a wake that came while the waiter was trying. */
  signalled: boolean;
  error: unknown;
}

/** Whether `error` says the log had no room (what a wait can cure). */
export function isLogFull(error: unknown): boolean {
  return error instanceof ClfsError && error.code === 'ERR_CLFS_LOG_FULL';
}

/**
 * An attempt's place among the appends (given to it by run()): `enter` at
 * the start of its turn, `failed` with what its turn threw, still in the
 * turn. A call that finds the log full queues then, in its turn, so the
 * queue keeps the order of the turns (and each area's call order): a later
 * call's turn, which may come before the failed one's rejection is seen,
 * finds it queued and queues behind it.
 */
export interface InLine {
  enter(): void;
  failed(error: unknown): void;
}

/** The line of an attempt that never waits for room. */
export const NOT_IN_LINE: InLine = { enter: () => undefined, failed: () => undefined };

/**
 * `body` as a turn among appends: `inTurn` (the area's check) and
 * `line.enter()` first, and what it throws or rejects with reported to
 * `line` while still in the turn (space-waiters.ts).
 */
export function inLine<A extends unknown[], T>(
  inTurn: () => void,
  line: InLine,
  body: (...args: A) => T,
): (...args: A) => T {
  return (...args) => {
    try {
      inTurn();
      line.enter();
      const out = body(...args);
      if (!(out instanceof Promise)) return out;
      return out.catch((error: unknown) => {
        line.failed(error);
        throw error;
      }) as T;
    } catch (error) {
      line.failed(error);
      throw error;
    }
  };
}

export class SpaceWaiters {
  readonly #queue: Waiter[] = [];

  /** How many appends wait for room now. */
  get length(): number {
    return this.#queue.length;
  }

  /**
   * Runs `attempt`; if its turn fails with ERR_CLFS_LOG_FULL (or finds
   * others waiting already), waits its turn and tries again whenever room
   * may have been freed, until `timeoutMs` has passed. `attempt` calls
   * `line.enter()` at the start of its turn (it throws, queueing the call,
   * when others wait) and `line.failed()` with what its turn throws. `take`
   * runs before this returns unless the first attempt was done at once (the
   * caller's data is taken: the call may be made again later); `onWait`
   * when it starts to wait (the log asks its clients to move their base).
   */
  run<T>(
    owner: object,
    timeoutMs: number,
    attempt: (line: InLine) => Promise<T> | T,
    take: () => void,
    onWait: () => void,
  ): Promise<T> {
    let waiter: Waiter | undefined;
    const line: InLine = {
      enter: () => {
        if (this.#queue.length === 0) return;
        waiter = this.#enqueue(owner);
        throw new ClfsError('ERR_CLFS_LOG_FULL', 'the log is full: appends that came earlier wait for room');
      },
      failed: (error) => {
        if (waiter === undefined && isLogFull(error)) waiter = this.#enqueue(owner);
      },
    };
    let first: Promise<T> | T;
    try {
      first = attempt(line);
    } catch (error) {
      first = Promise.reject(error);
    }
    if (!(first instanceof Promise)) return Promise.resolve(first);
    take();
    return first.catch((error: unknown) => {
      if (!isLogFull(error)) {
        if (waiter !== undefined) this.#leave(waiter);
        throw error;
      }
      // (A LOG_FULL its turn did not report queues now.)
      return this.#wait(waiter ?? this.#enqueue(owner), timeoutMs, attempt, onWait);
    });
  }

  /** A new waiter at the end of the line; the first in line tries once more at once (room freed while its attempt failed woke nobody). */
  #enqueue(owner: object): Waiter {
    const waiter: Waiter = {
      owner,
      signalled: this.#queue.length === 0,
      error: undefined,
      wake: (error?: unknown) => {
        waiter.signalled = true;
        waiter.error ??= error;
        waiter.resume();
      },
      resume: () => undefined,
    };
    this.#queue.push(waiter);
    return waiter;
  }

  /** Waits in line; tries again when woken first in line; until the timeout. */
  async #wait<T>(
    waiter: Waiter,
    timeoutMs: number,
    attempt: (line: InLine) => Promise<T> | T,
    onWait: () => void,
  ): Promise<T> {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      waiter.resume();
    }, timeoutMs);
    onWait();
    try {
      for (;;) {
        if (!waiter.signalled && !timedOut && waiter.error === undefined) {
          await new Promise<void>((resolve) => (waiter.resume = resolve));
        }
        if (waiter.error !== undefined) throw waiter.error;
        // Only the first waiter tries; the others wait for it to be served.
        if (this.#queue[0] === waiter && waiter.signalled) {
          waiter.signalled = false;
          try {
            return await attempt(NOT_IN_LINE);
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
      this.#leave(waiter);
    }
  }

  /** Takes `waiter` out of the line. */
  #leave(waiter: Waiter): void {
    const at = this.#queue.indexOf(waiter);
    if (at !== -1) this.#queue.splice(at, 1);
    // The next in line tries at once: room may be left for it.
    if (at === 0) this.#queue[0]?.wake();
  }

  /** Room may have been freed: the first waiter tries again. */
  wake(): void {
    this.#queue[0]?.wake();
  }

  /** Settles the waiters of `owner` (all when undefined) with `error`. */
  reject(error: unknown, owner?: object): void {
    for (const waiter of [...this.#queue]) if (owner === undefined || waiter.owner === owner) waiter.wake(error);
  }
}
