/**
 * The base manager: the log's base and restart LSNs, the metadata that
 * records them, and the containers the log writes into (CLFS's
 * AdvanceLogBase, WriteLogRestartArea's base move, AddLogContainer, and
 * container recycling).
 *
 * Every change here is one metadata write, made one at a time
 * (`serializeMetadata`): the base only moves forward, the newest restart
 * area stays the newest, and a container is recycled (given the next
 * logical id) only once the table that says so is durable.
 * @module
 */
import { ClfsError, invariant } from '../errors.ts';
import { MAX_CONTAINERS, MAX_CUTS, type Metadata } from '../format/metadata.ts';
import { Lsn, blockLsnOf, sequenceOf } from '../lsn.ts';
import type { LogStorage } from '../storage/storage.ts';
import type { ContainerTable } from './containers.ts';
import type { MetadataStore } from './metadata-store.ts';
import type { BlockSource } from './read/block-source.ts';
import type { LogWriter } from './write/writer.ts';

export class BaseManager {
  readonly #storage: LogStorage;
  readonly #table: ContainerTable;
  readonly #metadata: MetadataStore;
  readonly #writer: LogWriter;
  readonly #blocks: BlockSource;
  #baseLsn: Lsn;
  #restartLsn: Lsn;
  /** The newest restart record appended (durable or not): the next one's previous LSN. */
  #restartAppended: Lsn;
  /** Serialises base moves and container changes with their metadata writes. */
  #metadataLock: Promise<unknown> = Promise.resolve();
  /** Truncation cuts (format/metadata.ts): block LSN -> the records it still holds. */
  #cuts = new Map<Lsn, number>();
  /** The new last record of each truncation made since the log was opened, in order. */
  readonly #truncations: Lsn[] = [];

  constructor(
    storage: LogStorage,
    table: ContainerTable,
    metadata: MetadataStore,
    writer: LogWriter,
    blocks: BlockSource,
  ) {
    this.#storage = storage;
    this.#table = table;
    this.#metadata = metadata;
    this.#writer = writer;
    this.#blocks = blocks;
    this.#baseLsn = metadata.current.baseLsn;
    this.#restartLsn = metadata.current.restartLsn;
    this.#restartAppended = this.#restartLsn;
    for (const cut of metadata.current.cuts) this.#cuts.set(blockLsnOf(cut), sequenceOf(cut) + 1);
  }

  /** How many records of the block at `blockLsn` exist (a truncation cut it), or undefined: all it holds. */
  cutCount(blockLsn: Lsn): number | undefined {
    return this.#cuts.size === 0 ? undefined : this.#cuts.get(blockLsn);
  }

  /** The new last record of each truncation since the log was opened, in order. */
  get truncations(): readonly Lsn[] {
    return this.#truncations;
  }

