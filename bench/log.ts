/**
 * `npm run bench`: issue 9's benchmark. Eight workloads (W1 … W8) and write
 * amplification (WA), each against the device's limit (DirectFile, fio) and
 * the peers a Node user would pick (fs.promises, better-sqlite3,
 * classic-level, lmdb, @ronomon/direct-io), in the same run, interleaved;
 * every row judged against the issue's bar. See bench/README.md.
 * @module
 */
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { chooseBenchBase, makeBenchDir, removeBenchDir } from './support/files.ts';
import { fioCommandLine, fioInstallHint } from './support/fio.ts';
import { describeMachine, machineSummary } from './support/machine.ts';
import { COMMON_HELP, argumentError, isArgumentError, parseOptions } from './support/options.ts';
import { Progress } from './support/progress.ts';
import { fileTimestamp, resultJson, resultsDir } from './support/results.ts';
import { waitForQuietDevice } from './support/direct.ts';
import { fmt } from './support/table.ts';
import { MiB, makeContext, type BenchOptions } from './core/context.ts';
import { planCases, runCases } from './core/runner.ts';
import { conditionsJson, peersJson, prepareDeviceFile, prepareFio, preparePeers } from './core/setup.ts';
import { PEER_IDS, type PeerId } from './support/peers.ts';
import type { Series, Verdict, WorkloadReport } from './core/types.ts';
import { formatVerdicts, formatWorkload } from './report/print.ts';
import { renderChart } from './report/svg.ts';
import { fioJob, FIO_4K } from './workloads/limits.ts';
import { WORKLOADS } from './workloads/index.ts';

/** What --skip-peer takes. */
const SKIPPABLE: readonly string[] = [...PEER_IDS.filter((id) => id !== 'fs'), 'lmdb'];

const HELP = `npm run bench -- [options]     (installed: clfs bench [options])

Issue 9's workloads W1 … W8 and WA: clfs against the device (DirectFile, fio)
and the peers (fs.promises, better-sqlite3, classic-level, lmdb,
@ronomon/direct-io), in one run; every row judged against the issue's bar.

${COMMON_HELP}
  --json                   print the JSON result to stdout instead of the tables
  --out <dir>              where the JSON and SVG go (default: clfs-bench-results in the
                           system's temporary directory; bench/results to keep them)
  --file-mib <n>           DirectFile / fio / buffered files, MiB (default 64, quick 32)
  --container-mib <n>      containers of the commit log and W8's log, MiB (default 64, quick 32)
  --scan-mib <n>           W6/W7 log data, MiB (default 1024, quick 64)
  --stream-mib <n>         W8 bytes streamed, MiB (default 4096, quick 256)
  --max-write-buffers <n>  maxWriteBuffers of the W4/W5 areas, and W4's DirectFile depth (default 8)
  --settle <s>             longest wait for the device to go quiet (default 20, quick 5)
  --no-fio                 skip fio
  --no-peers               skip the peer libraries (fs.promises still runs)
  --skip-peer <id>         skip one peer (repeatable; lmdb is both lmdb ones):
                           ${SKIPPABLE.join(', ')}`;

function integer(values: Record<string, unknown>, name: string, fallback: number, min: number): number {
  const text = values[name];
  const n = text === undefined ? fallback : Number(text);
  if (!Number.isInteger(n) || n < min) throw argumentError(`--${name} must be an integer >= ${min}`);
  return n;
}

/** The peers --no-peers and --skip-peer leave out, with why (fs.promises always runs: it is the baseline). */
function peersToSkip(values: Record<string, unknown>): Map<PeerId, string> {
  const skip = new Map<PeerId, string>();
  if (values['no-peers'] === true) {
    for (const id of PEER_IDS) if (id !== 'fs') skip.set(id, 'skipped (--no-peers)');
  }
  for (const name of (values['skip-peer'] as string[] | undefined) ?? []) {
    if (!SKIPPABLE.includes(name)) {
      throw argumentError(`--skip-peer ${name}: not a peer that can be skipped (${SKIPPABLE.join(', ')})`);
    }
    const ids = name === 'lmdb' ? PEER_IDS.filter((id) => id.startsWith('lmdb-')) : [name as PeerId];
    for (const id of ids) skip.set(id, `skipped (--skip-peer ${name})`);
  }
  return skip;
}

