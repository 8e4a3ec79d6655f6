// Shared helpers of the fault tiers (test/faults, RELIABILITY.md tiers 2 and
// 3): seeds, reasons to skip, child processes run under strace, and small
// loop-mounted file systems. The children's workload and the checks a
// reopened log must pass are in faults-native.ts; the in-memory fault
// harness is in faults-memory.ts.
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

import { afterAll } from 'vitest';

import { replay as replayWith, scratchFiles, seedFrom, type Scratch } from './fixtures.ts';
import { ROOT, type ChildResult } from './helpers.ts';
import { childScript, liveChild, type LiveChild } from './log.ts';

/** `npm run test:kill`: the full kill tiers (>= 200 SIGKILLs, every strace N). */
export const KILL_FULL = process.env.CLFS_KILL_FULL === '1';
/** `npm run test:faults`: the full I/O-error tiers (every N, every fault kind). */
export const FAULTS_FULL = process.env.CLFS_FAULTS_FULL === '1';

/** The seed of a test file: $CLFS_FAULT_SEED, or a fresh one (printed in every failure message). */
export function faultSeed(): number {
  return seedFrom('CLFS_FAULT_SEED');
}

/** How a failure message names the seed, so the run can be replayed. */
export function replay(seed: number): string {
  return replayWith(seed, 'CLFS_FAULT_SEED');
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function runs(command: string, args: string[]): boolean {
  try {
    execFileSync(command, args, { stdio: 'ignore', timeout: 20_000 });
    return true;
  } catch {
    return false;
  }
}

/**
 * Why the strace tiers cannot run here (undefined when they can). strace
 * must exist and be allowed to trace (ptrace) and inject.
 */
export function straceSkipReason(): string | undefined {
  if (process.platform !== 'linux') return 'strace fault injection is Linux-only';
  if (!runs('strace', ['-V'])) {
    return 'strace is not installed (npm run test:kill installs it with apt-get where it can: scripts/ensure-strace.mjs)';
  }
  // A real injection: ptrace may be refused (containers without
  // CAP_SYS_PTRACE, Yama ptrace_scope 3).
  if (!runs('strace', ['-f', '-qq', '-o', '/dev/null', '-e', 'trace=getpid', '-e', 'inject=getpid:retval=1', 'true'])) {
    return 'strace cannot trace and inject here (ptrace refused: CAP_SYS_PTRACE missing or kernel.yama.ptrace_scope)';
  }
  return undefined;
}

/** Prints why a test is skipped, so a skip is never silent. */
export function announceSkip(what: string, reason: string | undefined): void {
  if (reason !== undefined) console.warn(`[skipped] ${what}: ${reason}`);
}

/**
 * strace arguments that make `action` (`signal=SIGKILL:when=N`,
 * `error=EIO:when=N+`, ...) happen at the traced calls of `syscalls` (a
 * comma-separated list), following threads and children, output dropped;
 * `onlyPaths` narrows it to calls on those files (-P).
 */
export function injection(syscalls: string, action: string, onlyPaths: readonly string[] = []): string[] {
  return [
    '-f',
    '-qq',
    '-o',
    '/dev/null',
    ...onlyPaths.flatMap((p) => ['-P', p]),
    '-e',
    `trace=${syscalls}`,
    '-e',
    `inject=${syscalls}:${action}`,
  ];
}

/**
 * The setup of a test file whose children run under strace: why it cannot
 * run here (announced; undefined when it can), its seed, and its scratch
 * directory; the children's library is deleted after the file.
 */
export function straceTier(
  what: string,
  scratchPrefix: string,
): { skip: string | undefined; seed: number; scratch: Scratch } {
  const skip = straceSkipReason();
  announceSkip(what, skip);
  afterAll(() => releaseChildLibrary());
  return { skip, seed: faultSeed(), scratch: scratchFiles(scratchPrefix) };
}

// --- the library the children run --------------------------------------------

let library: { root: string; entry: string; native: string } | undefined;

/** Deletes the children's copy of the library (afterAll: vitest's workers may end without 'exit'). */
export function releaseChildLibrary(): void {
  if (library !== undefined) rmSync(library.root, { recursive: true, force: true });
  library = undefined;
}

/**
 * A private copy of the built library (dist/lib, and the addon) for child
 * processes. Every vitest run rebuilds dist/ in its global setup, and a
 * native build replaces the addon: a child starting while another run
 * rewrites them would load half-written files. The copy is checked by
 * loading it, and made again until that works.
 */
export function childLibrary(): { entry: string; env: NodeJS.ProcessEnv } {
  if (library === undefined) {
    const root = mkdtempSync(path.join(os.tmpdir(), 'clfs-child-lib-'));
    process.on('exit', () => rmSync(root, { recursive: true, force: true }));
    const require = createRequire(path.join(ROOT, 'package.json'));
    const override = process.env.CLFS_NATIVE_PATH;
    let last: unknown;
    for (let attempt = 0; attempt < 40 && library === undefined; attempt++) {
      try {
        const addon =
          override !== undefined && override !== ''
            ? path.resolve(override)
            : (require('node-gyp-build') as { resolve(dir: string): string }).resolve(ROOT);
        rmSync(path.join(root, 'dist'), { recursive: true, force: true });
        copyFileSync(path.join(ROOT, 'package.json'), path.join(root, 'package.json'));
        cpSync(path.join(ROOT, 'dist', 'lib'), path.join(root, 'dist', 'lib'), { recursive: true });
        copyFileSync(addon, path.join(root, 'clfs.node'));
        const candidate = {
          root,
          entry: path.join(root, 'dist', 'lib', 'index.js'),
          native: path.join(root, 'clfs.node'),
        };
        const check = `const m = await import(${JSON.stringify(pathToFileURL(candidate.entry).href)}); if (typeof m.Log !== 'function') process.exit(3);`;
        execFileSync(process.execPath, ['--input-type=module', '-e', check], {
          env: { ...process.env, CLFS_NATIVE_PATH: candidate.native },
          stdio: 'pipe',
        });
        library = candidate;
      } catch (error) {
        last = error;
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 250);
      }
    }
    if (library === undefined) {
      rmSync(root, { recursive: true, force: true });
      throw new Error(`could not copy a working build of the library: ${String(last)}`);
    }
  }
  return { entry: library.entry, env: { CLFS_NATIVE_PATH: library.native } };
}

