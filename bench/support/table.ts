/**
 * Plain-text tables and number formatting for benchmark reports.
 * @module
 */

export type Align = 'left' | 'right';

export interface Column {
  header: string;
  align?: Align;
}

/** Renders rows under headers, columns padded to their widest cell, as lines of text. */
export function formatTable(columns: readonly Column[], rows: readonly (readonly string[])[]): string {
  const widths = columns.map((c, i) => Math.max(c.header.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    columns
      .map((c, i) => {
        const cell = cells[i] ?? '';
        return (c.align ?? 'left') === 'right' ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!);
      })
      .join('  ')
      .trimEnd();
  return [line(columns.map((c) => c.header)), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join(
    '\n',
  );
}

/** Prints a table to stdout, with an optional title line. */
export function printTable(columns: readonly Column[], rows: readonly (readonly string[])[], title?: string): void {
  if (title !== undefined) console.log(`\n${title}`);
  console.log(formatTable(columns, rows));
}

/** A number with about three significant digits (at least `minDecimals` below 1000); '-' when missing. */
export function fmt(value: number | undefined, minDecimals = 0): string {
  if (value === undefined || !Number.isFinite(value)) return '-';
  const abs = Math.abs(value);
  if (abs >= 1000) return Math.round(value).toString();
  const decimals = Math.max(minDecimals, abs >= 100 ? 0 : abs >= 10 ? 1 : 2);
  return value.toFixed(decimals);
}

/** A rate such as 12345 as '12.3k'. */
export function fmtRate(value: number | undefined): string {
  if (value === undefined || !Number.isFinite(value)) return '-';
  if (value >= 1e6) return `${(value / 1e6).toFixed(2)}M`;
  if (value >= 1e3) return `${(value / 1e3).toFixed(1)}k`;
  return value.toFixed(0);
}

/** A ratio with two decimals; '-' when missing. */
export function fmtRatio(value: number | undefined): string {
  return value === undefined || !Number.isFinite(value) ? '-' : value.toFixed(2);
}

/** Bytes as '512B', '4KiB', '1MiB'. */
export function fmtSize(bytes: number): string {
  if (bytes >= 1 << 20 && bytes % (1 << 20) === 0) return `${bytes / (1 << 20)}MiB`;
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024}KiB`;
  return `${bytes}B`;
}
