// Wine for the Windows checks (npm run test:windows): where it is, its
// prefix, paths as Windows programs see them under it, and running a Windows
// program under it. A Windows program's console output to a pipe is
// unreliable under wine, so it goes to a file.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { toolsDir } from './cross-build.mjs';

/** Debian's 64-bit wine loader. */
export const WINE = '/usr/lib/wine/wine64';

/** The environment wine runs in: this process's, with clfs's own prefix (Windows 10), quiet. */
export function wineEnv() {
  return { ...process.env, WINEPREFIX: path.join(toolsDir(), 'wine-prefix'), WINEDEBUG: '-all' };
}

/** A Linux path as wine's Z: drive shows it. */
export const windowsPath = (p) => `Z:${p.replaceAll('/', '\\')}`;

/**
 * Runs the Windows program `exe` with `args` under wine, in `cwd`, with
 * `env` added to wineEnv(); its output is shown as it grows when `show`.
 * Returns { status (the exit code, or the signal), output }.
 */
export function runUnderWine(exe, args, { cwd, env = {}, timeout, show = false }) {
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'clfs-wine-out-'));
  const output = path.join(scratch, 'output.txt');
  const script = show
    ? 'out=$1; shift; "$@" > "$out" 2>&1 & pid=$!; tail -n +1 -s 1 -f --pid=$pid "$out"; wait $pid'
    : 'out=$1; shift; "$@" > "$out" 2>&1';
  const ran = spawnSync('sh', ['-c', script, 'sh', output, WINE, exe, ...args], {
    cwd,
    env: { ...wineEnv(), ...env },
    stdio: show ? 'inherit' : 'ignore',
    timeout,
  });
  const printed = existsSync(output) ? readFileSync(output, 'utf8').replaceAll('\r\n', '\n') : '';
  rmSync(scratch, { recursive: true, force: true });
  return { status: ran.status ?? ran.signal, output: printed };
}
