// The addon in worker threads: each thread loads its own instance, with its
// own pin accounting; terminating a thread with I/O in flight is survivable.
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';

import { afterEach, describe, expect, it } from 'vitest';

import { alignedBuffer, DirectFile, memoryInfo, releaseBuffer } from '../../lib/index.ts';
import { DIST_ENTRY, runChild } from '../support/helpers.ts';
import { scratchFiles } from '../support/fixtures.ts';
import { describeEngines } from '../support/native.ts';
import { itWhere, MISSING } from '../support/platform.ts';

const DIST_URL = pathToFileURL(DIST_ENTRY).href;

const scratch = scratchFiles('clfs-worker-');
const newPath = (): string => scratch.fresh('file');

/**
 * Runs `body` (the inside of an async function, with `clfs` the library and
 * `data` the workerData) in a worker thread; resolves with what it returns.
 */
function inWorker<T>(body: string, data: unknown): Promise<T> {
  const code = `
    const { parentPort, workerData: data } = require('node:worker_threads');
    (async () => {
      const clfs = await import(${JSON.stringify(DIST_URL)});
      ${body}
    })().then(
      (result) => parentPort.postMessage({ ok: true, result }),
      (error) => parentPort.postMessage({ ok: false, error: { message: error.message, code: error.code, stack: error.stack } }),
    );
  `;
  return new Promise((resolve, reject) => {
    const worker = new Worker(code, { eval: true, workerData: data });
    let reply: { ok: boolean; result?: T; error?: unknown } | undefined;
    worker.on('message', (message) => (reply = message));
    worker.on('error', reject);
    worker.on('exit', (code) => {
      if (code !== 0) reject(new Error(`the worker exited with code ${code}`));
      else if (!reply) reject(new Error('the worker exited without replying'));
      else if (!reply.ok) reject(Object.assign(new Error('the worker failed'), { cause: reply.error }));
      else resolve(reply.result as T);
    });
  });
}

const ROUND_TRIP = `
  const { DirectFile, alignedBuffer } = clfs;
  const file = await DirectFile.open(data.path, { create: true, engine: data.engine });
  const blocks = [];
  for (let i = 0; i < data.blocks; i++) {
    const block = alignedBuffer(4096);
    for (let j = 0; j < block.length; j++) block[j] = (data.seed + i * 13 + j * 7) & 0xff;
    blocks.push(block);
  }
  const written = await Promise.all(blocks.map((block, i) => file.write(i * 4096, block)));
  const back = alignedBuffer(data.blocks * 4096);
  const read = await file.read(0, back);
  let mismatches = 0;
  for (let i = 0; i < data.blocks; i++) {
    for (let j = 0; j < 4096; j++) if (back[i * 4096 + j] !== blocks[i][j]) { mismatches++; break; }
  }
  const result = { direct: file.direct, engine: file.engine, written, read, mismatches };
  await file.close();
  return result;
`;

interface RoundTrip {
  direct: boolean;
  engine: string;
  written: number[];
  read: number;
  mismatches: number;
}

