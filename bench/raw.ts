/**
 * `npm run bench:raw`: the device's limit as seen through clfs's native layer
 * (DirectFile, no log policy on top), next to fio (the device's own limit)
 * and Node's `fs.promises` (what users do today). See bench/README.md.
 * @module
 */
import { randomFillSync } from 'node:crypto';
import { open as openBuffered } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { DirectFile, alignedBuffer, type Durability } from '../lib/index.ts';
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
import { closedLoop, SequentialOffsets, type LoopResult } from './support/loops.ts';
import { describeMachine, machineSummary } from './support/machine.ts';
import { COMMON_HELP, parseOptions } from './support/options.ts';
import { writeResult } from './support/results.ts';
import { Samples, medianOf, ratio, summarize, type RunSummary } from './support/stats.ts';
import { fmt, fmtRate, fmtRatio, fmtSize, printTable } from './support/table.ts';

const KiB = 1024;
const MiB = 1024 * 1024;

type EngineName = 'uring' | 'threads';
type Group = 'latency' | 'bandwidth' | 'iops';

/** One measurement of our native layer. */
interface Case {
  id: string;
  group: Group;
  bs: number;
  depth: number;
  durability: Durability;
  engine: EngineName;
  /** Peer ids (fio jobs, the Node peer) run next to this case in each repetition. */
  peers: string[];
  /** Named in the "within 10% of fio" verdicts. */
  headline?: string;
}

interface FioPeer {
  kind: 'fio';
  id: string;
  job: FioJob;
  what: string;
}
interface NodePeer {
  kind: 'node';
  id: string;
  bs: number;
  what: string;
}
type Peer = FioPeer | NodePeer;

/** Ours, per run: the loop summary plus the fdatasync side of it. */
interface OursRun extends RunSummary {
  /** Syncs issued by a pipelined fdatasync run at depth > 1 (0 otherwise). */
  syncs: number;
  syncP50Us: number;
  syncP99Us: number;
}

/** A fio result reduced to what compares with a case (pairs for fdatasync at depth 1). */
interface Comparable {
  opsPerSec: number;
  mbPerSec: number;
  p50Us: number;
  p99Us: number;
  meanUs: number;
  /** True when p50/p99 are sums of fio's write and sync percentiles (an estimate). */
  approximate: boolean;
}

const HELP = `npm run bench:raw -- [options]

Durable write latency and bandwidth of clfs's DirectFile (both engines), with
fio and Node's fs.promises as peers, into preallocated, fully written files.

${COMMON_HELP}
  --file-mib <n>    size of each benchmark file in MiB (default 256, quick 64)
  --fio <mode>      key (default): fio peers for the key cases; all: also every
                    bandwidth case; off: no fio
  --no-node         skip the fs.promises peer
  --out <dir>       where raw-<time>.json goes (default: clfs-bench-results in the
                    system's temporary directory; bench/results to keep it)
  --no-json         do not write the JSON`;

function caseId(group: Group, bs: number, depth: number, durability: Durability, engine: EngineName): string {
  const g = group === 'latency' ? 'lat' : group === 'bandwidth' ? 'bw' : 'iops';
  return `${g}-${fmtSize(bs).toLowerCase()}-d${depth}-${durability}-${engine}`;
}

function fioPeerFor(
  bs: number,
  depth: number,
  durability: Durability,
  file: string,
  size: number,
  seconds: number,
  warmup: number,
): FioPeer {
  // Depth 1: psync, one pwrite at a time (the lowest-overhead path fio has).
  // Deeper: io_uring with `depth` writes in flight.
  const ioengine = depth === 1 ? 'psync' : 'io_uring';
  const id = `fio-${ioengine}-${durability}-${fmtSize(bs).toLowerCase()}-d${depth}`;
  const job: FioJob = {
    name: id,
    filename: file,
    size,
    bs,
    ioengine,
    iodepth: depth,
    durability,
    fdatasyncEvery: depth,
    runtimeMs: seconds * 1000,
    rampMs: warmup * 1000,
  };
  const what =
    durability === 'dsync'
      ? `O_DIRECT|O_DSYNC writes, ${depth} in flight`
      : durability === 'fdatasync'
        ? `O_DIRECT writes, ${depth} in flight, fdatasync every ${depth} writes`
        : `O_DIRECT writes, ${depth} in flight, no sync`;
  return { kind: 'fio', id, job, what };
}

