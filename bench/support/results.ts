/**
 * Where benchmark results go: `bench/results/<name>-<timestamp>.json` under
 * the package root (found from this file, so it works from `dist/bench/`).
 * @module
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { packageRoot } from '../../lib/native/binding.ts';

export { packageRoot };

/** `bench/results/` of the package. */
export function resultsDir(): string {
  return path.join(packageRoot(), 'bench', 'results');
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
 * dir: bench/results/; non-finite numbers become null) and returns the path.
 */
export async function writeResult(name: string, data: unknown, date = new Date(), dir = resultsDir()): Promise<string> {
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, `${name}-${fileTimestamp(date)}.json`);
  await writeFile(file, resultJson(data));
  return file;
}
