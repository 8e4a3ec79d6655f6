/**
 * Replays every image saved under test/corruption/regressions/ (fuzz cases
 * that once failed, shrunk; see fuzz.test.ts): each must now pass the same
 * checks the fuzzer applies (typed errors only, bounded time and memory, no
 * record that was not appended, an acknowledged append surviving a reopen).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

import { loadRegressions, regressionImage, regressionKnown, runImage } from '../support/corruption-fuzz.ts';

const DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'regressions');
const saved = loadRegressions(DIR);

describe('fuzz regressions', () => {
  it('the regressions directory is readable (it may be empty)', () => {
    expect(Array.isArray(saved)).toBe(true);
  });

  it.each(saved.map((r) => [r.file, r] as const))('%s replays clean', async (_file, r) => {
    const result = await runImage(
      regressionImage(r),
      r.unit,
      r.recovery,
      regressionKnown(r),
      new Set(r.forged),
      r.append,
    );
    expect(result.problems, `first found by ${r.found}: ${r.problems.join('; ')}`).toEqual([]);
  });
});
