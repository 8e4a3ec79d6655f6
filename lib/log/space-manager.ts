/**
 * Space management (CLFS's management API over a log's policy): the policy
 * itself (InstallLogPolicy, persisted here, unlike CLFS), container removal
 * (RemoveLogContainer) and autoShrink, the tail-advance request (the
 * AdvanceTail callback, as the `'advance-tail'` event) and appends waiting
 * for room (HandleLogFull, space-waiters.ts).
 *
 * Containers are removed from the end of the physical table, and only free
 * ones: those holding nothing at or above the base as persisted. The
 * metadata without them is written first, then their files are removed: a
 * crash in between leaves files the log no longer lists (ignored, and
 * replaced by a later addContainer), never a log missing a container its
 * metadata lists.
 * @module
 */
import { ClfsError } from '../errors.ts';
import { Lsn, containerOf, makeLsn } from '../lsn.ts';
import type { LogStorage } from '../storage/storage.ts';
import type { BaseManager } from './base-manager.ts';
import type { ContainerTable } from './containers.ts';
import type { MetadataStore } from './metadata-store.ts';
import { checkCount, resolvePolicy, type LogPolicy } from './policy.ts';
import type { SpaceLedger } from './space.ts';
import { SpaceWaiters } from './space-waiters.ts';
import type { LogWriter } from './write/writer.ts';

/** What `'advance-tail'` listeners receive (CLFS's AdvanceTail callback's arguments, and why). */
export interface AdvanceTailEvent {
  /**
   * Move the base (advanceLogBase or a restart area's newBaseLsn) to a
   * record at or after this LSN: that frees the space asked for. It is a
   * position, not always a record's LSN (at most the last record's). With
   * `heldBy: 'archive-tail'` the archive tail must get there too (it may be
   * below the base then: the base is far enough already).
   */
  targetLsn: Lsn;
  /** The base when the request was made. */
  baseLsn: Lsn;
  /**
   * What holds the oldest container: `'base'`, or for an archive log
   * `'archive-tail'` when the archive tail (or an archive snapshot not yet
   * released) is below the base: then archive, and move the archive tail
   * (`log.setArchiveTail`) to at least `targetLsn` too.
   */
  heldBy: 'base' | 'archive-tail';
  /** The archive tail when the request was made (Lsn.INVALID for an ephemeral log). */
  archiveTailLsn: Lsn;
  /** Bytes free for new records when the request was made (`information().currentAvailable`). */
  currentAvailable: number;
  /** Bytes in all containers. */
  totalAvailable: number;
  /**
   * `'log-tail'`: free space fell below the policy's logTail percent;
   * `'log-full'`: an append waits for room (logFullTimeoutMs).
   */
  reason: 'log-tail' | 'log-full';
}

/** The events a {@link Log} emits, and their listeners. */
export interface LogEvents {
  /**
   * The log asks its clients to move their base to at least `targetLsn`
   * (CLFS's AdvanceTail). Emitted once; again only after the base moved,
   * containers were added or removed or the policy changed, if space is
   * still short then (not on every append).
   */
  'advance-tail': (event: AdvanceTailEvent) => void;
}

/** The parts of the log space management works with. */
export interface SpaceParts {
  storage: LogStorage;
  table: ContainerTable;
  metadata: MetadataStore;
  writer: LogWriter;
  bases: BaseManager;
  space: SpaceLedger;
  /** Registers work close() waits for. */
  track: <T>(promise: Promise<T>) => Promise<T>;
  /** Whether close() has not begun. */
  open: () => boolean;
}

export class SpaceManager {
  /** Appends waiting for room. */
  readonly waiters = new SpaceWaiters();
  readonly #p: SpaceParts;
  readonly #listeners = new Set<LogEvents['advance-tail']>();
  /** Whether a tail-advance request may be made (cleared by one, set by a change of space). */
  #armed = true;

  constructor(parts: SpaceParts) {
    this.#p = parts;
    parts.bases.onSpaceChanged = (reason) => this.changed(reason);
  }

