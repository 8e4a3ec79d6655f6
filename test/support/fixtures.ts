// The fixtures every test file uses, in one place (one dialect for all tests):
//
// - KiB, MiB, SECTOR: sizes (sizes.ts; SECTOR is the 512-byte unit of the
//   images and of O_DIRECT alignment).
// - scratchDir(prefix): one fresh directory under os.tmpdir() (ext4 here:
//   real O_DIRECT) and its cleanup, for a test that manages it itself.
// - scratchFiles(prefix): a test file's scratch directory: made on first use,
//   deleted after the file's tests; fresh() names a new path in it,
//   freshDir() makes a new directory in it, keep(log) closes a log when the
//   running test ends.
// - prng(seed) and its helpers int/chance/pick/weighted/fork (random.ts):
//   the one seeded generator; seededUint32(seed) is the same stream as
//   32-bit integers. Every randomised test draws from it.
// - seedFrom(variable): a test file's seed: $variable, or a fresh one;
//   replay(seed, variable) is how a failure names it, so it replays.
// - payload(random, tag, size): a record's bytes: `tag`, then a seeded
//   sequence with no zero byte and no two sectors alike.
import { mkdirSync, mkdtempSync, readdirSync, readlinkSync, realpathSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { afterAll, onTestFinished } from 'vitest';

import { chance, fork, int, pick, prng, weighted } from './random.ts';

export { chance, fork, int, pick, prng, weighted };

export { KiB, MiB, SECTOR } from './sizes.ts';

// --- scratch directories ---------------------------------------------------------

/**
 * A fresh directory under os.tmpdir() (ext4 here: real O_DIRECT). Its
 * cleanup fails when this process still holds a file in it open (read from
 * /proc/self/fd on Linux): Windows cannot delete such a file, so a test that
 * forgets to close a log fails here as it would there.
 */
export function scratchDir(prefix = 'clfs-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  return {
    dir,
    cleanup: () => {
      const open = filesOpenUnder(realpathSync(dir));
      rmSync(dir, { recursive: true, force: true });
      if (open.length > 0) throw new Error(`files left open in the scratch directory: ${open.join(', ')}`);
    },
  };
}

/** The files under `dir` (a resolved path: /proc shows those) this process holds open (Linux only; [] elsewhere). */
function filesOpenUnder(dir: string): string[] {
  if (process.platform !== 'linux') return [];
  const open: string[] = [];
  for (const fd of readdirSync('/proc/self/fd')) {
    let target: string;
    try {
      target = readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue; // closed since the listing (the listing's own descriptor among them)
    }
    if (target.startsWith(dir + path.sep)) open.push(path.relative(dir, target));
  }
  return open;
}

/** A test file's scratch directory (see {@link scratchFiles}). */
export interface Scratch {
  /** The directory, made on first use. */
  readonly dir: string;
  /** A new path in the directory, `<what>-<n>` (nothing made there). */
  fresh(what?: string): string;
  /** A new, empty directory in the directory, `<what>-<n>`. */
  freshDir(what?: string): string;
  /** Closes `log` when the running test ends (call it inside a test); returns it. */
  keep<T extends { close(): Promise<unknown> }>(log: T): T;
  /** Deletes the directory now (it is made again on next use). */
  cleanup(): void;
}

/**
 * The scratch directory of a test file, under os.tmpdir(), deleted after
 * the file's tests. Call it at the top of the file. It is made on first
 * use, so a file whose tests are all skipped (vitest runs no afterAll
 * then) leaves nothing behind.
 */
export function scratchFiles(prefix: string): Scratch {
  let made: { dir: string; cleanup: () => void } | undefined;
  let counter = 0;
  const area: Scratch = {
    get dir() {
      made ??= scratchDir(prefix);
      return made.dir;
    },
    fresh: (what = 'log') => path.join(area.dir, `${what}-${counter++}`),
    freshDir(what = 'dir') {
      const dir = area.fresh(what);
      mkdirSync(dir);
      return dir;
    },
    keep(log) {
      onTestFinished(async () => {
        await log.close();
      });
      return log;
    },
    cleanup() {
      made?.cleanup();
      made = undefined;
    },
  };
  afterAll(() => area.cleanup());
  return area;
}

// --- seeds -------------------------------------------------------------------------

/** The same stream as {@link prng}(seed), as unsigned 32-bit integers. */
export function seededUint32(seed: number): () => number {
  const random = prng(seed);
  return () => random() * 4294967296;
}

/** A test file's seed: $variable when set, else a fresh one (printed by {@link replay} in failures). */
export function seedFrom(variable: string): number {
  const fromEnv = process.env[variable];
  return fromEnv === undefined || fromEnv === '' ? Math.floor(Math.random() * 2 ** 31) : Number(fromEnv);
}

/** How a failure message names the seed, so the run can be replayed. */
export function replay(seed: number, variable: string): string {
  return `seed ${seed} (${variable}=${seed} replays it)`;
}

// --- payloads ------------------------------------------------------------------------

/**
 * `size` bytes starting with `tag`, then a seeded sequence of period 251
 * (prime, so no two 512-byte sectors of a record are alike) that never
 * holds a zero: damage to any sector changes it, and images compress well.
 */
export function payload(random: () => number, tag: string, size: number): Uint8Array {
  const head = new TextEncoder().encode(tag);
  const out = new Uint8Array(Math.max(size, head.byteLength));
  out.set(head);
  const step = 1 + Math.floor(random() * 250);
  const start = Math.floor(random() * 251);
  for (let i = head.byteLength; i < out.byteLength; i++) out[i] = ((start + i * step) % 251) + 1;
  return out;
}
