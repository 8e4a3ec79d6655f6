/**
 * Operations that write: appends in the four modes, batches, reservations,
 * flushes, restart areas, base moves, and filling the log until it is
 * full. Each works out, when it is made, what the call may answer (from the
 * model and the arguments), makes it, scribbles over the caller's buffers
 * as soon as it returns, and checks the answer when it settles.
 * @module
 */
import { Lsn } from '../../lib/lsn.ts';
import { layout, noRecordLsn, resolvePick, resolveSize, scribble, split } from './args.ts';
import { maxRecordOf } from './config.ts';
import type { Env } from './env.ts';
import { ARGUMENT_CODES, codeOf, track, type AreaHandle, type Call } from './instance.ts';
import { UNKNOWN, fmt, reservedSize, type RecordOrigin, type ReservationChange } from './model.ts';
import { NONE, NO_ARGUMENT, NO_RECORD, NULL_LSN, type OpBody } from './plan.ts';

type Body<K extends OpBody['k']> = Extract<OpBody, { k: K }>;
/** An operation's outcome: undefined when it succeeded, else the error code. */
export type Outcome = Promise<string | undefined>;

/** Whether the area's appends needing new space wait for room in a full log (logFullTimeoutMs). */
function waitsForRoom(area: AreaHandle): boolean {
  return (area.config.logFullTimeoutMs ?? 0) > 0;
}

const outcome = (done: Promise<void>, code: { value: string | undefined }): Outcome => done.then(() => code.value);

/**
 * I6: after the instance fail-stopped, nothing is acknowledged until reopen:
 * a call made after the failure must reject.
 *
 * A call pending when the failure came may still resolve, when its own I/O
 * had completed first (seed 2077894257: a restart area's write, sync and
 * metadata write were done, and a later write's failure was reported in the
 * turns its resolution took to reach the caller). Which of the two came
 * first cannot be seen from here, so such a call is acknowledged like any
 * other, and I1 checks at the next reopen that what it acknowledged is
 * there: a call that acknowledged records the failure had kept from the disk
 * is caught there.
 */
function checkFailStop(env: Env, failStopped: boolean, call: Call): void {
  if (failStopped)
    env.model.report.add('I6', `${call.label} resolved (acknowledging records), made after the log fail-stopped`);
}

function mustFail(env: Env, call: Call, why: string | undefined): void {
  if (why !== undefined) env.model.report.add('accepted', `${call.label} succeeded, but ${why}`);
}

/** A chain field: an older record, none (INVALID), or on purpose a later LSN. */
function chainLsn(env: Env, pick: number): bigint {
  if (pick === NO_RECORD) return noRecordLsn(env.model);
  return resolvePick(pick, env.model, env.random) ?? Lsn.INVALID;
}

/**
 * A chain field below the base when the append takes its turn names no live
 * record: ERR_CLFS_INVALID_LSN. A base move made meanwhile (even by a later
 * call) may pass it, so that is decided when the call settles.
 */
function chainBelowBase(env: Env, ...lsns: bigint[]): (code: string) => boolean {
  return (code) =>
    code === 'ERR_CLFS_INVALID_LSN' && lsns.some((l) => l !== Lsn.INVALID && l < env.model.maxPossibleBase);
}

/** What the call-order rule needs of an area: it may wait for its own buffers outside the log's turn. */
const orderOf = (area: AreaHandle): { index: number; mayWait: boolean } => ({
  index: area.index,
  mayWait: area.config.maxWriteBuffers !== null,
});

/** Where a call's records come from, for a truncation racing it (Model.addRecord). */
const originOf = (call: Call, area: AreaHandle, waits: boolean): RecordOrigin => ({
  call: call.id,
  deferrable: waits || area.config.maxWriteBuffers !== null,
});

/** Ends a reservation-changing call's entry and folds. */
function reservationOutcome(
  env: Env,
  area: AreaHandle,
  entry: { outcome?: { ok: boolean; code: string | undefined } } | undefined,
  code: string | undefined,
): void {
  if (entry === undefined) return;
  // ERR_CLFS_TRUNCATED: the record was placed (the reservation changed), then dropped before its flush.
  entry.outcome = { ok: code === undefined || code === 'ERR_CLFS_TRUNCATED', code };
  env.settleReservations(area);
}

