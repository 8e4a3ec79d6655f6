// Helpers for the Log-level tests (test/log): logs on the real disk, child
// processes that crash on purpose, and damaging a closed log's files with
// node:fs the way a torn write or a bad sector would.
import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { closeSync, openSync, readFileSync, readSync, readdirSync, writeSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

import { expect } from 'vitest';

import { crc32c, Log, Lsn, type CreateLogOptions } from '../../lib/index.ts';
import { parseBlockHeader, type BlockHeader } from '../../lib/format/block.ts';
import { decodeMetadata, SLOT_SIZE, type Metadata } from '../../lib/format/metadata.ts';
import { BASE_FILE, containerFileName } from '../../lib/storage/log-directory.ts';
import { DIST_ENTRY, runChild, type ChildResult } from './helpers.ts';
import { diedOfOwnKill } from './platform.ts';
import { KiB } from './sizes.ts';
import { prng } from './random.ts';

export { BASE_FILE, containerFileName, SLOT_SIZE };

/** Creates a log under os.tmpdir() and checks it really got direct I/O (the machine's ext4 gives it). */
export async function createLog(logPath: string, options?: CreateLogOptions): Promise<Log> {
  const log = await Log.create(logPath, options);
  expect(log.information().direct, 'direct I/O on os.tmpdir()').toBe(true);
  return log;
}

/** Opens a log under os.tmpdir() and checks it got direct I/O. */
export async function openLog(logPath: string, options?: Parameters<typeof Log.open>[1]): Promise<Log> {
  const log = await Log.open(logPath, options);
  expect(log.information().direct, 'direct I/O on os.tmpdir()').toBe(true);
  return log;
}

/** What a promise rejected with (failing the test if it resolved). */
export async function rejectionOf(promise: Promise<unknown>): Promise<Error & Record<string, unknown>> {
  try {
    await promise;
  } catch (error) {
    return error as Error & Record<string, unknown>;
  }
  return expect.fail('expected a rejection, but the promise resolved');
}

export { thrownBy } from './native.ts';

// --- records ------------------------------------------------------------------

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function text(s: string): Uint8Array {
  return encoder.encode(s);
}

export function textOf(data: Uint8Array): string {
  return decoder.decode(data);
}

/** Every record of the log readable from its base, forward, as { lsn, data }. */
export async function readAll(log: Log, bufferSize = 64 * KiB): Promise<{ lsn: Lsn; data: Uint8Array }[]> {
  const area = await log.createMarshallingArea({ bufferSize });
  try {
    const out: { lsn: Lsn; data: Uint8Array }[] = [];
    for await (const record of area.records()) out.push({ lsn: record.lsn, data: record.data });
    return out;
  } finally {
    await area.close();
  }
}

// --- files ---------------------------------------------------------------------

/** The newest valid metadata slot of a log's base file (what Log.open uses). */
export function newestMetadata(logPath: string): Metadata {
  const bytes = readFileSync(path.join(logPath, BASE_FILE));
  let best: Metadata | undefined;
  for (const slot of [0, 1]) {
    const m = decodeMetadata(bytes.subarray(slot * SLOT_SIZE, (slot + 1) * SLOT_SIZE), (b) => crc32c(b));
    if (typeof m !== 'string' && (best === undefined || m.dumpCount > best.dumpCount)) best = m;
  }
  if (best === undefined) throw new Error(`no valid metadata slot in ${logPath}`);
  return best;
}

/** The dump count stored at byte 16 of each slot (0 for a slot never written). */
export function dumpCounts(logPath: string): [bigint, bigint] {
  const bytes = readFileSync(path.join(logPath, BASE_FILE));
  return [bytes.readBigUInt64LE(16), bytes.readBigUInt64LE(SLOT_SIZE + 16)];
}

/** The container file holding the block of `lsn` (logical id mapped through the newest metadata). */
export function containerFileOf(logPath: string, lsn: Lsn): string {
  const physical = newestMetadata(logPath).containers.indexOf(Lsn.containerId(lsn));
  if (physical === -1) throw new Error(`no physical container holds logical container ${Lsn.containerId(lsn)}`);
  return path.join(logPath, containerFileName(physical));
}

export function containerFiles(logPath: string): string[] {
  return readdirSync(logPath)
    .filter((name) => name.startsWith('container-'))
    .sort();
}

export function readAt(file: string, offset: number, length: number): Buffer {
  const fd = openSync(file, 'r');
  try {
    const buffer = Buffer.alloc(length);
    const n = readSync(fd, buffer, 0, length, offset);
    return buffer.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

export function writeAt(file: string, offset: number, bytes: Uint8Array): void {
  const fd = openSync(file, 'r+');
  try {
    writeSync(fd, bytes, 0, bytes.length, offset);
  } finally {
    closeSync(fd);
  }
}

/** Inverts one byte of a file. */
export function flipByte(file: string, offset: number): void {
  const [byte] = readAt(file, offset, 1);
  writeAt(file, offset, Uint8Array.of(byte! ^ 0xff));
}

/** The header of the block at `blockLsn`, parsed from its container file (for checking a test's premises). */
export function blockHeaderAt(logPath: string, blockLsn: Lsn): BlockHeader {
  const meta = newestMetadata(logPath);
  const bytes = readAt(containerFileOf(logPath, blockLsn), Lsn.blockOffset(blockLsn), 64);
  const header = parseBlockHeader(bytes, meta.sectorUnit, meta.containerSize);
  if (typeof header === 'string') throw new Error(`no block header at ${Lsn.format(blockLsn)}: ${header}`);
  return header;
}

/** Whether a command-line tool runs here. */
export function toolWorks(command: string, args: string[]): boolean {
  try {
    execFileSync(command, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

// --- child processes ---------------------------------------------------------

/**
 * Runs `source` in a child process (`import ... from 'CLFS'` gets the built
 * library). `args` reach it as `ARGS` (JSON in $CLFS_TEST_ARGS).
 */
export function runLogChild(source: string, args: unknown, timeoutMs = 30_000): Promise<ChildResult> {
  const prelude = 'const ARGS = JSON.parse(process.env.CLFS_TEST_ARGS);\n';
  return runChild(prelude + source, {
    env: { CLFS_TEST_ARGS: JSON.stringify(args, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v)) },
    timeoutMs,
  });
}

/** Lines of a child's stdout starting with `tag `, split on spaces (tag dropped). */
export function taggedLines(stdout: string, tag: string): string[][] {
  return stdout
    .split('\n')
    .filter((line) => line.startsWith(`${tag} `))
    .map((line) => line.split(' ').slice(1));
}

/** Asserts a child died of the SIGKILL it sent itself (not of an error first; on Windows, TerminateProcess). */
export function expectKilled(result: ChildResult): void {
  expect(diedOfOwnKill(result), `child exit ${result.code} ${result.signal}, stderr: ${result.stderr}`).toBe(true);
}

/** A child process running `source`, whose stdout is collected as it comes. */
export interface LiveChild {
  process: ChildProcessWithoutNullStreams;
  stdout: () => string;
  stderr: () => string;
  /** Resolves when stdout has shown `line` (a whole line), or rejects if the child ends first. */
  waitForLine: (line: string) => Promise<void>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function spawnLogChild(source: string, args: unknown): LiveChild {
  const child = spawn(
    process.execPath,
    ['--input-type=module', '-e', childScript(source, pathToFileURL(DIST_ENTRY).href)],
    {
      env: { ...process.env, CLFS_TEST_ARGS: JSON.stringify(args) },
    },
  );
  return liveChild(child);
}

/** `source` with `import ... from 'CLFS'` pointing at `entryUrl`, and `ARGS` parsed from $CLFS_TEST_ARGS. */
export function childScript(source: string, entryUrl: string): string {
  const prelude = 'const ARGS = JSON.parse(process.env.CLFS_TEST_ARGS);\n';
  return (prelude + source).replaceAll("'CLFS'", JSON.stringify(entryUrl));
}

/** Collects a spawned child's output as it comes, and lets a test wait for a line of it. */
export function liveChild(child: ChildProcessWithoutNullStreams): LiveChild {
  let out = '';
  let err = '';
  const watchers: { line: string; resolve: () => void }[] = [];
  const hasLine = (line: string): boolean => out.split('\n').slice(0, -1).includes(line);
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    for (const w of [...watchers]) {
      if (hasLine(w.line)) {
        watchers.splice(watchers.indexOf(w), 1);
        w.resolve();
      }
    }
  });
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal })),
  );
  return {
    process: child,
    stdout: () => out,
    stderr: () => err,
    waitForLine: (line) =>
      new Promise<void>((resolve, reject) => {
        if (hasLine(line)) return resolve();
        watchers.push({ line, resolve });
        void exited.then(() => reject(new Error(`the child ended before printing '${line}': ${err}`)));
      }),
    exited,
  };
}

// --- payloads ------------------------------------------------------------------

/**
 * A deterministic payload for (seed, round, seq): 12 header bytes (round,
 * seq, length, big-endian) then seeded bytes; 12..max bytes long. The same
 * source runs in the children (payloadSource) and in the parent, so the
 * parent can tell a generated record from anything else.
 */
export const payloadSource = `
${prng.toString()}
function seededRandom(seed) {
  const random = prng(seed);
  return () => random() * 4294967296;
}
function payloadFor(seed, round, seq, max) {
  const next = seededRandom((seed ^ Math.imul(round + 1, 0x9e3779b1) ^ Math.imul(seq + 1, 0x85ebca6b)) >>> 0);
  const length = 12 + (next() % (max - 11));
  const bytes = new Uint8Array(length);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, round);
  view.setUint32(4, seq);
  view.setUint32(8, length);
  for (let i = 12; i < length; i++) bytes[i] = next() & 0xff;
  return bytes;
}
`;

export const payloadFor = new Function(`${payloadSource}; return payloadFor;`)() as (
  seed: number,
  round: number,
  seq: number,
  max: number,
) => Uint8Array;
