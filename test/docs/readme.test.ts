// The README's programs run as written (issue 11): the quick start and the
// write-ahead-log recipe are taken from the README by their first line
// (`// quick-start.ts`, `// wal.ts`), type-checked against the package's
// published types, compiled and run in a fresh directory that imports
// 'clfs' as a user's project does.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { afterAll, beforeAll, expect, it } from 'vitest';

import { ROOT } from '../support/helpers.ts';
import { describeWhere, diedOfOwnKill, MISSING } from '../support/platform.ts';

const work = mkdtempSync(path.join(os.tmpdir(), 'clfs-readme-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** The README's ```ts blocks whose first line is `// <name>`, by name. */
function programs(): Map<string, string> {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const found = new Map<string, string>();
  for (const match of readme.matchAll(/```ts\n\/\/ ([\w-]+\.ts)\n([\s\S]*?)```/g)) found.set(match[1]!, match[2]!);
  return found;
}

const PROGRAMS = ['quick-start.ts', 'wal.ts'];
let compile: { status: number | null; output: string };

beforeAll(() => {
  const found = programs();
  expect([...found.keys()].sort()).toEqual([...PROGRAMS].sort());
  mkdirSync(path.join(work, 'node_modules', '@types'), { recursive: true });
  symlinkSync(ROOT, path.join(work, 'node_modules', 'clfs'), 'junction');
  symlinkSync(
    path.join(ROOT, 'node_modules', '@types', 'node'),
    path.join(work, 'node_modules', '@types', 'node'),
    'junction',
  );
  writeFileSync(path.join(work, 'package.json'), JSON.stringify({ name: 'readme', private: true, type: 'module' }));
  writeFileSync(
    path.join(work, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: { target: 'ES2022', module: 'NodeNext', strict: true, types: ['node'], outDir: '.' },
      files: PROGRAMS,
    }),
  );
  for (const [name, source] of found) writeFileSync(path.join(work, name), source);
  const tsc = spawnSync(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', work], {
    encoding: 'utf8',
  });
  compile = { status: tsc.status, output: `${tsc.stdout}${tsc.stderr}` };
}, 120_000);

describeWhere(MISSING.symlinks, "the README's programs", () => {
  it('type-check against the published types', () => {
    expect(compile.output).toBe('');
    expect(compile.status).toBe(0);
  });

  it('the quick start runs as written: appends, checkpoints, reads back, reopens and reads its restart area', () => {
    const out = execFileSync(process.execPath, ['quick-start.js'], { cwd: work, encoding: 'utf8' });
    expect(out).toMatch(/^appended at 0x[0-9a-f]{16}\n/);
    // Read from the base the checkpoint moved to: the last record of the batch.
    expect(out).toMatch(/0x[0-9a-f]{16} del a\n/);
    expect(out).not.toMatch(/put a=1\n/);
    expect(out).toMatch(/restart area: replay after \d+\n$/);
  });

  it('the write-ahead-log recipe recovers, after its SIGKILL, the map its commits made', () => {
    const write = spawnSync(process.execPath, ['wal.js', 'write'], { cwd: work, encoding: 'utf8' });
    expect(diedOfOwnKill({ code: write.status, signal: write.signal, stderr: write.stderr }), write.stderr).toBe(true);
    expect(write.stderr).toBe('');
    const out = execFileSync(process.execPath, ['wal.js', 'recover'], { cwd: work, encoding: 'utf8' });
    expect(JSON.parse(out)).toEqual([
      ['b', '2'],
      ['c', '3'],
    ]);
  });
});
