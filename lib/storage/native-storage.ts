/**
 * LogStorage over real files with direct I/O: a log directory holding the
 * base file (metadata, locked exclusively while the log is open) and the
 * container files.
 * @module
 */
import { lstat, mkdir, readdir, rename, rm, rmdir, open as fsOpen } from 'node:fs/promises';
import path from 'node:path';

import { ClfsError, fromSystemError } from '../errors.ts';
import { SLOT_SIZE } from '../format/metadata.ts';
import { DirectFile, type Durability, type IoEngine } from '../native/direct-file.ts';
import { alignedBuffer } from '../native/memory.ts';
import {
  emptyStorageStats,
  type ChecksumRange,
  type LogStorage,
  type StorageGeometry,
  type StorageStats,
} from './storage.ts';

export const BASE_FILE = 'base.blf';

export function containerFileName(index: number): string {
  return `container-${String(index).padStart(6, '0')}.clfc`;
}

/** How the storage opens its files. */
export interface NativeStorageOptions {
  durability: Durability;
  allowBuffered: boolean;
  engine?: IoEngine;
}

/** Containers kept open at once; others are opened when touched. */
const MAX_OPEN_CONTAINERS = 8;

interface OpenContainer {
  file: Promise<DirectFile>;
  users: number;
  lastUse: number;
}

