/**
 * LogStorage over real files with direct I/O: a log directory holding the
 * base file (metadata, locked exclusively while the log is open) and the
 * container files.
 *
 * Every file of a log is opened `regularOnly` (DirectFile): a symbolic link,
 * hard link, FIFO, socket, device or directory planted in place of one is
 * refused with ERR_CLFS_UNSAFE_FILE before anything is read or written, so
 * nothing outside the directory is ever written through it. File names are
 * made here, never read from disk.
 * @module
 */
import { readdir, unlink } from 'node:fs/promises';
import path from 'node:path';

import { ClfsError, fromSystemError, invariant } from '../errors.ts';
import { SLOT_SIZE } from '../format/metadata.ts';
import { DirectFile, regularFileSize, type Durability, type IoEngine } from '../native/direct-file.ts';
import { alignedBuffer } from '../native/memory.ts';
import {
  BASE_FILE,
  buildLogDirectory,
  codeOf,
  containerFileName,
  deleteLog,
  notFound,
  syncDirectory,
  unless,
} from './log-directory.ts';
import {
  emptyStorageStats,
  type ChecksumRange,
  type LogStorage,
  type StorageGeometry,
  type StorageStats,
} from './storage.ts';

function wrongSize(file: string, actual: number, expected: number): ClfsError {
  return new ClfsError(
    'ERR_CLFS_CORRUPT',
    `the container file '${file}' is ${actual} bytes, but this log's containers are ${expected} bytes`,
    { path: file, size: actual, expected },
  );
}

/** How the storage opens its files. */
export interface NativeStorageOptions {
  durability: Durability;
  allowBuffered: boolean;
  engine?: IoEngine;
  /** Open every file read-only, and take no lock (a reader beside the writer). */
  readOnly?: boolean;
}

/** Containers kept open at once; others are opened when touched. */
const MAX_OPEN_CONTAINERS = 8;

