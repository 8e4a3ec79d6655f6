// The package's install step: load a prebuilt addon when one matches this
// platform, else build from source with node-gyp. `--force` always builds.
// The prebuilt binary is node-gyp-build's choice (prebuilds/<platform>-<arch>,
// e.g. win32-x64/clfs.napi.node on Windows, where no compiler is needed); it
// takes the platform and architecture from npm_config_platform and
// npm_config_arch when they are set, as test/build/install.test.ts does.
//
// node-gyp comes from this package's devDependencies when present (a clone of
// the repository), else from the one npm bundles (npm_config_node_gyp, set by
// npm for install scripts), else from PATH.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const force = process.argv.includes('--force');
const target = `${process.env.npm_config_platform || process.platform}-${process.env.npm_config_arch || process.arch}`;

if (!force && process.env.CLFS_BUILD_FROM_SOURCE !== '1') {
  try {
    const found = require('node-gyp-build').resolve(root);
    if (found.includes(`${path.sep}prebuilds${path.sep}`)) {
      console.log(`clfs: using prebuilt ${path.relative(root, found)}`);
      process.exit(0);
    }
  } catch {
    // no prebuilt and no build yet: build below
  }
}

function nodeGyp() {
  const local = path.join(root, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
  if (existsSync(local)) return [process.execPath, local];
  if (process.env.npm_config_node_gyp) return [process.execPath, process.env.npm_config_node_gyp];
  return ['node-gyp'];
}

const [command, ...prefix] = nodeGyp();
// node-gyp's own progress lines ("gyp info ...") only with npm's --verbose.
const verbose = ['verbose', 'silly'].includes(process.env.npm_config_loglevel ?? '');
const args = [...prefix, 'rebuild', ...(verbose ? [] : ['--loglevel=warn'])];
// Node's own headers ship with it under <prefix>/include/node; use them rather
// than downloading a copy (a fresh machine may have no network but npm's).
const headers = path.resolve(path.dirname(process.execPath), '..');
if (!process.env.npm_config_nodedir && existsSync(path.join(headers, 'include', 'node', 'node_api.h'))) {
  args.push(`--nodedir=${headers}`);
}
const result = spawnSync(command, args, { cwd: root, stdio: 'inherit' });
if (result.error !== undefined || result.status !== 0) {
  const why =
    result.error !== undefined ? result.error.message : `node-gyp exited with ${result.status ?? result.signal}`;
  console.error(
    [
      `clfs: no prebuilt addon matches ${target}, and building it from source failed (${why}).`,
      'clfs ships prebuilt binaries for linux-x64 (glibc 2.33 or later) and win32-x64. Elsewhere, building needs python3,',
      'make and a C++17 compiler (Debian/Ubuntu: apt-get install python3 make g++); then run `npm rebuild clfs`.',
    ].join('\n'),
  );
  process.exit(result.status || 1);
}