interface Plan {
  cases: Case[];
  peers: Map<string, Peer>;
}

function plan(opts: {
  quick: boolean;
  fioMode: 'key' | 'all' | 'off';
  node: boolean;
  fioFile: string;
  size: number;
  seconds: number;
  warmup: number;
}): Plan {
  const cases: Case[] = [];
  const peers = new Map<string, Peer>();
  const fio = (bs: number, depth: number, durability: Durability): string[] => {
    if (opts.fioMode === 'off') return [];
    const peer = fioPeerFor(bs, depth, durability, opts.fioFile, opts.size, opts.seconds, opts.warmup);
    peers.set(peer.id, peer);
    return [peer.id];
  };
  const node = (bs: number): string[] => {
    if (!opts.node) return [];
    const id = `node-fs-write-datasync-${fmtSize(bs).toLowerCase()}`;
    peers.set(id, { kind: 'node', id, bs, what: 'fs.promises FileHandle.write + datasync() (buffered)' });
    return [id];
  };
  const add = (
    group: Group,
    bs: number,
    depth: number,
    durability: Durability,
    engine: EngineName,
    peerIds: string[],
    headline?: string,
  ): void => {
    const c: Case = {
      id: caseId(group, bs, depth, durability, engine),
      group,
      bs,
      depth,
      durability,
      engine,
      peers: peerIds,
    };
    if (headline !== undefined) c.headline = headline;
    cases.push(c);
  };
  const engines: EngineName[] = ['uring', 'threads'];

  if (opts.quick) {
    for (const engine of engines) {
      add('latency', 4 * KiB, 1, 'dsync', engine, fio(4 * KiB, 1, 'dsync'), '4KiB d1 dsync p50');
    }
    add('latency', 4 * KiB, 1, 'fdatasync', 'uring', [...fio(4 * KiB, 1, 'fdatasync'), ...node(4 * KiB)]);
    for (const engine of engines) {
      add('iops', 4 * KiB, 64, 'dsync', engine, fio(4 * KiB, 64, 'dsync'), '4KiB d64 dsync writes/s');
      add('bandwidth', 256 * KiB, 4, 'dsync', engine, fio(256 * KiB, 4, 'dsync'), '256KiB d4 dsync MB/s');
    }
    return { cases, peers };
  }

  // 1. Durable write latency at depth 1.
  for (const bs of [512, 4 * KiB, 64 * KiB]) {
    for (const durability of ['dsync', 'fdatasync'] as const) {
      const withNode = bs === 4 * KiB && durability === 'fdatasync' ? node(bs) : [];
      add('latency', bs, 1, durability, 'uring', [...fio(bs, 1, durability), ...withNode], headlineLat(bs, durability));
      if (bs === 4 * KiB)
        add('latency', bs, 1, durability, 'threads', fio(bs, 1, durability), headlineLat(bs, durability));
    }
  }
  // 3. Durable 4 KiB writes/s at depth 64.
  for (const engine of engines)
    add('iops', 4 * KiB, 64, 'dsync', engine, fio(4 * KiB, 64, 'dsync'), '4KiB d64 dsync writes/s');
  // 2. Bandwidth. 64 KiB at depth 1 is the latency case above.
  for (const bs of [64 * KiB, 256 * KiB, MiB]) {
    for (const depth of [1, 4, 16]) {
      if (bs === 64 * KiB && depth === 1) continue;
      for (const durability of ['dsync', 'fdatasync'] as const) {
        const key = bs === 256 * KiB && depth === 4;
        const peerIds = key || (opts.fioMode === 'all' && depth > 1) ? fio(bs, depth, durability) : [];
        add('bandwidth', bs, depth, durability, 'uring', peerIds, key ? `256KiB d4 ${durability} MB/s` : undefined);
        if (key) add('bandwidth', bs, depth, durability, 'threads', peerIds, `256KiB d4 ${durability} MB/s`);
      }
    }
  }
  // The raw direct-I/O limit (not durable): what "~5 GB/s at 256 KiB x4" means.
  for (const engine of engines) {
    add('bandwidth', 256 * KiB, 4, 'none', engine, fio(256 * KiB, 4, 'none'), '256KiB d4 none MB/s');
  }
  return { cases, peers };
}

