// The package as a user gets it (issue 11): `npm pack`, then `npm install`
// of the tarball into a fresh project whose PATH holds node and npm and no
// compiler, make or python. The prebuilt addon must load (from ESM and from
// CommonJS), a log must work over real direct I/O, and the tarball must hold
// only what users need.
import { execFileSync, spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { afterAll, beforeAll, expect, it } from 'vitest';

import { ROOT } from '../support/helpers.ts';
import { describeWhere, MISSING } from '../support/platform.ts';

const work = mkdtempSync(path.join(os.tmpdir(), 'clfs-tarball-'));
// The Windows prebuilt, when this checkout has one (npm run build:win32 or
// npm run prebuild:all, which the release flow runs, makes it).
const WIN32_PREBUILT = path.join('prebuilds', 'win32-x64', 'clfs.napi.node');
const win32Built = existsSync(path.join(ROOT, WIN32_PREBUILT));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A PATH with node, npm and sh (npm runs scripts with it) only: no cc, g++, make or python3. */
function bareBin(): string {
  const bin = path.join(work, 'bin');
  mkdirSync(bin);
  symlinkSync(process.execPath, path.join(bin, 'node'));
  symlinkSync(realpathSync('/bin/sh'), path.join(bin, 'sh'));
  const npm = execFileSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' }).trim();
  symlinkSync(realpathSync(npm), path.join(bin, 'npm'));
  return bin;
}

/** The package directory npm packs: the files `files` names, built, with the prebuilt addon. */
function stage(): string {
  const dir = path.join(work, 'package');
  mkdirSync(dir);
  for (const file of ['package.json', 'README.md', 'LICENSE', 'binding.gyp', 'CMakeLists.txt']) {
    cpSync(path.join(ROOT, file), path.join(dir, file));
  }
  for (const sub of ['dist/lib', 'dist/bench', 'native', 'scripts'])
    cpSync(path.join(ROOT, sub), path.join(dir, sub), { recursive: true });
  execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'prebuild.mjs'), '--no-build', '--out', dir], {
    stdio: 'pipe',
  });
  if (win32Built) cpSync(path.join(ROOT, WIN32_PREBUILT), path.join(dir, WIN32_PREBUILT));
  return dir;
}

const PROGRAM = (load: string) => `
${load}
const dir = require('node:path').join(require('node:os').tmpdir(), 'clfs-tarball-log-' + process.pid);
(async () => {
  const log = await Log.create(dir, { containerSize: 512 * 1024, containers: 2 });
  const area = await log.createMarshallingArea({ bufferSize: 64 * 1024 });
  const { lsn } = await area.reserveAndAppend(new TextEncoder().encode('hello from the tarball'), { forceFlush: true });
  const read = [];
  for await (const record of area.records()) read.push(new TextDecoder().decode(record.data));
  const direct = log.information().direct;
  await log.close();
  await Log.delete(dir);
  console.log(JSON.stringify({ lsn: Lsn.format(lsn), read, direct, error: new ClfsError('ERR_CLFS_CLOSED', 'x').code }));
})().catch((error) => { console.error(error); process.exit(1); });
`;

let env: NodeJS.ProcessEnv;
let project: string;
let tarball: string;
let installOutput: string;

/** Packs the package in `dir` (without its scripts: it is built already); the tarball's path. */
function pack(dir: string): string {
  const packed = execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], {
    cwd: dir,
    encoding: 'utf8',
  });
  return path.join(dir, (JSON.parse(packed) as { filename: string }[])[0]!.filename);
}

/** A fresh project `name` with `tarball` installed under the bare PATH. */
function install(name: string, from: string): { dir: string; status: number | null; output: string } {
  const dir = path.join(work, name);
  mkdirSync(dir);
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name, private: true }));
  const args = ['install', from, '--no-audit', '--no-fund', '--prefer-offline', '--foreground-scripts'];
  const run = spawnSync('npm', args, { cwd: dir, env, encoding: 'utf8' });
  return { dir, status: run.status, output: `${run.stdout}\n${run.stderr}` };
}

beforeAll(() => {
  const bin = bareBin();
  env = {
    HOME: process.env.HOME,
    PATH: bin,
    npm_config_cache: process.env.npm_config_cache ?? path.join(os.homedir(), '.npm'),
  };
  tarball = pack(stage());
  const installed = install('consumer', tarball);
  project = installed.dir;
  installOutput = installed.output;
  if (installed.status !== 0) throw new Error(`npm install of the tarball failed:\n${installOutput}`);
}, 240_000);

/** Runs `source` as `file` in `dir`; its JSON output. */
function run(dir: string, file: string, source: string): Record<string, unknown> {
  writeFileSync(path.join(dir, file), source);
  return JSON.parse(execFileSync(process.execPath, [file], { cwd: dir, env, encoding: 'utf8' })) as Record<
    string,
    unknown
  >;
}

