/**
 * Truncating the end of the log (CLFS's TruncateLog / SetEndOfLog): every
 * record after a given one is dropped, durably and crash-safely. The
 * on-disk side (a new generation and its rule, recorded by one metadata
 * write) is described in format/metadata.ts.
 *
 * The steps, all in the truncation's turn among appends (so appends and
 * restart areas are either before it, and dropped if after the new end, or
 * after it, and placed after the new end):
 *
 * 1. `lsn` must name a record in [base, last] at or after the newest
 *    restart record appended and, on an archive log, the archive tail
 *    (ERR_CLFS_TAIL_INVALID otherwise), nothing an archive snapshot not
 *    yet released covers may be dropped (ERR_CLFS_ARCHIVE_IN_PROGRESS),
 *    and the length of its block is found: the open block's after the
 *    cut, else the block's in the write queue or on disk. Every read the
 *    truncation needs is made here, before anything is dropped: a read
 *    that fails rejects the call and leaves the log as it was;
 * 2. the writer drops what it holds after `lsn` (the open block's records,
 *    sealed blocks not yet submitted); flushes waiting for them reject with
 *    ERR_CLFS_TRUNCATED, and `lsn` is the last record from then on (readers
 *    past it see the end of the log);
 * 3. everything up to `lsn` is made durable, and the writes in flight (of
 *    dropped blocks too) end;
 * 4. in the metadata's turn: the writer restarts at the end of `lsn`'s
 *    block in a new generation, and the metadata recording it (new epoch,
 *    tail, last record, truncation rule) is written to both slots.
 *
 * A crash before step 4's first metadata write is durable leaves the old
 * end (whatever of the dropped records had reached the disk, as after any
 * crash); after it, the new one. Blocks written after it (new epoch) may
 * land where dropped ones were: LSNs after the new end are given again.
 * @module
 */
import { ClfsError } from '../errors.ts';
import { MAX_EPOCH } from '../format/metadata.ts';
import { Lsn, blockLsnOf, containerOf, offsetOf } from '../lsn.ts';
import { checkTruncation as checkArchive } from './archive.ts';
import type { LogCore } from './core.ts';

/** Truncates `core`'s log after `lsn` (see the module comment); resolves once durable. */
export async function truncateLog(core: LogCore, lsn: Lsn, inTurn: () => void): Promise<void> {
  const { writer, bases } = core;
  await writer.exclusive(async () => {
    inTurn();
    await bases.checkNewBase(lsn, 'the end of the log');
    const restart = bases.restartAppended;
    if (restart !== Lsn.INVALID && lsn < restart) {
      throw new ClfsError(
        'ERR_CLFS_TAIL_INVALID',
        `LSN ${Lsn.format(lsn)} cannot be the end of the log: it is below the newest restart area ${Lsn.format(restart)}`,
        { lsn },
      );
    }
    checkArchive(core, lsn);
    bases.checkTruncationRoom();
    if (writer.epoch + 1n > MAX_EPOCH) {
      throw new ClfsError('ERR_CLFS_CORRUPT', `the log's generation number (${writer.epoch}) cannot be raised`);
    }
    if (lsn === writer.lastLsn) {
      // Nothing to drop: durable when it resolves all the same.
      await writer.flush(lsn);
      return;
    }
    const end = writer.lastLsn;
    // A base move settling meanwhile (it does not take the appends' turn) must not pass `lsn`.
    await bases.serializeMetadata(async () => bases.beginTruncation(lsn));
    let length: number;
    try {
      // Held by the writer: nothing waits from here to the cut (the open block is not sealed meanwhile).
      length = writer.lengthAfterCut(lsn) ?? (await lengthOnDisk(core, lsn));
    } catch (error) {
      bases.beginTruncation(undefined);
      throw error;
    }
    writer.cutAfter(
      lsn,
      new ClfsError(
        'ERR_CLFS_TRUNCATED',
        `the record was dropped by a truncation of the log after ${Lsn.format(lsn)}`,
        {
          lsn,
        },
      ),
    );
    try {
      await dropAfter(core, lsn, end, length);
    } catch (error) {
      bases.beginTruncation(undefined);
      // Records are gone from memory and flushes rejected: there is no way
      // back. A failure from here on fail-stops the log (reopening finds the
      // old end or the new one).
      writer.fail(error, `truncating the log after ${Lsn.format(lsn)}`);
      throw writer.failure;
    }
  });
}

/**
 * The length of `lsn`'s block read from its container (step 1), when the
 * writer no longer holds it (LogWriter.lengthAfterCut: the open block's
 * length after the cut, or a queued block's: writes complete in any order,
 * so a queued block may be written while one before it is not, and read as
 * absent). Drops nothing.
 */
async function lengthOnDisk(core: LogCore, lsn: Lsn): Promise<number> {
  const block = blockLsnOf(lsn);
  const probed = await core.blocks.probeBlock(block, false);
  if (typeof probed === 'string' || probed.length === 0) {
    throw new ClfsError('ERR_CLFS_CORRUPT', `the block ${Lsn.format(block)} cannot be read back to truncate at it`, {
      lsn: block,
    });
  }
  return probed.length;
}

/** Steps 3 and 4 (see the module comment), after the writer dropped what it held past `lsn`; `length`: its block's. */
async function dropAfter(core: LogCore, lsn: Lsn, end: Lsn, length: number): Promise<void> {
  const { writer, bases } = core;
  await writer.flush(lsn);
  await writer.idle();
  writer.checkHealthy();
  const block = blockLsnOf(lsn);
  const epoch = writer.epoch + 1n;
  await bases.serializeMetadata(async () => {
    writer.restartAt(
      {
        logicalId: containerOf(block),
        offset: offsetOf(block) + length,
        previousBlockLsn: block,
        lastLsn: lsn,
      },
      epoch,
    );
    bases.noteTruncation(lsn, epoch, end);
    // Both slots: the copy that records the truncation is never the only one.
    await bases.persistMetadata({ epoch });
    await bases.persistMetadata({ epoch });
  });
}
