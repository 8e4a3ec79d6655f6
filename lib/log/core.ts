/**
 * The core of an open log: the parts a `Log` builds once when it opens and
 * hands to each marshalling area. The log keeps its lifecycle's public face
 * (`close()`, `information()`); an area keeps the CLFS surface and its own
 * buffers; everything they share lives here, each part in its own file:
 *
 * - `storage`: the containers and the base file (lib/storage);
 * - `table`: which physical container holds which logical one;
 * - `writer`: appends, blocks and their way to stable storage (lib/log/write);
 * - `blocks`: the log's blocks as readers see them (lib/log/read);
 * - `bases`: base and restart LSNs, metadata, containers (base-manager.ts);
 * - `space`: room and reservations (space.ts);
 * - `spaceManager`: the policy, container removal, tail-advance requests
 *   and appends waiting for room (space-manager.ts).
 * @module
 */
import { ClfsError } from '../errors.ts';
import { jsonFriendly } from '../lsn.ts';
import { Tracker } from '../util/tracker.ts';
import type { LogStorage } from '../storage/storage.ts';
import { BaseManager } from './base-manager.ts';
import type { ContainerTable } from './containers.ts';
import type { MetadataStore } from './metadata-store.ts';
import { BlockSource } from './read/block-source.ts';
import type { RecoveryReport } from './recovery.ts';
import { SpaceLedger } from './space.ts';
import { SpaceManager } from './space-manager.ts';
import { TailPublisher } from './tail-publisher.ts';
import type { LogWriter } from './write/writer.ts';

/** What opening a log produced, to build its core from. */
export interface OpenedParts {
  path: string;
  storage: LogStorage;
  metadata: MetadataStore;
  table: ContainerTable;
  writer: LogWriter;
  logId: bigint;
  report: RecoveryReport;
  /** A read-only log's (follower.ts): what brings its view up to date. */
  follower?: { refresh(): Promise<boolean> };
  /** A writer's: milliseconds idle before it records its durable tail for readers (tail-publisher.ts; 0: never). */
  idlePublishMs?: number;
}

export class LogCore {
  readonly path: string;
  readonly storage: LogStorage;
  readonly table: ContainerTable;
  readonly metadata: MetadataStore;
  readonly writer: LogWriter;
  readonly blocks: BlockSource;
  readonly bases: BaseManager;
  readonly space: SpaceLedger;
  /** The policy, container removal, tail-advance requests, appends waiting for room. */
  readonly spaceManager: SpaceManager;
  /** The log's id, carried by every block it writes. */
  readonly logId: bigint;
  /** The sector unit blocks are laid out in. */
  readonly unit: number;
  /** What recovery found when the log was opened. */
  readonly recoveryReport: RecoveryReport;
  /** A read-only log's follower (lib/log/follower.ts); undefined for a writer. */
  readonly follower: { refresh(): Promise<boolean> } | undefined;
  /** Records the durable tail once the writer is idle, for read-only readers. */
  readonly tailPublisher: TailPublisher;
  /** Calls still running that close() waits for (see track()). */
  readonly #operations = new Tracker();
  #closing = false;
  #closed = false;

  constructor(parts: OpenedParts) {
    this.path = parts.path;
    this.storage = parts.storage;
    this.table = parts.table;
    this.metadata = parts.metadata;
    this.writer = parts.writer;
    this.logId = parts.logId;
    this.recoveryReport = jsonFriendly(parts.report);
    this.follower = parts.follower;
    this.tailPublisher = new TailPublisher(parts.idlePublishMs ?? 0, () => this.#publishTail());
    this.unit = parts.metadata.current.sectorUnit;
    this.blocks = new BlockSource(parts.storage, parts.table, parts.writer, parts.logId, this.unit);
    this.bases = new BaseManager(parts.storage, parts.table, parts.metadata, parts.writer, this.blocks);
    this.space = new SpaceLedger(
      () => ({
        containerSize: this.table.containerSize,
        logicalIds: this.table.logicalIds,
        position: this.writer.sealedPosition(),
        persistedBase: this.bases.reclaimLsn(),
        maxContainers: this.metadata.current.policy.autoGrow ? this.metadata.current.policy.maxContainers : 0,
      }),
      () => {
        const { logicalId, offset } = this.writer.sealedPosition();
        return this.table.physicalOf(logicalId) === -1 ? 0 : Math.max(0, this.table.containerSize - offset);
      },
      this.unit,
    );
    this.spaceManager = new SpaceManager({
      storage: this.storage,
      table: this.table,
      metadata: this.metadata,
      writer: this.writer,
      bases: this.bases,
      space: this.space,
      track: (promise) => this.track(promise),
      open: () => !this.#closing && !this.#closed,
    });
  }

  /** The writer's durable tail, in the metadata if it is not there yet (TailPublisher). */
  #publishTail(): void {
    if (this.#closing || this.#closed || this.writer.failure !== undefined) return;
    if (this.writer.durableTail().tailLsn <= this.metadata.current.tailLsn) return;
    const bases = this.bases;
    // A failed write fail-stops the log, as any metadata write's: the next call reports it.
    void this.track(bases.serializeMetadata(() => bases.persistMetadata())).catch(() => undefined);
  }

  /** Whether the log was opened read-only. */
  get readOnly(): boolean {
    return this.follower !== undefined;
  }

  /** Throws ERR_CLFS_CLOSED once close() has begun; with `writing`, ERR_CLFS_READ_ONLY on a read-only log. */
  checkOpen(writing = false): void {
    if (this.#closed || this.#closing) throw this.#closedError();
    if (writing && this.follower !== undefined) {
      throw new ClfsError('ERR_CLFS_READ_ONLY', `the log '${this.path}' was opened read-only`);
    }
  }

  /** Throws ERR_CLFS_CLOSED once close() has finished (work queued before it still runs). */
  checkAlive(): void {
    if (this.#closed) throw this.#closedError();
  }

  #closedError(): ClfsError {
    return new ClfsError('ERR_CLFS_CLOSED', `the log '${this.path}' is closed`);
  }

  /** Whether close() has finished. */
  get closed(): boolean {
    return this.#closed;
  }

  /** close() has begun: new calls are refused. */
  beginClose(): void {
    this.#closing = true;
    // Appends waiting for room are refused now: close() does not wait for their timeout.
    this.spaceManager.waiters.reject(this.#closedError());
    // Readers following the log stop waiting for records; close records the tail itself.
    this.writer.stopWatchers(this.#closedError());
    this.tailPublisher.stop();
  }

  /** close() has finished: calls queued before it are refused too. */
  endClose(): void {
    this.#closed = true;
  }

  /**
   * Registers a call that goes on past its turn among appends (a restart
   * area's flush and base move, a container being added): close() waits
   * for it before it drains the writer and writes the last metadata.
   */
  track<T>(promise: Promise<T>): Promise<T> {
    return this.#operations.track(promise);
  }

  /** Settles once every tracked call running now has. */
  settled(): Promise<void> {
    return this.#operations.settled();
  }
}
