/**
 * A transactional key-value store whose only durable state is a clfs log,
 * written ahead the ARIES way (see README.md beside this file).
 *
 * - Every change is logged before it is made in memory; a commit is
 *   acknowledged once its commit record is durable. There are no data files:
 *   the state lives in the log and in its checkpoints (restart areas), so the
 *   write-ahead rule holds by construction: nothing is written that its log
 *   record does not precede.
 * - A checkpoint writes the whole state and the active transaction table as
 *   a restart area and moves the base to the oldest active transaction's
 *   first record (recovery needs nothing older). It is fuzzy: transactions
 *   stay open across it; only each single log-then-apply step is held back
 *   while the state is copied, so every record before the restart record is
 *   in the copy and none after. Checkpoints run every `checkpointEvery`
 *   commits and whenever the log asks (`'advance-tail'`, at `logTail`% full).
 * - Updates do not wait for room (`logFullTimeoutMs` 0): a waiting update
 *   would hold back the very checkpoint that frees room. An update meeting
 *   a full log fails with ERR_CLFS_LOG_FULL, and the transaction's abort
 *   cannot: its compensation records and end record go into space reserved
 *   when its updates were logged. Room for two checkpoints is reserved too
 *   (#ensureRoom), so a full log can always be checkpointed out of.
 * @module
 */
import { ClfsError, type Log, type Lsn, type MarshallingArea } from 'clfs';

import { openOrCreate } from '../shared/log.ts';

import { KvError } from './errors.ts';
import { LockTable } from './locks.ts';
import { encodeCheckpoint, type ActiveEntry, type Checkpoint } from './records.ts';
import { recover, type RecoveryReport } from './recovery.ts';
import { Transaction, type TxnState } from './transaction.ts';

export { KvError, type KvErrorCode } from './errors.ts';
export type { RecoveryReport } from './recovery.ts';
export { Transaction } from './transaction.ts';

/** Options of {@link KvStore.open}. */
export interface KvOptions {
  /** Container size of a new log (default 1 MiB). */
  containerSize?: number;
  /** Containers of a new log (default 4). */
  containers?: number;
  /**
   * The size of every checkpoint record (padded to it): the state must fit
   * (ERR_KV_TOO_LARGE otherwise); room for two is kept reserved (default 64 KiB).
   */
  checkpointSize?: number;
  /** Percent of the log in use at which it asks for a checkpoint (the policy's `logTail`, default 50). */
  logTail?: number;
  /** Commits between checkpoints (default 500; 0: only when the log asks, or checkpoint() is called). */
  checkpointEvery?: number;
  /** Called as each checkpoint begins (`'start'`) and once it is durable (`'end'`), for observing the store. */
  onCheckpoint?: (phase: 'start' | 'end') => void;
}

/** The store's parts a transaction works with. @internal */
export interface StoreParts {
  readonly area: MarshallingArea;
  readonly data: Map<string, string>;
  /** The active transaction table: from a transaction's first record to its commit or end record. */
  readonly active: Map<number, TxnState>;
  /** Transactions whose writes `get` must not show: until their commit is durable, or their end. */
  readonly unseen: Map<number, TxnState>;
  readonly locks: LockTable;
  /** Runs one log-then-apply step: `append`, then `apply` with its LSN, never across a checkpoint's copy. */
  logged(append: () => Promise<Lsn>, apply: (lsn: Lsn) => void): Promise<Lsn>;
  /** Called after each commit. */
  committed(): void;
  /** Before an update: the room of two checkpoints is reserved, or ERR_CLFS_LOG_FULL. */
  ensureRoom(): Promise<void>;
  /** Throws ERR_KV_CLOSED once the store is closing. */
  checkOpen(): void;
}

