/**
 * `npm run bench`: clfs's durable commits, group commit and append
 * throughput, against the device's own limit (DirectFile and fio) and the
 * peers a Node user would pick today (fs.promises, classic-level,
 * better-sqlite3), all in the same run. See bench/README.md.
 * @module
 */
import { randomFillSync } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';

import { DirectFile, Log, Lsn, type LogInformation } from '../lib/index.ts';
import { BaseAdvancer } from './support/base-advancer.ts';
import { directWriteRun, waitForQuietDevice, type QuietResult } from './support/direct.ts';
import { chooseBenchBase, makeBenchDir, preallocatedFile, removeBenchDir } from './support/files.ts';
import {
  findFio,
  fioCommandLine,
  fioInstallHint,
  runFio,
  type FioInfo,
  type FioJob,
  type FioResult,
} from './support/fio.ts';
import { closedLoop } from './support/loops.ts';
import { describeMachine, machineSummary } from './support/machine.ts';
import { COMMON_HELP, parseOptions } from './support/options.ts';
import { openPeers, type PeerAvailability, type PeerId, type PeerStore } from './support/peers.ts';
import { writeResult } from './support/results.ts';
import { Samples, medianOf, ratio, summarize, type RunSummary } from './support/stats.ts';
import { fmt, fmtRate, fmtRatio, fmtSize, printTable } from './support/table.ts';

const KiB = 1024;
const MiB = 1024 * 1024;

/** Buffer size of the areas that commit one record at a time. */
const COMMIT_BUFFER = 64 * KiB;
/** Buffer size of the areas measured for throughput: blocks as large as the device-bandwidth reference's writes. */
const APPEND_BUFFER = 256 * KiB;
/** Containers per benchmark log (the base advancer keeps two of them free). */
const CONTAINERS = 4;

type LogDurability = 'dsync' | 'fdatasync';

type Spec =
  | { kind: 'device'; bs: number; depth: number; durability: LogDurability }
  | { kind: 'fio'; bs: number }
  | { kind: 'commit'; size: number; committers: number; durability: LogDurability }
  | { kind: 'append'; size: number; batch: number }
  | { kind: 'peer'; peer: PeerId; size: number; committers: number };

interface Case {
  id: string;
  label: string;
  /** Part of a --quick run. */
  quick: boolean;
  spec: Spec;
}

/** One repetition of one case. Latencies in microseconds, MB = 10^6 bytes. */
interface CaseRun extends RunSummary {
  /** clfs commits: container block writes per commit (ioStatistics().flushes). */
  blocksPerCommit?: number;
  /** clfs commits: fdatasync calls per commit (ioStatistics().syncs). */
  syncsPerCommit?: number;
  /** clfs: bytes written to containers per commit, or per payload byte for appends. */
  bytesWrittenPerCommit?: number;
  /** clfs: metadata (base file) writes in the window: container switches and base moves. */
  metadataWrites?: number;
  /** clfs: background advanceLogBase calls in the window. */
  baseAdvances?: number;
  /** Appends: records appended in the window. */
  records?: number;
  recordsPerSec?: number;
  /** Appends: payload MB/s over the loop and the final flush. */
  payloadMbPerSec?: number;
  /** Appends: the final flushBuffers(), ms. */
  flushMs?: number;
  /** Appends: container bytes written per payload byte. */
  writtenPerPayload?: number;
  /** Appends: blocks sealed but not yet written when the loop ended. */
  backlogBlocks?: number;
  /** Appends: most write buffers the area held at once. */
  peakWriteBuffers?: number;
}

const HELP = `npm run bench -- [options]

clfs's durable commit latency, group commit and append throughput, next to
the device's limit (DirectFile, fio) and the peers a Node user would pick
(fs.promises write+datasync, classic-level, better-sqlite3), in one run.

${COMMON_HELP}
  --file-mib <n>           size of the DirectFile and fio files in MiB (default 64, quick 32)
  --container-mib <n>      container size of the benchmark logs in MiB (default 64, quick 32)
  --max-write-buffers <n>  maxWriteBuffers of the throughput areas (default 16; 'Infinity' is
                           the library default, see bench/README.md)
  --settle <s>             longest wait for the device to go quiet before measuring (default 20, quick 8)
  --no-fio                 skip fio
  --no-peers               skip classic-level and better-sqlite3 (fs.promises still runs)
  --no-json                do not write bench/results/log-<time>.json`;

