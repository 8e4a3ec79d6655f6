// `npm run prebuild`: builds the addon from source for this platform and
// places a stripped copy where node-gyp-build looks for prebuilt binaries
// (prebuilds/<platform>-<arch>/clfs.napi[.glibc|.musl].node), so that the
// package installs without a compiler here. N-API version 8: one binary
// serves every Node version from 20 on.
//
//   node scripts/prebuild.mjs [--no-build] [--out DIR] [--all]
//
// --no-build packages the addon already in build/Release (built by `npm ci`
// or `npm run build:native`); --out writes the prebuilds directory under DIR
// instead of the package root; --all (the release flow, `npm run
// prebuild:all`) also cross-builds prebuilds/win32-x64 with MinGW
// (scripts/build-win32.mjs, which installs it with apt-get when missing:
// only this flow needs it, never `npm ci`).
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: {
    'no-build': { type: 'boolean', default: false },
    out: { type: 'string', default: root },
    all: { type: 'boolean', default: false },
  },
});

if (!values['no-build']) {
  const built = spawnSync(process.execPath, [path.join(root, 'scripts', 'install.mjs'), '--force'], {
    cwd: root,
    stdio: 'inherit',
  });
  if (built.status !== 0) process.exit(built.status ?? 1);
}

const source = path.join(root, 'build', 'Release', 'clfs.node');
if (!existsSync(source)) {
  console.error(`clfs prebuild: ${source} does not exist; build it first (npm run build:native)`);
  process.exit(1);
}

// The C library is part of the binary's identity on Linux: a glibc build
// does not load on musl (Alpine), and node-gyp-build skips a tagged one.
const libc = process.platform !== 'linux' ? '' : isMusl() ? '.musl' : '.glibc';
const dir = path.join(path.resolve(values.out), 'prebuilds', `${process.platform}-${process.arch}`);
rmSync(dir, { recursive: true, force: true });
mkdirSync(dir, { recursive: true });
const target = path.join(dir, `clfs.napi${libc}.node`);
copyFileSync(source, target);
if (process.platform !== 'win32') {
  // Debug symbols are most of the file; a missing strip keeps them.
  const stripped = spawnSync('strip', ['--strip-unneeded', target], { stdio: 'inherit' });
  if (stripped.error)
    console.warn(`clfs prebuild: strip not run (${stripped.error.message}); the binary keeps its symbols`);
}
console.log(`clfs prebuild: ${path.relative(process.cwd(), target)} (${readdirSync(dir).join(', ')})`);

if (values.all) {
  const win32 = spawnSync(
    process.execPath,
    [path.join(root, 'scripts', 'build-win32.mjs'), '--out', path.resolve(values.out)],
    { cwd: root, stdio: 'inherit' },
  );
  if (win32.status !== 0) process.exit(win32.status ?? 1);
}

function isMusl() {
  const report = process.report?.getReport();
  const header = typeof report === 'object' && report !== null ? report.header : undefined;
  return header !== undefined && header.glibcVersionRuntime === undefined;
}
