/**
 * Operations that read: ReadLogRecord and context.next() in every mode and
 * type filter (with userLsn), records() iteration, ReadLogRestartArea and
 * ReadPreviousLogRestartArea, terminate. What a read may return follows
 * from the model: a record read must be the model's, byte-exact (or one
 * whose call has not told its LSN yet, checked when the instance ends or
 * before a truncation); forward reads skip no known record; backward reads
 * follow the chain fields the model holds; below the base is
 * ERR_CLFS_START_OF_LOG; more contexts than read buffers is
 * ERR_CLFS_BLOCKS_EXHAUSTED, and only then.
 * @module
 */
import type { LogRecord, ReadContext } from '../../lib/log/read/read-context.ts';
import { Lsn } from '../../lib/lsn.ts';
import { noRecordLsn, resolvePick } from './args.ts';
import type { Env } from './env.ts';
import { ARGUMENT_CODES, codeOf, track, type Allowed, type AreaHandle, type ContextHandle } from './instance.ts';
import { UNKNOWN, fmt, sameBytes, scribbled, type Model, type ModelRecord } from './model.ts';
import { NONE, type Filter, type Mode, type OpBody } from './plan.ts';
import type { Outcome } from './ops-write.ts';

type Body<K extends OpBody['k']> = Extract<OpBody, { k: K }>;

const matches = (filter: Filter, type: 'data' | 'restart'): boolean => filter === 'client' || filter === type;

function copyOf(r: LogRecord): ModelRecord {
  return { lsn: r.lsn, type: r.type, data: r.data.slice(), undoNextLsn: r.undoNextLsn, previousLsn: r.previousLsn };
}

/**
 * Compares a record read with the model (unknown LSNs are kept for later);
 * returns what the model now knows of it. `raced`: the read raced a
 * truncation, and may have found a record it dropped where the model now
 * knows one appended after it (kept for later too).
 */
export function checkRead(env: Env, r: ModelRecord, label: string, raced = false): ModelRecord {
  const known = env.model.records.get(r.lsn);
  const racing = raced || env.model.truncating;
  if (known === undefined || (racing && !sameRecord(known, r))) {
    env.observations.push({ record: r, label, ...(racing ? { raced: true } : {}) });
    return r;
  }
  if (known.previousLsn === UNKNOWN && known.type === 'restart') known.previousLsn = r.previousLsn;
  if (known.type === r.type && scribbled(r.data) && !scribbled(known.data)) {
    env.model.report.add(
      'buffer-read-late',
      `${label}: record ${fmt(r.lsn)} reads as the caller's buffer after the call returned: the library read the entries late`,
    );
  } else if (
    known.type !== r.type ||
    !sameBytes(known.data, r.data) ||
    known.undoNextLsn !== r.undoNextLsn ||
    known.previousLsn !== r.previousLsn
  ) {
    env.model.report.add(
      'read-differs',
      `${label}: record ${fmt(r.lsn)} read as ${r.type} ${r.data.byteLength} bytes (prev ${fmt(r.previousLsn)}), appended as ${known.type} ${known.data.byteLength} bytes (prev ${fmt(known.previousLsn)})${sameBytes(known.data, r.data) ? '' : ', other bytes'}`,
    );
  }
  return known;
}

const sameRecord = (a: ModelRecord, b: ModelRecord): boolean =>
  a.type === b.type &&
  sameBytes(a.data, b.data) &&
  a.undoNextLsn === b.undoNextLsn &&
  (a.previousLsn === UNKNOWN || a.previousLsn === b.previousLsn);

/** What a backward step may give: a record, the end, or (near or below the base) ERR_CLFS_START_OF_LOG. */
interface Expectation {
  record?: bigint;
  end?: boolean;
  startOfLog: 'no' | 'may' | 'must';
  /** The chain leads where the model knows no record: anything typed goes. */
  lenient?: boolean;
}

