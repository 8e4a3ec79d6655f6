/**
 * Strict two-phase locking with wait-die, one exclusive lock per key.
 *
 * Every key a transaction reads or writes is locked until the transaction
 * ends (strict 2PL: no other transaction sees or overwrites an uncommitted
 * value, so rolling one back never undoes another's work, and recovery can
 * undo each loser on its own). Deadlocks cannot form: a transaction waits
 * only for a younger one (a larger id); a younger one asking for a key an
 * older one holds dies at once with ERR_KV_CONFLICT (the caller aborts and
 * retries). When a key is released it goes to its youngest waiter, so every
 * transaction still waiting is older than the new holder: the rule holds.
 * @module
 */
import { KvError } from './errors.ts';

interface Waiter {
  txn: number;
  resolve: () => void;
  reject: (error: Error) => void;
}

interface Entry {
  holder: number;
  waiters: Waiter[];
}

/** The lock table. */
export class LockTable {
  readonly #locks = new Map<string, Entry>();

  /** The transaction holding `key`, if any. */
  holder(key: string): number | undefined {
    return this.#locks.get(key)?.holder;
  }

  /** Locks `key` for `txn`: at once, after an older-waits-for-younger wait, or ERR_KV_CONFLICT. */
  acquire(key: string, txn: number): Promise<void> | undefined {
    const entry = this.#locks.get(key);
    if (entry === undefined) {
      this.#locks.set(key, { holder: txn, waiters: [] });
      return undefined;
    }
    if (entry.holder === txn) return undefined;
    if (txn > entry.holder) {
      return Promise.reject(
        new KvError(
          'ERR_KV_CONFLICT',
          `transaction ${txn} dies: key ${JSON.stringify(key)} is held by ${entry.holder}`,
        ),
      );
    }
    return new Promise((resolve, reject) => entry.waiters.push({ txn, resolve, reject }));
  }

  /** Releases every key of `keys` that `txn` holds. */
  releaseAll(txn: number, keys: Iterable<string>): void {
    for (const key of keys) {
      const entry = this.#locks.get(key);
      if (entry === undefined || entry.holder !== txn) continue;
      if (entry.waiters.length === 0) {
        this.#locks.delete(key);
        continue;
      }
      let youngest = 0;
      for (let i = 1; i < entry.waiters.length; i++) {
        if (entry.waiters[i]!.txn > entry.waiters[youngest]!.txn) youngest = i;
      }
      const [next] = entry.waiters.splice(youngest, 1);
      entry.holder = next!.txn;
      next!.resolve();
    }
  }

  /** Refuses every waiter (the store closes). */
  failAll(error: Error): void {
    for (const entry of this.#locks.values()) for (const waiter of entry.waiters.splice(0)) waiter.reject(error);
  }
}
