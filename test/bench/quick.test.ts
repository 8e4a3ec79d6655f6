// `npm run bench -- --quick` as a smoke test of the output's shape, never of
// speed: the compiled benchmark (dist/bench, built by the global setup) runs
// in a child process, and its JSON and SVG must hold every workload of issue
// 9 with finite numbers or a stated reason, and the conditions measured. A
// missing peer library is fine: it is skipped with a reason.
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { scratchFiles } from '../support/fixtures.ts';
import { ROOT } from '../support/helpers.ts';
import { UNDER_WINE } from '../support/platform.ts';

const scratch = scratchFiles('clfs-bench-quick-');
const ENTRY = path.join(ROOT, 'dist', 'bench', 'log.js');
const IDS = ['W1', 'W2', 'W3', 'W4', 'W5', 'W6', 'W7', 'W8', 'WA'];

interface Verdict {
  what: string;
  value: number | null;
  bar: string;
  result: 'met' | 'missed' | 'unmeasured';
  why?: string;
}
interface WorkloadJson {
  id: string;
  title: string;
  bar: string;
  skipped?: string;
  verdicts: Verdict[];
  cases: { id: string; median: Record<string, number | null> | null; failed: string | null }[];
}
interface Result {
  conditions: Record<string, unknown>;
  peers: { id: string; available: boolean; reason?: string }[];
  workloads: WorkloadJson[];
  chart: string;
}

let stdout = '';
let outDir = '';

beforeAll(async () => {
  outDir = scratch.freshDir('out');
  stdout = await new Promise<string>((resolve, reject) => {
    execFile(
      process.execPath,
      // lmdb's win32 prebuilt crashes Windows' node under wine 8 (a page fault
      // as lmdb opens): a peer's defect that kills the process, so it is left out there.
      [
        ENTRY,
        '--quick',
        '--json',
        '--settle',
        '2',
        '--dir',
        scratch.dir,
        '--out',
        outDir,
        ...(UNDER_WINE ? ['--skip-peer', 'lmdb'] : []),
      ],
      { maxBuffer: 64 << 20, timeout: 280_000 },
      (error, out, err) => (error === null ? resolve(out) : reject(new Error(`${error.message}\n${err}`))),
    );
  });
}, 300_000);

afterAll(() => scratch.cleanup());

/** A crude well-formedness check: every tag closes, in order, under one <svg> root. */
function checkXmlish(text: string): string[] {
  const stack: string[] = [];
  const roots: string[] = [];
  const body = text.replace(/<\?xml[^>]*\?>/, '');
  for (const m of body.matchAll(/<(\/?)([a-zA-Z][\w:-]*)([^>]*?)(\/?)>/g)) {
    const [, closing, name, , selfClosing] = m;
    if (closing === '/') {
      expect(stack.pop()).toBe(name);
    } else if (selfClosing !== '/') {
      if (stack.length === 0) roots.push(name!);
      stack.push(name!);
    } else if (stack.length === 0) roots.push(name!);
  }
  expect(stack).toEqual([]);
  return roots;
}

describe('npm run bench -- --quick', () => {
  it('prints the JSON result on stdout and writes the same JSON and an SVG to --out', () => {
    const result = JSON.parse(stdout) as Result;
    const files = readdirSync(outDir);
    expect(files.filter((f) => f.endsWith('.json'))).toHaveLength(1);
    expect(files).toContain(result.chart);
    const written = JSON.parse(
      readFileSync(
        path.join(
          outDir,
          files.find((f) => f.endsWith('.json'))!,
        ),
        'utf8',
      ),
    ) as Result;
    expect(written.workloads.map((w) => w.id)).toEqual(result.workloads.map((w) => w.id));
  });

  it('has every workload of issue 9, each with finite numbers or a stated reason', () => {
    const result = JSON.parse(stdout) as Result;
    for (const id of IDS) {
      const w = result.workloads.find((x) => x.id === id);
      expect(w, id).toBeDefined();
      expect(w!.bar.length, id).toBeGreaterThan(0);
      if (w!.skipped !== undefined) {
        expect(w!.skipped.length, id).toBeGreaterThan(0);
        continue;
      }
      expect(w!.verdicts.length, id).toBeGreaterThan(0);
      for (const v of w!.verdicts) {
        expect(['met', 'missed', 'unmeasured'], v.what).toContain(v.result);
        if (v.result === 'unmeasured') expect(v.why, v.what).toBeTruthy();
        else expect(Number.isFinite(v.value), v.what).toBe(true);
      }
      const measured = w!.cases.filter((c) => c.median !== null);
      expect(measured.length, id).toBeGreaterThan(0);
      for (const c of measured) {
        expect(Number.isFinite(c.median!.opsPerSec), c.id).toBe(true);
        expect(Number.isFinite(c.median!.cpuUsPerOp), c.id).toBe(true);
      }
      for (const c of w!.cases) if (c.median === null) expect(c.failed, c.id).toBeTruthy();
    }
  });

  it('states the conditions measured, and why any peer was skipped', () => {
    const result = JSON.parse(stdout) as Result;
    const c = result.conditions;
    for (const key of ['directIo', 'durability', 'pool', 'alignment', 'kernel', 'filesystem', 'blockDevice']) {
      expect(c, key).toHaveProperty(key);
    }
    for (const key of ['logicalSectorSize', 'physicalSectorSize', 'writeCache', 'fua'])
      expect(c, key).toHaveProperty(key);
    expect((c.directIo as { obtained: boolean }).obtained).toBe(true);
    for (const p of result.peers) if (!p.available) expect(p.reason, p.id).toBeTruthy();
  });

  it('draws an SVG chart with the W2 series and the bars', () => {
    const result = JSON.parse(stdout) as Result;
    const svg = readFileSync(path.join(outDir, result.chart), 'utf8');
    expect(svg.startsWith('<?xml')).toBe(true);
    expect(checkXmlish(svg)).toEqual(['svg']);
    expect(svg).toMatch(/<path class="series" data-name="clfs"/);
    expect(svg).toMatch(/<path class="series" data-name="fs\.promises"/);
    expect(svg).toMatch(/<rect class="bar"/);
    expect(svg).toMatch(/<line class="threshold"/);
  });
});

describe('npm run bench: bad arguments', () => {
  it.each([
    [['--skip-peer', 'fs'], /--skip-peer fs: not a peer that can be skipped/],
    [['--skip-peer', 'nope'], /--skip-peer nope: not a peer/],
    [['--settle=-1'], /--settle must be a number >= 0/],
    [['--settle', 'x'], /--settle must be a number >= 0/],
  ])('%j exits 64 with one line, before measuring anything', async (args, message) => {
    const result = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, [ENTRY, '--quick', '--dir', scratch.dir, ...args], (error, stdout, stderr) =>
        resolve({ code: error === null ? 0 : (error.code as number), stdout, stderr }),
      );
    });
    expect(result.code).toBe(64);
    expect(result.stdout).toBe('');
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(message);
  });
});
