/**
 * W5: in-memory append of 64 B records with no flush: records/s of
 * `appendBatch` and of awaiting each `reserveAndAppend` (the window includes
 * the final flushBuffers(), so what the appends sealed is written too).
 * @module
 */
import { fmt, fmtRate } from '../support/table.ts';
import { KiB, type Context } from '../core/context.ts';
import { clfsStreamRun } from '../core/runs.ts';
import { judge, type CaseDef, type Medians, type Workload } from '../core/types.ts';

const RECORD = 64;
export const W5_BUFFER = 256 * KiB;
export const W5_BATCH = 1000;
export const W5_BATCH_ID = 'W5-clfs-64b-batch';
export const W5_SINGLE_ID = 'W5-clfs-64b-single';

export const w5: Workload = {
  id: 'W5',
  title: 'W5 in-memory append of 64 B records, no flush until the end',
  bar: '>= 5M records/s with appendBatch; >= 2M/s awaiting each reserveAndAppend',
  conditions: (ctx) => ({
    recordSize: RECORD,
    bufferSize: W5_BUFFER,
    maxWriteBuffers: ctx.opts.maxWriteBuffers,
    batch: `await area.appendBatch(${W5_BATCH} records) per call`,
    single: 'await area.reserveAndAppend(record) per record',
    window: 'the append loop and the final flushBuffers()',
  }),
  cases(): CaseDef[] {
    return [
      {
        id: W5_BATCH_ID,
        workload: 'W5',
        label: `clfs appendBatch(${W5_BATCH})`,
        subject: 'clfs',
        quick: true,
        run: (c: Context) =>
          clfsStreamRun(c, {
            size: RECORD,
            batch: W5_BATCH,
            bufferSize: W5_BUFFER,
            maxWriteBuffers: c.opts.maxWriteBuffers,
          }),
      },
      {
        id: W5_SINGLE_ID,
        workload: 'W5',
        label: 'clfs await reserveAndAppend',
        subject: 'clfs',
        quick: true,
        run: (c: Context) =>
          clfsStreamRun(c, { size: RECORD, batch: 1, bufferSize: W5_BUFFER, maxWriteBuffers: c.opts.maxWriteBuffers }),
      },
    ];
  },
  report(m: Medians) {
    const batch = m.get(W5_BATCH_ID);
    const single = m.get(W5_SINGLE_ID);
    const rows = [W5_BATCH_ID, W5_SINGLE_ID].flatMap((id) => {
      const r = m.get(id);
      return r === undefined
        ? []
        : [
            [
              id,
              fmtRate(r.recordsPerSec),
              fmt(r.mbPerSec),
              fmt(r.cpuUsPerRecord, 3),
              fmt(r.flushMs),
              fmt(r.peakWriteBuffers),
            ],
          ];
    });
    return {
      id: 'W5',
      title: w5.title,
      bar: w5.bar,
      columns: [
        { header: 'case' },
        { header: 'records/s', align: 'right' },
        { header: 'payload MB/s', align: 'right' },
        { header: 'cpu us/record', align: 'right' },
        { header: 'final flush ms', align: 'right' },
        { header: 'peak write buffers', align: 'right' },
      ],
      rows,
      verdicts: [
        judge('W5 appendBatch: records/s', batch?.recordsPerSec, 5e6, 'higher', '>= 5M/s'),
        judge('W5 await reserveAndAppend: records/s', single?.recordsPerSec, 2e6, 'higher', '>= 2M/s'),
      ],
    };
  },
};
