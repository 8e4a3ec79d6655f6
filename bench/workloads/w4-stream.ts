/**
 * W4: streaming 4 KiB records with no flush until the end, through buffers
 * of 256 KiB and 1 MiB, against DirectFile O_DSYNC writes of the buffer size
 * at the depth the area may have in flight (its maxWriteBuffers).
 * @module
 */
import { ratio } from '../support/stats.ts';
import { fmt, fmtRate, fmtRatio, fmtSize } from '../support/table.ts';
import { KiB, MiB, type Context } from '../core/context.ts';
import { clfsStreamRun } from '../core/runs.ts';
import { judge, type CaseDef, type Medians, type Verdict, type Workload } from '../core/types.ts';
import { directWriteCase, directWriteId } from './limits.ts';

const RECORD = 4 * KiB;
const BUFFERS = [256 * KiB, MiB] as const;
/** Records per appendBatch call in the batch variant (256 KiB of payload). */
const BATCH = 64;

type How = 'loop' | 'batch';
const caseId = (buffer: number, how: How): string => `W4-clfs-4kib-${fmtSize(buffer).toLowerCase()}-${how}`;
const isQuick = (buffer: number, how: How): boolean => (buffer === MiB ? how === 'batch' : how === 'loop');

export const w4: Workload = {
  id: 'W4',
  title: 'W4 streaming 4 KiB records, no flush until the end (the window includes the final flushBuffers())',
  bar: '>= 0.85x DirectFile at the same write size and depth',
  conditions: (ctx) => ({
    recordSize: RECORD,
    bufferSizes: [...BUFFERS],
    maxWriteBuffers: ctx.opts.maxWriteBuffers,
    loop: 'await area.reserveAndAppend(record) per record',
    batch: `await area.appendBatch(${BATCH} records) per call`,
    device: `DirectFile O_DSYNC writes of the buffer size at depth ${ctx.opts.maxWriteBuffers} (the area's maxWriteBuffers: at most that many blocks are in memory, so in flight)`,
  }),
  cases(ctx: Context): CaseDef[] {
    const depth = ctx.opts.maxWriteBuffers;
    const cases: CaseDef[] = [];
    for (const buffer of BUFFERS) {
      cases.push(directWriteCase(buffer, depth, true));
      for (const how of ['loop', 'batch'] as const) {
        cases.push({
          id: caseId(buffer, how),
          workload: 'W4',
          label: `clfs ${fmtSize(buffer)} buffers, ${how}`,
          subject: 'clfs',
          quick: isQuick(buffer, how),
          needs: [directWriteId(buffer, depth)],
          run: (c) =>
            clfsStreamRun(c, {
              size: RECORD,
              batch: how === 'loop' ? 1 : BATCH,
              bufferSize: buffer,
              maxWriteBuffers: c.opts.maxWriteBuffers,
            }),
        });
      }
    }
    return cases;
  },
  report(m: Medians, ctx: Context) {
    const depth = ctx.opts.maxWriteBuffers;
    const rows: string[][] = [];
    const verdicts: Verdict[] = [];
    for (const buffer of BUFFERS) {
      const device = m.get(directWriteId(buffer, depth));
      for (const how of ['loop', 'batch'] as const) {
        const r = m.get(caseId(buffer, how));
        if (r === undefined) continue;
        const vs = ratio(r.mbPerSec, device?.mbPerSec);
        rows.push([
          caseId(buffer, how),
          fmtRate(r.recordsPerSec),
          fmt(r.mbPerSec),
          fmt(device?.mbPerSec),
          fmtRatio(vs),
          fmt(r.cpuUsPerRecord, 2),
          fmt(r.flushMs),
          fmt(r.writtenPerPayload, 3),
        ]);
        verdicts.push(
          judge(
            `W4 ${fmtSize(buffer)} ${how}: payload MB/s / DirectFile MB/s (depth ${depth})`,
            vs,
            0.85,
            'higher',
            '>= 0.85',
            true,
          ),
        );
      }
    }
    return {
      id: 'W4',
      title: w4.title,
      bar: w4.bar,
      columns: [
        { header: 'case' },
        { header: 'records/s', align: 'right' },
        { header: 'payload MB/s', align: 'right' },
        { header: 'DirectFile MB/s', align: 'right' },
        { header: 'ratio', align: 'right' },
        { header: 'cpu us/record', align: 'right' },
        { header: 'final flush ms', align: 'right' },
        { header: 'written/payload', align: 'right' },
      ],
      rows,
      note: `DirectFile: O_DSYNC writes of the buffer size, depth ${depth} (= maxWriteBuffers of the clfs area)`,
      verdicts,
    };
  },
};
