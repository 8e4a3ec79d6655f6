/**
 * Shrinking a failing plan: while it still fails with the same kind of
 * violation, drop operations (first the tail, then chunks of halving size,
 * then one at a time), make the remaining ones plainer (no waiting, no
 * gaps, smaller records, no flags), and move the configuration away from
 * its extremes (fewer areas and containers, no faults, no fast-forward,
 * 'dsync'). Each try is one simulation; the budget bounds them.
 * @module
 */
import { simulate, type SimResult } from './driver.ts';
import type { Op, Plan } from './plan.ts';

export interface ShrinkOptions {
  /** The violation kind that must still show. */
  kind: string;
  /** Most simulations to try. */
  maxRuns?: number;
  /** Wall-clock budget in ms. */
  maxMs?: number;
  onProgress?: (plan: Plan, runs: number) => void;
}

export interface Shrunk {
  plan: Plan;
  result: SimResult;
  runs: number;
}

const clone = (plan: Plan): Plan => JSON.parse(JSON.stringify(plan)) as Plan;

/** Plainer versions of one operation (each a single change). */
function simpler(op: Op): Op[] {
  const out: Op[] = [];
  const set = (patch: Partial<Record<string, unknown>>): void => {
    const candidate = { ...op, ...patch } as Op;
    if (JSON.stringify(candidate) !== JSON.stringify(op)) out.push(candidate);
  };
  if (op.wait) set({ wait: false });
  if (op.gap > 0) set({ gap: 0 });
  if (op.ticks > 0) set({ ticks: 0 });
  if ('size' in op && typeof op.size === 'number' && op.size > 16) set({ size: Math.floor(op.size / 4) });
  if ('forceFlush' in op && op.forceFlush) set({ forceFlush: false });
  if ('forceAppend' in op && op.forceAppend) set({ forceAppend: false });
  if ('count' in op && typeof op.count === 'number' && op.count > 1) set({ count: Math.ceil(op.count / 2) });
  if ('max' in op && op.max > 1) set({ max: Math.ceil(op.max / 2) });
  if ('nexts' in op && op.nexts > 0) set({ nexts: 0 });
  if ('pieces' in op && op.pieces > 1) set({ pieces: 1 });
  if ('align' in op && typeof op.align === 'number' && op.align > 1) set({ align: 1 });
  if ('res' in op && op.res.length > 1) set({ res: op.res.slice(0, 1) });
  if ('prev' in op && op.prev !== -1) set({ prev: -1 });
  if ('undo' in op && op.undo !== -1) set({ undo: -1 });
  return out;
}

/** Plainer configurations (each a single change). */
function simplerConfigs(plan: Plan): Plan[] {
  const c = plan.config;
  const out: Plan[] = [];
  const with_ = (patch: Partial<Plan['config']>): void => {
    out.push({ ...clone(plan), config: { ...clone(plan).config, ...patch } });
  };
  if (c.faults.length > 0) with_({ faults: [] });
  for (let i = 0; i < c.areas.length && c.areas.length > 1; i++) with_({ areas: c.areas.filter((_, j) => j !== i) });
  if (c.containers > 2) with_({ containers: 2 });
  if (c.maxContainers > 0) with_({ maxContainers: 0 });
  if (c.startOffset > 0) with_({ startOffset: 0 });
  if (c.durability !== 'dsync') with_({ durability: 'dsync' });
  c.areas.forEach((a, i) => {
    const areas = clone(plan).config.areas;
    if (a.allocator) {
      areas[i] = { ...a, allocator: false };
      with_({ areas });
    }
  });
  return out;
}

export async function shrink(plan: Plan, options: ShrinkOptions): Promise<Shrunk> {
  const maxRuns = options.maxRuns ?? 400;
  const deadline = Date.now() + (options.maxMs ?? 120_000);
  let runs = 0;
  let best = clone(plan);
  let bestResult = await simulate(best);
  const fails = async (candidate: Plan): Promise<boolean> => {
    if (runs >= maxRuns || Date.now() > deadline) return false;
    runs++;
    const result = await simulate(candidate);
    if (!result.violations.some((v) => v.kind === options.kind)) return false;
    best = candidate;
    bestResult = result;
    options.onProgress?.(best, runs);
    return true;
  };
  const withOps = (ops: Op[]): Plan => ({ ...clone(best), ops });

  // The shortest prefix that still fails (the end of a run checks a lot).
  let low = 0;
  let high = best.ops.length;
  while (low < high && runs < maxRuns) {
    const mid = Math.floor((low + high) / 2);
    if (await fails(withOps(best.ops.slice(0, mid)))) high = mid;
    else low = mid + 1;
  }
  // Chunks, halving.
  for (let size = Math.max(1, Math.floor(best.ops.length / 2)); size >= 1; size = Math.floor(size / 2)) {
    for (let at = 0; at < best.ops.length;) {
      const ops = [...best.ops.slice(0, at), ...best.ops.slice(at + size)];
      if (!(await fails(withOps(ops)))) at += size;
    }
    if (size === 1) break;
  }
  // Plainer operations and configuration, until nothing more helps.
  for (let changed = true; changed && runs < maxRuns && Date.now() <= deadline;) {
    changed = false;
    for (const candidate of simplerConfigs(best)) if (await fails(candidate)) changed = true;
    for (let i = 0; i < best.ops.length; i++) {
      for (const op of simpler(best.ops[i]!)) {
        const ops = [...best.ops];
        ops[i] = op;
        if (await fails(withOps(ops))) {
          changed = true;
          break;
        }
      }
    }
  }
  return { plan: best, result: bestResult, runs };
}
