/**
 * A transaction of the kv store: strict 2PL locks (locks.ts), updates
 * logged with their undo images and with room reserved for their rollback,
 * commit, and rollback by compensation records.
 *
 * Reservations (CLFS's reserved log space): each update reserves, in the
 * same atomic append, the exact size of the compensation record that would
 * undo it, and the first update also the transaction's last record (commit
 * or end, one size). The rollback appends into that space
 * (`useReservation`), so an abort never meets a full log, however full
 * other transactions made it; a commit frees what its rollback would have
 * used.
 * @module
 */
import { Lsn } from 'clfs';

import { KvError } from './errors.ts';
import { compensationOf, encodeRecord, endSize, type KvRecord, type Value } from './records.ts';
import type { StoreParts } from './store.ts';

/** A transaction's state while it is active. @internal */
export interface TxnState {
  firstLsn: Lsn;
  lastLsn: Lsn;
  undoNextLsn: Lsn;
  /** Its updates, oldest first: LSN, key, value before. */
  undo: { lsn: Lsn; key: string; before: Value }[];
  /** Data sizes reserved for its rollback. */
  reserved: number[];
}

/** A transaction; get it from `store.begin()`. Its calls are made one at a time. */
export class Transaction {
  readonly #store: StoreParts;
  /** The transaction's id (ids grow: a smaller id is an older transaction). */
  readonly id: number;
  readonly #keys = new Set<string>();
  #state: TxnState | undefined;
  #ended = false;

  private constructor(store: StoreParts, id: number) {
    this.#store = store;
    this.id = id;
  }

  /** @internal */
  static create(store: StoreParts, id: number): Transaction {
    return new Transaction(store, id);
  }

  /** The value of `key` as this transaction sees it (the key is locked until the end). */
  async get(key: string): Promise<string | undefined> {
    await this.#lock(key);
    return this.#store.data.get(key);
  }

  /** Sets `key` to `value`: logged (durable at commit), then made in memory. */
  async put(key: string, value: string): Promise<void> {
    await this.#update(key, value);
  }

  /** Deletes `key`. */
  async delete(key: string): Promise<void> {
    await this.#update(key, null);
  }

  /** Commits: resolves once the commit record is durable, then releases the locks. */
  async commit(): Promise<void> {
    this.#checkActive();
    this.#ended = true;
    const state = this.#state;
    if (state !== undefined) {
      const { area, active } = this.#store;
      const lsn = await this.#append({ t: 'c', x: this.id }, { useReservation: true }, () => active.delete(this.id));
      // The commit used the end record's reservation; what the rollback would have used goes back.
      const rest = state.reserved.slice(1);
      if (rest.length > 0) await area.freeReservedLog(rest.length, area.alignReservedLog(rest));
      await area.flushToLsn(lsn);
      this.#store.unseen.delete(this.id);
    }
    this.#release();
    this.#store.committed();
  }

  /**
   * Rolls back: a compensation record per update, newest first, each
   * carrying the undo-next LSN of the update before it, then an end record;
   * all into space reserved by the updates, so this never meets a full log.
   */
  async abort(): Promise<void> {
    this.#checkActive();
    this.#ended = true;
    const state = this.#state;
    if (state !== undefined) {
      const { data, active } = this.#store;
      for (let i = state.undo.length - 1; i >= 0; i--) {
        const update = state.undo[i]!;
        const undoNextLsn = i > 0 ? state.undo[i - 1]!.lsn : Lsn.INVALID;
        const compensation = compensationOf({ x: this.id, k: update.key, b: update.before });
        await this.#append(compensation, { useReservation: true, undoNextLsn }, () => {
          if (update.before === null) data.delete(update.key);
          else data.set(update.key, update.before);
          state.undoNextLsn = undoNextLsn;
        });
      }
      await this.#append({ t: 'e', x: this.id }, { useReservation: true }, () => active.delete(this.id));
      this.#store.unseen.delete(this.id);
    }
    this.#release();
  }

  #checkActive(): void {
    if (this.#ended) throw new KvError('ERR_KV_TXN_ENDED', `transaction ${this.id} has ended`);
    this.#store.checkOpen();
  }

  async #lock(key: string): Promise<void> {
    this.#checkActive();
    if (typeof key !== 'string') throw new TypeError('a key is a string');
    const waiting = this.#store.locks.acquire(key, this.id);
    this.#keys.add(key);
    if (waiting !== undefined) await waiting;
  }

  async #update(key: string, value: Value): Promise<void> {
    await this.#lock(key);
    const { data, active, unseen } = this.#store;
    const before = data.get(key) ?? null;
    const update = { t: 'u', x: this.id, k: key, v: value, b: before } as const;
    const sizes = [encodeRecord(compensationOf(update)).byteLength];
    if (this.#state === undefined) sizes.unshift(endSize(this.id));
    await this.#store.ensureRoom();
    await this.#append(update, { reservations: sizes }, (lsn) => {
      if (value === null) data.delete(key);
      else data.set(key, value);
      if (this.#state === undefined) {
        this.#state = { firstLsn: lsn, lastLsn: lsn, undoNextLsn: lsn, undo: [], reserved: [] };
        active.set(this.id, this.#state);
        unseen.set(this.id, this.#state);
      }
      this.#state.undoNextLsn = lsn;
      this.#state.undo.push({ lsn, key, before });
      this.#state.reserved.push(...sizes);
    });
  }

  /** Appends `record` after the transaction's last one, then applies it (one step, see StoreParts.logged). */
  #append(
    record: KvRecord,
    options: { useReservation?: boolean; undoNextLsn?: Lsn; reservations?: number[] },
    apply: (lsn: Lsn) => void,
  ): Promise<Lsn> {
    const state = this.#state;
    return this.#store.logged(
      async () => {
        const previousLsn = state?.lastLsn;
        const { lsn } = await this.#store.area.reserveAndAppend(encodeRecord(record), { ...options, previousLsn });
        return lsn!;
      },
      (lsn) => {
        apply(lsn);
        if (this.#state !== undefined) this.#state.lastLsn = lsn;
      },
    );
  }

  #release(): void {
    this.#store.locks.releaseAll(this.id, this.#keys);
  }
}
