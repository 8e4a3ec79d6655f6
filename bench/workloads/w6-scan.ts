/**
 * W6: a forward scan of the scan log (1 GiB of 4 KiB records; quick 64 MiB)
 * with `area.records()`, against DirectFile sequential reads of the same
 * container at the area's buffer size, depth 1.
 * @module
 */
import { Log } from '../../lib/index.ts';
import { ratio } from '../support/stats.ts';
import { fmt, fmtRate, fmtRatio, fmtSize } from '../support/table.ts';
import { MiB, type Context } from '../core/context.ts';
import { judge, type CaseDef, type CaseRun, type Medians, type Workload } from '../core/types.ts';
import { cpuSince } from '../support/loops.ts';
import { directReadCase, directReadId } from './limits.ts';
import { ensureClean, ensureScanLog } from './scan-log.ts';

const BUFFER = MiB;
const ID = 'W6-clfs-records-1mib';

async function scan(ctx: Context): Promise<CaseRun> {
  await ensureClean(ctx);
  const log = await Log.open(ctx.scanLog!.path);
  try {
    const area = await log.createMarshallingArea({ bufferSize: BUFFER });
    let records = 0;
    let bytes = 0;
    const cpu = process.cpuUsage();
    const start = performance.now();
    for await (const r of area.records(undefined, 'forward', { view: true })) {
      records++;
      bytes += r.data.length;
    }
    const seconds = (performance.now() - start) / 1000;
    const cpuUs = cpuSince(cpu);
    await area.close();
    if (records !== ctx.scanLog!.records) {
      throw new Error(`W6: the scan read ${records} records, the log holds ${ctx.scanLog!.records}`);
    }
    return {
      ops: 1,
      opsPerSec: 1 / seconds,
      seconds,
      bytes,
      mbPerSec: bytes / seconds / 1e6,
      cpuUsPerOp: cpuUs,
      records,
      recordsPerSec: records / seconds,
      cpuUsPerRecord: cpuUs / records,
    };
  } finally {
    await log.close();
  }
}

export const w6: Workload = {
  id: 'W6',
  title: 'W6 forward scan of the scan log with area.records() (views, 1 MiB buffer)',
  bar: '>= 0.8x DirectFile sequential read at the buffer size',
  conditions: (ctx) => ({
    logBytes: ctx.opts.scanBytes,
    recordSize: 4096,
    bufferSize: BUFFER,
    how: "for await (const r of area.records(undefined, 'forward', { view: true })) after a clean open",
    device: `DirectFile ${fmtSize(BUFFER)} sequential reads of the log's container, depth 1`,
  }),
  cases(): CaseDef[] {
    return [
      directReadCase(BUFFER, true, ensureScanLog),
      {
        id: ID,
        workload: 'W6',
        label: 'clfs records()',
        subject: 'clfs',
        quick: true,
        needs: [directReadId(BUFFER)],
        prepare: ensureScanLog,
        run: scan,
      },
    ];
  },
  report(m: Medians) {
    const r = m.get(ID);
    const device = m.get(directReadId(BUFFER));
    const vs = ratio(r?.mbPerSec, device?.mbPerSec);
    return {
      id: 'W6',
      title: w6.title,
      bar: w6.bar,
      columns: [
        { header: 'case' },
        { header: 'payload MB/s', align: 'right' },
        { header: 'records/s', align: 'right' },
        { header: 'DirectFile read MB/s', align: 'right' },
        { header: 'ratio', align: 'right' },
        { header: 'cpu us/record', align: 'right' },
        { header: 'seconds', align: 'right' },
      ],
      rows:
        r === undefined
          ? []
          : [
              [
                ID,
                fmt(r.mbPerSec),
                fmtRate(r.recordsPerSec),
                fmt(device?.mbPerSec),
                fmtRatio(vs),
                fmt(r.cpuUsPerRecord, 3),
                fmt(r.seconds, 2),
              ],
            ],
      verdicts: [
        judge('W6: records() payload MB/s / DirectFile sequential read MB/s', vs, 0.8, 'higher', '>= 0.8', true),
      ],
    };
  },
};
