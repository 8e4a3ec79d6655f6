/**
 * Chooses the cases (--quick, --only, and what the chosen ones need), runs
 * them interleaved (every repetition runs every case once; odd repetitions
 * in reverse order, so drift favours no case), and reduces each case's
 * repetitions to per-field medians.
 * @module
 */
import { medianOf } from '../support/stats.ts';
import type { Context } from './context.ts';
import type { CaseDef, CaseRun, Workload } from './types.ts';

export interface Plan {
  cases: CaseDef[];
  /** Workloads with at least one case chosen by the selection (not only by what others need). */
  selected: Set<string>;
}

/**
 * The cases to run: those of the quick set (when `quick`), matched by `only`
 * (by case id, or by the id of a workload listing the case), plus every case
 * they need, transitively. Cases listed by several workloads run once.
 */
export function planCases(
  workloads: readonly Workload[],
  ctx: Context,
  quick: boolean,
  only: RegExp | undefined,
): Plan {
  const all = new Map<string, CaseDef>();
  const chosen = new Set<string>();
  const selected = new Set<string>();
  for (const w of workloads) {
    for (const c of w.cases(ctx)) {
      if (!all.has(c.id)) all.set(c.id, c);
      const pick = (!quick || c.quick) && (only === undefined || only.test(c.id) || only.test(w.id));
      if (pick) {
        chosen.add(c.id);
        selected.add(w.id);
      }
    }
  }
  const queue = [...chosen];
  while (queue.length > 0) {
    const c = all.get(queue.pop()!);
    for (const n of c?.needs ?? []) {
      if (all.has(n) && !chosen.has(n)) {
        chosen.add(n);
        queue.push(n);
      }
    }
  }
  const cases = [...all.values()].filter((c) => chosen.has(c.id));
  // The limits are reported whenever a chosen case measured one.
  if (cases.some((c) => c.workload === 'L')) selected.add('L');
  return { cases, selected };
}

export interface Outcome {
  runs: Map<string, CaseRun[]>;
  medians: Map<string, CaseRun>;
  /** Cases that threw, with the error message (their workload reports them unmeasured). */
  failures: Map<string, string>;
}

/** Runs `reps` interleaved repetitions of `cases`. */
export async function runCases(ctx: Context, cases: readonly CaseDef[], reps: number): Promise<Outcome> {
  const runs = new Map<string, CaseRun[]>(cases.map((c) => [c.id, []]));
  const failures = new Map<string, string>();
  const total = cases.length * reps;
  let done = 0;
  for (let rep = 0; rep < reps; rep++) {
    const order = rep % 2 === 0 ? cases : [...cases].reverse();
    for (const c of order) {
      if (failures.has(c.id)) continue;
      ctx.progress(`[${done + 1}/${total}] rep ${rep + 1}/${reps} ${c.id}`);
      try {
        runs.get(c.id)!.push(await c.run(ctx));
      } catch (error) {
        const message = error instanceof Error ? error.message.split('\n')[0]! : String(error);
        failures.set(c.id, message);
        ctx.warnings.push(`${c.id} failed: ${message}`);
      }
      done++;
    }
  }
  const medians = new Map<string, CaseRun>();
  for (const [id, list] of runs) if (list.length > 0) medians.set(id, medianOf(list));
  return { runs, medians, failures };
}
