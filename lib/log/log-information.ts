/**
 * What `log.information()` and `log.ioStatistics()` return.
 * @module
 */
import type { Lsn } from '../lsn.ts';
import type { Durability } from '../native/direct-file.ts';
import type { StorageStats } from '../storage/storage.ts';

/** `log.information()`: CLFS_INFORMATION, in bytes and bigint LSNs. */
export interface LogInformation {
  /** Bytes in all containers. */
  totalAvailable: number;
  /** Bytes available for new records now, after reservations. */
  currentAvailable: number;
  /** Bytes reserved by all marshalling areas. */
  totalReservation: number;
  /** Bytes of the base file (the metadata's two slots). */
  baseFileSize: number;
  /** Bytes per container. */
  containerSize: number;
  /** Containers the log has. */
  totalContainers: number;
  /** Containers holding nothing at or above the base (and, on an archive log, the archive tail). */
  freeContainers: number;
  /** The unit blocks are laid out in: the device's physical sector size. */
  sectorSize: number;
  /** The oldest record the log keeps (CLFS's base LSN): records below it may be recycled. */
  baseLsn: Lsn;
  /** The youngest durable record, or Lsn.INVALID. */
  lastFlushedLsn: Lsn;
  /** The youngest record appended, or Lsn.INVALID. */
  lastLsn: Lsn;
  /** The newest restart record, or Lsn.INVALID. */
  restartLsn: Lsn;
  /** The log's UUID. */
  identity: string;
  /** Whether the log is an archive (non-ephemeral) log (`Log.create(path, { archive: true })`). */
  archive: boolean;
  /**
   * The archive tail (CLFS's MinArchiveTailLsn): the oldest record not yet
   * archived, as last set by `setArchiveTail`; Lsn.INVALID for an
   * ephemeral log.
   */
  archiveTailLsn: Lsn;
  /** Whether I/O bypasses the page cache. */
  direct: boolean;
  /** The durability mode the log was opened with. */
  durability: Durability;
}

/** `log.ioStatistics()`: CLFS_IO_STATISTICS and more. */
export interface LogIoStatistics extends StorageStats {
  /** Records appended since the log was opened. */
  recordsAppended: number;
  /** Blocks sealed for writing since the log was opened. */
  blocksWritten: number;
}
