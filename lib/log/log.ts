/**
 * The Log: a directory holding a base file and its containers, opened by one
 * writer at a time (CLFS's CreateLogFile / AddLogContainer / GetLogFileInformation
 * / GetLogIoStatistics / CloseLogFileObject / DeleteLogFile).
 * @module
 */
import { randomUUID } from 'node:crypto';

import { ClfsError, invariant } from '../errors.ts';
import { logIdOf } from '../format/block.ts';
import { MAX_CONTAINERS, MAX_EPOCH, SLOT_SIZE, type Metadata } from '../format/metadata.ts';
import { Lsn, containerOf, makeLsn, positionLsn } from '../lsn.ts';
import type { Durability } from '../native/direct-file.ts';
import { NativeStorage } from '../storage/native-storage.ts';
import type { LogStorage, StorageStats } from '../storage/storage.ts';
import { checkInteger, checkPath } from '../validate.ts';
import { ContainerTable } from './containers.ts';
import { MarshallingArea, type MarshallingAreaOptions } from './marshalling-area.ts';
import { MetadataStore } from './metadata-store.ts';
import { resolveCreateOptions, resolveOpenOptions, type CreateLogOptions, type OpenLogOptions } from './options.ts';
import { BlockSource } from './read/block-source.ts';
import { recover, type RecoveryReport } from './recovery.ts';
import { LogWriter } from './write/writer.ts';

/** `log.information()`: CLFS_INFORMATION, in bytes and bigint LSNs. */
export interface LogInformation {
  /** Bytes in all containers. */
  totalAvailable: number;
  /** Bytes available for new records now, after reservations. */
  currentAvailable: number;
  /** Bytes reserved by all marshalling areas. */
  totalReservation: number;
  baseFileSize: number;
  containerSize: number;
  totalContainers: number;
  /** Containers holding nothing at or above the base. */
  freeContainers: number;
  /** The unit blocks are laid out in: the device's physical sector size. */
  sectorSize: number;
  baseLsn: Lsn;
  /** The youngest durable record, or Lsn.INVALID. */
  lastFlushedLsn: Lsn;
  /** The youngest record appended, or Lsn.INVALID. */
  lastLsn: Lsn;
  /** The newest restart record, or Lsn.INVALID. */
  restartLsn: Lsn;
  /** The log's UUID. */
  identity: string;
  /** Whether I/O bypasses the page cache. */
  direct: boolean;
  durability: Durability;
}

/** `log.ioStatistics()`: CLFS_IO_STATISTICS and more. */
export interface LogIoStatistics extends StorageStats {
  recordsAppended: number;
  blocksWritten: number;
}

/**
 * A CLFS log opened for reading and writing.
 *
 * @example
 * ```ts
 * const log = await Log.create('/var/lib/app/wal', { containerSize: 64 << 20 });
 * const area = await log.createMarshallingArea({ bufferSize: 64 * 1024 });
 * const { lsn } = await area.reserveAndAppend(new TextEncoder().encode('hello'), { forceFlush: true });
 * await log.close();
 * ```
 */
export class Log {
  readonly path: string;
  /** What recovery found when the log was opened. */
  readonly recoveryReport: RecoveryReport;
  /** @internal */
  readonly storage: LogStorage;
  /** @internal */
  readonly table: ContainerTable;
  /** @internal */
  readonly metadata: MetadataStore;
  /** @internal */
  readonly writer: LogWriter;
  /** @internal */
  readonly logId: bigint;
  /** @internal The log's blocks as readers see them. */
  readonly blocks: BlockSource;
  /** @internal */
  readonly unit: number;
  /** @internal The newest restart record appended (durable or not): the next one's previous LSN. */
  lastRestartAppended: Lsn;
  readonly #areas = new Set<MarshallingArea>();
  /** Calls still running that close() waits for (see track()). */
  readonly #operations = new Set<Promise<unknown>>();
  #baseLsn: Lsn;
  #restartLsn: Lsn;
  #closing: Promise<void> | undefined;
  #closed = false;
  /** Serialises base moves and container changes with their metadata writes. */
  #metadataLock: Promise<unknown> = Promise.resolve();

