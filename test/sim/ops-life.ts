/**
 * Operations on the log and its areas: creating and closing areas,
 * closing the log, adding containers, information()/ioStatistics(), and
 * calls with arguments wrong on purpose (each must fail with its argument
 * error and change nothing).
 * @module
 */
import type { Log } from '../../lib/log/log.ts';
import type { MarshallingArea, MarshallingAreaOptions } from '../../lib/log/marshalling-area.ts';
import { Lsn } from '../../lib/lsn.ts';
import { alignedBuffer } from '../../lib/native/memory.ts';
import { pick } from '../support/random.ts';
import { MAX_CONTAINERS, type AreaConfig } from './config.ts';
import type { Env } from './env.ts';
import { ARGUMENT_CODES, codeOf, track, type AreaHandle } from './instance.ts';
import { AreaReservation, fmt } from './model.ts';
import { releaseArea } from './ops-read.ts';
import type { OpBody } from './plan.ts';
import type { Outcome } from './ops-write.ts';
import { spaceOf } from './ops-space.ts';

type Body<K extends OpBody['k']> = Extract<OpBody, { k: K }>;

/** The options an area config stands for (flush timers are virtual: any interval is cheap). */
export function areaOptions(
  config: AreaConfig,
  random: () => number,
  counts?: { allocate: number; free: number },
): MarshallingAreaOptions {
  return {
    bufferSize: config.bufferSize,
    maxWriteBuffers: config.maxWriteBuffers ?? Infinity,
    maxReadBuffers: config.maxReadBuffers ?? Infinity,
    flushIntervalMs: pick(random, [0, 0, 0, 5, 200]),
    ...(config.logFullTimeoutMs !== undefined ? { logFullTimeoutMs: config.logFullTimeoutMs } : {}),
    ...(counts !== undefined
      ? {
          allocator: {
            allocate: (size: number, alignment: number) => {
              counts.allocate++;
              return alignedBuffer(size, { alignment });
            },
            free: () => {
              counts.free++;
            },
          },
        }
      : {}),
  };
}

export function handleFor(
  index: number,
  area: MarshallingArea,
  config: AreaConfig,
  counts: AreaHandle['allocations'],
): AreaHandle {
  const reservation = new AreaReservation();
  // An append waiting for room may take its turn after the area's later
  // calls (a free, an append into a reservation): the model folds
  // reservation changes in call order, so it does not for such an area.
  reservation.uncertain = (config.logFullTimeoutMs ?? 0) > 0;
  return {
    index,
    area,
    config,
    reservation,
    closedAt: undefined,
    readers: 0,
    lastResolved: -1n,
    allocations: counts,
  };
}

export function createArea(env: Env, config: AreaConfig): Outcome {
  const counts = config.allocator ? { allocate: 0, free: 0 } : undefined;
  const code: { value: string | undefined } = { value: undefined };
  const { done } = track(
    env.inst,
    env.tracker,
    `createArea ${config.bufferSize}`,
    () => env.inst.log.createMarshallingArea(areaOptions(config, env.random, counts)),
    {
      allowed: { codes: [] },
      ok: (area) => {
        env.bufferCreated(area.bufferSize);
        env.inst.areas.push(handleFor(env.inst.areas.length, area, config, counts));
      },
      failed: (error) => (code.value = codeOf(error)),
    },
  );
  return done.then(() => code.value);
}

export function closeArea(env: Env, op: Body<'closeArea'>): Outcome {
  const area = env.area(op.area);
  if (area === undefined) return Promise.resolve('no area');
  const { model } = env;
  const code: { value: string | undefined } = { value: undefined };
  const { call, done } = track(env.inst, env.tracker, `closeArea a${area.index}`, () => area.area.close(), {
    allowed: { codes: [] },
    ok: (_, call) => {
      // It flushed what it appended first.
      if (area.lastResolved >= 0n && !env.failStopped()) model.acknowledge(area.lastResolved, call.id);
      if (area.area.reservedRecords !== 0 || area.area.reservedBytes !== 0) {
        model.report.add(
          'reservation',
          `${call.label}: the closed area still reserves ${area.area.reservedRecords} records / ${area.area.reservedBytes} bytes`,
        );
      }
      releaseArea(area, env.inst.contexts);
      entry.outcome = { ok: true, code: undefined };
      env.settleReservations(area);
    },
    failed: (error) => {
      code.value = codeOf(error);
      releaseArea(area, env.inst.contexts);
      entry.outcome = { ok: true, code: undefined };
      env.settleReservations(area);
    },
  });
  area.closedAt ??= call.id;
  const entry = model.reservationCall(area.reservation, call.id, call.label, [{ kind: 'close' }]);
  return done.then(() => code.value);
}

