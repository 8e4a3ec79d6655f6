// The vitest suite under wine, for `npm run test:windows` (issue 12 §3): the
// project staged in build/win32-suite with node_modules as npm installs them
// on Windows, run by Windows' node.exe against the cross-built addon, and a
// summary (passed / failed / skipped, the skips grouped by their reason).
//
// The repository's own node_modules (Linux binaries: esbuild, rolldown) is
// never touched: the stage has its own, from `npm ci --os=win32 --cpu=x64
// --ignore-scripts`, reinstalled only when package-lock.json changes. Wine 8
// lacks bcryptprimitives.dll!ProcessPrng, which the Go and Rust binaries of
// vitest's bundler call for random bytes: a stub DLL made with MinGW (over
// advapi32's RtlGenRandom) goes into the wine prefix's system32.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import { fail, root } from './cross-build.mjs';
import { windowsPath } from './wine.mjs';

const PRNG_SOURCE = `#include <windows.h>
BOOLEAN NTAPI SystemFunction036(PVOID buffer, ULONG length);
BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T size) {
  while (size > 0) {
    ULONG chunk = size > 0x40000000 ? 0x40000000 : (ULONG)size;
    if (!SystemFunction036(data, chunk)) return FALSE;
    data += chunk;
    size -= chunk;
  }
  return TRUE;
}
`;

/** Puts the ProcessPrng stub into the prefix's system32 when wine has no bcryptprimitives.dll there. */
export function ensureProcessPrng(label, prefix) {
  const dll = path.join(prefix, 'drive_c', 'windows', 'system32', 'bcryptprimitives.dll');
  if (existsSync(dll)) return;
  const work = path.join(root, 'build', 'win32-prng');
  mkdirSync(work, { recursive: true });
  writeFileSync(path.join(work, 'prng.c'), PRNG_SOURCE);
  writeFileSync(path.join(work, 'prng.def'), 'LIBRARY bcryptprimitives.dll\nEXPORTS\nProcessPrng\n');
  const args = ['-O2', '-Wall', '-Werror', '-shared', '-o', dll, 'prng.c', 'prng.def', '-ladvapi32'];
  const built = spawnSync('x86_64-w64-mingw32-gcc', args, { cwd: work, stdio: 'inherit' });
  if (built.status !== 0) fail(label, 'could not build the bcryptprimitives.dll stub with MinGW');
  console.log(`${label}: put a bcryptprimitives.dll!ProcessPrng stub into ${path.dirname(dll)}`);
}

/**
 * Copies the project (the files git knows and the untracked ones it does not
 * ignore) and the win32-x64 prebuilt addon into build/win32-suite, keeping
 * the stage's Windows node_modules unless package-lock.json changed. No
 * build/ is staged, so node-gyp-build takes the prebuilt addon.
 */
export function stageSuite(label, addon) {
  const stage = path.join(root, 'build', 'win32-suite');
  mkdirSync(stage, { recursive: true });
  const lock = readFileSync(path.join(root, 'package-lock.json'));
  const stamp = path.join(stage, 'node_modules', '.clfs-lock-sha256');
  const want = createHash('sha256').update(lock).digest('hex');
  const installed = existsSync(stamp) && readFileSync(stamp, 'utf8') === want;
  for (const entry of readdirSync(stage)) {
    if (!(installed && entry === 'node_modules')) rmSync(path.join(stage, entry), { recursive: true, force: true });
  }
  const listed = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    cwd: root,
    encoding: 'utf8',
  });
  for (const file of new Set(listed.split('\0'))) {
    if (file === '' || file === 'node_modules' || !existsSync(path.join(root, file))) continue;
    cpSync(path.join(root, file), path.join(stage, file), { recursive: true, verbatimSymlinks: true });
  }
  cpSync(addon, path.join(stage, 'prebuilds', 'win32-x64', 'clfs.napi.node'));
  if (!installed) {
    console.log(`${label}: npm ci --os=win32 --cpu=x64 --ignore-scripts in ${stage}`);
    const npm = spawnSync('npm', ['ci', '--os=win32', '--cpu=x64', '--ignore-scripts', '--no-audit', '--no-fund'], {
      cwd: stage,
      stdio: 'inherit',
    });
    if (npm.status !== 0) fail(label, 'npm ci of the Windows node_modules failed');
    writeFileSync(stamp, want);
  }
  return stage;
}

/** The reason in a name holding `(skipped: <reason>)` (test/support/platform.ts's skipName), parentheses balanced. */
function statedReason(name) {
  const start = name.indexOf('(skipped: ');
  if (start < 0) return undefined;
  let depth = 0;
  for (let i = start; i < name.length; i++) {
    if (name[i] === '(') depth++;
    else if (name[i] === ')' && --depth === 0) return name.slice(start + '(skipped: '.length, i);
  }
  return undefined;
}

/**
 * Runs vitest in `stage` with `run` (a function running node.exe under wine
 * in the stage with the given arguments and extra environment; returns its
 * exit status),
 * passing `filters` through; prints the summary and returns whether the run
 * had no failure.
 */
export function runSuite(label, stage, run, filters) {
  const report = path.join(stage, 'suite-report.json');
  const args = [
    'node_modules/vitest/vitest.mjs',
    'run',
    '--reporter=default',
    '--reporter=./scripts/windows-suite-reporter.mjs',
    ...filters,
  ];
  const started = Date.now();
  const status = run(args, { CLFS_SUITE_REPORT: windowsPath(report) });
  const minutes = ((Date.now() - started) / 60_000).toFixed(1);
  if (!existsSync(report)) {
    console.error(`${label}: vitest under wine wrote no report (exit ${status}, ${minutes} min)`);
    return false;
  }
  const parsed = JSON.parse(readFileSync(report, 'utf8'));
  const { unhandled } = parsed;
  // A test inside a describe that skipped (describeWhere) is left "pending"
  // by vitest; its name carries the describe's reason, so it counts as skipped.
  const tests = parsed.tests.map((t) =>
    t.state === 'pending' && statedReason(t.name) !== undefined ? { ...t, state: 'skipped' } : t,
  );
  const count = (state) => tests.filter((t) => t.state === state).length;
  const failed = tests.filter((t) => t.state === 'failed');
  const reasons = new Map();
  for (const test of tests.filter((t) => t.state === 'skipped')) {
    const reason = test.note ?? statedReason(test.name) ?? `no reason stated (${test.file})`;
    reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
  }
  console.log(`\n${label}: the vitest suite under wine (${minutes} min)`);
  const others = tests.filter((t) => !['passed', 'failed', 'skipped'].includes(t.state));
  const other =
    others.length > 0 ? `, other ${others.length} (${[...new Set(others.map((t) => t.state))].join(', ')})` : '';
  console.log(`  passed ${count('passed')}, failed ${failed.length}, skipped ${count('skipped')}${other}`);
  for (const [reason, n] of [...reasons].sort((a, b) => b[1] - a[1])) console.log(`    skipped ${n}: ${reason}`);
  for (const test of failed) console.log(`  FAILED ${test.file} > ${test.name}\n    ${test.error ?? ''}`);
  for (const error of unhandled) console.log(`  UNHANDLED ${error}`);
  return failed.length === 0 && unhandled.length === 0 && status === 0;
}
