/**
 * `clfs stats PATH`: what a log holds, from a full scan (lib/log/verify.ts):
 * records and bytes by type, blocks, each container's use, space, LSNs,
 * record sizes.
 * @module
 */
import { ClfsError } from '../errors.ts';
import { reclaimLsnOf } from '../format/metadata.ts';
import type { Log } from '../log/log.ts';
import type { LoadedBlock } from '../log/read/loaded-block.ts';
import { scanLog, type BlockVisitor, type ScanResult } from '../log/verify.ts';
import { containerOf, type Lsn } from '../lsn.ts';
import { EXIT, EXIT_HELP, bytesText, json, lsnText, parse, table, withLog, type Command } from './common.ts';
import { ProgressBar } from './progress.ts';

const HELP = `Usage: clfs stats PATH [--json]

Reads the whole log at PATH (from the base to the last record) and prints:
records and their bytes by type (data, restart), blocks and their bytes on
disk, each container's use, space free and reserved, the base, last and
restart LSNs, and data record sizes (min, median, max). Records carry no
timestamps: their age is not known. Read-only: works while a writer runs.

Options:
  --json      print the statistics as JSON (LSNs as "0x..." strings)
  -h, --help  this help

${EXIT_HELP}`;

const OPTIONS = { json: { type: 'boolean' } } as const;

/** Record sizes, kept compactly, for the distribution. */
class Sizes {
  #values = new Uint32Array(1024);
  count = 0;

  add(size: number): void {
    if (this.count === this.#values.length) {
      const grown = new Uint32Array(this.#values.length * 2);
      grown.set(this.#values);
      this.#values = grown;
    }
    this.#values[this.count++] = size;
  }

  summary(): { min: number; median: number; max: number } | null {
    if (this.count === 0) return null;
    const sorted = this.#values.subarray(0, this.count).sort();
    return { min: sorted[0]!, median: sorted[Math.floor((this.count - 1) / 2)]!, max: sorted[this.count - 1]! };
  }
}

type Count = { count: number; bytes: number };

/** What stats prints. */
interface Stats {
  path: string;
  records: { data: Count; restart: Count };
  recordSize: { min: number; median: number; max: number } | null;
  blocks: Count;
  containers: { physical: number; logicalId: number; state: string; bytes: number }[];
  containerSize: number;
  space: { total: number; available: number; reserved: number };
  lsns: { base: Lsn; last: Lsn; restart: Lsn; archiveTail: Lsn };
}

/** What the scan counts (made again when it starts again). */
class Tally {
  readonly sizes = new Sizes();
  readonly records = { data: { count: 0, bytes: 0 }, restart: { count: 0, bytes: 0 } };
  /** Block bytes by logical container. */
  readonly used = new Map<number, number>();

  visit(block: LoadedBlock, count: number): void {
    const id = containerOf(block.lsn);
    this.used.set(id, (this.used.get(id) ?? 0) + block.length);
    for (const record of block.records.slice(0, count)) {
      this.records[record.type].count++;
      this.records[record.type].bytes += record.dataLength;
      if (record.type === 'data') this.sizes.add(record.dataLength);
    }
  }
}

/** The statistics of the open log. */
async function statistics(log: Log): Promise<Stats> {
  let tally = new Tally();
  const bar = new ProgressBar('reading');
  let scan: ScanResult;
  try {
    const visitor = (): BlockVisitor => {
      tally = new Tally();
      return (block, count) => tally.visit(block, count);
    };
    scan = await scanLog(log.core, visitor, (done, total) => bar.update(done, total));
  } finally {
    bar.clear();
  }
  if (scan.damage !== undefined) {
    throw new ClfsError(
      'ERR_CLFS_CORRUPT',
      `the log is damaged at LSN ${lsnText(scan.damage.lsn)} (${scan.damage.reason}): run clfs verify`,
      { lsn: scan.damage.lsn },
    );
  }
  const i = log.information();
  // Containers below the base (and on an archive log, the archive tail) are free.
  const kept = containerOf(reclaimLsnOf(i.baseLsn, i.archiveTailLsn, i.archive));
  const containers = log.core.table.logicalIds.map((logicalId, physical) => ({
    physical,
    logicalId,
    state: logicalId === 0 ? 'never used' : logicalId < kept ? 'free' : 'in use',
    bytes: tally.used.get(logicalId) ?? 0,
  }));
  return {
    path: log.path,
    records: tally.records,
    recordSize: tally.sizes.summary(),
    blocks: { count: scan.blocks, bytes: scan.bytes },
    containers,
    containerSize: i.containerSize,
    space: { total: i.totalAvailable, available: i.currentAvailable, reserved: i.totalReservation },
    lsns: { base: i.baseLsn, last: i.lastLsn, restart: i.restartLsn, archiveTail: i.archiveTailLsn },
  };
}

function text(s: Stats): string {
  const { records: r, recordSize: size, blocks, space, lsns } = s;
  const rows: [string, string][] = [
    ['log', s.path],
    ['data records', `${r.data.count} (${bytesText(r.data.bytes)})`],
    ['restart records', `${r.restart.count} (${bytesText(r.restart.bytes)})`],
    ['data record size', size === null ? '-' : `min ${size.min} B, median ${size.median} B, max ${size.max} B`],
    ['blocks', `${blocks.count} (${bytesText(blocks.bytes)} on disk)`],
    [
      'space',
      `${bytesText(space.total)} in all, ${bytesText(space.available)} available, ${bytesText(space.reserved)} reserved`,
    ],
    ['base LSN', lsnText(lsns.base)],
    ['last LSN', lsnText(lsns.last)],
    ['restart LSN', lsnText(lsns.restart)],
  ];
  for (const c of s.containers) {
    const of = c.logicalId === 0 ? '' : ` (logical ${c.logicalId})`;
    const use = c.state === 'in use' ? `, ${bytesText(c.bytes)} of ${bytesText(s.containerSize)} scanned` : '';
    rows.push([`container ${c.physical}`, `${c.state}${of}${use}`]);
  }
  return table(rows);
}

export const stats: Command = {
  name: 'stats',
  summary: 'records, blocks, containers, space and record sizes: PATH [--json]',
  help: HELP,
  async run(args) {
    const parsed = parse(args, OPTIONS, ['PATH'], HELP);
    if (parsed === undefined) return EXIT.ok;
    const s = await withLog(parsed.positionals[0]!, statistics);
    process.stdout.write(`${parsed.values.json === true ? json(s, 2) : text(s)}\n`);
    return EXIT.ok;
  },
};