  /** The cuts as the metadata records them: ascending, none wholly below the base. */
  #cutList(): Lsn[] {
    const cuts: Lsn[] = [];
    for (const [block, count] of this.#cuts)
      if (block + BigInt(count - 1) >= this.#baseLsn) cuts.push(block + BigInt(count - 1));
    return cuts.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  /**
   * Records a truncation to `lsn` (in the caller's metadata turn, after the
   * writer restarted past it): cuts in dropped blocks go, and `lsn`'s block
   * is cut at it when `cut` (checkCutRoom() said there is room).
   */
  noteTruncation(lsn: Lsn, cut: boolean): void {
    const block = blockLsnOf(lsn);
    for (const key of [...this.#cuts.keys()]) if (key >= block) this.#cuts.delete(key);
    if (cut) this.#cuts.set(block, sequenceOf(lsn) + 1);
    this.#truncations.push(lsn);
  }

  /** ERR_CLFS_LOG_FULL when the metadata holds MAX_CUTS cuts above the base: no truncation may add one. */
  checkCutRoom(): void {
    if (this.#cutList().length >= MAX_CUTS) {
      throw new ClfsError(
        'ERR_CLFS_LOG_FULL',
        `the log holds ${MAX_CUTS} truncations inside blocks above the base: advance the base before truncating again`,
      );
    }
  }

  /** The base: every record below it may be gone. */
  get baseLsn(): Lsn {
    return this.#baseLsn;
  }

  /** The newest durable restart record, or INVALID. */
  get restartLsn(): Lsn {
    return this.#restartLsn;
  }

  /** The newest restart record appended (durable or not), or INVALID. */
  get restartAppended(): Lsn {
    return this.#restartAppended;
  }

  /** Runs `fn` after earlier metadata changes, one at a time. */
  serializeMetadata<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.#metadataLock.then(fn);
    this.#metadataLock = result.catch(() => undefined);
    return result;
  }

  /** Writes metadata with the current base, restart, table and durable tail. */
  async persistMetadata(update: Partial<Metadata> = {}): Promise<void> {
    // A fail-stopped log records nothing more (invariant 4): a base move or
    // restart area pending when it failed is not acknowledged.
    this.#writer.checkHealthy();
    try {
      await this.#metadata.write({
        baseLsn: this.#baseLsn,
        restartLsn: this.#restartLsn,
        containers: [...this.#table.logicalIds],
        cuts: this.#cutList(),
        ...this.#writer.durableTail(),
        ...update,
      });
    } catch (error) {
      this.#writer.fail(error, 'writing the log metadata');
      throw this.#writer.failure;
    }
    // Failed while the write was in flight: what it recorded stands or not,
    // as after a crash, but it is not acknowledged.
    this.#writer.checkHealthy();
  }

  /** Makes logical container `logicalId` exist: recycle a free one, or grow. */
  async provideContainer(logicalId: number): Promise<number> {
    return this.serializeMetadata(async () => {
      const existing = this.#table.physicalOf(logicalId);
      if (existing !== -1) return existing;
      let physical = this.#table.recycle(this.#metadata.current.baseLsn);
      if (physical === -1 && this.#table.count < this.#metadata.current.maxContainers) {
        await this.#grow(1);
        physical = this.#table.recycle(this.#metadata.current.baseLsn);
      }
      if (physical === -1) {
        throw new ClfsError(
          'ERR_CLFS_LOG_FULL',
          `the log is full: all ${this.#table.count} containers hold records at or above the base LSN ${Lsn.format(
            this.#baseLsn,
          )}. Advance the base (advanceLogBase or writeRestartArea), add containers, or enable autoGrow`,
        );
      }
      invariant(
        this.#table.logicalIds[physical] === logicalId,
        () => `container ${logicalId} recycled as ${this.#table.logicalIds[physical]}`,
      );
      await this.persistMetadata();
      return physical;
    });
  }

  async #grow(count: number): Promise<void> {
    for (let i = 0; i < count; i++) {
      const index = this.#table.count;
      await this.#storage.addContainer(index, this.#table.containerSize);
      this.#table.logicalIds.push(0);
    }
    await this.persistMetadata({ containers: [...this.#table.logicalIds] });
  }

  /** Adds `count` containers (CLFS's AddLogContainer; `count` already checked as an integer >= 1). */
  addContainers(count: number): Promise<void> {
    if (this.#table.count + count > MAX_CONTAINERS) {
      throw new ClfsError('ERR_OUT_OF_RANGE', `a log has at most ${MAX_CONTAINERS} containers`);
    }
    return this.serializeMetadata(() => this.#grow(count));
  }

  /**
   * Appends a restart record in the caller's turn among appends (inside
   * `writer.exclusive`): checks the new base against the records appended
   * before it, and hands `append` the previous restart record's LSN.
   */
  async appendRestart(newBase: Lsn | undefined, append: (previousLsn: Lsn) => Promise<Lsn>): Promise<Lsn> {
    if (newBase !== undefined) await this.checkNewBase(newBase);
    const lsn = await append(this.#restartAppended);
    this.#restartAppended = lsn;
    return lsn;
  }

  /**
   * Moves the base (already checked and flushed) and the restart LSN if
   * given, and persists them. With `checkedAt` (the count of truncations
   * when the base was checked), a truncation since that dropped the new
   * base makes it ERR_CLFS_TRUNCATED.
   */
  async setBase(lsn: Lsn, restart?: Lsn, checkedAt?: number): Promise<void> {
    await this.serializeMetadata(async () => {
      this.#writer.checkHealthy();
      if (checkedAt !== undefined && this.#truncations.slice(checkedAt).some((end) => end < lsn)) {
        throw truncated(lsn, 'the new base');
      }
      if (lsn > this.#baseLsn) this.#baseLsn = lsn;
      // Restart areas settle in LSN order; the newest stays the newest.
      if (restart !== undefined && (this.#restartLsn === Lsn.INVALID || restart > this.#restartLsn)) {
        this.#restartLsn = restart;
      }
      await this.persistMetadata();
    });
  }

  /**
   * A new base must be a record in [base, last]. Its block is looked at
   * through a buffer of its own, not one of an area's read buffers: CLFS's
   * AdvanceLogBase cannot fail for want of them (a checkpoint during a
   * recovery scan that holds them all).
   */
  async checkNewBase(lsn: Lsn, role = 'the base'): Promise<void> {
    if (lsn < this.#baseLsn) throw tailInvalid(lsn, `is below the base LSN ${Lsn.format(this.#baseLsn)}`, role);
    const last = this.#writer.lastLsn;
    if (last === Lsn.INVALID || lsn > last) {
      throw tailInvalid(lsn, `is beyond the last record ${Lsn.format(last)}`, role);
    }
    const queued = this.#writer.queuedRecordCount(blockLsnOf(lsn));
    const block = queued === undefined ? await this.#blocks.probeBlock(blockLsnOf(lsn), true) : undefined;
    const onDisk = queued ?? (block === undefined || typeof block === 'string' || !block.whole ? 0 : block.recordCount);
    const records = Math.min(onDisk, this.cutCount(blockLsnOf(lsn)) ?? onDisk);
    if (sequenceOf(lsn) >= records) throw tailInvalid(lsn, 'names no record', role);
  }
}

function tailInvalid(lsn: Lsn, why: string, role: string): ClfsError {
  return new ClfsError('ERR_CLFS_TAIL_INVALID', `LSN ${Lsn.format(lsn)} cannot be ${role}: it ${why}`, { lsn });
}

/** ERR_CLFS_TRUNCATED: `what` (an LSN) names a record a truncation dropped. */
export function truncated(lsn: Lsn, what: string): ClfsError {
  return new ClfsError(
    'ERR_CLFS_TRUNCATED',
    `${what} ${Lsn.format(lsn)} names a record dropped by a truncation of the log`,
    { lsn },
  );
}