function expectBackward(model: Model, first: bigint, mode: Mode, filter: Filter, ackedBaseAtCall: bigint): Expectation {
  let target = first;
  let startOfLog: Expectation['startOfLog'] = 'no';
  for (let guard = 0; guard < 100_000; guard++) {
    if (target === Lsn.INVALID) return { end: true, startOfLog };
    if (target === UNKNOWN) return { startOfLog, lenient: true };
    if (target < ackedBaseAtCall) return { startOfLog: 'must' };
    if (target < model.maxPossibleBase) startOfLog = 'may';
    const r = model.records.get(target);
    if (r === undefined) return { startOfLog, lenient: true };
    if (matches(filter, r.type)) return { record: target, startOfLog };
    target = mode === 'previous' ? r.previousLsn : r.undoNextLsn;
  }
  return { startOfLog, lenient: true };
}

/** Checks a backward step's record (or null) against the expectation. */
function checkBackward(env: Env, expect: Expectation, got: ModelRecord | null, label: string): void {
  const report = env.model.report;
  if (expect.lenient === true) return;
  if (expect.startOfLog === 'must') {
    report.add(
      'read-below-base',
      `${label} returned ${got === null ? 'null' : fmt(got.lsn)}; the chain leads below the base`,
    );
  } else if (expect.end === true && got !== null) {
    report.add('read-chain', `${label} returned ${fmt(got.lsn)}; the chain had ended`);
  } else if (expect.record !== undefined && got?.lsn !== expect.record) {
    report.add(
      'read-chain',
      `${label} returned ${got === null ? 'null' : fmt(got.lsn)}; the chain leads to ${fmt(expect.record)}`,
    );
  }
}

/** Checks a forward step: the next record of the filter's type, skipping none the model knows. */
function checkForward(
  env: Env,
  from: bigint,
  got: ModelRecord | null,
  filter: Filter,
  newestAtCall: bigint,
  label: string,
): void {
  const model = env.model;
  const floor = model.maxPossibleBase;
  if (got !== null) {
    if (got.lsn <= from) model.report.add('read-order', `${label} went from ${fmt(from)} back to ${fmt(got.lsn)}`);
    if (!matches(filter, got.type))
      model.report.add('read-filter', `${label} returned a ${got.type} record through a '${filter}' filter`);
    const skipped = model.recordsBetween(from, got.lsn, filter).filter((r) => r.lsn >= floor);
    if (skipped.length > 0)
      model.report.add(
        'read-skipped',
        `${label} went from ${fmt(from)} to ${fmt(got.lsn)}, skipping ${fmt(skipped[0]!.lsn)}`,
      );
  } else {
    const missed = model.recordsBetween(from, newestAtCall + 1n, filter).filter((r) => r.lsn >= floor);
    if (missed.length > 0)
      model.report.add('read-skipped', `${label} ended after ${fmt(from)}, before ${fmt(missed[0]!.lsn)}`);
  }
}

function release(area: AreaHandle, handle: ContextHandle): void {
  if (handle.terminated) return;
  handle.terminated = true;
  // A read in progress keeps the context's buffer until it ends (ReadContext.terminate).
  if (handle.busy === 0) area.readers--;
  else handle.bufferUntilIdle = true;
  for (const a of handle.pending) a.codes.push('ERR_CLFS_CLOSED');
  handle.context.terminate();
}

