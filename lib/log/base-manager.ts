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
import { MAX_CONTAINERS, MAX_TRUNCATIONS, reclaimLsnOf, type Metadata, type Truncation } from '../format/metadata.ts';
import { Lsn, blockLsnOf, sequenceOf } from '../lsn.ts';
import type { LogStorage } from '../storage/storage.ts';
import type { ContainerTable } from './containers.ts';
import type { MetadataStore } from './metadata-store.ts';
import { checkCount, growthStep } from './policy.ts';
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
  /** Restart records appended and not yet the restart area, with the base each moves to (ascending LSN). */
  #unsettled: { lsn: Lsn; newBase: Lsn }[] = [];
  /** Serialises base moves and container changes with their metadata writes. */
  #metadataLock: Promise<unknown> = Promise.resolve();
  /** Called after a base move or containers added, once durable (the space manager listens). */
  onSpaceChanged: (reason: 'base' | 'containers') => void = () => undefined;
  /** Truncations the base has not passed (format/metadata.ts), by ascending LSN. */
  #rules: Truncation[];
  /** The new last record of each truncation made since the log was opened, in order. */
  readonly #truncations: Lsn[] = [];
  /** The archive tail (archive logs; INVALID otherwise), as set: the metadata records it once written. */
  #archiveTail: Lsn;
  /** Outstanding archive snapshots: each keeps the containers from its first LSN on (archive.ts). */
  readonly #pins = new Set<{ lsn: Lsn; last: Lsn }>();
  /** The new last record of a truncation under way (beginTruncation), if any. */
  #truncating: Lsn | undefined;

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
    this.#rules = [...metadata.current.truncations];
    this.#archiveTail = metadata.current.archiveTailLsn;
  }

  /**
   * A read-only log's refresh (follower.ts): the base and restart area the
   * served records roll forward to, and the archive tail and truncations
   * the writer's metadata records (a new one is noted as a truncation, so
   * readers past it see the end of the log).
   */
  follow(metadata: Metadata, baseLsn: Lsn, restartLsn: Lsn): void {
    const known = new Set(this.#rules.map((rule) => rule.epoch));
    for (const rule of metadata.truncations) if (!known.has(rule.epoch)) this.#truncations.push(rule.lsn);
    // The metadata drops a truncation's rule once its base has passed it: the base comes with it.
    this.#rules = [...metadata.truncations];
    for (const base of [metadata.baseLsn, baseLsn]) if (base > this.#baseLsn) this.#baseLsn = base;
    for (const restart of [metadata.restartLsn, restartLsn]) {
      if (restart !== Lsn.INVALID && (this.#restartLsn === Lsn.INVALID || restart > this.#restartLsn)) {
        this.#restartLsn = this.#restartAppended = restart;
      }
    }
    if (metadata.archiveTailLsn !== Lsn.INVALID && metadata.archiveTailLsn > this.#archiveTail) {
      this.#archiveTail = metadata.archiveTailLsn;
    }
  }

  /** Whether the log is an archive (non-ephemeral) log. */
  get archive(): boolean {
    return this.#metadata.current.archive;
  }

  /** The archive tail as last set (INVALID for an ephemeral log). */
  get archiveTailLsn(): Lsn {
    return this.#archiveTail;
  }

  /**
   * The LSN container recycling goes by: the lowest of the base and the
   * archive tail as persisted and the first LSN of every outstanding
   * archive snapshot. Only containers wholly below it are free. With
   * `live`, the base and archive tail as set (information()).
   */
  reclaimLsn(live = false): Lsn {
    const m = this.#metadata.current;
    let lsn = live
      ? reclaimLsnOf(this.#baseLsn, this.#archiveTail, m.archive)
      : reclaimLsnOf(m.baseLsn, m.archiveTailLsn, m.archive);
    for (const pin of this.#pins) if (pin.lsn < lsn) lsn = pin.lsn;
    return lsn;
  }

  /** Which of the base and the archive tail holds the oldest container (for 'advance-tail'). */
  heldBy(): 'base' | 'archive-tail' {
    // As set, as the tail-advance target is counted (the persisted ones may lag).
    return this.reclaimLsn(true) < this.#baseLsn ? 'archive-tail' : 'base';
  }

  /**
   * Keeps every container from `lsn` on until the returned function is
   * called (an archive snapshot whose last record is `last`).
   */
  pin(lsn: Lsn, last: Lsn): () => void {
    const pin = { lsn, last };
    this.#pins.add(pin);
    return () => {
      if (this.#pins.delete(pin)) this.onSpaceChanged('base');
    };
  }

  /** The highest last record of the outstanding archive snapshots (INVALID: none, or none holds a record). */
  snapshotEnd(): Lsn {
    let end = Lsn.INVALID;
    for (const pin of this.#pins) {
      if (pin.last !== Lsn.INVALID && (end === Lsn.INVALID || pin.last > end)) end = pin.last;
    }
    return end;
  }

  /** Moves the archive tail to `lsn` (checked by the caller) and persists it, in the metadata's turn. */
  setArchiveTail(lsn: Lsn): Promise<void> {
    if (lsn > this.#archiveTail) this.#archiveTail = lsn;
    return this.serializeMetadata(async () => {
      await this.persistMetadata();
      this.onSpaceChanged('base');
    });
  }

  /**
   * How many records of the block at `blockLsn`, written in generation
   * `epoch`, exist: those up to the first truncation after which a record
   * needs a later generation (format/metadata.ts). Undefined: all it holds.
   */
  recordLimit(blockLsn: Lsn, epoch: bigint): number | undefined {
    // The first rule the block's generation does not meet decides (later ones have later LSNs).
    const rule = this.#rules.find((r) => r.epoch > epoch);
    if (rule === undefined || blockLsnOf(rule.lsn) > blockLsn) return undefined;
    return rule.lsn < blockLsn ? 0 : sequenceOf(rule.lsn) + 1;
  }

  /** The new last record of each truncation since the log was opened, in order. */
  get truncations(): readonly Lsn[] {
    return this.#truncations;
  }

  /** The truncations as the metadata records them: those whose dropped records the base has not passed. */
  #ruleList(): Truncation[] {
    // Kept while the archive tail has not passed it either: the records
    // between it and the base are still on disk (and archived from there).
    const oldest = reclaimLsnOf(this.#baseLsn, this.#archiveTail, this.archive);
    return this.#rules.filter((rule) => rule.end >= oldest);
  }

  /**
   * Records a truncation to `lsn` starting generation `epoch` (in the
   * caller's metadata turn, after the writer restarted past it; `end`: the
   * last record before it). Truncations at or after `lsn` are replaced.
   */
  noteTruncation(lsn: Lsn, epoch: bigint, end: Lsn): void {
    this.#rules = [...this.#ruleList().filter((rule) => rule.lsn < lsn), { lsn, epoch, end }];
    this.#truncations.push(lsn);
    this.#truncating = undefined;
  }

  /**
   * A truncation to `lsn` starts dropping records (in the metadata's turn):
   * the base must not be past `lsn` (ERR_CLFS_TAIL_INVALID: a base move
   * settled first), and until it is noted or ends (`undefined`) a base move
   * past `lsn` is refused (ERR_CLFS_TRUNCATED: it drops the new base).
   */
  beginTruncation(lsn: Lsn | undefined): void {
    if (lsn !== undefined && lsn < this.#baseLsn) {
      throw tailInvalid(lsn, `is below the base LSN ${Lsn.format(this.#baseLsn)}`, 'the end of the log');
    }
    this.#truncating = lsn;
  }

  /** ERR_CLFS_LOG_FULL when the metadata holds MAX_TRUNCATIONS the base has not passed. */
  checkTruncationRoom(): void {
    if (this.#ruleList().length >= MAX_TRUNCATIONS) {
      throw new ClfsError(
        'ERR_CLFS_LOG_FULL',
        `the log holds ${MAX_TRUNCATIONS} truncations the base has not passed: advance the base before truncating again`,
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

  /**
   * The metadata as the next write would record it now: the current base,
   * restart, archive tail, table and durable tail (restart records durable
   * by now settled first).
   */
  metadataNow(): Omit<
    Metadata,
    'dumpCount' | 'identity' | 'sectorUnit' | 'containerSize' | 'epoch' | 'policy' | 'clean' | 'archive'
  > {
    const tail = this.#writer.durableTail();
    this.#settleDurable(tail.lastLsn);
    return {
      baseLsn: this.#baseLsn,
      restartLsn: this.#restartLsn,
      containers: [...this.#table.logicalIds],
      truncations: this.#ruleList(),
      archiveTailLsn: this.#archiveTail,
      ...tail,
    };
  }

  /** Writes metadata with the current base, restart, archive tail, table and durable tail. */
  async persistMetadata(update: Partial<Metadata> = {}): Promise<void> {
    // A fail-stopped log records nothing more (invariant 4): a base move or
    // restart area pending when it failed is not acknowledged.
    this.#writer.checkHealthy();
    const now = this.metadataNow();
    try {
      await this.#metadata.write(
        { ...now, ...update },
        // The log may fail-stop while this write waits for the one before it.
        () => this.#writer.checkHealthy(),
      );
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
      let physical = this.#table.recycle(this.reclaimLsn());
      const step = growthStep(this.#metadata.current.policy, this.#table.count);
      if (physical === -1 && step > 0) {
        await this.#grow(step);
        physical = this.#table.recycle(this.reclaimLsn());
      }
      if (physical === -1) throw this.#full();
      invariant(
        this.#table.logicalIds[physical] === logicalId,
        () => `container ${logicalId} recycled as ${this.#table.logicalIds[physical]}`,
      );
      await this.persistMetadata();
      return physical;
    });
  }

  #full(): ClfsError {
    const reclaim = this.reclaimLsn();
    const held =
      this.heldBy() === 'base'
        ? `the base LSN ${Lsn.format(this.#baseLsn)}. Advance the base (advanceLogBase or writeRestartArea)`
        : `the archive tail ${Lsn.format(reclaim)} (or an archive snapshot not yet released). Archive and move the archive tail (setArchiveTail)`;
    return new ClfsError(
      'ERR_CLFS_LOG_FULL',
      `the log is full: all ${this.#table.count} containers hold records at or above ${held}, add containers, or enable autoGrow`,
    );
  }

  async #grow(count: number): Promise<void> {
    for (let i = 0; i < count; i++) {
      // A fail-stopped log records nothing more (invariant 4), a new container file included.
      this.#writer.checkHealthy();
      const index = this.#table.count;
      await this.#storage.addContainer(index, this.#table.containerSize);
      this.#table.logicalIds.push(0);
    }
    await this.persistMetadata({ containers: [...this.#table.logicalIds] });
    this.onSpaceChanged('containers');
  }

  /**
   * Adds `count` containers (CLFS's AddLogContainer; `count` already checked
   * as an integer >= 1), up to the policy's maxContainers
   * (ERR_CLFS_POLICY_CONFLICT past it).
   */
  addContainers(count: number): Promise<void> {
    if (this.#table.count + count > MAX_CONTAINERS) {
      throw new ClfsError('ERR_OUT_OF_RANGE', `a log has at most ${MAX_CONTAINERS} containers`);
    }
    return this.serializeMetadata(async () => {
      checkCount(this.#metadata.current.policy, this.#table.count + count, 'addContainers');
      await this.#grow(count);
    });
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
    this.#unsettled.push({ lsn, newBase: newBase ?? Lsn.INVALID });
    return lsn;
  }

  /**
   * A restart area is committed once its block is durable: recovery rolls
   * the restart LSN and the base forward to each restart record it scans
   * past the metadata's tail (recovery/scanner.ts). A metadata write whose
   * tail passes a restart record still waiting for its own write (a
   * concurrent restart area's, a container's) records it, or recovery,
   * scanning only past that tail, would keep the older restart area (and
   * base) while the log holds the newer record.
   */
  #settleDurable(lastDurable: Lsn): void {
    while (this.#unsettled.length > 0 && lastDurable !== Lsn.INVALID && this.#unsettled[0]!.lsn <= lastDurable) {
      const { lsn, newBase } = this.#unsettled.shift()!;
      if (this.#restartLsn === Lsn.INVALID || lsn > this.#restartLsn) this.#restartLsn = lsn;
      if (newBase !== Lsn.INVALID && newBase > this.#baseLsn) this.#baseLsn = newBase;
    }
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
      const truncating = this.#truncating !== undefined && this.#truncating < lsn;
      if (truncating || (checkedAt !== undefined && this.#truncations.slice(checkedAt).some((end) => end < lsn))) {
        throw truncated(lsn, 'the new base');
      }
      if (lsn > this.#baseLsn) this.#baseLsn = lsn;
      // Restart areas settle in LSN order; the newest stays the newest.
      if (restart !== undefined && (this.#restartLsn === Lsn.INVALID || restart > this.#restartLsn)) {
        this.#restartLsn = restart;
      }
      await this.persistMetadata();
    });
    this.onSpaceChanged('base');
  }

  /**
   * A new base must be a record in [base, last]. Its block is looked at
   * through a buffer of its own, not one of an area's read buffers: CLFS's
   * AdvanceLogBase cannot fail for want of them (a checkpoint during a
   * recovery scan that holds them all).
   */
  async checkNewBase(
    lsn: Lsn,
    role = 'the base',
    low = { lsn: this.#baseLsn, name: 'the base LSN' },
    high = { lsn: this.#writer.lastLsn, name: 'the last record' },
  ): Promise<void> {
    if (lsn < low.lsn) throw tailInvalid(lsn, `is below ${low.name} ${Lsn.format(low.lsn)}`, role);
    if (high.lsn === Lsn.INVALID || lsn > high.lsn) {
      throw tailInvalid(lsn, `is beyond ${high.name} ${Lsn.format(high.lsn)}`, role);
    }
    const queued = this.#writer.queuedRecordCount(blockLsnOf(lsn));
    const block = queued === undefined ? await this.#blocks.probeBlock(blockLsnOf(lsn), true) : undefined;
    const onDisk = queued ?? (block === undefined || typeof block === 'string' || !block.whole ? 0 : block.recordCount);
    const epoch = queued !== undefined || block === undefined || typeof block === 'string' ? undefined : block.epoch;
    const records = epoch === undefined ? onDisk : Math.min(onDisk, this.recordLimit(blockLsnOf(lsn), epoch) ?? onDisk);
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
