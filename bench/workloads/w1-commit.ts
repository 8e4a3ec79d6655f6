/**
 * W1: one committer, 64 B and 4 KiB records, a durable commit each
 * (`reserveAndAppend(record, { forceFlush: true })`); p50/p99 against fio,
 * DirectFile, the buffered write + fdatasync pair and every peer.
 * @module
 */
import { PEER_IDS, type PeerId } from '../support/peers.ts';
import { ratio } from '../support/stats.ts';
import { fmt, fmtRate, fmtRatio, fmtSize } from '../support/table.ts';
import { KiB, peerStore, type Context } from '../core/context.ts';
import { COMMIT_BUFFER, clfsCommitRun, peerRun } from '../core/runs.ts';
import { judge, type CaseDef, type Medians, type Verdict, type Workload } from '../core/types.ts';
import { BUFFERED_4K, directWriteCase, directWriteId, FIO_4K, limitCases } from './limits.ts';

export const SIZES = [64, 4 * KiB] as const;
const DEVICE = directWriteId(4 * KiB, 1);

const sizeId = (bytes: number): string => fmtSize(bytes).toLowerCase();
export const clfsId = (bytes: number): string => `W1-clfs-${sizeId(bytes)}`;
export const peerId = (peer: PeerId, bytes: number): string => `W1-${peer}-${sizeId(bytes)}`;

export const w1: Workload = {
  id: 'W1',
  title: 'W1 one committer, a durable commit per record (reserveAndAppend(record, { forceFlush: true }))',
  bar: 'p50 <= 1.05x fio psync O_DSYNC 4 KiB depth 1; lower p50 than every peer',
  conditions: () => ({
    committers: 1,
    recordSizes: [...SIZES],
    bufferSize: COMMIT_BUFFER,
    durability: 'dsync',
    device: 'DirectFile 4 KiB O_DSYNC depth 1; fio psync --sync=dsync 4 KiB depth 1; buffered write + fdatasync 4 KiB',
  }),
  cases(ctx: Context): CaseDef[] {
    const needs = [DEVICE, BUFFERED_4K, ...(ctx.fio !== null ? [FIO_4K] : [])];
    const cases: CaseDef[] = [...limitCases(ctx), directWriteCase(4 * KiB, 1, true)];
    for (const bytes of SIZES) {
      cases.push({
        id: clfsId(bytes),
        workload: 'W1',
        label: `clfs ${fmtSize(bytes)}`,
        subject: 'clfs',
        quick: true,
        needs,
        run: (c) => clfsCommitRun(c, { committers: 1, size: bytes, batch: 1 }),
      });
      for (const peer of PEER_IDS) {
        const store = peerStore(ctx, peer);
        if (store === undefined) continue;
        cases.push({
          id: peerId(peer, bytes),
          workload: 'W1',
          label: `${store.label} ${fmtSize(bytes)}`,
          subject: 'peer',
          quick: true,
          run: (c) => peerRun(c, store, 1, bytes),
        });
      }
    }
    return cases;
  },
  report(m: Medians, ctx: Context) {
    const device = m.get(DEVICE);
    const fio = m.get(FIO_4K);
    const rows: string[][] = [];
    const verdicts: Verdict[] = [];
    for (const bytes of SIZES) {
      const clfs = m.get(clfsId(bytes));
      const ids = [clfsId(bytes), ...PEER_IDS.map((p) => peerId(p, bytes))];
      for (const id of ids) {
        const r = m.get(id);
        if (r === undefined) continue;
        rows.push([
          id,
          fmt(r.p50Us),
          fmt(r.p99Us),
          fmtRate(r.opsPerSec),
          fmt(r.cpuUsPerOp),
          fmtRatio(ratio(r.p50Us, fio?.p50Us)),
          fmtRatio(ratio(r.p50Us, device?.p50Us)),
          id === clfsId(bytes) ? '' : fmtRatio(ratio(r.p50Us, clfs?.p50Us)),
          r.blocksPerCommit === undefined ? '' : fmt(r.blocksPerCommit, 2),
        ]);
      }
      if (clfs === undefined) continue;
      verdicts.push(
        judge(
          `W1 ${fmtSize(bytes)}: clfs p50 / fio psync O_DSYNC 4 KiB p50`,
          ratio(clfs.p50Us, fio?.p50Us),
          1.05,
          'lower',
          '<= 1.05',
          true,
        ),
      );
      let best: { id: string; p50: number } | undefined;
      for (const p of PEER_IDS) {
        const r = m.get(peerId(p, bytes));
        if (r?.p50Us !== undefined && (best === undefined || r.p50Us < best.p50)) best = { id: p, p50: r.p50Us };
      }
      const v = judge(
        `W1 ${fmtSize(bytes)}: clfs p50 / the lowest peer p50${best ? ` (${best.id})` : ''}`,
        ratio(clfs.p50Us, best?.p50),
        1,
        'lower',
        '< 1',
      );
      if (v.result === 'met' && v.value === 1) v.result = 'missed';
      if (best === undefined) v.why = 'no peer ran';
      verdicts.push(v);
    }
    return {
      id: 'W1',
      title: w1.title,
      bar: w1.bar,
      columns: [
        { header: 'case' },
        { header: 'p50 us', align: 'right' },
        { header: 'p99 us', align: 'right' },
        { header: 'commits/s', align: 'right' },
        { header: 'cpu us/commit', align: 'right' },
        { header: 'p50/fio', align: 'right' },
        { header: 'p50/DirectFile', align: 'right' },
        { header: 'p50/clfs', align: 'right' },
        { header: 'blocks/commit', align: 'right' },
      ],
      rows,
      note:
        `fio p50 ${fmt(fio?.p50Us)} us, DirectFile 4KiB O_DSYNC p50 ${fmt(device?.p50Us)} us, buffered write+fdatasync p50 ${fmt(m.get(BUFFERED_4K)?.p50Us)} us` +
        (ctx.fio === null ? ' (fio missing: see L)' : ''),
      verdicts,
    };
  },
};