export function append(env: Env, op: Body<'append'>): Outcome {
  const area = env.area(op.area);
  if (area === undefined) return Promise.resolve('no area');
  const { model, config, random } = env;
  const max = maxRecordOf(area.config, config);
  const reserveOnly = op.mode === 'reserve';
  const useReservation = op.mode === 'use';
  const res = useReservation ? [] : op.res.map((r) => (r.free ? -1 : 1) * resolveSize(r.size, area, config, random));
  if (reserveOnly && res.length === 0) res.push(resolveSize('half', area, config, random) || 1);
  const data = env.payload(resolveSize(op.size, area, config, random));
  const entries = reserveOnly ? null : split(data, op.pieces, random);
  const record = entries === null ? undefined : layout(entries, op.align);
  const previousLsn = chainLsn(env, op.prev);
  const undoNextLsn = chainLsn(env, op.undo);
  const badArgs = res.some((s) => s === 0 || Math.abs(s) > max)
    ? 'a reservation size is 0 or over the largest record'
    : undefined;
  const tooLarge = record !== undefined && record.byteLength > max;
  const badChain = record !== undefined && (op.prev === NO_RECORD || op.undo === NO_RECORD);
  const options = {
    ...(res.length > 0 ? { reservations: res } : {}),
    ...(useReservation ? { useReservation: true } : {}),
    ...(op.forceAppend ? { forceAppend: true } : {}),
    ...(op.forceFlush ? { forceFlush: true } : {}),
    ...(op.prev !== NONE || random() < 0.2 ? { previousLsn } : {}),
    ...(op.undo !== NONE ? { undoNextLsn } : {}),
    ...(op.align !== 1 ? { entryAlignment: op.align } : {}),
  };
  const real = res.map((s) => Math.sign(s) * reservedSize(Math.abs(s), config.unit));
  // It may wait for room (logFullTimeoutMs) when it needs new space.
  const waits = waitsForRoom(area) && ((record !== undefined && !useReservation) || res.some((s) => s > 0));
  const knownAtCall = model.newest;
  const failStopped = env.failStopped();
  const why =
    badArgs ??
    (tooLarge
      ? `the record (${record!.byteLength} bytes) is over the largest (${max})`
      : badChain
        ? 'a chain field names no older record'
        : undefined);
  const codes = [
    ...(badArgs !== undefined ? ARGUMENT_CODES : []),
    ...(tooLarge ? ['ERR_CLFS_RECORD_TOO_LARGE'] : []),
    ...(badChain ? ['ERR_CLFS_INVALID_LSN'] : []),
    'ERR_CLFS_RESERVATION_INVALID',
    'ERR_CLFS_LOG_FULL',
  ];
  const code: { value: string | undefined } = { value: undefined };
  let entry: ReturnType<typeof model.reservationCall> | undefined;
  const label = `append ${op.mode} ${record?.byteLength ?? '-'}B res[${res.join(',')}] a${area.index}${op.forceFlush ? ' flush' : ''}`;
  const { call, done } = track(env.inst, env.tracker, label, () => area.area.reserveAndAppend(entries, options), {
    allowed: { codes, area, also: chainBelowBase(env, previousLsn, undoNextLsn), waits },
    ok: (result, call) => {
      mustFail(env, call, why);
      if (result.reservations.length !== real.length || result.reservations.some((r, i) => r !== real[i])) {
        model.report.add(
          'reservation',
          `${call.label} returned reservations [${result.reservations.join(',')}], expected [${real.join(',')}]`,
        );
      }
      if (record === undefined) {
        if (result.lsn !== undefined)
          model.report.add('accepted', `${call.label} reserved only, but returned LSN ${fmt(result.lsn)}`);
      } else if (result.lsn === undefined) {
        model.report.add('lost-call', `${call.label} appended but returned no LSN`);
      } else {
        model.attempts.delete(call.id);
        const kept = model.addRecord(
          { lsn: result.lsn, type: 'data', data: record, undoNextLsn, previousLsn },
          knownAtCall,
          call.label,
          originOf(call, area, waits),
        );
        if (kept) {
          model.appendOrder(call.id, [result.lsn], call.label, orderOf(area), waits);
          if (result.lsn > area.lastResolved) area.lastResolved = result.lsn;
        }
        if (op.forceFlush) {
          checkFailStop(env, failStopped, call);
          model.acknowledge(result.lsn, call.id);
        }
      }
      reservationOutcome(env, area, entry, undefined);
    },
    failed: (error, call) => {
      code.value = codeOf(error);
      if (code.value === 'ERR_CLFS_LOG_FULL' && useReservation) {
        model.report.add(
          'reservation-log-full',
          `${call.label}: an append into a reservation failed with ERR_CLFS_LOG_FULL`,
        );
      }
      // A forceFlush append whose flush failed was placed: it may be on disk.
      if (code.value === 'ERR_CLFS_TRUNCATED') model.droppedByTruncation(call.id);
      else if (code.value !== 'ERR_CLFS_IO_FAILED') model.attempts.delete(call.id);
      reservationOutcome(env, area, entry, code.value);
    },
  });
  if (record !== undefined) {
    model.attempts.set(call.id, [{ call: call.id, type: 'data', data: record, undoNextLsn, previousLsn }]);
  }
  if (badArgs === undefined && !tooLarge) {
    const changes: ReservationChange[] = real.map((r) =>
      r > 0 ? { kind: 'reserve', bytes: r } : { kind: 'free', bytes: -r },
    );
    if (useReservation) changes.push({ kind: 'use', bytes: reservedSize(record!.byteLength, config.unit) });
    if (changes.length > 0) entry = model.reservationCall(area.reservation, call.id, call.label, changes);
  }
  if (entries !== null) scribble(entries);
  return outcome(done, code);
}

