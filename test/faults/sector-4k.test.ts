// A 4096-byte-sector device (RELIABILITY.md: small loop file systems): an
// ext4 image on a loop device with 4096-byte logical sectors
// (`losetup -b 4096`). statx reports 4096-byte direct-I/O alignment, a log
// there lays itself out in 4096-byte sectors, and no direct request to it is
// ever smaller than or misaligned to 4096 bytes: a child on the thread engine
// is traced with strace and every pwritev/pread64 (and their kin) on the
// mount is checked. Needs root, loop devices and strace; skipped with the
// reason otherwise.
import { mkdirSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { DirectFile, Log } from '../../lib/index.ts';
import { LoopMount, announceSkip, releaseChildLibrary, runTraced, straceSkipReason } from '../support/faults.ts';
import { KiB } from '../support/fixtures.ts';
import { readAll } from '../support/log.ts';
import { ENGINES, seededBytes } from '../support/native.ts';

const made = LoopMount.create(64, { sectorSize: 4096 });
const mount = typeof made === 'string' ? undefined : made;
const SKIP = typeof made === 'string' ? made : undefined;
const STRACE_SKIP = SKIP ?? straceSkipReason();
announceSkip('4096-byte-sector device tier', SKIP);
if (SKIP === undefined) announceSkip('4096-byte-sector device: the strace trace of every request', STRACE_SKIP);
afterAll(() => {
  mount?.cleanup();
  releaseChildLibrary();
});

/** Creates a log on the device, appends every way, grows, moves the base, reads, reopens and reads again. */
const CHILD = `
import { Log } from 'CLFS';
const say = (line) => process.stdout.write(line + '\\n');
for (const durability of ['dsync', 'fdatasync']) {
  const p = ARGS.dir + '/log-' + durability;
  let log = await Log.create(p, { containerSize: 512 * 1024, containers: 2, autoGrow: { maxContainers: 3 }, durability });
  say('sector ' + log.information().sectorSize);
  const a = await log.createMarshallingArea({ bufferSize: 5000, flushIntervalMs: 0 });
  const b = await log.createMarshallingArea({ bufferSize: 65536, flushIntervalMs: 0 });
  say('buffer ' + a.bufferSize);
  let last;
  for (let i = 0; i < 40; i++) ({ lsn: last } = await a.reserveAndAppend(new Uint8Array(1 + i * 37).fill(i), { forceFlush: true }));
  await Promise.all(Array.from({ length: 16 }, (_, i) => a.reserveAndAppend(new Uint8Array(7 + i), { forceFlush: true })));
  await b.appendBatch(Array.from({ length: 30 }, (_, i) => new Uint8Array(3000).fill(i)), { forceFlush: true });
  await b.writeRestartArea(new TextEncoder().encode('checkpoint'), { newBaseLsn: last });
  for (let i = 0; i < 18; i++) await b.reserveAndAppend(new Uint8Array(60000).fill(i), { forceFlush: i % 2 === 0 });
  let n = 0;
  for await (const r of b.records()) n++;
  await log.close();
  log = await Log.open(p, { durability });
  const c = await log.createMarshallingArea({ bufferSize: 65536, flushIntervalMs: 0 });
  let m = 0;
  for await (const r of c.records()) m++;
  say('containers ' + log.information().totalContainers);
  await log.close();
  say('records ' + n + ' ' + m);
}
`;

/** One traced request: the call, the file, its length and offset. */
interface Request {
  call: string;
  file: string;
  length: number;
  offset: number;
}

/** Parses strace -y -s 1 lines of pwritev/pwrite64/pread64/preadv (and the v2 forms) on files under `dir`. */
function requestsIn(lines: string[], dir: string): Request[] {
  const out: Request[] = [];
  for (const line of lines) {
    const call = /^(pwritev2?|preadv2?|pwrite64|pread64)\((\d+)<([^>]*)>, (.*)\) += (-?\d+)/.exec(line);
    if (call === null || !call[3]!.startsWith(dir)) continue;
    const [, name, , file, args] = call;
    if (name === 'pwrite64' || name === 'pread64') {
      const m = /, (\d+), (\d+)$/.exec(args!);
      if (m === null) throw new Error(`unparsed: ${line}`);
      out.push({ call: name, file: file!, length: Number(m[1]), offset: Number(m[2]) });
    } else {
      const lengths = [...args!.matchAll(/iov_len=(\d+)/g)].map((m) => Number(m[1]));
      const m = /\], (\d+), (\d+)(, [^,]*)?$/.exec(args!);
      if (m === null || lengths.length !== Number(m[1])) throw new Error(`unparsed: ${line}`);
      out.push({ call: name!, file: file!, length: lengths.reduce((a, b) => a + b, 0), offset: Number(m[2]) });
    }
  }
  return out;
}

