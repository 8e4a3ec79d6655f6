/**
 * W7: Log.open of the scan log right after the crash (the last restart area
 * is `scanBytes` back: recovery scans all of it), and of the same log
 * cleanly closed (no scan).
 * @module
 */
import { Log } from '../../lib/index.ts';
import { ratio } from '../support/stats.ts';
import { fmt, fmtRatio, fmtSize } from '../support/table.ts';
import { MiB, type Context } from '../core/context.ts';
import { judge, type CaseDef, type CaseRun, type Medians, type Workload } from '../core/types.ts';
import { cpuSince } from '../support/loops.ts';
import { directReadCase, directReadId } from './limits.ts';
import { ensureClean, ensureScanLog, markClean, restoreCrash } from './scan-log.ts';

const CRASH_ID = 'W7-clfs-open-after-crash';
const CLEAN_ID = 'W7-clfs-open-clean';
/** The sequential-read reference: reads as large as the scan's blocks (the writer's 1 MiB buffers). */
const READ = MiB;

async function timedOpen(ctx: Context, crashed: boolean): Promise<CaseRun> {
  if (crashed) await restoreCrash(ctx);
  else await ensureClean(ctx);
  const cpu = process.cpuUsage();
  const start = performance.now();
  const log = await Log.open(ctx.scanLog!.path);
  const seconds = (performance.now() - start) / 1000;
  const cpuUs = cpuSince(cpu);
  const scanned = log.recoveryReport.bytesScanned;
  await log.close();
  markClean(ctx);
  return {
    ops: 1,
    opsPerSec: 1 / seconds,
    seconds,
    openMs: seconds * 1000,
    bytes: scanned,
    mbPerSec: scanned / seconds / 1e6,
    cpuUsPerOp: cpuUs,
    blocksScanned: log.recoveryReport.blocksScanned,
  };
}

export const w7: Workload = {
  id: 'W7',
  title: 'W7 Log.open after a crash (last restart area scanBytes back) and after a clean close',
  bar: 'recovery scan >= 0.8x sequential read bandwidth; clean open < 50 ms',
  conditions: (ctx) => ({
    logBytes: ctx.opts.scanBytes,
    crash: 'a child process writes a restart area then the records, flushes, and is SIGKILLed without closing the log',
    repeat: 'the base file as the crash left it is put back before each after-crash open; containers are never touched',
    scanned: 'log.recoveryReport.bytesScanned',
    device: `DirectFile ${fmtSize(READ)} sequential reads of the log's container, depth 1`,
  }),
  cases(): CaseDef[] {
    return [
      directReadCase(READ, true, ensureScanLog),
      {
        id: CRASH_ID,
        workload: 'W7',
        label: 'Log.open after the crash',
        subject: 'clfs',
        quick: true,
        needs: [directReadId(READ)],
        prepare: ensureScanLog,
        run: (c) => timedOpen(c, true),
      },
      {
        id: CLEAN_ID,
        workload: 'W7',
        label: 'Log.open after a clean close',
        subject: 'clfs',
        quick: true,
        prepare: ensureScanLog,
        run: (c) => timedOpen(c, false),
      },
    ];
  },
  report(m: Medians) {
    const crash = m.get(CRASH_ID);
    const clean = m.get(CLEAN_ID);
    const device = m.get(directReadId(READ));
    const vs = ratio(crash?.mbPerSec, device?.mbPerSec);
    const rows = [
      crash === undefined
        ? []
        : [
            CRASH_ID,
            fmt(crash.openMs),
            fmt((crash.bytes ?? 0) / MiB),
            fmt(crash.mbPerSec),
            fmt(device?.mbPerSec),
            fmtRatio(vs),
            fmt(crash.cpuUsPerOp / 1000),
          ],
    ];
    if (clean !== undefined)
      rows.push([
        CLEAN_ID,
        fmt(clean.openMs, 2),
        fmt((clean.bytes ?? 0) / MiB),
        '',
        '',
        '',
        fmt(clean.cpuUsPerOp / 1000, 2),
      ]);
    return {
      id: 'W7',
      title: w7.title,
      bar: w7.bar,
      columns: [
        { header: 'case' },
        { header: 'open ms', align: 'right' },
        { header: 'scanned MiB', align: 'right' },
        { header: 'scan MB/s', align: 'right' },
        { header: 'DirectFile read MB/s', align: 'right' },
        { header: 'ratio', align: 'right' },
        { header: 'cpu ms', align: 'right' },
      ],
      rows: rows.filter((r) => r.length > 0),
      verdicts: [
        judge('W7: recovery scan MB/s / DirectFile sequential read MB/s', vs, 0.8, 'higher', '>= 0.8', true),
        judge('W7: open of a cleanly closed log, ms', clean?.openMs, 50, 'lower', '< 50 ms', true),
      ],
    };
  },
};
