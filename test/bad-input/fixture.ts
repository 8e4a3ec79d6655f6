// The logs, areas, contexts and files the bad-input table is run against, and
// the check that they are intact afterwards.
//
// This module (like the rest of test/bad-input except the .test.ts file)
// imports nothing of clfs at run time: the library comes in as an argument,
// so the same code runs in the test process (lib/ through vitest) and in a
// child process (dist/, after a plain TypeScript transpile).
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import type * as ClfsModule from '../../lib/index.ts';
import type { DirectFile, Log, Lsn, MarshallingArea, ReadContext } from '../../lib/index.ts';
import { KiB } from '../support/sizes.ts';

export type Clfs = typeof ClfsModule;

/** Every log here: two containers of 512 KiB (the smallest CLFS allows). */
export const CONTAINER_SIZE = 512 * KiB;
/** Every area here (unless a case says otherwise). */
export const BUFFER_SIZE = 16 * KiB;
/** Async calls that have not settled after this long count as hung. */
export const HANG_MS = 2000;

/** What a record should read back as. */
export interface ExpectedRecord {
  lsn: Lsn;
  type: 'data' | 'restart';
  data: Uint8Array;
  previousLsn: Lsn;
  undoNextLsn: Lsn;
}

/**
 * Log A, the one whose integrity the table guards:
 * - r0, flushed, then left below the base by the restart area;
 * - r1..r4 in one flushed multi-sector block (r2..r4 chained by previousLsn,
 *   r3's undoNextLsn is r1);
 * - rs1, a restart area that moved the base to r1 (flushed);
 * - r5, r6 appended and not flushed (still in the write buffer).
 */
export interface MainLog {
  path: string;
  log: Log;
  area: MarshallingArea;
  /** r[0] is below the base; r[1..6] are readable. */
  r: Lsn[];
  rs1: Lsn;
  /** Every readable record, oldest first (client filter). */
  records: ExpectedRecord[];
  /** A sector inside r1's block where no block starts. */
  midBlock: Lsn;
  /** r1's block with a record sequence its block does not have. */
  noRecord: Lsn;
  /** An LSN past the last record (a later container). */
  future: Lsn;
}

export interface Fixture {
  clfs: Clfs;
  dir: string;
  sectorSize: number;
  A: MainLog;
  /** An empty log: no records, no restart area. */
  B: { path: string; log: Log; area: MarshallingArea };
  /** A log closed after an area, a data context and a restart context were made on it. */
  C: { path: string; log: Log; area: MarshallingArea; context: ReadContext; restartContext: ReadContext };
  /** An area of A, closed, and a context opened on it before. */
  closedArea: MarshallingArea;
  closedAreaContext: ReadContext;
  /** A DirectFile, open, 64 KiB, its first 4 KiB written with `fileContent`. */
  file: DirectFile;
  filePath: string;
  fileContent: Uint8Array;
  closedFile: DirectFile;
  /** A fresh, not yet existing path under the scratch directory. */
  tmp(name?: string): string;
  /** A fresh empty directory. */
  tmpDir(): string;
  /** Closes what cases opened and did not close (run after the table). */
  cleanups: (() => Promise<unknown>)[];
}

/** Recognisable bytes: `length` of them from `seed`. */
export function pattern(length: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(length);
  let x = (seed * 2654435761) >>> 0;
  for (let i = 0; i < length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    bytes[i] = x >>> 24;
  }
  return bytes;
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && a.every((v, i) => v === b[i]);
}

