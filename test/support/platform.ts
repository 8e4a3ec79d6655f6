// What this platform can do, for the tests that need more than the library's
// own promise (issue 12: the suite runs on Linux and, by `npm run
// test:windows`, on Windows' node under wine). Each entry of MISSING is
// undefined where the capability exists, else the reason a test needing it
// is skipped: the reason goes into the skipped suite's or test's name (or its
// skip note), so `npm run test:windows` can print every skip with its reason.
// The sector unit a log gets here is asked of the platform, not assumed.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { getCurrentTest } from '@vitest/runner';
import { describe, it } from 'vitest';

import { DirectFile } from '../../lib/index.ts';

import { LINUX, UNDER_WINE, WINDOWS } from './system.ts';

export { LINUX, SYSTEM_ERRORS, UNDER_WINE, WINDOWS } from './system.ts';

/** Why each capability is missing here (undefined: it is not). */
export const MISSING = {
  ioUring: LINUX ? undefined : 'io_uring: Linux only',
  tmpfs: LINUX ? undefined : 'tmpfs: Linux only',
  /** FIFOs, sockets and device nodes in the file system (mkfifo, mknod). */
  posixFileKinds: WINDOWS ? 'FIFOs, sockets and device nodes: POSIX only' : undefined,
  /** Symbolic links a Windows program sees as links (wine shows the host's as their targets). */
  symlinks: UNDER_WINE ? 'symbolic links: wine shows them to Windows programs as their targets' : undefined,
  /** RLIMIT_MEMLOCK and memoryInfo().processLockedBytes (VmLck in /proc/self/status). */
  processLocked: LINUX ? undefined : 'RLIMIT_MEMLOCK and VmLck (locked bytes): Linux only',
  /** sh, npm and a C++ toolchain for the package's own install. */
  posixShell: WINDOWS ? 'packaging tests: they use sh, npm pack and a compiler (Linux only)' : undefined,
  compiler: WINDOWS ? 'the platform program is built with the system c++ (none in the Windows test run)' : undefined,
  /** A signal sent to another process that it can catch (SIGINT, SIGTERM). */
  signals: WINDOWS ? 'signals: Windows cannot send a child a SIGINT it can catch' : undefined,
} as const;

/**
 * Whether a child that ran `process.kill(process.pid, 'SIGKILL')` died of it
 * (and not of an error first). On POSIX the signal says so; Windows has no
 * signals: Node ends the process with TerminateProcess and exit code 1, so
 * there it is that code with nothing on stderr (an error would print there).
 */
export function diedOfOwnKill(result: { code: number | null; signal: NodeJS.Signals | null; stderr: string }): boolean {
  return WINDOWS ? result.code === 1 && result.signal === null && result.stderr === '' : result.signal === 'SIGKILL';
}

/**
 * How a DirectFile here names its direct I/O in `reason`, and where its
 * alignment may come from (`alignmentSource`) on a local disk.
 */
export const DIRECT_IO: { flag: string; alignmentSources: readonly string[] } = WINDOWS
  ? {
      flag: 'FILE_FLAG_NO_BUFFERING',
      alignmentSources: ['FILE_STORAGE_INFO', 'IOCTL_STORAGE_QUERY_PROPERTY', 'GetDiskFreeSpace'],
    }
  : process.platform === 'darwin'
    ? { flag: 'F_NOCACHE', alignmentSources: ['page-size'] }
    : { flag: 'O_DIRECT', alignmentSources: ['statx'] };

/** `name`, with ` (skipped: <reason>)` when `reason` says it cannot run here. */
export function skipName(name: string, reason: string | undefined): string {
  return reason === undefined ? name : `${name} (skipped: ${reason})`;
}

/** `describe(name, fn)`, skipped with its reason in its name where `reason` is set. */
export function describeWhere(reason: string | undefined, name: string, fn: () => void): void {
  describe.skipIf(reason !== undefined)(skipName(name, reason), fn);
}

/** `it(name, fn, timeout)`, skipped with its reason in its name where `reason` is set. */
export function itWhere(
  reason: string | undefined,
  name: string,
  fn: () => Promise<void> | void,
  timeout?: number,
): void {
  it.skipIf(reason !== undefined)(skipName(name, reason), fn, timeout);
}

/**
 * Inside a running test: skips it, with `reason` as its note, where `reason`
 * is set (for helpers shared by many tests, such as one spawning a child that
 * kills itself).
 */
export function skipTestWhere(reason: string | undefined): void {
  if (reason === undefined) return;
  const test = getCurrentTest();
  if (test === undefined) throw new Error(`skipTestWhere outside a test: ${reason}`);
  test.context.skip(reason);
}

/** `ms`, or `underWine` when the suite runs under wine (child processes start slowly there). */
export function wineTimeout(ms: number, underWine: number): number {
  return UNDER_WINE ? underWine : ms;
}

/**
 * Why a test whose arithmetic is in 4096-byte sectors (records per block,
 * blocks per container, offsets inside a block) cannot run here, where the
 * sector unit is another (512 under wine); undefined where it is 4096.
 */
export async function not4096Sectors(): Promise<string | undefined> {
  const here = await sectorUnitHere();
  return here === 4096 ? undefined : `4096-byte sectors: the test counts in them (here ${here})`;
}

let unit: Promise<number> | undefined;

/**
 * The sector unit a log under os.tmpdir() gets here (the larger of the
 * physical sector size and the offset alignment the platform reports for a
 * direct-I/O file): 4096 on this Linux machine's disk, 512 under wine.
 */
export function sectorUnitHere(): Promise<number> {
  unit ??= (async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'clfs-platform-'));
    try {
      const file = await DirectFile.open(path.join(dir, 'probe'), { create: true, lock: false });
      await file.close();
      return Math.max(file.physicalSectorSize, file.offsetAlignment);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  })();
  return unit;
}