  /** The policy in force (a copy). */
  get policy(): LogPolicy {
    return { ...this.#p.metadata.current.policy };
  }

  on(listener: LogEvents['advance-tail']): void {
    this.#listeners.add(listener);
    this.checkTail();
  }

  off(listener: LogEvents['advance-tail']): void {
    this.#listeners.delete(listener);
  }

  /**
   * Changes the policy (fields not given stay); durable when it resolves,
   * one metadata write (a crash leaves the old policy or the new one). The
   * container count must lie in the new [minContainers, maxContainers].
   */
  setPolicy(update: Partial<LogPolicy>): Promise<void> {
    const { bases, metadata, table } = this.#p;
    resolvePolicy('policy', update, metadata.current.policy);
    return bases.serializeMetadata(async () => {
      const policy = resolvePolicy('policy', update, metadata.current.policy);
      checkCount(policy, table.count, 'setPolicy');
      await bases.persistMetadata({ policy });
      this.changed('policy');
    });
  }

  /**
   * Removes `count` free containers from the end of the table (CLFS's
   * RemoveLogContainer): ERR_CLFS_POLICY_CONFLICT below minContainers,
   * ERR_CLFS_CONTAINER_ACTIVE if one holds records at or above the base
   * (or, on an archive log, the archive tail), or the writer or reserved
   * space needs it.
   */
  removeContainers(count: number): Promise<void> {
    const { writer, bases } = this.#p;
    // The append turn, then the metadata lock (the order appends take them
    // in): no room check or container change runs between the check and
    // the table's change.
    return writer.exclusive(() => bases.serializeMetadata(async () => void (await this.#remove(count, false))));
  }

  async #remove(count: number, auto: boolean): Promise<number> {
    const { writer, table, metadata, space, storage, bases } = this.#p;
    writer.checkHealthy();
    const n = table.count;
    const policy = metadata.current.policy;
    const base = bases.reclaimLsn();
    if (auto) {
      // As many as asked of the free ones at the end, down to minContainers.
      let free = 0;
      while (free < n && table.isFree(n - 1 - free, base)) free++;
      count = Math.min(count, free, n - policy.minContainers);
      while (count > 0 && !space.roomStaysWith(table.logicalIds.slice(0, n - count))) count--;
      if (count <= 0) return 0;
    }
    checkCount(policy, n - count, 'removeContainers');
    for (let i = n - count; i < n; i++) {
      if (!table.isFree(i, base)) {
        const what = bases.heldBy() === 'base' ? 'the base' : 'the archive tail (or an archive snapshot)';
        throw active(i, `it holds logical container ${table.logicalIds[i]}, at or above ${what} ${Lsn.format(base)}`);
      }
    }
    if (!space.roomStaysWith(table.logicalIds.slice(0, n - count))) {
      throw active(n - count, 'the writer or reserved space needs the room it gives');
    }
    const removed = table.logicalIds.splice(n - count);
    try {
      await bases.persistMetadata();
    } catch (error) {
      // The log fail-stopped: the table goes on matching the files.
      table.logicalIds.push(...removed);
      throw error;
    }
    for (let i = n - 1; i >= n - count; i--) {
      // The metadata no longer lists them; a fail-stopped log changes nothing
      // more on disk (invariant 4): unlisted files are left for a later add or delete.
      writer.checkHealthy();
      await storage.removeContainer(i);
    }
    this.changed('containers');
    return count;
  }

  /**
   * Space changed (a base move, containers added or removed, the policy):
   * a new tail-advance request may be made, waiting appends try again, and
   * after a base move autoShrink runs.
   */
  changed(reason: 'base' | 'containers' | 'policy'): void {
    this.#armed = true;
    this.waiters.wake();
    this.checkTail();
    if (reason === 'base' && this.#p.metadata.current.policy.autoShrink > 0) this.#autoShrink();
  }

  /** After an append: the tail-advance request, if due (cheap when it is not). */
  checkTail(): void {
    if (!this.#armed || this.#listeners.size === 0) return;
    const percent = this.#p.metadata.current.policy.logTail;
    if (percent === 0) return;
    const available = this.#p.space.currentAvailable();
    const total = this.#p.table.count * this.#p.table.containerSize;
    if (available * 100 >= percent * total) return;
    this.#request('log-tail', Math.ceil((percent * total) / 100) - available, available, total);
  }

  /** An append waits for room: ask for at least one container's worth (unless a request is out). */
  logFull(): void {
    if (!this.#armed || this.#listeners.size === 0) return;
    const available = this.#p.space.currentAvailable();
    const total = this.#p.table.count * this.#p.table.containerSize;
    const percent = this.#p.metadata.current.policy.logTail;
    const wanted = Math.max(Math.ceil((percent * total) / 100) - available, 1);
    this.#request('log-full', wanted, available, total);
  }

  /** Emits a request for `bytes` more free space (asynchronously, never inside an append's turn). */
  #request(reason: AdvanceTailEvent['reason'], bytes: number, available: number, total: number): void {
    const { writer, bases, table } = this.#p;
    const last = writer.lastLsn;
    if (last === Lsn.INVALID) return;
    this.#armed = false;
    const containers = Math.max(1, Math.ceil(bytes / table.containerSize));
    // From the base and archive tail as set (the persisted ones may lag them).
    const at = makeLsn(containerOf(bases.reclaimLsn(true)) + containers, 0);
    const event: AdvanceTailEvent = {
      targetLsn: at < last ? at : last,
      baseLsn: bases.baseLsn,
      heldBy: bases.heldBy(),
      archiveTailLsn: bases.archiveTailLsn,
      currentAvailable: available,
      totalAvailable: total,
      reason,
    };
    for (const listener of this.#listeners) queueMicrotask(() => listener(event));
  }

  /** Removes free containers beyond minContainers while autoShrink's percent of space stays free. */
  #autoShrink(): void {
    const { writer, bases, space, table, metadata, track, open } = this.#p;
    if (!open() || writer.failure !== undefined) return;
    const percent = metadata.current.policy.autoShrink;
    const size = table.containerSize;
    const available = space.currentAvailable();
    const total = table.count * size;
    if (available * 100 <= percent * total) return;
    // Each container removed takes `size` from both.
    let count = 0;
    while (count < table.count - metadata.current.policy.minContainers) {
      const free = available - (count + 1) * size;
      if (free < 0 || free * 100 < percent * (total - (count + 1) * size)) break;
      count++;
    }
    if (count === 0) return;
    void track(
      writer.exclusive(() => bases.serializeMetadata(() => (open() ? this.#remove(count, true) : Promise.resolve(0)))),
    ).catch(() => undefined);
  }
}

function active(index: number, why: string): ClfsError {
  return new ClfsError('ERR_CLFS_CONTAINER_ACTIVE', `container ${index} cannot be removed: ${why}`, {
    container: index,
  });
}
