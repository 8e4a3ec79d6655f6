/**
 * WA: container bytes written per payload byte (ioStatistics().bytesFlushed
 * over the window) for 64 B records appended in batches: W5's appendBatch
 * case, whose window ends with everything flushed.
 * @module
 */
import { fmt } from '../support/table.ts';
import { judge, type CaseDef, type Medians, type Workload } from '../core/types.ts';
import { W5_BATCH, W5_BATCH_ID, W5_BUFFER, w5 } from './w5-memory.ts';

export const wa: Workload = {
  id: 'WA',
  title: 'WA write amplification: container bytes written / payload bytes, 64 B records batched',
  bar: '<= 1.25',
  conditions: () => ({
    from: W5_BATCH_ID,
    records: `64 B, appendBatch(${W5_BATCH}), ${W5_BUFFER} B buffers`,
    counted:
      'log.ioStatistics().bytesFlushed over the window (record and block headers, sector padding); metadata writes not counted',
  }),
  cases(ctx): CaseDef[] {
    // WA reads W5's batch case: selecting WA alone runs that case.
    return w5
      .cases(ctx)
      .filter((c) => c.id === W5_BATCH_ID)
      .map((c) => ({ ...c, needs: [] }));
  },
  report(m: Medians) {
    const r = m.get(W5_BATCH_ID);
    return {
      id: 'WA',
      title: wa.title,
      bar: wa.bar,
      columns: [
        { header: 'case' },
        { header: 'written/payload', align: 'right' },
        { header: 'metadata writes', align: 'right' },
      ],
      rows: r === undefined ? [] : [[W5_BATCH_ID, fmt(r.writtenPerPayload, 3), fmt(r.metadataWrites)]],
      verdicts: [
        judge(
          'WA: container bytes written / payload bytes (64 B, batched)',
          r?.writtenPerPayload,
          1.25,
          'lower',
          '<= 1.25',
          true,
        ),
      ],
    };
  },
};
