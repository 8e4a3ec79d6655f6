/**
 * The io_uring engine's submission batching: requests made by the
 * JavaScript that runs on a batch of completions (their promise reactions)
 * go to the kernel together when the batch ends, except reads and writes of
 * 64 KiB or more, which go at once. Without that, a forward scan's
 * read-ahead, issued from one completion while the records of a block are
 * served on promise reactions, waited for the whole block to be served and
 * the device idled meanwhile (W6 ran at half the device's read rate).
 */
import { expect, it } from 'vitest';

import { DirectFile, alignedBuffer } from '../../lib/index.ts';
import { scratchFiles } from '../support/fixtures.ts';
import { describeWhere, MISSING } from '../support/platform.ts';

const scratch = scratchFiles('clfs-uring-batch-');

const SMALL = 4096;
const LARGE = 64 * 1024;

/** Opens a 1 MiB file with the io_uring engine. */
async function openUring(): Promise<DirectFile> {
  const file = scratch.keep(
    await DirectFile.open(scratch.fresh('file'), { create: true, engine: 'uring', durability: 'none' }),
  );
  await file.write(0, [alignedBuffer(1024 * 1024)]);
  return file;
}

/** Whether the io_uring engine can be had here (Linux, a kernel and policy that allow it). */
const uring = await DirectFile.open(scratch.fresh('probe'), { create: true, engine: 'uring', durability: 'none' }).then(
  async (file) => {
    await file.close();
    return true;
  },
  () => false,
);
// Every test is skipped then, and vitest runs no afterAll: clean up now.
if (!uring) scratch.cleanup();

/** Runs `inReaction` on the reaction to a completion (inside the engine's batch); resolves with what it returned. */
async function inCompletionReaction<T>(file: DirectFile, inReaction: () => T): Promise<T> {
  return file.read(0, alignedBuffer(SMALL)).then(inReaction);
}

describeWhere(
  uring ? undefined : (MISSING.ioUring ?? 'io_uring: refused here (kernel or policy)'),
  'io_uring submission batching',
  () => {
    const ops = {
      read: (file: DirectFile, offset: number, size: number) => file.read(offset, alignedBuffer(size)),
      write: (file: DirectFile, offset: number, size: number) => file.write(offset, [alignedBuffer(size)]),
    };

    it.each(['read', 'write'] as const)(
      'a small %s made on a completion waits for the batch end; one of 64 KiB or more goes to the kernel at once with it',
      async (op) => {
        const file = await openUring();
        const pending: Promise<number>[] = [];
        const seen = await inCompletionReaction(file, () => {
          pending.push(ops[op](file, 0, SMALL));
          const afterSmall = file.stats().unsubmitted;
          pending.push(ops[op](file, SMALL, LARGE));
          return { afterSmall, afterLarge: file.stats().unsubmitted };
        });
        expect(seen).toEqual({ afterSmall: 1, afterLarge: 0 });
        expect(await Promise.all(pending)).toEqual([SMALL, LARGE]);
      },
    );

    it('outside a completion batch every request goes to the kernel at once', async () => {
      const file = await openUring();
      // Code after `await` of a completion still runs inside its batch: leave it first.
      await new Promise((resolve) => setImmediate(resolve));
      const read = file.read(0, alignedBuffer(SMALL));
      expect(file.stats().unsubmitted).toBe(0);
      expect(await read).toBe(SMALL);
    });
  },
);
