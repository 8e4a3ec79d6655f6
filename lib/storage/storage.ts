/**
 * The narrow I/O interface between the log and whatever holds its bytes.
 * The log reads and writes log data only through it; the native direct-I/O
 * implementation and the in-memory recording one (for crash enumeration)
 * both implement it, and nothing above knows which it has.
 * @module
 */
import type { ChecksumRange } from '../native/binding.ts';
import type { Durability } from '../native/direct-file.ts';

export type { ChecksumRange };

/** What the storage can tell about itself. */
export interface StorageGeometry {
  /** The unit every offset and length is a multiple of (the physical sector size). */
  unit: number;
  /** Alignment buffers handed to write/read must have. */
  memoryAlignment: number;
  /** Whether I/O bypasses the page cache. */
  direct: boolean;
  /** Why `direct` is what it is. */
  reason: string;
  logicalSectorSize: number;
  physicalSectorSize: number;
  durability: Durability;
}

/** Counters for ioStatistics(). */
export interface StorageStats {
  /** Block writes to containers. */
  flushes: number;
  /** Bytes of those writes. */
  bytesFlushed: number;
  /** Metadata (base file) writes. */
  metadataFlushes: number;
  /** Bytes of those writes. */
  metadataBytesFlushed: number;
  /** fdatasync calls (durability 'fdatasync'). */
  syncs: number;
  /** Reads from containers. */
  reads: number;
  /** Bytes of those reads. */
  bytesRead: number;
}

/** Every counter at zero. */
export function emptyStorageStats(): StorageStats {
  return { flushes: 0, bytesFlushed: 0, metadataFlushes: 0, metadataBytesFlushed: 0, syncs: 0, reads: 0, bytesRead: 0 };
}

export interface LogStorage {
  readonly geometry: StorageGeometry;
  readonly stats: StorageStats;
  /** How many containers exist (physical indices 0..count-1). */
  readonly containerCount: number;
  /** Sets the container count the log's metadata records (on open). */
  setContainerCount(count: number): void;
  /**
   * Checks, on open and before any container is read, that every container
   * (0..containerCount-1) is `size` bytes: ERR_CLFS_CORRUPT naming the
   * container and both sizes if one is not (for files, also
   * ERR_CLFS_UNSAFE_FILE if one is not a plain regular file of the log).
   */
  checkContainers(size: number): Promise<void>;

  /**
   * Writes the buffers end to end at `offset` of physical container
   * `container`, first computing the listed CRC32Cs into them. With
   * durability 'dsync' the data is durable when this resolves; with
   * 'fdatasync' after the next sync().
   */
  write(container: number, offset: number, buffers: Uint8Array[], checksums: ChecksumRange[]): Promise<void>;
  /**
   * Reads into `into` from `offset` of a container; resolves with the bytes
   * read (0 for a container removed since the caller looked it up).
   */
  read(container: number, offset: number, into: Uint8Array): Promise<number>;
  /** Makes every write that completed before the call durable. */
  sync(): Promise<void>;
  /**
   * Makes durable what physical containers `indices` hold as reads see them
   * now, including what an earlier process wrote and never synced (after a
   * process crash it can still sit in a cache a power cut empties).
   * Recovery calls it before it records the blocks it found as the log.
   */
  syncContainers(indices: readonly number[]): Promise<void>;
  /** Writes a metadata slot; it is durable when this resolves (except with durability 'none'). */
  writeMetadata(slot: 0 | 1, bytes: Uint8Array, checksum: ChecksumRange): Promise<void>;
  /** Reads a metadata slot into `into`; resolves with the bytes read. */
  readMetadata(slot: 0 | 1, into: Uint8Array): Promise<number>;
  /** Creates container `index` (= containerCount), preallocated and written, durably. */
  addContainer(index: number, size: number): Promise<void>;
  /**
   * Removes container `index` (= containerCount - 1), durably: the log's
   * metadata no longer lists it (removeContainers writes that first). A
   * crash before it is durable leaves the file, which the log ignores and
   * a later addContainer replaces.
   */
  removeContainer(index: number): Promise<void>;
  /** Buffers for write/read: aligned for this storage. */
  allocate(size: number): Uint8Array;
  close(): Promise<void>;
}