/** `source` with `import ... from 'CLFS'` pointing at the children's library and `ARGS` defined. */
function childSource(source: string): string {
  return childScript(source, pathToFileURL(childLibrary().entry).href);
}

function argsJson(args: unknown): string {
  return JSON.stringify(args, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v));
}

/**
 * A child process running `source` (as spawnLogChild in log.ts, on the
 * children's private copy of the library), its stdout collected as it comes.
 */
export function spawnFaultChild(source: string, args: unknown): LiveChild {
  const child = spawn(process.execPath, ['--input-type=module', '-e', childSource(source)], {
    env: { ...process.env, ...childLibrary().env, CLFS_TEST_ARGS: argsJson(args) },
  });
  return liveChild(child);
}

/**
 * Runs `source` (an ES module; `import ... from 'CLFS'` gets the built
 * library, `ARGS` the JSON of `args`) under `strace <straceArgs> --`. The
 * child's stdout is the script's; strace writes its own output where
 * `straceArgs` say (`-o`). When the script dies of a signal, so does strace
 * (it re-raises it): `signal` is the script's.
 */
export function runTraced(
  source: string,
  args: unknown,
  straceArgs: readonly string[],
  options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<ChildResult> {
  const code = childSource(source);
  const child = spawn('strace', [...straceArgs, '--', process.execPath, '--input-type=module', '-e', code], {
    env: {
      ...process.env,
      ...childLibrary().env,
      CLFS_IO_ENGINE: 'threads',
      ...options.env,
      CLFS_TEST_ARGS: argsJson(args),
    },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (exitCode, signal) => {
      clearTimeout(timer);
      resolve({ code: exitCode, signal, stdout, stderr });
    });
  });
}

// --- loop-mounted file systems ----------------------------------------------

/** Every mount made by this process, unmounted at exit if afterAll did not get to it. */
const live = new Set<LoopMount>();
process.on('exit', () => {
  for (const mount of live) mount.cleanup();
});

