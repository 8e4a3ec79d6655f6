/**
 * Crash-state enumeration (RELIABILITY.md, tier 1). `npm test` runs a fixed
 * sample; `npm run test:crash` (CLFS_CRASH_FULL=1) runs the full enumeration
 * and reports the number of images.
 */
import os from 'node:os';
import path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { FULL_BUDGET, type ImageBudget } from './images.ts';
import { enumerate, type EnumerationResult } from './enumerate.ts';
import { workloadsOf } from '../support/workloads.ts';

const WORKLOADS = workloadsOf('crash');

const FULL = process.env.CLFS_CRASH_FULL === '1';
const SEED = Number(process.env.CLFS_CRASH_SEED ?? 20261124);
// The full run repeats every workload with other seeds: other completion orders, other interleavings.
const SEEDS = Array.from({ length: FULL ? Number(process.env.CLFS_CRASH_SEEDS ?? 3) : 1 }, (_, i) => SEED + i);
const SAMPLE_BUDGET: ImageBudget = {
  prefixes: 1,
  reorders: 1,
  exhaustiveSectors: 8,
  randomSubsets: 8,
  fills: ['old', 'zero', 'garbage'],
  maxTornPerWrite: 6,
};
const artifactDir = process.env.CLFS_CRASH_ARTIFACTS ?? path.join(os.tmpdir(), 'clfs-crash-artifacts');

const results: EnumerationResult[] = [];

describe.each(WORKLOADS)('crash-state enumeration: $name', (workload) => {
  it.each(SEEDS)(
    'every crash image recovers with I1-I4 intact (seed %i)',
    async (seed) => {
      const result = await enumerate(workload, {
        seed,
        points: FULL ? Infinity : 20,
        budget: FULL ? FULL_BUDGET : SAMPLE_BUDGET,
        deepEvery: FULL ? 50 : 10,
        artifactDir,
      });
      results.push(result);
      const detail = result.failures
        .map((f) => `${f.label}: ${f.problems.join('; ')} (saved: ${f.artifact})`)
        .join('\n');
      expect(result.failures, detail).toEqual([]);
      expect(result.images).toBeGreaterThan(0);
    },
    FULL ? 3_600_000 : 120_000,
  );
});

afterAll(() => {
  const images = results.reduce((n, r) => n + r.images, 0);
  const points = results.reduce((n, r) => n + r.points, 0);
  console.log(
    `crash-state enumeration (${FULL ? 'full' : 'sample'}, seeds ${SEEDS.join(', ')}): ${images} images at ${points} crash points over ${WORKLOADS.length} workloads\n` +
      results.map((r) => `  ${r.workload}: ${r.events} events, ${r.points} points, ${r.images} images`).join('\n'),
  );
});
