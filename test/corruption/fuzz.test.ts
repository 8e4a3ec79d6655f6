/**
 * Fuzzing recovery and reads with arbitrary and damaged images
 * (RELIABILITY.md's dbsqlfuzz/OSS-Fuzz row; DESIGN.md invariant 7). For
 * every case: Log.openStorage, a forward read of every record, a backward
 * read along the previous chain, the restart area, and (half the cases) one
 * acknowledged append and a reopen must never throw anything but a
 * ClfsError with an accepted code (see OPEN_CODES etc. in
 * test/support/corruption-fuzz.ts), never hang (5 s per step; a watchdog
 * thread for loops that block the event loop), never allocate more than a
 * block's worth at once, and never return a record that was not appended
 * (byte-exact), except from a block whose CRC the case itself recomputed.
 *
 * `npm test` runs a fixed, seeded sample; `npm run test:fuzz`
 * (CLFS_FUZZ_FULL=1) runs many more and prints the count. CLFS_FUZZ_SEED
 * and CLFS_FUZZ_RUNS override. A failing case is shrunk by fast-check,
 * printed with its seed, and saved under test/corruption/regressions/
 * (replayed by regressions.test.ts); the run then goes on to look for
 * failures of other kinds.
 */
import { createHash } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  Watchdog,
  applyMutations,
  buildBaseImages,
  caseArb,
  randomCaseArb,
  randomImage,
  runCase,
  runImage,
  runRandomCase,
  saveRegression,
  signature,
  type BaseImage,
  type CaseResult,
  type FuzzCase,
  type RandomCase,
} from '../support/corruption-fuzz.ts';
import { checkAgainst, openImage, readForward } from '../support/corruption.ts';

const FULL = process.env.CLFS_FUZZ_FULL === '1';
const SEED = Number(process.env.CLFS_FUZZ_SEED ?? 20261125);
const RUNS = Number(process.env.CLFS_FUZZ_RUNS ?? (FULL ? 20_000 : 400));
const RANDOM_RUNS = Math.max(1, Math.round(RUNS / 5));
const LONG = FULL || RUNS > 1000;
const SAVE = process.env.CLFS_FUZZ_SAVE !== '0';
const REGRESSIONS = path.join(path.dirname(fileURLToPath(import.meta.url)), 'regressions');

let bases: BaseImage[] = [];
let watchdog: Watchdog | undefined;
const report: string[] = [];

beforeAll(async () => {
  bases = await buildBaseImages();
  watchdog = new Watchdog(60_000, path.join(os.tmpdir(), `clfs-fuzz-hang-${process.pid}.json`));
});

afterAll(async () => {
  await watchdog?.stop();
  console.log(`corruption fuzzing (${FULL ? 'full' : 'sample'}, seed ${SEED}):\n${report.join('\n')}`);
});

interface Failure {
  signature: string;
  problems: string[];
  counterexample: string;
  replay: string;
  saved: string | undefined;
}

const json = (value: unknown): string =>
  JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v));

/**
 * Runs `runs` cases of `arb` through `run` with fast-check. When a case
 * fails with a kind of failure not seen yet, fast-check shrinks it; the
 * shrunk case is recorded (and saved by `save`), its kind becomes known, and
 * the run starts again with the same seed (cases already run are answered
 * from a cache) to look for other kinds. Returns the cases run and the
 * distinct failures.
 */
async function fuzz<T>(
  label: string,
  arb: fc.Arbitrary<T>,
  run: (c: T) => Promise<CaseResult>,
  runs: number,
  save: (c: T, result: CaseResult) => string | undefined,
): Promise<{ cases: number; generated: number; failures: Failure[]; outcomes: Map<string, number>; ms: number }> {
  const started = Date.now();
  const known = new Set<string>();
  const cache = new Map<string, CaseResult>();
  const failures: Failure[] = [];
  const outcomes = new Map<string, number>();
  let cases = 0;
  for (let round = 0; round < 16; round++) {
    let firstNew: string | undefined;
    const property = fc.asyncProperty(arb, async (c) => {
      const text = json(c);
      const key = createHash('sha1').update(text).digest('hex');
      let result = cache.get(key);
      if (result === undefined) {
        watchdog!.begin(`${label}, seed ${SEED}: ${text}`);
        try {
          result = await run(c);
        } finally {
          watchdog!.end();
        }
        cache.set(key, result);
        cases++;
        const kind = result.outcome.replace(/ \(.*\)/, '');
        outcomes.set(kind, (outcomes.get(kind) ?? 0) + 1);
      }
      if (result.problems.length === 0) return true;
      const sig = signature(result.problems);
      if (known.has(sig)) return true;
      firstNew ??= sig;
      return false;
    });
    const details = await fc.check(property, { seed: SEED, numRuns: runs });
    if (!details.failed) break;
    const [c] = details.counterexample as [T];
    const result = await run(c);
    const sig = result.problems.length > 0 ? signature(result.problems) : firstNew!;
    known.add(sig);
    if (firstNew !== undefined) known.add(firstNew);
    failures.push({
      signature: sig,
      problems: result.problems,
      counterexample: json(c),
      replay: `CLFS_FUZZ_SEED=${details.seed} (fast-check path ${details.counterexamplePath ?? ''})`,
      saved: SAVE && result.problems.length > 0 ? save(c, result) : undefined,
    });
  }
  return { cases, generated: runs, failures, outcomes, ms: Date.now() - started };
}

