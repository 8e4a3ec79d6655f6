/**
 * A marshalling area's turns among the log's appends. Appends of all areas
 * take the log's turn one at a time, in call order (the writer's append
 * lock). An append that needs a new block when every one of its area's
 * write buffers is in use does not wait for one in that turn (it would stall
 * every other area: CLFS's buffers are per area): it leaves the turn, waits
 * for its buffer outside it, and takes a turn again with the buffer. Until
 * it is done, the area's later calls that reach their turn leave it too and
 * queue behind it (the area's gate), so each area's appends keep their call
 * order; other areas' appends go on meanwhile.
 * @module
 */
import type { BufferPool } from './buffer-pool.ts';
import { AppendLock } from './write/append-lock.ts';
import { NO_BUFFER, type LogWriter, type NoBuffer, type SpareBuffer } from './write/writer.ts';

/** A call that left the log's turn: `promise` settles with its result. */
class Later<T> {
  constructor(readonly promise: Promise<T>) {}
}

const unwrap = <T>(value: T | Later<T>): T | Promise<T> => (value instanceof Later ? value.promise : value);

/** One try of an append in the log's turn; NO_BUFFER: it needs one of the area's buffers first. */
export type Attempt<T> = (spare: SpareBuffer) => T | NoBuffer | Promise<T | NoBuffer>;

export class AreaTurns {
  readonly #writer: LogWriter;
  readonly #writes: BufferPool;
  /** The area's calls that left the log's turn, in order. */
  readonly #gate = new AppendLock();
  #deferring = 0;

  constructor(writer: LogWriter, writes: BufferPool) {
    this.#writer = writer;
    this.#writes = writes;
  }

  /**
   * Runs `fn` in the log's turn, after the area's calls waiting outside it
   * (`onDefer` runs first, synchronously, when `fn` must wait for them).
   * `fn` may wait for buffers inside its turn (a batch, a restart area).
   */
  inOrder<T>(fn: () => Promise<T> | T, onDefer?: () => void): Promise<T> {
    const writer = this.#writer;
    return writer
      .exclusive<T | Later<T>>(() => {
        if (this.#deferring === 0) return fn();
        onDefer?.();
        return this.#defer(() => writer.exclusive(fn));
      })
      .then(unwrap);
  }

  /**
   * Runs `attempt` in the log's turn; when it returns NO_BUFFER, waits for
   * one of the area's buffers outside the turn and tries again with it.
   * When the call is done at once, its value itself (no promise); else
   * `onLeave` runs first, synchronously (to take the caller's arrays).
   */
  append<T>(attempt: Attempt<T>, onLeave: () => void): T | Promise<T> {
    const out = this.#writer.exclusiveEager<T | Later<T>>(() => {
      if (this.#deferring > 0) return this.#defer(() => this.#retry(attempt, false));
      const first = attempt({ buffer: undefined });
      if (first === NO_BUFFER) return this.#defer(() => this.#retry(attempt, true));
      if (!(first instanceof Promise)) return first;
      return first.then((value) => (value === NO_BUFFER ? this.#defer(() => this.#retry(attempt, true)) : value));
    });
    if (!(out instanceof Promise) && !(out instanceof Later)) return out;
    onLeave();
    return out instanceof Later ? out.promise : out.then(unwrap);
  }

  /** For the area's close: resolves once the calls waiting outside the log's turn have settled. */
  settled(): Promise<void> {
    return this.#gate.run(() => undefined);
  }

  /** In the log's turn: leaves it, for `job` to run behind the area's earlier calls that did. */
  #defer<T>(job: () => Promise<T>): Later<T> {
    this.#deferring++;
    const promise = this.#gate.run(job);
    const done = (): void => {
      this.#deferring--;
    };
    promise.then(done, done);
    return new Later(promise);
  }

  /** Outside the log's turn: a buffer (when `needBuffer`), then the attempt again in a turn, until it has one. */
  async #retry<T>(attempt: Attempt<T>, needBuffer: boolean): Promise<T> {
    const spare: SpareBuffer = { buffer: undefined };
    try {
      if (needBuffer) spare.buffer = await this.#writes.acquire();
      for (;;) {
        const out = await this.#writer.exclusive(() => attempt(spare));
        if (out !== NO_BUFFER) return out;
        spare.buffer = await this.#writes.acquire();
      }
    } finally {
      // Not used: the record joined an open block after all, or the try failed.
      if (spare.buffer !== undefined) this.#writes.release(spare.buffer);
    }
  }
}
