/**
 * The reader's failure cases, named in one place and counted (RocksDB's log
 * reader Reporter): every reason a read or the recovery scan refuses a block
 * or a position, and the ERR_CLFS_CORRUPT it is reported with. A log's
 * BlockSource keeps one ReadProblems for its readers, the recovery scan one
 * for its report: how often each reason came up is there to look at
 * (tests, diagnostics) without parsing messages.
 *
 * The messages are part of the API (the README's error table, and tests match them): they
 * name the LSN and the reason in parentheses.
 * @module
 */
import { ClfsError } from '../../errors.ts';
import type { BlockProblem } from '../../format/block.ts';
import { Lsn } from '../../lsn.ts';

/**
 * Why a block or position was refused. A block's own checks give a
 * BlockProblem (block.ts); the others are about its place:
 * - 'absent': no container holds the position;
 * - 'empty': zeros, nothing was written there (recovery);
 * - 'lap': a block of an earlier pass through the container (recovery);
 * - 'stale epoch': a block of an earlier generation where a later one was
 *   written (a lost write, or a leftover of an earlier crash);
 * - 'chain': a valid block that does not follow the one before it;
 * - 'skipped by salvage recovery': a stretch salvage recovery skipped;
 * - 'forward pointer': a record whose previous or undo-next LSN is not older;
 * - 'tail': the metadata's tail is not the end of the block before it;
 * - 'headers': forged block headers that would make recovery checksum more
 *   than a log can hold.
 */
export type ReadProblem =
  | BlockProblem
  | 'absent'
  | 'empty'
  | 'lap'
  | 'stale epoch'
  | 'chain'
  | 'skipped by salvage recovery'
  | 'forward pointer'
  | 'tail'
  | 'headers';

/** What the stale-epoch report needs of the block after the refused one. */
interface Follower {
  lsn: Lsn;
  epoch: bigint;
  newEpoch: boolean;
}

/** Counts problems by reason, and builds the error each is reported with. */
export class ReadProblems {
  readonly #counts = new Map<ReadProblem, number>();

  /** Counts one problem of `reason`. */
  count(reason: ReadProblem): void {
    this.#counts.set(reason, (this.#counts.get(reason) ?? 0) + 1);
  }

  /** How many problems of each reason were counted, in the order first seen. */
  counts(): Record<string, number> {
    return Object.fromEntries(this.#counts);
  }

  /** The log is damaged at `lsn`: its block, or the block that should follow there, was refused for `problem`. */
  damaged(lsn: Lsn, problem: ReadProblem): ClfsError {
    this.count(problem);
    return new ClfsError('ERR_CLFS_CORRUPT', `the log is damaged at LSN ${Lsn.format(lsn)} (${problem})`, { lsn });
  }

  /**
   * The block at `blockLsn` is damaged (`problem`): a position a read was
   * asked for, which the chain shows is a block's (`detail` says how).
   */
  damagedBlock(blockLsn: Lsn, problem: ReadProblem, detail: string): ClfsError {
    this.count(problem);
    return new ClfsError(
      'ERR_CLFS_CORRUPT',
      `the block at LSN ${Lsn.format(blockLsn)} is damaged (${problem})${detail}`,
      {
        lsn: blockLsn,
      },
    );
  }

  /**
   * `block` is of an earlier generation than the one `follower` was written
   * after: a lost write left an earlier block in place.
   */
  stale(block: { lsn: Lsn; epoch: bigint }, follower: Follower): ClfsError {
    this.count('stale epoch');
    return new ClfsError(
      'ERR_CLFS_CORRUPT',
      `the log is damaged at LSN ${Lsn.format(block.lsn)} (stale epoch): the block there is of generation ${block.epoch}, but the block after it (${Lsn.format(follower.lsn)}, generation ${follower.epoch}) was written after ${follower.newEpoch ? 'an older' : 'its own'} generation's block there (a lost write leaves an earlier block in place)`,
      { lsn: block.lsn },
    );
  }

  /** The record at `lsn` names a chain target (`mode` LSN) that is not older than itself. */
  pointsForward(lsn: Lsn, mode: string, target: Lsn): ClfsError {
    this.count('forward pointer');
    return new ClfsError(
      'ERR_CLFS_CORRUPT',
      `the record at ${Lsn.format(lsn)} points forward (${mode} LSN ${Lsn.format(target)})`,
      { lsn },
    );
  }

  /** Recovery: `position` fails (`why`), but a later block (`voucherLsn`) shows it had been durable. */
  acknowledged(position: Lsn, why: ReadProblem, voucherLsn: Lsn): ClfsError {
    this.count(why);
    return new ClfsError(
      'ERR_CLFS_CORRUPT',
      `the log is damaged at LSN ${Lsn.format(position)} (${why}): a later block (${Lsn.format(
        voucherLsn,
      )}) shows it had been durable. Open with recovery: 'salvage' to skip the damage`,
      { lsn: position, reason: why },
    );
  }

  /** Recovery: the metadata's tail is not the end of the block before it (`previous`, `length` bytes). */
  inconsistentTail(tailLsn: Lsn, previous: Lsn, length: number): ClfsError {
    this.count('tail');
    return new ClfsError(
      'ERR_CLFS_CORRUPT',
      `the log metadata is inconsistent: its tail ${Lsn.format(tailLsn)} is not the end of the block before it (${Lsn.format(previous)}, ${length} bytes)`,
      { lsn: tailLsn, reason: 'tail' },
    );
  }

  /**
   * Recovery: the block headers after `position` claim more bytes than a log
   * can hold there (`checked` bytes checksummed before `at`).
   */
  forgedHeaders(position: Lsn, checked: number, at: Lsn): ClfsError {
    this.count('headers');
    return new ClfsError(
      'ERR_CLFS_CORRUPT',
      `the log is damaged after LSN ${Lsn.format(position)}: the block headers that follow it claim more bytes ` +
        `than a log can hold there (${checked} checked before LSN ${Lsn.format(at)})`,
      { lsn: position, reason: 'headers' },
    );
  }
}
