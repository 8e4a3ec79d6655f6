/**
 * W8: peak RSS of a child process streaming 4 GiB (quick 256 MiB) of 4 KiB
 * records through one area of maxWriteBuffers x bufferSize, against the
 * configured buffers + 64 MiB.
 * @module
 */
import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { fmt, fmtSize } from '../support/table.ts';
import { MiB, type Context } from '../core/context.ts';
import { judge, type CaseDef, type CaseRun, type Medians, type Workload } from '../core/types.ts';

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'children', 'rss-stream.js');
const BUFFER = MiB;
const MAX_WRITE_BUFFERS = 16;
const CONFIGURED = BUFFER * MAX_WRITE_BUFFERS;
const ID = 'W8-clfs-stream-rss';

interface ChildResult {
  bytes: number;
  records: number;
  seconds: number;
  cpuUs: number;
  rssBefore: number;
  hwmBefore: number;
  hwm: number;
  maxRss: number;
  containers: number;
}

async function stream(ctx: Context): Promise<CaseRun> {
  const logPath = path.join(ctx.dir, 'log-rss');
  await rm(logPath, { recursive: true, force: true });
  const args = {
    path: logPath,
    containerSize: ctx.opts.containerBytes,
    streamBytes: ctx.opts.streamBytes,
    bufferSize: BUFFER,
    maxWriteBuffers: MAX_WRITE_BUFFERS,
  };
  const out = await new Promise<string>((resolve, reject) => {
    execFile(
      process.execPath,
      [CHILD, JSON.stringify(args)],
      { maxBuffer: 1 << 20, timeout: 900_000 },
      (error, stdout, stderr) => {
        if (error !== null) reject(new Error(`rss-stream failed: ${error.message}\n${stderr}`));
        else resolve(stdout);
      },
    );
  });
  await rm(logPath, { recursive: true, force: true });
  const r = JSON.parse(out.trim().split('\n').pop() ?? '{}') as ChildResult;
  if (r.containers > 4) ctx.warnings.push(`W8: the child's log grew to ${r.containers} containers`);
  const peak = Number.isFinite(r.hwm) ? r.hwm : r.maxRss;
  return {
    ops: r.records,
    opsPerSec: r.records / r.seconds,
    seconds: r.seconds,
    bytes: r.bytes,
    mbPerSec: r.bytes / r.seconds / 1e6,
    cpuUsPerOp: r.cpuUs / r.records,
    records: r.records,
    recordsPerSec: r.records / r.seconds,
    cpuUsPerRecord: r.cpuUs / r.records,
    peakRssMiB: peak / MiB,
    maxRssMiB: r.maxRss / MiB,
    rssBeforeMiB: r.rssBefore / MiB,
    hwmBeforeMiB: r.hwmBefore / MiB,
  };
}

export const w8: Workload = {
  id: 'W8',
  title: `W8 peak RSS of a child streaming 4 KiB records through ${MAX_WRITE_BUFFERS} x ${fmtSize(BUFFER)} write buffers`,
  bar: `<= configured buffers + 64 MiB (${(CONFIGURED + 64 * MiB) / MiB} MiB)`,
  conditions: (ctx) => ({
    streamBytes: ctx.opts.streamBytes,
    bufferSize: BUFFER,
    maxWriteBuffers: MAX_WRITE_BUFFERS,
    configuredBytes: CONFIGURED,
    log: `4 containers of ${ctx.opts.containerBytes} B, the base moved as containers fill`,
    peak: '/proc/self/status VmHWM of the child at the end (process.resourceUsage().maxRSS where there is no /proc); includes Node itself',
  }),
  cases(): CaseDef[] {
    return [{ id: ID, workload: 'W8', label: 'clfs stream, child process', subject: 'clfs', quick: true, run: stream }];
  },
  report(m: Medians) {
    const r = m.get(ID);
    return {
      id: 'W8',
      title: w8.title,
      bar: w8.bar,
      columns: [
        { header: 'case' },
        { header: 'peak RSS MiB', align: 'right' },
        { header: 'RSS before streaming MiB', align: 'right' },
        { header: 'configured MiB', align: 'right' },
        { header: 'payload MB/s', align: 'right' },
        { header: 'cpu us/record', align: 'right' },
      ],
      rows:
        r === undefined
          ? []
          : [
              [
                ID,
                fmt(r.peakRssMiB),
                fmt(r.rssBeforeMiB),
                fmt(CONFIGURED / MiB),
                fmt(r.mbPerSec),
                fmt(r.cpuUsPerRecord, 2),
              ],
            ],
      verdicts: [
        judge(
          'W8: peak RSS MiB while streaming',
          r?.peakRssMiB,
          (CONFIGURED + 64 * MiB) / MiB,
          'lower',
          `<= ${(CONFIGURED + 64 * MiB) / MiB} MiB`,
        ),
      ],
    };
  },
};
