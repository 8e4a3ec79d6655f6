// REFERENCE 5.7: a read context the caller forgets to terminate pins a read
// buffer (in CLFS until the marshalling area goes); clfs releases it through
// a FinalizationRegistry once the context is collected. Run in a child
// process with --expose-gc, with maxReadBuffers: 1, so that one leaked
// buffer would make the next readLogRecord fail with ERR_CLFS_BLOCKS_EXHAUSTED.
import path from 'node:path';
import { describe, expect, it } from 'vitest';

import { scratchDir } from '../support/fixtures.ts';
import { runChild } from '../support/helpers.ts';

const ROUNDS = 20;

const CHILD = `
  import { Log } from 'CLFS';
  const log = await Log.create(process.argv[1], { containerSize: 1 << 20 });
  const area = await log.createMarshallingArea({ bufferSize: 65536, maxReadBuffers: 1, flushIntervalMs: 0 });
  const { lsn } = await area.reserveAndAppend(new Uint8Array(100), { forceFlush: true });
  await area.reserveAndAppend(new Uint8Array(100), { forceFlush: true });
  const turn = () => new Promise((resolve) => setTimeout(resolve, 1));

  // Opens a context, reads one record through it, and drops it.
  async function readAndDrop() {
    const context = await area.readLogRecord(lsn, 'forward');
    await context.next();
  }

  const exhausted = [];
  const tries = [];
  for (let round = 0; round < ${ROUNDS}; round++) {
    let opened = false;
    for (let attempt = 0; attempt < 100 && !opened; attempt++) {
      try {
        await readAndDrop();
        opened = true;
        tries.push(attempt);
      } catch (error) {
        if (error.code !== 'ERR_CLFS_BLOCKS_EXHAUSTED') throw error;
        exhausted.push(round);
        globalThis.gc();
        await turn();
      }
    }
    if (!opened) break;
  }
  const allocated = area.buffersAllocated.read;
  await log.close();
  console.log(JSON.stringify({ rounds: tries.length, tries, allocated }));
`;

describe('ClfsTerminateReadLog: a forgotten read context', () => {
  it('ClfsTerminateReadLog (REFERENCE 5.7, finaliser-backed release): a read context dropped without terminate() gives its read buffer back once collected', async () => {
    const { dir, cleanup } = scratchDir('clfs-read-gc-');
    try {
      const child = await runChild(CHILD, { args: [path.join(dir, 'log')], nodeArgs: ['--expose-gc'] });
      expect(child.stderr).toBe('');
      expect(child.code).toBe(0);
      const report = JSON.parse(child.stdout) as { rounds: number; tries: number[]; allocated: number };
      // Every round got the one read buffer back: the one before it was
      // dropped, and collected (after at least one gc() from round 1 on).
      expect(report.rounds).toBe(ROUNDS);
      expect(report.tries.slice(1).every((n) => n >= 1)).toBe(true);
      expect(report.allocated).toBeLessThanOrEqual(1);
    } finally {
      cleanup();
    }
  });
});