function plan(): Case[] {
  const cases: Case[] = [];
  const size = (bytes: number): string => fmtSize(bytes).toLowerCase();
  const add = (id: string, label: string, quick: boolean, spec: Spec): void => {
    cases.push({ id, label, quick, spec });
  };
  // 1. The device's limit.
  add('device-4kib-dsync-d1', 'DirectFile 4KiB write, O_DSYNC, depth 1', true, {
    kind: 'device',
    bs: 4 * KiB,
    depth: 1,
    durability: 'dsync',
  });
  add('device-4kib-fdatasync-d1', 'DirectFile 4KiB write + fdatasync, depth 1', false, {
    kind: 'device',
    bs: 4 * KiB,
    depth: 1,
    durability: 'fdatasync',
  });
  add('fio-4kib-dsync-d1', 'fio psync 4KiB write, O_DSYNC, depth 1', true, { kind: 'fio', bs: 4 * KiB });
  add('device-256kib-dsync-d4', 'DirectFile 256KiB writes, O_DSYNC, depth 4', true, {
    kind: 'device',
    bs: 256 * KiB,
    depth: 4,
    durability: 'dsync',
  });
  // 2 and 3. Durable commits, one committer and N.
  for (const durability of ['dsync', 'fdatasync'] as const) {
    for (const bytes of [64, 4 * KiB]) {
      add(`commit-${size(bytes)}-${durability}-n1`, `clfs ${durability}`, durability === 'dsync' || bytes === 64, {
        kind: 'commit',
        size: bytes,
        committers: 1,
        durability,
      });
    }
    for (const n of [8, 64]) {
      add(`commit-64b-${durability}-n${n}`, `clfs ${durability}`, durability === 'dsync' && n === 64, {
        kind: 'commit',
        size: 64,
        committers: n,
        durability,
      });
    }
  }
  // 4. Throughput without flush.
  for (const bytes of [64, 4 * KiB]) {
    for (const batch of [1, 1000]) {
      const how = batch === 1 ? 'reserveAndAppend loop' : `appendBatch(${batch})`;
      add(
        `append-${size(bytes)}-${batch === 1 ? 'single' : `batch${batch}`}`,
        `clfs ${how}`,
        batch === 1 || bytes === 64,
        {
          kind: 'append',
          size: bytes,
          batch,
        },
      );
    }
  }
  // 5. Peers.
  const peerCases: [PeerId, number, number, boolean][] = [
    ['fs', 64, 1, true],
    ['fs', 64, 64, true],
    ['fs', 4 * KiB, 1, false],
    ['level', 64, 1, true],
    ['level', 64, 64, false],
    ['level', 4 * KiB, 1, false],
    ['sqlite', 64, 1, true],
    ['sqlite', 4 * KiB, 1, false],
  ];
  for (const [peer, bytes, n, quick] of peerCases) {
    add(`${peer}-${size(bytes)}-n${n}`, PEER_LABEL[peer], quick, { kind: 'peer', peer, size: bytes, committers: n });
  }
  return cases;
}

const PEER_LABEL: Record<PeerId, string> = {
  fs: 'fs.promises write+datasync',
  level: 'classic-level put sync',
  sqlite: 'better-sqlite3 INSERT (WAL, FULL)',
};

function progress(text: string): void {
  process.stderr.write(`${text}\n`);
}

/** LogInformation with its LSNs as text, for JSON. */
function infoJson(info: LogInformation): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(info)) out[key] = typeof value === 'bigint' ? Lsn.format(value) : value;
  return out;
}

function randomRecords(count: number, size: number): Uint8Array[] {
  return Array.from({ length: count }, () => randomFillSync(new Uint8Array(size)));
}

interface Context {
  seconds: number;
  warmup: number;
  device: { file: string; size: number };
  fio: { info: FioInfo; file: string; size: number } | null;
  logs: Map<LogDurability, Log>;
  peers: Map<PeerId, PeerAvailability>;
  maxWriteBuffers: number;
  fioResults: Map<string, FioResult[]>;
}

async function runDevice(ctx: Context, spec: Extract<Spec, { kind: 'device' }>): Promise<CaseRun> {
  const { engine: _engine, ...summary } = await directWriteRun({
    file: ctx.device.file,
    size: ctx.device.size,
    bs: spec.bs,
    depth: spec.depth,
    durability: spec.durability,
    engine: 'uring',
    seconds: ctx.seconds,
    warmup: ctx.warmup,
  });
  return summary;
}

function fioJob(ctx: Context, id: string, bs: number): FioJob {
  return {
    name: id,
    filename: ctx.fio!.file,
    size: ctx.fio!.size,
    bs,
    ioengine: 'psync',
    iodepth: 1,
    durability: 'dsync',
    runtimeMs: ctx.seconds * 1000,
    rampMs: ctx.warmup * 1000,
  };
}

async function runFioCase(ctx: Context, id: string, spec: Extract<Spec, { kind: 'fio' }>): Promise<CaseRun> {
  const r = await runFio(ctx.fio!.info, fioJob(ctx, id, spec.bs));
  ctx.fioResults.set(id, [...(ctx.fioResults.get(id) ?? []), r]);
  const s = r.summary;
  return {
    ops: s.totalIos,
    bytes: s.ioBytes,
    seconds: s.runtimeMs / 1000,
    opsPerSec: s.iops,
    mbPerSec: s.mbPerSec,
    meanUs: s.latMeanUs,
    p50Us: s.latP50Us,
    p99Us: s.latP99Us,
    minUs: Number.NaN,
    maxUs: Number.NaN,
  };
}