/**
 * A small ext4 file system on a loop device, mounted on a fresh directory
 * (real ENOSPC; 4096-byte logical sectors with `losetup -b 4096`). Needs
 * root, loop devices, mkfs.ext4 and mount: {@link LoopMount.create} returns
 * the reason when it cannot.
 */
export class LoopMount {
  readonly root: string;
  /** Where the file system is mounted. */
  readonly dir: string;
  readonly image: string;
  readonly device: string | undefined;
  #mounted = false;

  private constructor(root: string, device: string | undefined) {
    this.root = root;
    this.dir = path.join(root, 'mnt');
    this.image = path.join(root, 'fs.img');
    this.device = device;
  }

  /** Why loop mounts cannot be made here, or undefined. */
  static skipReason(): string | undefined {
    if (process.platform !== 'linux') return 'loop-mounted file systems are Linux-only';
    if (process.getuid?.() !== 0) return 'mounting a loop device needs root';
    if (!existsSync('/dev/loop-control')) return 'no loop devices (/dev/loop-control is missing)';
    for (const tool of ['losetup', 'mkfs.ext4', 'mount', 'umount']) {
      if (!runs('sh', ['-c', `command -v ${tool}`])) return `${tool} is not installed`;
    }
    return undefined;
  }

  /**
   * Makes a `sizeMiB` image, formats it ext4 and mounts it. With
   * `sectorSize` 4096 the loop device gets 4096-byte logical sectors.
   * Returns the reason instead when that fails.
   */
  static create(sizeMiB: number, options: { sectorSize?: 512 | 4096 } = {}): LoopMount | string {
    const reason = LoopMount.skipReason();
    if (reason !== undefined) return reason;
    const root = mkdtempSync(path.join(os.tmpdir(), 'clfs-loop-'));
    let mount: LoopMount | undefined;
    try {
      const image = path.join(root, 'fs.img');
      execFileSync('truncate', ['-s', `${sizeMiB}M`, image]);
      let device: string | undefined;
      if (options.sectorSize === 4096) {
        device = execFileSync('losetup', ['-f', '--show', '-b', '4096', image], { encoding: 'utf8' }).trim();
      }
      mount = new LoopMount(root, device);
      live.add(mount);
      execFileSync('mkdir', ['-p', mount.dir]);
      // 4096-byte blocks: a 4Kn device cannot hold 1 KiB file-system blocks.
      execFileSync('mkfs.ext4', ['-q', '-F', '-b', '4096', device ?? image], { stdio: 'ignore' });
      execFileSync('mount', device === undefined ? ['-o', 'loop', image, mount.dir] : [device, mount.dir]);
      mount.#mounted = true;
      return mount;
    } catch (error) {
      mount?.cleanup();
      rmSync(root, { recursive: true, force: true });
      const detail = error instanceof Error ? error.message.split('\n')[0] : String(error);
      return `could not make a loop-mounted ext4 file system: ${detail}`;
    }
  }

  /** The file system's free bytes (for the superuser). */
  freeBytes(): number {
    const out = execFileSync('df', ['-B1', '--output=avail', this.dir], { encoding: 'utf8' });
    return Number(out.trim().split('\n').pop());
  }

  /** Names in the mount's root, without ext4's lost+found. */
  entries(): string[] {
    return readdirSync(this.dir).filter((name) => name !== 'lost+found');
  }

  /** Unmounts, detaches the loop device and deletes the image; safe to call twice. */
  cleanup(): void {
    if (this.#mounted) {
      if (!runs('umount', [this.dir])) runs('umount', ['-l', this.dir]);
      this.#mounted = false;
    }
    if (this.device !== undefined && readLoopBacking(this.device) !== undefined) runs('losetup', ['-d', this.device]);
    rmSync(this.root, { recursive: true, force: true });
    live.delete(this);
  }
}

/** The file a loop device is attached to, if it is attached. */
function readLoopBacking(device: string): string | undefined {
  try {
    return readFileSync(`/sys/block/${path.basename(device)}/loop/backing_file`, 'utf8').trim();
  } catch {
    return undefined;
  }
}
