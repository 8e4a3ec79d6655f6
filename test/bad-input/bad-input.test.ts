// Issue 4, tier 5: every public API tried with bad input. The table
// (cases*.ts) is run three ways: here in the test process, whole in a child
// process (so a crash is a failed case, not a lost run), and the cases that
// may kill a process each alone in a child of its own. Every case must give
// the typed error it names (a ClfsError with that code; rejecting, never
// throwing, where the API returns a Promise) without touching logs A and B;
// afterwards log A must hold every record it held, take appends, and come
// back whole through close + Log.open.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import ts from 'typescript';
import { beforeAll, describe, expect, it } from 'vitest';

import * as clfs from '../../lib/index.ts';
import { runChild } from '../support/helpers.ts';
import { itWhere, wineTimeout } from '../support/platform.ts';
import { scratchDir } from '../support/fixtures.ts';
import { buildCases } from './cases.ts';
import { judge, label, runTable, type Outcome, type TableRun } from './runner.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const CASES = buildCases(clfs);
const ISOLATED = CASES.flatMap((c, i) => (c.isolated && c.skip === undefined ? [i] : []));

/** The support modules the table imports (vitest-free), put beside it in the child's copy. */
const SUPPORT = [path.join(HERE, '..', 'support', 'sizes.ts'), path.join(HERE, '..', 'support', 'system.ts')];

/** The table's modules as plain JavaScript for a child process (types only ever came from lib/). */
function transpileTable(into: string): void {
  mkdirSync(into, { recursive: true });
  writeFileSync(path.join(into, 'package.json'), '{ "type": "module" }');
  const table = readdirSync(HERE)
    .filter((n) => n.endsWith('.ts') && !n.endsWith('.test.ts'))
    .map((n) => path.join(HERE, n));
  for (const file of [...table, ...SUPPORT]) {
    const name = path.basename(file);
    const { outputText } = ts.transpileModule(readFileSync(file, 'utf8'), {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: false },
      fileName: name,
    });
    writeFileSync(
      path.join(into, name.replace(/\.ts$/, '.js')),
      outputText.replace(/from '(?:\.\/|\.\.\/support\/)([\w-]+)\.ts'/g, "from './$1.js'"),
    );
  }
}

interface ChildRun {
  outcomes: (Outcome | undefined)[];
  integrity: string[] | undefined;
  ms: number | undefined;
  exit: string;
  stderr: string;
}

/** Runs the table (or case `only`) in a child process on dist/ and collects what it printed. */
async function runInChild(jsDir: string, dir: string, only?: number): Promise<ChildRun> {
  mkdirSync(dir, { recursive: true });
  const source = `
    import * as clfs from 'CLFS';
    import { buildCases } from ${JSON.stringify(pathToFileURL(path.join(jsDir, 'cases.js')).href)};
    import { runTable } from ${JSON.stringify(pathToFileURL(path.join(jsDir, 'runner.js')).href)};
    const only = process.env.BAD_INPUT_ONLY === '' ? undefined : Number(process.env.BAD_INPUT_ONLY);
    const run = await runTable(clfs, buildCases(clfs), process.env.BAD_INPUT_DIR, {
      only,
      onOutcome: (index, outcome) => console.log('OUTCOME ' + JSON.stringify({ index, outcome })),
    });
    console.log('INTEGRITY ' + JSON.stringify(run.integrity));
    console.log('DONE ' + Math.round(run.ms));
    process.exit(0);
  `;
  const result = await runChild(source, {
    nodeArgs: ['--expose-gc'],
    env: { BAD_INPUT_DIR: dir, BAD_INPUT_ONLY: only === undefined ? '' : String(only) },
    timeoutMs: wineTimeout(45_000, 240_000),
  });
  const outcomes: (Outcome | undefined)[] = CASES.map(() => undefined);
  let integrity: string[] | undefined;
  let ms: number | undefined;
  for (const line of result.stdout.split('\n')) {
    if (line.startsWith('OUTCOME ')) {
      const { index, outcome } = JSON.parse(line.slice(8)) as { index: number; outcome: Outcome };
      outcomes[index] = outcome;
    } else if (line.startsWith('INTEGRITY ')) integrity = JSON.parse(line.slice(10)) as string[];
    else if (line.startsWith('DONE ')) ms = Number(line.slice(5));
  }
  const exit = result.signal !== null ? `killed by ${result.signal}` : `exit code ${result.code}`;
  return { outcomes, integrity, ms, exit, stderr: result.stderr.slice(-2000) };
}