export async function makeFixture(clfs: Clfs, dir: string): Promise<Fixture> {
  const { Log, Lsn, DirectFile, alignedBuffer } = clfs;
  let counter = 0;
  const scratch = path.join(dir, 'scratch');
  mkdirSync(scratch, { recursive: true });
  const tmp = (name = 'x'): string => path.join(scratch, `${++counter}-${name}`);

  // --- A ---------------------------------------------------------------------
  const aPath = path.join(dir, 'a');
  const aLog = await Log.create(aPath, { containerSize: CONTAINER_SIZE });
  if (aLog.information().direct !== true) throw new Error(`no direct I/O under ${dir}: the table needs real O_DIRECT`);
  const sectorSize = aLog.information().sectorSize;
  const area = await aLog.createMarshallingArea({ bufferSize: BUFFER_SIZE, flushIntervalMs: 0, maxReadBuffers: 4 });
  const I = Lsn.INVALID;
  const r: Lsn[] = [];
  const records: ExpectedRecord[] = [];
  const append = async (
    data: Uint8Array,
    chain: { previousLsn?: Lsn; undoNextLsn?: Lsn },
    flags: { forceFlush?: boolean },
  ): Promise<void> => {
    const { lsn } = await area.reserveAndAppend(data, { ...chain, ...flags });
    r.push(lsn!);
    records.push({
      lsn: lsn!,
      type: 'data',
      data,
      previousLsn: chain.previousLsn ?? I,
      undoNextLsn: chain.undoNextLsn ?? I,
    });
  };
  await append(pattern(100, 0), {}, { forceFlush: true });
  await append(pattern(200, 1), {}, {});
  await append(pattern(300, 2), { previousLsn: r[1] }, {});
  await append(pattern(400, 3), { previousLsn: r[2], undoNextLsn: r[1] }, {});
  // Big enough that r1's block spans more than one sector.
  await append(pattern(Math.min(2 * sectorSize, BUFFER_SIZE - 2048), 4), { previousLsn: r[3] }, { forceFlush: true });
  const restartData = new TextEncoder().encode('restart-1');
  const { lsn: rs1 } = await area.writeRestartArea(restartData, { newBaseLsn: r[1] });
  records.push({ lsn: rs1, type: 'restart', data: restartData, previousLsn: I, undoNextLsn: I });
  await append(pattern(100, 5), { previousLsn: r[4] }, {});
  await append(pattern(100, 6), { previousLsn: r[5], undoNextLsn: r[2] }, {});
  records.splice(0, 1); // r0 is below the base
  const r1Block = r[1]! & ~0x1ffn;
  if (Lsn.blockOffset(r[2]!) !== Lsn.blockOffset(r[1]!) || Lsn.blockOffset(r[4]!) !== Lsn.blockOffset(r[1]!)) {
    throw new Error('fixture: r1..r4 were expected in one block');
  }
  if (Lsn.blockOffset(r[5]!) <= Lsn.blockOffset(rs1))
    throw new Error('fixture: r5 was expected after the restart block');
  const A: MainLog = {
    path: aPath,
    log: aLog,
    area,
    r,
    rs1,
    records,
    midBlock: r1Block + BigInt(sectorSize),
    noRecord: r1Block + 300n,
    future: Lsn.create(Lsn.containerId(r[6]!) + 5, 0, 0),
  };

  // --- B: empty ---------------------------------------------------------------
  const bPath = path.join(dir, 'b');
  const bLog = await Log.create(bPath, { containerSize: CONTAINER_SIZE });
  const B = {
    path: bPath,
    log: bLog,
    area: await bLog.createMarshallingArea({ bufferSize: BUFFER_SIZE, flushIntervalMs: 0 }),
  };

  // --- C: closed --------------------------------------------------------------
  const cPath = path.join(dir, 'c');
  const cLog = await Log.create(cPath, { containerSize: CONTAINER_SIZE });
  const cArea = await cLog.createMarshallingArea({ bufferSize: BUFFER_SIZE, flushIntervalMs: 0 });
  const { lsn: c0 } = await cArea.reserveAndAppend(pattern(50, 7), { forceFlush: true });
  await cArea.writeRestartArea(pattern(20, 8));
  const cContext = await cArea.readLogRecord(c0!, 'forward');
  const cRestart = (await cArea.readRestartArea()).context;
  await cLog.close();
  const C = { path: cPath, log: cLog, area: cArea, context: cContext, restartContext: cRestart };

  // --- an area of A, closed ----------------------------------------------------
  const closedArea = await aLog.createMarshallingArea({ bufferSize: BUFFER_SIZE, flushIntervalMs: 0 });
  const closedAreaContext = await closedArea.readLogRecord(r[1]!, 'forward');
  await closedArea.close();

  // --- DirectFiles -------------------------------------------------------------
  const filePath = path.join(dir, 'file');
  const file = await DirectFile.open(filePath, { create: true });
  await file.preallocate(64 * KiB);
  const fileContent = pattern(4 * KiB, 9);
  const block = alignedBuffer(4 * KiB);
  block.set(fileContent);
  await file.write(0, block);
  const closedPath = path.join(dir, 'closed-file');
  const closedFile = await DirectFile.open(closedPath, { create: true });
  await closedFile.close();

  return {
    clfs,
    dir,
    sectorSize,
    A,
    B,
    C,
    closedArea,
    closedAreaContext,
    file,
    filePath,
    fileContent,
    closedFile,
    tmp,
    tmpDir: () => {
      const d = tmp('dir');
      mkdirSync(d);
      return d;
    },
    cleanups: [],
  };
}

