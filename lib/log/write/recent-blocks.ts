/**
 * The blocks this writer sealed lately, with their record counts: what an
 * append's chain LSNs (previousLsn, undoNextLsn) are checked against
 * without reading the disk. Blocks are sealed in LSN order, so the list is
 * sorted and a lookup is a binary search; it keeps at least the last
 * `keep` blocks (older ones are forgotten in halves, amortised O(1) per block).
 * @module
 */
import { invariant } from '../../errors.ts';
import { type Lsn, blockLsnOf, sequenceOf } from '../../lsn.ts';

/** What is known of a block start: its record count, 0 when no block starts there, or undefined (too old to know). */
export type KnownBlock = number | undefined;

export class RecentBlocks {
  readonly #keep: number;
  #lsns: Lsn[] = [];
  #counts: number[] = [];

  constructor(keep = 4096) {
    this.#keep = keep;
  }

  /** A sealed block (LSN order). */
  add(lsn: Lsn, count: number): void {
    const last = this.#lsns[this.#lsns.length - 1];
    invariant(last === undefined || lsn > last, () => `block ${lsn} sealed after block ${last}`);
    if (this.#lsns.length >= 2 * this.#keep) {
      this.#lsns = this.#lsns.slice(this.#keep);
      this.#counts = this.#counts.slice(this.#keep);
    }
    this.#lsns.push(lsn);
    this.#counts.push(count);
  }

  /** Forgets every block at or after `lsn` (they are no longer the log's). */
  dropFrom(lsn: Lsn): void {
    let n = this.#lsns.length;
    while (n > 0 && this.#lsns[n - 1]! >= lsn) n--;
    this.#lsns.length = n;
    this.#counts.length = n;
  }

  /** A truncation to record `lsn`: the blocks after its block go, and its block ends with it. */
  cutAfter(lsn: Lsn): void {
    this.dropFrom(lsn + 1n);
    const n = this.#lsns.length;
    if (n > 0 && this.#lsns[n - 1] === blockLsnOf(lsn)) {
      this.#counts[n - 1] = Math.min(this.#counts[n - 1]!, sequenceOf(lsn) + 1);
    }
  }

  /**
   * The record count of the block starting at `blockLsn`: 0 when it lies
   * within the span remembered but no block starts there; undefined when it
   * is older than every block remembered.
   */
  recordsAt(blockLsn: Lsn): KnownBlock {
    const lsns = this.#lsns;
    if (lsns.length === 0 || blockLsn < lsns[0]!) return undefined;
    let lo = 0;
    let hi = lsns.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const at = lsns[mid]!;
      if (at === blockLsn) return this.#counts[mid]!;
      if (at < blockLsn) lo = mid + 1;
      else hi = mid - 1;
    }
    return 0;
  }
}
