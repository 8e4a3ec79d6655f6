// The shape of lib/ (issue 8): one concern per file, so no file grows past
// what one reader can hold (~450 lines), and no two files depend on each
// other, directly or through others: each layer can be read, changed and
// tested from the bottom up.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { ROOT } from '../support/helpers.ts';

const LIB = path.join(ROOT, 'lib');
const MAX_LINES = 450;

/** Every .ts file under lib/, relative to lib/. */
function sources(dir = ''): string[] {
  return readdirSync(path.join(LIB, dir), { withFileTypes: true }).flatMap((entry) => {
    const relative = path.posix.join(dir, entry.name);
    if (entry.isDirectory()) return sources(relative);
    return entry.name.endsWith('.ts') ? [relative] : [];
  });
}

/** The lib/ files `file` imports or re-exports from (type-only imports included). */
function importsOf(file: string): string[] {
  const text = readFileSync(path.join(LIB, file), 'utf8');
  const out: string[] = [];
  for (const match of text.matchAll(/^(?:import|export)\b[^;]*?\bfrom '(\.[^']+)'/gms)) {
    out.push(path.posix.normalize(path.posix.join(path.posix.dirname(file), match[1]!)));
  }
  return out;
}

/** The import cycles of `graph`, each as the files along it. */
function cycles(graph: Map<string, string[]>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (file: string): void => {
    state.set(file, 'open');
    stack.push(file);
    for (const next of graph.get(file) ?? []) {
      if (state.get(next) === 'open') found.push([...stack.slice(stack.indexOf(next)), next]);
      else if (state.get(next) === undefined) visit(next);
    }
    stack.pop();
    state.set(file, 'done');
  };
  for (const file of graph.keys()) if (state.get(file) === undefined) visit(file);
  return found;
}

describe('the layout of lib/', () => {
  const files = sources();

  it('finds the sources and their imports', () => {
    expect(files).toContain('log/log.ts');
    expect(importsOf('log/log.ts')).toContain('log/core.ts');
  });

  it(`no file is longer than ${MAX_LINES} lines`, () => {
    const long = files
      .map((file) => [file, readFileSync(path.join(LIB, file), 'utf8').split('\n').length] as const)
      .filter(([, lines]) => lines > MAX_LINES);
    expect(long).toEqual([]);
  });

  it('no import runs both ways: lib/ has no import cycle', () => {
    const graph = new Map(files.map((file) => [file, importsOf(file)]));
    expect(cycles(graph).map((cycle) => cycle.join(' -> '))).toEqual([]);
  });

  it('the cycle finder finds a cycle (it can fail)', () => {
    const graph = new Map([
      ['a.ts', ['b.ts']],
      ['b.ts', ['c.ts']],
      ['c.ts', ['a.ts']],
    ]);
    expect(cycles(graph)).toEqual([['a.ts', 'b.ts', 'c.ts', 'a.ts']]);
  });
});
