/**
 * Defects in lib/ the simulator finds that are not fixed yet on this
 * branch, by the kind of violation that shows each (and the kinds that
 * follow from it in the same run). test/sim/sim.test.ts tolerates them, so
 * that `npm test` stays green until the fixes land; CLFS_SIM_STRICT=1
 * tolerates nothing. When a fix lands, delete its entry: its regression
 * (test/sim/regressions/) and the fixed sample then guard it.
 * @module
 */

export interface KnownDefect {
  /** What is wrong, in one line (the issue or review item it is). */
  defect: string;
  /** Kinds that follow from it in the same run, tolerated only alongside it. */
  consequences?: readonly string[];
}

/** What a lost or damaged stretch of the log also shows. */
const DAMAGE = [
  'I1-lost',
  'I1-differs',
  'I1-base',
  'I1-restart',
  'I2-gap',
  'I2-phantom',
  'I2-base',
  'I2-restart',
  'I3',
  'unexpected-error',
  'recovery-failed',
  'read-skipped',
  'read-chain',
  'read-differs',
  'read-phantom',
  'restart-chain',
  'accepted',
  'lsn-order',
  'info',
];

export const KNOWN_OPEN: Readonly<Record<string, KnownDefect>> = {
  'lsn-two-records': {
    defect:
      '1: writeRestartArea({ newBaseLsn }) racing area.close()/log.close() gets an LSN another record has; and new: a flush seals (drops) the empty block an append just opened, before the record is placed',
    consequences: [...DAMAGE, 'hang', 'closed-too-early', 'io-after-close'],
  },
  'closed-too-early': {
    defect:
      '1: a restart area or base move made before close() fails with ERR_CLFS_CLOSED (close does not wait for it)',
    consequences: ['hang', 'io-after-close', 'I6', 'unexpected-error'],
  },
  'io-after-close': {
    defect: '1: a base move made before log.close() writes metadata after the storage closed',
    consequences: ['unexpected-error', 'closed-too-early'],
  },
  hang: {
    defect: '1: a restart area racing close never settles, nor does the close',
    consequences: ['closed-too-early', 'io-after-close', ...DAMAGE],
  },
  'metadata-invalid': {
    defect: '2: a block ending exactly at a 4 GiB container end puts the tail LSN into the container id bits',
    consequences: DAMAGE,
  },
  'write-past-end': {
    defect: '3: a record larger than a container is acknowledged and written past its end',
    consequences: [...DAMAGE, 'hang', 'metadata-invalid'],
  },
  'reservation-log-full': { defect: '6: an append into a reservation fails with ERR_CLFS_LOG_FULL' },
  'buffer-read-late': {
    defect: "7: appendBatch and writeRestartArea({ newBaseLsn }) read the caller's buffers after an await",
  },
  reservation: { defect: 'useReservation (and a negative reservation) leave reserved bytes with no records reserved' },
  'blocks-exhausted-base': {
    defect:
      'advanceLogBase / writeRestartArea({ newBaseLsn }) fail with ERR_CLFS_BLOCKS_EXHAUSTED when contexts hold every read buffer',
    consequences: ['unexpected-error'],
  },
  'hang-appends': {
    defect:
      "new: 'fdatasync', more than the 16 MiB write window appended with no flush: sealed blocks wait for the window, the window for a sync, and a sync starts only when a write completes",
    consequences: DAMAGE,
  },
  'hang-fail-stop': {
    defect:
      'new: after a failed write, an append that seals a block waits forever for its buffer (#seal queues it, #pump returns)',
    consequences: ['allocator-fail-stop', 'I6', ...DAMAGE],
  },
  'allocator-fail-stop': {
    defect: 'new: after a failed write, a block sealed later keeps its buffer for ever (same cause as hang-fail-stop)',
  },
  'page-cache-recovery': {
    defect:
      "new: recovery records a tail read from the page cache ('fdatasync', after a process crash or failed close) without syncing it; a power cut then leaves the log unreadable",
    consequences: DAMAGE,
  },
  'untyped-error': {
    defect:
      'new: readLogRecord racing area.close() (the context terminated while it starts) throws a TypeError and frees the buffer under the read',
    consequences: ['unexpected-error', 'allocator'],
  },
  'stale-epoch': {
    defect:
      'new: a forward read blames the last block of a container as stale when a leftover block of an older generation after it names it (the log goes on in the next container)',
    consequences: DAMAGE,
  },
  'vouched-gap': {
    defect:
      "new: recovery blames the empty end of a container as vouched-for damage when the next container's first block was lost and a later block landed",
    consequences: DAMAGE,
  },
  I6: {
    defect:
      'new: a base move or restart area pending when the log fail-stops still resolves (its metadata write goes through)',
  },
};

/** The violations of a run that are not explained by a known open defect (all of them when strict). */
export function unexplained<V extends { kind: string }>(violations: readonly V[], strict: boolean): V[] {
  if (strict) return [...violations];
  const open = new Set(violations.map((v) => v.kind).filter((k) => KNOWN_OPEN[k] !== undefined));
  const tolerated = new Set<string>(open);
  for (const kind of open) for (const c of KNOWN_OPEN[kind]!.consequences ?? []) tolerated.add(c);
  return violations.filter((v) => !tolerated.has(v.kind));
}