/** N committers, each looping reserveAndAppend(record, { forceFlush: true }). */
async function runCommit(ctx: Context, spec: Extract<Spec, { kind: 'commit' }>): Promise<CaseRun> {
  const log = ctx.logs.get(spec.durability)!;
  const area = await log.createMarshallingArea({ bufferSize: COMMIT_BUFFER });
  try {
    const advancer = new BaseAdvancer(area);
    const records = randomRecords(spec.committers, spec.size);
    let last: Lsn | undefined;
    const op = async (w: number): Promise<number> => {
      const { lsn } = await area.reserveAndAppend(records[w]!, { forceFlush: true });
      advancer.note(lsn);
      if (lsn !== undefined && (last === undefined || lsn > last)) last = lsn;
      return spec.size;
    };
    if (ctx.warmup > 0) await closedLoop(spec.committers, ctx.warmup, op);
    const advancesBefore = advancer.advances;
    const before = log.ioStatistics();
    const r = await closedLoop(spec.committers, ctx.seconds, op, 300_000);
    const after = log.ioStatistics();
    const s = summarize(r.samples, r.elapsedMs, r.bytes);
    await advancer.idle();
    const run: CaseRun = {
      ...s,
      blocksPerCommit: (after.flushes - before.flushes) / s.ops,
      syncsPerCommit: (after.syncs - before.syncs) / s.ops,
      bytesWrittenPerCommit: (after.bytesFlushed - before.bytesFlushed) / s.ops,
      metadataWrites: after.metadataFlushes - before.metadataFlushes,
      baseAdvances: advancer.advances - advancesBefore,
    };
    // Outside the window: everything so far becomes reclaimable for the next case.
    if (last !== undefined) await area.advanceLogBase(last);
    return run;
  } finally {
    await area.close();
  }
}

/**
 * One appender, awaiting each reserveAndAppend (or appendBatch) without
 * flushing, then one flushBuffers(): the window covers both.
 */
async function runAppend(ctx: Context, spec: Extract<Spec, { kind: 'append' }>): Promise<CaseRun> {
  const log = ctx.logs.get('dsync')!;
  const area = await log.createMarshallingArea({ bufferSize: APPEND_BUFFER, maxWriteBuffers: ctx.maxWriteBuffers });
  try {
    const advancer = new BaseAdvancer(area);
    const records = randomRecords(spec.batch, spec.size);
    let last: Lsn | undefined;
    let peak = 0;
    const op =
      spec.batch === 1
        ? async (): Promise<void> => {
            const { lsn } = await area.reserveAndAppend(records[0]!);
            advancer.note(lsn);
            last = lsn;
          }
        : async (): Promise<void> => {
            const lsns = await area.appendBatch(records);
            last = lsns[lsns.length - 1];
            advancer.note(last);
          };
    // A sequential loop with one clock read per call: an op's latency is the
    // time since the previous op ended.
    const loop = async (seconds: number, samples: Samples | null): Promise<{ ops: number; elapsedMs: number }> => {
      const start = performance.now();
      const deadline = start + seconds * 1000;
      let previous = start;
      let ops = 0;
      while (previous < deadline) {
        await op();
        const now = performance.now();
        samples?.push(now - previous);
        previous = now;
        ops++;
        const held = area.buffersAllocated.write;
        if (held > peak) peak = held;
      }
      return { ops, elapsedMs: previous - start };
    };
    if (ctx.warmup > 0) {
      await loop(ctx.warmup, null);
      await area.flushBuffers();
    }
    peak = 0;
    const advancesBefore = advancer.advances;
    const before = log.ioStatistics();
    const samples = new Samples(spec.batch === 1 && spec.size <= 64 ? 1 << 21 : 1 << 16);
    const r = await loop(ctx.seconds, samples);
    const atEnd = log.ioStatistics();
    const flushStart = performance.now();
    await area.flushBuffers();
    const flushMs = performance.now() - flushStart;
    const after = log.ioStatistics();
    await advancer.idle();
    const elapsedMs = r.elapsedMs + flushMs;
    const records_ = r.ops * spec.batch;
    const payload = records_ * spec.size;
    const s = summarize(samples, elapsedMs, payload);
    const run: CaseRun = {
      ...s,
      records: records_,
      recordsPerSec: records_ / (elapsedMs / 1000),
      payloadMbPerSec: payload / (elapsedMs / 1000) / 1e6,
      flushMs,
      writtenPerPayload: (after.bytesFlushed - before.bytesFlushed) / payload,
      metadataWrites: after.metadataFlushes - before.metadataFlushes,
      baseAdvances: advancer.advances - advancesBefore,
      backlogBlocks: atEnd.blocksWritten - atEnd.flushes,
      peakWriteBuffers: peak,
    };
    if (last !== undefined) await area.advanceLogBase(last);
    return run;
  } finally {
    await area.close();
  }
}

async function runPeer(ctx: Context, store: PeerStore, spec: Extract<Spec, { kind: 'peer' }>): Promise<CaseRun> {
  const records = randomRecords(spec.committers, spec.size);
  const op = async (w: number): Promise<number> => {
    await store.commit(records[w]!);
    return spec.size;
  };
  if (ctx.warmup > 0) await closedLoop(spec.committers, ctx.warmup, op);
  const r = await closedLoop(spec.committers, ctx.seconds, op);
  return summarize(r.samples, r.elapsedMs, r.bytes);
}