  private constructor(
    path: string,
    storage: LogStorage,
    metadata: MetadataStore,
    table: ContainerTable,
    writer: LogWriter,
    report: RecoveryReport,
  ) {
    this.path = path;
    this.storage = storage;
    this.metadata = metadata;
    this.table = table;
    this.writer = writer;
    this.recoveryReport = report;
    this.logId = logIdOf(metadata.current.identity);
    this.unit = metadata.current.sectorUnit;
    this.blocks = new BlockSource(storage, table, writer, this.logId, this.unit);
    this.#baseLsn = metadata.current.baseLsn;
    this.#restartLsn = metadata.current.restartLsn;
    this.lastRestartAppended = this.#restartLsn;
  }

  /**
   * Creates a log at `path` (a directory it makes; ERR_CLFS_EXISTS if there
   * is anything there) with `containers` containers, preallocated and written,
   * and opens it.
   */
  static async create(path: string, options?: CreateLogOptions): Promise<Log> {
    checkPath('path', path);
    const o = resolveCreateOptions(options);
    const storageOptions = { durability: o.durability, allowBuffered: o.allowBuffered, engine: o.engine };
    await NativeStorage.create(
      path,
      o.containers,
      (unit) => Math.ceil(o.containerSize / unit) * unit,
      storageOptions,
      (storage) => Log.initializeStorage(storage, o.containerSize, o.containers, o.maxContainers),
    );
    return Log.open(path, { durability: o.durability, allowBuffered: o.allowBuffered, engine: o.engine });
  }

  /**
   * @internal Writes the first metadata of a new log onto `storage`, whose
   * `containers` containers exist already (both slots, so neither holds
   * garbage).
   */
  static async initializeStorage(
    storage: LogStorage,
    containerSize: number,
    containers: number,
    maxContainers: number,
  ): Promise<void> {
    const unit = storage.geometry.unit;
    if (containerSize % unit !== 0) {
      throw new ClfsError('ERR_OUT_OF_RANGE', `the container size must be a multiple of the ${unit}-byte sector`);
    }
    const logicalIds = new Array<number>(containers).fill(0);
    logicalIds[0] = 1;
    const first = makeLsn(1, 0);
    const initial: Metadata = {
      dumpCount: 0n,
      identity: randomUUID(),
      sectorUnit: unit,
      containerSize,
      epoch: 0n,
      baseLsn: first,
      restartLsn: Lsn.INVALID,
      tailLsn: first,
      tailPreviousLsn: Lsn.INVALID,
      lastLsn: Lsn.INVALID,
      maxContainers,
      clean: true,
      containers: logicalIds,
    };
    const store = new MetadataStore(storage, initial);
    await store.write({});
    await store.write({});
  }

  /**
   * Opens the log at `path` and recovers it: finds the end of the log, cuts a
   * torn tail, and reports damage in acknowledged data as ERR_CLFS_CORRUPT
   * (or skips it with `recovery: 'salvage'`). ERR_CLFS_LOCKED if it is open
   * elsewhere; ERR_CLFS_NOT_FOUND if there is no log.
   */
  static async open(path: string, options?: OpenLogOptions): Promise<Log> {
    checkPath('path', path);
    const o = resolveOpenOptions(options);
    const storage = await NativeStorage.open(path, {
      durability: o.durability,
      allowBuffered: o.allowBuffered,
      engine: o.engine,
    });
    try {
      return await Log.openStorage(path, storage, o.recovery);
    } catch (error) {
      await storage.close();
      throw error;
    }
  }

