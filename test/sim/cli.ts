/**
 * The simulator's command line (npm run test:sim -- ...):
 *   --seconds N         run seeds for N seconds (from --from, default a random start, printed)
 *   --seeds A..B        run seeds A to B
 *   --seed N            run one seed and print its configuration, plan, trace and violations
 *   --replay FILE       replay a saved plan (a regression file), printing as --seed does
 *   --no-shrink         report failing seeds without shrinking them
 *   --shrink-seconds N  time to shrink the first failing seed of each kind (default 20)
 *   --save NAME         save each kind's shrunk failure as test/sim/regressions/NAME-KIND.json
 *   --kind KIND         shrink (and save) only failures of this kind
 * Prints operations/s, schedules (seeds) tried, crashes and faults injected,
 * and each kind of violation found with its first seed and the seconds it
 * took to find. Exits 1 if anything failed.
 * @module
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { describeConfig } from './config.ts';
import { simulate, type SimResult } from './driver.ts';
import { describeOp, drawPlan, type Plan } from './plan.ts';
import { shrink } from './shrink.ts';

interface Args {
  seconds?: number;
  seeds?: [number, number];
  seed?: number;
  replay?: string;
  from?: number;
  shrink: boolean;
  /** Wall-clock budget for shrinking each kind of failure. */
  shrinkSeconds: number;
  save?: string;
  /** Shrink and save only failures of this kind. */
  kind?: string;
}

function parse(argv: string[]): Args {
  const args: Args = { shrink: true, shrinkSeconds: 20 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--seconds') args.seconds = Number(value());
    else if (a === '--seeds') {
      const [from, to] = value().split('..').map(Number);
      args.seeds = [from!, to ?? from!];
    } else if (a === '--seed') args.seed = Number(value());
    else if (a === '--replay') args.replay = value();
    else if (a === '--from') args.from = Number(value());
    else if (a === '--no-shrink') args.shrink = false;
    else if (a === '--shrink-seconds') args.shrinkSeconds = Number(value());
    else if (a === '--save') args.save = value();
    else if (a === '--kind') args.kind = value();
    else throw new Error(`unknown argument ${a}`);
  }
  return args;
}

const regressionsDir = (): string => {
  // dist/test/sim/cli.js or test/sim/cli.ts: the sources' regressions folder either way.
  const here = path.dirname(fileURLToPath(import.meta.url));
  const root = here.includes(`${path.sep}dist${path.sep}`)
    ? path.resolve(here, '../../..')
    : path.resolve(here, '../..');
  return path.join(root, 'test', 'sim', 'regressions');
};

function printRun(plan: Plan, result: SimResult): void {
  console.log(`seed ${plan.seed}: ${describeConfig(plan.config)}`);
  console.log(`plan (${plan.ops.length} operations):`);
  plan.ops.forEach((op, i) => console.log(`  ${i}: ${describeOp(op)}`));
  if (result.trace !== undefined) {
    console.log('trace:');
    for (const line of result.trace) console.log(`  ${line}`);
  }
  console.log(
    `${result.ops} operations, ${result.calls} calls, ${result.crashes} crashes, ${result.reopens} reopens, ${result.faults} faults, ${result.steps} steps; trace hash ${result.hash.slice(0, 16)}`,
  );
  if (result.violations.length === 0) console.log('no violations');
  for (const v of result.violations) console.log(`VIOLATION ${v.kind}: ${v.detail}`);
}

async function save(
  name: string,
  plan: Plan,
  result: SimResult,
  found: { seed: number; seconds: number },
): Promise<string> {
  const file = path.join(regressionsDir(), `${name}.json`);
  const body = {
    name,
    kinds: [...new Set(result.violations.map((v) => v.kind))],
    first: result.violations[0]?.detail,
    found,
    plan,
  };
  let text = `${JSON.stringify(body, null, 2)}\n`;
  try {
    const prettier = await import('prettier');
    const options = (await prettier.resolveConfig(file)) ?? {};
    text = await prettier.format(text, { ...options, parser: 'json' });
  } catch {
    // Formatting is cosmetic: `npm run format` does it too.
  }
  writeFileSync(file, text);
  return file;
}

