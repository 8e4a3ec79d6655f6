// The install step's choice of prebuilt addon (scripts/install.mjs, with
// node-gyp-build): on Windows it must take prebuilds/win32-x64 and need no
// compiler. There is no Windows here, so the platform and architecture are
// faked as npm lets a user fake them (npm_config_platform, npm_config_arch,
// which node-gyp-build reads), in a package directory holding placeholder
// prebuilt files: resolving a prebuilt never loads it. The real win32 binary
// loading under Windows' node.exe is npm run test:windows's part.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';

import { afterAll, expect, it } from 'vitest';

import { ROOT } from '../support/helpers.ts';
import { MISSING, describeWhere } from '../support/platform.ts';

const work = mkdtempSync(path.join(os.tmpdir(), 'clfs-install-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const PREBUILT = ['linux-x64/clfs.napi.glibc.node', 'win32-x64/clfs.napi.node'];

/** A package with install.mjs, node-gyp-build and placeholder prebuilds; nothing to build with. */
function stage(): string {
  const dir = path.join(work, 'package');
  mkdirSync(path.join(dir, 'scripts'), { recursive: true });
  cpSync(path.join(ROOT, 'scripts', 'install.mjs'), path.join(dir, 'scripts', 'install.mjs'));
  cpSync(path.join(ROOT, 'package.json'), path.join(dir, 'package.json'));
  const gypBuild = path.dirname(createRequire(path.join(ROOT, 'package.json')).resolve('node-gyp-build/package.json'));
  mkdirSync(path.join(dir, 'node_modules'));
  symlinkSync(gypBuild, path.join(dir, 'node_modules', 'node-gyp-build'));
  for (const file of PREBUILT) {
    mkdirSync(path.join(dir, 'prebuilds', path.dirname(file)), { recursive: true });
    writeFileSync(path.join(dir, 'prebuilds', file), 'placeholder: resolved, never loaded');
  }
  return dir;
}

const dir = stage();
// PATH with node only: no node-gyp, compiler, make or python to fall back on.
const bin = path.join(work, 'bin');
mkdirSync(bin);
symlinkSync(realpathSync(process.execPath), path.join(bin, 'node'));

function install(platform: string, arch: string): { status: number | null; output: string } {
  const env = { PATH: bin, HOME: work, npm_config_platform: platform, npm_config_arch: arch };
  const run = spawnSync(process.execPath, [path.join(dir, 'scripts', 'install.mjs')], {
    cwd: dir,
    env,
    encoding: 'utf8',
  });
  return { status: run.status, output: `${run.stdout}\n${run.stderr}` };
}

describeWhere(MISSING.posixShell, 'the install step picks the prebuilt addon for the platform', () => {
  it('on win32-x64: prebuilds/win32-x64/clfs.napi.node, with no compiler', () => {
    const { status, output } = install('win32', 'x64');
    expect(output).toContain(`clfs: using prebuilt ${path.join('prebuilds', 'win32-x64', 'clfs.napi.node')}`);
    expect(status).toBe(0);
  });

  it('on linux-x64: the glibc one', () => {
    const { status, output } = install('linux', 'x64');
    expect(output).toContain(`clfs: using prebuilt ${path.join('prebuilds', 'linux-x64', 'clfs.napi.glibc.node')}`);
    expect(status).toBe(0);
  });

  it.each([
    ['win32', 'arm64'],
    ['darwin', 'arm64'],
  ])('on %s-%s, which has none: tries to build and says what it looked for', (platform, arch) => {
    const { status, output } = install(platform, arch);
    expect(status).not.toBe(0);
    expect(output).not.toContain('using prebuilt');
    expect(output).toContain(`no prebuilt addon matches ${platform}-${arch}`);
    expect(output).toContain('linux-x64 (glibc 2.33 or later) and win32-x64');
  });
});
