/**
 * The Log: a directory holding a base file and its containers, opened by one
 * writer at a time (CLFS's CreateLogFile / AddLogContainer / GetLogFileInformation
 * / GetLogIoStatistics / CloseLogFileObject / DeleteLogFile).
 * @module
 */
import { MAX_CONTAINERS, SLOT_SIZE } from '../format/metadata.ts';
import { checkLsn, jsonFriendly, type Lsn } from '../lsn.ts';
import { NativeStorage } from '../storage/native-storage.ts';
import type { LogStorage } from '../storage/storage.ts';
import { invalidArgType, invalidArgValue } from '../errors.ts';
import { checkInteger, checkOneOf, checkPath } from '../validate.ts';
import { prepareArchive, setArchiveTail, type ArchiveImage, type ArchiveSnapshot } from './archive.ts';
import type { LogCore } from './core.ts';
import { Follower } from './follower.ts';
import type { LogInformation, LogIoStatistics } from './log-information.ts';
import { MarshallingArea, type MarshallingAreaOptions } from './marshalling-area.ts';
import { MetadataStore } from './metadata-store.ts';
import { initializeStorage, openCore } from './open.ts';
import { resolveCreateOptions, resolveOpenOptions, type CreateLogOptions, type OpenLogOptions } from './options.ts';
import type { LogPolicy } from './policy.ts';
import type { LogEvents } from './space-manager.ts';
import type { RecoveryReport } from './recovery.ts';
import { restoreArchive, type ExtentReader } from './restore.ts';
import { freeContainerCount } from './space.ts';

export type { LogInformation, LogIoStatistics } from './log-information.ts';