/** log.close(): closes every area, flushes, records a clean close, unlocks (also after a failure). */
export function closeLog(env: Env): Outcome {
  const { inst, model } = env;
  if (inst.closeCall !== undefined) return Promise.resolve('closing');
  const code: { value: string | undefined } = { value: undefined };
  const entries = new Map<AreaHandle, ReturnType<typeof model.reservationCall>>();
  const finish = (): void => {
    for (const [area, entry] of entries) {
      entry.outcome = { ok: true, code: undefined };
      releaseArea(area, inst.contexts);
      env.settleReservations(area);
    }
    if (!inst.storage.closed)
      model.report.add('close-unlock', `log.close() settled without closing (unlocking) its storage`);
  };
  const { call, done } = track(inst, env.tracker, 'closeLog', () => inst.log.close(), {
    allowed: { codes: [] },
    ok: () => {
      model.acknowledge(model.newest);
      finish();
    },
    failed: (error) => {
      code.value = codeOf(error);
      finish();
    },
  });
  inst.closedAt = call.id;
  inst.closeCall = call;
  for (const area of inst.areas) {
    area.closedAt ??= call.id;
    entries.set(
      area,
      model.reservationCall(area.reservation, call.id, `${call.label} (area ${area.index})`, [{ kind: 'close' }]),
    );
  }
  return done.then(() => code.value);
}

export function addContainers(env: Env, op: Body<'addContainers'>): Outcome {
  const { inst, model } = env;
  let total: number;
  try {
    total = inst.log.information().totalContainers;
  } catch {
    total = 0;
  }
  const over = total + op.count > MAX_CONTAINERS;
  // Past the policy's maxContainers (read now; a policy change, removal or
  // growth racing this call may move either side).
  let conflict: boolean;
  try {
    const policy = inst.log.policy();
    conflict = total + op.count > policy.maxContainers || policy.autoGrow || spaceOf(inst).inFlight > 0;
  } catch {
    conflict = true;
  }
  const code: { value: string | undefined } = { value: undefined };
  // Counted with the space calls: a removal racing it sees the count change.
  const space = spaceOf(inst);
  space.made++;
  space.inFlight++;
  const { done } = track(inst, env.tracker, `addContainers ${op.count}`, () => inst.log.addContainers(op.count), {
    allowed: { codes: [...(over ? ['ERR_OUT_OF_RANGE'] : []), ...(conflict ? ['ERR_CLFS_POLICY_CONFLICT'] : [])] },
    ok: (_, call) => {
      if (over) model.report.add('accepted', `${call.label}: the log had ${total}; at most ${MAX_CONTAINERS}`);
    },
    failed: (error) => (code.value = codeOf(error)),
  });
  return done.then(() => {
    space.inFlight--;
    return code.value;
  });
}

/** information() and ioStatistics(): consistent with the model, and with themselves over time. */
export function info(env: Env): Outcome {
  const { inst, model } = env;
  const report = model.report;
  let i: ReturnType<Log['information']>;
  let s: ReturnType<Log['ioStatistics']>;
  try {
    i = inst.log.information();
    s = inst.log.ioStatistics();
  } catch (error) {
    const code = codeOf(error);
    if (!(code === 'ERR_CLFS_CLOSED' && inst.closedAt !== undefined))
      report.add('unexpected-error', `information() threw ${code}`);
    return Promise.resolve(code);
  }
  env.tracker.trace(
    `info base ${fmt(i.baseLsn)} last ${fmt(i.lastLsn)} flushed ${fmt(i.lastFlushedLsn)} restart ${fmt(i.restartLsn)} containers ${i.totalContainers}`,
  );
  if (i.baseLsn < model.ackedBase)
    report.add(
      'base-backwards',
      `information().baseLsn ${fmt(i.baseLsn)} is older than the acknowledged ${fmt(model.ackedBase)}`,
    );
  if (inst.lastInfo !== undefined && i.baseLsn < inst.lastInfo.base)
    report.add('base-backwards', `information().baseLsn went from ${fmt(inst.lastInfo.base)} to ${fmt(i.baseLsn)}`);
  if (model.newest >= 0n && (i.lastLsn === Lsn.INVALID || i.lastLsn < model.newest)) {
    report.add('info', `information().lastLsn ${fmt(i.lastLsn)} is older than record ${fmt(model.newest)}`);
  }
  if (
    !env.failStopped() &&
    model.ackBound >= 0n &&
    (i.lastFlushedLsn === Lsn.INVALID || i.lastFlushedLsn < model.ackBound)
  ) {
    report.add(
      'info',
      `information().lastFlushedLsn ${fmt(i.lastFlushedLsn)} is older than the acknowledged ${fmt(model.ackBound)}`,
    );
  }
  if (model.ackedRestart !== Lsn.INVALID && (i.restartLsn === Lsn.INVALID || i.restartLsn < model.ackedRestart)) {
    report.add(
      'info',
      `information().restartLsn ${fmt(i.restartLsn)} is older than the acknowledged ${fmt(model.ackedRestart)}`,
    );
  }
  // The LSNs name records of the log: none past the last.
  if (i.lastLsn !== Lsn.INVALID) {
    for (const [name, lsn] of [
      ['baseLsn', i.baseLsn],
      ['restartLsn', i.restartLsn],
      ['lastFlushedLsn', i.lastFlushedLsn],
    ] as const) {
      if (lsn !== Lsn.INVALID && lsn > i.lastLsn) {
        report.add('info', `information().${name} ${fmt(lsn)} is past the last record ${fmt(i.lastLsn)}`);
      }
    }
  }
  // An area keeps its reservation until its close completes (then it reports 0).
  const reserved = inst.areas.reduce((n, a) => n + a.area.reservedBytes, 0);
  if (inst.closedAt === undefined && i.totalReservation !== reserved) {
    report.add('info', `information().totalReservation ${i.totalReservation}; the areas reserve ${reserved}`);
  }
  if (
    i.currentAvailable < 0 ||
    i.freeContainers > i.totalContainers ||
    i.totalAvailable !== i.totalContainers * i.containerSize
  ) {
    report.add(
      'info',
      `information() is inconsistent: ${JSON.stringify({ ...i, baseLsn: 0, lastLsn: 0, lastFlushedLsn: 0, restartLsn: 0 })}`,
    );
  }
  if (
    inst.lastInfo !== undefined &&
    (s.flushes < inst.lastInfo.flushes || s.metadataFlushes < inst.lastInfo.metadataFlushes)
  ) {
    report.add('info', 'ioStatistics() counters went down');
  }
  inst.lastInfo = { base: i.baseLsn, flushes: s.flushes, metadataFlushes: s.metadataFlushes };
  return Promise.resolve(undefined);
}