/** A key-value store with transactions, written ahead to a clfs log. */
export class KvStore {
  readonly #log: Log;
  readonly #parts: StoreParts;
  readonly #checkpointEvery: number;
  #nextTxn: number;
  #lastLsn: Lsn | undefined;
  #gate: Promise<void> | undefined;
  #inFlight = 0;
  #drained: (() => void) | undefined;
  #queued: Promise<void> | undefined;
  #running: Promise<void> = Promise.resolve();
  #commits = 0;
  #closing = false;
  readonly #checkpointSize: number;
  readonly #onCheckpoint: KvOptions['onCheckpoint'];
  /** Checkpoint records reserved (two while the log has room; see #checkpoint). */
  #rooms = 0;
  #reserving: Promise<void> | undefined;
  /** What recovery did when the store was opened. */
  readonly recovery: RecoveryReport;

  private constructor(
    log: Log,
    area: MarshallingArea,
    state: Awaited<ReturnType<typeof recover>>,
    options: Required<Pick<KvOptions, 'checkpointEvery' | 'checkpointSize'>> & Pick<KvOptions, 'onCheckpoint'>,
  ) {
    this.#log = log;
    this.#checkpointEvery = options.checkpointEvery;
    this.#checkpointSize = options.checkpointSize;
    this.#onCheckpoint = options.onCheckpoint;
    this.#nextTxn = state.nextTxn;
    this.#lastLsn = state.lastLsn;
    this.recovery = state.report;
    this.#parts = {
      area,
      data: state.data,
      active: new Map(),
      unseen: new Map(),
      locks: new LockTable(),
      logged: (append, apply) => this.#logged(append, apply),
      committed: () => {
        if (this.#checkpointEvery > 0 && ++this.#commits % this.#checkpointEvery === 0) this.#background();
      },
      ensureRoom: () => this.#ensureRoom(),
      checkOpen: () => {
        if (this.#closing) throw new KvError('ERR_KV_CLOSED', 'the store is closed');
      },
    };
    log.on('advance-tail', () => this.#background());
  }

  /**
   * Opens the store at `path` (a clfs log, created if there is none) and
   * recovers it: redo from the last checkpoint, undo of the transactions
   * that had not committed, then a checkpoint.
   */
  static async open(path: string, options: KvOptions = {}): Promise<KvStore> {
    const log = await openOrCreate(path, {
      containerSize: options.containerSize ?? 1024 * 1024,
      containers: options.containers ?? 4,
      policy: { logTail: options.logTail ?? 50 },
    });
    try {
      const checkpointSize = options.checkpointSize ?? 64 * 1024;
      const area = await log.createMarshallingArea({ bufferSize: checkpointSize + 4096 });
      const state = await recover(area);
      const store = new KvStore(log, area, state, {
        checkpointEvery: options.checkpointEvery ?? 500,
        checkpointSize,
        onCheckpoint: options.onCheckpoint,
      });
      await store.checkpoint();
      await store.#ensureRoom().catch(() => undefined); // a full log: the next update tries again
      return store;
    } catch (error) {
      await log.close().catch(() => undefined);
      throw error;
    }
  }

  /** Starts a transaction. Its calls are made one at a time (each awaited before the next). */
  begin(): Transaction {
    this.#parts.checkOpen();
    return Transaction.create(this.#parts, this.#nextTxn++);
  }

  /** The committed value of `key` (a value written by a transaction not committed durably yet is not seen). */
  get(key: string): string | undefined {
    const holder = this.#parts.locks.holder(key);
    const txn = holder === undefined ? undefined : this.#parts.unseen.get(holder);
    const first = txn?.undo.find((u) => u.key === key);
    if (first !== undefined) return first.before ?? undefined;
    return this.#parts.data.get(key);
  }

  /** Every committed key and value (as {@link get} sees them). */
  entries(): Map<string, string> {
    const out = new Map<string, string>();
    for (const key of new Set([
      ...this.#parts.data.keys(),
      ...[...this.#parts.unseen.values()].flatMap((t) => t.undo.map((u) => u.key)),
    ])) {
      const value = this.get(key);
      if (value !== undefined) out.set(key, value);
    }
    return out;
  }

  /**
   * Writes a checkpoint (a restart area: the state and the active
   * transaction table) and moves the base to the oldest record recovery may
   * need. Calls made while one waits to start share it.
   */
  checkpoint(): Promise<void> {
    this.#queued ??= this.#running.then(() => {
      this.#queued = undefined;
      return this.#checkpoint();
    });
    this.#running = this.#queued.catch(() => undefined);
    return this.#queued;
  }

  /** Makes every record logged so far durable (a commit does this itself; this is for the rest). */
  async flush(): Promise<void> {
    await this.#parts.area.flushToLsn();
  }

  /** Closes the store: open transactions are lost (the next open rolls them back). */
  async close(): Promise<void> {
    this.#closing = true;
    this.#parts.locks.failAll(new KvError('ERR_KV_CLOSED', 'the store is closed'));
    await this.#running;
    await this.#log.close();
  }

  /** A checkpoint nobody awaits (a failure shows in the next call that needs the log). */
  #background(): void {
    if (!this.#closing) this.checkpoint().catch(() => undefined);
  }

  /**
   * Reserves room for checkpoints until two are. An update needs both: a
   * checkpoint written into one may not free room (an old transaction pins
   * the base), and then the other is what lets the checkpoint after that
   * transaction ends move the base again. Without both, the update fails
   * with ERR_CLFS_LOG_FULL (and a checkpoint is asked for).
   */
  #ensureRoom(): Promise<void> {
    if (this.#rooms >= 2) return Promise.resolve();
    this.#reserving ??= (async () => {
      try {
        while (this.#rooms < 2) {
          await this.#parts.area.reserveAndAppend(null, { reservations: [this.#checkpointSize] });
          this.#rooms++;
        }
      } catch (error) {
        this.#background();
        throw error;
      } finally {
        this.#reserving = undefined;
      }
    })();
    return this.#reserving;
  }