export function batch(env: Env, op: Body<'batch'>): Outcome {
  const area = env.area(op.area);
  if (area === undefined) return Promise.resolve('no area');
  const { model, config, random } = env;
  const max = maxRecordOf(area.config, config);
  const size = resolveSize(op.size, area, config, random);
  const records = Array.from({ length: op.count }, (_, i) =>
    env.payload(i % 3 === 2 ? Math.max(0, size - (i % 17)) : size),
  );
  const given = records.map((r) => (random() < 0.2 ? split(r.slice(), 2, random) : r.slice()));
  const previousLsn = chainLsn(env, op.prev);
  const tooLarge = records.some((r) => r.byteLength > max);
  const badChain = op.prev === NO_RECORD;
  const options = {
    ...(op.use ? { useReservation: true } : {}),
    ...(op.forceAppend ? { forceAppend: true } : {}),
    ...(op.forceFlush ? { forceFlush: true } : {}),
    ...(op.prev !== NONE ? { previousLsn } : {}),
  };
  const knownAtCall = model.newest;
  const failStopped = env.failStopped();
  const codes = [
    ...(tooLarge ? ['ERR_CLFS_RECORD_TOO_LARGE'] : []),
    ...(badChain ? ['ERR_CLFS_INVALID_LSN'] : []),
    'ERR_CLFS_RESERVATION_INVALID',
    'ERR_CLFS_LOG_FULL',
  ];
  const code: { value: string | undefined } = { value: undefined };
  let entry: ReturnType<typeof model.reservationCall> | undefined;
  const label = `batch ${op.count}x${size}B a${area.index}${op.use ? ' use' : ''}${op.forceFlush ? ' flush' : ''}`;
  const waits = waitsForRoom(area) && !op.use;
  const { call, done } = track(env.inst, env.tracker, label, () => area.area.appendBatch(given, options), {
    allowed: { codes, area, also: chainBelowBase(env, previousLsn), waits },
    ok: (lsns, call) => {
      mustFail(
        env,
        call,
        tooLarge ? 'a record is over the largest' : badChain ? 'previousLsn names no older record' : undefined,
      );
      if (lsns.length !== records.length) {
        model.report.add('lost-call', `${call.label} returned ${lsns.length} LSNs for ${records.length} records`);
        return;
      }
      model.attempts.delete(call.id);
      const kept = lsns.filter((lsn, i) =>
        model.addRecord(
          { lsn, type: 'data', data: records[i]!, undoNextLsn: Lsn.INVALID, previousLsn },
          knownAtCall,
          `${call.label}[${i}]`,
          originOf(call, area, waits),
        ),
      );
      model.appendOrder(call.id, kept, call.label, orderOf(area), waits);
      const last = lsns[lsns.length - 1]!;
      if (kept.length > 0 && kept[kept.length - 1]! > area.lastResolved) area.lastResolved = kept[kept.length - 1]!;
      if (op.forceFlush) {
        checkFailStop(env, failStopped, call);
        model.acknowledge(last, call.id);
      }
      reservationOutcome(env, area, entry, undefined);
    },
    failed: (error, call) => {
      code.value = codeOf(error);
      if (code.value === 'ERR_CLFS_LOG_FULL' && op.use) {
        model.report.add(
          'reservation-log-full',
          `${call.label}: a batch into reservations failed with ERR_CLFS_LOG_FULL`,
        );
      }
      if (code.value === 'ERR_CLFS_TRUNCATED') model.droppedByTruncation(call.id);
      else if (code.value !== 'ERR_CLFS_IO_FAILED') model.attempts.delete(call.id);
      reservationOutcome(env, area, entry, code.value);
    },
  });
  model.attempts.set(
    call.id,
    records.map((data) => ({ call: call.id, type: 'data' as const, data, undoNextLsn: Lsn.INVALID, previousLsn })),
  );
  if (op.use && !tooLarge) {
    const changes: ReservationChange[] = records.map((r) => ({
      kind: 'use',
      bytes: reservedSize(r.byteLength, config.unit),
    }));
    entry = model.reservationCall(area.reservation, call.id, call.label, changes);
  }
  for (const g of given) scribble(Array.isArray(g) ? g : [g]);
  return outcome(done, code);
}

