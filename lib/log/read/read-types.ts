/**
 * What readers get and choose: a record as read, how a context moves, which
 * record types it serves.
 * @module
 */
import type { Lsn } from '../../lsn.ts';

/** `'data'`, `'restart'`, or `'client'` (either). */
export type RecordTypeFilter = 'data' | 'restart' | 'client';

/** Whether a record of `type` passes `filter`. */
export function matches(filter: RecordTypeFilter, type: 'data' | 'restart'): boolean {
  return filter === 'client' || filter === type;
}
/** How next() moves: the next record in the log, or along a record's previous or undo-next LSN. */
export type ReadMode = 'forward' | 'previous' | 'undoNext';

/** A record as read. */
export interface LogRecord {
  /** The record's LSN. */
  lsn: Lsn;
  /** A data record, or a restart record (a restart area). */
  type: 'data' | 'restart';
  /**
   * The record's data: the caller's own copy, or with `{ view: true }` a view
   * into the context's read buffer, valid until the next call on the context.
   */
  data: Uint8Array;
  /** The undo-next LSN it was appended with (`Lsn.INVALID`: none). */
  undoNextLsn: Lsn;
  /** The previous LSN it was appended with (for a restart record, the restart area before it). */
  previousLsn: Lsn;
}

/** A restart area as read (`readRestartArea`, `readPreviousRestartArea`). */
export interface RestartRecord {
  /** The restart data, the caller's own copy. */
  data: Uint8Array;
  /** The restart record's LSN. */
  lsn: Lsn;
}

/** Options of a read: which records, and whether `data` is a copy or a view. */
export interface ReadOptions {
  /** Record type filter (default 'data'). */
  type?: RecordTypeFilter;
  /** Zero-copy: `data` views the read buffer, valid until the next call on this context. */
  view?: boolean;
}

/** Options of `area.records()`: a read's, and following the log. */
export interface RecordsOptions extends ReadOptions {
  /**
   * At the end of the log, wait for more records instead of finishing
   * (mode 'forward' only; default false). A record is given once durable:
   * on a log open for writing, once a flush made it so (the iteration
   * forces none); on a read-only log, once a refresh finds it (see
   * `Log.refresh`). It ends with ERR_CLFS_CLOSED when the log or area
   * closes, and with ERR_CLFS_TRUNCATED if a truncation drops a record it
   * gave.
   */
  follow?: boolean;
  /** A read-only log's milliseconds between refreshes while following (default 100, 1 to 3600000). */
  pollInterval?: number;
  /** Stops a following iteration: it throws the signal's reason (an `AbortError` by default). */
  signal?: AbortSignal;
}
