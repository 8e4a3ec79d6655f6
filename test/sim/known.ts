/**
 * Defects in lib/ the simulator finds that are not fixed yet on this
 * branch, by the kind of violation that shows each (and the kinds that
 * follow from it in the same run). test/sim/sim.test.ts tolerates them, so
 * that `npm test` stays green until the fixes land; CLFS_SIM_STRICT=1
 * tolerates nothing. When a fix lands, delete its entry: its regression
 * (test/sim/regressions/) and the fixed sample then guard it.
 * @module
 */

export interface KnownDefect {
  /** What is wrong, in one line (the issue or review item it is). */
  defect: string;
  /** Kinds that follow from it in the same run, tolerated only alongside it. */
  consequences?: readonly string[];
}

export const KNOWN_OPEN: Readonly<Record<string, KnownDefect>> = {};

/** The violations of a run that are not explained by a known open defect (all of them when strict). */
export function unexplained<V extends { kind: string }>(violations: readonly V[], strict: boolean): V[] {
  if (strict) return [...violations];
  const open = new Set(violations.map((v) => v.kind).filter((k) => KNOWN_OPEN[k] !== undefined));
  const tolerated = new Set<string>(open);
  for (const kind of open) for (const c of KNOWN_OPEN[kind]!.consequences ?? []) tolerated.add(c);
  return violations.filter((v) => !tolerated.has(v.kind));
}