/**
 * A CLFS log opened for reading and writing, or for reading only.
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
  /** The log's directory, as given to create() or open(). */
  readonly path: string;
  /** What recovery found when the log was opened. */
  readonly recoveryReport: RecoveryReport;
  /** @internal The parts the log is made of (lib/log/core.ts). */
  readonly core: LogCore;
  readonly #areas = new Set<MarshallingArea>();
  #closing: Promise<void> | undefined;

  private constructor(core: LogCore) {
    this.path = core.path;
    this.recoveryReport = core.recoveryReport;
    this.core = core;
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
      (storage) => initializeStorage(storage, o.containerSize, o.containers, o.policy, o.archive),
    );
    const { durability, allowBuffered, engine, idlePublishMs } = o;
    return Log.open(path, { durability, allowBuffered, engine, idlePublishMs });
  }

  /** @internal Writes the first metadata of a new log onto `storage` (see open.ts). */
  static initializeStorage(
    storage: LogStorage,
    containerSize: number,
    containers: number,
    policy: LogPolicy | number,
    archive = false,
  ): Promise<void> {
    return initializeStorage(storage, containerSize, containers, policy, archive);
  }

  /**
   * Opens the log at `path` and recovers it: finds the end of the log, cuts a
   * torn tail, and reports damage in acknowledged data as ERR_CLFS_CORRUPT
   * (or skips it with `recovery: 'salvage'`). ERR_CLFS_LOCKED if it is open
   * elsewhere; ERR_CLFS_NOT_FOUND if there is no log.
   *
   * With `readOnly: true`, it takes no lock and writes nothing: recovery
   * runs in memory, the log may be open for writing elsewhere (or in this
   * process), and {@link Log.refresh} (or `records(..., { follow: true })`)
   * sees what the writer adds.
   *
   * @example
   * ```ts
   * // Beside a running writer: every record known durable, none torn.
   * const reader = await Log.open('/var/lib/app/wal', { readOnly: true });
   * const area = await reader.createMarshallingArea({ bufferSize: 64 * 1024 });
   * for await (const record of area.records()) console.log(record.lsn);
   * ```
   */
  static async open(path: string, options?: OpenLogOptions): Promise<Log> {
    checkPath('path', path);
    const o = resolveOpenOptions(options);
    const storage = await NativeStorage.open(path, {
      durability: o.durability,
      allowBuffered: o.allowBuffered,
      engine: o.engine,
      readOnly: o.readOnly,
    });
    try {
      return await Log.openStorage(path, storage, o.recovery, o);
    } catch (error) {
      await storage.close();
      throw error;
    }
  }

  /** @internal Opens a log over any LogStorage (the crash tests use an in-memory one). */
  static async openStorage(
    path: string,
    storage: LogStorage,
    recovery: 'strict' | 'salvage',
    options: { readOnly?: boolean; idlePublishMs?: number } = {},
  ): Promise<Log> {
    return new Log(
      await (options.readOnly === true
        ? Follower.open(path, storage, recovery)
        : openCore(path, storage, recovery, options.idlePublishMs)),
    );
  }

  /** Whether the log was opened with `readOnly: true`. */
  get readOnly(): boolean {
    return this.core.readOnly;
  }

  /**
   * A read-only log: reads the writer's metadata again and finds the
   * records made durable since (the base, restart area, containers and
   * truncations it recorded included); resolves with whether anything
   * changed. A record is seen once known durable: the writer's metadata
   * names it, or a later block the writer wrote vouches for it, so the
   * records of a writer's last flush are seen at its next write or
   * metadata update (restart area, base move, close). On a log open for
   * writing it does nothing (its readers see every record appended).
   */
  async refresh(): Promise<boolean> {
    this.core.checkOpen();
    return this.core.follower === undefined ? false : this.core.track(this.core.follower.refresh());
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

  /**
   * Makes a log at `path` (which must not exist: ERR_CLFS_EXISTS) from
   * archive snapshots of another (`log.prepareArchive()`), oldest first:
   * their extents, whose copied bytes `read` gives, are written in order
   * into the new log's containers, and the last snapshot's metadata copy
   * into its base file. `Log.open(path)` then finds every record that was
   * durable when that snapshot was taken (from its base on), nothing torn.
   *
   * One snapshot is enough when its `fromLsn` is at or below its `baseLsn`
   * (the archive tail lagged the base); otherwise give the earlier ones back
   * to one that starts at or below it, each starting at or before the end
   * of the one before it (ERR_INVALID_ARG_VALUE if they do not; a snapshot
   * whose metadata copy is damaged is ERR_CLFS_CORRUPT). The restored log
   * is built beside `path` and renamed into place: a crash leaves no log or
   * the whole one.
   *
   * @example
   * ```ts
   * // Backup: copy the extents with plain reads while the log runs.
   * using snapshot = await log.prepareArchive();
   * const copies = await Promise.all(snapshot.extents.map((e) => readRange(e.path, e.fileOffset, e.length)));
   * await log.setArchiveTail(snapshot.lastLsn);
   * // Restore.
   * await Log.restoreArchive('/restore/wal', snapshot, (extent) => copies[snapshot.extents.indexOf(extent)]!);
   * ```
   */
  static async restoreArchive(
    path: string,
    images: ArchiveImage | readonly ArchiveImage[],
    read: ExtentReader,
    options?: OpenLogOptions,
  ): Promise<void> {
    checkPath('path', path);
    const o = resolveOpenOptions(options);
    if (o.readOnly) throw invalidArgValue('options.readOnly', true, 'does not apply: restoring writes a log');
    const list: readonly ArchiveImage[] = Array.isArray(images) ? images : [images as ArchiveImage];
    if (typeof read !== 'function') throw invalidArgType('read', 'of type function', read);
    await restoreArchive(path, list, read, {
      durability: o.durability,
      allowBuffered: o.allowBuffered,
      engine: o.engine,
    });
  }

  /**
   * Moves the archive tail to `lsn` (CLFS's SetLogArchiveTail: on the log,
   * as CLFS's takes the log handle): the records below it are archived, and
   * a container is reused only once both the base and the archive tail have
   * passed it. `lsn` must name a record in [archive tail, last durable
   * record]: it never moves back (ERR_CLFS_TAIL_INVALID otherwise).
   * ERR_CLFS_EPHEMERAL on a log created without `archive: true`. Durable
   * when it resolves; a crash during it leaves the old tail or the new one.
   * Unlike CLFS, which defers the move while an archive snapshot is
   * outstanding, the tail moves at once; the containers the snapshot names
   * stay until it is released.
   */
  async setArchiveTail(lsn: Lsn): Promise<void> {
    this.core.checkOpen(true);
    checkLsn('lsn', lsn);
    await this.core.track(setArchiveTail(this.core, lsn));
  }

  /**
   * Takes an archive snapshot (CLFS's PrepareLogArchive, with every
   * GetNextLogArchiveExtent and ReadLogArchiveMetadata answered at once):
   * the extents of container files that hold the log from the archive
   * tail's block to the end of the last durable block, in LSN order, and a
   * metadata copy describing the log as of then. Copy the extents (plain
   * file reads do; the writer may go on meanwhile: nothing it writes lands
   * in them), then move the archive tail to `snapshot.lastLsn` and
   * `release()` the snapshot (CLFS's TerminateLogArchive): until then the
   * containers it names are not reused, and a truncation that would drop
   * records it covers is refused (ERR_CLFS_ARCHIVE_IN_PROGRESS). The next
   * snapshot starts at the archive tail's block again. See
   * {@link Log.restoreArchive}. ERR_CLFS_EPHEMERAL on a log created without
   * `archive: true`.
   */
  async prepareArchive(): Promise<ArchiveSnapshot> {
    this.core.checkOpen(true);
    return this.core.track(prepareArchive(this.core));
  }

  /**
   * Adds `count` containers of the log's container size (CLFS's
   * AddLogContainer), preallocated and written.
   */
  async addContainers(count: number): Promise<void> {
    this.core.checkOpen(true);
    checkInteger('count', count, 1, MAX_CONTAINERS);
    await this.core.track(this.core.bases.addContainers(count));
  }

  /**
   * Removes `count` free containers, their files included (CLFS's
   * RemoveLogContainer). Containers go from the end of the log's table, and
   * only free ones: ERR_CLFS_CONTAINER_ACTIVE if one of them holds records
   * at or above the base (move the base first), or the writer or reserved
   * space needs its room; ERR_CLFS_POLICY_CONFLICT below the policy's
   * minContainers. Durable when it resolves; a crash during it leaves the
   * containers or not, with every record kept.
   */
  async removeContainers(count: number): Promise<void> {
    this.core.checkOpen(true);
    checkInteger('count', count, 1, MAX_CONTAINERS);
    await this.core.track(this.core.spaceManager.removeContainers(count));
  }

  /** The log's space policy (CLFS's QueryLogPolicy): a copy. */
  policy(): LogPolicy {
    this.core.checkOpen();
    return this.core.spaceManager.policy;
  }

  /**
   * Changes the log's space policy (CLFS's InstallLogPolicy): the fields
   * given replace the current ones. Checked as a whole (ERR_OUT_OF_RANGE,
   * ERR_CLFS_POLICY_INVALID for minContainers above maxContainers); the
   * log's container count must lie in the new [minContainers,
   * maxContainers] (ERR_CLFS_POLICY_CONFLICT: add or remove containers
   * first). Persisted, unlike CLFS's: durable when it resolves, and a crash
   * during it leaves the old policy or the new one.
   *
   * @example
   * ```ts
   * await log.setPolicy({ autoGrow: true, maxContainers: 64, growthRate: 4, logTail: 35 });
   * ```
   */
  async setPolicy(policy: Partial<LogPolicy>): Promise<void> {
    this.core.checkOpen(true);
    await this.core.track(this.core.spaceManager.setPolicy(policy));
  }

  /**
   * Listens for `'advance-tail'` (CLFS's AdvanceTail callback): the log asks
   * its clients to move the base to at least `event.targetLsn` (checkpoint,
   * then advanceLogBase or writeRestartArea with newBaseLsn). Emitted when
   * free space falls below the policy's logTail percent, or an append waits
   * for room; once, and again only after the base moved, containers were
   * added or removed, or the policy changed. Listeners run in a microtask,
   * never inside an append.
   *
   * @example
   * ```ts
   * log.on('advance-tail', ({ targetLsn }) => void checkpoint(targetLsn));
   * ```
   */
  on<E extends keyof LogEvents>(event: E, listener: LogEvents[E]): this {
    this.core.checkOpen(true);
    checkEvent(event, listener);
    this.core.spaceManager.on(listener);
    return this;
  }

  /** Stops calling `listener` for `event`. */
  off<E extends keyof LogEvents>(event: E, listener: LogEvents[E]): this {
    checkEvent(event, listener);
    this.core.spaceManager.off(listener);
    return this;
  }

  /** Creates a marshalling area on this log (CLFS's CreateLogMarshallingArea). */
  async createMarshallingArea(options: MarshallingAreaOptions): Promise<MarshallingArea> {
    this.core.checkOpen();
    const area = MarshallingArea.create(this.core, options, () => this.#areas.delete(area));
    this.#areas.add(area);
    return area;
  }

  /** A snapshot of the log's state (CLFS's GetLogFileInformation). */
  information(): LogInformation {
    const { table, writer, bases, space, storage } = this.core;
    this.core.checkOpen();
    return jsonFriendly({
      totalAvailable: table.count * table.containerSize,
      currentAvailable: space.currentAvailable(),
      totalReservation: space.totalReservation(),
      baseFileSize: 2 * SLOT_SIZE,
      containerSize: table.containerSize,
      totalContainers: table.count,
      freeContainers: freeContainerCount(table.logicalIds, writer.position.logicalId, bases.reclaimLsn(true)),
      sectorSize: this.core.unit,
      baseLsn: bases.baseLsn,
      lastFlushedLsn: writer.durableLsn,
      lastLsn: writer.lastLsn,
      restartLsn: bases.restartLsn,
      identity: this.core.metadata.current.identity,
      archive: bases.archive,
      archiveTailLsn: bases.archiveTailLsn,
      direct: storage.geometry.direct,
      durability: storage.geometry.durability,
    });
  }

  /** I/O counters (CLFS's GetLogIoStatistics). */
  ioStatistics(): LogIoStatistics {
    this.core.checkOpen();
    return {
      ...this.core.storage.stats,
      recordsAppended: this.core.writer.recordsAppended,
      blocksWritten: this.core.writer.blocksSealed,
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
    if (this.core.closed) return Promise.resolve();
    if (this.#closing === undefined) {
      this.core.beginClose();
      this.#closing = this.#close();
    }
    return this.#closing;
  }

  async #close(): Promise<void> {
    const { writer, bases } = this.core;
    let failure: unknown;
    try {
      // Calls made before close() run to their end (new ones are refused).
      await this.core.settled();
      for (const area of [...this.#areas]) {
        await area.close().catch((error: unknown) => (failure ??= error));
      }
      await writer.exclusive(() => undefined).catch(() => undefined);
      await writer.drain().catch((error: unknown) => (failure ??= error));
      if (writer.failure === undefined && failure === undefined && !this.core.readOnly) {
        await bases.serializeMetadata(() => bases.persistMetadata({ clean: true }));
      }
    } finally {
      this.core.endClose();
      await this.core.storage.close();
    }
    // The log is closed and unlocked either way; but if anything appended did
    // not reach stable storage (the log fail-stopped), close says so.
    const lost = writer.failure;
    if (lost !== undefined) throw lost;
    if (failure !== undefined) throw failure;
  }
}

function checkEvent(event: unknown, listener: unknown): void {
  checkOneOf('event', event, ['advance-tail'] as const);
  if (typeof listener !== 'function') throw invalidArgType('listener', 'of type function', listener);
}
