/**
 * Runs fio jobs (the device's own limit, measured without Node) and reads
 * their JSON output.
 * @module
 */
import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface FioInfo {
  path: string;
  version: string;
}

/** fio on PATH (or `$FIO`), with its version; null when there is none. */
export async function findFio(): Promise<FioInfo | null> {
  const candidates: string[] = [];
  if (process.env.FIO) candidates.push(process.env.FIO);
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir) candidates.push(path.join(dir, process.platform === 'win32' ? 'fio.exe' : 'fio'));
  }
  for (const file of candidates) {
    try {
      accessSync(file, constants.X_OK);
    } catch {
      continue;
    }
    try {
      const { stdout } = await run(file, ['--version'], { timeout: 10_000 });
      return { path: file, version: stdout.trim() };
    } catch {
      continue;
    }
  }
  return null;
}

/** What to tell a user who has no fio. */
export function fioInstallHint(): string {
  return (
    'fio is not on PATH (or $FIO): the fio peer columns stay empty. Install it to compare against the device limit:\n' +
    '  Debian/Ubuntu: sudo apt-get install fio    Fedora/RHEL: sudo dnf install fio    Arch: sudo pacman -S fio\n' +
    '  macOS: brew install fio'
  );
}

/** One fio job: a sequential overwrite of an existing, fully written file. */
export interface FioJob {
  /** Job name (shows in fio's output). */
  name: string;
  filename: string;
  /** Bytes of the file the job overwrites, wrapping (`--size`). */
  size: number;
  /** Block size in bytes (`--bs`). */
  bs: number;
  ioengine: 'psync' | 'io_uring' | 'libaio' | 'sync' | 'pvsync2';
  iodepth: number;
  /** `'dsync'`: `--sync=dsync` (O_DSYNC); `'fdatasync'`: `--fdatasync=<fdatasyncEvery>`; `'none'`: neither. */
  durability: 'dsync' | 'fdatasync' | 'none';
  /** With durability `'fdatasync'`: one fdatasync per this many writes (default 1). */
  fdatasyncEvery?: number;
  runtimeMs: number;
  rampMs: number;
  /** Extra `--key=value` arguments. */
  extra?: string[];
}

/** The numbers taken from fio's JSON. Latencies in microseconds (fio's `lat`: submission + completion). */
export interface FioSummary {
  iops: number;
  mbPerSec: number;
  ioBytes: number;
  runtimeMs: number;
  totalIos: number;
  latMeanUs: number;
  latP50Us: number;
  latP99Us: number;
  clatMeanUs: number;
  slatMeanUs: number;
  /** fdatasync latency when the job syncs, else null. */
  syncCount: number | null;
  syncMeanUs: number | null;
  syncP50Us: number | null;
  syncP99Us: number | null;
  usrCpu: number;
  sysCpu: number;
  ctx: number;
}

export interface FioResult {
  args: string[];
  summary: FioSummary;
  /** fio's own JSON for the job: `write`, `sync`, cpu and depth distributions. */
  raw: Record<string, unknown>;
  fioVersion: string;
}

/** The fio command-line arguments for a job. */
export function fioArgs(job: FioJob): string[] {
  const args = [
    `--name=${job.name}`,
    `--filename=${job.filename}`,
    `--size=${job.size}`,
    `--bs=${job.bs}`,
    '--rw=write',
    '--direct=1',
    '--overwrite=1',
    '--fallocate=none',
    `--ioengine=${job.ioengine}`,
    `--iodepth=${job.iodepth}`,
    '--time_based',
    `--runtime=${Math.max(1, Math.round(job.runtimeMs))}ms`,
    `--ramp_time=${Math.max(0, Math.round(job.rampMs))}ms`,
    '--lat_percentiles=1',
    '--percentile_list=50:99',
    '--output-format=json',
  ];
  if (job.durability === 'dsync') args.push('--sync=dsync');
  if (job.durability === 'fdatasync') args.push(`--fdatasync=${job.fdatasyncEvery ?? 1}`);
  if (job.extra) args.push(...job.extra);
  return args;
}

/** The same job as a shell command line, for the README and the report. */
export function fioCommandLine(job: FioJob): string {
  return ['fio', ...fioArgs(job)].join(' ');
}

type Json = Record<string, unknown>;

function obj(value: unknown): Json {
  return value !== null && typeof value === 'object' ? (value as Json) : {};
}
function num(value: unknown): number {
  return typeof value === 'number' ? value : Number.NaN;
}
function pct(lat: Json, key: string): number {
  return num(obj(lat.percentile)[key]) / 1000;
}

/** Runs a job and parses its result; throws with fio's stderr when it fails. */
export async function runFio(fio: FioInfo, job: FioJob): Promise<FioResult> {
  const args = fioArgs(job);
  let stdout: string;
  try {
    ({ stdout } = await run(fio.path, args, {
      maxBuffer: 64 << 20,
      timeout: job.runtimeMs + job.rampMs + 120_000,
    }));
  } catch (error) {
    const e = error as { stderr?: string; message: string };
    throw new Error(`fio failed: ${e.message}\n${e.stderr ?? ''}\n  fio ${args.join(' ')}`);
  }
  // fio may print notes before the JSON document.
  const start = stdout.indexOf('{');
  if (start < 0) throw new Error(`fio printed no JSON:\n${stdout}`);
  const doc = JSON.parse(stdout.slice(start)) as Json;
  const jobs = doc.jobs as Json[] | undefined;
  const j = obj(jobs?.[0]);
  if (num(j.error) !== 0) throw new Error(`fio job ${job.name} reported error ${String(j.error)}`);
  const write = obj(j.write);
  const lat = obj(write.lat_ns);
  const sync = obj(j.sync);
  const syncLat = obj(sync.lat_ns);
  const syncN = num(syncLat.N);
  const hasSync = job.durability === 'fdatasync' && syncN > 0;
  const summary: FioSummary = {
    iops: num(write.iops),
    mbPerSec: num(write.bw_bytes) / 1e6,
    ioBytes: num(write.io_bytes),
    runtimeMs: num(write.runtime),
    totalIos: num(write.total_ios),
    latMeanUs: num(lat.mean) / 1000,
    latP50Us: pct(lat, '50.000000'),
    latP99Us: pct(lat, '99.000000'),
    clatMeanUs: num(obj(write.clat_ns).mean) / 1000,
    slatMeanUs: num(obj(write.slat_ns).mean) / 1000,
    syncCount: hasSync ? syncN : null,
    syncMeanUs: hasSync ? num(syncLat.mean) / 1000 : null,
    syncP50Us: hasSync ? pct(syncLat, '50.000000') : null,
    syncP99Us: hasSync ? pct(syncLat, '99.000000') : null,
    usrCpu: num(j.usr_cpu),
    sysCpu: num(j.sys_cpu),
    ctx: num(j.ctx),
  };
  const raw: Json = {};
  for (const key of ['write', 'sync', 'job_runtime', 'usr_cpu', 'sys_cpu', 'ctx', 'iodepth_level', 'latency_us']) {
    if (key in j) raw[key] = j[key];
  }
  if ('disk_util' in doc) raw.disk_util = doc.disk_util;
  return { args, summary, raw, fioVersion: String(doc['fio version'] ?? fio.version) };
}
