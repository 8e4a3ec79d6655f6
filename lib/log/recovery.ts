/**
 * Recovery: finding the end of the log after open.
 *
 * The scan starts at the metadata's tail (the block after the last one known
 * durable when metadata was last written; metadata is written at every
 * restart area, base move, container change, open and close), so it costs
 * time proportional to what was written since, never to the log's size.
 * Each block is accepted only if its CRC, LSN, log id, predecessor and epoch
 * (never below its predecessor's) agree; the writer moves to the next
 * container when a block does not fit, so where a block does not follow, the
 * next container's first block may. There is no epoch ceiling: when the
 * newest metadata copy is lost, the surviving older copy's tail is followed
 * by blocks of later generations, and they are the log. The scan reports the
 * highest epoch of any valid block it read, so the next generation's epoch is
 * above every epoch on disk (Log.openStorage). For the same reason, when the
 * next logical container is not in the table (the copy that recorded its
 * recycling was lost), the free containers the writer could have recycled
 * are probed for its first block.
 *
 * The first block that does not follow ends the log, unless a later valid
 * block vouches for it (its vouchedLsn says the position was durable when it
 * was written): then the bad block is damage in acknowledged data, reported
 * as ERR_CLFS_CORRUPT with its LSN, or skipped and reported in 'salvage'
 * mode. The writer never submits a block more than WINDOW bytes past the
 * durable watermark, so a voucher can only lie within 2 * WINDOW (plus one
 * block) of the bad block: the look-ahead is bounded by a constant. After a
 * clean close there is nothing to look ahead at (the open trusts the clean
 * flag only when both metadata copies were read: a lost newer copy may have
 * belonged to a generation that wrote after it).
 *
 * Lengths on disk never size memory or I/O: a block
 * header claiming more than MAX_BLOCK_SIZE or the container's end is refused
 * unread, the scan reads through one reused window of at most a block, a
 * short read marks the end of a container's file (a forged container size
 * costs nothing), and the look-ahead reads each byte about once, reads the
 * rest of a block only when its header could vouch, and gives up with
 * ERR_CLFS_CORRUPT when forged headers would make it checksum more than
 * MAX_VOUCHER_CHECKING bytes.
 *
 * The metadata's tail must also be the end of the valid block it names as
 * the one before it; otherwise the metadata is refused as ERR_CLFS_CORRUPT
 * rather than letting new blocks be written over acknowledged ones.
 *
 * The scan itself is recovery/scanner.ts (RecoveryScanner), what it returns
 * recovery/report.ts; containers are read through read/container-window.ts
 * and blocks checked by read/block-check.ts, as readers do.
 * @module
 */
import { MAX_BLOCK_SIZE } from '../format/block.ts';
import type { Metadata } from '../format/metadata.ts';
import type { LogStorage } from '../storage/storage.ts';
import type { ContainerTable } from './containers.ts';
import type { RecoveredTail, RecoveryOptions } from './recovery/report.ts';
import { RecoveryScanner } from './recovery/scanner.ts';

export type { RecoveredTail, RecoveryOptions, RecoveryReport, SkippedRange } from './recovery/report.ts';
export { WRITE_WINDOW } from './recovery/scanner.ts';

/** The largest block (and marshalling buffer) a log can have (defined with the block format). */
export { MAX_BLOCK_SIZE };

/**
 * Scans from the metadata's tail to the end of the log. Reads only; the
 * open persists what it finds (containers found recycled are adopted into
 * `table`).
 */
export async function recover(
  storage: LogStorage,
  metadata: Metadata,
  table: ContainerTable,
  options: RecoveryOptions,
): Promise<RecoveredTail> {
  return new RecoveryScanner(storage, metadata, table, options).scan();
}
