// What the cross-builds share (npm run check:macos, npm run build:win32): the
// addon's sources and defines as binding.gyp lists them, the N-API include
// directories, tools fetched from npm into a cache directory (never a
// dependency every user installs), and compiling many files at once.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
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

/** Installs npm package `name@version` (without its scripts) into the tools cache once; returns its directory. */
export function npmTool(name, version, label) {
  const prefix = path.join(toolsDir(), `${name.replace('/', '+')}@${version}`);
  const dir = path.join(prefix, 'node_modules', name);
  if (existsSync(path.join(dir, 'package.json'))) return dir;
  mkdirSync(prefix, { recursive: true });
  console.log(`${label}: fetching ${name}@${version} from npm into ${prefix}`);
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const args = ['install', '--prefix', prefix, '--no-save', '--no-package-lock', '--ignore-scripts'];
  const done = spawnSync(npm, [...args, '--no-audit', '--no-fund', `${name}@${version}`], { stdio: 'inherit' });
  if (done.status !== 0 || !existsSync(path.join(dir, 'package.json'))) {
    fail(label, `npm could not install ${name}@${version}`);
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
