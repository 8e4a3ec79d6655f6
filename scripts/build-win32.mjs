// `npm run build:win32`: cross-builds the addon for win32-x64 on Linux with
// MinGW-w64 (Debian's g++-mingw-w64-x86-64-posix, installed with apt-get when
// missing) and puts it where node-gyp-build finds a prebuilt binary,
// prebuilds/win32-x64/clfs.napi.node, so that Windows installs need no
// compiler. The napi_* functions are imported from NODE.EXE through an import
// library made from node-api-headers' module definition file; libstdc++,
// libgcc and winpthread are linked statically, and the import table is checked
// to name only NODE.EXE, KERNEL32.dll and msvcrt.dll.
//
//   node scripts/build-win32.mjs [--out DIR]    prebuilds/ under DIR (default: the package root)
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

import {
  bindingTarget,
  compileAll,
  ensureDebianPackages,
  fail,
  napiDefFile,
  napiIncludes,
  root,
  run,
} from './cross-build.mjs';

const label = 'build:win32';
const { values } = parseArgs({ options: { out: { type: 'string', default: root } } });
const prefix = 'x86_64-w64-mingw32-';
const compiler = `${prefix}g++-posix`;
const allowedDlls = ['node.exe', 'kernel32.dll', 'msvcrt.dll'];

ensureDebianPackages(label, [compiler, '--version'], ['g++-mingw-w64-x86-64-posix']);
const work = path.join(root, 'build', 'win32-x64');
rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });

const importLibrary = path.join(work, 'libnode.a');
const made = await run(`${prefix}dlltool`, ['-d', napiDefFile(), '-l', importLibrary]);
if (made.code !== 0) fail(label, `dlltool failed:\n${made.output}`);

const { sources, defines, winDefines } = bindingTarget();
const flags = [
  '-std=c++17',
  '-fexceptions',
  '-O2',
  '-Wall',
  '-Wextra',
  '-Wno-unused-parameter',
  '-Werror',
  ...[...defines, ...winDefines].map((d) => `-D${d}`),
  ...napiIncludes(),
];
const objects = await compileAll(label, compiler, flags, sources, path.join(work, 'obj'));
const binary = path.join(work, 'clfs.node');
const linked = await run(compiler, ['-shared', '-s', '-static', '-o', binary, ...objects, importLibrary]);
if (linked.code !== 0) fail(label, `linking failed:\n${linked.output}`);

const dlls = [...(await run(`${prefix}objdump`, ['-p', binary])).output.matchAll(/DLL Name: (\S+)/g)].map(
  ([, name]) => name,
);
const unexpected = dlls.filter((name) => !allowedDlls.includes(name.toLowerCase()));
if (unexpected.length > 0) fail(label, `clfs.node needs DLLs Windows may not have: ${unexpected.join(', ')}`);

const dir = path.join(path.resolve(values.out), 'prebuilds', 'win32-x64');
rmSync(dir, { recursive: true, force: true });
mkdirSync(dir, { recursive: true });
const target = path.join(dir, 'clfs.napi.node');
copyFileSync(binary, target);
console.log(`${label}: ${path.relative(process.cwd(), target)} (imports ${dlls.join(', ')})`);
