// Running the `clfs` command line as users do: `node dist/lib/cli/main.js`
// (test/global-setup.ts compiles it), in a child process.
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';

import { expect } from 'vitest';

import { Log, type Lsn } from '../../lib/index.ts';
import { int, payload, prng } from '../support/fixtures.ts';
import { ROOT } from '../support/helpers.ts';
import { liveChild, type LiveChild } from '../support/log.ts';

export const CLI = path.join(ROOT, 'dist', 'lib', 'cli', 'main.js');

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `clfs ...args` to its end. */
export function clfs(...args: string[]): CliResult {
  const run = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

/** Runs `clfs ...args` and parses its stdout as JSON (LSNs come as strings). */
export function clfsJson(...args: string[]): Record<string, unknown> {
  const run = clfs(...args, '--json');
  expect(run.stderr).toBe('');
  expect(run.status).toBe(0);
  return JSON.parse(run.stdout) as Record<string, unknown>;
}

/** A failure: the exit code, and one line on stderr `clfs: ... (CODE)`, no stack trace. */
export function expectFailure(run: CliResult, status: number, code: string): string {
  expect(run.status, run.stderr).toBe(status);
  const lines = run.stderr.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(new RegExp(`^clfs: .+ \\(${code}\\)$`));
  expect(run.stderr).not.toMatch(/\n\s+at /);
  return lines[0]!;
}

/** Starts `clfs ...args` in the background, collecting its output. */
export function clfsLive(...args: string[]): LiveChild {
  return liveChild(spawn(process.execPath, [CLI, ...args]));
}

/** Waits until `check` holds (polling), or fails after `ms` saying `what` (a function: read then). */
export async function until(check: () => boolean, what: string | (() => string), ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${typeof what === 'string' ? what : what()}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A record the tests wrote: its LSN and data. */
export interface Written {
  lsn: Lsn;
  data: Uint8Array;
}

/**
 * Creates a log at `logPath` with `count` seeded data records, each flushed
 * on its own (`blocks`: one block each) or all in one go, and a restart area
 * after them; closes it cleanly.
 */
export async function writeLog(
  logPath: string,
  seed: number,
  count: number,
  options: { flushEach?: boolean; restart?: boolean } = {},
): Promise<Written[]> {
  const random = prng(seed);
  const log = await Log.create(logPath, { containerSize: 512 * 1024, containers: 2 });
  const area = await log.createMarshallingArea({ bufferSize: 64 * 1024 });
  const written: Written[] = [];
  let previousLsn: Lsn | undefined;
  for (let i = 0; i < count; i++) {
    const data = payload(random, `r${i}`, int(random, 8, 300));
    const append = { forceFlush: options.flushEach === true, ...(previousLsn === undefined ? {} : { previousLsn }) };
    const { lsn } = await area.reserveAndAppend(data, append);
    previousLsn = lsn;
    written.push({ lsn, data });
  }
  if (options.restart !== false) await area.writeRestartArea(new TextEncoder().encode('checkpoint'));
  await log.close();
  return written;
}
