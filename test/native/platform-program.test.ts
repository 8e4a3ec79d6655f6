// The platform layer's own C++ test program (test/native/platform_program.cc,
// no N-API): built with the system c++ from the sources binding.gyp lists for
// the platform layer (scripts/platform-program.mjs) and run in a fresh
// directory under os.tmpdir(), which must do real direct I/O here. Every check
// it plans must report, none may fail, and the ones that prove direct I/O is on
// must pass rather than skip.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { afterAll, beforeAll, expect, it } from 'vitest';

import { ROOT } from '../support/helpers.ts';
import { MISSING, describeWhere } from '../support/platform.ts';

const work = mkdtempSync(path.join(os.tmpdir(), 'clfs-platform-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface Report {
  status: number | null;
  output: string;
  plan: number;
  lines: { verdict: string; name: string; text: string }[];
}

function buildAndRun(): Report {
  const binary = execFileSync(
    process.execPath,
    [path.join(ROOT, 'scripts', 'platform-program.mjs'), '--out', path.join(work, 'build')],
    { cwd: ROOT, encoding: 'utf8' },
  )
    .trim()
    .split('\n')
    .pop()!;
  const scratch = mkdtempSync(path.join(work, 'run-'));
  const run = spawnSync(binary, [scratch], { encoding: 'utf8', timeout: 120_000 });
  const output = `${run.stdout}${run.stderr}`;
  const plan = Number(/^plan (\d+)/m.exec(run.stdout)?.[1] ?? NaN);
  const lines = [...run.stdout.matchAll(/^(ok|skip|FAIL) ([^:\n]+)(?::\s*(.*))?$/gm)].map(
    ([, verdict, name, text]) => ({
      verdict: verdict!,
      name: name!,
      text: text ?? '',
    }),
  );
  return { status: run.status, output, plan, lines };
}

describeWhere(MISSING.compiler, 'the platform program (C++, no N-API)', () => {
  let report: Report;
  beforeAll(() => {
    report = buildAndRun();
  }, 180_000);

  it('builds with the system c++ and passes every check it plans', () => {
    expect(
      report.lines.filter((line) => line.verdict === 'FAIL'),
      report.output,
    ).toEqual([]);
    expect(report.status, report.output).toBe(0);
    expect(report.plan).toBeGreaterThanOrEqual(20);
    expect(report.lines).toHaveLength(report.plan);
    expect(new Set(report.lines.map((line) => line.name)).size).toBe(report.plan);
    expect(report.output).toContain(`${report.plan} checks: `);
  });

  it('proves direct I/O on os.tmpdir(): the checks that need it pass, not skip', () => {
    const needed = report.lines.filter((line) =>
      /direct I\/O is on|sector size comes from|opens for direct/.test(line.name),
    );
    expect(needed).toHaveLength(4);
    for (const line of needed) expect(line, report.output).toMatchObject({ verdict: 'ok' });
  });

  it('skips only what this machine cannot do, saying why', () => {
    // No tmpfs at /dev/shm, or an RLIMIT_MEMLOCK below 4 MiB (some containers' 64 KiB).
    const allowed: Record<string, RegExp> = {
      'a filesystem that ignores direct I/O is refused': /./,
      '4 MiB can be pinned (on Windows the working set grows)': /^the memory lock limit is \d+ bytes$/,
    };
    for (const line of report.lines.filter((l) => l.verdict === 'skip')) {
      expect(line.text, line.name).not.toBe('');
      expect(Object.keys(allowed)).toContain(line.name);
      expect(line.text, line.name).toMatch(allowed[line.name]!);
    }
  });
});
