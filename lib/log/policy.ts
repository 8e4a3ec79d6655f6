/**
 * The log's policy (CLFS's log policies, CLFS_MGMT_POLICY): how many
 * containers it may have, how it grows and shrinks, and when it asks its
 * clients to move their base. Pure: the checks and the defaults; the
 * base manager applies it, the metadata persists it (lib/format/metadata.ts).
 * @module
 */
import { ClfsError, invalidArgType } from '../errors.ts';
import { MAX_CONTAINERS, type LogPolicy } from '../format/metadata.ts';
import { checkBoolean, checkInteger, checkOptions } from '../validate.ts';

export type { LogPolicy };

/** The policy of a log created without one (CLFS's defaults, autoGrow off, no tail requests). */
export const DEFAULT_POLICY: Readonly<LogPolicy> = Object.freeze({
  maxContainers: MAX_CONTAINERS,
  minContainers: 2,
  growthRate: 1,
  autoGrow: false,
  autoShrink: 0,
  logTail: 0,
});

const FIELDS = ['maxContainers', 'minContainers', 'growthRate', 'autoGrow', 'autoShrink', 'logTail'] as const;

/**
 * `update` (checked field by field: ERR_INVALID_ARG_TYPE, ERR_OUT_OF_RANGE)
 * over `current`; ERR_CLFS_POLICY_INVALID if the result contradicts itself
 * (minContainers above maxContainers). `name` prefixes argument names.
 */
export function resolvePolicy(name: string, update: Partial<LogPolicy> | undefined, current: LogPolicy): LogPolicy {
  const o = checkOptions(name, update, FIELDS);
  const field = (key: (typeof FIELDS)[number], min: number, max: number): number =>
    o[key] === undefined ? (current[key] as number) : checkInteger(`${name}.${key}`, o[key], min, max);
  const policy: LogPolicy = {
    maxContainers: field('maxContainers', 2, MAX_CONTAINERS),
    minContainers: field('minContainers', 2, MAX_CONTAINERS),
    growthRate: field('growthRate', 1, MAX_CONTAINERS),
    autoGrow: o.autoGrow === undefined ? current.autoGrow : checkBoolean(`${name}.autoGrow`, o.autoGrow),
    autoShrink: field('autoShrink', 0, 100),
    logTail: field('logTail', 0, 100),
  };
  if (policy.minContainers > policy.maxContainers) {
    throw new ClfsError(
      'ERR_CLFS_POLICY_INVALID',
      `${name}: minContainers (${policy.minContainers}) is above maxContainers (${policy.maxContainers})`,
      { policy },
    );
  }
  return policy;
}

/** The policy `Log.create`'s older `autoGrow` option stands for (merged under `policy`). */
export function autoGrowPolicy(autoGrow: unknown): Partial<LogPolicy> {
  if (autoGrow === undefined || autoGrow === false) return {};
  if (autoGrow === true) return { autoGrow: true };
  if (autoGrow !== null && typeof autoGrow === 'object') {
    const max = (autoGrow as { maxContainers?: unknown }).maxContainers;
    return { autoGrow: true, maxContainers: checkInteger('options.autoGrow.maxContainers', max, 2, MAX_CONTAINERS) };
  }
  throw invalidArgType('options.autoGrow', 'a boolean or { maxContainers }', autoGrow);
}

/**
 * ERR_CLFS_POLICY_CONFLICT unless `count` containers lie in the policy's
 * [minContainers, maxContainers]: the log always does.
 */
export function checkCount(policy: LogPolicy, count: number, what: string): void {
  if (count < policy.minContainers || count > policy.maxContainers) {
    throw new ClfsError(
      'ERR_CLFS_POLICY_CONFLICT',
      `${what}: the log would have ${count} containers, outside its policy's [minContainers ${policy.minContainers}, maxContainers ${policy.maxContainers}]`,
      { count, policy },
    );
  }
}

/** How many containers growth adds now: growthRate, capped at maxContainers (0: none). */
export function growthStep(policy: LogPolicy, count: number): number {
  if (!policy.autoGrow) return 0;
  return Math.max(0, Math.min(policy.growthRate, policy.maxContainers - count));
}
