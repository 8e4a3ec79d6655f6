/**
 * `clfs info PATH`: the log's information, policy and what recovery found.
 * @module
 */
import type { Log } from '../log/log.ts';
import { EXIT, EXIT_HELP, bytesText, json, lsnText, parse, table, withLog, type Command } from './common.ts';

const HELP = `Usage: clfs info PATH [--json]

Prints what the log at PATH says of itself: its containers and space, its
base, last and restart LSNs, its policy, and what the open's recovery scan
found (read-only: works while a writer runs).

Options:
  --json      print { information, policy, recoveryReport } as JSON
  -h, --help  this help

${EXIT_HELP}`;

const OPTIONS = { json: { type: 'boolean' } } as const;

/** The recovery report in one line. */
export function recoveryText(log: Log): string {
  const r = log.recoveryReport;
  const parts = [`${r.blocksScanned} block(s) scanned past the metadata's tail, ${r.tailReason}`];
  // Beside a running writer the cut is often a block still being written: `clfs verify` tells.
  if (r.tailCutAt !== undefined) parts.push(`cut at ${lsnText(r.tailCutAt)}`);
  if (r.skipped.length > 0) parts.push(`${r.skipped.length} damaged range(s) skipped`);
  if (r.metadataProblems.length > 0) parts.push(`metadata: ${r.metadataProblems.join('; ')}`);
  return parts.join('; ');
}

export const info: Command = {
  name: 'info',
  summary: "a log's information, policy and recovery report: PATH [--json]",
  help: HELP,
  async run(args) {
    const parsed = parse(args, OPTIONS, ['PATH'], HELP);
    if (parsed === undefined) return EXIT.ok;
    const text = await withLog(parsed.positionals[0]!, async (log) => {
      const information = log.information();
      const policy = log.policy();
      if (parsed.values.json === true) {
        return json({ path: log.path, information, policy, recoveryReport: log.recoveryReport }, 2);
      }
      const i = information;
      return table([
        ['path', log.path],
        ['identity', i.identity],
        ['kind', i.archive ? `archive (archive tail ${lsnText(i.archiveTailLsn)})` : 'ephemeral'],
        ['containers', `${i.totalContainers} x ${bytesText(i.containerSize)}, ${i.freeContainers} free`],
        [
          'space',
          `${bytesText(i.totalAvailable)} in all, ${bytesText(i.currentAvailable)} available, ${bytesText(i.totalReservation)} reserved`,
        ],
        ['sector size', `${i.sectorSize} B (${i.direct ? 'direct' : 'buffered'} I/O)`],
        ['base LSN', lsnText(i.baseLsn)],
        ['last LSN', lsnText(i.lastLsn)],
        ['restart LSN', lsnText(i.restartLsn)],
        [
          'policy',
          Object.entries(policy)
            .map(([k, v]) => `${k}=${String(v)}`)
            .join(' '),
        ],
        ['recovery', recoveryText(log)],
      ]);
    });
    process.stdout.write(`${text}\n`);
    return EXIT.ok;
  },
};
