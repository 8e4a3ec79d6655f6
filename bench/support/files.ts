/**
 * The benchmark directory and its preallocated, fully written files.
 * @module
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { DirectFile } from '../../lib/index.ts';
import { mountOf } from './machine.ts';

/** Filesystems where O_DIRECT is ignored or refused: measuring there says nothing about a disk. */
const NOT_A_DISK = new Set(['tmpfs', 'ramfs', 'devtmpfs', 'overlay', 'proc', 'sysfs']);

/**
 * Where benchmark files go: `explicit` (from `--dir`), else `$CLFS_BENCH_DIR`,
 * else os.tmpdir() — unless that is a RAM filesystem (tmpfs), then /var/tmp.
 * Returns the directory and how it was chosen.
 */
export function chooseBenchBase(explicit: string | undefined): { dir: string; why: string } {
  if (explicit !== undefined && explicit !== '') return { dir: path.resolve(explicit), why: '--dir' };
  const env = process.env.CLFS_BENCH_DIR;
  if (env !== undefined && env !== '') return { dir: path.resolve(env), why: '$CLFS_BENCH_DIR' };
  const tmp = os.tmpdir();
  const fsType = safeFsType(tmp);
  if (fsType !== null && NOT_A_DISK.has(fsType) && process.platform === 'linux') {
    return { dir: '/var/tmp', why: `os.tmpdir() (${tmp}) is ${fsType}, not a disk: using /var/tmp` };
  }
  return { dir: tmp, why: 'os.tmpdir()' };
}

function safeFsType(dir: string): string | null {
  try {
    return mountOf(dir)?.fsType ?? null;
  } catch {
    return null;
  }
}

/** A fresh directory `clfs-bench-XXXXXX` under `base`. */
export async function makeBenchDir(base: string): Promise<string> {
  return mkdtemp(path.join(base, 'clfs-bench-'));
}

export async function removeBenchDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

/**
 * Creates `file` with `size` bytes allocated and written (zeros), then synced,
 * through {@link DirectFile.preallocate}: later overwrites never allocate
 * blocks or convert unwritten extents, so they measure the device.
 * Returns what the open reported (direct or not, and why).
 */
export async function preallocatedFile(file: string, size: number): Promise<{ direct: boolean; reason: string }> {
  const handle = await DirectFile.open(file, { create: true, durability: 'none', engine: 'auto', depth: 1 });
  try {
    await handle.preallocate(size);
    return { direct: handle.direct, reason: handle.reason };
  } finally {
    await handle.close();
  }
}