export function alloc(env: Env, op: Body<'alloc'>): Outcome {
  const area = env.area(op.area);
  if (area === undefined) return Promise.resolve('no area');
  const { model, config } = env;
  const size = resolveSize(op.size, area, config, env.random);
  const sizes = Array.from({ length: op.count }, () => size);
  const bad = size <= 0 || size > maxRecordOf(area.config, config);
  let bytes: number;
  try {
    bytes = area.area.alignReservedLog(sizes);
  } catch (error) {
    const code = codeOf(error);
    const closed = area.closedAt !== undefined || env.inst.closedAt !== undefined;
    if (!(bad && ARGUMENT_CODES.includes(code)) && !(closed && code === 'ERR_CLFS_CLOSED')) {
      model.report.add('unexpected-error', `alignReservedLog([${sizes.join(',')}]) threw ${code}`);
    }
    return Promise.resolve(code);
  }
  const expected = sizes.reduce((n, s) => n + reservedSize(s, config.unit), 0);
  if (bad)
    model.report.add(
      'accepted',
      `alignReservedLog([${sizes.join(',')}]) accepted a size of 0 or over the largest record`,
    );
  if (bytes !== expected)
    model.report.add('reservation', `alignReservedLog([${sizes.join(',')}]) = ${bytes}, expected ${expected}`);
  const code: { value: string | undefined } = { value: undefined };
  // Queued now, in call order (the call is made just below).
  const entry = model.reservationCall(area.reservation, 0, 'alloc', [{ kind: 'alloc', count: op.count, bytes }]);
  const { call, done } = track(
    env.inst,
    env.tracker,
    `alloc ${op.count}/${bytes} a${area.index}`,
    () => area.area.allocReservedLog(op.count, bytes),
    {
      allowed: { codes: ['ERR_CLFS_LOG_FULL'], area, waits: waitsForRoom(area) },
      ok: () => reservationOutcome(env, area, entry, undefined),
      failed: (error) => {
        code.value = codeOf(error);
        reservationOutcome(env, area, entry, code.value);
      },
    },
  );
  entry.call = call.id;
  entry.label = call.label;
  return outcome(done, code);
}