  /** @internal Opens a log over any LogStorage (the crash tests use an in-memory one). */
  static async openStorage(path: string, storage: LogStorage, recovery: 'strict' | 'salvage'): Promise<Log> {
    const { metadata, problems } = await MetadataStore.read(storage);
    if (metadata.sectorUnit % storage.geometry.unit !== 0 && storage.geometry.unit % metadata.sectorUnit !== 0) {
      throw new ClfsError(
        'ERR_CLFS_MISALIGNED',
        `the log was laid out for ${metadata.sectorUnit}-byte sectors; this device needs ${storage.geometry.unit}`,
      );
    }
    if (metadata.sectorUnit < storage.geometry.unit) {
      throw new ClfsError(
        'ERR_CLFS_MISALIGNED',
        `the log was laid out for ${metadata.sectorUnit}-byte sectors but this device writes ${storage.geometry.unit}-byte sectors: it cannot be written here without rewriting sectors that hold records`,
      );
    }
    storage.setContainerCount(metadata.containers.length);
    // Before recovery reads any: a container replaced or cut is damage found
    // now, not wherever a read happens to look.
    await storage.checkContainers(metadata.containerSize);
    const table = new ContainerTable([...metadata.containers], metadata.containerSize);
    const logId = logIdOf(metadata.identity);
    const tail = await recover(storage, metadata, table, {
      salvage: recovery === 'salvage',
      logId,
      // A clean close says nothing follows the tail only if its copy is the
      // newest: with the other copy unreadable, a later generation may have
      // written after it.
      clean: metadata.clean && problems.length === 0,
    });
    tail.report.metadataProblems.push(...problems);
    // The blocks recovery found past the metadata's tail are the log from
    // now on (the metadata below records them), but an earlier process may
    // have written them without syncing them ('fdatasync' mode, killed
    // before its sync): they are made durable first, or a power cut could
    // take blocks the metadata says are there.
    if (tail.report.blocksScanned > 0 || tail.report.skipped.length > 0) {
      const first = Math.max(1, containerOf(metadata.tailLsn) - 1);
      const containers: number[] = [];
      for (let id = first; id <= tail.endLogicalId; id++) {
        const physical = table.physicalOf(id);
        if (physical !== -1) containers.push(physical);
      }
      await storage.syncContainers(containers);
    }
    const store = new MetadataStore(storage, metadata);
    // The new generation is above every epoch on disk (when the newest
    // metadata copy was lost, blocks of later generations than the surviving
    // copy's are), so no block left behind can ever follow one it writes. It
    // is durable before anything is written with it.
    const highest = tail.highestEpoch > metadata.epoch ? tail.highestEpoch : metadata.epoch;
    if (highest >= MAX_EPOCH) {
      throw new ClfsError(
        'ERR_CLFS_CORRUPT',
        `the log's generation number (${highest}) cannot be raised: the log is damaged`,
      );
    }
    const epoch = highest + 1n;
    await store.write({
      epoch,
      // Containers recovery found recycled (by a metadata write it could not read).
      containers: [...table.logicalIds],
      baseLsn: tail.baseLsn,
      restartLsn: tail.restartLsn,
      tailLsn: positionLsn(tail.endLogicalId, tail.endOffset, metadata.containerSize),
      tailPreviousLsn: tail.lastBlockLsn,
      lastLsn: tail.lastLsn,
      clean: false,
    });
    // The writer asks the log for containers; the log is made after it.
    const self: { log?: Log } = {};
    const writer = new LogWriter(
      {
        storage,
        unit: metadata.sectorUnit,
        containerSize: metadata.containerSize,
        logId,
        epoch,
        physicalOf: (id) => table.physicalOf(id),
        provideContainer: (id) => self.log!.provideContainer(id),
      },
      {
        logicalId: tail.endLogicalId,
        offset: tail.endOffset,
        previousBlockLsn: tail.lastBlockLsn,
        lastLsn: tail.lastLsn,
      },
    );
    self.log = new Log(path, storage, store, table, writer, tail.report);
    return self.log;
  }