/** A directory holding `files` (name -> content). */
export function dirWith(f: Fixture, files: Record<string, string | Uint8Array>): string {
  const d = f.tmpDir();
  for (const [name, content] of Object.entries(files)) writeFileSync(path.join(d, name), content);
  return d;
}

/** Names in `dir`, sorted. */
export function listing(dir: string): string[] {
  return readdirSync(dir).sort();
}

/** A small log of its own for a case, closed after the table if the case does not. */
export async function caseLog(f: Fixture): Promise<{ log: Log; path: string }> {
  const p = f.tmp('log');
  const log = await f.clfs.Log.create(p, { containerSize: CONTAINER_SIZE });
  f.cleanups.push(() => log.close());
  return { log, path: p };
}

/** The state bad calls must leave as it was. */
export function snapshot(f: Fixture): string {
  const a = f.A.log.information();
  const b = f.B.log.information();
  return JSON.stringify(
    {
      'A.lastLsn': a.lastLsn,
      'A.baseLsn': a.baseLsn,
      'A.restartLsn': a.restartLsn,
      'A.totalReservation': a.totalReservation,
      'A.totalContainers': a.totalContainers,
      'A.area.reservedRecords': f.A.area.reservedRecords,
      'A.area.reservedBytes': f.A.area.reservedBytes,
      'B.lastLsn': b.lastLsn,
      'B.baseLsn': b.baseLsn,
      'B.restartLsn': b.restartLsn,
      'B.totalReservation': b.totalReservation,
      'B.totalContainers': b.totalContainers,
      'file.writes': f.file.stats().writes,
    },
    (_key, value: unknown) => (typeof value === 'bigint' ? `0x${value.toString(16)}` : value),
  );
}

/** What changed between two snapshots, in words; undefined if nothing. */
export function snapshotDiff(before: string, after: string): string | undefined {
  if (before === after) return undefined;
  const b = JSON.parse(before) as Record<string, unknown>;
  const a = JSON.parse(after) as Record<string, unknown>;
  return Object.keys(b)
    .filter((k) => b[k] !== a[k])
    .map((k) => `${k} ${String(b[k])} -> ${String(a[k])}`)
    .join(', ');
}

function describeRecord(r: { lsn: Lsn; type: string; data: Uint8Array; previousLsn: Lsn; undoNextLsn: Lsn }): string {
  return `{lsn 0x${r.lsn.toString(16)}, ${r.type}, ${r.data.byteLength} bytes, prev 0x${r.previousLsn.toString(16)}, undoNext 0x${r.undoNextLsn.toString(16)}}`;
}

function sameRecord(a: ExpectedRecord, b: ExpectedRecord): boolean {
  return (
    a.lsn === b.lsn &&
    a.type === b.type &&
    a.previousLsn === b.previousLsn &&
    a.undoNextLsn === b.undoNextLsn &&
    sameBytes(a.data, b.data)
  );
}

/** Every record of `area`'s log from the base, any type, compared with `expected`. */
async function compareRecords(area: MarshallingArea, expected: ExpectedRecord[], where: string): Promise<string[]> {
  const got: ExpectedRecord[] = [];
  for await (const rec of area.records(undefined, 'forward', { type: 'client' })) got.push(rec);
  const problems: string[] = [];
  if (got.length !== expected.length)
    problems.push(`${where}: ${got.length} records read, ${expected.length} expected`);
  for (let i = 0; i < Math.max(got.length, expected.length); i++) {
    const g = got[i];
    const e = expected[i];
    if (g === undefined || e === undefined || !sameRecord(g, e)) {
      problems.push(
        `${where}: record ${i} is ${g ? describeRecord(g) : 'missing'}, expected ${e ? describeRecord(e) : 'none'}`,
      );
    }
  }
  return problems;
}

/**
 * After the table: A's records are all there, byte-exact with their chains;
 * A takes new appends; its area leaked no read buffer and holds no
 * reservation; B and the DirectFile are as they were; and after close +
 * Log.open everything is still there. Returns the problems found.
 */
