// What users see of the log's state and failures (issue 11's rough edges):
// JSON of information(), recoveryReport and errors naming LSNs (bigints,
// which JSON.stringify refuses), and error messages that name the path the
// caller gave, never the temporary directory a create builds the log in.
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { Log, Lsn } from '../../lib/index.ts';
import { scratchFiles, KiB } from '../support/fixtures.ts';
import { createLog, rejectionOf } from '../support/log.ts';
import { describeWhere, MISSING } from '../support/platform.ts';

const scratch = scratchFiles('clfs-user-facing-');
const SHM = '/dev/shm';

describe('types', () => {
  it('reserveAndAppend given entries resolves with a bigint LSN, typed without undefined', async () => {
    const log = await createLog(scratch.fresh(), { containerSize: 512 * KiB });
    scratch.keep(log);
    const area = await log.createMarshallingArea({ bufferSize: 4 * KiB });
    const { lsn } = await area.reserveAndAppend(new Uint8Array(3));
    // (The type check of the test suite fails here if lsn may be undefined.)
    const typed: bigint = lsn;
    expect(typeof typed).toBe('bigint');
    const reserved = await area.reserveAndAppend(null, { reservations: [10] });
    expect(reserved.lsn).toBeUndefined();
  });
});

describe('JSON of what the log reports', () => {
  it('JSON.stringify(log.information()) works and writes LSNs as Lsn.format hex strings', async () => {
    const log = await createLog(scratch.fresh(), { containerSize: 512 * KiB });
    scratch.keep(log);
    const area = await log.createMarshallingArea({ bufferSize: 4 * KiB });
    const { lsn } = await area.reserveAndAppend(new Uint8Array(10), { forceFlush: true });
    const info = log.information();
    const json = JSON.parse(JSON.stringify(info)) as Record<string, unknown>;
    expect(json.lastLsn).toBe(Lsn.format(lsn!));
    expect(json.baseLsn).toBe(Lsn.format(info.baseLsn));
    expect(json.restartLsn).toBe(Lsn.format(Lsn.INVALID));
    expect(json.containerSize).toBe(512 * KiB);
    // The object itself is unchanged: bigints, and no enumerable toJSON.
    expect(typeof info.lastLsn).toBe('bigint');
    expect(Object.keys(info)).not.toContain('toJSON');
  });

  it('JSON.stringify(log.recoveryReport) works', async () => {
    const dir = scratch.fresh();
    await (await createLog(dir, { containerSize: 512 * KiB })).close();
    const log = await Log.open(dir);
    scratch.keep(log);
    expect(JSON.parse(JSON.stringify(log.recoveryReport))).toMatchObject({ mode: 'strict', tailReason: 'clean end' });
  });

  it('JSON.stringify of an error naming an LSN writes it as a hex string', async () => {
    const log = await createLog(scratch.fresh(), { containerSize: 512 * KiB });
    scratch.keep(log);
    const area = await log.createMarshallingArea({ bufferSize: 4 * KiB });
    const error = await rejectionOf(area.advanceLogBase(Lsn.create(9, 4096, 0)));
    const json = JSON.parse(JSON.stringify(error)) as Record<string, unknown>;
    expect(json).toMatchObject({ name: 'ClfsError', code: error.code, message: error.message });
    if (typeof error.lsn === 'bigint') expect(json.lsn).toBe(Lsn.format(error.lsn));
  });

  it('Lsn.replacer writes any bigint as a 16-digit hex string', () => {
    expect(JSON.stringify({ at: Lsn.create(2, 4096, 3), n: 1 }, Lsn.replacer)).toBe(
      '{"at":"0x0000000200001003","n":1}',
    );
  });
});

describeWhere(
  MISSING.tmpfs ?? (existsSync(SHM) ? undefined : 'no /dev/shm here'),
  'Log.create failing on a filesystem without direct I/O',
  () => {
    it("names the caller's path in the message and the error's path, not the temporary directory, and leaves nothing", async () => {
      const dir = path.join(SHM, `clfs-user-facing-${process.pid}`);
      const error = await rejectionOf(Log.create(dir, { containerSize: 512 * KiB }));
      expect(error.code).toBe('ERR_CLFS_DIRECT_IO_UNSUPPORTED');
      expect(error.message).not.toContain('.creating-');
      expect(error.message).toContain(dir);
      if (typeof error.path === 'string') expect(error.path.startsWith(dir)).toBe(true);
      expect(readdirSync(SHM).filter((name) => name.includes(`clfs-user-facing-${process.pid}`))).toEqual([]);
    });
  },
);