/** AlignReservedLog: pure arithmetic, the same as the model's. */
export function align(env: Env, op: Body<'align'>): Outcome {
  const area = env.area(op.area);
  if (area === undefined) return Promise.resolve('no area');
  const { model, config } = env;
  const sizes = op.sizes.map((s) => resolveSize(s, area, config, env.random));
  const bad = sizes.some((s) => s <= 0 || s > maxRecordOf(area.config, config));
  try {
    const bytes = area.area.alignReservedLog(sizes);
    const expected = sizes.reduce((n, s) => n + reservedSize(s, config.unit), 0);
    if (bad)
      model.report.add(
        'accepted',
        `alignReservedLog([${sizes.join(',')}]) accepted a size of 0 or over the largest record`,
      );
    else if (bytes !== expected)
      model.report.add('reservation', `alignReservedLog([${sizes.join(',')}]) = ${bytes}, expected ${expected}`);
    return Promise.resolve(undefined);
  } catch (error) {
    const code = codeOf(error);
    const closed = area.closedAt !== undefined || env.inst.closedAt !== undefined;
    if (!(bad && ARGUMENT_CODES.includes(code)) && !(closed && code === 'ERR_CLFS_CLOSED')) {
      model.report.add('unexpected-error', `alignReservedLog([${sizes.join(',')}]) threw ${code}`);
    }
    return Promise.resolve(code);
  }
}

export function free(env: Env, op: Body<'free'>): Outcome {
  const area = env.area(op.area);
  if (area === undefined) return Promise.resolve('no area');
  const { model } = env;
  const bytes = Math.max(1, Math.round(area.reservation.bytes * op.fraction));
  const code: { value: string | undefined } = { value: undefined };
  const entry = model.reservationCall(area.reservation, 0, 'free', [{ kind: 'freeMany', count: op.count, bytes }]);
  const { call, done } = track(
    env.inst,
    env.tracker,
    `free ${op.count}/${bytes} a${area.index}`,
    () => area.area.freeReservedLog(op.count, bytes),
    {
      allowed: { codes: ['ERR_CLFS_RESERVATION_INVALID'], area },
      ok: () => reservationOutcome(env, area, entry, undefined),
      failed: (error) => {
        code.value = codeOf(error);
        reservationOutcome(env, area, entry, code.value);
      },
    },
  );
  entry.call = call.id;
  entry.label = call.label;
  return outcome(done, code);
}

/** FlushToLsn / FlushLogBuffers: resolves when every record up to the target (at most the last when called) is durable. */
export function flush(env: Env, op: Body<'flush'> | Body<'flushBuffers'>): Outcome {
  const area = env.area(op.area);
  if (area === undefined) return Promise.resolve('no area');
  const { model } = env;
  const target =
    op.k === 'flushBuffers' || op.target === NO_ARGUMENT
      ? undefined
      : op.target === NULL_LSN
        ? Lsn.NULL
        : resolvePick(op.target, model, env.random);
  const last = env.lastLsn();
  const bound = target === undefined || target === Lsn.NULL || target > last ? last : target;
  const failStopped = env.failStopped();
  // A flush of records already acknowledged durable acknowledges nothing new:
  // it may resolve whenever (the writer answers it at once, before a failure
  // reported in the same turn).
  const nothingNew = bound >= 0n && model.isAcked(bound);
  const code: { value: string | undefined } = { value: undefined };
  const label =
    op.k === 'flushBuffers'
      ? `flushBuffers a${area.index}`
      : `flush ${target === undefined ? '-' : fmt(target)} a${area.index}`;
  const { done } = track(
    env.inst,
    env.tracker,
    label,
    (): Promise<bigint | undefined> =>
      op.k === 'flushBuffers' ? area.area.flushBuffers().then(() => undefined) : area.area.flushToLsn(target),
    {
      allowed: { codes: [], area },
      ok: (result, call) => {
        if (bound >= 0n) {
          if (!nothingNew) checkFailStop(env, failStopped, call);
          model.acknowledge(bound, call.id);
          if (typeof result === 'bigint' && result <= bound) {
            model.report.add(
              'flush-result',
              `${call.label} resolved with ${fmt(result)}, not past the flushed ${fmt(bound)}`,
            );
          }
        }
      },
      failed: (error) => (code.value = codeOf(error)),
    },
  );
  return outcome(done, code);
}