interface OpenContainer {
  file: Promise<DirectFile>;
  /** The file once opened: a write to it then starts without waiting a promise step. */
  ready: DirectFile | undefined;
  users: number;
  lastUse: number;
  /** Removed (removeContainers) while in use: closed when the last use ends. */
  removed?: boolean;
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
  /** Every container's size, once known (checkContainers, addContainer). */
  #containerSize: number | undefined;
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
   * gets ERR_CLFS_LOCKED; with `readOnly`, opens it for reading, unlocked). The log then says how many containers it has
   * (setContainerCount), from its metadata, and checks them
   * (checkContainers).
   */
  static async open(dir: string, options: NativeStorageOptions): Promise<NativeStorage> {
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (error) {
      const code = codeOf(error);
      if (code === 'ENOENT' || code === 'ENOTDIR') throw notFound(dir, 'there is no directory there', error);
      throw fromSystemError(error);
    }
    if (!names.includes(BASE_FILE)) throw notFound(dir, `it has no ${BASE_FILE}`);
    return NativeStorage.#lock(dir, BASE_FILE, options);
  }

  /** Opens and locks `name` (the base file, or the renamed one of a log being deleted) as the storage's base. */
  static async #lock(dir: string, name: string, options: NativeStorageOptions): Promise<NativeStorage> {
    try {
      const base = await DirectFile.open(path.join(dir, name), {
        durability: options.durability === 'none' || options.readOnly === true ? 'none' : 'dsync',
        allowBuffered: options.allowBuffered,
        engine: options.engine,
        depth: 4,
        regularOnly: true,
        readOnly: options.readOnly === true,
        lock: options.readOnly !== true,
      });
      return new NativeStorage(dir, base, 0, options);
    } catch (error) {
      // Gone since the directory was listed, or while waiting for the lock:
      // a delete took it (the log is being deleted, or is gone).
      if (codeOf(error) === 'ENOENT') throw notFound(dir, `its ${name} was removed`, error);
      throw error;
    }
  }

  /**
   * Creates a log directory at `dir` (which must not exist): the base file
   * and `containers` containers of `size` bytes, preallocated and written.
   * Everything is built in a temporary sibling of a name no other create
   * uses, and renamed into place, so a crash never leaves a half-made log
   * under the real name, and of concurrent creates exactly one wins
   * (ERR_CLFS_EXISTS for the others).
   */
  static async create(
    dir: string,
    containers: number,
    sizeFor: (unit: number) => number,
    options: NativeStorageOptions,
    initialize: (storage: NativeStorage) => Promise<void>,
  ): Promise<void> {
    await buildLogDirectory(dir, async (temporary) => {
      const base = await DirectFile.open(path.join(temporary, BASE_FILE), {
        create: true,
        exclusive: true,
        durability: options.durability === 'none' ? 'none' : 'dsync',
        allowBuffered: options.allowBuffered,
        engine: options.engine,
        depth: 4,
        regularOnly: true,
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
    });
  }

  /**
   * Deletes the log at `dir` (CLFS's DeleteLogFile) holding its lock
   * throughout, crash-safely: see deleteLog. `containerCount` reads the
   * count from the locked base file's metadata.
   */
  static delete(
    dir: string,
    options: NativeStorageOptions,
    containerCount: (storage: NativeStorage) => Promise<number>,
  ): Promise<void> {
    return deleteLog(dir, (resolved, name) => NativeStorage.#lock(resolved, name, options), containerCount);
  }

  get containerCount(): number {
    return this.#containerCount;
  }

  setContainerCount(count: number): void {
    this.#containerCount = count;
    // A reader beside a writer is told the count again whenever the
    // writer's metadata changed: a file it has open may have been removed
    // and made again since. Files in use close when their last use ends.
    for (const entry of this.#containers.values()) {
      entry.removed = true;
      if (entry.users === 0) void entry.file.then((f) => f.close()).catch(() => undefined);
    }
    this.#containers.clear();
  }

  allocate(size: number): Uint8Array {
    return alignedBuffer(size, { alignment: Math.max(this.geometry.memoryAlignment, this.geometry.unit) });
  }

  /**
   * Counts a use of container `index` (opening it if needed): its entry,
   * whose file is `ready` when already open.
   */
  #use(index: number): OpenContainer {
    if (this.#closed) throw new ClfsError('ERR_CLFS_CLOSED', 'the log storage is closed');
    invariant(
      Number.isInteger(index) && index >= 0 && index < this.#containerCount,
      () => `container ${index} does not exist`,
    );
    let entry = this.#containers.get(index);
    if (entry === undefined) {
      const created: OpenContainer = { file: this.#openContainer(index), ready: undefined, users: 0, lastUse: 0 };
      created.file.then(
        (file) => (created.ready = file),
        () => this.#containers.delete(index),
      );
      entry = created;
      this.#containers.set(index, entry);
    }
    entry.users++;
    entry.lastUse = ++this.#useClock;
    // After counting this use: the container just opened is never the one evicted.
    this.#evict();
    return entry;
  }

  async #acquire(index: number): Promise<{ entry: OpenContainer; file: DirectFile }> {
    const entry = this.#use(index);
    try {
      return { entry, file: await entry.file };
    } catch (error) {
      entry.users--;
      throw error;
    }
  }

  /**
   * Opens a container file, which must still be a safe file of the size
   * checkContainers saw (it may have been replaced since).
   */
  async #openContainer(index: number): Promise<DirectFile> {
    const name = path.join(this.#dir, containerFileName(index));
    const file = await DirectFile.open(name, {
      durability: this.#options.readOnly === true ? 'none' : this.#options.durability,
      allowBuffered: this.#options.allowBuffered,
      engine: this.#options.engine,
      lock: false, // the base file's lock covers the whole log
      regularOnly: true,
      readOnly: this.#options.readOnly === true,
    });
    const expected = this.#containerSize;
    if (expected !== undefined && file.sizeAtOpen !== expected) {
      await file.close();
      throw wrongSize(name, file.sizeAtOpen, expected);
    }
    return file;
  }

  /**
   * Checks every container file (0..containerCount-1) without opening it:
   * a regular file with one link on the directory's device
   * (ERR_CLFS_UNSAFE_FILE otherwise) of `size` bytes (ERR_CLFS_CORRUPT
   * otherwise). A file of another size was replaced or cut: reading it would
   * find the damage only where it happens to look.
   */
  async checkContainers(size: number): Promise<void> {
    this.#containerSize = size;
    const checks = Array.from({ length: this.#containerCount }, async (_, index) => {
      const name = path.join(this.#dir, containerFileName(index));
      const actual = await regularFileSize(name);
      if (actual !== size) throw wrongSize(name, actual, size);
    });
    await Promise.all(checks);
  }

  #release(entry: OpenContainer): void {
    if (--entry.users === 0 && entry.removed === true) void entry.file.then((f) => f.close()).catch(() => undefined);
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

  /**
   * Not an async function: when the container is open (nearly always) the
   * write is submitted before this returns, and its completion settles the
   * promise returned in one step.
   */
  write(container: number, offset: number, buffers: Uint8Array[], checksums: ChecksumRange[]): Promise<void> {
    let entry: OpenContainer;
    try {
      entry = this.#use(container);
    } catch (error) {
      return Promise.reject(error as Error);
    }
    const options = { checksums };
    const written =
      entry.ready === undefined
        ? entry.file.then((file) => file.write(offset, buffers, options))
        : entry.ready.write(offset, buffers, options);
    return written.then(
      (bytes) => {
        entry.users--;
        this.stats.flushes++;
        this.stats.bytesFlushed += bytes;
        if (this.#options.durability === 'fdatasync') this.#dirty.add(container);
      },
      (error: unknown) => {
        entry.users--;
        throw error;
      },
    );
  }

  async read(container: number, offset: number, into: Uint8Array): Promise<number> {
    // Removed (removeContainers) since the reader looked it up: nothing there.
    if (!this.#closed && container >= this.#containerCount) return 0;
    const { entry, file } = await this.#acquire(container);
    try {
      const n = await file.read(offset, into);
      this.stats.reads++;
      this.stats.bytesRead += n;
      return n;
    } finally {
      this.#release(entry);
    }
  }

  async sync(): Promise<void> {
    const dirty = [...this.#dirty];
    this.#dirty.clear();
    this.stats.syncs++;
    try {
      await Promise.all(
        dirty.map(async (index) => {
          const { entry, file } = await this.#acquire(index);
          try {
            await file.sync();
          } finally {
            this.#release(entry);
          }
        }),
      );
    } catch (error) {
      for (const index of dirty) this.#dirty.add(index);
      throw error;
    }
  }

  async syncContainers(indices: readonly number[]): Promise<void> {
    if (this.#options.durability === 'none') return;
    for (const index of indices) {
      const { entry, file } = await this.#acquire(index);
      try {
        await file.sync();
        this.stats.syncs++;
      } finally {
        this.#release(entry);
      }
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
    invariant(index === this.#containerCount, () => `containers are added in order: expected ${this.#containerCount}`);
    const name = path.join(this.#dir, containerFileName(index));
    // A crash while adding a container leaves a file the metadata does not
    // count: start it again from nothing. (unlink removes a link planted
    // there, never what it points to; the exclusive create then makes a
    // file of our own.)
    await unless(['ENOENT'], undefined, () => unlink(name));
    const file = await DirectFile.open(name, {
      create: true,
      exclusive: true,
      durability: this.#options.durability,
      allowBuffered: this.#options.allowBuffered,
      engine: this.#options.engine,
      lock: false,
      regularOnly: true,
    });
    try {
      await file.preallocate(size);
    } catch (error) {
      // A container that could not be made whole (ENOSPC) is not left behind.
      await file.close();
      await unless(['ENOENT'], undefined, () => unlink(name));
      throw error;
    }
    await file.close();
    await syncDirectory(this.#dir);
    this.#containerSize ??= size;
    this.#containerCount++;
  }

  async removeContainer(index: number): Promise<void> {
    invariant(index === this.#containerCount - 1, 'containers are removed from the end');
    this.#containerCount = index;
    this.#dirty.delete(index);
    const entry = this.#containers.get(index);
    this.#containers.delete(index);
    if (entry !== undefined) entry.removed = true;
    if (entry?.users === 0) await entry.file.then((f) => f.close()).catch(() => undefined);
    await unless(['ENOENT'], undefined, () => unlink(path.join(this.#dir, containerFileName(index))));
    await syncDirectory(this.#dir);
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