describe.skipIf(SKIP !== undefined)(`a 4096-byte-sector loop device${SKIP ? ` (skipped: ${SKIP})` : ''}`, () => {
  it('has 4096-byte logical sectors, and statx reports 4096-byte direct-I/O alignment for files on it', async () => {
    const m = mount!;
    const device = path.basename(m.device!);
    expect(readFileSync(`/sys/block/${device}/queue/logical_block_size`, 'utf8').trim()).toBe('4096');
    const file = await DirectFile.open(path.join(m.dir, 'probe'), { create: true });
    try {
      expect(file.direct).toBe(true);
      expect(file.alignmentSource).toBe('statx');
      expect(file.offsetAlignment).toBe(4096);
      expect(file.logicalSectorSize).toBe(4096);
    } finally {
      await file.close();
    }
  });

  it.each(ENGINES)(
    'a log there has sectorSize 4096, 4096-byte-multiple buffers, and reads back after reopening ($engine)',
    async ({ engine }) => {
      const logPath = path.join(mount!.dir, `log-${engine}`);
      const log = await Log.create(logPath, { containerSize: 512 * KiB, containers: 2, engine });
      const records = Array.from({ length: 50 }, (_, i) => seededBytes(1 + i * 97, i));
      try {
        expect(log.information().sectorSize).toBe(4096);
        expect(log.information().direct).toBe(true);
        const area = await log.createMarshallingArea({ bufferSize: 5000, flushIntervalMs: 0 });
        expect(area.bufferSize).toBe(8192);
        for (const r of records) await area.reserveAndAppend(r, { forceFlush: true });
      } finally {
        await log.close();
      }
      const reopened = await Log.open(logPath, { engine });
      try {
        const read = await readAll(reopened);
        expect(read.length).toBe(records.length);
        expect(read.every((r, i) => Buffer.from(r.data).equals(Buffer.from(records[i]!)))).toBe(true);
      } finally {
        await reopened.close();
      }
      await Log.delete(logPath);
    },
  );

  it.skipIf(STRACE_SKIP !== undefined)(
    `no direct request to it is ever smaller than or misaligned to 4096 bytes: every pwritev/pread64 traced (thread engine)${STRACE_SKIP && !SKIP ? ` (skipped: ${STRACE_SKIP})` : ''}`,
    async () => {
      const m = mount!;
      const dir = path.join(m.dir, 'traced');
      const traceDir = path.join(m.root, 'trace');
      mkdirSync(traceDir);
      mkdirSync(dir);
      const calls = 'pwritev,pwritev2,pwrite64,preadv,preadv2,pread64';
      const result = await runTraced(CHILD, { dir }, [
        '-f',
        '-ff',
        '-qq',
        '-y',
        '-s',
        '1',
        '-o',
        path.join(traceDir, 't'),
        '-e',
        `trace=${calls}`,
      ]);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toMatch(/^sector 4096$/m);
      expect(result.stdout).toMatch(/^buffer 8192$/m);
      expect(result.stdout).toMatch(/^containers 3$/m);
      for (const [, n, m2] of result.stdout.matchAll(/^records (\d+) (\d+)$/gm)) {
        expect(Number(n)).toBeGreaterThan(0);
        expect(m2).toBe(n);
      }
      const lines = readdirSync(traceDir).flatMap((f) => readFileSync(path.join(traceDir, f), 'utf8').split('\n'));
      const requests = requestsIn(lines, dir);
      const writes = requests.filter((r) => r.call.startsWith('pwrite'));
      const reads = requests.filter((r) => r.call.startsWith('pread'));
      const bad = requests.filter((r) => r.length % 4096 !== 0 || r.offset % 4096 !== 0 || r.length === 0);
      console.log(
        `4Kn trace: ${writes.length} writes (${Math.min(...writes.map((r) => r.length))}..${Math.max(...writes.map((r) => r.length))} bytes), ${reads.length} reads on the device; calls: ${[...new Set(requests.map((r) => r.call))].join(', ')}`,
      );
      expect(writes.length).toBeGreaterThan(50);
      expect(reads.length).toBeGreaterThan(5);
      expect(bad.slice(0, 5), `${bad.length} requests not in whole 4096-byte sectors`).toEqual([]);
    },
  );
});
