/**
 * `clfs verify PATH`: a full scan of the log (lib/log/verify.ts), every
 * block's checksum and chain from the base to the end.
 * @module
 */
import { setTimeout as sleep } from 'node:timers/promises';

import { ClfsError } from '../errors.ts';
import type { Log } from '../log/log.ts';
import type { RecoveryReport } from '../log/recovery.ts';
import { scanLog, type Damage, type ScanResult } from '../log/verify.ts';
import { Lsn } from '../lsn.ts';
import { EXIT, bytesText, json, lsnText, openForReading, parse, table, type Command } from './common.ts';
import { ProgressBar } from './progress.ts';

const HELP = `Usage: clfs verify PATH [--json]

Reads the whole log at PATH, from the base's block to the last record's,
checking every block (header, log id, LSN, CRC32C checksum, records) and
that each follows the one before it, as readers and recovery do. Read-only:
works while a writer runs (it checks the records durable when it opened;
a cut at the end that the writer's next block or tail record makes
durable within a second is not reported as a torn tail).
A progress bar is drawn on stderr when it is a terminal.

Options:
  --json      print the result as JSON: { status: "clean" | "torn-tail" |
              "damaged", damage, tornTail, blocks, bytes, ... }
  -h, --help  this help

Exit codes:
  0   clean
  1   a torn tail: the end of a write a crash cut short. Recovery drops it
      (those records were never acknowledged): not damage
  2   damage: a block that fails its checks where the log goes on (the LSN
      is named)
  3   other failures: no log there, I/O errors
  64  bad arguments`;

const OPTIONS = { json: { type: 'boolean' } } as const;

/** What verify found, as it prints it. */
interface Verdict {
  status: 'clean' | 'torn-tail' | 'damaged';
  damage: Damage | null;
  tornTail: Damage | null;
  scan: ScanResult | null;
  /** What the open's recovery scan found (absent when the open refused the log). */
  recoveryReport?: RecoveryReport;
}

/** How long verify watches a cut tail for a writer that is still writing there (ms), and how often. */
const SETTLE_MS = 1000;
const SETTLE_STEP_MS = 100;

/**
 * The cut the open's scan made at the end of the log, if it stays: beside
 * a running writer the cut is usually a block still being written, or one
 * no later block vouches for yet, which the writer's next block (or, when
 * it idles, its tail record: idlePublishMs) makes durable. A cut the
 * reader's view passes within SETTLE_MS was not a torn tail.
 */
async function tornTail(log: Log): Promise<Damage | null> {
  const { tailCutAt, tailReason } = log.recoveryReport;
  if (tailCutAt === undefined) return null;
  for (let waited = 0; waited < SETTLE_MS; waited += SETTLE_STEP_MS) {
    await log.refresh();
    const last = log.information().lastLsn;
    if (last !== Lsn.INVALID && last >= tailCutAt) return null;
    await sleep(SETTLE_STEP_MS);
  }
  return { lsn: tailCutAt, reason: tailReason };
}

/** A scan of the open log, with a progress bar. */
async function scan(log: Log): Promise<Verdict> {
  const bar = new ProgressBar('verifying');
  let result: ScanResult;
  try {
    result = await scanLog(log.core, undefined, (done, total) => bar.update(done, total));
  } finally {
    bar.clear();
  }
  const damage = result.damage ?? null;
  const torn = damage === null ? await tornTail(log) : null;
  return {
    status: damage !== null ? 'damaged' : torn !== null ? 'torn-tail' : 'clean',
    damage,
    tornTail: torn,
    scan: result,
    recoveryReport: log.recoveryReport,
  };
}

/** Opens and scans; damage the open's recovery refuses is damage too. */
async function check(path: string): Promise<Verdict> {
  let log: Log;
  try {
    log = await openForReading(path);
  } catch (error) {
    if (!(error instanceof ClfsError) || error.code !== 'ERR_CLFS_CORRUPT') throw error;
    const lsn = typeof error.lsn === 'bigint' ? error.lsn : Lsn.INVALID;
    return { status: 'damaged', damage: { lsn, reason: error.message }, tornTail: null, scan: null };
  }
  try {
    return await scan(log);
  } finally {
    await log.close();
  }
}

function text(path: string, v: Verdict): string {
  const rows: [string, string][] = [['log', path]];
  if (v.scan !== null) {
    const s = v.scan;
    rows.push([
      'scanned',
      s.blocks === 0
        ? 'no records'
        : `${s.blocks} block(s), ${bytesText(s.bytes)}, ${lsnText(s.firstBlockLsn)} .. ${lsnText(s.lastBlockLsn)}`,
    ]);
  }
  if (v.tornTail !== null)
    rows.push(['torn tail', `at ${lsnText(v.tornTail.lsn)}: ${v.tornTail.reason} (dropped by recovery; not damage)`]);
  if (v.damage !== null) {
    // Damage with no LSN: both metadata copies, say.
    const at = v.damage.lsn === Lsn.INVALID ? '' : `at ${lsnText(v.damage.lsn)}: `;
    rows.push(['damage', `${at}${v.damage.reason}`]);
  }
  rows.push(['result', v.status]);
  return table(rows);
}

export const verify: Command = {
  name: 'verify',
  summary: 'check every block (checksum, chain); exit 0 clean, 1 torn tail, 2 damage: PATH [--json]',
  help: HELP,
  async run(args) {
    const parsed = parse(args, OPTIONS, ['PATH'], HELP);
    if (parsed === undefined) return EXIT.ok;
    const path = parsed.positionals[0]!;
    const verdict = await check(path);
    process.stdout.write(`${parsed.values.json === true ? json({ path, ...verdict }, 2) : text(path, verdict)}\n`);
    if (verdict.damage !== null) {
      const at = verdict.damage.lsn === Lsn.INVALID ? '' : ` at LSN ${lsnText(verdict.damage.lsn)}`;
      process.stderr.write(`clfs: the log is damaged${at} (ERR_CLFS_CORRUPT)\n`);
      return EXIT.damaged;
    }
    return verdict.tornTail !== null ? EXIT.tornTail : EXIT.ok;
  },
};
