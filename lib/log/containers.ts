/**
 * The container table: which physical container holds which logical
 * container, and how much space the log has left.
 *
 * Logical container ids start at 1 and only grow (so LSNs only grow, and
 * Lsn.NULL never names a record). A physical container is free when its
 * logical id is 0 (never used) or below the base LSN's container: every
 * record in it is older than the base. Reusing it gives it the next logical
 * id (CLFS's recycling).
 * @module
 */
import { type Lsn, containerOf } from '../lsn.ts';

/** Whether a container of logical id `id` (0: never used) holds nothing at or above `baseLsn`. */
export function isFreeLogicalId(id: number, baseLsn: Lsn): boolean {
  return id === 0 || id < containerOf(baseLsn);
}

export class ContainerTable {
  /** Logical id of each physical container; 0 = free. */
  readonly logicalIds: number[];
  readonly containerSize: number;

  constructor(logicalIds: number[], containerSize: number) {
    this.logicalIds = logicalIds;
    this.containerSize = containerSize;
  }

  get count(): number {
    return this.logicalIds.length;
  }

  /** The physical index holding logical container `logicalId`, or -1. */
  physicalOf(logicalId: number): number {
    if (logicalId === 0) return -1;
    return this.logicalIds.indexOf(logicalId);
  }

  /** The highest logical id in use (0 if none). */
  newestLogicalId(): number {
    return this.logicalIds.reduce((a, b) => Math.max(a, b), 0);
  }

  /** Whether physical container `index` holds nothing at or above the base. */
  isFree(index: number, baseLsn: Lsn): boolean {
    return isFreeLogicalId(this.logicalIds[index]!, baseLsn);
  }

  /**
   * The physical container `recycle` would give the next logical id to with
   * the base at `baseLsn`, or -1 if none is free; changes nothing. Recovery
   * asks it too, to find where the writer went when the metadata copy that
   * recorded a recycling was lost.
   */
  nextRecycled(baseLsn: Lsn): number {
    // Reuse the free container that has been free longest (lowest id).
    let chosen = -1;
    for (let i = 0; i < this.count; i++) {
      if (!this.isFree(i, baseLsn)) continue;
      if (chosen === -1 || this.logicalIds[i]! < this.logicalIds[chosen]!) chosen = i;
    }
    return chosen;
  }

  /**
   * Gives the next logical id to a free physical container and returns its
   * index, or -1 if none is free. The caller persists the table before
   * anything is written there.
   */
  recycle(baseLsn: Lsn): number {
    const chosen = this.nextRecycled(baseLsn);
    if (chosen !== -1) this.logicalIds[chosen] = this.newestLogicalId() + 1;
    return chosen;
  }
}
