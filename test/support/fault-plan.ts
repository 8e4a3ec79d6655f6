/**
 * A fault plan: which I/O request fails and how. Shared by the crash/fault
 * harness and the simulator (which runs outside vitest: this file imports
 * nothing).
 * @module
 */

/** The kinds of storage request a plan can fail. */
export type FaultOp = 'write' | 'sync' | 'metadata' | 'add';
/** EIO on completion; ENOSPC at submission; a short write: part of the data lands, then EIO. */
export type FaultKind = 'EIO' | 'ENOSPC' | 'short';

export interface FaultPlan<Op extends string = FaultOp> {
  op: Op;
  /** The request (1-based, counted per op) that fails first. */
  n: number;
  kind: FaultKind;
  /** Fail every request of the op from the Nth on (else only the Nth). */
  persistent: boolean;
}
