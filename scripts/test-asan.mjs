// `npm run test:asan [-- <vitest arguments>]`: the test suite against the addon
// built with AddressSanitizer and UndefinedBehaviorSanitizer. Not part of
// `npm test` or `npm ci`; needs Linux (x64 or arm64) with apt-get, as root or
// with sudo, when clang or its sanitizer runtime is missing.
//
//  1. clang and its sanitizer runtime; apt-get installs them when missing
//     (clang, libclang-rt-N-dev, llvm-N for llvm-symbolizer).
//  2. The addon, built by cmake-js with clang into build-asan/ (CLFS_SANITIZE,
//     see CMakeLists.txt), and scripts/asan-preload.c. build/ (node-gyp) and
//     build-cmake/ are left alone.
//  3. vitest, with the ASan runtime preloaded into every process of the run:
//     node is not built with ASan, and LD_PRELOAD, like the rest of the
//     environment, reaches vitest's forked workers and every child process the
//     tests spawn. CLFS_NATIVE_PATH makes them all load the sanitizer build,
//     which cannot load without the runtime (its __asan_* symbols would be
//     undefined): no process can quietly run the addon unchecked.
//  4. The reports. Every process writes its reports to build-asan/reports/
//     rather than to stderr, so a report from a child process whose exit a
//     test ignores is not lost. The run fails on any sanitizer error (each
//     ends its process: abort_on_error, -fno-sanitize-recover) and on any
//     failed test.
//
// Leak checking (LeakSanitizer) is off. It runs when a process exits, and
// cannot be made to mean anything here: node and V8 leave thousands of
// allocations unfreed at exit by design; vitest stops its workers, where the
// tests run, with SIGTERM and then SIGKILL 500 ms later, while the check
// takes seconds in such a process, so only the children that tests spawn and
// let exit would be checked; and the check of vitest's own process and of tsc
// (test/global-setup.ts) adds about a minute. The one leak of the addon an
// earlier, filtered version of this script found, in those children, is a
// limit of Node-API: the napi_deferred of a request still in flight when its
// worker thread is terminated is never freed (only settling frees it, and a
// terminated environment cannot settle), 8 bytes a request.
//
// Measured on 2 cores shared with other jobs (Debian bookworm, Node 20.20,
// clang 14): the full suite, 2284 tests in 41 files, in 3 min 17 s; a build
// from scratch adds about 20 s. Timing-sensitive tests run several times
// slower under ASan and can flake on a loaded machine; that is a failed
// test, not a sanitizer error, and the summary tells the two apart.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BUILD_DIR = 'build-asan';
const CONFIG = 'RelWithDebInfo'; // -O2 -g: the optimized code that ships, with line numbers
const buildDir = path.join(root, BUILD_DIR);
const addon = path.join(buildDir, CONFIG, 'clfs.node');
const preload = path.join(buildDir, 'asan-preload.so');
const reports = path.join(buildDir, 'reports');

const started = Date.now();
const timings = [];

function fail(message) {
  console.error(`test:asan: ${message}`);
  process.exit(1);
}

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', ...options });
  if (result.error) fail(`${command}: ${result.error.message}`);
  return result;
}

function mustRun(command, args, options = {}) {
  const result = run(command, args, options);
  if (result.status !== 0) fail(`${[command, ...args].join(' ')} failed (${result.status ?? result.signal})`);
  return result;
}

function output(command, args) {
  const result = spawnSync(command, args, { encoding: 'utf8' });
  return result.status === 0 ? result.stdout.trim() : null;
}

function which(command) {
  return output('sh', ['-c', `command -v ${command}`]);
}

function phase(name, fn) {
  const t = Date.now();
  const value = fn();
  timings.push(`${name} ${((Date.now() - t) / 1000).toFixed(1)}s`);
  return value;
}

// --- 1. clang, its ASan runtime and llvm-symbolizer --------------------------

