/**
 * Where benchmark results go: `<dir>/<name>-<timestamp>.json`, by default
 * in a directory under the system's temporary directory (a run never
 * writes into the package unless asked: `--out bench/results`).
 * @module
 */
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { packageRoot } from '../../lib/native/binding.ts';

export { packageRoot };

/** The default results directory: `clfs-bench-results` under the system's temporary directory. */
export function resultsDir(): string {
  return path.join(os.tmpdir(), 'clfs-bench-results');
}

/**
 * An ISO-8601 UTC timestamp safe in file names on every OS: colons become
 * dashes (`2025-01-31T20-15-02.123Z`).
 */
export function fileTimestamp(date = new Date()): string {
  return date.toISOString().replace(/:/g, '-');
}

/** `data` as pretty JSON, non-finite numbers as null. */
export function resultJson(data: unknown): string {
  const text = JSON.stringify(data, (_key, value: unknown) =>
    typeof value === 'number' && !Number.isFinite(value) ? null : value,
  );
  return `${JSON.stringify(JSON.parse(text), null, 2)}\n`;
}

/**
 * Writes `data` as pretty JSON to `<dir>/<name>-<timestamp>.json` (default
 * dir: resultsDir(); non-finite numbers become null) and returns the path.
 */
export async function writeResult(name: string, data: unknown, date = new Date(), dir = resultsDir()): Promise<string> {
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, `${name}-${fileTimestamp(date)}.json`);
  await writeFile(file, resultJson(data));
  return file;
}
