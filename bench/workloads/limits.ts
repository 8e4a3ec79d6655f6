/**
 * `L`: the device's limits, measured in the same run as the workloads that
 * compare with them: DirectFile (clfs's own native layer: the io_uring
 * engine on Linux, the thread engine elsewhere) writes and reads, fio's psync O_DSYNC write (the bare syscall), and a
 * buffered write + fdatasync pair (what SQLite does).
 * @module
 */
import { closeSync, fdatasyncSync, openSync, writeSync } from 'node:fs';
import { randomFillSync } from 'node:crypto';

import { directReadRun, directWriteRun } from '../support/direct.ts';
import { fioCommandLine, fioInstallHint, runFio, type FioJob } from '../support/fio.ts';
import { closedLoop, SequentialOffsets } from '../support/loops.ts';
import { fmt, fmtRate, fmtSize } from '../support/table.ts';
import { KiB, type Context } from '../core/context.ts';
import { loopRun } from '../core/runs.ts';
import type { CaseDef, CaseRun, Medians, Workload } from '../core/types.ts';

const size = (bytes: number): string => fmtSize(bytes).toLowerCase();

/** io_uring exists only on Linux; elsewhere the thread engine is DirectFile's own. */
const ENGINE = process.platform === 'linux' ? 'uring' : 'threads';

/** Id of DirectFile O_DSYNC writes of `bs` bytes at `depth`. */
export function directWriteId(bs: number, depth: number): string {
  return `L-directfile-${size(bs)}-dsync-d${depth}`;
}
export const FIO_4K = 'L-fio-4kib-dsync-d1';
export const BUFFERED_4K = 'L-buffered-4kib-fdatasync-d1';
/** DirectFile sequential reads of the scan log's container, `bs` bytes at depth 1. */
export function directReadId(bs: number): string {
  return `L-directfile-read-${size(bs)}-d1`;
}

export function directWriteCase(bs: number, depth: number, quick: boolean): CaseDef {
  return {
    id: directWriteId(bs, depth),
    workload: 'L',
    label: `DirectFile ${fmtSize(bs)} O_DSYNC write, depth ${depth}`,
    subject: 'limit',
    quick,
    async run(ctx) {
      const r = await directWriteRun({
        file: ctx.device.file,
        size: ctx.device.size,
        bs,
        depth,
        durability: 'dsync',
        engine: ENGINE,
        seconds: ctx.opts.seconds,
        warmup: ctx.opts.warmup,
      });
      const { engine: _engine, ...run } = r;
      return run;
    },
  };
}

export function directReadCase(bs: number, quick: boolean, prepare: (ctx: Context) => Promise<void>): CaseDef {
  return {
    id: directReadId(bs),
    workload: 'L',
    label: `DirectFile ${fmtSize(bs)} sequential read, depth 1 (the scan log's container)`,
    subject: 'limit',
    quick,
    prepare,
    async run(ctx) {
      const scan = ctx.scanLog!;
      const r = await directReadRun({
        file: scan.containerFile,
        size: Math.min(scan.containerSize, scan.payloadBytes),
        bs,
        depth: 1,
        engine: ENGINE,
        seconds: ctx.opts.seconds,
        warmup: ctx.opts.warmup,
      });
      const { engine: _engine, ...run } = r;
      return run;
    },
  };
}

export function fioJob(ctx: Context, name: string): FioJob {
  return {
    name,
    filename: ctx.fio!.file,
    size: ctx.fio!.size,
    bs: 4 * KiB,
    ioengine: 'psync',
    iodepth: 1,
    durability: 'dsync',
    runtimeMs: ctx.opts.seconds * 1000,
    rampMs: ctx.opts.warmup * 1000,
  };
}

const fioCase: CaseDef = {
  id: FIO_4K,
  workload: 'L',
  label: 'fio psync 4KiB write, O_DSYNC, depth 1',
  subject: 'limit',
  quick: true,
  async run(ctx): Promise<CaseRun> {
    const r = await runFio(ctx.fio!.info, fioJob(ctx, FIO_4K));
    ctx.fioResults.set(FIO_4K, [...(ctx.fioResults.get(FIO_4K) ?? []), r]);
    const s = r.summary;
    const seconds = s.runtimeMs / 1000;
    return {
      ops: s.totalIos,
      opsPerSec: s.iops,
      seconds,
      p50Us: s.latP50Us,
      p99Us: s.latP99Us,
      meanUs: s.latMeanUs,
      bytes: s.ioBytes,
      mbPerSec: s.mbPerSec,
      // fio reports CPU as percentages of its runtime.
      cpuUsPerOp: (((s.usrCpu + s.sysCpu) / 100) * seconds * 1e6) / s.totalIos,
    };
  },
};

/** A buffered (page cache) 4 KiB write then fdatasync, one pair per op, as SQLite's WAL commit does. */
const bufferedCase: CaseDef = {
  id: BUFFERED_4K,
  workload: 'L',
  label: 'buffered 4KiB write + fdatasync (what SQLite does), depth 1',
  subject: 'limit',
  quick: true,
  async prepare(ctx) {
    await ctx.file('buffered.dat');
  },
  async run(ctx) {
    const file = await ctx.file('buffered.dat');
    const fd = openSync(file, 'r+');
    try {
      const buffer = randomFillSync(new Uint8Array(4 * KiB));
      const offsets = new SequentialOffsets(ctx.opts.fileBytes, 4 * KiB);
      // Synchronous, as better-sqlite3's are: the pair blocks the thread.
      const op = (): Promise<number> => {
        writeSync(fd, buffer, 0, buffer.length, offsets.next());
        fdatasyncSync(fd);
        return Promise.resolve(buffer.length);
      };
      if (ctx.opts.warmup > 0) await closedLoop(1, ctx.opts.warmup, op);
      return loopRun(await closedLoop(1, ctx.opts.seconds, op));
    } finally {
      closeSync(fd);
    }
  },
};

/** The limit cases every workload may need; which run depends on what the selected cases need. */
export function limitCases(ctx: Context): CaseDef[] {
  const cases = [directWriteCase(4 * KiB, 1, true), bufferedCase];
  if (ctx.fio !== null) cases.push(fioCase);
  return cases;
}

export const limits: Workload = {
  id: 'L',
  title: 'The device, same run (sequential overwrite of preallocated files; reads of the scan log)',
  bar: 'none: the references the workloads are divided by',
  conditions: (ctx) => ({
    engine: 'io_uring (DirectFile engine "uring")',
    fio:
      ctx.fio === null
        ? { available: false, hint: fioInstallHint() }
        : { available: true, commandLine: fioCommandLine(fioJob(ctx, FIO_4K)) },
  }),
  cases: limitCases,
  report(m: Medians, ctx) {
    const rows: string[][] = [];
    for (const [id, r] of m) {
      if (!id.startsWith('L-')) continue;
      rows.push([id, fmt(r.p50Us), fmt(r.p99Us), fmtRate(r.opsPerSec), fmt(r.mbPerSec), fmt(r.cpuUsPerOp)]);
    }
    return {
      id: 'L',
      title: limits.title,
      bar: limits.bar,
      columns: [
        { header: 'limit' },
        { header: 'p50 us', align: 'right' },
        { header: 'p99 us', align: 'right' },
        { header: 'ops/s', align: 'right' },
        { header: 'MB/s', align: 'right' },
        { header: 'cpu us/op', align: 'right' },
      ],
      rows,
      note: ctx.fio === null ? fioInstallHint() : undefined,
      verdicts: [],
    };
  },
};