function headlineLat(bs: number, durability: Durability): string | undefined {
  return bs === 4 * KiB && durability === 'dsync' ? '4KiB d1 dsync p50' : undefined;
}

/** Runs one case once: open, warm up, measure, close. */
async function runCase(
  c: Case,
  file: string,
  size: number,
  seconds: number,
  warmup: number,
  onOpen: (engine: string) => void,
): Promise<OursRun> {
  // A pipelined fdatasync run needs one slot more than its writes, for the sync.
  const engineDepth = c.durability === 'fdatasync' && c.depth > 1 ? c.depth + 1 : c.depth;
  const handle = await DirectFile.open(file, { durability: c.durability, engine: c.engine, depth: engineDepth });
  try {
    if (!handle.direct) throw new Error(`${file} is not open for direct I/O: ${handle.reason}`);
    onOpen(handle.engine);
    const buffers: Uint8Array[] = [];
    for (let i = 0; i < c.depth; i++) buffers.push(randomFillSync(alignedBuffer(c.bs)));
    const offsets = new SequentialOffsets(size, c.bs);
    const expected = c.bs <= 4 * KiB ? 120_000 : 40_000;

    if (c.durability !== 'fdatasync' || c.depth === 1) {
      // dsync / none: one op = one write. fdatasync at depth 1: one op = write + sync.
      const sync = c.durability === 'fdatasync';
      const op = async (w: number): Promise<number> => {
        const n = await handle.write(offsets.next(), buffers[w]!);
        if (sync) await handle.sync();
        return n;
      };
      if (warmup > 0) await closedLoop(c.depth, warmup, op, expected);
      const r = await closedLoop(c.depth, seconds, op, expected);
      return {
        ...summarize(r.samples, r.elapsedMs, r.bytes),
        syncs: sync ? r.samples.length : 0,
        syncP50Us: NaN,
        syncP99Us: NaN,
      };
    }

    // fdatasync at depth N: N writes always in flight; after every N write
    // completions one sync() goes in (covering every write submitted before
    // it, which the engine lets finish first); writes keep flowing meanwhile.
    // At most one sync is outstanding: one asked for while another runs is
    // issued when it completes.
    let syncSamples = new Samples(1 << 14);
    let completed = 0;
    let syncRunning: Promise<void> | null = null;
    let syncOwed = false;
    const startSync = (): void => {
      const t0 = performance.now();
      syncRunning = handle.sync().then(() => {
        syncSamples.push(performance.now() - t0);
        syncRunning = null;
        if (syncOwed) {
          syncOwed = false;
          startSync();
        }
      });
    };
    const op = async (w: number): Promise<number> => {
      const n = await handle.write(offsets.next(), buffers[w]!);
      if (++completed % c.depth === 0) {
        if (syncRunning === null) startSync();
        else syncOwed = true;
      }
      return n;
    };
    const drain = async (): Promise<void> => {
      while (syncRunning !== null) await syncRunning;
    };
    if (warmup > 0) {
      await closedLoop(c.depth, warmup, op, expected);
      await drain();
    }
    syncSamples = new Samples(1 << 14);
    completed = 0;
    const r: LoopResult = await closedLoop(c.depth, seconds, op, expected);
    // The window closes with the last write; the sync still running (or owed)
    // finishes outside it, and a last sync makes the tail durable.
    await drain();
    await handle.sync();
    const syncs = syncSamples.sorted();
    return {
      ...summarize(r.samples, r.elapsedMs, r.bytes),
      syncs: syncs.length,
      syncP50Us: (syncs[Math.ceil(syncs.length * 0.5) - 1] ?? NaN) * 1000,
      syncP99Us: (syncs[Math.ceil(syncs.length * 0.99) - 1] ?? NaN) * 1000,
    };
  } finally {
    await handle.close();
  }
}

