/**
 * Restart recovery, the ARIES way: analysis and redo in one forward pass
 * from the last checkpoint, then undo of the losers.
 *
 * - The checkpoint (the restart area) holds the state with every record
 *   before it reflected and none after, and the active transaction table.
 * - Forward from it, every update and compensation record is redone (history
 *   is repeated, losers' records included) and the table follows the log: a
 *   commit or end record removes its transaction.
 * - The transactions left are the losers. Each is undone along its chain
 *   from its undo-next LSN (a read context in `'previous'` mode: the records
 *   before an update of ours are always updates, since compensation records
 *   come only after a transaction's last update), writing a compensation
 *   record for each update and an end record last.
 *
 * A crash during recovery recovers again: the compensation records written
 * are redone like any other, and their undo-next LSN says where the undo
 * resumes, so no update is undone twice. Recovery writes into new space
 * (reservations are not durable): the records it writes are at most the
 * ones the losers had reserved before the crash, which appends left free.
 * @module
 */
import { ClfsError, Lsn, type LogRecord, type MarshallingArea } from 'clfs';

import {
  compensationOf,
  decodeCheckpoint,
  decodeRecord,
  encodeRecord,
  type ActiveEntry,
  type Value,
} from './records.ts';

/** What recovery found and did. */
export interface RecoveryReport {
  /** The checkpoint recovery started from (undefined: none yet, the scan started at the base). */
  restartLsn: Lsn | undefined;
  /** Update and compensation records redone. */
  redone: number;
  /** The loser transactions rolled back. */
  losers: number[];
  /** Compensation records written for them. */
  compensated: number;
}

/** The state recovery rebuilds. */
export interface RecoveredState {
  data: Map<string, string>;
  nextTxn: number;
  /** The newest record of the log after recovery (undefined: no record yet). */
  lastLsn: Lsn | undefined;
  report: RecoveryReport;
}

function apply(data: Map<string, string>, key: string, value: Value): void {
  if (value === null) data.delete(key);
  else data.set(key, value);
}

/** Recovers the store's state from `area`'s log: analysis, redo, undo. */
export async function recover(area: MarshallingArea): Promise<RecoveredState> {
  const data = new Map<string, string>();
  const active = new Map<number, ActiveEntry>();
  let nextTxn = 1;
  let restartLsn: Lsn | undefined;
  let lastLsn: Lsn | undefined;
  try {
    const restart = await area.readRestartArea();
    restart.context.terminate();
    const checkpoint = decodeCheckpoint(restart.data);
    for (const [key, value] of checkpoint.data) data.set(key, value);
    for (const [x, entry] of checkpoint.active) active.set(x, entry);
    nextTxn = checkpoint.nextTxn;
    restartLsn = restart.lsn;
    lastLsn = restart.lsn;
  } catch (error) {
    if (!(error instanceof ClfsError && error.code === 'ERR_CLFS_NO_RESTART')) throw error;
  }

  // Analysis and redo.
  let redone = 0;
  for await (const { lsn, data: bytes, undoNextLsn } of area.records(restartLsn)) {
    lastLsn = lsn;
    const record = decodeRecord(bytes);
    nextTxn = Math.max(nextTxn, record.x + 1);
    if (record.t === 'c' || record.t === 'e') {
      active.delete(record.x);
      continue;
    }
    apply(data, record.k, record.v);
    redone++;
    const entry = active.get(record.x);
    const undoNext = record.t === 'u' ? lsn : undoNextLsn;
    if (entry === undefined) active.set(record.x, { firstLsn: lsn, lastLsn: lsn, undoNextLsn: undoNext });
    else Object.assign(entry, { lastLsn: lsn, undoNextLsn: undoNext });
  }

  // Undo of the losers (strict 2PL: their keys are disjoint, so one at a time, in any order).
  let compensated = 0;
  for (const [x, entry] of active) {
    let previous = entry.lastLsn;
    if (entry.undoNextLsn !== Lsn.INVALID) {
      const context = await area.readLogRecord(entry.undoNextLsn, 'previous');
      try {
        for (let record: LogRecord | null = context.record; record !== null; record = await context.next()) {
          const update = decodeRecord(record.data);
          if (update.t !== 'u' || update.x !== x) throw new Error(`transaction ${x}'s chain holds ${update.t}`);
          const { lsn } = await area.reserveAndAppend(encodeRecord(compensationOf(update)), {
            previousLsn: previous,
            undoNextLsn: record.previousLsn,
          });
          previous = lsn!;
          apply(data, update.k, update.b);
          compensated++;
        }
      } finally {
        context.terminate();
      }
    }
    const { lsn } = await area.reserveAndAppend(encodeRecord({ t: 'e', x }), { previousLsn: previous });
    lastLsn = lsn;
  }
  return { data, nextTxn, lastLsn, report: { restartLsn, redone, losers: [...active.keys()], compensated } };
}