/** One next() (or readPreviousRestartArea()) on a held context. */
export function next(env: Env, handle: ContextHandle, userPick: number): Outcome {
  const { model } = env;
  const cur = handle.current;
  const olders = model.lsns.filter((l) => l < cur.lsn);
  // readPreviousRestartArea() takes no userLsn.
  const user =
    userPick === NONE || olders.length === 0 || handle.restart
      ? undefined
      : olders[Math.floor(userPick * olders.length)];
  const badUser = user !== undefined && handle.mode === 'forward';
  const busy = handle.busy > 0;
  const newestAtCall = model.newest;
  const expect =
    handle.mode === 'forward' || badUser
      ? undefined
      : expectBackward(
          model,
          user ?? (handle.mode === 'previous' ? cur.previousLsn : cur.undoNextLsn),
          handle.mode,
          handle.filter,
          model.ackedBase,
        );
  const endedBefore = handle.ended && user === undefined;
  const terminatedAtCall = handle.terminated;
  const allowed: Allowed = {
    codes: [
      ...(busy ? ['ERR_CLFS_CONTEXT_BUSY'] : []),
      ...(badUser ? ARGUMENT_CODES : []),
      ...(handle.terminated ? ['ERR_CLFS_CLOSED'] : []),
      // With another next() pending, the context may have moved before this one runs (toward the base).
      ...(expect === undefined ||
      busy ||
      expect.startOfLog !== 'no' ||
      expect.lenient === true ||
      model.maxPossibleBase > cur.lsn
        ? ['ERR_CLFS_START_OF_LOG']
        : []),
      ...(expect?.lenient === true ? ['ERR_CLFS_INVALID_LSN'] : []),
    ],
    read: true,
    area: handle.area,
    also: env.blockTooLarge(handle.area),
  };
  const label = `${handle.restart ? 'readPrevious' : 'next'} ${handle.mode}/${handle.filter} from ${fmt(cur.lsn)}${user !== undefined ? ` user ${fmt(user)}` : ''}`;
  const code: { value: string | undefined } = { value: undefined };
  handle.busy++;
  handle.pending.push(allowed);
  const settle = (): void => {
    handle.busy--;
    handle.pending.splice(handle.pending.indexOf(allowed), 1);
    if (handle.busy === 0 && handle.bufferUntilIdle === true) {
      handle.bufferUntilIdle = false;
      handle.area.readers--;
    }
  };
  const make = handle.restart
    ? () =>
        handle.context.readPreviousRestartArea().then((r) =>
          r === null
            ? null
            : ({
                lsn: r.lsn,
                type: 'restart',
                data: r.data,
                undoNextLsn: Lsn.INVALID,
                previousLsn: UNKNOWN,
              } as LogRecord),
        )
    : () => handle.context.next(user === undefined ? undefined : { userLsn: user });
  const { done } = track(env.inst, env.tracker, label, make, {
    allowed,
    ok: (r, call) => {
      settle();
      const report = model.report;
      // (A next() made while another is pending may still succeed: the library
      // frees the context a few microtasks before the caller hears of it.)
      if (terminatedAtCall) report.add('accepted', `${call.label} succeeded on a terminated context`);
      if (badUser) report.add('accepted', `${call.label}: userLsn on a forward context was accepted`);
      let got = r === null ? null : copyOf(r);
      if (got !== null && handle.restart) {
        // readPreviousRestartArea gives no chain fields: take the model's (or learn them on the next read).
        const known = model.records.get(got.lsn);
        got = { ...got, previousLsn: known?.previousLsn ?? UNKNOWN };
      }
      const raced = call.raced === true || handle.raced === true;
      // A backward context that ended stays at its end; a forward one reads
      // on once more is appended (a truncation that dropped its record
      // ends it for good: the raced case below).
      if (endedBefore && got !== null && !raced && handle.mode !== 'forward')
        report.add('read-chain', `${call.label} returned ${fmt(got.lsn)} after the context had ended`);
      // An ended context stays at its end (checked above). With another
      // next() pending when this one was made, the context may have moved
      // before it ran; racing a truncation, it may have ended or gone on
      // past its target: only the record itself is checked.
      if (endedBefore || busy || raced) {
        if (got !== null) handle.current = checkRead(env, got, call.label, raced);
        else if (raced) handle.ended = true;
        return;
      }
      if (handle.mode === 'forward') checkForward(env, cur.lsn, got, handle.filter, newestAtCall, call.label);
      else if (expect !== undefined) checkBackward(env, expect, got, call.label);
      if (got === null) handle.ended = handle.mode !== 'forward';
      else {
        handle.ended = false;
        handle.current = checkRead(env, got, call.label);
      }
    },
    failed: (error) => {
      settle();
      code.value = codeOf(error);
    },
  });
  return done.then(() => code.value);
}

/** A held context's area went away or the op is done with it. */
export function terminate(env: Env, op: Body<'terminate'>): Outcome {
  const handle = env.context(op.ctx);
  if (handle === undefined) return Promise.resolve('no context');
  env.tracker.trace(`terminate ${fmt(handle.current.lsn)}`);
  release(handle.area, handle);
  return Promise.resolve(undefined);
}

export function nextOp(env: Env, op: Body<'next'>): Outcome {
  const handle = env.context(op.ctx);
  if (handle === undefined) return Promise.resolve('no context');
  let chain: Outcome = next(env, handle, op.user);
  for (let i = 1; i < op.count; i++) chain = chain.then(() => next(env, handle, NONE));
  return chain;
}

