// The log's space policy (CLFS's InstallLogPolicy / QueryLogPolicy:
// MaximumSize, MinimumSize, GrowthRate, AutoGrow, AutoShrink, LogTail),
// persisted in the metadata, and container removal (RemoveLogContainer).
import { describe, expect, it } from 'vitest';

import { ClfsError, DEFAULT_POLICY, Log, Lsn, type MarshallingArea } from '../../lib/index.ts';
import { scratchFiles, KiB } from '../support/fixtures.ts';
import { fillSeeded } from '../support/native.ts';
import { containerFiles, createLog, newestMetadata, openLog, readAll, rejectionOf } from '../support/log.ts';

const scratch = scratchFiles('clfs-log-policy-');

const CONTAINER = 512 * KiB;
const RECORD = 3000;

async function newLog(options: Parameters<typeof Log.create>[1] = {}): Promise<{ log: Log; logPath: string }> {
  const logPath = scratch.fresh();
  const log = await createLog(logPath, { containerSize: CONTAINER, containers: 2, ...options });
  scratch.keep(log);
  return { log, logPath };
}

function record(i: number): Uint8Array {
  return fillSeeded(new Uint8Array(RECORD), i + 1);
}

/** Appends records until one lands in logical container `id`; flushes; returns every LSN. */
async function appendUntil(area: MarshallingArea, id: number, lsns: Lsn[] = []): Promise<Lsn[]> {
  while (lsns.length === 0 || Lsn.containerId(lsns[lsns.length - 1]!) < id) {
    lsns.push(...(await area.appendBatch(Array.from({ length: 16 }, (_, k) => record(lsns.length + k)))));
  }
  await area.flushToLsn();
  return lsns;
}

const firstIn = (lsns: Lsn[], id: number): Lsn => lsns.find((l) => Lsn.containerId(l) === id)!;

