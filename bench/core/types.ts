/**
 * The shapes the benchmark is built from: a case (one measured thing, run
 * once per repetition), a workload (W1 … W8, WA: its cases, and how its
 * medians become rows and verdicts against the bar), and what a
 * report holds.
 * @module
 */
import type { Column } from '../support/table.ts';
import type { Context } from './context.ts';

/** Workload ids, as in issue 9; `L` holds the device limits other workloads compare with. */
export type WorkloadId = 'L' | 'W1' | 'W2' | 'W3' | 'W4' | 'W5' | 'W6' | 'W7' | 'W8' | 'WA';

/**
 * One repetition of one case. Rates per second, latencies in microseconds,
 * MB = 10^6 bytes. Every numeric field is reduced to its median across
 * repetitions, field by field.
 */
export interface CaseRun {
  /** Operations in the window (commits, batches, writes, reads, opens). */
  ops: number;
  opsPerSec: number;
  seconds: number;
  p50Us?: number;
  p99Us?: number;
  meanUs?: number;
  /** Bytes the operations moved (payload for logs and peers). */
  bytes?: number;
  mbPerSec?: number;
  /** CPU time (process.cpuUsage, all threads, user + system) per operation, microseconds. */
  cpuUsPerOp: number;
  /** Records in the window, when an operation is more than one record. */
  records?: number;
  recordsPerSec?: number;
  /** CPU time per record, microseconds. */
  cpuUsPerRecord?: number;
  /** Anything else the case measures (blocks per commit, flush ms, RSS …). */
  [extra: string]: number | undefined;
}

/** Who a case measures: clfs, a peer library, or a limit (the device through DirectFile or fio). */
export type Subject = 'clfs' | 'peer' | 'limit';

export interface CaseDef {
  /** Unique, starts with its workload id: `W2-clfs-n64`. */
  id: string;
  workload: WorkloadId;
  /** Row label in tables. */
  label: string;
  subject: Subject;
  /** Part of --quick. */
  quick: boolean;
  /** Case ids this case's workload reads (run whenever this one runs). */
  needs?: readonly string[];
  /** Sets up what the case needs (logs, files) before anything is measured. */
  prepare?(ctx: Context): Promise<void>;
  /** One measured repetition. */
  run(ctx: Context): Promise<CaseRun>;
}

/** One of the bars, judged on this run's medians. */
export interface Verdict {
  /** What is compared, in words. */
  what: string;
  /** The measured value (a ratio, a rate, MiB, ms). */
  value: number;
  /** The bar, e.g. `<= 1.05` or `>= 5M/s`. */
  bar: string;
  threshold: number;
  /** `higher`: value must be >= threshold; `lower`: <= threshold. */
  better: 'higher' | 'lower';
  /** `met` / `missed`, or `unmeasured` when an input is missing (with why). */
  result: 'met' | 'missed' | 'unmeasured';
  why?: string;
  /** Drawn in the chart's bar panel (a ratio to the device). */
  chart?: boolean;
}

/** A line of the W2 chart: commits/s against committers. */
export interface Series {
  name: string;
  points: { x: number; y: number }[];
}

export interface WorkloadReport {
  id: WorkloadId;
  title: string;
  /** The bar, in words. */
  bar: string;
  columns: Column[];
  rows: string[][];
  /** Under the table: how to read it. */
  note?: string;
  verdicts: Verdict[];
  series?: Series[];
  /** Set when the workload did not run (not selected, or it could not). */
  skipped?: string;
}

/** Per-case medians of this run, by case id. */
export type Medians = ReadonlyMap<string, CaseRun>;

export interface Workload {
  id: WorkloadId;
  title: string;
  bar: string;
  /** The conditions a reader needs (sizes, depth, buffers), for the JSON. */
  conditions(ctx: Context): Record<string, unknown>;
  cases(ctx: Context): CaseDef[];
  report(m: Medians, ctx: Context): WorkloadReport;
}

/** A verdict from a value, a threshold and a direction; unmeasured when the value is not finite. */
export function judge(
  what: string,
  value: number | undefined,
  threshold: number,
  better: 'higher' | 'lower',
  bar: string,
  chart = false,
): Verdict {
  const v = value ?? Number.NaN;
  if (!Number.isFinite(v)) {
    return {
      what,
      value: v,
      bar,
      threshold,
      better,
      result: 'unmeasured',
      why: 'an input was not measured (a peer skipped or missing, fio missing, or a case not selected or failed)',
      chart,
    };
  }
  const ok = better === 'higher' ? v >= threshold : v <= threshold;
  return { what, value: v, bar, threshold, better, result: ok ? 'met' : 'missed', chart };
}