export function restart(env: Env, op: Body<'restart'>): Outcome {
  const area = env.area(op.area);
  if (area === undefined) return Promise.resolve('no area');
  const { model, config } = env;
  const max = maxRecordOf(area.config, config);
  const data = env.payload(resolveSize(op.size, area, config, env.random));
  const given = data.slice();
  // The new base is checked (with a buffer of the log's own) at the restart's turn among appends (see `allowed`).
  const base =
    op.use || op.base === NONE
      ? undefined
      : op.base === NO_RECORD
        ? noRecordLsn(model)
        : resolvePick(op.base, model, env.random);
  const last = env.lastLsn();
  const tooLarge = data.byteLength > max;
  const badBase = base !== undefined && (base < model.ackedBase || base > last || !model.records.has(base));
  const mayBadBase = base !== undefined && base < model.maxPossibleBase;
  const knownAtCall = model.newest;
  const failStopped = env.failStopped();
  if (base !== undefined) {
    model.possibleBases.add(base);
    area.readers++;
  }
  const codes = [
    ...(tooLarge ? ['ERR_CLFS_RECORD_TOO_LARGE'] : []),
    ...(badBase || mayBadBase ? ['ERR_CLFS_TAIL_INVALID'] : []),
    ...(op.use ? ['ERR_CLFS_RESERVATION_INVALID'] : ['ERR_CLFS_LOG_FULL']),
    // Reported as its own kind (blocks-exhausted-base) below.
    'ERR_CLFS_BLOCKS_EXHAUSTED',
  ];
  const code: { value: string | undefined } = { value: undefined };
  let entry: ReturnType<typeof model.reservationCall> | undefined;
  const label = `restart ${data.byteLength}B${base !== undefined ? ` base ${fmt(base)}` : ''}${op.use ? ' use' : ''} a${area.index}`;
  const { call, done } = track(
    env.inst,
    env.tracker,
    label,
    () =>
      area.area.writeRestartArea(given, {
        ...(base !== undefined ? { newBaseLsn: base } : {}),
        ...(op.use ? { useReservation: true } : {}),
      }),
    {
      allowed: {
        // The new base is checked at the restart's turn, after the appends
        // queued before it: a base move made meanwhile, even by a later call,
        // may have passed it (seed 1540549169).
        get codes() {
          return base !== undefined && base < model.maxPossibleBase ? [...codes, 'ERR_CLFS_TAIL_INVALID'] : codes;
        },
        area,
      },
      ok: ({ lsn, bytesWritten }, call) => {
        if (base !== undefined) area.readers--;
        mustFail(
          env,
          call,
          tooLarge
            ? 'the restart data is over the largest record'
            : badBase
              ? `the new base ${fmt(base)} is not a record in [base, last]`
              : undefined,
        );
        model.attempts.delete(call.id);
        model.addRecord(
          { lsn, type: 'restart', data, undoNextLsn: Lsn.INVALID, previousLsn: UNKNOWN },
          knownAtCall,
          call.label,
          { ...originOf(call, area, waitsForRoom(area)), restart: true },
        );
        checkFailStop(env, failStopped, call);
        model.acknowledge(lsn, call.id);
        if (lsn > model.ackedRestart || model.ackedRestart === Lsn.INVALID) model.ackedRestart = lsn;
        if (base !== undefined) model.baseAcked(base);
        if (!(bytesWritten >= 0)) model.report.add('restart', `${call.label}: bytesWritten ${bytesWritten}`);
        reservationOutcome(env, area, entry, undefined);
      },
      failed: (error, call) => {
        if (base !== undefined) area.readers--;
        code.value = codeOf(error);
        if (code.value === 'ERR_CLFS_BLOCKS_EXHAUSTED') {
          model.report.add(
            'blocks-exhausted-base',
            `${call.label}: moving the base failed with ERR_CLFS_BLOCKS_EXHAUSTED (CLFS's WriteLogRestartArea has no such error)`,
          );
        }
        if (code.value === 'ERR_CLFS_LOG_FULL' && op.use) {
          model.report.add(
            'reservation-log-full',
            `${call.label}: a restart area into a reservation failed with ERR_CLFS_LOG_FULL`,
          );
        }
        if (code.value !== 'ERR_CLFS_IO_FAILED') model.attempts.delete(call.id);
        reservationOutcome(env, area, entry, code.value);
      },
    },
  );
  model.attempts.set(call.id, [
    { call: call.id, type: 'restart', data, undoNextLsn: Lsn.INVALID, previousLsn: UNKNOWN },
  ]);
  if (op.use && !tooLarge) {
    entry = model.reservationCall(area.reservation, call.id, call.label, [
      { kind: 'use', bytes: reservedSize(data.byteLength, config.unit) },
    ]);
  }
  scribble([given]);
  return outcome(done, code);
}