describe('policy: create, read, change', () => {
  it('Policy: a log created without one has CLFS-like defaults (min 2, growth 1, autoGrow off, no autoShrink, no tail requests)', async () => {
    const { log } = await newLog();
    expect(log.policy()).toEqual({
      maxContainers: 1024,
      minContainers: 2,
      growthRate: 1,
      autoGrow: false,
      autoShrink: 0,
      logTail: 0,
    });
    expect(log.policy()).toEqual(DEFAULT_POLICY);
  });

  it('Policy: the policy given at create is read back, and is persisted (reopen reads it from the metadata)', async () => {
    const policy = { maxContainers: 8, minContainers: 3, growthRate: 2, autoGrow: true, autoShrink: 60, logTail: 35 };
    const { log, logPath } = await newLog({ containers: 4, policy });
    expect(log.policy()).toEqual(policy);
    await log.close();
    expect(newestMetadata(logPath).policy).toEqual(policy);
    const again = await openLog(logPath);
    scratch.keep(again);
    expect(again.policy()).toEqual(policy);
  });

  it('Policy: the older autoGrow option is the policy { autoGrow: true, maxContainers } (true: up to 1024); policy wins where both set a field', async () => {
    expect((await newLog({ autoGrow: { maxContainers: 6 } })).log.policy()).toMatchObject({
      autoGrow: true,
      maxContainers: 6,
    });
    expect((await newLog({ autoGrow: true })).log.policy()).toMatchObject({ autoGrow: true, maxContainers: 1024 });
    expect((await newLog({ autoGrow: true, policy: { autoGrow: false } })).log.policy().autoGrow).toBe(false);
  });

  it('InstallLogPolicy (setPolicy): only the fields given change; durable when it resolves; log.policy() returns a copy', async () => {
    const { log, logPath } = await newLog();
    await log.setPolicy({ logTail: 40, autoGrow: true, maxContainers: 5 });
    const policy = log.policy();
    expect(policy).toEqual({ ...DEFAULT_POLICY, logTail: 40, autoGrow: true, maxContainers: 5 });
    expect(newestMetadata(logPath).policy).toEqual(policy);
    policy.maxContainers = 99;
    expect(log.policy().maxContainers).toBe(5);
  });

  it.each([
    ['a field of the wrong type', { logTail: '35' }, 'ERR_INVALID_ARG_TYPE'],
    ['autoGrow not a boolean', { autoGrow: 1 }, 'ERR_INVALID_ARG_TYPE'],
    ['maxContainers over 1024', { maxContainers: 1025 }, 'ERR_OUT_OF_RANGE'],
    ['minContainers below 2', { minContainers: 1 }, 'ERR_OUT_OF_RANGE'],
    ['growthRate 0', { growthRate: 0 }, 'ERR_OUT_OF_RANGE'],
    ['logTail over 100', { logTail: 101 }, 'ERR_OUT_OF_RANGE'],
    ['autoShrink negative', { autoShrink: -1 }, 'ERR_OUT_OF_RANGE'],
    ['a fractional count', { maxContainers: 4.5 }, 'ERR_OUT_OF_RANGE'],
    ['an unknown field', { newContainerSize: 1 }, 'ERR_INVALID_ARG_VALUE'],
    ['minContainers above maxContainers', { minContainers: 6, maxContainers: 5 }, 'ERR_CLFS_POLICY_INVALID'],
    ['maxContainers below the container count', { maxContainers: 3 }, 'ERR_CLFS_POLICY_CONFLICT'],
    ['minContainers above the container count', { minContainers: 5 }, 'ERR_CLFS_POLICY_CONFLICT'],
    ['not an object', 7, 'ERR_INVALID_ARG_TYPE'],
  ])(
    'InstallLogPolicy (setPolicy): %s is refused with a typed error and the policy stays',
    async (_name, policy, code) => {
      const { log } = await newLog({ containers: 4 });
      const before = log.policy();
      const outcome = await log.setPolicy(policy as never).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(outcome).toBeInstanceOf(ClfsError);
      expect((outcome as ClfsError).code).toBe(code);
      expect(log.policy()).toEqual(before);
    },
  );

  it('Policy: the policy errors carry CLFS names (ERROR_LOG_POLICY_INVALID, ERROR_LOG_POLICY_CONFLICT)', async () => {
    const { log } = await newLog();
    expect((await rejectionOf(log.setPolicy({ minContainers: 9, maxContainers: 8 }))).clfsError).toBe(
      'ERROR_LOG_POLICY_INVALID',
    );
    expect((await rejectionOf(log.setPolicy({ minContainers: 3 }))).clfsError).toBe('ERROR_LOG_POLICY_CONFLICT');
  });

  it('Policy: Log.create refuses a policy its container count is outside of (ERR_CLFS_POLICY_CONFLICT), and a contradictory one', async () => {
    const code = async (options: Parameters<typeof Log.create>[1]): Promise<unknown> =>
      (await rejectionOf(Log.create(scratch.fresh(), { containerSize: CONTAINER, ...options }))).code;
    expect(await code({ containers: 2, policy: { minContainers: 3 } })).toBe('ERR_CLFS_POLICY_CONFLICT');
    expect(await code({ containers: 5, policy: { maxContainers: 4 } })).toBe('ERR_CLFS_POLICY_CONFLICT');
    expect(await code({ policy: { minContainers: 5, maxContainers: 4 } })).toBe('ERR_CLFS_POLICY_INVALID');
    expect(await code({ policy: { logTail: 200 } })).toBe('ERR_OUT_OF_RANGE');
  });

  it('MaximumSize policy: addContainers past maxContainers is ERR_CLFS_POLICY_CONFLICT; up to it, it adds', async () => {
    const { log } = await newLog({ policy: { maxContainers: 4 } });
    await log.addContainers(2);
    expect((await rejectionOf(log.addContainers(1))).code).toBe('ERR_CLFS_POLICY_CONFLICT');
    expect(log.information().totalContainers).toBe(4);
  });

  it('GrowthRate policy: autoGrow adds growthRate containers at once, capped by maxContainers', async () => {
    const { log, logPath } = await newLog({ policy: { autoGrow: true, growthRate: 3, maxContainers: 4 } });
    const area = await log.createMarshallingArea({ bufferSize: 64 * KiB });
    await appendUntil(area, 3);
    // Full at 2 containers: growth takes the log to 4, not 5 (the maximum caps it).
    expect(log.information().totalContainers).toBe(4);
    expect(containerFiles(logPath)).toHaveLength(4);
  });

  it('AutoGrow policy: turning autoGrow on with setPolicy lets a full log grow', async () => {
    const { log } = await newLog();
    const area = await log.createMarshallingArea({ bufferSize: 64 * KiB });
    let full: unknown;
    for (let i = 0; i < 1000 && full === undefined; i++) {
      await area.reserveAndAppend(record(i)).catch((error: unknown) => (full = error));
    }
    expect((full as ClfsError).code).toBe('ERR_CLFS_LOG_FULL');
    await log.setPolicy({ autoGrow: true, maxContainers: 3 });
    await area.reserveAndAppend(record(0), { forceFlush: true });
    expect(log.information().totalContainers).toBe(3);
  });
});

