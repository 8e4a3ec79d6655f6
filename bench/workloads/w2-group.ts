/**
 * W2: 1, 8, 64 and 256 concurrent committers of 64 B records, each awaiting
 * its own durable commit: commits/s against the device's serial durable
 * write rate (DirectFile 4 KiB O_DSYNC depth 1) and against each peer.
 * @module
 */
import type { PeerId } from '../support/peers.ts';
import { ratio } from '../support/stats.ts';
import { fmt, fmtRate, fmtRatio } from '../support/table.ts';
import { KiB, peerStore, type Context } from '../core/context.ts';
import { COMMIT_BUFFER, clfsCommitRun, peerRun } from '../core/runs.ts';
import { judge, type CaseDef, type Medians, type Series, type Verdict, type Workload } from '../core/types.ts';
import { directWriteCase, directWriteId } from './limits.ts';
import { clfsId as w1ClfsId, peerId as w1PeerId } from './w1-commit.ts';

const COMMITTERS = [1, 8, 64, 256] as const;
const QUICK_COMMITTERS = new Set([1, 64]);
/** The peers that can overlap commits (better-sqlite3 is synchronous: its n1 is W1's). */
const PEERS: readonly PeerId[] = ['fs', 'level', 'lmdb-sync', 'lmdb-flushed', 'sqlite'];
const DEVICE = directWriteId(4 * KiB, 1);

/** The case measuring `who` at `n` committers; n = 1 is W1's 64 B case. */
function caseId(who: 'clfs' | PeerId, n: number): string {
  if (n === 1) return who === 'clfs' ? w1ClfsId(64) : w1PeerId(who, 64);
  return `W2-${who}-n${n}`;
}

export const w2: Workload = {
  id: 'W2',
  title: 'W2 N concurrent committers of 64 B records, each awaiting its own durable commit',
  bar: 'at 64: >= 50x the device serial durable-write rate; >= 3x lmdb and >= 10x classic-level',
  conditions: () => ({
    committers: [...COMMITTERS],
    recordSize: 64,
    bufferSize: COMMIT_BUFFER,
    durability: 'dsync',
    device: 'DirectFile 4 KiB O_DSYNC depth 1 writes/s (the serial durable-write rate); n = 1 rows are W1 64 B',
    sqlite: 'better-sqlite3 is synchronous: only n = 1',
  }),
  cases(ctx: Context): CaseDef[] {
    const cases: CaseDef[] = [directWriteCase(4 * KiB, 1, true)];
    for (const n of COMMITTERS) {
      if (n === 1) continue;
      const quick = QUICK_COMMITTERS.has(n);
      cases.push({
        id: caseId('clfs', n),
        workload: 'W2',
        label: `clfs n${n}`,
        subject: 'clfs',
        quick,
        needs: [DEVICE, caseId('clfs', 1)],
        run: (c) => clfsCommitRun(c, { committers: n, size: 64, batch: 1 }),
      });
      for (const peer of PEERS) {
        const store = peerStore(ctx, peer);
        if (store === undefined || !store.concurrent) continue;
        cases.push({
          id: caseId(peer, n),
          workload: 'W2',
          label: `${store.label} n${n}`,
          subject: 'peer',
          quick,
          needs: [caseId(peer, 1)],
          run: (c) => peerRun(c, store, n, 64),
        });
      }
    }
    return cases;
  },
  report(m: Medians, ctx: Context) {
    const device = m.get(DEVICE);
    const rows: string[][] = [];
    const series: Series[] = [];
    for (const who of ['clfs', ...PEERS] as const) {
      const name = who === 'clfs' ? 'clfs' : (peerStore(ctx, who)?.label ?? who);
      const points: { x: number; y: number }[] = [];
      for (const n of COMMITTERS) {
        const r = m.get(caseId(who, n));
        if (r === undefined) continue;
        points.push({ x: n, y: r.opsPerSec });
        const clfs = m.get(caseId('clfs', n));
        rows.push([
          name,
          String(n),
          fmtRate(r.opsPerSec),
          fmtRatio(ratio(r.opsPerSec, device?.opsPerSec)),
          who === 'clfs' ? '' : fmtRatio(ratio(clfs?.opsPerSec, r.opsPerSec)),
          fmt(r.p50Us),
          fmt(r.p99Us),
          fmt(r.cpuUsPerOp),
          r.blocksPerCommit === undefined ? '' : fmt(r.blocksPerCommit, 3),
        ]);
      }
      if (points.length > 0) series.push({ name, points });
    }
    const at64 = m.get(caseId('clfs', 64));
    const verdicts: Verdict[] = [
      judge(
        'W2 n64: clfs commits/s / device serial durable writes/s',
        ratio(at64?.opsPerSec, device?.opsPerSec),
        50,
        'higher',
        '>= 50x',
        true,
      ),
    ];
    const lmdb = ['lmdb-sync', 'lmdb-flushed']
      .map((p) => m.get(caseId(p as PeerId, 64))?.opsPerSec)
      .filter((x): x is number => x !== undefined);
    verdicts.push(
      judge(
        'W2 n64: clfs / the faster lmdb variant, commits/s',
        ratio(at64?.opsPerSec, lmdb.length ? Math.max(...lmdb) : undefined),
        3,
        'higher',
        '>= 3x',
      ),
      judge(
        'W2 n64: clfs / classic-level, commits/s',
        ratio(at64?.opsPerSec, m.get(caseId('level', 64))?.opsPerSec),
        10,
        'higher',
        '>= 10x',
      ),
    );
    if (device !== undefined) {
      series.push({ name: 'device serial O_DSYNC 4 KiB', points: COMMITTERS.map((x) => ({ x, y: device.opsPerSec })) });
    }
    return {
      id: 'W2',
      title: w2.title,
      bar: w2.bar,
      columns: [
        { header: 'who' },
        { header: 'committers', align: 'right' },
        { header: 'commits/s', align: 'right' },
        { header: '/ device', align: 'right' },
        { header: 'clfs/peer', align: 'right' },
        { header: 'p50 us', align: 'right' },
        { header: 'p99 us', align: 'right' },
        { header: 'cpu us/commit', align: 'right' },
        { header: 'blocks/commit', align: 'right' },
      ],
      rows,
      note: `device = DirectFile 4KiB O_DSYNC depth 1: ${fmtRate(device?.opsPerSec)} writes/s in this run (the closed-loop limit at N is N x that)`,
      verdicts,
      series,
    };
  },
};
