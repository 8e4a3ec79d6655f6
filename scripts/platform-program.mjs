// The platform layer's test program, test/native/platform_program.cc (issue
// 12): the platform layer's sources as binding.gyp lists them (those under
// native/platform/) and the program, with no N-API. Built natively and run by
// test/native/platform-program.test.ts, cross-built for Windows and run under
// wine by scripts/windows-platform.mjs, compiled for macOS by
// scripts/check-macos.mjs.
//
//   node scripts/platform-program.mjs --out DIR    builds DIR/platform_program with the system c++
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

import { bindingTarget, compileAll, fail, root, run } from './cross-build.mjs';

export const programSources = [
  'test/native/platform_program.cc',
  'test/native/platform_io_checks.cc',
  'test/native/platform_file_checks.cc',
];

/** The platform layer's sources (binding.gyp's, under native/platform/) and the program's. */
export function platformProgramSources() {
  return [...bindingTarget().sources.filter((source) => source.startsWith('native/platform/')), ...programSources];
}

/**
 * Compiles the program with `command ...args` (warnings are errors) into
 * outDir and links it there as `name` with `linkArgs`; returns its path.
 */
export async function buildPlatformProgram(label, command, args, linkArgs, outDir, name) {
  const flags = [...args, '-std=c++17', '-O1', '-Wall', '-Wextra', '-Werror', `-I${path.join(root, 'native')}`];
  const objects = await compileAll(label, command, flags, platformProgramSources(), path.join(outDir, 'obj'));
  const binary = path.join(outDir, name);
  const linked = await run(command, [...args, ...linkArgs, '-o', binary, ...objects]);
  if (linked.code !== 0 || linked.output.trim() !== '')
    fail(label, `linking the platform program failed:\n${linked.output}`);
  return binary;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({ options: { out: { type: 'string' } } });
  if (values.out === undefined) fail('platform-program', 'usage: node scripts/platform-program.mjs --out DIR');
  const binary = await buildPlatformProgram(
    'platform-program',
    'c++',
    [],
    [],
    path.resolve(values.out),
    'platform_program',
  );
  console.log(binary);
}
