/**
 * Archiving (CLFS's non-ephemeral logs): the archive tail
 * (SetLogArchiveTail) and archive snapshots (PrepareLogArchive,
 * GetNextLogArchiveExtent, ReadLogArchiveMetadata, TerminateLogArchive).
 *
 * An archive log keeps an archive tail, the oldest record not yet archived,
 * in its metadata (format/metadata.ts). A container is reused only once
 * both the base and the archive tail have passed it (BaseManager.reclaimLsn).
 *
 * A snapshot names the byte ranges of the containers ("extents") that hold
 * the log from the archive tail's block to the end of the last durable
 * block, and a metadata copy describing the log as it was then. It is
 * taken in the metadata's turn, where containers are recycled, and pins
 * every container from the archive tail on until it is released: what it
 * names cannot be overwritten by recycling. Nothing else rewrites those
 * bytes: a durable block is never written again (a flushed partial buffer
 * is sealed, the next record starts a new block), except where a truncation
 * lets new blocks take the place of dropped ones, which is refused while a
 * snapshot covers them (ERR_CLFS_ARCHIVE_IN_PROGRESS). So the extents can be
 * copied with plain reads while the writer goes on, and the copy holds
 * every record durable when the snapshot was taken, nothing torn.
 * @module
 */
import path from 'node:path';

import { ClfsError, invariant } from '../errors.ts';
import { encodeMetadata, METADATA_CHECKSUM_OFFSET, SLOT_SIZE, type Metadata } from '../format/metadata.ts';
import { Lsn, blockLsnOf, containerOf, makeLsn, offsetOf, positionLsn } from '../lsn.ts';
import { crc32c } from '../native/crc32c.ts';
import { containerFileName } from '../storage/log-directory.ts';
import type { LogCore } from './core.ts';

/** One byte range of a container file to copy (CLFS's GetNextLogArchiveExtent). */
export interface ArchiveExtent {
  /** The physical container's index in the log's table. */
  container: number;
  /** The container's file, in the log's directory. */
  file: string;
  /** The container file's full path. */
  path: string;
  /** Where the range starts in the file (a multiple of the log's sector size). */
  fileOffset: number;
  /** Its length in bytes (a multiple of the log's sector size). */
  length: number;
  /** The logical container it holds. */
  logicalId: number;
  /** The LSN of the range's first byte (a block's, not always a record's). */
  firstLsn: Lsn;
  /** The position just after the range (a block position). */
  endLsn: Lsn;
}

/**
 * What a restore needs of an archive snapshot: the metadata copy, the
 * extents and the LSN range. A snapshot ({@link ArchiveSnapshot}) is one;
 * so is that data kept anywhere (the bigints and bytes as they were).
 */
export interface ArchiveImage {
  /** The archive tail when the snapshot was taken: the extents start at its block. */
  fromLsn: Lsn;
  /** The last durable record when the snapshot was taken (Lsn.INVALID: none). */
  lastLsn: Lsn;
  /** The base when the snapshot was taken. */
  baseLsn: Lsn;
  /**
   * A metadata copy of the log's base file describing it as of the snapshot
   * (CLFS's ReadLogArchiveMetadata), checksummed.
   */
  metadata: Uint8Array;
  /** The ranges to copy, in LSN order. */
  extents: readonly ArchiveExtent[];
}

/**
 * An archive snapshot from `log.prepareArchive()` (CLFS's PrepareLogArchive
 * and its extents). Release it once copied (CLFS's TerminateLogArchive):
 * until then the containers it names are not reused.
 */
export interface ArchiveSnapshot extends ArchiveImage {
  /** The log's identity (UUID). */
  identity: string;
  /** Lets the log reuse the containers the snapshot named (again) once the tails pass them. Idempotent. */
  release(): void;
  /** `release()`, for `using`. */
  [Symbol.dispose](): void;
}

function ephemeral(call: string): ClfsError {
  return new ClfsError(
    'ERR_CLFS_EPHEMERAL',
    `${call}: the log is ephemeral (create it with { archive: true } to archive it)`,
  );
}

/**
 * Moves the archive tail to `lsn` (see Log.setArchiveTail). Checked in the
 * appends' turn, so a truncation (which takes that turn) is before it or
 * sees it; persisted in the metadata's turn after it.
 */