describe('RemoveLogContainer (log.removeContainers)', () => {
  it('RemoveLogContainer: removes free containers and their files; every record stays readable, also after reopen', async () => {
    const { log, logPath } = await newLog({ containers: 5 });
    const area = await log.createMarshallingArea({ bufferSize: 64 * KiB });
    const lsns = await appendUntil(area, 2);
    await log.removeContainers(2);
    expect(log.information().totalContainers).toBe(3);
    expect(containerFiles(logPath)).toHaveLength(3);
    expect((await readAll(log)).map((r) => r.lsn)).toEqual(lsns);
    await log.close();
    const again = await openLog(logPath);
    scratch.keep(again);
    expect(again.information().totalContainers).toBe(3);
    expect((await readAll(again)).map((r) => r.lsn)).toEqual(lsns);
  });

  it('RemoveLogContainer: a container holding records at or above the base is ERR_CLFS_CONTAINER_ACTIVE (ERROR_LOG_CONTAINER_STATE_INVALID) and nothing is removed', async () => {
    const { log, logPath } = await newLog({ containers: 3 });
    const area = await log.createMarshallingArea({ bufferSize: 64 * KiB });
    await appendUntil(area, 3);
    const error = await rejectionOf(log.removeContainers(1));
    expect(error.code).toBe('ERR_CLFS_CONTAINER_ACTIVE');
    expect(error.clfsError).toBe('ERROR_LOG_CONTAINER_STATE_INVALID');
    expect(log.information().totalContainers).toBe(3);
    expect(containerFiles(logPath)).toHaveLength(3);
  });

  it('RemoveLogContainer: once the base has passed a container, it is free and can be removed', async () => {
    const { log } = await newLog({ containers: 3 });
    const area = await log.createMarshallingArea({ bufferSize: 64 * KiB });
    const lsns = await appendUntil(area, 3);
    // Containers 1 and 2 are below a base in container 3; the last physical
    // container holds logical 3, so the table end is not free yet.
    await area.advanceLogBase(firstIn(lsns, 3));
    expect((await rejectionOf(log.removeContainers(1))).code).toBe('ERR_CLFS_CONTAINER_ACTIVE');
    // Appending on recycles physical 0 (logical 4); physical 1 stays free.
    await appendUntil(area, 4, lsns);
    await area.advanceLogBase(firstIn(lsns, 4));
    // Physical 2 (logical 3) is below the base now.
    await log.removeContainers(1);
    expect(log.information().totalContainers).toBe(2);
    const more = await appendUntil(area, 5, lsns);
    expect((await readAll(log)).map((r) => r.lsn)).toEqual(more.filter((l) => l >= firstIn(lsns, 4)));
  });

  it('RemoveLogContainer: never below the policy minContainers (ERR_CLFS_POLICY_CONFLICT)', async () => {
    const { log } = await newLog({ containers: 4, policy: { minContainers: 3 } });
    expect((await rejectionOf(log.removeContainers(2))).code).toBe('ERR_CLFS_POLICY_CONFLICT');
    await log.removeContainers(1);
    expect((await rejectionOf(log.removeContainers(1))).code).toBe('ERR_CLFS_POLICY_CONFLICT');
    expect(log.information().totalContainers).toBe(3);
  });

  it('RemoveLogContainer: a container reserved space needs is ERR_CLFS_CONTAINER_ACTIVE (appends into reservations never fail)', async () => {
    const { log } = await newLog({ containers: 3 });
    const area = await log.createMarshallingArea({ bufferSize: 64 * KiB });
    // Reserve about two containers' worth: the third container is needed.
    const size = area.alignReservedLog([60 * KiB]);
    const count = Math.floor((2 * CONTAINER) / size);
    await area.allocReservedLog(count, count * size);
    expect((await rejectionOf(log.removeContainers(1))).code).toBe('ERR_CLFS_CONTAINER_ACTIVE');
    await area.freeReservedLog(count, count * size);
    await log.removeContainers(1);
  });

  it('RemoveLogContainer: containers can be added again after a removal, and appends go on through them', async () => {
    const { log, logPath } = await newLog({ containers: 4 });
    const area = await log.createMarshallingArea({ bufferSize: 64 * KiB });
    await log.removeContainers(2);
    await log.addContainers(1);
    expect(containerFiles(logPath)).toHaveLength(3);
    const lsns = await appendUntil(area, 3);
    expect((await readAll(log)).map((r) => r.lsn)).toEqual(lsns);
  });

  it.each([
    ['0', 'ERR_OUT_OF_RANGE', 0],
    ['1.5', 'ERR_OUT_OF_RANGE', 1.5],
    ["'1'", 'ERR_INVALID_ARG_TYPE', '1'],
  ])('RemoveLogContainer: a count of %s is refused with %s', async (_name, code, count) => {
    const { log } = await newLog({ containers: 3 });
    await expect(log.removeContainers(count as number)).rejects.toMatchObject({ code });
  });

  it('AutoShrink policy: after a base move leaves more than autoShrink percent free, free containers beyond minContainers go', async () => {
    const { log, logPath } = await newLog({ containers: 6, policy: { autoShrink: 50, minContainers: 3 } });
    const area = await log.createMarshallingArea({ bufferSize: 64 * KiB });
    const lsns = await appendUntil(area, 2);
    await area.advanceLogBase(firstIn(lsns, 2));
    // A base move ran autoShrink: 6 containers, ~1 used. Removing one leaves
    // 4/5 free, ... down to minContainers 3 (2/3 free, still over 50%).
    await log.close(); // close waits for the shrink it started
    expect(containerFiles(logPath)).toHaveLength(3);
    const again = await openLog(logPath);
    scratch.keep(again);
    expect(again.information().totalContainers).toBe(3);
    expect((await readAll(again)).map((r) => r.lsn)).toEqual(lsns.filter((l) => l >= firstIn(lsns, 2)));
  });

  it('AutoShrink policy: 0 (the default) never removes a container', async () => {
    const { log } = await newLog({ containers: 6 });
    const area = await log.createMarshallingArea({ bufferSize: 64 * KiB });
    const lsns = await appendUntil(area, 2);
    await area.advanceLogBase(firstIn(lsns, 2));
    expect(log.information().totalContainers).toBe(6);
  });
});
