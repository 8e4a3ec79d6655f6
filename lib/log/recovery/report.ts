/**
 * What recovery is given and what it finds (see recovery.ts for how).
 * @module
 */
import type { Lsn } from '../../lsn.ts';
import type { CheckedBlock } from '../read/block-check.ts';

/** A stretch skipped by salvage recovery. */
export interface SkippedRange {
  /** The first position skipped. */
  fromLsn: Lsn;
  /** The first valid block after it, where the scan resumed. */
  toLsn: Lsn;
  /** Why the position was refused (`'checksum'`, `'chain'`, ...). */
  reason: string;
}

/** What recovery found, for `log.recoveryReport`. */
export interface RecoveryReport {
  /** The `recovery` option the log was opened with. */
  mode: 'strict' | 'salvage';
  /** Blocks accepted by the scan. */
  blocksScanned: number;
  /** Bytes of those blocks. */
  bytesScanned: number;
  /** Where the torn tail was cut (the first position that did not hold a following block), or undefined for a clean end. */
  tailCutAt: Lsn | undefined;
  /** Why the scan stopped there. */
  tailReason: string;
  /** Damaged stretches skipped ('salvage' only). */
  skipped: SkippedRange[];
  /** Metadata slots that did not validate, and why. */
  metadataProblems: string[];
  /**
   * The positions the scan refused, by reason (the reason in `tailReason`
   * and `skipped`, such as `'checksum'`, `'chain'` or `'stale epoch'`): the
   * torn tail it cut and each damaged stretch it skipped. A clean end
   * (nothing written where the log stops) is not a problem; an empty
   * object means the scan refused nothing.
   */
  problems: Record<string, number>;
}

/** Where recovery found the log to end, and what it found on the way. */
export interface RecoveredTail {
  /** Where the next block goes. */
  endLogicalId: number;
  endOffset: number;
  /** The last accepted block, or INVALID. */
  lastBlockLsn: Lsn;
  /** The youngest record, or INVALID. */
  lastLsn: Lsn;
  restartLsn: Lsn;
  baseLsn: Lsn;
  /**
   * The highest epoch of the metadata and of every valid block recovery read
   * (accepted or not): the next generation's epoch must be above it.
   */
  highestEpoch: bigint;
  report: RecoveryReport;
}

/** How to recover. */
export interface RecoveryOptions {
  salvage: boolean;
  logId: bigint;
  /** True when the metadata was written by a clean close (nothing after the tail). */
  clean: boolean;
  /** Told of each block the scan accepts, in log order (a read-only open's follower: lib/log/follower.ts). */
  accepted?: (block: CheckedBlock, logicalId: number, offset: number) => void;
}