/** Makes a directory entry durable (fsync on the directory). */
async function syncDirectory(dir: string): Promise<void> {
  const handle = await fsOpen(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export class NativeStorage implements LogStorage {
  readonly geometry: StorageGeometry;
  readonly stats: StorageStats = emptyStorageStats();
  readonly #dir: string;
  readonly #base: DirectFile;
  readonly #options: NativeStorageOptions;
  readonly #containers = new Map<number, OpenContainer>();
  readonly #dirty = new Set<number>();
  #containerCount: number;
  #useClock = 0;
  #closed = false;

  private constructor(dir: string, base: DirectFile, containerCount: number, options: NativeStorageOptions) {
    this.#dir = dir;
    this.#base = base;
    this.#containerCount = containerCount;
    this.#options = options;
    this.geometry = {
      unit: Math.max(base.physicalSectorSize, base.offsetAlignment),
      memoryAlignment: base.memoryAlignment,
      direct: base.direct,
      reason: base.reason,
      logicalSectorSize: base.logicalSectorSize,
      physicalSectorSize: base.physicalSectorSize,
      durability: options.durability,
    };
  }

  /**
   * Opens the log directory `dir` and locks its base file (a second opener
   * gets ERR_CLFS_LOCKED). The log then says how many containers it has
   * (setContainerCount), from its metadata.
   */
  static async open(dir: string, options: NativeStorageOptions): Promise<NativeStorage> {
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') {
        throw new ClfsError('ERR_CLFS_NOT_FOUND', `no log at '${dir}'`, { path: dir, cause: error });
      }
      throw fromSystemError(error);
    }
    if (!names.includes(BASE_FILE)) {
      throw new ClfsError('ERR_CLFS_NOT_FOUND', `'${dir}' is not a clfs log: it has no ${BASE_FILE}`, { path: dir });
    }
    const base = await DirectFile.open(path.join(dir, BASE_FILE), {
      durability: options.durability === 'none' ? 'none' : 'dsync',
      allowBuffered: options.allowBuffered,
      engine: options.engine,
      depth: 4,
    });
    return new NativeStorage(dir, base, 0, options);
  }

  /**
   * Creates a log directory at `dir` (which must not exist): the base file
   * and `containers` containers of `size` bytes, preallocated and written.
   * Everything is built in a temporary sibling and renamed into place, so a
   * crash never leaves a half-made log under the real name.
   */
  static async create(
    dir: string,
    containers: number,
    sizeFor: (unit: number) => number,
    options: NativeStorageOptions,
    initialize: (storage: NativeStorage) => Promise<void>,
  ): Promise<void> {
    const temporary = path.join(path.dirname(dir), `.${path.basename(dir)}.creating-${process.pid}-${Date.now()}`);
    try {
      await mkdir(temporary);
    } catch (error) {
      throw fromSystemError(error);
    }
    try {
      const base = await DirectFile.open(path.join(temporary, BASE_FILE), {
        create: true,
        exclusive: true,
        durability: options.durability === 'none' ? 'none' : 'dsync',
        allowBuffered: options.allowBuffered,
        engine: options.engine,
        depth: 4,
      });
      const storage = new NativeStorage(temporary, base, 0, options);
      try {
        await base.preallocate(2 * SLOT_SIZE);
        const size = sizeFor(storage.geometry.unit);
        for (let i = 0; i < containers; i++) await storage.addContainer(i, size);
        await initialize(storage);
      } finally {
        await storage.close();
      }
      await syncDirectory(temporary);
      const exists = (): ClfsError =>
        new ClfsError('ERR_CLFS_EXISTS', `a log (or file) already exists at '${dir}'`, { path: dir });
      if (
        await lstat(dir).then(
          () => true,
          () => false,
        )
      )
        throw exists();
      // One atomic step: a crash leaves either no log or the whole log under
      // its name. (rename() refuses a non-empty directory or a file there; an
      // empty directory made since the check above is replaced.)
      try {
        await rename(temporary, dir);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'ENOTEMPTY' || code === 'EEXIST' || code === 'ENOTDIR' || code === 'EISDIR') throw exists();
        throw error;
      }
      await syncDirectory(path.dirname(dir));
    } catch (error) {
      await rm(temporary, { recursive: true, force: true });
      throw fromSystemError(error);
    }
  }

  /**
   * Removes a log's own files (the base file and the container files) and
   * then the directory if nothing else is in it. Other files are left alone.
   */
  static async remove(dir: string): Promise<void> {
    try {
      const names = await readdir(dir);
      for (const name of names) {
        if (name === BASE_FILE || /^container-\d{6,}\.clfc$/.test(name))
          await rm(path.join(dir, name), { force: true });
      }
      if ((await readdir(dir)).length === 0) await rmdir(dir);
      await syncDirectory(path.dirname(dir)).catch(() => undefined);
    } catch (error) {
      throw fromSystemError(error);
    }
  }

  get containerCount(): number {
    return this.#containerCount;
  }

  setContainerCount(count: number): void {
    this.#containerCount = count;
  }

  allocate(size: number): Uint8Array {
    return alignedBuffer(size, { alignment: Math.max(this.geometry.memoryAlignment, this.geometry.unit) });
  }

  async #acquire(index: number): Promise<DirectFile> {
    if (this.#closed) throw new ClfsError('ERR_CLFS_CLOSED', 'the log storage is closed');
    if (!Number.isInteger(index) || index < 0 || index >= this.#containerCount) {
      throw new RangeError(`container ${index} does not exist`);
    }
    let entry = this.#containers.get(index);
    if (entry === undefined) {
      entry = {
        file: DirectFile.open(path.join(this.#dir, containerFileName(index)), {
          durability: this.#options.durability,
          allowBuffered: this.#options.allowBuffered,
          engine: this.#options.engine,
          lock: false, // the base file's lock covers the whole log
        }),
        users: 0,
        lastUse: 0,
      };
      this.#containers.set(index, entry);
      entry.file.catch(() => this.#containers.delete(index));
    }
    entry.users++;
    entry.lastUse = ++this.#useClock;
    // After counting this use: the container just opened is never the one evicted.
    this.#evict();
    try {
      return await entry.file;
    } catch (error) {
      entry.users--;
      throw error;
    }
  }

  #release(index: number): void {
    const entry = this.#containers.get(index);
    if (entry !== undefined) entry.users--;
  }

  /** Closes least recently used idle containers beyond the limit. */
  #evict(): void {
    if (this.#containers.size <= MAX_OPEN_CONTAINERS) return;
    const idle = [...this.#containers.entries()]
      .filter(([index, e]) => e.users === 0 && !this.#dirty.has(index))
      .sort((a, b) => a[1].lastUse - b[1].lastUse);
    for (const [index, entry] of idle.slice(0, this.#containers.size - MAX_OPEN_CONTAINERS)) {
      this.#containers.delete(index);
      void entry.file.then((f) => f.close()).catch(() => undefined);
    }
  }

  async write(
    container: number,
    offset: number,
    buffers: Uint8Array[],
    checksums: ChecksumRange[],
    sync = false,
  ): Promise<void> {
    const file = await this.#acquire(container);
    try {
      const written = await file.write(offset, buffers, { checksums, sync });
      this.stats.flushes++;
      this.stats.bytesFlushed += written;
      if (sync) this.stats.syncs++;
      else if (this.#options.durability === 'fdatasync') this.#dirty.add(container);
    } finally {
      this.#release(container);
    }
  }

  async read(container: number, offset: number, into: Uint8Array): Promise<number> {
    const file = await this.#acquire(container);
    try {
      const n = await file.read(offset, into);
      this.stats.reads++;
      this.stats.bytesRead += n;
      return n;
    } finally {
      this.#release(container);
    }
  }

  async sync(): Promise<void> {
    const dirty = [...this.#dirty];
    this.#dirty.clear();
    this.stats.syncs++;
    try {
      await Promise.all(
        dirty.map(async (index) => {
          const file = await this.#acquire(index);
          try {
            await file.sync();
          } finally {
            this.#release(index);
          }
        }),
      );
    } catch (error) {
      for (const index of dirty) this.#dirty.add(index);
      throw error;
    }
  }

  async writeMetadata(slot: 0 | 1, bytes: Uint8Array, checksum: ChecksumRange): Promise<void> {
    const written = await this.#base.write(slot * SLOT_SIZE, bytes, { checksums: [checksum] });
    this.stats.metadataFlushes++;
    this.stats.metadataBytesFlushed += written;
  }

  async readMetadata(slot: 0 | 1, into: Uint8Array): Promise<number> {
    return this.#base.read(slot * SLOT_SIZE, into);
  }

  async addContainer(index: number, size: number): Promise<void> {
    if (index !== this.#containerCount)
      throw new RangeError(`containers are added in order: expected ${this.#containerCount}`);
    // A crash while adding a container leaves a file the metadata does not
    // count: start it again from nothing.
    await rm(path.join(this.#dir, containerFileName(index)), { force: true });
    const file = await DirectFile.open(path.join(this.#dir, containerFileName(index)), {
      create: true,
      exclusive: true,
      durability: this.#options.durability,
      allowBuffered: this.#options.allowBuffered,
      engine: this.#options.engine,
      lock: false,
    });
    try {
      await file.preallocate(size);
    } catch (error) {
      // A container that could not be made whole (ENOSPC) is not left behind.
      await file.close();
      await rm(path.join(this.#dir, containerFileName(index)), { force: true });
      throw error;
    }
    await file.close();
    await syncDirectory(this.#dir);
    this.#containerCount++;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const files = [...this.#containers.values()].map((e) => e.file);
    this.#containers.clear();
    await Promise.allSettled(files.map(async (f) => (await f).close()));
    await this.#base.close();
  }
}