const LOADERS = {
  'ESM (import)': [
    'esm.mjs',
    "import { Log, Lsn, ClfsError } from 'clfs';\nimport { createRequire } from 'node:module';\nconst require = createRequire(import.meta.url);",
  ],
  'CommonJS (require)': ['cjs.cjs', "const { Log, Lsn, ClfsError } = require('clfs');"],
} as const;

describeWhere(MISSING.posixShell, 'the packed package', () => {
  it('holds the built library, the native sources, the prebuilt addon, README and LICENSE, and nothing of the repository besides', () => {
    const listing = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).trim().split('\n');
    const top = new Set(listing.map((f) => f.replace(/^package\//, '').split('/')[0]));
    expect([...top].sort()).toEqual(
      [
        'CMakeLists.txt',
        'LICENSE',
        'README.md',
        'binding.gyp',
        'dist',
        'native',
        'package.json',
        'prebuilds',
        'scripts',
      ].sort(),
    );
    expect(listing).toContain(`package/prebuilds/${process.platform}-${process.arch}/clfs.napi.glibc.node`);
    expect(listing.filter((f) => f.startsWith('package/scripts/'))).toEqual(['package/scripts/install.mjs']);
    expect(listing).toContain('package/dist/lib/cli/main.js');
    // The benchmark ships compiled (`clfs bench`), without its maps and declarations.
    expect(listing).toContain('package/dist/bench/log.js');
    expect(listing.filter((f) => f.startsWith('package/dist/bench') && !f.endsWith('.js'))).toEqual([]);
    expect(listing.some((f) => f.startsWith('package/test') || f.startsWith('package/bench'))).toBe(false);
  });

  it('installs the clfs command: executable, it runs on the bare PATH, and finds the benchmark', () => {
    const bin = path.join(project, 'node_modules', '.bin', 'clfs');
    const run = (...args: string[]) => spawnSync(bin, args, { cwd: project, env, encoding: 'utf8' });
    const version = run('--version');
    expect(version.stderr).toBe('');
    expect(version.stdout.trim()).toBe(
      (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version,
    );
    const bench = run('bench', '--help');
    expect(bench.status).toBe(0);
    expect(bench.stdout).toContain('--quick');
    const log = path.join(work, 'cli-log');
    expect(run('create', log, '--container-size', '512K').status).toBe(0);
    expect(JSON.parse(run('info', log, '--json').stdout)).toMatchObject({ information: { containerSize: 512 * 1024 } });
  });

  it.skipIf(!win32Built)(
    `ships the win32-x64 prebuilt addon${win32Built ? '' : ' (skipped: not built in this checkout; npm run build:win32 makes it)'}`,
    () => {
      const listing = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).trim().split('\n');
      expect(listing).toContain(`package/${WIN32_PREBUILT}`);
    },
  );

  it('installs with no compiler on PATH, using the prebuilt addon', () => {
    expect(spawnSync('sh', ['-c', 'command -v cc g++ make python3'], { env }).stdout.toString()).toBe('');
    expect(installOutput).toContain('clfs: using prebuilt prebuilds/');
    expect(existsSync(path.join(project, 'node_modules', 'clfs', 'build'))).toBe(false);
  });

  it.each(Object.entries(LOADERS))('works from %s with real direct I/O', (_, [file, load]) => {
    expect(run(project, file, PROGRAM(load))).toEqual({
      lsn: expect.any(String),
      read: ['hello from the tarball'],
      direct: true,
      error: 'ERR_CLFS_CLOSED',
    });
  });

  it('with no addon for the platform (none built, the prebuilt one removed), loading fails with ERR_CLFS_ADDON_MISSING saying what to do', () => {
    const copy = path.join(work, 'no-addon');
    cpSync(project, copy, { recursive: true });
    rmSync(path.join(copy, 'node_modules', 'clfs', 'prebuilds'), { recursive: true });
    const out = run(
      copy,
      'load.mjs',
      "try { await import('clfs'); console.log('{}'); } catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }",
    );
    expect(out.code).toBe('ERR_CLFS_ADDON_MISSING');
    expect(out.message).toContain('npm rebuild clfs');
    expect(out.message).toContain(`${process.platform}-${process.arch}`);
  });

  it('with no prebuilt addon and no compiler, the install fails with one message saying what to install', () => {
    const dir = path.join(work, 'package-src');
    cpSync(path.join(work, 'package'), dir, { recursive: true });
    rmSync(path.join(dir, 'prebuilds'), { recursive: true });
    const consumer = install('consumer-src', pack(dir));
    expect(consumer.status).not.toBe(0);
    expect(consumer.output).toContain('building it from source failed');
    expect(existsSync(path.join(consumer.dir, 'node_modules', 'clfs'))).toBe(false);
  });
});
