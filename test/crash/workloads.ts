/**
 * The workloads crash states are enumerated over: each drives a log through
 * the Harness (which records what was appended and acknowledged).
 */
import { Lsn } from '../../lib/lsn.ts';
import { Harness, type RecordedRun, type RunOptions } from './run.ts';
import { MiB, payload } from '../support/fixtures.ts';

export interface Workload {
  name: string;
  options: Omit<RunOptions, 'seed'>;
  run(h: Harness): Promise<void>;
}

const small = { containerSize: 512 * 1024, containers: 2 } as const;

export const WORKLOADS: Workload[] = [
  {
    name: 'single records, dsync',
    options: { durability: 'dsync', ...small },
    async run(h) {
      const area = await h.area({ bufferSize: 16 * 1024, flushIntervalMs: 0 });
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
    name: 'single records, fdatasync',
    options: { durability: 'fdatasync', ...small },
    async run(h) {
      const area = await h.area({ bufferSize: 16 * 1024, flushIntervalMs: 0 });
      for (let i = 0; i < 12; i++) {
        await h.append(area, payload(h.random, `f${i}`, 20 + Math.floor(h.random() * 300)), {
          forceFlush: i % 3 !== 1,
        });
      }
      await h.flush(area);
    },
  },
  {
    name: 'batches spanning blocks',
    options: { durability: 'dsync', ...small },
    async run(h) {
      const area = await h.area({ bufferSize: 8 * 1024, flushIntervalMs: 0 });
      for (let b = 0; b < 4; b++) {
        const records = Array.from({ length: 10 + b * 7 }, (_, i) =>
          payload(h.random, `b${b}.${i}`, 50 + Math.floor(h.random() * 900)),
        );
        await h.batch(area, records, { forceFlush: true });
      }
    },
  },
  {
    name: 'group commit storm',
    options: { durability: 'dsync', ...small },
    async run(h) {
      const area = await h.area({ bufferSize: 16 * 1024, flushIntervalMs: 0 });
      for (let round = 0; round < 3; round++) {
        await Promise.all(
          Array.from({ length: 16 }, (_, i) =>
            h.append(area, payload(h.random, `g${round}.${i}`, 40), { forceFlush: true }),
          ),
        );
      }
    },
  },
  {
    name: 'group commit storm, fdatasync',
    options: { durability: 'fdatasync', ...small },
    async run(h) {
      const area = await h.area({ bufferSize: 16 * 1024, flushIntervalMs: 0 });
      for (let round = 0; round < 3; round++) {
        await Promise.all(
          Array.from({ length: 12 }, (_, i) =>
            h.append(area, payload(h.random, `G${round}.${i}`, 64), { forceFlush: true }),
          ),
        );
      }
    },
  },
  {
    name: 'reservations',
    options: { durability: 'dsync', ...small },
    async run(h) {
      const area = await h.area({ bufferSize: 16 * 1024, flushIntervalMs: 0 });
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
    name: 'restart areas and base moves',
    options: { durability: 'dsync', ...small },
    async run(h) {
      const area = await h.area({ bufferSize: 8 * 1024, flushIntervalMs: 0 });
      const lsns: Lsn[] = [];
      for (let i = 0; i < 6; i++)
        lsns.push((await h.append(area, payload(h.random, `a${i}`, 500), { forceFlush: i % 2 === 0 }))!);
      await h.restart(area, payload(h.random, 'checkpoint-1', 200), lsns[2]);
      for (let i = 6; i < 10; i++)
        lsns.push((await h.append(area, payload(h.random, `a${i}`, 700), { forceFlush: true }))!);
      await h.advanceBase(area, lsns[7]!);
      await h.restart(area, payload(h.random, 'checkpoint-2', 100));
      lsns.push((await h.append(area, payload(h.random, 'a10', 50), { forceFlush: true }))!);
    },
  },
  {
    name: 'container recycling',
    options: { durability: 'dsync', containerSize: 512 * 1024, containers: 2 },
    async run(h) {
      const area = await h.area({ bufferSize: 64 * 1024, flushIntervalMs: 0 });
      let last = Lsn.INVALID;
      // ~1.3 containers' worth, moving the base as it goes so containers recycle.
      for (let i = 0; i < 22; i++) {
        const records = Array.from({ length: 4 }, (_, j) => payload(h.random, `c${i}.${j}`, 7000));
        const lsns = await h.batch(area, records, { forceFlush: true });
        if (i % 6 === 5) await h.advanceBase(area, last === Lsn.INVALID ? lsns[0]! : last);
        last = lsns[lsns.length - 1]!;
      }
    },
  },
  {
    name: 'recovery then append',
    options: { durability: 'dsync', ...small },
    async run(h) {
      let area = await h.area({ bufferSize: 8 * 1024, flushIntervalMs: 0 });
      for (let i = 0; i < 5; i++) await h.append(area, payload(h.random, `x${i}`, 300), { forceFlush: true });
      await h.reopen();
      area = await h.area({ bufferSize: 8 * 1024, flushIntervalMs: 0 });
      for (let i = 5; i < 10; i++) await h.append(area, payload(h.random, `x${i}`, 300), { forceFlush: i !== 7 });
      await h.reopen();
      area = await h.area({ bufferSize: 8 * 1024, flushIntervalMs: 0 });
      await h.append(area, payload(h.random, 'x10', 300), { forceFlush: true });
    },
  },
  {
    name: 'large records, forceAppend, mixed sizes',
    options: { durability: 'dsync', containerSize: MiB, containers: 2 },
    async run(h) {
      const area = await h.area({ bufferSize: 32 * 1024, flushIntervalMs: 0 });
      for (let i = 0; i < 10; i++) {
        const size = i % 3 === 0 ? 20_000 + Math.floor(h.random() * 10_000) : Math.floor(h.random() * 200);
        await h.append(area, payload(h.random, `L${i}`, size), { forceAppend: i % 2 === 1, forceFlush: i % 4 === 3 });
      }
      await h.flush(area);
    },
  },
  {
    name: 'two marshalling areas interleaved',
    options: { durability: 'dsync', ...small },
    async run(h) {
      const a = await h.area({ bufferSize: 8 * 1024, flushIntervalMs: 0 });
      const b = await h.area({ bufferSize: 16 * 1024, flushIntervalMs: 0 });
      for (let i = 0; i < 8; i++) {
        await h.append(i % 2 === 0 ? a : b, payload(h.random, `m${i}`, 100 + i * 40), { forceFlush: i % 3 === 2 });
      }
      await h.flush(a);
      await h.flush(b);
    },
  },
  {
    name: 'autoGrow adds containers',
    options: { durability: 'dsync', containerSize: 512 * 1024, containers: 2, maxContainers: 3 },
    async run(h) {
      const area = await h.area({ bufferSize: 64 * 1024, flushIntervalMs: 0 });
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
];

/** Runs a workload and returns the recording. */
export async function record(workload: Workload, seed: number): Promise<RecordedRun> {
  const options: RunOptions = { ...workload.options, seed };
  const { harness, initial } = await Harness.start(options);
  await workload.run(harness);
  return harness.finish(workload.name, options, initial);
}