/** The Node peer: buffered FileHandle.write then datasync(), one at a time. */
async function runNodePeer(
  bs: number,
  file: string,
  size: number,
  seconds: number,
  warmup: number,
): Promise<RunSummary> {
  const handle = await openBuffered(file, 'r+');
  try {
    const buffer = randomFillSync(Buffer.alloc(bs));
    const offsets = new SequentialOffsets(size, bs);
    const op = async (): Promise<number> => {
      const { bytesWritten } = await handle.write(buffer, 0, bs, offsets.next());
      await handle.datasync();
      return bytesWritten;
    };
    if (warmup > 0) await closedLoop(1, warmup, op);
    const r = await closedLoop(1, seconds, op);
    return summarize(r.samples, r.elapsedMs, r.bytes);
  } finally {
    await handle.close();
  }
}

/** fio's numbers in the shape of a case: at depth 1 with fdatasync, one op is a write + sync pair. */
function comparable(c: Case, fio: FioResult['summary']): Comparable {
  if (c.durability === 'fdatasync' && c.depth === 1) {
    return {
      opsPerSec: fio.iops,
      mbPerSec: fio.mbPerSec,
      meanUs: 1e6 / fio.iops,
      p50Us: fio.latP50Us + (fio.syncP50Us ?? NaN),
      p99Us: fio.latP99Us + (fio.syncP99Us ?? NaN),
      approximate: true,
    };
  }
  return {
    opsPerSec: fio.iops,
    mbPerSec: fio.mbPerSec,
    meanUs: fio.latMeanUs,
    p50Us: fio.latP50Us,
    p99Us: fio.latP99Us,
    approximate: false,
  };
}

function progress(text: string): void {
  process.stderr.write(`${text}\n`);
}

function describeRun(s: { p50Us: number; p99Us: number; opsPerSec: number; mbPerSec: number }): string {
  return `p50 ${fmt(s.p50Us)}us p99 ${fmt(s.p99Us)}us ${fmtRate(s.opsPerSec)}/s ${fmt(s.mbPerSec)} MB/s`;
}