function describeRun(c: Case, r: CaseRun): string {
  if (c.spec.kind === 'append') {
    return `${fmtRate(r.recordsPerSec)} records/s ${fmt(r.payloadMbPerSec)} MB/s, final flush ${fmt(r.flushMs)} ms, backlog ${r.backlogBlocks} blocks`;
  }
  const extra = r.blocksPerCommit !== undefined ? ` ${fmt(r.blocksPerCommit, 3)} blocks/commit` : '';
  return `p50 ${fmt(r.p50Us)}us p99 ${fmt(r.p99Us)}us ${fmtRate(r.opsPerSec)}/s ${fmt(r.mbPerSec)} MB/s${extra}`;
}

async function main(): Promise<void> {
  const { common, values } = parseOptions(
    process.argv.slice(2),
    {
      'file-mib': { type: 'string' },
      'container-mib': { type: 'string' },
      'max-write-buffers': { type: 'string' },
      settle: { type: 'string' },
      'no-fio': { type: 'boolean' },
      'no-peers': { type: 'boolean' },
      'no-json': { type: 'boolean' },
    },
    { reps: 3, seconds: 1.5, warmup: 0.25 },
    { reps: 1, seconds: 0.75, warmup: 0.1 },
  );
  if (common.help) {
    console.log(HELP);
    return;
  }
  const integer = (name: string, fallback: number, min: number): number => {
    const text = values[name];
    const n = text === undefined ? fallback : Number(text);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}`);
    return n;
  };
  const fileMib = integer('file-mib', common.quick ? 32 : 64, 2);
  const containerMib = integer('container-mib', common.quick ? 32 : 64, 1);
  const mwb = values['max-write-buffers'];
  const maxWriteBuffers = mwb === 'Infinity' ? Infinity : integer('max-write-buffers', 16, 1);
  const settleMax = values.settle === undefined ? (common.quick ? 8 : 20) : Number(values.settle);
  if (!Number.isFinite(settleMax) || settleMax < 0) throw new Error('--settle must be a number >= 0');
  const started = new Date();
  const t0 = performance.now();

  let cases = plan().filter((c) => !common.quick || c.quick);
  if (common.only) cases = cases.filter((c) => common.only!.test(c.id));
  if (values['no-fio'] === true) cases = cases.filter((c) => c.spec.kind !== 'fio');

  const base = chooseBenchBase(common.dir);
  const dir = await makeBenchDir(base.dir);
  const logs = new Map<LogDurability, Log>();
  let peers = new Map<PeerId, PeerAvailability>();
  const warnings: string[] = [];
  try {
    const machine = describeMachine(dir);
    console.log(
      `clfs bench (log) — ${common.quick ? 'quick' : 'full'} run, ${common.reps} rep(s) x ${common.seconds}s (+${common.warmup}s warm-up)`,
    );
    console.log(machineSummary(machine));
    if (machine.loadAverage[0]! > machine.cpus * 0.75) {
      warnings.push(
        `load average ${machine.loadAverage[0]!.toFixed(2)} on ${machine.cpus} CPUs at the start: absolute numbers will be noisy; read the ratios`,
      );
    }

    // fio.
    let fio: FioInfo | null = null;
    if (cases.some((c) => c.spec.kind === 'fio')) {
      fio = await findFio();
      if (fio === null) {
        console.log(fioInstallHint());
        cases = cases.filter((c) => c.spec.kind !== 'fio');
      } else console.log(`fio: ${fio.version} (${fio.path})`);
    }

    // Files: the device file (also the quiet probe's), fio's, the logs, the peers' stores.
    const fileSize = fileMib * MiB;
    const deviceFile = path.join(dir, 'device.dat');
    const prepared = await preallocatedFile(deviceFile, fileSize);
    if (!prepared.direct) throw new Error(`no direct I/O in ${dir}: ${prepared.reason}`);
    const probe = await DirectFile.open(deviceFile, { durability: 'dsync', engine: 'auto', depth: 1 });
    const deviceInfo = {
      path: deviceFile,
      size: fileSize,
      direct: probe.direct,
      reason: probe.reason,
      autoEngine: probe.engine,
      logicalSectorSize: probe.logicalSectorSize,
      physicalSectorSize: probe.physicalSectorSize,
      offsetAlignment: probe.offsetAlignment,
      alignmentSource: probe.alignmentSource,
    };
    await probe.close();
    const fioFile = path.join(dir, 'fio.dat');
    if (fio !== null) await preallocatedFile(fioFile, fileSize);

    const containerSize = containerMib * MiB;
    const wantedLogs = new Set<LogDurability>();
    for (const c of cases) {
      if (c.spec.kind === 'commit') wantedLogs.add(c.spec.durability);
      if (c.spec.kind === 'append') wantedLogs.add('dsync');
    }
    const logInfo: Record<string, unknown> = {};
    for (const durability of wantedLogs) {
      const log = await Log.create(path.join(dir, `log-${durability}`), {
        containerSize,
        containers: CONTAINERS,
        durability,
        // A safety net only: the base advancer keeps containers free. Growth is reported.
        autoGrow: { maxContainers: 64 },
      });
      logs.set(durability, log);
      const info = log.information();
      if (info.direct !== true)
        throw new Error(`the ${durability} log is not doing direct I/O (information().direct is ${info.direct})`);
      logInfo[durability] = infoJson(info);
    }

    const wantedPeers = new Set<PeerId>();
    for (const c of cases) if (c.spec.kind === 'peer') wantedPeers.add(c.spec.peer);
    if (values['no-peers'] === true) {
      for (const id of ['level', 'sqlite'] as const) {
        if (wantedPeers.delete(id)) peers.set(id, { id, available: false, reason: 'skipped (--no-peers)' });
      }
    }
    peers = new Map([...peers, ...(await openPeers(dir, wantedPeers))]);
    for (const p of peers.values()) {
      if (p.available) console.log(`peer ${p.store.label} ${p.store.version}: ${p.store.what}`);
      else console.log(`peer ${p.id} skipped: ${p.reason}`);
    }
    cases = cases.filter((c) => c.spec.kind !== 'peer' || peers.get(c.spec.peer)?.available === true);
    console.log(
      `files in ${dir} (${base.why}): DirectFile/fio files ${fileMib} MiB, logs ${CONTAINERS} x ${containerMib} MiB containers`,
    );

    // The device must be quiet before anything is measured.
    progress('waiting for the device to absorb the preallocated files ...');
    const settle: QuietResult = await waitForQuietDevice(deviceFile, fileSize, { maxSeconds: settleMax });
    const lastProbe = settle.probes[settle.probes.length - 1];
    progress(
      `  ${settle.quiet ? 'quiet' : 'NOT quiet'} after ${settle.seconds.toFixed(1)} s (${settle.probes.length} probes; last p50 ${fmt(lastProbe?.p50Us)} us, p99 ${fmt(lastProbe?.p99Us)} us)`,
    );
    if (!settle.quiet)
      warnings.push(`the device was still not quiet after ${settleMax} s: the first cases may be slowed`);

    const estimate = common.reps * cases.length * (common.seconds + common.warmup + 0.3);
    console.log(`${cases.length} cases x ${common.reps} rep(s), about ${Math.round(estimate)} s\n`);

    const ctx: Context = {
      seconds: common.seconds,
      warmup: common.warmup,
      device: { file: deviceFile, size: fileSize },
      fio: fio === null ? null : { info: fio, file: fioFile, size: fileSize },
      logs,
      peers,
      maxWriteBuffers,
      fioResults: new Map(),
    };
    const runs = new Map<string, CaseRun[]>(cases.map((c) => [c.id, []]));
    for (let rep = 0; rep < common.reps; rep++) {
      progress(`repetition ${rep + 1}/${common.reps}`);
      // Odd repetitions run the cases in reverse, so drift over a repetition favours no case.
      const order = rep % 2 === 0 ? cases : [...cases].reverse();
      for (const c of order) {
        const s = c.spec;
        let r: CaseRun;
        if (s.kind === 'device') r = await runDevice(ctx, s);
        else if (s.kind === 'fio') r = await runFioCase(ctx, c.id, s);
        else if (s.kind === 'commit') r = await runCommit(ctx, s);
        else if (s.kind === 'append') r = await runAppend(ctx, s);
        else {
          const p = peers.get(s.peer);
          if (p?.available !== true) continue;
          r = await runPeer(ctx, p.store, s);
        }
        runs.get(c.id)!.push(r);
        progress(`  ${c.id.padEnd(26)} ${describeRun(c, r)}`);
      }
    }

    for (const [durability, log] of logs) {
      const info = log.information();
      if (info.totalContainers > CONTAINERS) {
        warnings.push(
          `the ${durability} log grew to ${info.totalContainers} containers (autoGrow): appends outran the base advancer, and growth (preallocation) happened inside measured windows`,
        );
      }
    }

    // Report.
    const med = new Map<string, CaseRun>();
    for (const [id, list] of runs) if (list.length > 0) med.set(id, medianOf(list));
    const byId = new Map(cases.map((c) => [c.id, c]));
    const m = (id: string): CaseRun | undefined => med.get(id);
    const device = m('device-4kib-dsync-d1');
    const devicePair = m('device-4kib-fdatasync-d1');
    const deviceBw = m('device-256kib-dsync-d4');

    const title = `Results: median of ${common.reps} repetition(s); latencies in us, MB = 10^6 bytes`;
    console.log(`\n${title}`);
    const deviceRows = [
      'device-4kib-dsync-d1',
      'fio-4kib-dsync-d1',
      'device-4kib-fdatasync-d1',
      'device-256kib-dsync-d4',
    ]
      .filter((id) => med.has(id))
      .map((id) => {
        const r = m(id)!;
        return [byId.get(id)!.label, fmt(r.p50Us), fmt(r.p99Us), fmtRate(r.opsPerSec), fmt(r.mbPerSec)];
      });
    if (deviceRows.length > 0) {
      printTable(
        [
          { header: 'device limit (io_uring engine)' },
          { header: 'p50', align: 'right' },
          { header: 'p99', align: 'right' },
          { header: 'ops/s', align: 'right' },
          { header: 'MB/s', align: 'right' },
        ],
        deviceRows,
        '1. The device, same run (the sequential overwrite of a preallocated file)',
      );
    }

    const commitIds = [
      'commit-64b-dsync-n1',
      'commit-64b-fdatasync-n1',
      'commit-4kib-dsync-n1',
      'commit-4kib-fdatasync-n1',
      'fs-64b-n1',
      'fs-4kib-n1',
      'level-64b-n1',
      'level-4kib-n1',
      'sqlite-64b-n1',
      'sqlite-4kib-n1',
    ].filter((id) => med.has(id));
    if (commitIds.length > 0) {
      printTable(
        [
          { header: 'one committer' },
          { header: 'record', align: 'right' },
          { header: 'p50', align: 'right' },
          { header: 'p99', align: 'right' },
          { header: 'commits/s', align: 'right' },
          { header: 'p50 / device p50', align: 'right' },
          { header: 'blocks/commit', align: 'right' },
        ],
        commitIds.map((id) => {
          const c = byId.get(id)!;
          const r = m(id)!;
          const bytes = c.spec.kind === 'commit' || c.spec.kind === 'peer' ? c.spec.size : 0;
          return [
            c.label,
            fmtSize(bytes),
            fmt(r.p50Us),
            fmt(r.p99Us),
            fmtRate(r.opsPerSec),
            fmtRatio(ratio(r.p50Us, device?.p50Us)),
            r.blocksPerCommit === undefined ? '' : fmt(r.blocksPerCommit, 2),
          ];
        }),
        '2. Durable commit latency, one record at a time (clfs: reserveAndAppend(record, { forceFlush: true }));\n' +
          '   device p50 = DirectFile 4KiB O_DSYNC depth 1 above (a 64 B clfs commit writes one 4 KiB sector, a 4 KiB one two)',
      );
    }

    const groupIds = [
      'commit-64b-dsync-n1',
      'commit-64b-dsync-n8',
      'commit-64b-dsync-n64',
      'commit-64b-fdatasync-n1',
      'commit-64b-fdatasync-n8',
      'commit-64b-fdatasync-n64',
      'fs-64b-n1',
      'fs-64b-n64',
      'level-64b-n1',
      'level-64b-n64',
      'sqlite-64b-n1',
    ].filter((id) => med.has(id));
    if (groupIds.length > 0) {
      const one = (c: Case): CaseRun | undefined => {
        if (c.spec.kind === 'commit') return m(`commit-64b-${c.spec.durability}-n1`);
        if (c.spec.kind === 'peer') return m(`${c.spec.peer}-64b-n1`);
        return undefined;
      };
      printTable(
        [
          { header: '64 B records' },
          { header: 'committers', align: 'right' },
          { header: 'commits/s', align: 'right' },
          { header: 'x 1 committer', align: 'right' },
          { header: 'p50', align: 'right' },
          { header: 'p99', align: 'right' },
          { header: 'blocks/commit', align: 'right' },
          { header: 'syncs/commit', align: 'right' },
        ],
        groupIds.map((id) => {
          const c = byId.get(id)!;
          const r = m(id)!;
          const n = c.spec.kind === 'commit' || c.spec.kind === 'peer' ? c.spec.committers : 0;
          return [
            c.label,
            String(n),
            fmtRate(r.opsPerSec),
            fmtRatio(ratio(r.opsPerSec, one(c)?.opsPerSec)),
            fmt(r.p50Us),
            fmt(r.p99Us),
            r.blocksPerCommit === undefined ? '' : fmt(r.blocksPerCommit, 3),
            r.syncsPerCommit === undefined ? '' : fmt(r.syncsPerCommit, 3),
          ];
        }),
        '3. Group commit: N concurrent committers, each looping append + forceFlush (peers: their commit, concurrently;\n' +
          '   better-sqlite3 is synchronous, so it has no concurrent row)',
      );
    }

    const appendIds = [
      'append-64b-single',
      'append-64b-batch1000',
      'append-4kib-single',
      'append-4kib-batch1000',
    ].filter((id) => med.has(id));
    if (appendIds.length > 0) {
      printTable(
        [
          { header: 'dsync log, no flush until the end' },
          { header: 'record', align: 'right' },
          { header: 'records/s', align: 'right' },
          { header: 'payload MB/s', align: 'right' },
          { header: '/ device MB/s', align: 'right' },
          { header: 'final flush ms', align: 'right' },
          { header: 'written/payload', align: 'right' },
        ],
        appendIds.map((id) => {
          const c = byId.get(id)!;
          const r = m(id)!;
          const bytes = c.spec.kind === 'append' ? c.spec.size : 0;
          return [
            c.label,
            fmtSize(bytes),
            fmtRate(r.recordsPerSec),
            fmt(r.payloadMbPerSec),
            fmtRatio(ratio(r.payloadMbPerSec, deviceBw?.mbPerSec)),
            fmt(r.flushMs),
            fmt(r.writtenPerPayload, 2),
          ];
        }),
        `4. Throughput without flush (${fmtSize(APPEND_BUFFER)} buffers, maxWriteBuffers ${maxWriteBuffers}; the window includes the final\n` +
          '   flushBuffers(); device MB/s = DirectFile 256KiB O_DSYNC depth 4 above)',
      );
    }

    // Headlines.
    const h = (id: string): CaseRun | undefined => m(id);
    const clfs1 = h('commit-64b-dsync-n1');
    const clfs64 = h('commit-64b-dsync-n64');
    const headlines = {
      commitOverDevice: {
        what: 'clfs commit p50 / DirectFile 4KiB O_DSYNC depth-1 p50 (the log over a raw durable write)',
        dsync64: ratio(clfs1?.p50Us, device?.p50Us),
        dsync4k: ratio(h('commit-4kib-dsync-n1')?.p50Us, device?.p50Us),
        fdatasync64: ratio(h('commit-64b-fdatasync-n1')?.p50Us, device?.p50Us),
        fdatasync4k: ratio(h('commit-4kib-fdatasync-n1')?.p50Us, device?.p50Us),
        fdatasync64OverWriteSyncPair: ratio(h('commit-64b-fdatasync-n1')?.p50Us, devicePair?.p50Us),
      },
      deviceOverFio: {
        what: 'DirectFile 4KiB O_DSYNC p50 / fio psync O_DSYNC p50 (Node + native layer over the bare syscall)',
        ratio: ratio(device?.p50Us, h('fio-4kib-dsync-d1')?.p50Us),
      },
      groupCommit: {
        what: 'commits/s with N committers / with 1 (64 B records), and blocks written per commit',
        dsync8: ratio(h('commit-64b-dsync-n8')?.opsPerSec, clfs1?.opsPerSec),
        dsync64: ratio(clfs64?.opsPerSec, clfs1?.opsPerSec),
        fdatasync8: ratio(h('commit-64b-fdatasync-n8')?.opsPerSec, h('commit-64b-fdatasync-n1')?.opsPerSec),
        fdatasync64: ratio(h('commit-64b-fdatasync-n64')?.opsPerSec, h('commit-64b-fdatasync-n1')?.opsPerSec),
        blocksPerCommitDsync64: clfs64?.blocksPerCommit,
      },
      throughput: {
        what: 'payload MB/s of 4 KiB appends / DirectFile 256 KiB O_DSYNC depth-4 MB/s; 64 B records/s',
        fourKiBSingleOverDevice: ratio(h('append-4kib-single')?.payloadMbPerSec, deviceBw?.mbPerSec),
        fourKiBBatchOverDevice: ratio(h('append-4kib-batch1000')?.payloadMbPerSec, deviceBw?.mbPerSec),
        records64Single: h('append-64b-single')?.recordsPerSec,
        records64Batch: h('append-64b-batch1000')?.recordsPerSec,
      },
      peers: [] as Record<string, unknown>[],
    };
    const peerRows: string[][] = [];
    for (const p of peers.values()) {
      if (!p.available) {
        headlines.peers.push({ peer: p.id, skipped: p.reason });
        continue;
      }
      const at1 = h(`${p.id}-64b-n1`);
      const at64 = p.store.concurrent ? h(`${p.id}-64b-n64`) : undefined;
      const entry = {
        peer: p.id,
        label: p.store.label,
        clfsOverPeerCommitsPerSec1: ratio(clfs1?.opsPerSec, at1?.opsPerSec),
        peerOverClfsP50_1: ratio(at1?.p50Us, clfs1?.p50Us),
        clfsOverPeerCommitsPerSec64: p.store.concurrent ? ratio(clfs64?.opsPerSec, at64?.opsPerSec) : null,
      };
      headlines.peers.push(entry);
      peerRows.push([
        p.store.label,
        fmtRate(at1?.opsPerSec),
        fmt(at1?.p50Us),
        fmtRatio(entry.clfsOverPeerCommitsPerSec1),
        fmtRatio(entry.peerOverClfsP50_1),
        p.store.concurrent ? fmtRate(at64?.opsPerSec) : 'n/a',
        p.store.concurrent ? fmtRatio(entry.clfsOverPeerCommitsPerSec64 ?? Number.NaN) : 'n/a',
      ]);
    }
    if (peerRows.length > 0) {
      printTable(
        [
          { header: 'peer (64 B records)' },
          { header: 'commits/s', align: 'right' },
          { header: 'p50', align: 'right' },
          { header: 'clfs/peer commits/s', align: 'right' },
          { header: 'peer/clfs p50', align: 'right' },
          { header: 'commits/s, 64', align: 'right' },
          { header: 'clfs/peer, 64', align: 'right' },
        ],
        peerRows,
        `5. clfs (dsync) against the peers: 1 committer (clfs ${fmtRate(clfs1?.opsPerSec)} commits/s, p50 ${fmt(clfs1?.p50Us)} us) and 64 (clfs ${fmtRate(clfs64?.opsPerSec)} commits/s);\n` +
          '   clfs/peer > 1: clfs commits more per second; peer/clfs p50 > 1: the peer waits longer per commit',
      );
    }
    for (const p of peers.values()) if (!p.available) console.log(`   ${p.id}: skipped (${p.reason})`);

    console.log('\nHeadlines');
    console.log(
      `  clfs commit p50 / device p50: 64 B dsync ${fmtRatio(headlines.commitOverDevice.dsync64)}, 4 KiB dsync ${fmtRatio(headlines.commitOverDevice.dsync4k)}, ` +
        `64 B fdatasync ${fmtRatio(headlines.commitOverDevice.fdatasync64)} (${fmtRatio(headlines.commitOverDevice.fdatasync64OverWriteSyncPair)} of a DirectFile write+fdatasync), ` +
        `4 KiB fdatasync ${fmtRatio(headlines.commitOverDevice.fdatasync4k)}`,
    );
    console.log(`  DirectFile / fio p50 (4 KiB O_DSYNC depth 1): ${fmtRatio(headlines.deviceOverFio.ratio)}`);
    console.log(
      `  group commit, commits/s vs 1 committer: dsync x${fmtRatio(headlines.groupCommit.dsync8)} at 8, x${fmtRatio(headlines.groupCommit.dsync64)} at 64 ` +
        `(${fmt(headlines.groupCommit.blocksPerCommitDsync64, 3)} blocks/commit); fdatasync x${fmtRatio(headlines.groupCommit.fdatasync8)} at 8, x${fmtRatio(headlines.groupCommit.fdatasync64)} at 64`,
    );
    console.log(
      `  throughput: 4 KiB appends at ${fmtRatio(headlines.throughput.fourKiBSingleOverDevice)} (loop) / ${fmtRatio(headlines.throughput.fourKiBBatchOverDevice)} (batch) ` +
        `of the device's MB/s; 64 B: ${fmtRate(headlines.throughput.records64Single)} records/s (loop), ${fmtRate(headlines.throughput.records64Batch)} (batch)`,
    );
    for (const w of warnings) console.log(`WARNING: ${w}`);

    const elapsed = (performance.now() - t0) / 1000;
    console.log(`\nrun time ${elapsed.toFixed(0)} s`);
    if (values['no-json'] !== true) {
      const out = await writeResult(
        'log',
        {
          benchmark: 'log',
          schema: 1,
          startedAt: started.toISOString(),
          finishedAt: new Date().toISOString(),
          runSeconds: elapsed,
          options: {
            quick: common.quick,
            reps: common.reps,
            seconds: common.seconds,
            warmup: common.warmup,
            only: common.only?.source ?? null,
            fileBytes: fileSize,
            containerBytes: containerSize,
            containers: CONTAINERS,
            commitBufferSize: COMMIT_BUFFER,
            appendBufferSize: APPEND_BUFFER,
            appendMaxWriteBuffers: maxWriteBuffers === Infinity ? 'Infinity' : maxWriteBuffers,
            settleMaxSeconds: settleMax,
            dirChosenBy: base.why,
          },
          machine: { ...machine, loadAverageAtEnd: os.loadavg() },
          deviceFile: deviceInfo,
          logs: logInfo,
          logsAtEnd: Object.fromEntries([...logs].map(([d, log]) => [d, infoJson(log.information())])),
          fio: fio === null ? { available: false, hint: fioInstallHint() } : { available: true, ...fio },
          peers: [...peers.values()].map((p) =>
            p.available
              ? {
                  id: p.id,
                  available: true,
                  label: p.store.label,
                  version: p.store.version,
                  what: p.store.what,
                  details: p.store.details,
                }
              : { id: p.id, available: false, reason: p.reason },
          ),
          settle,
          method: {
            device:
              'DirectFile (io_uring engine) sequential overwrite of a preallocated, fully written file: O_DSYNC writes, or write() then sync() as one op; fio psync --sync=dsync on its own such file',
            commit:
              'N workers on one marshalling area (64 KiB buffers, defaults otherwise), each looping reserveAndAppend(its 64 B / 4 KiB random record, { forceFlush: true }); latency from the call to the settled promise; blocks/commit and syncs/commit from log.ioStatistics() over the window',
            append:
              'one worker awaiting reserveAndAppend(record) or appendBatch(1000 records) without flushing, on the dsync log, 256 KiB buffers; then one flushBuffers(), inside the window; records/s and payload MB/s over loop + flush',
            peers:
              'the same closed loop around each peer commit; fs.promises: write + datasync on a file opened "a"; classic-level: put(key, value, { sync: true }); better-sqlite3: one INSERT per transaction, WAL, synchronous=FULL (synchronous API: 1 committer only)',
            space:
              'each log has 4 containers; when appends enter a new container the base moves (advanceLogBase, in the background) to the first record of the previous one, as a checkpoint would; after each case the base moves to the last record',
            quiet:
              'before measuring, 4 KiB O_DSYNC probes run until two in a row have p99 <= 5 x p50 (a virtual disk absorbing freshly preallocated files is slow for seconds)',
            repetitions:
              'every case runs reps times; odd repetitions run the cases in reverse order; each number reported is the median across repetitions of that number',
          },
          cases: cases.map((c) => ({
            id: c.id,
            label: c.label,
            ...c.spec,
            median: med.get(c.id),
            reps: runs.get(c.id),
          })),
          fioJobs: [...ctx.fioResults].map(([id, list]) => ({
            id,
            commandLine: fioCommandLine(fioJob(ctx, id, 4 * KiB)),
            reps: list.map((r) => ({ summary: r.summary, raw: r.raw })),
          })),
          headlines,
          warnings,
        },
        started,
      );
      console.log(`results: ${out}`);
    }
  } finally {
    for (const log of logs.values()) await log.close().catch(() => undefined);
    for (const p of peers.values()) if (p.available) await p.store.close().catch(() => undefined);
    if (!common.keep) await removeBenchDir(dir);
    else console.log(`kept ${dir}`);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
