/**
 * The workloads of the crash and I/O-error tiers, in one list: each drives a
 * log through the LogHarness (support/harness.ts), which records what was
 * appended and acknowledged. The crash tier (test/crash) enumerates the crash
 * states of every workload; the I/O-error tier (test/faults/io-errors.test.ts)
 * fails the Nth request of those marked for it: they leave operations pending
 * when a fault can strike (concurrent flushes, writes waiting for buffers,
 * base moves, container switches and growth) and keep issuing operations
 * after it (which must all reject).
 */
import type { Durability } from '../../lib/native/direct-file.ts';
import { Lsn } from '../../lib/lsn.ts';
import type { LogHarness, LogShape } from './harness.ts';
import { payload } from './fixtures.ts';
import { KiB, MiB } from './sizes.ts';

export type Tier = 'crash' | 'faults';

export interface Workload {
  name: string;
  /** The tiers that run it. */
  tiers: readonly Tier[];
  options: LogShape;
  run(h: LogHarness): Promise<void>;
}

// Crash only: these call the area directly, use results a fault leaves
// undefined, or reopen (which the I/O-error checks do not model).
const CRASH: readonly Tier[] = ['crash'];
const BOTH: readonly Tier[] = ['crash', 'faults'];
const small = { containerSize: 512 * KiB, containers: 2 } as const;

/** Three rounds of `committers` concurrent one-record commits of `size` bytes, each awaiting its own flush. */
function groupCommitStorm(
  name: string,
  durability: Durability,
  committers: number,
  tag: string,
  size: number,
): Workload {
  return {
    tiers: BOTH,
    name,
    options: { durability, ...small },
    async run(h) {
      const area = await h.area({ bufferSize: 16 * KiB });
      for (let round = 0; round < 3; round++) {
        await Promise.all(
          Array.from({ length: committers }, (_, i) =>
            h.append(area, payload(h.random, `${tag}${round}.${i}`, size), { forceFlush: true }),
          ),
        );
      }
    },
  };
}

