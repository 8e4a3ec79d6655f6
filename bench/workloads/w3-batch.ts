/**
 * W3: batch commit, 64 records of 64 B or 4 KiB per durable commit
 * (`appendBatch(records, { forceFlush: true })`), against DirectFile writing
 * the same payload (rounded up to sectors) in one O_DSYNC write at depth 1,
 * and each peer's transaction or batch of 64.
 * @module
 */
import { PEER_IDS, type PeerId } from '../support/peers.ts';
import { ratio } from '../support/stats.ts';
import { fmt, fmtRate, fmtRatio, fmtSize } from '../support/table.ts';
import { KiB, peerStore, type Context } from '../core/context.ts';
import { clfsCommitRun, peerRun } from '../core/runs.ts';
import { judge, type CaseDef, type Medians, type Verdict, type Workload } from '../core/types.ts';
import { directWriteCase, directWriteId } from './limits.ts';

const BATCH = 64;
const SIZES = [64, 4 * KiB] as const;
/** Batch buffers: one batch of 64 x 4 KiB (266,240 bytes with headers) fits one block. */
const BATCH_BUFFER = 512 * KiB;
const SECTOR = 4 * KiB;

const sizeId = (bytes: number): string => fmtSize(bytes).toLowerCase();
const caseId = (who: 'clfs' | PeerId, bytes: number): string => `W3-${who}-${BATCH}x${sizeId(bytes)}`;
/** The device reference: the payload rounded up to sectors, one write. */
const deviceBytes = (bytes: number): number => Math.ceil((BATCH * bytes) / SECTOR) * SECTOR;

export const w3: Workload = {
  id: 'W3',
  title: `W3 batch commit: ${BATCH} records per durable commit (appendBatch(records, { forceFlush: true }))`,
  bar: '>= 0.95x DirectFile writing the same payload at depth 1; >= 2x better-sqlite3 and lmdb',
  conditions: () => ({
    recordsPerCommit: BATCH,
    recordSizes: [...SIZES],
    bufferSize: BATCH_BUFFER,
    durability: 'dsync',
    device: SIZES.map((b) => `DirectFile ${deviceBytes(b)} B O_DSYNC write, depth 1`),
  }),
  cases(ctx: Context): CaseDef[] {
    const cases: CaseDef[] = [];
    for (const bytes of SIZES) {
      const quick = bytes === 64;
      cases.push(directWriteCase(deviceBytes(bytes), 1, quick), {
        id: caseId('clfs', bytes),
        workload: 'W3',
        label: `clfs ${BATCH} x ${fmtSize(bytes)}`,
        subject: 'clfs',
        quick,
        needs: [directWriteId(deviceBytes(bytes), 1)],
        run: (c) => clfsCommitRun(c, { committers: 1, size: bytes, batch: BATCH, bufferSize: BATCH_BUFFER }),
      });
      for (const peer of PEER_IDS) {
        const store = peerStore(ctx, peer);
        if (store === undefined) continue;
        cases.push({
          id: caseId(peer, bytes),
          workload: 'W3',
          label: `${store.label} ${BATCH} x ${fmtSize(bytes)}`,
          subject: 'peer',
          quick: quick && peer !== 'ronomon' && peer !== 'lmdb-flushed',
          run: (c) => peerRun(c, store, 1, bytes, BATCH),
        });
      }
    }
    return cases;
  },
  report(m: Medians) {
    const rows: string[][] = [];
    const verdicts: Verdict[] = [];
    for (const bytes of SIZES) {
      const device = m.get(directWriteId(deviceBytes(bytes), 1));
      const clfs = m.get(caseId('clfs', bytes));
      for (const who of ['clfs', ...PEER_IDS] as const) {
        const r = m.get(caseId(who, bytes));
        if (r === undefined) continue;
        rows.push([
          caseId(who, bytes),
          fmtRate(r.opsPerSec),
          fmt(r.p50Us),
          fmt(r.p99Us),
          fmt(r.cpuUsPerOp),
          fmt(r.cpuUsPerRecord, 2),
          fmtRatio(ratio(r.opsPerSec, device?.opsPerSec)),
          who === 'clfs' ? '' : fmtRatio(ratio(clfs?.opsPerSec, r.opsPerSec)),
        ]);
      }
      if (clfs === undefined) continue;
      const label = `W3 ${BATCH} x ${fmtSize(bytes)}`;
      verdicts.push(
        judge(
          `${label}: clfs commits/s / DirectFile ${deviceBytes(bytes)} B writes/s`,
          ratio(clfs.opsPerSec, device?.opsPerSec),
          0.95,
          'higher',
          '>= 0.95',
          true,
        ),
        judge(
          `${label}: clfs / better-sqlite3 commits/s`,
          ratio(clfs.opsPerSec, m.get(caseId('sqlite', bytes))?.opsPerSec),
          2,
          'higher',
          '>= 2x',
        ),
      );
      const lmdb = (['lmdb-sync', 'lmdb-flushed'] as const)
        .map((p) => m.get(caseId(p, bytes))?.opsPerSec)
        .filter((x): x is number => x !== undefined);
      verdicts.push(
        judge(
          `${label}: clfs / the faster lmdb variant, commits/s`,
          ratio(clfs.opsPerSec, lmdb.length ? Math.max(...lmdb) : undefined),
          2,
          'higher',
          '>= 2x',
        ),
      );
    }
    return {
      id: 'W3',
      title: w3.title,
      bar: w3.bar,
      columns: [
        { header: 'case' },
        { header: 'commits/s', align: 'right' },
        { header: 'p50 us', align: 'right' },
        { header: 'p99 us', align: 'right' },
        { header: 'cpu us/commit', align: 'right' },
        { header: 'cpu us/record', align: 'right' },
        { header: '/ DirectFile', align: 'right' },
        { header: 'clfs/peer', align: 'right' },
      ],
      rows,
      note: `DirectFile writes the payload rounded up to 4 KiB sectors in one O_DSYNC write at depth 1: ${SIZES.filter(
        (b) => m.has(directWriteId(deviceBytes(b), 1)),
      )
        .map(
          (b) =>
            `${fmtSize(BATCH * b)} -> ${deviceBytes(b)} B, ${fmtRate(m.get(directWriteId(deviceBytes(b), 1))?.opsPerSec)} writes/s`,
        )
        .join('; ')}`,
      verdicts,
    };
  },
};
