// Tier 3, real ENOSPC (RELIABILITY.md: small loop file systems): a 20 MiB
// ext4 image loop-mounted. Creating a log whose containers do not fit fails
// with a typed error and leaves nothing behind; a log that fits, with
// autoGrow, fails the append that needs a container the file system cannot
// hold with a typed error, stays readable, reopens, and takes appends again
// once its base moves. Needs root and loop devices; skipped with the reason
// otherwise.
import { existsSync } from 'node:fs';
import path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { ClfsError, Log, Lsn } from '../../lib/index.ts';
import { LoopMount, announceSkip } from '../support/faults.ts';
import { containerFiles, readAll } from '../support/log.ts';
import { ENGINES, seededBytes } from '../support/native.ts';
import { KiB, MiB } from '../support/fixtures.ts';

const made = LoopMount.create(20);
const mount = typeof made === 'string' ? undefined : made;
const SKIP = typeof made === 'string' ? made : undefined;
announceSkip('real ENOSPC tier', SKIP);
afterAll(() => mount?.cleanup());

/** What a typed ENOSPC looks like (the native layer's system error). */
function expectNoSpace(error: unknown, context: string): void {
  expect(error, context).toBeInstanceOf(ClfsError);
  expect((error as ClfsError).code, `${context}: ${String(error)}`).toBe('ENOSPC');
  expect((error as ClfsError).errno, context).toBe(-28);
}

describe.skipIf(SKIP !== undefined)(`ENOSPC on a 20 MiB loop-mounted ext4${SKIP ? ` (skipped: ${SKIP})` : ''}`, () => {
  it.each(ENGINES)(
    'Log.create whose containers do not fit fails with a typed ENOSPC and leaves no log, no temporary directory and no space used ($engine)',
    async ({ engine }) => {
      const m = mount!;
      const free = m.freeBytes();
      const logPath = path.join(m.dir, `too-big-${engine}`);
      const error = await Log.create(logPath, { containerSize: 8 * MiB, containers: 4, engine }).then(
        (log) => log.close().then(() => expect.fail('a 32 MiB log was created on a 20 MiB file system')),
        (e: unknown) => e,
      );
      expectNoSpace(error, 'Log.create');
      expect(m.entries(), 'what Log.create left behind').toEqual([]);
      expect(m.freeBytes(), 'space the failed create still holds').toBeGreaterThanOrEqual(free - 64 * KiB);
      // And the name is free: a log that fits can be made there.
      const log = await Log.create(logPath, { containerSize: 2 * MiB, containers: 2, engine });
      await log.close();
      await Log.delete(logPath);
    },
  );

  it.each(ENGINES)(
    'with autoGrow, the append needing a container that does not fit fails with a typed ENOSPC; the log stays readable, reopens, and appends again after a base move ($engine)',
    async ({ engine }) => {
      const m = mount!;
      const logPath = path.join(m.dir, `grows-${engine}`);
      const log = await Log.create(logPath, {
        containerSize: 4 * MiB,
        containers: 2,
        autoGrow: { maxContainers: 8 },
        engine,
      });
      const acked: { lsn: Lsn; data: Uint8Array }[] = [];
      let failure: unknown;
      try {
        const area = await log.createMarshallingArea({ bufferSize: 64 * KiB, flushIntervalMs: 0 });
        for (let i = 0; i < 2000 && failure === undefined; i++) {
          const data = seededBytes(60_000, i + 1);
          try {
            const { lsn } = await area.reserveAndAppend(data, { forceFlush: true });
            acked.push({ lsn: lsn!, data });
          } catch (error) {
            failure = error;
          }
        }
        expectNoSpace(failure, `the append after ${acked.length} records`);
        const info = log.information();
        expect(info.totalContainers, 'containers added before the file system filled').toBeGreaterThan(2);
        expect(info.lastFlushedLsn).toBe(acked[acked.length - 1]!.lsn);
        // Not fail-stopped: nothing was written wrong. Another append fails the same way.
        const again = await area.reserveAndAppend(seededBytes(60_000, 99_999), { forceFlush: true }).catch((e) => e);
        expectNoSpace(again, 'the next append');
        // Readable: every record acknowledged, byte-exact.
        const read = await readAll(log, 64 * KiB);
        expect(read.map((r) => r.lsn)).toEqual(acked.map((a) => a.lsn));
        expect(read.every((r, i) => Buffer.from(r.data).equals(Buffer.from(acked[i]!.data)))).toBe(true);
        const files = containerFiles(logPath).length;
        if (files > info.totalContainers) {
          console.warn(
            `[observation] ${engine}: the container that could not be made is left on disk (${files} files for ${info.totalContainers} containers) until the next growth attempt removes it`,
          );
        }
      } finally {
        await log.close();
      }

      // Reopens with everything; after a base move, containers recycle and appends continue.
      const reopened = await Log.open(logPath, { engine });
      try {
        const read = await readAll(reopened, 64 * KiB);
        expect(read.map((r) => r.lsn)).toEqual(acked.map((a) => a.lsn));
        const area = await reopened.createMarshallingArea({ bufferSize: 64 * KiB, flushIntervalMs: 0 });
        await area.advanceLogBase(acked[acked.length - 1]!.lsn);
        for (let i = 0; i < 80; i++) {
          const data = seededBytes(60_000, 50_000 + i);
          const { lsn } = await area.reserveAndAppend(data, { forceFlush: true });
          acked.push({ lsn: lsn!, data });
        }
      } finally {
        await reopened.close();
      }
      const last = await Log.open(logPath, { engine });
      try {
        const read = await readAll(last, 64 * KiB);
        const tail = acked.slice(acked.length - 81);
        expect(read.map((r) => r.lsn)).toEqual(tail.map((a) => a.lsn));
      } finally {
        await last.close();
      }
      await Log.delete(logPath);
      expect(existsSync(logPath)).toBe(false);
    },
  );

  it('addContainers beyond the free space fails with a typed ENOSPC and the log keeps what it had', async () => {
    const m = mount!;
    const logPath = path.join(m.dir, 'add');
    const log = await Log.create(logPath, { containerSize: 4 * MiB, containers: 2 });
    try {
      const area = await log.createMarshallingArea({ bufferSize: 16 * KiB, flushIntervalMs: 0 });
      const { lsn } = await area.reserveAndAppend(seededBytes(1000, 1), { forceFlush: true });
      const error = await log.addContainers(4).catch((e: unknown) => e);
      expectNoSpace(error, 'addContainers(4)');
      const added = log.information().totalContainers;
      expect(added).toBeGreaterThanOrEqual(2);
      expect(added).toBeLessThan(6);
      const next = await area.reserveAndAppend(seededBytes(1000, 2), { forceFlush: true });
      expect(next.lsn! > lsn!).toBe(true);
      await log.close();
      const reopened = await Log.open(logPath);
      try {
        expect(reopened.information().totalContainers).toBe(added);
        expect((await readAll(reopened)).map((r) => r.lsn)).toEqual([lsn, next.lsn]);
      } finally {
        await reopened.close();
      }
    } finally {
      await log.close();
    }
    await Log.delete(logPath);
  });
});
