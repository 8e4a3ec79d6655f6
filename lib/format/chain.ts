/**
 * The chain rule: when a block follows another one on disk.
 *
 * Every block header names its predecessor (previousBlockLsn) and the
 * generation (epoch) it was written in, and the first block a generation
 * writes carries BLOCK_FLAG_NEW_EPOCH (see block.ts). A generation only ever
 * writes after the blocks of earlier ones, so a block that follows another
 * names it and was written in the same generation or a later one: its epoch
 * is never below its predecessor's. A block of a lower epoch that names it
 * is a leftover of an earlier crash, written before the blocks it seems to
 * follow.
 *
 * Recovery (log/recovery) and readers (log/read) both decide with
 * `follows`. What each adds is its own and stays at its call site: a
 * reader, which knows both blocks were read as the log now is, also wants
 * `newEpochAgrees` (a block with the flag wrong for its place is a lost
 * write's leftover); recovery does not ask it, since it starts from the
 * metadata's epoch, not the epoch of the block before the tail: the open
 * writes the metadata with the new generation's epoch, and that
 * generation's first block (flagged) carries the same one.
 * @module
 */
import type { Lsn } from '../lsn.ts';

/** A block as the chain sees it. */
export interface ChainBlock {
  lsn: Lsn;
  epoch: bigint;
}

/** A following block as the chain sees it: what its header says of its predecessor. */
export interface ChainLink {
  previousBlockLsn: Lsn;
  epoch: bigint;
}

/** Whether `next` follows `previous`: it names it as its predecessor, with an epoch never below its own. */
export function follows(previous: ChainBlock, next: ChainLink): boolean {
  return next.previousBlockLsn === previous.lsn && next.epoch >= previous.epoch;
}

/**
 * Whether `next`'s BLOCK_FLAG_NEW_EPOCH agrees with its epoch beside
 * `previous`'s: a block that is not the first of its generation follows a
 * block of its own epoch, the first one an older epoch.
 */
export function newEpochAgrees(previous: { epoch: bigint }, next: { epoch: bigint; newEpoch: boolean }): boolean {
  return next.newEpoch ? next.epoch > previous.epoch : next.epoch === previous.epoch;
}
