// The platform layer's test program (test/native/platform_program.cc) on
// Windows' API: cross-built with MinGW-w64 into an .exe (libstdc++ and
// winpthread linked statically) and run under wine. Wine is not Windows for
// direct I/O: the program finds out at run time that it runs under wine and
// skips, saying why, the checks wine cannot honour (FILE_FLAG_NO_BUFFERING's
// alignment rules, FILE_STORAGE_INFO, VirtualLock's working-set quota).
// `npm run test:windows` calls runWindowsPlatformProgram once wine is set up.
//
//   node scripts/windows-platform.mjs    builds and runs it alone (wine and its prefix must exist)
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

import { ensureDebianPackages, fail, root } from './cross-build.mjs';
import { buildPlatformProgram } from './platform-program.mjs';
import { WINE, runUnderWine, wineEnv, windowsPath } from './wine.mjs';

const label = 'windows-platform';
const compiler = 'x86_64-w64-mingw32-g++-posix';

/**
 * Builds the program for win32-x64 and runs it under wine (scripts/wine.mjs);
 * prints its report and exits the process on a failed check.
 */
export async function runWindowsPlatformProgram() {
  ensureDebianPackages(label, [compiler, '--version'], ['g++-mingw-w64-x86-64-posix']);
  const exe = await buildPlatformProgram(
    label,
    compiler,
    [],
    ['-static'],
    path.join(root, 'build', 'win32-platform'),
    'platform_program.exe',
  );
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'clfs-win-platform-'));
  const started = Date.now();
  const ran = runUnderWine(windowsPath(exe), [windowsPath(scratch)], { cwd: root, timeout: 300_000 });
  rmSync(scratch, { recursive: true, force: true });
  const printed = ran.output;
  process.stdout.write(printed.endsWith('\n') ? printed : `${printed}\n`);
  const seconds = ((Date.now() - started) / 1000).toFixed(0);
  const summary = /^\d+ checks: .*$/m.exec(printed)?.[0];
  if (ran.status !== 0 || summary === undefined) {
    fail(label, `the platform program failed under wine (exit ${ran.status}, ${seconds} s)`);
  }
  console.log(`${label}: the platform program passed under wine: ${summary} (${seconds} s)`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  if (!existsSync(WINE) || !existsSync(path.join(wineEnv().WINEPREFIX, 'system.reg'))) {
    fail(label, 'wine or its prefix is missing: run `npm run test:windows` once');
  }
  await runWindowsPlatformProgram();
}