async function main(): Promise<void> {
  const { common, values } = parseOptions(
    process.argv.slice(2),
    {
      json: { type: 'boolean' },
      out: { type: 'string' },
      'file-mib': { type: 'string' },
      'container-mib': { type: 'string' },
      'scan-mib': { type: 'string' },
      'stream-mib': { type: 'string' },
      'max-write-buffers': { type: 'string' },
      settle: { type: 'string' },
      'no-fio': { type: 'boolean' },
      'no-peers': { type: 'boolean' },
      'skip-peer': { type: 'string', multiple: true },
    },
    { reps: 3, seconds: 1.5, warmup: 0.25 },
    { reps: 1, seconds: 0.4, warmup: 0.1 },
  );
  if (common.help) {
    console.log(HELP);
    return;
  }
  const quick = common.quick;
  const json = values.json === true;
  // With --json, stdout carries the JSON only: everything else goes to stderr.
  const say = (line: string): void => {
    progress.clear();
    (json ? console.error : console.log)(line);
  };
  const progress = new Progress();
  const opts: BenchOptions = {
    quick,
    reps: common.reps,
    seconds: common.seconds,
    warmup: common.warmup,
    fileBytes: integer(values, 'file-mib', quick ? 32 : 64, 2) * MiB,
    containerBytes: integer(values, 'container-mib', quick ? 32 : 64, 1) * MiB,
    scanBytes: integer(values, 'scan-mib', quick ? 64 : 1024, 1) * MiB,
    streamBytes: integer(values, 'stream-mib', quick ? 256 : 4096, 1) * MiB,
    maxWriteBuffers: integer(values, 'max-write-buffers', 8, 1),
  };
  const settleMax = values.settle === undefined ? (quick ? 5 : 20) : Number(values.settle);
  if (!Number.isFinite(settleMax) || settleMax < 0) throw argumentError('--settle must be a number >= 0');
  const skipPeers = peersToSkip(values);
  const outDir = typeof values.out === 'string' ? path.resolve(values.out) : resultsDir();
  const started = new Date();
  const t0 = performance.now();

  const base = chooseBenchBase(common.dir);
  const dir = await makeBenchDir(base.dir);
  const machine = describeMachine(dir);
  say(
    `clfs bench — ${quick ? 'quick' : 'full'} run, ${common.reps} rep(s) x ${common.seconds}s (+${common.warmup}s warm-up)`,
  );
  say(machineSummary(machine));
  const warnings: string[] = [];
  if (machine.loadAverage[0]! > machine.cpus * 0.75) {
    warnings.push(
      `load average ${machine.loadAverage[0]!.toFixed(2)} on ${machine.cpus} CPUs at the start: absolute numbers will be noisy; read the ratios`,
    );
  }
  const device = await prepareDeviceFile(dir, opts.fileBytes);
  const fio = await prepareFio(dir, opts.fileBytes, values['no-fio'] !== true, say);
  const peers = await preparePeers(dir, skipPeers, say);
  const ctx = makeContext({
    opts,
    dir,
    device: { file: device.path, size: device.size },
    fio,
    peers,
    warnings,
    progress: (text) => progress.update(text),
  });
  try {
    const plan = planCases(WORKLOADS, ctx, quick, common.only);
    say(`files in ${dir} (${base.why}); ${plan.cases.length} cases x ${common.reps} rep(s)`);
    progress.update('preparing logs and files ...');
    for (const c of plan.cases) await c.prepare?.(ctx);
    if (plan.cases.some((c) => c.subject === 'clfs' && c.id !== 'W8-clfs-stream-rss')) await ctx.commitLog();

    progress.update('waiting for the device to absorb the preallocated files ...');
    const settle = await waitForQuietDevice(device.path, device.size, { maxSeconds: settleMax });
    if (!settle.quiet)
      warnings.push(`the device was still not quiet after ${settleMax} s: the first cases may be slowed`);

    const outcome = await runCases(ctx, plan.cases, common.reps);
    await ctx.closeLogs();
    progress.clear();

    const reports: WorkloadReport[] = WORKLOADS.map((w) => {
      if (!plan.selected.has(w.id)) {
        return {
          id: w.id,
          title: w.title,
          bar: w.bar,
          columns: [],
          rows: [],
          verdicts: [],
          skipped: common.only ? `not selected (--only ${common.only.source})` : 'no case ran',
        };
      }
      const r = w.report(outcome.medians, ctx);
      const failed = w.cases(ctx).filter((c) => outcome.failures.has(c.id));
      if (failed.length > 0)
        r.note = [r.note, ...failed.map((c) => `${c.id} failed: ${outcome.failures.get(c.id)}`)]
          .filter(Boolean)
          .join('\n');
      return r;
    });
    const verdicts: Verdict[] = reports.flatMap((r) => r.verdicts);
    const series: Series[] = reports.find((r) => r.id === 'W2')?.series ?? [];
    const runSeconds = (performance.now() - t0) / 1000;

    const stamp = fileTimestamp(started);
    const jsonFile = path.join(outDir, `bench-${stamp}.json`);
    const svgFile = path.join(outDir, `bench-${stamp}.svg`);
    const dev = machine.device;
    const chartTitle =
      `clfs bench ${quick ? '--quick' : ''} ${started.toISOString()}: ${machine.cpuModel} x${machine.cpus}, ${machine.kernel}, ` +
      `${machine.mount?.fsType ?? '?'} on ${dev?.name ?? '?'} ${dev?.model ?? ''} (cache ${dev?.writeCache ?? '?'})`;
    const result = {
      benchmark: 'clfs',
      schema: 2,
      startedAt: started.toISOString(),
      finishedAt: new Date().toISOString(),
      runSeconds,
      options: { ...opts, only: common.only?.source ?? null, settleMaxSeconds: settleMax, dirChosenBy: base.why },
      conditions: conditionsJson(machine, device, ctx.logInfo),
      machine: { ...machine, loadAverageAtEnd: os.loadavg() },
      deviceFile: device,
      logs: ctx.logInfo,
      fio:
        fio === null
          ? { available: false, hint: fioInstallHint() }
          : { available: true, ...fio.info, commandLine: fioCommandLine(fioJob(ctx, FIO_4K)) },
      peers: peersJson(peers),
      settle,
      method: {
        repetitions:
          'every case runs reps times, interleaved: each repetition runs every case once, odd repetitions in reverse order; each number is the median across repetitions of that number',
        latency: 'from the call to the settled promise (performance.now()); closed loops of N workers',
        cpu: 'process.cpuUsage() (user + system, every thread of the process) over the measured window, per operation or per record',
        files:
          'DirectFile, fio and raw-peer files are preallocated and fully written before anything is measured; the commit log has 4 containers recycled by moving the base',
        quiet: 'before measuring, 4 KiB O_DSYNC probes run until two in a row have p99 <= 5 x p50',
      },
      workloads: reports.map((r) => {
        const w = WORKLOADS.find((x) => x.id === r.id)!;
        const ids = new Set(w.cases(ctx).map((c) => c.id));
        return {
          id: r.id,
          title: r.title,
          bar: r.bar,
          ...(r.skipped !== undefined ? { skipped: r.skipped } : {}),
          conditions: w.conditions(ctx),
          verdicts: r.verdicts,
          table: { columns: r.columns.map((c) => c.header), rows: r.rows },
          note: r.note ?? null,
          series: r.series ?? null,
          cases: plan.cases
            .filter((c) => ids.has(c.id) || c.workload === r.id)
            .map((c) => ({
              id: c.id,
              label: c.label,
              subject: c.subject,
              median: outcome.medians.get(c.id) ?? null,
              reps: outcome.runs.get(c.id) ?? [],
              failed: outcome.failures.get(c.id) ?? null,
            })),
        };
      }),
      fioJobs: [...ctx.fioResults].map(([id, list]) => ({
        id,
        reps: list.map((r) => ({ summary: r.summary, args: r.args })),
      })),
      chart: path.basename(svgFile),
      warnings,
    };
    await mkdir(outDir, { recursive: true });
    await writeFile(jsonFile, resultJson(result));
    await writeFile(
      svgFile,
      renderChart(
        chartTitle,
        series,
        verdicts.filter((v) => v.chart === true),
      ),
    );

    if (json) {
      process.stdout.write(resultJson(result));
    } else {
      console.log(
        `\nResults: medians of ${common.reps} repetition(s); latencies in us, MB = 10^6 bytes, cpu = process CPU time`,
      );
      for (const r of reports)
        if (r.skipped === undefined || common.only === undefined) console.log(`\n${formatWorkload(r)}`);
      console.log(`\nVerdicts (this run, never asserted)\n${formatVerdicts(reports)}`);
      for (const p of peers.values()) if (!p.available) console.log(`peer ${p.id} skipped: ${p.reason}`);
      for (const w of warnings) console.log(`WARNING: ${w}`);
      console.log(`\nrun time ${fmt(runSeconds)} s\nresults: ${jsonFile}\nchart:   ${svgFile}`);
    }
  } finally {
    progress.clear();
    await ctx.closeLogs().catch(() => undefined);
    for (const p of peers.values()) if (p.available) await p.store.close().catch(() => undefined);
    if (!common.keep) await removeBenchDir(dir);
    else say(`kept ${dir}`);
  }
}

main().catch((error: unknown) => {
  if (isArgumentError(error)) {
    // A bad argument: one line (as the clfs command reports it), no stack.
    console.error(`clfs: ${error.message.split('\n')[0]} (${error.code})`);
    process.exitCode = 64;
    return;
  }
  console.error(error);
  process.exitCode = 1;
});