async function main(): Promise<void> {
  const { common, values } = parseOptions(
    process.argv.slice(2),
    {
      'file-mib': { type: 'string' },
      fio: { type: 'string' },
      'no-node': { type: 'boolean' },
      'no-json': { type: 'boolean' },
      out: { type: 'string' },
    },
    { reps: 3, seconds: 1.5, warmup: 0.25 },
    { reps: 1, seconds: 1, warmup: 0.15 },
  );
  if (common.help) {
    console.log(HELP);
    return;
  }
  const fioMode = (values.fio ?? 'key') as string;
  if (fioMode !== 'key' && fioMode !== 'all' && fioMode !== 'off') throw new Error(`--fio must be key, all or off`);
  const fileMib = Number(values['file-mib'] ?? (common.quick ? 64 : 256));
  if (!Number.isInteger(fileMib) || fileMib < 2) throw new Error('--file-mib must be an integer >= 2');
  const size = fileMib * MiB;
  const started = new Date();
  const t0 = performance.now();

  const base = chooseBenchBase(common.dir);
  const dir = await makeBenchDir(base.dir);
  const files = {
    ours: path.join(dir, 'clfs.dat'),
    fio: path.join(dir, 'fio.dat'),
    node: path.join(dir, 'node.dat'),
  };
  try {
    const machine = describeMachine(dir);
    console.log(
      `clfs bench:raw — ${common.quick ? 'quick' : 'full'} run, ${common.reps} rep(s) x ${common.seconds}s (+${common.warmup}s warm-up)`,
    );
    console.log(machineSummary(machine));
    console.log(`files in ${dir} (${base.why}), ${fileMib} MiB each, preallocated and written`);

    const fio: FioInfo | null = fioMode === 'off' ? null : await findFio();
    if (fioMode !== 'off' && fio === null) console.log(fioInstallHint());
    else if (fio !== null) console.log(`fio: ${fio.version} (${fio.path})`);

    const p = plan({
      quick: common.quick,
      fioMode: fio === null ? 'off' : (fioMode as 'key' | 'all' | 'off'),
      node: values['no-node'] !== true,
      fioFile: files.fio,
      size,
      seconds: common.seconds,
      warmup: common.warmup,
    });
    let cases = p.cases;
    if (common.only) cases = cases.filter((c) => common.only!.test(c.id));
    const usedPeers = new Set(cases.flatMap((c) => c.peers));
    const estimate = common.reps * (cases.length + usedPeers.size) * (common.seconds + common.warmup + 0.15);
    console.log(`${cases.length} cases + ${usedPeers.size} peers, about ${Math.round(estimate)}s\n`);

    const prepared = await preallocatedFile(files.ours, size);
    if (!prepared.direct) throw new Error(`no direct I/O in ${dir}: ${prepared.reason}`);
    if ([...usedPeers].some((id) => p.peers.get(id)?.kind === 'fio')) await preallocatedFile(files.fio, size);
    if ([...usedPeers].some((id) => p.peers.get(id)?.kind === 'node')) await preallocatedFile(files.node, size);
    const probe = await DirectFile.open(files.ours, { durability: 'dsync', engine: 'auto', depth: 1 });
    const fileInfo = {
      path: files.ours,
      size,
      direct: probe.direct,
      reason: probe.reason,
      autoEngine: probe.engine,
      memoryAlignment: probe.memoryAlignment,
      offsetAlignment: probe.offsetAlignment,
      logicalSectorSize: probe.logicalSectorSize,
      physicalSectorSize: probe.physicalSectorSize,
      alignmentSource: probe.alignmentSource,
    };
    await probe.close();

    const ours = new Map<string, OursRun[]>(cases.map((c) => [c.id, []]));
    const engineReported = new Map<string, string>();
    const fioRuns = new Map<string, FioResult[]>();
    const nodeRuns = new Map<string, RunSummary[]>();

    const runPeer = async (id: string, rep: number): Promise<void> => {
      const peer = p.peers.get(id)!;
      if (peer.kind === 'fio') {
        if ((fioRuns.get(id)?.length ?? 0) > rep) return;
        const r = await runFio(fio!, peer.job);
        fioRuns.set(id, [...(fioRuns.get(id) ?? []), r]);
        progress(
          `  ${id.padEnd(34)} ${describeRun({ ...r.summary, opsPerSec: r.summary.iops, p50Us: r.summary.latP50Us, p99Us: r.summary.latP99Us })}`,
        );
      } else {
        if ((nodeRuns.get(id)?.length ?? 0) > rep) return;
        const r = await runNodePeer(peer.bs, files.node, size, common.seconds, common.warmup);
        nodeRuns.set(id, [...(nodeRuns.get(id) ?? []), r]);
        progress(`  ${id.padEnd(34)} ${describeRun(r)}`);
      }
    };

    for (let rep = 0; rep < common.reps; rep++) {
      progress(`repetition ${rep + 1}/${common.reps}`);
      for (const c of cases) {
        // Alternate who goes first, so drift over a repetition favours neither.
        const peersFirst = rep % 2 === 1;
        if (peersFirst) for (const id of c.peers) await runPeer(id, rep);
        const r = await runCase(c, files.ours, size, common.seconds, common.warmup, (engine) =>
          engineReported.set(c.id, engine),
        );
        ours.get(c.id)!.push(r);
        progress(`  ${c.id.padEnd(34)} ${describeRun(r)}${r.syncs > 0 && c.depth > 1 ? ` (${r.syncs} syncs)` : ''}`);
        if (!peersFirst) for (const id of c.peers) await runPeer(id, rep);
      }
    }

    // Report.
    const rows: string[][] = [];
    const comparisons: Record<string, unknown>[] = [];
    const verdicts: Record<string, unknown>[] = [];
    const caseResults: Record<string, unknown>[] = [];
    for (const c of cases) {
      const runs = ours.get(c.id)!;
      const med = medianOf(runs);
      const fioId = c.peers.find((id) => p.peers.get(id)?.kind === 'fio');
      const fioMed =
        fioId !== undefined && fioRuns.has(fioId) ? medianOf(fioRuns.get(fioId)!.map((r) => r.summary)) : undefined;
      const peer = fioMed === undefined ? undefined : comparable(c, fioMed);
      const mark = peer?.approximate ? '≈' : '';
      const label = `${c.group === 'latency' ? 'latency' : c.group === 'iops' ? 'writes/s' : 'bandwidth'} ${fmtSize(c.bs)} d${c.depth} ${c.durability}`;
      let oursText: string;
      let fioText: string;
      let ratioText: string;
      let metric: string;
      let r: number;
      let r99 = NaN;
      if (c.group === 'latency') {
        metric = 'p50/p99 us (ops/s)';
        oursText = `${fmt(med.p50Us)} / ${fmt(med.p99Us)} (${fmtRate(med.opsPerSec)})`;
        fioText = peer ? `${mark}${fmt(peer.p50Us)} / ${mark}${fmt(peer.p99Us)} (${fmtRate(peer.opsPerSec)})` : '-';
        r = ratio(med.p50Us, peer?.p50Us);
        r99 = ratio(med.p99Us, peer?.p99Us);
        ratioText = peer ? `${fmtRatio(r)} / ${fmtRatio(r99)}` : '-';
      } else if (c.group === 'iops') {
        metric = 'writes/s (p50 us)';
        oursText = `${fmtRate(med.opsPerSec)} (${fmt(med.p50Us)})`;
        fioText = peer ? `${fmtRate(peer.opsPerSec)} (${fmt(peer.p50Us)})` : '-';
        r = ratio(med.opsPerSec, peer?.opsPerSec);
        ratioText = fmtRatio(r);
      } else {
        metric = 'MB/s (ops/s)';
        oursText = `${fmt(med.mbPerSec)} (${fmtRate(med.opsPerSec)})`;
        fioText = peer ? `${fmt(peer.mbPerSec)} (${fmtRate(peer.opsPerSec)})` : '-';
        r = ratio(med.mbPerSec, peer?.mbPerSec);
        ratioText = fmtRatio(r);
      }
      // Latency: lower is better; rates: higher is better. "Within 10%" = not worse than fio by more than 10%.
      const worseBy = c.group === 'latency' ? r - 1 : 1 - r;
      const verdict = Number.isNaN(r)
        ? ''
        : worseBy <= 0.1
          ? worseBy < -0.1
            ? 'faster'
            : 'ok'
          : `${Math.round(worseBy * 100)}% worse`;
      rows.push([label, c.engine === 'uring' ? 'io_uring' : 'threads', metric, oursText, fioText, ratioText, verdict]);
      if (peer) {
        comparisons.push({
          case: c.id,
          fioJob: fioId,
          metric: c.group === 'latency' ? 'p50Us' : c.group === 'iops' ? 'opsPerSec' : 'mbPerSec',
          ours: c.group === 'latency' ? med.p50Us : c.group === 'iops' ? med.opsPerSec : med.mbPerSec,
          fio: c.group === 'latency' ? peer.p50Us : c.group === 'iops' ? peer.opsPerSec : peer.mbPerSec,
          ratio: r,
          ratioP99: c.group === 'latency' ? r99 : undefined,
          fioApproximate: peer.approximate,
          withinTenPercent: worseBy <= 0.1,
        });
      }
      if (c.headline !== undefined) {
        verdicts.push({
          what: c.headline,
          engine: c.engine,
          case: c.id,
          ratio: r,
          withinTenPercent: peer ? worseBy <= 0.1 : null,
        });
      }
      caseResults.push({
        id: c.id,
        group: c.group,
        blockSize: c.bs,
        depth: c.depth,
        durability: c.durability,
        engine: engineReported.get(c.id),
        peers: c.peers,
        median: med,
        reps: runs,
      });
    }

    printTable(
      [
        { header: 'case' },
        { header: 'engine' },
        { header: 'metric' },
        { header: 'ours', align: 'right' },
        { header: 'fio', align: 'right' },
        { header: 'ours/fio', align: 'right' },
        { header: 'vs fio' },
      ],
      rows,
      `Results (median of ${common.reps} rep(s); sequential overwrite, wrapping, of a ${fileMib} MiB preallocated file)`,
    );
    console.log(
      '≈ fio p50/p99 for write+fdatasync pairs = fio write p50/p99 + fio sync p50/p99 (an estimate; ops/s is exact).',
    );
    console.log('Ratios: latency ours/fio > 1 means slower; writes/s and MB/s ours/fio < 1 means slower.');

    const nodeSummaries: Record<string, unknown>[] = [];
    for (const [id, runs] of nodeRuns) {
      const med = medianOf(runs);
      const lat4dsync = medianOfOrUndefined(ours.get(caseId('latency', 4 * KiB, 1, 'dsync', 'uring')));
      const lat4fds = medianOfOrUndefined(ours.get(caseId('latency', 4 * KiB, 1, 'fdatasync', 'uring')));
      console.log(
        `\nNode peer ${id}: p50 ${fmt(med.p50Us)} us, p99 ${fmt(med.p99Us)} us, ${fmtRate(med.opsPerSec)} commits/s.` +
          (lat4dsync ? ` clfs dsync 4KiB d1 p50 is ${fmtRatio(ratio(lat4dsync.p50Us, med.p50Us))}x of it` : '') +
          (lat4fds ? `, clfs write+sync ${fmtRatio(ratio(lat4fds.p50Us, med.p50Us))}x.` : '.'),
      );
      nodeSummaries.push({ id, what: (p.peers.get(id) as NodePeer).what, median: med, reps: runs });
    }

    if (verdicts.length > 0 && fio !== null) {
      console.log('\nWithin 10% of fio (not worse by more than 10%):');
      for (const v of verdicts) {
        const ok = v.withinTenPercent === null ? 'no fio peer' : v.withinTenPercent ? 'yes' : 'NO';
        console.log(
          `  ${String(v.what).padEnd(26)} ${String(v.engine).padEnd(8)} ratio ${fmtRatio(v.ratio as number).padStart(5)}  ${ok}`,
        );
      }
    }

    const elapsed = (performance.now() - t0) / 1000;
    console.log(`\nrun time ${elapsed.toFixed(0)} s`);
    if (values['no-json'] !== true) {
      const fioJobs = [...fioRuns].map(([id, runs]) => {
        const peer = p.peers.get(id) as FioPeer;
        return {
          id,
          what: peer.what,
          commandLine: fioCommandLine(peer.job),
          median: medianOf(runs.map((r) => r.summary)),
          reps: runs.map((r) => ({ summary: r.summary, raw: r.raw })),
        };
      });
      const out = await writeResult(
        'raw',
        {
          benchmark: 'raw',
          schema: 1,
          startedAt: started.toISOString(),
          finishedAt: new Date().toISOString(),
          runSeconds: elapsed,
          options: {
            quick: common.quick,
            reps: common.reps,
            seconds: common.seconds,
            warmup: common.warmup,
            fileBytes: size,
            fio: fioMode,
            only: common.only?.source ?? null,
            dirChosenBy: base.why,
          },
          machine: { ...machine, loadAverageAtEnd: os.loadavg() },
          file: fileInfo,
          fio: fio === null ? { available: false, hint: fioInstallHint() } : { available: true, ...fio },
          method: {
            offsets: 'sequential overwrite of a preallocated, fully written file, wrapping at its end',
            latency:
              'per operation, from the call to the settled promise (performance.now()); dsync: one write; fdatasync at depth 1: write then sync(), the pair is one operation',
            depthN:
              'closed loop: N workers, each issuing its next write when its previous completes (N writes outstanding at all times)',
            fdatasyncDepthN:
              'N writes always in flight; after every N completed writes one sync() is submitted, covering every write submitted before it (the engine starts it once those complete), while later writes keep flowing; at most one sync outstanding (one requested meanwhile is issued when it completes). ops and MB/s count writes; syncs are reported separately. The fio peer is io_uring with --fdatasync=N --iodepth=N, which queues its fdatasync next to the writes in flight without waiting for them.',
            repetitions:
              'each case runs reps times, interleaved with its peers (order alternating per repetition); each reported number is the median across repetitions of that number',
            units: 'latency in microseconds; MB = 10^6 bytes',
            fioLatency:
              "fio's lat (submission + completion) percentiles; for write+fdatasync pairs p50/p99 are write + sync percentiles (approximate), ops/s exact",
          },
          cases: caseResults,
          fioJobs,
          nodePeers: nodeSummaries,
          comparisons,
          verdicts,
        },
        started,
        typeof values.out === 'string' ? path.resolve(values.out) : undefined,
      );
      console.log(`results: ${out}`);
    }
  } finally {
    if (!common.keep) await removeBenchDir(dir);
    else console.log(`kept ${dir}`);
  }
}

function medianOfOrUndefined(runs: OursRun[] | undefined): OursRun | undefined {
  return runs === undefined || runs.length === 0 ? undefined : medianOf(runs);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