/** A child's outcome for case `index`, or what became of the child if it never reported one. */
function childOutcome(run: ChildRun, index: number): Outcome {
  return (
    run.outcomes[index] ?? {
      how: 'crashed',
      message: `the child process ended (${run.exit}) before reporting this case; stderr: ${run.stderr.slice(-400)}`,
    }
  );
}

describe(`bad input: a table of ${CASES.length} cases over every public function and option`, () => {
  let local: TableRun;
  let child: ChildRun;
  const isolated = new Map<number, ChildRun>();

  beforeAll(
    async () => {
      const { dir, cleanup } = scratchDir('clfs-bad-input-');
      try {
        const jsDir = path.join(dir, 'js');
        transpileTable(jsDir);
        const started = performance.now();
        const [l, c, ...iso] = await Promise.all([
          runTable(clfs, CASES, path.join(dir, 'in-process')),
          runInChild(jsDir, path.join(dir, 'child')),
          ...ISOLATED.map((i) => runInChild(jsDir, path.join(dir, `isolated-${i}`), i)),
        ]);
        local = l;
        child = c;
        ISOLATED.forEach((i, k) => isolated.set(i, iso[k]!));
        const verdicts = CASES.map((cs, i) =>
          cs.skip !== undefined ? [] : judge(cs, cs.isolated ? childOutcome(isolated.get(i)!, i) : local.outcomes[i]!),
        );
        const failing = CASES.flatMap((cs, i) =>
          verdicts[i]!.length > 0 ? [`  ${label(cs)}\n    ${verdicts[i]!.join('\n    ')}`] : [],
        );
        console.log(
          `bad-input table: ${CASES.length} cases (${CASES.length - ISOLATED.length} run in this process and again in a child process, ` +
            `${ISOLATED.length} alone in children of their own); ${failing.length} failing. ` +
            `In-process run ${Math.round(local.ms)} ms, child run ${child.ms ?? '?'} ms (${child.exit}), ` +
            `all together ${Math.round(performance.now() - started)} ms.` +
            (failing.length > 0 ? `\nFailing:\n${failing.join('\n')}` : ''),
        );
      } finally {
        cleanup();
      }
      // Under wine each child process takes seconds to start, and the table runs several at once.
    },
    wineTimeout(60_000, 300_000),
  );

  CASES.forEach((c, index) =>
    itWhere(c.skip, label(c), () => {
      if (c.isolated) {
        expect(judge(c, childOutcome(isolated.get(index)!, index)), 'alone in a child process').toEqual([]);
        return;
      }
      expect(judge(c, local.outcomes[index]!), 'in the test process').toEqual([]);
      expect(judge(c, childOutcome(child, index)), 'in a child process').toEqual([]);
    }),
  );

  it('the child process running the whole table survives it and exits normally', () => {
    expect(child.exit, child.stderr).toBe('exit code 0');
    expect(child.outcomes.filter((o, i) => o === undefined && !CASES[i]!.isolated && !CASES[i]!.skip)).toEqual([]);
  });

  it('afterwards log A holds every record it held (byte-exact, chains too), takes new appends, leaked no read buffer or reservation, and after close + Log.open everything is there; log B and the DirectFile are untouched', () => {
    expect(local.integrity, 'in the test process').toEqual([]);
    expect(child.integrity, 'in a child process').toEqual([]);
  });

  it('the test process survived the table', () => {
    expect(process.exitCode ?? 0).toBe(0);
  });
});
