// The platform layer's test program (test/native/platform_program.cc) on
// Windows' API: cross-built with MinGW-w64 into an .exe (libstdc++ and
// winpthread linked statically) and run under wine. Wine is not Windows for
// direct I/O: the program finds out at run time that it runs under wine and
// skips, saying why, the checks wine cannot honour (FILE_FLAG_NO_BUFFERING's
// alignment rules, FILE_STORAGE_INFO, VirtualLock's working-set quota).
// `npm run test:windows` calls runWindowsPlatformProgram once wine is set up.
//
//   node scripts/windows-platform.mjs    builds and runs it alone (wine and its prefix must exist)
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

import { ensureDebianPackages, fail, root, toolsDir } from './cross-build.mjs';
import { buildPlatformProgram } from './platform-program.mjs';

const label = 'windows-platform';
const compiler = 'x86_64-w64-mingw32-g++-posix';

/** A Linux path as wine's Z: drive shows it. */
export const windowsPath = (p) => `Z:${p.replaceAll('/', '\\')}`;

/**
 * Builds the program for win32-x64 and runs it with `wine` (its environment,
 * WINEPREFIX included, in `env`); prints its report and exits the process on
 * a failed check. Returns the report's summary line.
 */
export async function runWindowsPlatformProgram(wine, env) {
  ensureDebianPackages(label, [compiler, '--version'], ['g++-mingw-w64-x86-64-posix']);
  const exe = await buildPlatformProgram(
    label,
    compiler,
    [],
    ['-static'],
    path.join(root, 'build', 'win32-platform'),
    'platform_program.exe',
  );
  // Output to a file, as for node.exe: wine's console output to a pipe is unreliable.
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'clfs-win-platform-'));
  const output = path.join(scratch, 'report.txt');
  const started = Date.now();
  const ran = spawnSync('sh', ['-c', `"$@" > "${output}" 2>&1`, 'sh', wine, windowsPath(exe), windowsPath(scratch)], {
    env,
    timeout: 300_000,
  });
  const printed = existsSync(output) ? readFileSync(output, 'utf8').replaceAll('\r\n', '\n') : '';
  rmSync(scratch, { recursive: true, force: true });
  process.stdout.write(printed.endsWith('\n') ? printed : `${printed}\n`);
  const seconds = ((Date.now() - started) / 1000).toFixed(0);
  const summary = /^\d+ checks: .*$/m.exec(printed)?.[0];
  if (ran.status !== 0 || summary === undefined) {
    fail(label, `the platform program failed under wine (exit ${ran.status ?? ran.signal}, ${seconds} s)`);
  }
  console.log(`${label}: the platform program passed under wine: ${summary} (${seconds} s)`);
  return summary;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const wine = '/usr/lib/wine/wine64';
  const env = { ...process.env, WINEPREFIX: path.join(toolsDir(), 'wine-prefix'), WINEDEBUG: '-all' };
  if (!existsSync(wine) || !existsSync(path.join(env.WINEPREFIX, 'system.reg'))) {
    fail(label, 'wine or its prefix is missing: run `npm run test:windows` once');
  }
  await runWindowsPlatformProgram(wine, env);
}
