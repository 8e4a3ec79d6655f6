/**
 * What an operation needs from the driver when it is made: the live
 * instance, the tracker (call ids, trace), the argument stream, and the
 * few facts about the library's state the model takes as given at call
 * time (what the log's last LSN is, whether it has fail-stopped).
 * @module
 */
import { Lsn } from '../../lib/lsn.ts';
import { payload } from './args.ts';
import { realBufferSize, type SimConfig } from './config.ts';
import type { AreaHandle, ContextHandle, Instance, Tracker } from './instance.ts';
import type { ModelRecord } from './model.ts';

/** What lasts across a run's instances. */
export interface RunState {
  /** Payloads made so far (each is tagged with its number). */
  tag: number;
  /** The largest buffer of any area so far: blocks up to this size may be in the log. */
  largestBuffer: number;
}

/** A record read whose LSN the model did not know yet: checked when the instance ends, or before a truncation. */
export interface Observation {
  record: ModelRecord;
  label: string;
  /** Read while a truncation was in flight: it may be a record it dropped, or one appended after it at that LSN. */
  raced?: boolean;
}

export class Env {
  readonly inst: Instance;
  readonly tracker: Tracker;
  readonly random: () => number;
  readonly config: SimConfig;
  readonly observations: Observation[] = [];
  /** Checks `observations` (those above `above`, if given) now and forgets them (the driver's checkObservations). */
  checkObservations: (above?: bigint) => void = () => undefined;
  readonly #run: RunState;

  constructor(inst: Instance, tracker: Tracker, random: () => number, config: SimConfig, run: RunState) {
    this.inst = inst;
    this.tracker = tracker;
    this.random = random;
    this.config = config;
    this.#run = run;
  }

  get model(): Instance['model'] {
    return this.inst.model;
  }

  payload(n: number): Uint8Array {
    return payload(this.random, n, ++this.#run.tag);
  }

  /** The area a plan's index names (areas come and go; the index wraps). */
  area(index: number): AreaHandle | undefined {
    const areas = this.inst.areas;
    return areas.length === 0 ? undefined : areas[index % areas.length];
  }

  /** A held read context (not terminated), by the plan's index. */
  context(index: number): ContextHandle | undefined {
    const open = this.inst.contexts.filter((c) => !c.terminated);
    return open.length === 0 ? undefined : open[index % open.length];
  }

  /** The youngest record appended now (the library's own view; -1 if none). */
  lastLsn(): bigint {
    const last = this.inst.log.core.writer.lastLsn;
    return last === Lsn.INVALID ? -1n : last;
  }

  /** Whether the instance has fail-stopped (a failed write or sync it has seen). */
  failStopped(): boolean {
    return this.inst.log.core.writer.failure !== undefined;
  }

  /** Read buffers available to a new context of `area` now, by the model's count. */
  exhausted(area: AreaHandle): boolean {
    const max = area.config.maxReadBuffers ?? Infinity;
    return area.readers >= max;
  }

  /** Whether the log may hold blocks larger than the area's buffers (reads of them fail: CLFS's ERROR_LOG_BLOCK_INCOMPLETE). */
  smallBuffers(area: AreaHandle): boolean {
    return realBufferSize(area.config, this.config.unit) < this.#run.largestBuffer;
  }

  /** An area with these buffers was created. */
  /**
   * For a read's `also`: ERR_CLFS_RECORD_TOO_LARGE when, by the time it
   * settles, an area with larger buffers exists (a read started earlier
   * meets the blocks it writes later).
   */
  blockTooLarge(area: AreaHandle): (code: string) => boolean {
    return (code) => code === 'ERR_CLFS_RECORD_TOO_LARGE' && this.smallBuffers(area);
  }

  /** The largest buffer of any area so far. */
  get largestBuffer(): number {
    return this.#run.largestBuffer;
  }

  bufferCreated(size: number): void {
    this.#run.largestBuffer = Math.max(this.#run.largestBuffer, size);
  }

  /** Folds settled reservation calls and compares with the area's totals. */
  settleReservations(area: AreaHandle): void {
    this.model.settleReservations(
      area.reservation,
      () =>
        area.closedAt !== undefined
          ? undefined
          : { records: area.area.reservedRecords, bytes: area.area.reservedBytes },
      `area ${area.index}`,
    );
  }
}
