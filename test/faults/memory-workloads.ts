/**
 * The workloads the in-memory I/O-error tier fails: each leaves operations
 * pending when a fault can strike (concurrent flushes, writes waiting for
 * buffers, base moves, container switches and growth), and keeps issuing
 * operations after it (which must all reject).
 */
import { Lsn } from '../../lib/lsn.ts';
import type { MemoryWorkload } from '../support/faults-memory.ts';
import { KiB } from '../support/fixtures.ts';

const small = { containerSize: 512 * KiB, containers: 2 } as const;

export const MEMORY_WORKLOADS: MemoryWorkload[] = [
  {
    name: 'forceFlush appends one at a time, chained by previous LSN, dsync',
    durability: 'dsync',
    ...small,
    async run(h) {
      const area = (await h.area({ bufferSize: 16 * KiB }))!;
      let previous = Lsn.INVALID;
      for (let i = 0; i < 12; i++) {
        previous = (await h.append(area, h.size(20, 320), { forceFlush: true, previousLsn: previous })) ?? previous;
      }
    },
  },
  {
    name: 'group commit storms of concurrent forceFlush appends, dsync',
    durability: 'dsync',
    ...small,
    async run(h) {
      const area = (await h.area({ bufferSize: 16 * KiB }))!;
      for (let round = 0; round < 3; round++) {
        await Promise.all(Array.from({ length: 16 }, () => h.append(area, h.size(40, 200), { forceFlush: true })));
      }
    },
  },
  {
    name: 'group commit storms, fdatasync',
    durability: 'fdatasync',
    ...small,
    async run(h) {
      const area = (await h.area({ bufferSize: 16 * KiB }))!;
      for (let round = 0; round < 3; round++) {
        await Promise.all(Array.from({ length: 12 }, () => h.append(area, h.size(40, 400), { forceFlush: true })));
      }
    },
  },
  {
    name: 'batches, lazy appends with forceAppend, concurrent flushToLsn, fdatasync',
    durability: 'fdatasync',
    ...small,
    async run(h) {
      const area = (await h.area({ bufferSize: 8 * KiB }))!;
      for (let b = 0; b < 4; b++) {
        const lsns = await h.batch(
          area,
          Array.from({ length: 10 + b * 5 }, () => h.size(50, 900)),
          { forceAppend: b % 2 === 1 },
        );
        const lazy = await Promise.all([
          h.append(area, h.size(10, 200)),
          h.append(area, h.size(10, 200), { forceAppend: true }),
        ]);
        await Promise.all([h.flush(area, lsns?.[lsns.length - 1]), h.flush(area, lazy[1]), h.flush(area)]);
      }
      // Left for close() to make durable.
      await h.batch(
        area,
        Array.from({ length: 6 }, () => h.size(50, 900)),
      );
    },
  },
  {
    name: 'restart areas, base moves and container recycling, dsync',
    durability: 'dsync',
    ...small,
    async run(h) {
      const area = (await h.area({ bufferSize: 64 * KiB }))!;
      let last: Lsn | undefined;
      for (let i = 0; i < 22; i++) {
        const lsns = await h.batch(
          area,
          Array.from({ length: 4 }, () => 7000),
          { forceFlush: true },
        );
        if (i % 6 === 2) await h.restart(area, h.size(50, 300), last);
        if (i % 6 === 5) await h.advance(area, last);
        last = lsns?.[lsns.length - 1] ?? last;
      }
      await h.restart(area, 100);
    },
  },
  {
    name: 'two marshalling areas, interleaved and concurrent, dsync',
    durability: 'dsync',
    ...small,
    async run(h) {
      const a = (await h.area({ bufferSize: 8 * KiB }))!;
      const b = (await h.area({ bufferSize: 16 * KiB }))!;
      for (let round = 0; round < 3; round++) {
        await Promise.all(
          Array.from({ length: 10 }, (_, i) =>
            h.append(i % 2 === 0 ? a : b, h.size(100, 1500), { forceFlush: i % 3 === 2 }),
          ),
        );
        // The last round is left for close() to make durable.
        if (round < 2) await Promise.all([h.flush(a), h.flush(b)]);
      }
    },
  },
  {
    name: 'autoGrow adds containers while appends wait, dsync',
    durability: 'dsync',
    containerSize: 512 * KiB,
    containers: 2,
    maxContainers: 6,
    async run(h) {
      const area = (await h.area({ bufferSize: 64 * KiB }))!;
      // About 2 MiB: two or three containers are added.
      for (let i = 0; i < 40; i++) {
        await Promise.all([
          h.batch(
            area,
            Array.from({ length: 6 }, () => 8000),
            { forceFlush: i % 2 === 0 },
          ),
          h.append(area, 3000, { forceFlush: true }),
        ]);
      }
      await h.flush(area);
    },
  },
  {
    name: 'pipelined writes with buffers exhausted (maxWriteBuffers 2), fdatasync',
    durability: 'fdatasync',
    ...small,
    async run(h) {
      const area = (await h.area({ bufferSize: 4 * KiB, maxWriteBuffers: 2 }))!;
      for (let round = 0; round < 2; round++) {
        await Promise.all(
          Array.from({ length: 14 }, (_, i) => h.append(area, h.size(2000, 3900), { forceFlush: i % 4 === 3 })),
        );
      }
      await h.flush(area);
    },
  },
];
