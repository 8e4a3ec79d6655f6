/**
 * The console report: each workload's table, its bar and whether this run
 * met it, then every verdict in one table.
 * @module
 */
import { fmt, formatTable } from '../support/table.ts';
import type { Verdict, WorkloadReport } from '../core/types.ts';

function verdictValue(v: Verdict): string {
  if (!Number.isFinite(v.value)) return '-';
  return Math.abs(v.value) >= 1000 ? `${(v.value / 1e6).toFixed(2)}M` : fmt(v.value, 2);
}

function verdictLine(v: Verdict): string {
  const result = v.result === 'unmeasured' ? `unmeasured (${v.why ?? ''})` : v.result;
  return `${v.what}: ${verdictValue(v)} (bar ${v.bar}) ${result}`;
}

/** The text of one workload's section. */
export function formatWorkload(r: WorkloadReport): string {
  const lines = [`${r.title}`, `bar: ${r.bar}`];
  if (r.skipped !== undefined) {
    lines.push(`skipped: ${r.skipped}`);
    return lines.join('\n');
  }
  if (r.rows.length > 0) lines.push(formatTable(r.columns, r.rows));
  if (r.note !== undefined) lines.push(r.note);
  for (const v of r.verdicts)
    lines.push(`  ${v.result === 'met' ? 'met   ' : v.result === 'missed' ? 'MISSED' : '  -   '} ${verdictLine(v)}`);
  return lines.join('\n');
}

/** Every verdict of the run, one row each. */
export function formatVerdicts(reports: readonly WorkloadReport[]): string {
  const rows: string[][] = [];
  for (const r of reports) {
    if (r.skipped !== undefined) {
      rows.push([r.id, r.skipped, '', '', 'skipped']);
      continue;
    }
    for (const v of r.verdicts) rows.push([r.id, v.what.replace(/^W\w+:? ?/, ''), verdictValue(v), v.bar, v.result]);
  }
  return formatTable(
    [
      { header: 'id' },
      { header: 'what' },
      { header: 'this run', align: 'right' },
      { header: 'bar' },
      { header: 'result' },
    ],
    rows,
  );
}
