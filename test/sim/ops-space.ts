/**
 * Space management as simulator operations: policy changes (setPolicy),
 * container removal (removeContainers), and handling the log's tail-advance
 * requests (`'advance-tail'`: the instance listens from its open, checks
 * each request, and a `tail` operation answers the newest by moving the
 * base to it). Appends waiting for room come with areas created with
 * logFullTimeoutMs (ops-write.ts; the model's rules for them are in
 * model.ts).
 * @module
 */
import type { AdvanceTailEvent } from '../../lib/log/space-manager.ts';
import type { LogPolicy } from '../../lib/log/policy.ts';
import type { Env } from './env.ts';
import { ARGUMENT_CODES, codeOf, track, type Instance } from './instance.ts';
import { fmt } from './model.ts';
import { advance, type Outcome } from './ops-write.ts';
import { archive } from './ops-archive.ts';
import type { OpBody } from './plan.ts';

type Body<K extends OpBody['k']> = Extract<OpBody, { k: K }>;

/** What the instance keeps of the space calls and requests. */
export interface SpaceState {
  /** Space calls (setPolicy, removeContainers, addContainers) in flight: the policy and count may change under a call. */
  inFlight: number;
  /** Space calls made so far (one made while another ran makes the other's before/after unreliable). */
  made: number;
  /** The newest tail-advance request not answered yet. */
  request: AdvanceTailEvent | undefined;
  requests: number;
}

const states = new WeakMap<Instance, SpaceState>();

export function spaceOf(inst: Instance): SpaceState {
  let state = states.get(inst);
  if (state === undefined) {
    state = { inFlight: 0, made: 0, request: undefined, requests: 0 };
    states.set(inst, state);
  }
  return state;
}

/** Listens for the instance's tail-advance requests (at open) and checks each. */
export function listenForTail(inst: Instance): void {
  const state = spaceOf(inst);
  inst.log.on('advance-tail', (event) => {
    state.requests++;
    state.request = event;
    const report = inst.model.report;
    if (event.reason !== 'log-tail' && event.reason !== 'log-full')
      report.add('tail-request', `advance-tail with reason ${String(event.reason)}`);
    if (event.targetLsn < event.baseLsn && event.heldBy !== 'archive-tail')
      report.add('tail-request', `advance-tail asks for ${fmt(event.targetLsn)}, below its base ${fmt(event.baseLsn)}`);
    if (event.targetLsn < event.archiveTailLsn && event.heldBy === 'archive-tail')
      report.add('tail-request', `advance-tail asks for ${fmt(event.targetLsn)}, below the archive tail`);
    if (event.baseLsn < inst.model.ackedBase)
      report.add('tail-request', `advance-tail names base ${fmt(event.baseLsn)}, older than the acknowledged one`);
    if (event.currentAvailable < 0 || event.currentAvailable > event.totalAvailable)
      report.add('tail-request', `advance-tail: ${event.currentAvailable} bytes free of ${event.totalAvailable}`);
  });
}

/** Answers the newest tail-advance request: the base moves to the first known record at or after its target. */
export function tail(env: Env, op: Body<'tail'>): Outcome {
  const state = spaceOf(env.inst);
  const request = state.request;
  if (request === undefined) return Promise.resolve('no request');
  state.request = undefined;
  const lsns = env.model.lsns;
  const target = lsns.find((l) => l >= request.targetLsn) ?? lsns[lsns.length - 1];
  if (target === undefined) return Promise.resolve('no record');
  const moved = advance(env, { k: 'advance', area: op.area, target: 0 }, target);
  if (request.heldBy !== 'archive-tail') return moved;
  // The archive tail holds the space: archive (nothing to copy here) and move it too.
  const tailMoved = archive(env, {
    k: 'archive',
    target: lsns.indexOf(target) / lsns.length,
    prepare: false,
    hold: false,
  });
  return Promise.all([moved, tailMoved]).then(([a, b]) => a ?? b);
}

/** The policy fields an op sets: valid, or one out of range on purpose. */
function policyOf(op: Body<'policy'>): Partial<LogPolicy> {
  return { ...op.fields } as Partial<LogPolicy>;
}

/** log.setPolicy(fields): typed refusals only; once it resolves, log.policy() holds the fields (unless raced). */
export function setPolicy(env: Env, op: Body<'policy'>): Outcome {
  const { inst, model } = env;
  const state = spaceOf(inst);
  const fields = policyOf(op);
  const alone = state.inFlight === 0;
  const made = ++state.made;
  const contradictory =
    fields.minContainers !== undefined &&
    fields.maxContainers !== undefined &&
    fields.minContainers > fields.maxContainers;
  const code: { value: string | undefined } = { value: undefined };
  state.inFlight++;
  const { done } = track(inst, env.tracker, `setPolicy ${JSON.stringify(fields)}`, () => inst.log.setPolicy(fields), {
    allowed: {
      codes: [...(op.bad ? ARGUMENT_CODES : []), 'ERR_CLFS_POLICY_INVALID', 'ERR_CLFS_POLICY_CONFLICT'],
    },
    ok: (_, call) => {
      state.inFlight--;
      if (op.bad) model.report.add('accepted', `${call.label} accepted a field out of range`);
      if (contradictory) model.report.add('accepted', `${call.label} accepted minContainers above maxContainers`);
      if (!alone || state.inFlight > 0 || state.made !== made || inst.closedAt !== undefined) return;
      const now = inst.log.policy();
      for (const [key, value] of Object.entries(fields)) {
        if (now[key as keyof LogPolicy] !== value)
          model.report.add(
            'policy',
            `${call.label} resolved, but log.policy().${key} is ${String(now[key as keyof LogPolicy])}`,
          );
      }
      const count = inst.log.information().totalContainers;
      if (count < now.minContainers || count > now.maxContainers)
        model.report.add(
          'policy',
          `${call.label}: ${count} containers, outside [${now.minContainers}, ${now.maxContainers}]`,
        );
    },
    failed: (error) => {
      state.inFlight--;
      code.value = codeOf(error);
    },
  });
  return done.then(() => code.value);
}

/** log.removeContainers(count): refused typed (active, below the minimum) or done; records are the crash checks' business. */
export function removeContainers(env: Env, op: Body<'removeContainers'>): Outcome {
  const { inst, model } = env;
  const state = spaceOf(inst);
  let before: number | undefined;
  try {
    before = inst.log.information().totalContainers;
  } catch {
    before = undefined;
  }
  const code: { value: string | undefined } = { value: undefined };
  const alone = state.inFlight === 0;
  const made = ++state.made;
  state.inFlight++;
  const { done } = track(inst, env.tracker, `removeContainers ${op.count}`, () => inst.log.removeContainers(op.count), {
    allowed: { codes: ['ERR_CLFS_CONTAINER_ACTIVE', 'ERR_CLFS_POLICY_CONFLICT'] },
    ok: (_, call) => {
      state.inFlight--;
      if (inst.closedAt !== undefined) return;
      const policy = inst.log.policy();
      const after = inst.log.information().totalContainers;
      if (after < policy.minContainers)
        model.report.add('policy', `${call.label}: ${after} containers, below minContainers ${policy.minContainers}`);
      // Growth, and autoShrink after a base move, change the count too.
      const raced = !alone || state.inFlight > 0 || state.made !== made || policy.autoGrow || policy.autoShrink > 0;
      if (!raced && before !== undefined && after !== before - op.count)
        model.report.add('policy', `${call.label}: ${before} containers before, ${after} after`);
    },
    failed: (error) => {
      state.inFlight--;
      code.value = codeOf(error);
    },
  });
  return done.then(() => code.value);
}