export async function setArchiveTail(core: LogCore, lsn: Lsn): Promise<void> {
  const { writer, bases } = core;
  if (!bases.archive) throw ephemeral('setArchiveTail');
  let persisted: Promise<void> | undefined;
  await writer.exclusive(async () => {
    writer.checkHealthy();
    const tail = bases.archiveTailLsn;
    await bases.checkNewBase(
      lsn,
      'the archive tail',
      { lsn: tail, name: 'the archive tail' },
      { lsn: writer.durableLsn, name: 'the last durable record' },
    );
    persisted = bases.setArchiveTail(lsn);
  });
  invariant(persisted !== undefined, 'setArchiveTail checked nothing');
  await persisted;
}

/**
 * ERR_CLFS_TAIL_INVALID if truncating after `lsn` would drop archived
 * records (below the archive tail); ERR_CLFS_ARCHIVE_IN_PROGRESS if it
 * would drop records an outstanding snapshot covers. Called in the
 * truncation's turn.
 */
export function checkTruncation(core: LogCore, lsn: Lsn): void {
  const { bases } = core;
  if (!bases.archive) return;
  if (lsn < bases.archiveTailLsn) {
    throw new ClfsError(
      'ERR_CLFS_TAIL_INVALID',
      `LSN ${Lsn.format(lsn)} cannot be the end of the log: it is below the archive tail ${Lsn.format(
        bases.archiveTailLsn,
      )} (records after it are archived)`,
      { lsn },
    );
  }
  const covered = bases.snapshotEnd();
  if (covered !== Lsn.INVALID && covered > lsn) {
    throw new ClfsError(
      'ERR_CLFS_ARCHIVE_IN_PROGRESS',
      `the log cannot be truncated after ${Lsn.format(lsn)}: an archive snapshot not yet released covers records up to ${Lsn.format(covered)}`,
      { lsn },
    );
  }
}

/** Takes an archive snapshot of `core`'s log (see Log.prepareArchive). */
export function prepareArchive(core: LogCore): Promise<ArchiveSnapshot> {
  const { bases, writer, metadata, table } = core;
  if (!bases.archive) throw ephemeral('prepareArchive');
  // The metadata's turn: no container is recycled between reading the
  // table and pinning it.
  return bases.serializeMetadata(async () => {
    writer.checkHealthy();
    const now = bases.metadataNow();
    const fromLsn = bases.archiveTailLsn;
    const image: Metadata = { ...metadata.current, ...now, clean: true };
    const extents: ArchiveExtent[] = [];
    const start = blockLsnOf(fromLsn);
    if (now.tailPreviousLsn !== Lsn.INVALID && start < now.tailLsn) {
      const size = table.containerSize;
      const endId = containerOf(now.tailPreviousLsn);
      for (let id = containerOf(start); id <= endId; id++) {
        const physical = table.physicalOf(id);
        invariant(physical !== -1, () => `container ${id} of an archive snapshot is not in the table`);
        const first = id === containerOf(start) ? offsetOf(start) : 0;
        const stop = id === containerOf(now.tailLsn) ? offsetOf(now.tailLsn) : size;
        if (stop <= first) continue;
        const file = containerFileName(physical);
        extents.push({
          container: physical,
          file,
          path: path.join(core.path, file),
          fileOffset: first,
          length: stop - first,
          logicalId: id,
          firstLsn: makeLsn(id, first),
          endLsn: positionLsn(id, stop, size),
        });
      }
    }
    const release = bases.pin(fromLsn, now.lastLsn);
    return {
      identity: image.identity,
      fromLsn,
      lastLsn: now.lastLsn,
      baseLsn: now.baseLsn,
      metadata: encodeImage(image),
      extents,
      release,
      [Symbol.dispose]: release,
    };
  });
}

/** A metadata copy as bytes, checksummed as the base file's slots are. */
function encodeImage(image: Metadata): Uint8Array {
  const slot = new Uint8Array(SLOT_SIZE);
  const used = encodeMetadata(slot, image);
  const bytes = slot.slice(0, used);
  new DataView(bytes.buffer).setUint32(METADATA_CHECKSUM_OFFSET, crc32c(bytes), true);
  return bytes;
}
