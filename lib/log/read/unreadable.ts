/**
 * Why a position could not be read: damage (ERR_CLFS_CORRUPT) or a caller's
 * LSN that names no record (ERR_CLFS_INVALID_LSN), told apart as the read
 * context's module notes describe; and a position below the base
 * (ERR_CLFS_START_OF_LOG).
 * @module
 */
import { ClfsError } from '../../errors.ts';
import type { BlockProblem } from '../../format/block.ts';
import { Lsn, blockLsnOf, offsetOf } from '../../lsn.ts';
import type { ProbedBlock } from './block-check.ts';
import type { ReadProblems } from './problems.ts';

/** What telling damage from a bad LSN needs of the log: its named positions, and a look past the position. */
export interface ChainView {
  baseLsn(): Lsn;
  lastLsn(): Lsn;
  restartLsn(): Lsn;
  /** What blocks read from containers must carry. */
  blockExpectation(): { logId: bigint; unit: number };
  /**
   * The first block after `position` that passes every check, at most
   * MAX_BLOCK_SIZE on in its container or at the next container's start
   * (where a block at `position` would be followed); undefined if none.
   */
  findBlockAfter(position: Lsn): Promise<ProbedBlock | undefined>;
}

/**
 * The error for a position in [base, last] whose block could not be
 * loaded: ERR_CLFS_CORRUPT when the chain shows a block starts there (see
 * the read context's module notes), ERR_CLFS_INVALID_LSN when it is not a
 * block's. `why` says how `lsn` was reached: a named start or a user LSN
 * ('start'), or a chain field read from the log ('chain').
 */
export async function unreadable(
  source: ChainView,
  problems: ReadProblems,
  lsn: Lsn,
  blockLsn: Lsn,
  problem: BlockProblem | 'absent',
  why: 'start' | 'chain',
): Promise<ClfsError> {
  const notABlock = (detail: string): ClfsError =>
    new ClfsError(
      'ERR_CLFS_INVALID_LSN',
      `LSN ${Lsn.format(lsn)} names no record (${why === 'chain' ? 'a chain field points' : 'it points'} where no block starts${detail})`,
      { lsn },
    );
  const damaged = (detail: string): ClfsError => problems.damagedBlock(blockLsn, problem, detail);
  // No container holds it, or it is not on a sector unit: no block starts there.
  if (problem === 'absent') return notABlock('');
  if (offsetOf(blockLsn) % source.blockExpectation().unit !== 0) {
    return notABlock(': blocks start on sector-unit boundaries');
  }
  // Its header names this position; its contents are wrong, or its
  // container ends before it does.
  if (problem === 'checksum' || problem === 'records' || problem === 'short') return damaged('');
  const restart = source.restartLsn();
  if (
    offsetOf(blockLsn) === 0 ||
    blockLsn === blockLsnOf(source.lastLsn()) ||
    blockLsn === blockLsnOf(source.baseLsn()) ||
    (restart !== Lsn.INVALID && blockLsn === blockLsnOf(restart))
  ) {
    return damaged(': a block of the log starts there');
  }
  const follower = await source.findBlockAfter(blockLsn);
  if (follower !== undefined && follower.previousBlockLsn === blockLsn) {
    return damaged(`: the block after it (${Lsn.format(follower.lsn)}) names it as its predecessor`);
  }
  if (follower !== undefined && follower.previousBlockLsn < blockLsn) {
    return notABlock(`: the block at ${Lsn.format(follower.previousBlockLsn)} covers it`);
  }
  // The first valid block after it follows a block between the two that
  // fails its checks, or none was found near it: the log is damaged here.
  return damaged(
    follower === undefined
      ? ': no valid block follows it within the largest block size'
      : `, and so is the block at ${Lsn.format(follower.previousBlockLsn)} after it`,
  );
}

/** ERR_CLFS_START_OF_LOG for `lsn` below the base `baseLsn` (which may have moved past a reader). */
export function belowBase(lsn: Lsn, baseLsn: Lsn): ClfsError {
  return new ClfsError('ERR_CLFS_START_OF_LOG', `LSN ${Lsn.format(lsn)} is below the base LSN ${Lsn.format(baseLsn)}`, {
    lsn,
  });
}