function holdContext(
  env: Env,
  area: AreaHandle,
  context: ReadContext,
  mode: Mode,
  filter: Filter,
  current: ModelRecord,
  restart: boolean,
): ContextHandle {
  const handle: ContextHandle = {
    context,
    area,
    mode,
    filter,
    restart,
    current,
    busy: 0,
    ended: false,
    terminated: false,
    pending: [],
  };
  env.inst.contexts.push(handle);
  return handle;
}

export function read(env: Env, op: Body<'read'>): Outcome {
  const area = env.area(op.area);
  if (area === undefined) return Promise.resolve('no area');
  const { model } = env;
  const start = resolvePick(op.start, model, env.random) ?? noRecordLsn(model);
  const record = model.records.get(start);
  const last = env.lastLsn();
  const below = start < model.ackedBase;
  const exists = record !== undefined && start <= last;
  const typeOk = record !== undefined && matches(op.type, record.type);
  const why = below
    ? 'it starts below the base'
    : !exists
      ? 'no record has that LSN'
      : !typeOk
        ? `the record is not of type ${op.type}`
        : undefined;
  const allowed: Allowed = {
    codes: [
      ...(start < model.maxPossibleBase ? ['ERR_CLFS_START_OF_LOG'] : []),
      ...(!exists || !typeOk ? ['ERR_CLFS_INVALID_LSN'] : []),
      ...(env.exhausted(area) ? ['ERR_CLFS_BLOCKS_EXHAUSTED'] : []),
    ],
    read: true,
    area,
    also: env.blockTooLarge(area),
  };
  area.readers++;
  const code: { value: string | undefined } = { value: undefined };
  let handle: ContextHandle | undefined;
  const label = `read ${fmt(start)} ${op.mode}/${op.type}${op.view ? ' view' : ''} a${area.index}`;
  const { done } = track(
    env.inst,
    env.tracker,
    label,
    () => area.area.readLogRecord(start, op.mode, { type: op.type, ...(op.view ? { view: true } : {}) }),
    {
      allowed,
      ok: (context, call) => {
        const raced = call.raced === true;
        if (why !== undefined && !raced) model.report.add('accepted', `${call.label} succeeded, but ${why}`);
        const got = copyOf(context.record);
        if (got.lsn !== start) model.report.add('read-wrong', `${call.label} is on ${fmt(got.lsn)}`);
        handle = holdContext(env, area, context, op.mode, op.type, checkRead(env, got, call.label, raced), false);
        if (area.closedAt !== undefined) release(area, handle);
      },
      failed: (error) => {
        area.readers--;
        code.value = codeOf(error);
      },
    },
  );
  return done.then(async () => {
    if (handle === undefined) return code.value;
    for (let i = 0; i < op.nexts && !handle.terminated; i++) await next(env, handle, i === 0 ? op.user : NONE);
    if (!op.hold) release(area, handle);
    return code.value;
  });
}

export function readRestart(env: Env, op: Body<'readRestart'>): Outcome {
  const area = env.area(op.area);
  if (area === undefined) return Promise.resolve('no area');
  const { model } = env;
  const atCall = model.ackedRestart;
  const any =
    atCall !== Lsn.INVALID || model.restartLsns().length > 0 || model.openAttempts().some((a) => a.type === 'restart');
  const allowed: Allowed = {
    codes: [
      ...(!any || atCall === Lsn.INVALID ? ['ERR_CLFS_NO_RESTART'] : []),
      'ERR_CLFS_START_OF_LOG',
      ...(env.exhausted(area) ? ['ERR_CLFS_BLOCKS_EXHAUSTED'] : []),
    ],
    read: true,
    area,
    also: env.blockTooLarge(area),
  };
  area.readers++;
  const code: { value: string | undefined } = { value: undefined };
  let handle: ContextHandle | undefined;
  const { done } = track(env.inst, env.tracker, `readRestart a${area.index}`, () => area.area.readRestartArea(), {
    allowed,
    ok: ({ data, lsn, context }, call) => {
      if (!any) model.report.add('accepted', `${call.label} found restart area ${fmt(lsn)}; none was written`);
      if (atCall !== Lsn.INVALID && lsn < atCall) {
        model.report.add(
          'restart-old',
          `${call.label} returned ${fmt(lsn)}, older than the acknowledged ${fmt(atCall)}`,
        );
      }
      if (context.record.lsn !== lsn || !sameBytes(context.record.data, data)) {
        model.report.add('read-wrong', `${call.label}: its context is on ${fmt(context.record.lsn)}, not ${fmt(lsn)}`);
      }
      const got = copyOf(context.record);
      handle = holdContext(env, area, context, 'previous', 'restart', checkRead(env, got, call.label), true);
      if (area.closedAt !== undefined) release(area, handle);
    },
    failed: (error, call) => {
      area.readers--;
      code.value = codeOf(error);
      if (code.value === 'ERR_CLFS_NO_RESTART' && atCall !== Lsn.INVALID) {
        model.report.add(
          'restart-lost',
          `${call.label}: ERR_CLFS_NO_RESTART, but restart area ${fmt(atCall)} was acknowledged`,
        );
      }
    },
  });
  return done.then(async () => {
    if (handle === undefined) return code.value;
    for (let i = 0; i < op.prevs && !handle.terminated && !handle.ended; i++) await next(env, handle, NONE);
    if (!op.hold) release(area, handle);
    return code.value;
  });
}