  /**
   * Deletes the log at `path` (CLFS's DeleteLogFile). ERR_CLFS_LOCKED while
   * it is open; ERR_CLFS_NOT_FOUND if there is no log there. Once it has
   * begun, no Log.open succeeds; a delete interrupted by a crash leaves the
   * log whole, or half-deleted (Log.open: ERR_CLFS_NOT_FOUND), which the
   * next Log.delete finishes. Files in the directory that are not the log's
   * are left alone (and the directory with them).
   */
  static async delete(path: string): Promise<void> {
    checkPath('path', path);
    // It must be a log (valid metadata, which counts its containers) and
    // not open anywhere (the lock, held until it is gone).
    await NativeStorage.delete(
      path,
      { durability: 'dsync', allowBuffered: true },
      async (storage) => (await MetadataStore.read(storage)).metadata.containers.length,
    );
  }

  /** @internal */
  get baseLsn(): Lsn {
    return this.#baseLsn;
  }

  /** @internal */
  get restartLsn(): Lsn {
    return this.#restartLsn;
  }

  /** @internal Throws ERR_CLFS_CLOSED once close() has begun. */
  checkOpen(): void {
    if (this.#closed || this.#closing !== undefined) {
      throw new ClfsError('ERR_CLFS_CLOSED', `the log '${this.path}' is closed`);
    }
  }

  /** @internal Throws ERR_CLFS_CLOSED once close() has finished (work queued before it still runs). */
  checkAlive(): void {
    if (this.#closed) throw new ClfsError('ERR_CLFS_CLOSED', `the log '${this.path}' is closed`);
  }

  /** @internal Runs `fn` after earlier metadata changes, one at a time. */
  serializeMetadata<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.#metadataLock.then(fn);
    this.#metadataLock = result.catch(() => undefined);
    return result;
  }

  /** @internal Writes metadata with the current base, restart, table and durable tail. */
  async persistMetadata(update: Partial<Metadata> = {}): Promise<void> {
    // A fail-stopped log records nothing more (invariant 4): a base move or
    // restart area pending when it failed is not acknowledged.
    this.writer.checkHealthy();
    try {
      await this.metadata.write({
        baseLsn: this.#baseLsn,
        restartLsn: this.#restartLsn,
        containers: [...this.table.logicalIds],
        ...this.writer.durableTail(),
        ...update,
      });
    } catch (error) {
      this.writer.fail(error, 'writing the log metadata');
      throw this.writer.failure;
    }
    // Failed while the write was in flight: what it recorded stands or not,
    // as after a crash, but it is not acknowledged.
    this.writer.checkHealthy();
  }

  /** @internal Makes logical container `logicalId` exist: recycle a free one, or grow. */
  async provideContainer(logicalId: number): Promise<number> {
    return this.serializeMetadata(async () => {
      const existing = this.table.physicalOf(logicalId);
      if (existing !== -1) return existing;
      let physical = this.table.recycle(this.metadata.current.baseLsn);
      if (physical === -1 && this.table.count < this.metadata.current.maxContainers) {
        await this.#grow(1);
        physical = this.table.recycle(this.metadata.current.baseLsn);
      }
      if (physical === -1) {
        throw new ClfsError(
          'ERR_CLFS_LOG_FULL',
          `the log is full: all ${this.table.count} containers hold records at or above the base LSN ${Lsn.format(
            this.#baseLsn,
          )}. Advance the base (advanceLogBase or writeRestartArea), add containers, or enable autoGrow`,
        );
      }
      invariant(
        this.table.logicalIds[physical] === logicalId,
        () => `container ${logicalId} recycled as ${this.table.logicalIds[physical]}`,
      );
      await this.persistMetadata();
      return physical;
    });
  }