describeEngines("engine '$engine' in worker threads", ({ engine, reported }) => {
  it('a worker loads the addon and does an aligned write/read round trip with direct I/O', async () => {
    const result = await inWorker<RoundTrip>(ROUND_TRIP, { path: newPath(), engine, blocks: 8, seed: 1 });
    expect(result).toEqual({
      direct: true,
      engine: reported,
      written: Array(8).fill(4096),
      read: 8 * 4096,
      mismatches: 0,
    });
  });

  it('two workers at once, each with its own file, both round-trip their data', async () => {
    const [a, b] = await Promise.all([
      inWorker<RoundTrip>(ROUND_TRIP, { path: newPath(), engine, blocks: 64, seed: 2 }),
      inWorker<RoundTrip>(ROUND_TRIP, { path: newPath(), engine, blocks: 64, seed: 3 }),
    ]);
    for (const result of [a, b]) {
      expect(result.direct).toBe(true);
      expect(result.engine).toBe(reported);
      expect(result.written).toEqual(Array(64).fill(4096));
      expect(result.read).toBe(64 * 4096);
      expect(result.mismatches).toBe(0);
    }
  });

  it('a worker and the main thread do I/O on their own files at the same time', async () => {
    const file = await DirectFile.open(newPath(), { create: true, engine });
    try {
      expect(file.direct).toBe(true);
      const data = alignedBuffer(64 * 4096).fill(0x5c);
      const [result] = await Promise.all([
        inWorker<RoundTrip>(ROUND_TRIP, { path: newPath(), engine, blocks: 64, seed: 4 }),
        file.write(0, data),
      ]);
      expect(result.mismatches).toBe(0);
      expect(result.direct).toBe(true);
      const back = alignedBuffer(64 * 4096);
      expect(await file.read(0, back)).toBe(64 * 4096);
      expect(back.every((byte) => byte === 0x5c)).toBe(true);
    } finally {
      await file.close();
    }
  });

  it('a worker cannot open a file the main thread holds: ERR_CLFS_LOCKED', async () => {
    const filePath = newPath();
    const file = await DirectFile.open(filePath, { create: true, engine });
    try {
      expect(file.direct).toBe(true);
      const code = await inWorker<string>(
        `
        try {
          const file = await clfs.DirectFile.open(data.path, { engine: data.engine });
          await file.close();
          return 'opened';
        } catch (error) {
          return error.code;
        }
        `,
        { path: filePath, engine },
      );
      expect(code).toBe('ERR_CLFS_LOCKED');
    } finally {
      await file.close();
    }
  });
});

describe('pinned memory in worker threads', () => {
  const pinned: Uint8Array[] = [];
  afterEach(() => {
    for (const buffer of pinned.splice(0)) releaseBuffer(buffer);
  });

  it("a worker's pin accounting is its own, separate from the main thread's", async () => {
    const page = memoryInfo().pageSize;
    pinned.push(alignedBuffer(3 * page, { pool: 'nonPaged' }));
    const mainBefore = memoryInfo();
    const worker = await inWorker<{ atStart: number; afterPin: number; buffers: number; processLocked: number | null }>(
      `
      const { alignedBuffer, memoryInfo } = clfs;
      const atStart = memoryInfo().pinnedBytes;
      const buffer = alignedBuffer(2 * data.page, { pool: 'nonPaged' });
      const info = memoryInfo();
      return { atStart, afterPin: info.pinnedBytes, buffers: info.pinnedBuffers, processLocked: info.processLockedBytes, length: buffer.length };
      `,
      { page },
    );
    expect(worker.atStart).toBe(0);
    expect(worker.afterPin).toBe(2 * page);
    expect(worker.buffers).toBe(1);
    expect(memoryInfo().pinnedBytes).toBe(mainBefore.pinnedBytes);
    expect(memoryInfo().pinnedBuffers).toBe(mainBefore.pinnedBuffers);
    if (MISSING.processLocked === undefined) {
      // VmLck is the whole process's: the main thread's pins and the worker's.
      expect(worker.processLocked).toBeGreaterThanOrEqual(mainBefore.pinnedBytes + 2 * page);
    }
  });

  itWhere(MISSING.processLocked, "a worker's pinned pages are unlocked when the worker exits", async () => {
    const before = memoryInfo().processLockedBytes!;
    const page = memoryInfo().pageSize;
    const lockedInWorker = await inWorker<number>(
      `
      globalThis.kept = clfs.alignedBuffer(4 * data.page, { pool: 'nonPaged' });
      return clfs.memoryInfo().processLockedBytes;
      `,
      { page },
    );
    expect(lockedInWorker).toBe(before + 4 * page);
    expect(memoryInfo().processLockedBytes).toBe(before);
  });
});