export function records(env: Env, op: Body<'records'>): Outcome {
  const area = env.area(op.area);
  if (area === undefined) return Promise.resolve('no area');
  const { model } = env;
  const from = op.from === NONE ? undefined : (resolvePick(op.from, model, env.random) ?? noRecordLsn(model));
  const newestAtCall = model.newest;
  const ackedBaseAtCall = model.ackedBase;
  const fromKnown = from === undefined || model.records.has(from);
  const allowed: Allowed = {
    codes: [
      ...(from === undefined || from < model.maxPossibleBase || model.maxPossibleBase > ackedBaseAtCall
        ? ['ERR_CLFS_START_OF_LOG']
        : []),
      ...(fromKnown ? [] : ['ERR_CLFS_INVALID_LSN']),
      ...(env.exhausted(area) ? ['ERR_CLFS_BLOCKS_EXHAUSTED'] : []),
      // A base move racing the iteration.
      'ERR_CLFS_START_OF_LOG',
    ],
    read: true,
    area,
    also: env.blockTooLarge(area),
  };
  area.readers++;
  const code: { value: string | undefined } = { value: undefined };
  const label = `records ${from === undefined ? 'base' : fmt(from)} ${op.mode}/${op.type} a${area.index}`;
  const { done } = track(
    env.inst,
    env.tracker,
    label,
    async () => {
      const out: ModelRecord[] = [];
      for await (const r of area.area.records(from, op.mode, { type: op.type })) {
        out.push(copyOf(r));
        if (out.length >= op.limit) break;
      }
      return out;
    },
    {
      allowed,
      ok: (list, call) => {
        area.readers--;
        const raced = call.raced === true;
        if (from !== undefined && from < ackedBaseAtCall && list.length > 0) {
          model.report.add('read-below-base', `${call.label} read from below the base`);
        }
        let previous: ModelRecord | undefined;
        for (const r of list) {
          if (!matches(op.type, r.type)) model.report.add('read-filter', `${call.label} yielded a ${r.type} record`);
          if (previous !== undefined && !raced) {
            if (op.mode === 'forward') checkForward(env, previous.lsn, r, op.type, newestAtCall, call.label);
            else {
              const target = op.mode === 'previous' ? previous.previousLsn : previous.undoNextLsn;
              checkBackward(env, expectBackward(model, target, op.mode, op.type, ackedBaseAtCall), r, call.label);
            }
          }
          previous = checkRead(env, r, call.label, raced);
        }
        if (op.mode === 'forward' && from === undefined && !raced) {
          const first = list[0]?.lsn;
          const missed = model.recordsBetween(model.maxPossibleBase - 1n, first ?? newestAtCall + 1n, op.type);
          if (missed.length > 0)
            model.report.add('read-skipped', `${call.label} began at ${fmt(first)}, after ${fmt(missed[0]!.lsn)}`);
        }
      },
      failed: (error) => {
        area.readers--;
        code.value = codeOf(error);
      },
    },
  );
  return done.then(() => code.value);
}

/** Terminates every held context of an area (its close does). */
export function releaseArea(area: AreaHandle, contexts: readonly ContextHandle[]): void {
  for (const c of contexts) if (c.area === area && !c.terminated) release(area, c);
}
