// Tier 3 (RELIABILITY.md, after SQLite's I/O-error tests), in memory: for
// each workload, fail the Nth write, sync, metadata write or container
// creation, once and from N on, with EIO, ENOSPC and a short write, raising
// N until the workload completes without reaching it. Each run is checked
// for fail-stop (I6) and its files for I1-I4 (see support/faults-memory.ts).
// `npm test` runs a seeded sample of the N (every third, one fault kind
// each); `npm run test:faults` (CLFS_FAULTS_FULL=1) runs every combination.
import { afterAll, describe, expect, it } from 'vitest';

import { LogWriter } from '../../lib/log/write/writer.ts';
import type { Lsn } from '../../lib/lsn.ts';
import { MemoryStorage } from '../../lib/storage/memory-storage.ts';

import { FAULTS_FULL, faultSeed, replay } from '../support/faults.ts';
import { describePlan, runWithFault, type FaultKind, type FaultOp, type FaultPlan } from '../support/faults-memory.ts';
import { workloadsOf } from '../support/workloads.ts';

const MEMORY_WORKLOADS = workloadsOf('faults');
import { seededUint32 } from '../support/fixtures.ts';

const SEED = faultSeed();
const OPS: FaultOp[] = ['write', 'sync', 'metadata', 'add'];
const KINDS: FaultKind[] = ['EIO', 'ENOSPC', 'short'];
const totals = new Map<string, { runs: number; injections: number; maxN: number }>();
let started = performance.now();

afterAll(() => {
  const lines = [...totals.entries()].map(
    ([key, t]) => `  ${key}: ${t.runs} runs, ${t.injections} injected faults, N up to ${t.maxN}`,
  );
  const runs = [...totals.values()].reduce((n, t) => n + t.runs, 0);
  const injections = [...totals.values()].reduce((n, t) => n + t.injections, 0);
  console.log(
    `in-memory I/O-error tier (${FAULTS_FULL ? 'full' : 'sample'}, ${replay(SEED)}): ${runs} runs, ${injections} injected faults, ${((performance.now() - started) / 1000).toFixed(1)} s\n${lines.join('\n')}`,
  );
});

describe.each(MEMORY_WORKLOADS.map((w, i) => ({ ...w, index: i })))('I/O errors: $name', (workload) => {
  it(
    'every Nth write, sync, metadata write and container creation failing (once, from N on; EIO, ENOSPC, short write) fail-stops the log, acknowledges nothing not durable, and reopening recovers every acknowledged record',
    async () => {
      started = Math.min(started, performance.now());
      const seed = (SEED + workload.index * 7919) >>> 0;
      const random = seededUint32(seed);
      const baseline = await runWithFault(workload, undefined, seed);
      expect(baseline.problems, `${replay(SEED)}: the workload fails without faults`).toEqual([]);
      const failures: string[] = [];
      for (const op of OPS) {
        const combos = FAULTS_FULL
          ? KINDS.flatMap((kind) => [false, true].map((persistent) => ({ kind, persistent })))
          : [undefined];
        for (const combo of combos) {
          const key = `${op}`;
          const total = totals.get(key) ?? { runs: 0, injections: 0, maxN: 0 };
          totals.set(key, total);
          // The sample takes every third N (from a seeded start) with one
          // seeded kind and mode each; the full run takes every N.
          const step = FAULTS_FULL ? 1 : 3;
          for (let n = FAULTS_FULL ? 1 : 1 + (random() % step); ; n += step) {
            const plan: FaultPlan = {
              op,
              n,
              kind: combo?.kind ?? KINDS[random() % KINDS.length]!,
              persistent: combo?.persistent ?? random() % 2 === 0,
            };
            const result = await runWithFault(workload, plan, seed + n);
            total.runs++;
            total.injections += result.injections;
            if (result.problems.length > 0) {
              failures.push(
                `${describePlan(plan)} (${replay(SEED)}, run seed ${seed + n}):\n    ${result.problems.slice(0, 6).join('\n    ')}`,
              );
            }
            if (result.injections === 0) break;
            total.maxN = Math.max(total.maxN, n);
            if (n > 5000) throw new Error(`${describePlan(plan)}: the workload never completes`);
          }
        }
      }
      expect(failures.slice(0, 12).join('\n'), `${failures.length} failing runs`).toBe('');
    },
    FAULTS_FULL ? 1_800_000 : 60_000,
  );
});

// The checks are not vacuous: a storage that loses an acknowledged write, and
// a writer that acknowledges after failing, are both caught.
describe('the I/O-error checks themselves', () => {
  it('catch a storage that reports a write done without doing it', async () => {
    const original = MemoryStorage.prototype.write;
    let n = 0;
    MemoryStorage.prototype.write = async function (this: MemoryStorage, ...args: Parameters<typeof original>) {
      if (++n === 5) return;
      return original.apply(this, args);
    };
    try {
      const result = await runWithFault(MEMORY_WORKLOADS[0]!, undefined, SEED);
      expect(result.problems.join('\n')).toMatch(/recovery failed|I1/);
    } finally {
      MemoryStorage.prototype.write = original;
    }
  });

  it('catch a writer that resolves flushes after it failed', async () => {
    const original = LogWriter.prototype.flush;
    LogWriter.prototype.flush = function (this: LogWriter, target: Lsn) {
      return this.failure !== undefined ? Promise.resolve(target) : original.call(this, target);
    };
    try {
      const plan: FaultPlan = { op: 'write', n: 3, kind: 'EIO', persistent: true };
      const result = await runWithFault(MEMORY_WORKLOADS[1]!, plan, SEED);
      expect(result.problems.join('\n')).toMatch(/I6: .* started after the log failed, and resolved/);
    } finally {
      LogWriter.prototype.flush = original;
    }
  });
});