  async #grow(count: number): Promise<void> {
    for (let i = 0; i < count; i++) {
      const index = this.table.count;
      await this.storage.addContainer(index, this.table.containerSize);
      this.table.logicalIds.push(0);
    }
    await this.persistMetadata({ containers: [...this.table.logicalIds] });
  }

  /**
   * Adds `count` containers of the log's container size (CLFS's
   * AddLogContainer), preallocated and written.
   */
  async addContainers(count: number): Promise<void> {
    this.checkOpen();
    checkInteger('count', count, 1, MAX_CONTAINERS);
    if (this.table.count + count > MAX_CONTAINERS) {
      throw new ClfsError('ERR_OUT_OF_RANGE', `a log has at most ${MAX_CONTAINERS} containers`);
    }
    await this.track(this.serializeMetadata(() => this.#grow(count)));
  }

  /** @internal Moves the base (already validated and flushed) and persists it. */
  async setBase(lsn: Lsn, restart?: Lsn): Promise<void> {
    await this.serializeMetadata(async () => {
      this.writer.checkHealthy();
      if (lsn > this.#baseLsn) this.#baseLsn = lsn;
      // Restart areas settle in LSN order; the newest stays the newest.
      if (restart !== undefined && (this.#restartLsn === Lsn.INVALID || restart > this.#restartLsn)) {
        this.#restartLsn = restart;
      }
      await this.persistMetadata();
    });
  }

  /**
   * The room new blocks can still take without any base move: the rest of
   * the container being written (after the open block, as if sealed now),
   * and how many whole containers follow it (those given later ids but not
   * written yet, the free ones, and with growth what autoGrow may add). A
   * container counts as free only once the base move that freed it is
   * durable: the writer recycles by the persisted base.
   */
  #room(withGrowth: boolean): { current: number; containers: number } {
    const { logicalId, offset } = this.writer.sealedPosition();
    const base = this.metadata.current.baseLsn;
    let current = 0;
    let containers = 0;
    this.table.logicalIds.forEach((id, index) => {
      if (id === logicalId) current = Math.max(0, this.table.containerSize - offset);
      else if (id > logicalId || this.table.isFree(index, base)) containers++;
    });
    if (withGrowth) containers += Math.max(0, this.metadata.current.maxContainers - this.table.count);
    return { current, containers };
  }

  /** Bytes obtainable for new blocks without any base move. */
  #spaceLeft(withGrowth: boolean): number {
    const { current, containers } = this.#room(withGrowth);
    return current + containers * this.table.containerSize;
  }

  /** Containers holding no record at or above the base. */
  #freeContainers(): number {
    const current = this.writer.position.logicalId;
    return this.table.logicalIds.filter((id, index) => id > current || this.table.isFree(index, this.#baseLsn)).length;
  }

  /** @internal Bytes available for new records now, after reservations (for messages too: no open check). */
  currentAvailable(): number {
    return Math.max(0, this.#spaceLeft(false) - this.totalReservation());
  }

  /** @internal Bytes reserved by every area. */
  totalReservation(): number {
    let total = 0;
    for (const area of this.#areas) total += area.reservedBytes;
    return total;
  }

  /**
   * @internal Whether new blocks of these lengths (an append's, in the order
   * the writer places them) fit while every reserved record stays
   * appendable, `reserve` more bytes reserved with records of at most
   * `largest` bytes included (CLFS: appends into reservations never meet a
   * full log).
   *
   * The blocks are placed as the writer places them: where one does not fit
   * before a container's end, the rest of that container is left unused.
   * The reserved records are then appended in any order, each whole in one
   * container, so each container may end with up to the largest reserved
   * block less a sector unused: only what lies before that counts for them.
   */
  hasRoomFor(request: { blocks: readonly number[]; reserve: number; largest: number }): boolean {
    const size = this.table.containerSize;
    let { current: rest, containers } = this.#room(true);
    let reserved = request.reserve;
    let largest = request.largest;
    for (const area of this.#areas) {
      reserved += area.reservedBytes;
      largest = Math.max(largest, area.reservedLargest);
    }
    if (reserved === 0) {
      // Nothing reserved: the writer finds out block by block (a container
      // it cannot have is ERR_CLFS_LOG_FULL then); this only refuses what
      // cannot fit at all.
      const cost = request.blocks.reduce((a, b) => a + b, 0);
      return rest + containers * size >= cost;
    }
    for (const block of request.blocks) {
      if (rest < block) {
        if (containers === 0 || size < block) return false;
        containers--;
        rest = size;
      }
      rest -= block;
    }
    const waste = Math.max(0, largest - this.unit);
    return Math.max(0, rest - waste) + containers * Math.max(0, size - waste) >= reserved;
  }

  /** Creates a marshalling area on this log (CLFS's CreateLogMarshallingArea). */
  async createMarshallingArea(options: MarshallingAreaOptions): Promise<MarshallingArea> {
    this.checkOpen();
    const area = new MarshallingArea(this, options);
    this.#areas.add(area);
    return area;
  }

  /** @internal */
  forgetArea(area: MarshallingArea): void {
    this.#areas.delete(area);
  }

  /** A snapshot of the log's state (CLFS's GetLogFileInformation). */
  information(): LogInformation {
    this.checkOpen();
    const totalReservation = this.totalReservation();
    return {
      totalAvailable: this.table.count * this.table.containerSize,
      currentAvailable: this.currentAvailable(),
      totalReservation,
      baseFileSize: 2 * SLOT_SIZE,
      containerSize: this.table.containerSize,
      totalContainers: this.table.count,
      freeContainers: this.#freeContainers(),
      sectorSize: this.unit,
      baseLsn: this.#baseLsn,
      lastFlushedLsn: this.writer.durableLsn,
      lastLsn: this.writer.lastLsn,
      restartLsn: this.#restartLsn,
      identity: this.metadata.current.identity,
      direct: this.storage.geometry.direct,
      durability: this.storage.geometry.durability,
    };
  }

  /** I/O counters (CLFS's GetLogIoStatistics). */
  ioStatistics(): LogIoStatistics {
    this.checkOpen();
    return {
      ...this.storage.stats,
      recordsAppended: this.writer.recordsAppended,
      blocksWritten: this.writer.blocksSealed,
    };
  }

  /**
   * Closes the log (CLFS's CloseLogFileObject): closes every marshalling
   * area (each flushes first), makes everything durable, records a clean
   * close, and unlocks. A second call does nothing. If the log fail-stopped
   * (a write or sync failed), it still closes and unlocks, then rejects with
   * ERR_CLFS_IO_FAILED: records appended since the failure were not kept.
   */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closing ??= this.#close();
    return this.#closing;
  }

  /**
   * @internal Registers a call that goes on past its turn among appends (a
   * restart area's flush and base move, a container being added): close()
   * waits for it before it drains the writer and writes the last metadata.
   */
  track<T>(promise: Promise<T>): Promise<T> {
    this.#operations.add(promise);
    const forget = (): void => void this.#operations.delete(promise);
    promise.then(forget, forget);
    return promise;
  }

  async #close(): Promise<void> {
    let failure: unknown;
    try {
      // Calls made before close() run to their end (new ones are refused).
      await Promise.allSettled([...this.#operations]);
      for (const area of [...this.#areas]) {
        await area.close().catch((error: unknown) => (failure ??= error));
      }
      await this.writer.exclusive(() => undefined).catch(() => undefined);
      await this.writer.drain().catch((error: unknown) => (failure ??= error));
      if (this.writer.failure === undefined && failure === undefined) {
        await this.serializeMetadata(() => this.persistMetadata({ clean: true }));
      }
    } finally {
      this.#closed = true;
      await this.storage.close();
    }
    // The log is closed and unlocked either way; but if anything appended did
    // not reach stable storage (the log fail-stopped), close says so.
    const lost = this.writer.failure;
    if (lost !== undefined) throw lost;
    if (failure !== undefined) throw failure;
  }
}