describeEngines("terminating a worker with I/O in flight (engine '$engine', child process)", ({ engine }) => {
  it('does not crash the process, and releases the lock on the worker’s file (5 workers in turn)', async () => {
    // Each worker keeps 64 small writes in flight without end (durability
    // 'none', so completions stream back as fast as they can) and is
    // terminated in the middle of that; then the child opens the worker's file
    // itself, which needs the worker's lock to be gone.
    const child = await runChild(
      `
      import { Worker } from 'node:worker_threads';
      import { DirectFile, alignedBuffer } from 'CLFS';
      const [dir, engine] = process.argv.slice(1);
      const report = { started: [], exitCodes: [], reopened: [] };
      for (let round = 0; round < 5; round++) {
        const filePath = dir + '/terminated-' + engine + '-' + round;
        const worker = new Worker(\`
          (async () => {
            // An eval worker of this child is an ES module (--input-type=module): no require.
            const { parentPort, workerData } = await import('node:worker_threads');
            const { DirectFile, alignedBuffer } = await import('CLFS');
            const file = await DirectFile.open(workerData.filePath, { create: true, engine: workerData.engine, durability: 'none' });
            let told = false;
            const write = (i) => file.write((i % 256) * 4096, alignedBuffer(4096).fill(i)).then(() => {
              // The next write first: on a loaded machine the other 63 may all be done by now.
              write(i + 64);
              if (!told) {
                told = true;
                parentPort.postMessage({ direct: file.direct, inFlight: file.stats().inFlight });
              }
            }, () => {});
            for (let i = 0; i < 64; i++) write(i);
          })();
        \`, { eval: true, workerData: { filePath, engine } });
        report.started.push(await new Promise((resolve, reject) => {
          worker.once('message', resolve);
          worker.once('error', reject);
        }));
        await new Promise((resolve) => setTimeout(resolve, 5));
        report.exitCodes.push(await worker.terminate());
        const file = await DirectFile.open(filePath, { engine });
        report.reopened.push(file.direct);
        await file.close();
      }
      // And the process goes on with I/O of its own.
      const file = await DirectFile.open(dir + '/after-' + engine, { create: true, engine });
      const data = alignedBuffer(4096).fill(7);
      await file.write(0, data);
      const back = alignedBuffer(4096);
      await file.read(0, back);
      await file.close();
      report.afterwards = back.every((byte) => byte === 7);
      console.log(JSON.stringify(report));
      `,
      { args: [scratch.dir, engine] },
    );
    expect(child.stderr).toBe('');
    expect({ code: child.code, signal: child.signal }).toEqual({ code: 0, signal: null });
    const report = JSON.parse(child.stdout) as {
      started: { direct: boolean; inFlight: number }[];
      exitCodes: number[];
      reopened: boolean[];
      afterwards: boolean;
    };
    expect(report.started).toHaveLength(5);
    for (const started of report.started) {
      expect(started.direct).toBe(true);
      expect(started.inFlight).toBeGreaterThan(0);
    }
    expect(report.exitCodes).toEqual([1, 1, 1, 1, 1]);
    expect(report.reopened).toEqual([true, true, true, true, true]);
    expect(report.afterwards).toBe(true);
  });

  it('a worker that exits without closing its file releases the lock', async () => {
    const filePath = newPath();
    const result = await inWorker<{ direct: boolean }>(
      `
      const file = await clfs.DirectFile.open(data.path, { create: true, engine: data.engine });
      globalThis.kept = file;
      await file.write(0, clfs.alignedBuffer(4096));
      return { direct: file.direct };
      `,
      { path: filePath, engine },
    );
    expect(result.direct).toBe(true);
    const file = await DirectFile.open(filePath, { engine });
    try {
      expect(file.direct).toBe(true);
      expect(await file.size()).toBe(4096);
    } finally {
      await file.close();
    }
  });
});
