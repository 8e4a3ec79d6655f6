/**
 * Raw durable writes through clfs's native layer (DirectFile, no log on
 * top): the device's limit as a Node caller sees it, and a probe that waits
 * for the device to go quiet before anything is measured.
 * @module
 */
import { randomFillSync } from 'node:crypto';

import { DirectFile, alignedBuffer, type IoEngine } from '../../lib/index.ts';
import { closedLoop, SequentialOffsets } from './loops.ts';
import { summarize, type RunSummary } from './stats.ts';

export interface DirectRunOptions {
  /** A preallocated, fully written file (see preallocatedFile). */
  file: string;
  /** Its size: writes wrap at the end. */
  size: number;
  /** Bytes per write. */
  bs: number;
  /** Writes in flight (closed loop). */
  depth: number;
  /**
   * `'dsync'`: the file is opened O_DIRECT|O_DSYNC, one op = one write.
   * `'fdatasync'` (depth 1 only): one op = write() then sync(), the pair.
   */
  durability: 'dsync' | 'fdatasync';
  engine: IoEngine;
  seconds: number;
  warmup: number;
}

export interface DirectRun extends RunSummary {
  /** The engine the file reported (`io_uring` or `threads`). */
  engine: string;
  /** CPU time of the process per operation over the window, microseconds. */
  cpuUsPerOp: number;
}

/** A warm-up, then the measured closed loop of `o.depth` workers running `op`. */
async function measure(
  handle: DirectFile,
  o: { depth: number; seconds: number; warmup: number },
  op: (worker: number) => Promise<number>,
  expectedOpsPerSec: number,
): Promise<DirectRun> {
  if (o.warmup > 0) await closedLoop(o.depth, o.warmup, op, expectedOpsPerSec);
  const r = await closedLoop(o.depth, o.seconds, op, expectedOpsPerSec);
  return {
    ...summarize(r.samples, r.elapsedMs, r.bytes),
    engine: handle.engine,
    cpuUsPerOp: r.cpuUs / r.samples.length,
  };
}

/** Sequential overwrite of `file` by `depth` writers for `seconds`, after `warmup` unmeasured seconds. */
export async function directWriteRun(o: DirectRunOptions): Promise<DirectRun> {
  if (o.durability === 'fdatasync' && o.depth !== 1) throw new Error('write+fdatasync pairs run at depth 1 only');
  const handle = await DirectFile.open(o.file, { durability: o.durability, engine: o.engine, depth: o.depth });
  try {
    if (!handle.direct) throw new Error(`${o.file} is not open for direct I/O: ${handle.reason}`);
    const buffers: Uint8Array[] = [];
    for (let i = 0; i < o.depth; i++) buffers.push(randomFillSync(alignedBuffer(o.bs)));
    const offsets = new SequentialOffsets(o.size, o.bs);
    const pair = o.durability === 'fdatasync';
    const op = async (w: number): Promise<number> => {
      const n = await handle.write(offsets.next(), buffers[w]!);
      if (pair) await handle.sync();
      return n;
    };
    return await measure(handle, o, op, o.bs <= 4096 ? 20_000 : 40_000);
  } finally {
    await handle.close();
  }
}

/**
 * Sequential reads of `o.file` (`o.bs` bytes each, `o.depth` in flight,
 * wrapping at `o.size`) through DirectFile with O_DIRECT: the bandwidth a
 * scan of the same bytes can reach.
 */
export async function directReadRun(o: Omit<DirectRunOptions, 'durability'>): Promise<DirectRun> {
  const handle = await DirectFile.open(o.file, { durability: 'none', engine: o.engine, depth: o.depth });
  try {
    if (!handle.direct) throw new Error(`${o.file} is not open for direct I/O: ${handle.reason}`);
    const buffers: Uint8Array[] = [];
    for (let i = 0; i < o.depth; i++) buffers.push(alignedBuffer(o.bs));
    const offsets = new SequentialOffsets(o.size - (o.size % o.bs), o.bs);
    const op = (w: number): Promise<number> => handle.read(offsets.next(), buffers[w]!);
    return await measure(handle, o, op, 4_000);
  } finally {
    await handle.close();
  }
}

export interface QuietProbe {
  p50Us: number;
  p99Us: number;
  opsPerSec: number;
}

export interface QuietResult {
  /** Whether the device went quiet before the time limit. */
  quiet: boolean;
  seconds: number;
  probes: QuietProbe[];
}

/**
 * Waits until durable 4 KiB writes at depth 1 on `file` run at a steady
 * pace: two probes in a row whose p99 is at most `tailFactor` times their
 * p50, and whose p50 is within 50% of the best p50 seen.
 *
 * Why: right after files are preallocated (hundreds of MiB written once),
 * a virtual disk can take seconds to absorb them (the host writes back and
 * allocates), and a durable write then costs milliseconds instead of tens of
 * microseconds. Measuring then would blame whatever runs first.
 */
export async function waitForQuietDevice(
  file: string,
  size: number,
  options: { maxSeconds: number; probeSeconds?: number; tailFactor?: number },
): Promise<QuietResult> {
  const probeSeconds = options.probeSeconds ?? 0.25;
  const tailFactor = options.tailFactor ?? 5;
  const start = performance.now();
  const probes: QuietProbe[] = [];
  let best = Infinity;
  let calm = 0;
  for (;;) {
    const r = await directWriteRun({
      file,
      size,
      bs: 4096,
      depth: 1,
      durability: 'dsync',
      engine: 'auto',
      seconds: probeSeconds,
      warmup: 0,
    });
    probes.push({ p50Us: r.p50Us, p99Us: r.p99Us, opsPerSec: r.opsPerSec });
    best = Math.min(best, r.p50Us);
    const steady = r.p99Us <= tailFactor * r.p50Us && r.p50Us <= 1.5 * best;
    calm = steady ? calm + 1 : 0;
    const seconds = (performance.now() - start) / 1000;
    if (calm >= 2) return { quiet: true, seconds, probes };
    if (seconds >= options.maxSeconds) return { quiet: false, seconds, probes };
  }
}