/** A call with arguments wrong on purpose: it must fail with an argument error (or as the contract names). */
export function bad(env: Env, op: Body<'bad'>): Outcome {
  const area = env.area(op.area);
  if (area === undefined) return Promise.resolve('no area');
  const a = area.area;
  const log = env.inst.log;
  const lsn = env.model.newest >= 0n ? env.model.newest : Lsn.create(1, 0, 0);
  const data = new Uint8Array([1, 2, 3]);
  const cases: { label: string; make: () => unknown; codes?: string[] }[] = [
    { label: 'reserveAndAppend(string)', make: () => a.reserveAndAppend('x' as unknown as Uint8Array) },
    { label: 'reserveAndAppend reservations [0]', make: () => a.reserveAndAppend(data, { reservations: [0] }) },
    { label: 'reserveAndAppend entryAlignment 0', make: () => a.reserveAndAppend(data, { entryAlignment: 0 }) },
    { label: 'reserveAndAppend(null, useReservation)', make: () => a.reserveAndAppend(null, { useReservation: true }) },
    {
      label: 'reserveAndAppend forceFlush "yes"',
      make: () => a.reserveAndAppend(data, { forceFlush: 'yes' as unknown as boolean }),
    },
    { label: 'reserveAndAppend previousLsn 2^64', make: () => a.reserveAndAppend(data, { previousLsn: 2n ** 64n }) },
    { label: 'appendBatch(string)', make: () => a.appendBatch('x' as unknown as Uint8Array[]) },
    { label: 'appendBatch([null])', make: () => a.appendBatch([null]) },
    { label: 'flushToLsn(-1n)', make: () => a.flushToLsn(-1n) },
    { label: 'flushToLsn(INVALID)', make: () => a.flushToLsn(Lsn.INVALID), codes: ['ERR_CLFS_INVALID_LSN'] },
    { label: "readLogRecord mode 'sideways'", make: () => a.readLogRecord(lsn, 'sideways' as 'forward') },
    { label: "readLogRecord type 'x'", make: () => a.readLogRecord(lsn, 'forward', { type: 'x' as 'data' }) },
    { label: 'allocReservedLog(0, 1)', make: () => a.allocReservedLog(0, 1) },
    { label: 'freeReservedLog(1, -5)', make: () => a.freeReservedLog(1, -5) },
    { label: 'advanceLogBase(string)', make: () => a.advanceLogBase('x' as unknown as bigint) },
    { label: 'writeRestartArea(string)', make: () => a.writeRestartArea('x' as unknown as Uint8Array) },
    { label: 'alignReservedLog([])', make: () => a.alignReservedLog([]) },
    { label: 'addContainers(0)', make: () => log.addContainers(0) },
    { label: 'createMarshallingArea bufferSize 0', make: () => log.createMarshallingArea({ bufferSize: 0 }) },
    {
      label: 'createMarshallingArea maxWriteBuffers 0',
      make: () => log.createMarshallingArea({ bufferSize: 4096, maxWriteBuffers: 0 }),
    },
    { label: 'records(fromLsn string)', make: () => a.records('x' as unknown as bigint).next() },
  ];
  const c = cases[op.which % cases.length]!;
  const code: { value: string | undefined } = { value: undefined };
  const { done } = track(env.inst, env.tracker, `bad ${c.label}`, () => Promise.resolve().then(() => c.make()), {
    allowed: { codes: [...ARGUMENT_CODES, ...(c.codes ?? [])], area },
    ok: (_, call) => env.model.report.add('accepted', `${call.label} succeeded`),
    failed: (error) => (code.value = codeOf(error)),
  });
  return done.then(() => code.value);
}
