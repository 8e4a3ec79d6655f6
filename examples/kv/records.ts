/**
 * The kv store's log records and its checkpoint, as they are written.
 *
 * Every record is UTF-8 JSON (small, and readable with `clfs` alone). The
 * ARIES chains are not in the JSON: they are the record's own clfs chain
 * LSNs, which clfs checks name an older record of the log:
 * - `previousLsn`: the transaction's record before this one (its first
 *   update has none);
 * - `undoNextLsn`, on a compensation record only: the next record of the
 *   transaction still to undo (none once the rollback is complete).
 *
 * | `t` | record | fields |
 * | --- | --- | --- |
 * | `u` | update | `x` transaction, `k` key, `v` value after (`null`: deleted), `b` value before (`null`: absent) |
 * | `r` | compensation (CLR) | `x`, `k`, `v`: the value the rollback put back (redo-only: never undone) |
 * | `c` | commit | `x` |
 * | `e` | end of a rollback | `x` |
 *
 * A commit and an end record have the same length, so one reservation made
 * at a transaction's first update fits whichever of them ends it.
 * @module
 */
import type { Lsn } from 'clfs';

import { KvError } from './errors.ts';

/** A value in the store; `null` in a record means "no value" (deleted or absent). */
export type Value = string | null;

/** A record of the kv store's log. */
export type KvRecord =
  | { t: 'u'; x: number; k: string; v: Value; b: Value }
  | { t: 'r'; x: number; k: string; v: Value }
  | { t: 'c'; x: number }
  | { t: 'e'; x: number };

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** The bytes of `record`. */
export function encodeRecord(record: KvRecord): Uint8Array {
  return encoder.encode(JSON.stringify(record));
}

/** A record read back from the log; a record that is not one of ours throws. */
export function decodeRecord(data: Uint8Array): KvRecord {
  const record = JSON.parse(decoder.decode(data)) as KvRecord;
  if (typeof record !== 'object' || record === null || !['u', 'r', 'c', 'e'].includes(record.t)) {
    throw new Error(`not a kv record: ${decoder.decode(data).slice(0, 80)}`);
  }
  return record;
}

/** The compensation record that undoes `update` (known when the update is logged: its size is reserved then). */
export function compensationOf(update: { x: number; k: string; b: Value }): KvRecord {
  return { t: 'r', x: update.x, k: update.k, v: update.b };
}

/** The size of a transaction's last record, commit or end (the same, see the module header). */
export function endSize(x: number): number {
  return encodeRecord({ t: 'e', x }).byteLength;
}

/** One active transaction, as a checkpoint records it. */
export interface ActiveEntry {
  /** The transaction's first record: the base never passes it while the transaction may need undoing. */
  firstLsn: Lsn;
  /** Its newest record: the next record's previousLsn. */
  lastLsn: Lsn;
  /** The next record to undo (Lsn.INVALID: nothing left to undo). */
  undoNextLsn: Lsn;
}

/**
 * A checkpoint (the restart area's data): the whole in-memory state at the
 * restart record, every record before it reflected and none after, and the
 * active transaction table. This store is small (it fits one record, at most
 * the area's `maxRecordSize`), so the state itself is the checkpoint and no
 * dirty page table is needed: redo starts at the restart record.
 */
export interface Checkpoint {
  /** The next transaction id to give (ids only grow, so the wait-die order survives a restart). */
  nextTxn: number;
  /** Every key and its value, uncommitted values of active transactions included (recovery undoes them). */
  data: [string, string][];
  /** The active transaction table. */
  active: [number, ActiveEntry][];
}

/**
 * The bytes of `checkpoint` (LSNs as decimal strings), padded with spaces
 * to `size` (every checkpoint the same size: it fits the room reserved for
 * one exactly). ERR_KV_TOO_LARGE when the state does not fit.
 */
export function encodeCheckpoint(checkpoint: Checkpoint, size: number): Uint8Array {
  const bytes = encoder.encode(
    JSON.stringify(checkpoint, (_key, value: unknown) => (typeof value === 'bigint' ? `${value}` : value)),
  );
  if (bytes.byteLength > size) {
    throw new KvError(
      'ERR_KV_TOO_LARGE',
      `a checkpoint of ${bytes.byteLength} bytes does not fit ${size}: raise checkpointSize`,
    );
  }
  const padded = new Uint8Array(size).fill(0x20);
  padded.set(bytes);
  return padded;
}

/** A checkpoint read back. */
export function decodeCheckpoint(data: Uint8Array): Checkpoint {
  const raw = JSON.parse(decoder.decode(data)) as {
    nextTxn: number;
    data: [string, string][];
    active: [number, { firstLsn: string; lastLsn: string; undoNextLsn: string }][];
  };
  return {
    nextTxn: raw.nextTxn,
    data: raw.data,
    active: raw.active.map(([x, e]) => [
      x,
      { firstLsn: BigInt(e.firstLsn), lastLsn: BigInt(e.lastLsn), undoNextLsn: BigInt(e.undoNextLsn) },
    ]),
  };
}