/** AdvanceLogBase to the record `op.target` picks, or to `explicit` (a tail-advance request's answer). */
export function advance(env: Env, op: Body<'advance'>, explicit?: bigint): Outcome {
  const area = env.area(op.area);
  if (area === undefined) return Promise.resolve('no area');
  const { model } = env;
  const target = explicit ?? resolvePick(op.target, model, env.random) ?? noRecordLsn(model);
  const last = env.lastLsn();
  const bad = target < model.ackedBase || target > last || !model.records.has(target);
  const mayBeBad = target < model.maxPossibleBase;
  const failStopped = env.failStopped();
  // A base moved to a record already acknowledged durable acknowledges no
  // record: like such a flush, it may resolve just after a failure reported
  // in the same turn (its metadata write was done first; seed 952496406).
  const nothingNew = target >= 0n && model.isAcked(target);
  model.possibleBases.add(target);
  area.readers++;
  const code: { value: string | undefined } = { value: undefined };
  const { done } = track(
    env.inst,
    env.tracker,
    `advance ${fmt(target)} a${area.index}`,
    () => area.area.advanceLogBase(target),
    {
      allowed: { codes: [...(bad || mayBeBad ? ['ERR_CLFS_TAIL_INVALID'] : []), 'ERR_CLFS_BLOCKS_EXHAUSTED'], area },
      ok: (_, call) => {
        area.readers--;
        mustFail(
          env,
          call,
          bad ? `${fmt(target)} is not a record in [base ${fmt(model.ackedBase)}, last ${fmt(last)}]` : undefined,
        );
        if (!nothingNew) checkFailStop(env, failStopped, call);
        model.acknowledge(target, call.id);
        model.baseAcked(target);
      },
      failed: (error, call) => {
        area.readers--;
        code.value = codeOf(error);
        if (code.value === 'ERR_CLFS_BLOCKS_EXHAUSTED') {
          model.report.add(
            'blocks-exhausted-base',
            `${call.label} failed with ERR_CLFS_BLOCKS_EXHAUSTED (CLFS's AdvanceLogBase has no such error)`,
          );
        }
      },
    },
  );
  return outcome(done, code);
}

/** Appends until the log is full (or `max` records): the way to the log's limits. */
export async function fill(env: Env, op: Body<'fill'>): Promise<string | undefined> {
  const area = env.area(op.area);
  // Records the area takes (a fill is about the log's space, not the record limit).
  const largest = area === undefined ? Infinity : maxRecordOf(area.config, env.config);
  for (let i = 0; i < op.max; i++) {
    const size = typeof op.size === 'number' ? Math.max(0, Math.min(largest, op.size) - (i % 7) * 8) : op.size;
    const code = await append(env, {
      k: 'append',
      area: op.area,
      mode: 'new',
      size,
      pieces: 1,
      align: 1,
      res: [],
      prev: NONE,
      undo: NONE,
      forceAppend: false,
      forceFlush: op.forceFlush && i % 16 === 15,
    });
    if (code !== undefined) return code;
  }
  return undefined;
}