async function main(): Promise<number> {
  const args = parse(process.argv.slice(2));
  if (args.seed !== undefined || args.replay !== undefined) {
    const plan =
      args.replay !== undefined
        ? (JSON.parse(readFileSync(args.replay, 'utf8')) as { plan: Plan }).plan
        : drawPlan(args.seed!);
    const result = await simulate(plan, { trace: true });
    printRun(plan, result);
    return result.violations.length === 0 ? 0 : 1;
  }
  const from = args.seeds?.[0] ?? args.from ?? Math.floor(Math.random() * 2 ** 31);
  const to = args.seeds?.[1] ?? Infinity;
  const deadline = args.seconds !== undefined ? Date.now() + args.seconds * 1000 : Infinity;
  if (to === Infinity && deadline === Infinity)
    throw new Error('give --seconds N, --seeds A..B, --seed N or --replay FILE');
  console.log(
    `simulating seeds from ${from}${to !== Infinity ? ` to ${to}` : ''}${args.seconds !== undefined ? ` for ${args.seconds} s` : ''}`,
  );
  const start = Date.now();
  let simMs = 0;
  const totals = { schedules: 0, ops: 0, calls: 0, crashes: 0, reopens: 0, faults: 0, failed: 0 };
  const firsts = new Map<string, { seed: number; seconds: number; detail: string }>();
  const failures: { seed: number; result: SimResult }[] = [];
  for (let seed = from; seed <= to && Date.now() < deadline; seed++) {
    const t = Date.now();
    const result = await simulate(drawPlan(seed));
    simMs += Date.now() - t;
    totals.schedules++;
    totals.ops += result.ops;
    totals.calls += result.calls;
    totals.crashes += result.crashes;
    totals.reopens += result.reopens;
    totals.faults += result.faults;
    if (result.violations.length === 0) continue;
    totals.failed++;
    failures.push({ seed, result });
    const kinds = [...new Set(result.violations.map((v) => v.kind))];
    console.log(`seed ${seed} FAILED: ${kinds.join(', ')}: ${result.violations[0]!.detail}`);
    for (const v of result.violations) {
      if (!firsts.has(v.kind)) firsts.set(v.kind, { seed, seconds: (Date.now() - start) / 1000, detail: v.detail });
    }
  }
  const seconds = (Date.now() - start) / 1000;
  console.log(
    `\n${totals.schedules} schedules (seeds ${from}..${from + totals.schedules - 1}) in ${seconds.toFixed(1)} s: ` +
      `${totals.ops} operations (${Math.round(totals.ops / (simMs / 1000 || 1))} ops/s), ${totals.calls} API calls, ` +
      `${totals.crashes} crashes and ${totals.reopens} reopens, ${totals.faults} faults injected; ${totals.failed} failing seeds`,
  );
  for (const [kind, f] of firsts)
    console.log(`  ${kind}: first at seed ${f.seed} after ${f.seconds.toFixed(1)} s: ${f.detail}`);
  if (failures.length > 0 && args.shrink) {
    // Shrink the first failing seed of each kind.
    const done = new Set<string>();
    for (const [kind, f] of firsts) {
      if (done.has(kind) || (args.kind !== undefined && kind !== args.kind)) continue;
      const failure = failures.find((x) => x.seed === f.seed)!;
      console.log(`\nshrinking seed ${f.seed} (${kind})...`);
      const shrunk = await shrink(drawPlan(f.seed), { kind, maxMs: args.shrinkSeconds * 1000 });
      for (const v of shrunk.result.violations) done.add(v.kind);
      console.log(
        `shrunk in ${shrunk.runs} runs to ${shrunk.plan.ops.length} operations (from ${failure.result.ops}):`,
      );
      printRun(shrunk.plan, shrunk.result);
      if (args.save !== undefined) {
        const file = await save(`${args.save}-${kind}`, shrunk.plan, shrunk.result, {
          seed: f.seed,
          seconds: f.seconds,
        });
        console.log(`saved ${file}`);
      }
    }
  }
  return totals.failed === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(2);
  },
);