export const WORKLOADS: Workload[] = [
  {
    tiers: BOTH,
    name: 'single records, dsync',
    options: { durability: 'dsync', ...small },
    async run(h) {
      const area = await h.area({ bufferSize: 16 * KiB });
      let previous = Lsn.INVALID;
      for (let i = 0; i < 12; i++) {
        previous = (await h.append(area, payload(h.random, `s${i}`, 20 + Math.floor(h.random() * 300)), {
          forceFlush: true,
          previousLsn: previous,
        }))!;
      }
    },
  },
  {
    tiers: BOTH,
    name: 'single records, fdatasync',
    options: { durability: 'fdatasync', ...small },
    async run(h) {
      const area = await h.area({ bufferSize: 16 * KiB });
      for (let i = 0; i < 12; i++) {
        await h.append(area, payload(h.random, `f${i}`, 20 + Math.floor(h.random() * 300)), {
          forceFlush: i % 3 !== 1,
        });
      }
      await h.flush(area);
    },
  },
  {
    tiers: BOTH,
    name: 'batches spanning blocks',
    options: { durability: 'dsync', ...small },
    async run(h) {
      const area = await h.area({ bufferSize: 8 * KiB });
      for (let b = 0; b < 4; b++) {
        const records = Array.from({ length: 10 + b * 7 }, (_, i) =>
          payload(h.random, `b${b}.${i}`, 50 + Math.floor(h.random() * 900)),
        );
        await h.batch(area, records, { forceFlush: true });
      }
    },
  },
  groupCommitStorm('group commit storm', 'dsync', 16, 'g', 40),
  groupCommitStorm('group commit storm, fdatasync', 'fdatasync', 12, 'G', 64),
  {
    tiers: CRASH,
    name: 'reservations',
    options: { durability: 'dsync', ...small },
    async run(h) {
      const area = await h.area({ bufferSize: 16 * KiB });
      await h.append(area, null, { reservations: [100, 200, 300] });
      await h.append(area, payload(h.random, 'r0', 100), { useReservation: true, forceFlush: true });
      await h.append(area, payload(h.random, 'r1', 150), { reservations: [50], forceFlush: true });
      await h.append(area, payload(h.random, 'r2', 200), { useReservation: true });
      await h.append(area, payload(h.random, 'r3', 60), { reservations: [-300], forceFlush: true });
      await area.freeReservedLog(area.reservedRecords, area.reservedBytes);
      await h.append(area, payload(h.random, 'r4', 60), { forceFlush: true });
    },
  },
  {
    tiers: BOTH,
    name: 'restart areas and base moves',
    options: { durability: 'dsync', ...small },
    async run(h) {
      const area = await h.area({ bufferSize: 8 * KiB });
      const lsns: Lsn[] = [];
      for (let i = 0; i < 6; i++)
        lsns.push((await h.append(area, payload(h.random, `a${i}`, 500), { forceFlush: i % 2 === 0 }))!);
      await h.restart(area, payload(h.random, 'checkpoint-1', 200), lsns[2]);
      for (let i = 6; i < 10; i++)
        lsns.push((await h.append(area, payload(h.random, `a${i}`, 700), { forceFlush: true }))!);
      await h.advance(area, lsns[7]!);
      await h.restart(area, payload(h.random, 'checkpoint-2', 100));
      lsns.push((await h.append(area, payload(h.random, 'a10', 50), { forceFlush: true }))!);
    },
  },
  {
    tiers: CRASH,
    name: 'container recycling',
    options: { durability: 'dsync', containerSize: 512 * KiB, containers: 2 },
    async run(h) {
      const area = await h.area({ bufferSize: 64 * KiB });
      let last = Lsn.INVALID;
      // ~1.3 containers' worth, moving the base as it goes so containers recycle.
      for (let i = 0; i < 22; i++) {
        const records = Array.from({ length: 4 }, (_, j) => payload(h.random, `c${i}.${j}`, 7000));
        const lsns = (await h.batch(area, records, { forceFlush: true }))!;
        if (i % 6 === 5) await h.advance(area, last === Lsn.INVALID ? lsns[0]! : last);
        last = lsns[lsns.length - 1]!;
      }
    },
  },
  {
    tiers: CRASH,
    name: 'recovery then append',
    options: { durability: 'dsync', ...small },
    async run(h) {
      let area = await h.area({ bufferSize: 8 * KiB });
      for (let i = 0; i < 5; i++) await h.append(area, payload(h.random, `x${i}`, 300), { forceFlush: true });
      await h.reopen();
      area = await h.area({ bufferSize: 8 * KiB });
      for (let i = 5; i < 10; i++) await h.append(area, payload(h.random, `x${i}`, 300), { forceFlush: i !== 7 });
      await h.reopen();
      area = await h.area({ bufferSize: 8 * KiB });
      await h.append(area, payload(h.random, 'x10', 300), { forceFlush: true });
    },
  },
  {
    tiers: BOTH,
    name: 'large records, forceAppend, mixed sizes',
    options: { durability: 'dsync', containerSize: MiB, containers: 2 },
    async run(h) {
      const area = await h.area({ bufferSize: 32 * KiB });
      for (let i = 0; i < 10; i++) {
        const size = i % 3 === 0 ? 20_000 + Math.floor(h.random() * 10_000) : Math.floor(h.random() * 200);
        await h.append(area, payload(h.random, `L${i}`, size), { forceAppend: i % 2 === 1, forceFlush: i % 4 === 3 });
      }
      await h.flush(area);
    },
  },
  {
    tiers: BOTH,
    name: 'two marshalling areas interleaved',
    options: { durability: 'dsync', ...small },
    async run(h) {
      const a = await h.area({ bufferSize: 8 * KiB });
      const b = await h.area({ bufferSize: 16 * KiB });
      for (let i = 0; i < 8; i++) {
        await h.append(i % 2 === 0 ? a : b, payload(h.random, `m${i}`, 100 + i * 40), { forceFlush: i % 3 === 2 });
      }
      await h.flush(a);
      await h.flush(b);
    },
  },
  {
    tiers: BOTH,
    name: 'autoGrow adds containers',
    options: { durability: 'dsync', containerSize: 512 * KiB, containers: 2, maxContainers: 3 },
    async run(h) {
      const area = await h.area({ bufferSize: 64 * KiB });
      for (let i = 0; i < 20; i++) {
        await h.batch(
          area,
          Array.from({ length: 4 }, (_, j) => payload(h.random, `A${i}.${j}`, 6000)),
          { forceFlush: i % 2 === 0 },
        );
      }
      await h.flush(area);
    },
  },

  {
    tiers: CRASH,
    name: 'truncations, then appends reusing the space, dsync',
    options: { durability: 'dsync', ...small },
    async run(h) {
      const area = await h.area({ bufferSize: 8 * KiB });
      const lsns: Lsn[] = [];
      for (let i = 0; i < 8; i++) {
        lsns.push((await h.append(area, payload(h.random, `t${i}`, 200 + i * 50), { forceFlush: i % 3 === 2 }))!);
      }
      await h.flush(area);
      // Inside a written block: the block keeps the dropped records (a cut).
      await h.truncate(area, lsns[5]!);
      for (let i = 0; i < 4; i++) await h.append(area, payload(h.random, `u${i}`, 400), { forceFlush: true });
      // Back past the first truncation: the records appended since go too.
      await h.truncate(area, lsns[3]!);
      await h.restart(area, payload(h.random, 'checkpoint', 100), lsns[1]);
      for (let i = 0; i < 3; i++) await h.append(area, payload(h.random, `v${i}`, 300), { forceFlush: i === 2 });
      await h.truncate(area, h.newestKnown()!);
    },
  },
  {
    tiers: CRASH,
    name: 'truncation inside the open block and of blocks in flight, fdatasync',
    options: { durability: 'fdatasync', ...small },
    async run(h) {
      const area = await h.area({ bufferSize: 4 * KiB });
      const first = await h.batch(
        area,
        Array.from({ length: 12 }, (_, i) => payload(h.random, `w${i}`, 900)),
        { forceFlush: true },
      );
      // Blocks sealed and in flight, and an open block, when it is called.
      const more = await h.batch(
        area,
        Array.from({ length: 10 }, (_, i) => payload(h.random, `x${i}`, 700)),
        { forceAppend: true },
      );
      await h.truncate(area, more![1]!);
      await h.batch(
        area,
        Array.from({ length: 5 }, (_, i) => payload(h.random, `y${i}`, 600)),
        { forceFlush: true },
      );
      await h.truncate(area, first![6]!);
      await h.append(area, payload(h.random, 'z', 100));
    },
  },

  {
    tiers: CRASH,
    name: 'archive log: the archive tail lagging the base, recycling once both pass, dsync',
    options: { durability: 'dsync', ...small, archive: true },
    async run(h) {
      const area = await h.area({ bufferSize: 16 * KiB });
      const lsns: Lsn[] = [];
      const batch = async (tag: string, n: number): Promise<void> => {
        const got = await h.batch(
          area,
          Array.from({ length: n }, (_, i) => payload(h.random, `${tag}${i}`, 3000)),
          { forceFlush: true },
        );
        lsns.push(...(got ?? []));
      };
      for (let i = 0; i < 12; i++) await batch(`a${i}.`, 16);
      await h.setArchiveTail(lsns[20]!);
      // The base passes container 1; the archive tail stays in it.
      const inSecond = lsns.find((l) => Lsn.containerId(l) === 2) ?? lsns.at(-1)!;
      await h.advance(area, inSecond);
      await h.setArchiveTail(lsns[60]!);
      for (let i = 0; i < 4; i++) await batch(`b${i}.`, 16);
      // Both pass container 1: the writer recycles it as container 3.
      await h.setArchiveTail(inSecond);
      for (let i = 0; i < 6; i++) await batch(`c${i}.`, 16);
      await h.setArchiveTail(h.log!.information().lastFlushedLsn);
    },
  },

  // Written for the I/O-error tier.
  {
    tiers: BOTH,
    name: 'forceFlush appends one at a time, chained by previous LSN, dsync',
    options: { durability: 'dsync', ...small },
    async run(h) {
      const area = await h.area({ bufferSize: 16 * KiB });
      let previous = Lsn.INVALID;
      for (let i = 0; i < 12; i++) {
        previous = (await h.append(area, h.size(20, 320), { forceFlush: true, previousLsn: previous })) ?? previous;
      }
    },
  },
  {
    tiers: BOTH,
    name: 'group commit storms of concurrent forceFlush appends, dsync',
    options: { durability: 'dsync', ...small },
    async run(h) {
      const area = await h.area({ bufferSize: 16 * KiB });
      for (let round = 0; round < 3; round++) {
        await Promise.all(Array.from({ length: 16 }, () => h.append(area, h.size(40, 200), { forceFlush: true })));
      }
    },
  },
  {
    tiers: BOTH,
    name: 'group commit storms, fdatasync',
    options: { durability: 'fdatasync', ...small },
    async run(h) {
      const area = await h.area({ bufferSize: 16 * KiB });
      for (let round = 0; round < 3; round++) {
        await Promise.all(Array.from({ length: 12 }, () => h.append(area, h.size(40, 400), { forceFlush: true })));
      }
    },
  },
  {
    tiers: BOTH,
    name: 'batches, lazy appends with forceAppend, concurrent flushToLsn, fdatasync',
    options: { durability: 'fdatasync', ...small },
    async run(h) {
      const area = await h.area({ bufferSize: 8 * KiB });
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
    tiers: BOTH,
    name: 'restart areas, base moves and container recycling, dsync',
    options: { durability: 'dsync', ...small },
    async run(h) {
      const area = await h.area({ bufferSize: 64 * KiB });
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
    tiers: BOTH,
    name: 'two marshalling areas, interleaved and concurrent, dsync',
    options: { durability: 'dsync', ...small },
    async run(h) {
      const a = await h.area({ bufferSize: 8 * KiB });
      const b = await h.area({ bufferSize: 16 * KiB });
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
    tiers: BOTH,
    name: 'autoGrow adds containers while appends wait, dsync',
    options: { durability: 'dsync', containerSize: 512 * KiB, containers: 2, maxContainers: 6 },
    async run(h) {
      const area = await h.area({ bufferSize: 64 * KiB });
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
    tiers: BOTH,
    name: 'pipelined writes with buffers exhausted (maxWriteBuffers 2), fdatasync',
    options: { durability: 'fdatasync', ...small },
    async run(h) {
      const area = await h.area({ bufferSize: 4 * KiB, maxWriteBuffers: 2 });
      for (let round = 0; round < 2; round++) {
        await Promise.all(
          Array.from({ length: 14 }, (_, i) => h.append(area, h.size(2000, 3900), { forceFlush: i % 4 === 3 })),
        );
      }
      await h.flush(area);
    },
  },
  {
    tiers: BOTH,
    name: 'two areas alternating, one at its maxWriteBuffers (1) while the other appends, dsync',
    options: { durability: 'dsync', ...small },
    async run(h) {
      // The first area waits for its one buffer outside the log's turn; the
      // second's small records go on, and share blocks with the first's.
      const slow = await h.area({ bufferSize: 4 * KiB, maxWriteBuffers: 1 });
      const other = await h.area({ bufferSize: 8 * KiB });
      for (let round = 0; round < 2; round++) {
        await Promise.all(
          Array.from({ length: 12 }, (_, i) =>
            i % 2 === 0
              ? h.append(slow, h.size(1500, 3800), { forceFlush: i % 4 === 2 })
              : h.append(other, h.size(10, 200), { forceFlush: i % 5 === 4 }),
          ),
        );
      }
      await Promise.all([h.flush(slow), h.flush(other)]);
    },
  },
  {
    tiers: CRASH,
    name: 'setPolicy and removeContainers between appends and base moves, dsync',
    options: { durability: 'dsync', containerSize: 512 * KiB, containers: 5 },
    async run(h) {
      const area = await h.area({ bufferSize: 64 * KiB });
      let last: Lsn | undefined;
      await h.setPolicy({ logTail: 30, maxContainers: 8, growthRate: 2 });
      for (let i = 0; i < 12; i++) {
        const lsns = await h.batch(
          area,
          Array.from({ length: 4 }, () => 7000),
          { forceFlush: i % 2 === 0 },
        );
        // Never-used containers at the table's end are free: removed while
        // records are appended and flushed.
        if (i === 2) await Promise.all([h.removeContainers(1), h.append(area, 3000, { forceFlush: true })]);
        if (i === 4) await h.setPolicy({ minContainers: 3, autoGrow: true });
        if (i === 6) await h.advance(area, last);
        if (i === 8) await Promise.all([h.removeContainers(1), h.setPolicy({ autoShrink: 80 })]);
        last = lsns?.[lsns.length - 1] ?? last;
      }
      await h.flush(area);
    },
  },
  {
    tiers: CRASH,
    name: 'removeContainers of containers the base has passed, then growth into their place, dsync',
    options: { durability: 'dsync', containerSize: 512 * KiB, containers: 3 },
    async run(h) {
      const area = await h.area({ bufferSize: 64 * KiB });
      // Logical 1..3 fill physical 0..2; the base moves into 3, the writer
      // recycles physical 0 as 4; then physical 2 (logical 3) is below a base
      // in 4 and goes; growth adds it back empty.
      let lsns: Lsn[] = [];
      const until = async (id: number): Promise<void> => {
        while (lsns.length === 0 || Lsn.containerId(lsns[lsns.length - 1]!) < id) {
          lsns = [
            ...lsns,
            ...((await h.batch(
              area,
              Array.from({ length: 4 }, () => 8000),
              { forceFlush: true },
            )) ?? []),
          ];
        }
      };
      const firstIn = (id: number): Lsn | undefined => lsns.find((l) => Lsn.containerId(l) === id);
      await until(3);
      await h.advance(area, firstIn(3));
      await until(4);
      await h.advance(area, firstIn(4));
      await h.removeContainers(1);
      await h.setPolicy({ autoGrow: true, maxContainers: 3 });
      await until(6);
      await h.flush(area);
    },
  },
];

/** The workloads `tier` runs. */
export function workloadsOf(tier: Tier): Workload[] {
  return WORKLOADS.filter((w) => w.tiers.includes(tier));
}
