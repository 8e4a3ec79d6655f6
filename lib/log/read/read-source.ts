/**
 * What a read context needs of its marshalling area and log.
 * @module
 */
import type { BlockProblem } from '../../format/block.ts';
import type { Lsn } from '../../lsn.ts';
import type { ProbedBlock } from './block-check.ts';
import type { BlockLoader, ReadBuffer } from './read-buffer.ts';
import type { ChainView } from './unreadable.ts';

/** What a read context needs of its marshalling area and log. */
export interface ReadSource extends ChainView, BlockLoader {
  readonly bufferSize: number;
  /**
   * The block at `blockLsn` without a read buffer: from the writer's memory,
   * or its container (`whole`: the whole block checked, else its header).
   */
  probeBlock(blockLsn: Lsn, whole: boolean): Promise<ProbedBlock | BlockProblem | 'absent'>;
  /** Stretches salvage recovery skipped: never served. */
  skippedRanges(): readonly { fromLsn: Lsn; toLsn: Lsn }[];
  /** The context is done with its buffer (terminated): it goes back to the area. */
  releaseReadBuffer(buffer: ReadBuffer): void;
  checkOpen(): void;
  /**
   * A read-only log: brings its view up to date with the writer's
   * (follower.ts); whether anything changed. False for a log open for
   * writing (its view is the writer's own).
   */
  refresh(): Promise<boolean>;
}