export async function verifyIntegrity(f: Fixture): Promise<string[]> {
  const problems: string[] = [];
  const { Lsn, Log, alignedBuffer } = f.clfs;
  const attempt = async (what: string, fn: () => Promise<void>): Promise<void> => {
    try {
      await fn();
    } catch (error) {
      const e = error as { code?: string; message?: string };
      problems.push(`${what}: ${e.code ?? 'no code'}: ${e.message ?? String(error)}`);
    }
  };
  const A = f.A;
  const expected = [...A.records];

  await attempt('A: the records appended before the table, read through a new area', async () => {
    const reader = await A.log.createMarshallingArea({ bufferSize: BUFFER_SIZE });
    problems.push(...(await compareRecords(reader, expected, 'A before reopen')));
    await reader.close();
  });
  await attempt('A: the previous chain from r6 is r5, r4, r3, r2, r1, and undo-next r6 -> r2', async () => {
    const context = await A.area.readLogRecord(A.r[6]!, 'previous');
    const seen: Lsn[] = [context.record.lsn];
    for (let rec = await context.next(); rec !== null; rec = await context.next()) seen.push(rec.lsn);
    context.terminate();
    const want = [6, 5, 4, 3, 2, 1].map((i) => A.r[i]!);
    if (seen.join() !== want.join()) problems.push(`A: previous chain ${seen.map(Lsn.format).join(' ')}`);
    const undo = await A.area.readLogRecord(A.r[6]!, 'undoNext');
    const next = await undo.next();
    undo.terminate();
    if (next?.lsn !== A.r[2]) problems.push(`A: undo-next of r6 is ${next ? Lsn.format(next.lsn) : 'null'}`);
  });
  await attempt("A's area: all 4 of its read buffers can still be had (none leaked)", async () => {
    const contexts: ReadContext[] = [];
    try {
      for (let i = 0; i < 4; i++) contexts.push(await A.area.readLogRecord(A.r[1]!, 'forward'));
    } finally {
      for (const c of contexts) c.terminate();
    }
  });
  const info = A.log.information();
  if (info.baseLsn !== A.r[1]) problems.push(`A: baseLsn is ${Lsn.format(info.baseLsn)}, not r1`);
  if (info.restartLsn !== A.rs1) problems.push(`A: restartLsn is ${Lsn.format(info.restartLsn)}, not rs1`);
  if (info.lastLsn !== A.r[6]) problems.push(`A: lastLsn is ${Lsn.format(info.lastLsn)}, not r6`);
  if (info.totalReservation !== 0) problems.push(`A: ${info.totalReservation} bytes still reserved`);
  if (A.area.reservedRecords !== 0) problems.push(`A's area: ${A.area.reservedRecords} records still reserved`);

  await attempt('A: a new append (forceFlush) works and reads back', async () => {
    const data = pattern(500, 10);
    const { lsn } = await A.area.reserveAndAppend(data, { previousLsn: A.r[6], forceFlush: true });
    if (lsn === undefined || lsn <= A.r[6]!) throw new Error(`the new record got LSN ${String(lsn)}`);
    expected.push({ lsn, type: 'data', data, previousLsn: A.r[6]!, undoNextLsn: Lsn.INVALID });
    const context = await A.area.readLogRecord(lsn, 'forward');
    if (!sameBytes(context.record.data, data)) problems.push('A: the new record reads back different');
    context.terminate();
  });
  await attempt('B: still empty, takes an append', async () => {
    if (f.B.log.information().lastLsn !== Lsn.INVALID) problems.push('B: has records');
    await f.B.area.reserveAndAppend(pattern(10, 11), { forceFlush: true });
  });
  await attempt('the DirectFile: content and size unchanged', async () => {
    const buffer = alignedBuffer(4 * KiB);
    await f.file.read(0, buffer);
    if (!sameBytes(buffer, f.fileContent)) problems.push('the DirectFile: its first 4 KiB changed');
    const size = await f.file.size();
    if (size !== 64 * KiB) problems.push(`the DirectFile: size ${size}, not 64 KiB`);
    await f.file.close();
  });

  await attempt('closing A', () => A.log.close());
  await attempt('closing B', () => f.B.log.close());
  await attempt('A after close + Log.open: every record, the base and the restart area', async () => {
    const log = await Log.open(A.path);
    try {
      const reader = await log.createMarshallingArea({ bufferSize: BUFFER_SIZE });
      problems.push(...(await compareRecords(reader, expected, 'A after reopen')));
      const info2 = log.information();
      if (info2.baseLsn !== A.r[1]) problems.push(`A after reopen: baseLsn ${Lsn.format(info2.baseLsn)}`);
      const restart = await reader.readRestartArea();
      restart.context.terminate();
      if (restart.lsn !== A.rs1 || new TextDecoder().decode(restart.data) !== 'restart-1') {
        problems.push('A after reopen: the restart area differs');
      }
      if (log.recoveryReport.metadataProblems.length > 0) {
        problems.push(`A after reopen: metadata problems ${JSON.stringify(log.recoveryReport.metadataProblems)}`);
      }
    } finally {
      await log.close();
    }
  });
  await attempt('B after close + Log.open', async () => {
    const log = await Log.open(f.B.path);
    await log.close();
  });
  return problems;
}
