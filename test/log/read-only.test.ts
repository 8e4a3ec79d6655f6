// Log.open(path, { readOnly: true }) (CreateLogFile with GENERIC_READ only):
// no lock, no write, a durable prefix beside a running writer, refresh(),
// and records(..., { follow: true }) on read-only and writable logs.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { Log, Lsn, type LogRecord, type MarshallingArea } from '../../lib/index.ts';
import { KiB, scratchFiles } from '../support/fixtures.ts';
import { createLog, openLog, rejectionOf, spawnLogChild, text, textOf, thrownBy } from '../support/log.ts';
import { UNDER_WINE, itWhere } from '../support/platform.ts';

const scratch = scratchFiles('clfs-read-only-');

/** A fingerprint of every file of the log: bytes and modification time. */
function fingerprint(logPath: string): string {
  const hash = createHash('sha256');
  for (const name of readdirSync(logPath).sort()) {
    const file = path.join(logPath, name);
    hash.update(`${name} ${statSync(file).mtimeMs}\n`).update(readFileSync(file));
  }
  return hash.digest('hex');
}

async function texts(area: MarshallingArea): Promise<string[]> {
  const out: string[] = [];
  for await (const r of area.records()) out.push(textOf(r.data));
  return out;
}

/** Waits until `ready()`; throws what `iteration` ended with if it ends first (a follower that failed). */
async function until(ready: () => boolean, iteration: Promise<unknown>): Promise<void> {
  let ended: { value: unknown } | undefined;
  void iteration.then(
    (value) => (ended = { value }),
    (error: unknown) => (ended = { value: error }),
  );
  while (!ready()) {
    if (ended !== undefined) throw new Error(`the follower ended: ${String(ended.value)}`, { cause: ended.value });
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** A log at a fresh path with `count` records 'r0'..', each flushed; left open. */
async function writerWith(count: number, options = {}): Promise<{ logPath: string; log: Log; area: MarshallingArea }> {
  const logPath = scratch.fresh();
  const log = await createLog(logPath, { containerSize: 512 * KiB, ...options });
  const area = await log.createMarshallingArea({ bufferSize: 4 * KiB });
  for (let i = 0; i < count; i++) await area.reserveAndAppend(text(`r${i}`), { forceFlush: true });
  return { logPath, log, area };
}

async function reader(logPath: string): Promise<{ log: Log; area: MarshallingArea }> {
  const log = await Log.open(logPath, { readOnly: true });
  return { log, area: await log.createMarshallingArea({ bufferSize: 4 * KiB }) };
}

describe('CreateLogFile with GENERIC_READ only: Log.open(path, { readOnly: true })', () => {
  it('readOnly: takes no lock: it opens beside a writer, and a writer opens beside it', async () => {
    const { logPath, log } = await writerWith(3);
    const first = await reader(logPath);
    expect(first.log.readOnly).toBe(true);
    expect(log.readOnly).toBe(false);
    expect((await rejectionOf(Log.open(logPath))).code).toBe('ERR_CLFS_LOCKED');
    await log.close();
    const second = await reader(logPath);
    const writer = await openLog(logPath);
    expect(await texts(second.area)).toEqual(['r0', 'r1', 'r2']);
    await Promise.all([writer.close(), first.log.close(), second.log.close()]);
  });

  it('readOnly: writes nothing: every file keeps its bytes and modification time, after a clean close or a crash', async () => {
    const { logPath, log } = await writerWith(5);
    await log.close();
    const before = fingerprint(logPath);
    const r = await reader(logPath);
    expect(await texts(r.area)).toEqual(['r0', 'r1', 'r2', 'r3', 'r4']);
    await r.log.refresh();
    await r.log.close();
    expect(fingerprint(logPath)).toBe(before);

    // A writer killed with records past the metadata's tail (nothing synced since).
    const crashed = scratch.fresh();
    const child = spawnLogChild(
      `import { Log } from 'CLFS';
       const log = await Log.create(ARGS.path, { containerSize: 512 * 1024 });
       const area = await log.createMarshallingArea({ bufferSize: 4096 });
       for (let i = 0; i < 20; i++) await area.reserveAndAppend(new TextEncoder().encode('k' + i), { forceFlush: true });
       console.log('written');
       setInterval(() => {}, 1000);`,
      { path: crashed },
    );
    await child.waitForLine('written');
    child.process.kill('SIGKILL');
    await child.exited;
    const image = fingerprint(crashed);
    const after = await reader(crashed);
    const seen = await texts(after.area);
    // The last flush is vouched for by no later block: it waits for a writer's open.
    expect(seen).toEqual(Array.from({ length: seen.length }, (_, i) => `k${i}`));
    expect(seen.length).toBeGreaterThanOrEqual(19);
    await after.log.close();
    expect(fingerprint(crashed)).toBe(image);
    const recovered = await openLog(crashed);
    expect((await texts(await recovered.createMarshallingArea({ bufferSize: 4 * KiB }))).length).toBe(20);
    await recovered.close();
  });

  it('readOnly: every writing call is ERR_CLFS_READ_ONLY, and reads work', async () => {
    const { logPath, log, area: writerArea } = await writerWith(2);
    await writerArea.writeRestartArea(text('checkpoint'));
    await writerArea.reserveAndAppend(text('after'), { forceFlush: true });
    await log.close();
    const { log: ro, area } = await reader(logPath);
    const lsn = ro.information().lastLsn;
    const calls: [string, () => unknown][] = [
      ['reserveAndAppend', () => area.reserveAndAppend(text('x'))],
      ['appendBatch', () => area.appendBatch([text('x')])],
      ['allocReservedLog', () => area.allocReservedLog(1, 10)],
      ['freeReservedLog', () => area.freeReservedLog(1, 10)],
      ['flushToLsn', () => area.flushToLsn()],
      ['flushBuffers', () => area.flushBuffers()],
      ['writeRestartArea', () => area.writeRestartArea(text('x'))],
      ['advanceLogBase', () => area.advanceLogBase(lsn)],
      ['truncateLog', () => area.truncateLog(lsn)],
      ['addContainers', () => ro.addContainers(1)],
      ['removeContainers', () => ro.removeContainers(1)],
      ['setPolicy', () => ro.setPolicy({ autoGrow: true })],
      ['setArchiveTail', () => ro.setArchiveTail(lsn)],
      ['prepareArchive', () => ro.prepareArchive()],
      ['on', () => ro.on('advance-tail', () => undefined)],
    ];
    for (const [name, call] of calls) {
      let error: unknown;
      try {
        await call();
      } catch (e) {
        error = e;
      }
      expect((error as { code?: string } | undefined)?.code, name).toBe('ERR_CLFS_READ_ONLY');
    }
    expect(textOf((await area.readRestartArea()).data)).toBe('checkpoint');
    expect(await texts(area)).toEqual(['r0', 'r1', 'after']);
    const info = ro.information();
    expect(info.restartLsn).not.toBe(Lsn.INVALID);
    expect(JSON.parse(JSON.stringify(info)).lastLsn).toMatch(/^0x/);
    expect(ro.policy().autoGrow).toBe(false);
    await ro.close();
    await ro.close();
    expect(thrownBy(() => ro.information()).code).toBe('ERR_CLFS_CLOSED');
  });

  it('readOnly: bad options and paths are typed errors', async () => {
    expect((await rejectionOf(Log.open(scratch.fresh(), { readOnly: true }))).code).toBe('ERR_CLFS_NOT_FOUND');
    // @ts-expect-error: a string is not a boolean
    expect((await rejectionOf(Log.open(scratch.fresh(), { readOnly: 'yes' }))).code).toBe('ERR_INVALID_ARG_TYPE');
    const restoring = Log.restoreArchive(scratch.fresh(), [], () => new Uint8Array(), { readOnly: true });
    expect((await rejectionOf(restoring)).code).toBe('ERR_INVALID_ARG_VALUE');
    const { logPath, log } = await writerWith(1);
    const { log: ro, area } = await reader(logPath);
    // @ts-expect-error: follow is a boolean
    await expect(area.records(undefined, 'forward', { follow: 1 }).next()).rejects.toMatchObject({
      code: 'ERR_INVALID_ARG_TYPE',
    });
    await expect(area.records(undefined, 'previous', { follow: true }).next()).rejects.toMatchObject({
      code: 'ERR_INVALID_ARG_VALUE',
    });
    await expect(area.records(undefined, 'forward', { pollInterval: 0 }).next()).rejects.toMatchObject({
      code: 'ERR_OUT_OF_RANGE',
    });
    await Promise.all([log.close(), ro.close()]);
  });
});

describe('refresh and follow', () => {
  it('refresh: sees what the writer made durable since, a flush behind until a later write or the close vouches for it', async () => {
    const { logPath, log, area } = await writerWith(3);
    const r = await reader(logPath);
    const initially = await texts(r.area);
    expect(['r0', 'r1', 'r2'].slice(0, initially.length)).toEqual(initially);
    expect(initially.length).toBeGreaterThanOrEqual(2);
    for (let i = 3; i < 10; i++) await area.reserveAndAppend(text(`r${i}`), { forceFlush: true });
    expect(await r.log.refresh()).toBe(true);
    const later = await texts(r.area);
    expect(later.length).toBeGreaterThanOrEqual(9);
    // Appended, not flushed: never seen.
    await area.reserveAndAppend(text('unflushed'));
    await r.log.refresh();
    expect(await texts(r.area)).not.toContain('unflushed');
    await log.close();
    await r.log.refresh();
    expect((await texts(r.area)).slice(-2)).toEqual(['r9', 'unflushed']);
    expect(await r.log.refresh()).toBe(false);
    await r.log.close();
  });

  it('follow: a read-only log yields each record a writer in another process makes durable, in order, and stops on abort', async () => {
    const logPath = scratch.fresh();
    await (await createLog(logPath, { containerSize: 512 * KiB, containers: 4 })).close();
    const r = await reader(logPath);
    const child = spawnLogChild(
      `import { Log } from 'CLFS';
       const log = await Log.open(ARGS.path);
       const area = await log.createMarshallingArea({ bufferSize: 4096 });
       for (let i = 0; i < 300; i++) {
         await area.reserveAndAppend(new TextEncoder().encode('f' + i), { forceFlush: i % 3 === 0 });
         if (i % 50 === 0) await area.writeRestartArea(new TextEncoder().encode('cp' + i), { newBaseLsn: undefined });
       }
       await log.close();
       console.log('closed');`,
      { path: logPath },
    );
    const controller = new AbortController();
    const seen: string[] = [];
    const following = (async () => {
      for await (const record of r.area.records(undefined, 'forward', {
        follow: true,
        pollInterval: 2,
        signal: controller.signal,
      })) {
        seen.push(textOf(record.data));
        if (seen.length === 300) controller.abort();
      }
    })();
    await expect(following).rejects.toMatchObject({ name: 'AbortError' });
    expect(seen).toEqual(Array.from({ length: 300 }, (_, i) => `f${i}`));
    await child.waitForLine('closed');
    await r.log.close();
  });

  it('follow: on a log open for writing, a record is yielded once a flush made it durable, never forcing one', async () => {
    const { log, area } = await writerWith(1);
    const reading = await log.createMarshallingArea({ bufferSize: 4 * KiB });
    const seen: LogRecord[] = [];
    const iterator = reading.records(undefined, 'forward', { follow: true })[Symbol.asyncIterator]();
    seen.push((await iterator.next()).value as LogRecord);
    const next = iterator.next();
    await area.reserveAndAppend(text('pending'));
    const raced = await Promise.race([next.then(() => 'yielded'), new Promise((r) => setTimeout(r, 50, 'waiting'))]);
    expect(raced).toBe('waiting');
    expect(log.information().lastFlushedLsn).toBe(seen[0]!.lsn);
    await area.flushBuffers();
    expect(textOf(((await next).value as LogRecord).data)).toBe('pending');
    // Handled from the start: it rejects while close() runs.
    const pending = expect(iterator.next()).rejects.toMatchObject({ code: 'ERR_CLFS_CLOSED' });
    await log.close();
    await pending;
  });

  it('follow and refresh racing close: a following read-only iteration ends with ERR_CLFS_CLOSED, refreshes made with close settle, later ones are refused', async () => {
    const { logPath, log } = await writerWith(2);
    const r = await reader(logPath);
    const iterator = r.area.records(undefined, 'forward', { follow: true, pollInterval: 1 })[Symbol.asyncIterator]();
    expect(textOf(((await iterator.next()).value as LogRecord).data)).toBe('r0');
    // Waiting at the end (r1 is the unvouched last flush), polling every millisecond.
    const pending = expect(iterator.next()).rejects.toMatchObject({ code: 'ERR_CLFS_CLOSED' });
    await new Promise((resolve) => setTimeout(resolve, 20));
    const refreshes = [r.log.refresh(), r.log.refresh()];
    const closing = r.log.close();
    await pending;
    for (const refresh of refreshes)
      await refresh.catch((error: { code?: string }) => expect(error.code).toBe('ERR_CLFS_CLOSED'));
    await closing;
    await expect(r.log.refresh()).rejects.toMatchObject({ code: 'ERR_CLFS_CLOSED' });
    await log.close();
  });

  it('follow: a truncation that drops a record the iteration gave ends it with ERR_CLFS_TRUNCATED', async () => {
    const { logPath, log, area } = await writerWith(6);
    const keep = log.information().lastLsn;
    for (let i = 6; i < 12; i++) await area.reserveAndAppend(text(`r${i}`), { forceFlush: true });
    await area.reserveAndAppend(text('vouch'), { forceFlush: true });
    const r = await reader(logPath);
    const seen: string[] = [];
    const following = (async () => {
      for await (const record of r.area.records(undefined, 'forward', { follow: true, pollInterval: 2 })) {
        seen.push(textOf(record.data));
      }
    })();
    await until(() => seen.length >= 12, following);
    await area.truncateLog(keep);
    await area.reserveAndAppend(text('new'), { forceFlush: true });
    await expect(following).rejects.toMatchObject({ code: 'ERR_CLFS_TRUNCATED' });
    await r.log.refresh();
    expect(r.log.information().lastLsn).toBe(keep);
    expect(await texts(r.area)).toEqual(['r0', 'r1', 'r2', 'r3', 'r4', 'r5']);
    await log.close();
    await r.log.refresh();
    expect((await texts(r.area)).at(-1)).toBe('new');
    await r.log.close();
  });

  it('follow: a reader keeps up while the writer laps small containers, moving the base; one that lags is told ERR_CLFS_START_OF_LOG', async () => {
    const { logPath, log, area } = await writerWith(2, { containers: 3 });
    const r = await reader(logPath);
    const lagging = await reader(logPath);
    const firstOfLagging = await lagging.area.records(undefined, 'forward', { follow: true, pollInterval: 1 }).next();
    expect(textOf(firstOfLagging.value!.data)).toBe('r0');
    const seen: string[] = [];
    const controller = new AbortController();
    const following = (async () => {
      for await (const record of r.area.records(undefined, 'forward', {
        follow: true,
        pollInterval: 1,
        signal: controller.signal,
      })) {
        seen.push(textOf(record.data));
      }
    })().catch((error: unknown) => error);
    const big = new Uint8Array(3000);
    let total = 2;
    for (let round = 0; round < 12; round++) {
      let last = Lsn.INVALID;
      for (let i = 0; i < 40; i++) {
        big.set(text(`w${total++}`));
        last = (await area.reserveAndAppend(big, { forceFlush: true })).lsn;
      }
      // Keep the reader within reach: wait for it before the base passes it.
      await until(() => seen.length >= total - 1, following);
      await area.advanceLogBase(last);
    }
    await area.reserveAndAppend(text('end'), { forceFlush: true });
    await area.reserveAndAppend(text('vouch'), { forceFlush: true });
    await until(() => seen.length >= total + 1, following);
    controller.abort();
    expect(await following).toMatchObject({ name: 'AbortError' });
    const expected = ['r0', 'r1', ...Array.from({ length: total - 2 }, (_, i) => `w${i + 2}`)];
    expect(seen.map((s) => (s.includes('\0') ? s.slice(0, s.indexOf('\0')) : s))).toEqual([...expected, 'end']);
    await lagging.log.refresh();
    await expect(lagging.area.readLogRecord(firstOfLagging.value!.lsn, 'forward')).rejects.toMatchObject({
      code: 'ERR_CLFS_START_OF_LOG',
    });
    await Promise.all([log.close(), r.log.close(), lagging.log.close()]);
  }, 180_000);

  // Under wine a file deleted while another handle has it open keeps its
  // name until that handle closes (Windows' delete-pending), so the writer's
  // re-add meets it: EEXIST. Windows 10 1809 on deletes with POSIX semantics
  // on NTFS; not tried there (issue 12: no Windows machine).
  itWhere(
    UNDER_WINE
      ? "wine: a deleted file a reader holds open keeps its name, so the writer's re-add is EEXIST"
      : undefined,
    'refresh: a container removed and added again between two refreshes (same count, a new file under the old name) is read anew, not through the old file',
    async () => {
      const { logPath, log, area } = await writerWith(0, { containers: 3 });
      const r = await reader(logPath);
      const big = new Uint8Array(3000);
      let n = 0;
      const write = async (count: number): Promise<Lsn> => {
        let last = Lsn.INVALID;
        for (let i = 0; i < count; i++) {
          big.set(text(`b${n++}`));
          last = (await area.reserveAndAppend(big, { forceFlush: true })).lsn;
        }
        return last;
      };
      // Fill all three files (128 blocks of 4 KiB each), the reader reading
      // them all: it holds every file open.
      await write(300);
      await r.log.refresh();
      expect((await texts(r.area)).length).toBeGreaterThanOrEqual(299);
      // Move the base on and write until the last file is free: then remove
      // it, and add it again (the same count, a new file under its name).
      const before = log.information().totalContainers;
      for (let removed = false; !removed;) {
        await area.advanceLogBase(await write(40));
        removed = await log.removeContainers(1).then(
          () => true,
          (error: { code?: string }) => (error.code === 'ERR_CLFS_CONTAINER_ACTIVE' ? false : Promise.reject(error)),
        );
      }
      await log.addContainers(1);
      expect(log.information().totalContainers).toBe(before);
      const from = n;
      // From a new base, 300 blocks: they reach into all three files, the new one too.
      await area.advanceLogBase(await write(1));
      await write(300);
      await area.reserveAndAppend(text('vouch'), { forceFlush: true });
      expect(await r.log.refresh()).toBe(true);
      const seen = (await texts(r.area)).map((s) => (s.includes('\0') ? s.slice(0, s.indexOf('\0')) : s));
      // From the new base on, every record, the ones in the new file included
      // ('vouch', the last flush, waits for a later block to vouch for it).
      expect(seen).toEqual(Array.from({ length: n - from }, (_, i) => `b${from + i}`));
      await Promise.all([log.close(), r.log.close()]);
    },
  );
});
