/**
 * Writing a restart area (CLFS's WriteLogRestartArea), in the caller's
 * turn among appends, and the shapes of what writing and reading one
 * resolve with.
 * @module
 */
import type { Lsn } from '../lsn.ts';
import type { AreaAppender } from './appender.ts';
import type { LogCore } from './core.ts';
import type { ReadContext, RestartRecord } from './read/read-context.ts';
import type { RecordSpec } from './write/writer.ts';

/** What `writeRestartArea` resolves with. */
export interface RestartWritten {
  /** The restart record's LSN. */
  lsn: Lsn;
  /** Bytes written to the containers while it was flushed (the records before it included). */
  bytesWritten: number;
}

/** What `readRestartArea` resolves with: the newest restart area, and a context to walk older ones. */
export interface RestartArea extends RestartRecord {
  /** For `context.readPreviousRestartArea()`; terminate it when done. */
  context: ReadContext;
}

/** Counts of an area's buffers allocated now. */
export interface AreaBuffers {
  /** Write buffers (at most `maxWriteBuffers`). */
  write: number;
  /** Read buffers (at most `maxReadBuffers`). */
  read: number;
}

/**
 * Appends the restart record `spec` (its bytes taken already) in its turn,
 * flushes up to it and moves the base to `newBase` if given; `checkAlive`
 * runs in the turn.
 */
export async function writeRestart(
  core: LogCore,
  appender: AreaAppender,
  spec: RecordSpec,
  newBase: Lsn | undefined,
  useReservation: boolean,
  checkAlive: () => void,
): Promise<RestartWritten> {
  const { writer, bases, storage } = core;
  const before = storage.stats.bytesFlushed;
  // The call takes its turn among appends at once (a close called after it
  // waits for it), and checks the new base there: against the records
  // appended before it, not those of when it was called.
  const lsn = await appender.inOrder(() => {
    checkAlive();
    return bases.appendRestart(newBase, (previousLsn) => {
      spec.previousLsn = previousLsn;
      return appender.appendRestart(spec, useReservation);
    });
  });
  await writer.flush(lsn);
  await bases.setBase(newBase ?? bases.baseLsn, lsn);
  return { lsn, bytesWritten: storage.stats.bytesFlushed - before };
}