  async #logged(append: () => Promise<Lsn>, apply: (lsn: Lsn) => void): Promise<Lsn> {
    while (this.#gate !== undefined) await this.#gate;
    this.#inFlight++;
    try {
      const lsn = await append();
      apply(lsn);
      if (this.#lastLsn === undefined || lsn > this.#lastLsn) this.#lastLsn = lsn;
      return lsn;
    } finally {
      if (--this.#inFlight === 0) this.#drained?.();
    }
  }

  async #checkpoint(): Promise<void> {
    if (this.#closing) return;
    this.#onCheckpoint?.('start');
    let open!: () => void;
    this.#gate = new Promise((resolve) => (open = resolve));
    try {
      if (this.#inFlight > 0) await new Promise<void>((resolve) => (this.#drained = resolve));
      this.#drained = undefined;
      const active: [number, ActiveEntry][] = [];
      let base = this.#lastLsn;
      for (const [x, txn] of this.#parts.active) {
        active.push([x, { firstLsn: txn.firstLsn, lastLsn: txn.lastLsn, undoNextLsn: txn.undoNextLsn }]);
        if (base === undefined || txn.firstLsn < base) base = txn.firstLsn;
      }
      const checkpoint: Checkpoint = { nextTxn: this.#nextTxn, data: [...this.#parts.data], active };
      const bytes = encodeCheckpoint(checkpoint, this.#checkpointSize);
      const area = this.#parts.area;
      const options = base === undefined ? {} : { newBaseLsn: base };
      let written: { lsn: Lsn };
      try {
        written = await area.writeRestartArea(bytes, options);
      } catch (error) {
        if (!(error instanceof ClfsError && error.code === 'ERR_CLFS_LOG_FULL' && this.#rooms > 0)) throw error;
        // No room: into a reserved checkpoint's (updates stop until both are back).
        written = await area.writeRestartArea(bytes, { ...options, useReservation: true });
        this.#rooms--;
      }
      this.#lastLsn = written.lsn;
      this.#onCheckpoint?.('end');
    } finally {
      this.#gate = undefined;
      open();
    }
  }
}
