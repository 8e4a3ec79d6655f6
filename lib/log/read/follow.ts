/**
 * `records(from, 'forward', { follow: true })`: at the end of the log, wait
 * for more instead of finishing. A record is given once durable: on a log
 * open for writing, the iteration waits (forcing no flush) for the records
 * appended after the last durable one; a read-only log is refreshed
 * (follower.ts) every `pollInterval` milliseconds until a record is there.
 * A truncation that drops a record the iteration gave ends it with
 * ERR_CLFS_TRUNCATED: what came after is not what the reader was given.
 * @module
 */
import { setTimeout as sleep } from 'node:timers/promises';

import { Lsn } from '../../lsn.ts';
import { truncated } from '../base-manager.ts';
import type { LogCore } from '../core.ts';

/** How `records()` follows the log. */
export interface Following {
  /** Milliseconds between a read-only log's refreshes while it waits. */
  pollInterval: number;
  signal: AbortSignal | undefined;
}

/** Waits with a log's core for the records after the ones an iteration has given. */
export class Follow {
  readonly #core: LogCore;
  readonly #options: Following;
  /** The truncations the log had noted when the iteration began. */
  readonly #cuts: number;

  constructor(core: LogCore, options: Following) {
    this.#core = core;
    this.#options = options;
    this.#cuts = core.bases.truncations.length;
  }

  /** Rejects with the signal's reason once it is aborted. */
  #checkSignal(): void {
    this.#options.signal?.throwIfAborted();
  }

  /** ERR_CLFS_TRUNCATED if a truncation since the iteration began dropped `given`. */
  #checkGiven(given: Lsn): void {
    if (given === Lsn.INVALID) return;
    if (this.#core.bases.truncations.slice(this.#cuts).some((end) => end < given)) {
      throw truncated(given, 'the record the iteration gave last,');
    }
  }

  /**
   * Undefined when the record `lsn`, which the log holds, is durable (no
   * promise per record); else what resolves once it is.
   */
  durable(lsn: Lsn): Promise<void> | undefined {
    const { writer } = this.#core;
    if (writer.durableLsn !== Lsn.INVALID && lsn <= writer.durableLsn) return undefined;
    return this.#race(writer.whenDurable(lsn));
  }

  /**
   * Resolves once the log holds a record after `given` (INVALID: any
   * record), durable.
   */
  async more(given: Lsn): Promise<void> {
    const core = this.#core;
    const there = (): boolean => {
      const last = core.writer.lastLsn;
      return last !== Lsn.INVALID && (given === Lsn.INVALID || last > given);
    };
    for (;;) {
      this.#checkSignal();
      core.checkOpen();
      this.#checkGiven(given);
      if (there()) return;
      if (core.follower === undefined) {
        // Appended records become durable by flushes of their own.
        await this.#race(core.writer.whenDurable(given === Lsn.INVALID ? 1n : given + 1n));
      } else {
        await sleep(this.#options.pollInterval, undefined, { signal: this.#options.signal });
        await core.follower.refresh();
      }
    }
  }

  /** `promise`, or the signal's reason once it aborts first. */
  #race(promise: Promise<void>): Promise<void> {
    const signal = this.#options.signal;
    if (signal === undefined) return promise;
    return new Promise<void>((resolve, reject) => {
      const abort = (): void => reject(signal.reason as Error);
      if (signal.aborted) return abort();
      signal.addEventListener('abort', abort, { once: true });
      promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', abort));
    });
  }
}
