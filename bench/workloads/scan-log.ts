/**
 * The log W6 scans and W7 opens: `scanBytes` of 4 KiB records after one
 * restart area, written by a child process that is then SIGKILLed (a crash:
 * the log is not closed). Its container is large enough to hold them all,
 * so the metadata's tail stays at the restart area and the open after the
 * crash scans everything after it.
 *
 * To open "after the crash" again in every repetition, the files of the log
 * directory other than its containers (the base file: the metadata) are
 * saved right after the crash and put back before each such open; the
 * containers are never touched, so each open scans the same bytes.
 * @module
 */
import { execFile } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { Log } from '../../lib/index.ts';
import { MiB, type Context, type ScanLog } from '../core/context.ts';

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'children', 'scan-writer.js');

interface ScanState extends ScanLog {
  /** The metadata files as the crash left them. */
  saved: Map<string, Buffer>;
  /** Whether the directory holds the crash's metadata now (else a clean close's). */
  atCrash: boolean;
}

const states = new WeakMap<Context, ScanState>();

/** Room for record and block headers and padding past the payload. */
const containerSizeFor = (payload: number): number => Math.ceil((payload * 1.08 + 8 * MiB) / (512 * 1024)) * 512 * 1024;

async function listContainers(dir: string): Promise<{ containers: string[]; others: string[] }> {
  const names = await readdir(dir);
  // Containers are the large files; the rest (base file, lock) is metadata.
  const containers: string[] = [];
  const others: string[] = [];
  for (const n of names) (/container/i.test(n) ? containers : others).push(n);
  return { containers: containers.sort(), others };
}

/** Makes the scan log (once per run), by a child that crashes after writing it. */
export async function ensureScanLog(ctx: Context): Promise<void> {
  if (states.has(ctx)) return;
  const logPath = path.join(ctx.dir, 'log-scan');
  const containerSize = containerSizeFor(ctx.opts.scanBytes);
  ctx.progress(
    `writing the ${Math.round(ctx.opts.scanBytes / MiB)} MiB scan log in a child process, then killing it ...`,
  );
  const out = await new Promise<string>((resolve, reject) => {
    execFile(
      process.execPath,
      [CHILD, JSON.stringify({ path: logPath, containerSize, payloadBytes: ctx.opts.scanBytes })],
      { maxBuffer: 1 << 20, timeout: 600_000 },
      (error, stdout, stderr) => {
        // The child ends itself with SIGKILL: that is the success path. On
        // Windows that kill is TerminateProcess: exit code 1, nothing on stderr.
        const killedItself =
          error?.signal === 'SIGKILL' || (process.platform === 'win32' && error?.code === 1 && stderr === '');
        if (error !== null && !killedItself) reject(new Error(`scan-writer failed: ${error.message}\n${stderr}`));
        else resolve(stdout);
      },
    );
  });
  const written = JSON.parse(out.trim().split('\n').pop() ?? '{}') as {
    records: number;
    payloadBytes: number;
    containers: number;
  };
  if (written.containers !== 2) throw new Error(`the scan log grew to ${written.containers} containers`);
  const { containers, others } = await listContainers(logPath);
  if (containers.length === 0) throw new Error(`no container files found in ${logPath}`);
  const saved = new Map<string, Buffer>();
  for (const n of others) saved.set(n, await readFile(path.join(logPath, n)));
  const state: ScanState = {
    path: logPath,
    containerFile: path.join(logPath, containers[0]!),
    containerSize,
    payloadBytes: written.payloadBytes,
    records: written.records,
    crashed: true,
    saved,
    atCrash: true,
  };
  states.set(ctx, state);
  ctx.scanLog = state;
}

/** Puts the crash's metadata back, so the next Log.open runs the recovery scan. */
export async function restoreCrash(ctx: Context): Promise<void> {
  const s = states.get(ctx)!;
  if (s.atCrash) return;
  for (const [n, bytes] of s.saved) await writeFile(path.join(s.path, n), bytes);
  s.atCrash = true;
}

/** Makes the log cleanly closed (opening and closing it if the crash's metadata is in place). */
export async function ensureClean(ctx: Context): Promise<void> {
  const s = states.get(ctx)!;
  if (!s.atCrash) return;
  const log = await Log.open(s.path);
  await log.close();
  s.atCrash = false;
}

/** Records that the directory now holds a clean close's metadata. */
export function markClean(ctx: Context): void {
  states.get(ctx)!.atCrash = false;
}