let aptUpdated = false;
function aptInstall(packages) {
  if (!which('apt-get')) fail(`install ${packages.join(' ')}: apt-get is not available here`);
  const aptGet = process.getuid() === 0 ? ['apt-get'] : ['sudo', 'apt-get'];
  if (aptGet[0] === 'sudo' && !which('sudo')) fail(`installing ${packages.join(' ')} needs root or sudo`);
  console.log(`test:asan: installing ${packages.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  if (!aptUpdated) mustRun(aptGet[0], [...aptGet.slice(1), 'update'], { env });
  aptUpdated = true;
  mustRun(aptGet[0], [...aptGet.slice(1), 'install', '-y', ...packages], { env });
}

const arch = { x64: 'x86_64', arm64: 'aarch64' }[process.arch];
if (arch === undefined) fail(`no ASan runtime name known for ${process.arch}`);

function asanRuntime() {
  const file = output('clang', [`-print-file-name=libclang_rt.asan-${arch}.so`]);
  // clang echoes the bare name back when it has no such file.
  return file !== null && path.isAbsolute(file) && existsSync(file) ? file : null;
}

function symbolizer(major) {
  const versioned = `/usr/lib/llvm-${major}/bin/llvm-symbolizer`;
  return which('llvm-symbolizer') ?? (existsSync(versioned) ? versioned : null);
}

function toolchain() {
  // Debian's clang (clang-14 on bookworm) comes without the sanitizer runtime
  // (libclang-rt-N-dev) and, without recommended packages, without
  // llvm-symbolizer (llvm-N), which puts function names and lines in reports.
  const base = [];
  if (!which('clang') || !which('clang++')) base.push('clang');
  if (!which('cmake')) base.push('cmake');
  if (!which('ninja') && !which('make')) base.push('make'); // cmake-js uses ninja when there is one
  if (base.length > 0) aptInstall(base);
  const major = Number.parseInt(output('clang', ['-dumpversion']) ?? '', 10);
  if (!Number.isInteger(major)) fail('cannot tell the version of clang');
  const missing = [];
  if (asanRuntime() === null) missing.push(`libclang-rt-${major}-dev`);
  if (symbolizer(major) === null) missing.push(`llvm-${major}`);
  if (missing.length > 0) aptInstall(missing);
  const runtime = asanRuntime();
  if (runtime === null) fail(`clang ${major} has no libclang_rt.asan-${arch}.so`);
  return { runtime, symbolizer: symbolizer(major) };
}

// --- 2. the sanitizer build ---------------------------------------------------

function build() {
  const cmakeJs = path.join(root, 'node_modules', 'cmake-js', 'bin', 'cmake-js');
  const common = ['--out', BUILD_DIR, '--config', CONFIG];
  const env = { ...process.env, CLFS_SANITIZE: 'address,undefined' };
  // Configured every time: CMakeLists.txt reads CLFS_SANITIZE when it configures.
  const configure = () =>
    run(process.execPath, [cmakeJs, 'configure', ...common, '--cc', 'clang', '--cxx', 'clang++'], { env });
  if (configure().status !== 0) {
    // Such as a build directory made with a generator no longer installed.
    console.log(`test:asan: configuring afresh in ${BUILD_DIR}/`);
    rmSync(buildDir, { recursive: true, force: true });
    if (configure().status !== 0) fail('cmake-js configure failed');
  }
  const parallel = String(availableParallelism());
  mustRun(process.execPath, [cmakeJs, 'build', ...common, '--parallel', parallel], { env });
  if (!existsSync(addon)) fail(`the build made no ${path.relative(root, addon)}`);

  // The addon must really be instrumented.
  const symbols = output('nm', ['-D', '--undefined-only', addon]);
  if (symbols === null) {
    console.warn('test:asan: nm not found: cannot check the build is instrumented');
  } else if (!/__asan_report_load/.test(symbols) || !/__ubsan_handle_/.test(symbols)) {
    fail(`${path.relative(root, addon)} is not built with -fsanitize=address,undefined`);
  }

  const source = path.join(root, 'scripts', 'asan-preload.c');
  mustRun('clang', ['-O2', '-Wall', '-Wextra', '-Werror', '-shared', '-fPIC', '-o', preload, source]);
}

// --- 3. the test run ------------------------------------------------------------

function sanitizerEnv({ runtime, symbolizer }) {
  const common = [
    `log_path=${reports}/report`, // report.<pid>, one file per process that has something to say
    'print_stacktrace=1',
  ];
  const asan = [
    ...common,
    'abort_on_error=1', // an error ends the process with SIGABRT
    'detect_leaks=0', // see the top of this file
    'verify_asan_link_order=0', // the preload library comes before the runtime
    'detect_stack_use_after_return=1',
    'check_initialization_order=1',
    'strict_init_order=1',
  ];
  const env = {
    ...process.env,
    LD_PRELOAD: [preload, runtime, process.env.LD_PRELOAD].filter(Boolean).join(' '),
    ASAN_OPTIONS: asan.join(':'),
    UBSAN_OPTIONS: [...common, 'halt_on_error=1', 'report_error_type=1'].join(':'),
    CLFS_NATIVE_PATH: addon,
  };
  if (symbolizer) env.ASAN_SYMBOLIZER_PATH = symbolizer;
  return env;
}

// --- 4. the reports ---------------------------------------------------------------

const ERROR =
  /ERROR: (?:AddressSanitizer|UndefinedBehaviorSanitizer|LeakSanitizer)|runtime error:|Sanitizer has encountered a fatal error|Sanitizer CHECK failed/;

function judgeReports() {
  const files = readdirSync(reports).sort();
  const errors = [];
  const rule = '-'.repeat(78);
  for (const name of files) {
    const file = path.join(reports, name);
    const text = readFileSync(file, 'utf8').trim();
    if (ERROR.test(text)) {
      errors.push(file);
      console.log(`\n${rule}\ntest:asan: SANITIZER ERROR in ${path.relative(root, file)}:\n${text}`);
    } else if (text !== '') {
      console.log(`\n${rule}\ntest:asan: sanitizer output (not an error) in ${path.relative(root, file)}:\n${text}`);
    }
  }
  console.log(`\n${rule}`);
  console.log(`test:asan: ${files.length} report file(s) in ${path.relative(root, reports)}/`);
  console.log(`test:asan: sanitizer errors: ${errors.length}`);
  return errors.length;
}

// --- main ---------------------------------------------------------------------------

for (const tool of ['cmake-js', 'vitest']) {
  if (!existsSync(path.join(root, 'node_modules', tool))) fail(`${tool} is not installed: run npm ci first`);
}
const tools = phase('toolchain', toolchain);
phase('build', build);
rmSync(reports, { recursive: true, force: true });
mkdirSync(reports, { recursive: true });
const env = sanitizerEnv(tools);

// One process first: a clear message if the runtime and the build do not fit.
const probe = spawnSync(process.execPath, ['-e', 'require(process.env.CLFS_NATIVE_PATH)'], { env, encoding: 'utf8' });
if (probe.status !== 0) fail(`node cannot load ${path.relative(root, addon)} under ASan:\n${probe.stderr}`);

console.log(`test:asan: vitest with ${path.relative(root, addon)}, ASan runtime ${tools.runtime}`);
const vitest = path.join(root, 'node_modules', 'vitest', 'vitest.mjs');
const tests = phase('tests', () => run(process.execPath, [vitest, 'run', ...process.argv.slice(2)], { env }));
const findings = judgeReports();
console.log(`test:asan: ${timings.join(', ')}; ${((Date.now() - started) / 1000).toFixed(1)}s in all`);

const problems = [];
if (tests.status !== 0) problems.push(`the tests failed (${tests.status ?? tests.signal})`);
if (findings > 0) problems.push(`${findings} sanitizer finding(s): see above, and ${path.relative(root, reports)}/`);
if (problems.length > 0) fail(problems.join('; '));
console.log('test:asan: clean');