function summary(label: string, r: Awaited<ReturnType<typeof fuzz>>): string {
  const outcomes = [...r.outcomes.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 12)
    .map(([k, n]) => `    ${n} x ${k}`)
    .join('\n');
  return `  ${label}: ${r.cases} cases run (${r.generated} generated, the rest while shrinking) in ${(r.ms / 1000).toFixed(1)} s, ${r.failures.length} distinct failures\n${outcomes}`;
}

function explain(failures: Failure[]): string {
  return failures
    .map(
      (f, i) =>
        `#${i + 1} ${f.problems.join('; ')}\n   shrunk case: ${f.counterexample}\n   replay: ${f.replay}${
          f.saved ? `\n   saved: ${f.saved}` : ''
        }`,
    )
    .join('\n');
}

describe('corruption fuzzing', () => {
  it('premise: every base image, unmutated, opens and reads back every acknowledged record byte-exact', async () => {
    for (const base of bases) {
      const log = await openImage(base.image, 'strict', base.unit);
      const baseLsn = log.information().baseLsn;
      const { records, error } = await readForward(log);
      await log.close();
      expect(error, base.name).toBeUndefined();
      expect(checkAgainst(records, base.known), base.name).toEqual([]);
      const present = new Set(records.map((r) => r.lsn));
      const missing = base.known.filter((k) => k.acked && k.lsn >= baseLsn && !present.has(k.lsn));
      expect(
        missing.map((k) => k.lsn),
        `${base.name}: acknowledged records missing`,
      ).toEqual([]);
      const clean = await runImage(base.image, base.unit, 'strict', base.known, new Set(), true);
      expect(clean.problems, base.name).toEqual([]);
    }
  });

  it(
    `mutated valid images (bit flips, byte runs, sector zero/copy/swap, truncation, stale blocks, forged header, record and metadata fields): never a crash, hang, unbounded allocation, untyped error or wrong record`,
    async () => {
      const result = await fuzz<FuzzCase>(
        'mutated images',
        caseArb(bases.length),
        (c) => runCase(bases, c),
        RUNS,
        (c, r) => {
          const base = bases[c.base % bases.length]!;
          const { image, forged } = applyMutations(base, c.mutations);
          return saveRegression(REGRESSIONS, {
            found: `fuzz.test.ts mutated images, seed ${SEED}, base '${base.name}'`,
            problems: r.problems,
            unit: base.unit,
            recovery: c.recovery,
            append: c.append,
            forged: [...forged],
            case: c,
            image,
            known: base.known,
          });
        },
      );
      report.push(summary('mutated images', result));
      expect(result.failures, explain(result.failures)).toEqual([]);
    },
    LONG ? 6 * 3_600_000 : 120_000,
  );

  it(
    'random bytes as the base file and containers (also under valid metadata, and metadata with random fields): never a crash, hang, unbounded allocation or untyped error',
    async () => {
      const result = await fuzz<RandomCase>('random images', randomCaseArb, runRandomCase, RANDOM_RUNS, (c, r) =>
        saveRegression(REGRESSIONS, {
          found: `fuzz.test.ts random images, seed ${SEED}`,
          problems: r.problems,
          unit: c.unit,
          recovery: c.recovery,
          append: true,
          forged: [],
          case: c,
          image: randomImage(c),
          known: [],
        }),
      );
      report.push(summary('random images', result));
      expect(result.failures, explain(result.failures)).toEqual([]);
    },
    LONG ? 3_600_000 : 120_000,
  );
});
