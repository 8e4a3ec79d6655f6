/**
 * Closed-loop load generators: N workers, each starting its next operation as
 * soon as its previous one completes, so exactly N operations are outstanding
 * at all times (until the deadline).
 * @module
 */
import { Samples } from './stats.ts';

export interface LoopResult {
  /** Per-operation latency, ms: from the call to the settled promise. */
  samples: Samples;
  /** From the start to the completion of the last operation, ms. */
  elapsedMs: number;
  /** Sum of what the operations returned (bytes). */
  bytes: number;
  /** CPU time of the whole process (every thread: user + system) over the window, microseconds. */
  cpuUs: number;
}

/** CPU microseconds (user + system, all threads) the process spent since `start` (a process.cpuUsage()). */
export function cpuSince(start: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(start);
  return d.user + d.system;
}

/**
 * Runs `op(worker)` from `depth` concurrent workers for `seconds` (no new
 * operation starts after the deadline; those in flight finish and count).
 * `op` resolves with the bytes it moved.
 */
export async function closedLoop(
  depth: number,
  seconds: number,
  op: (worker: number) => Promise<number>,
  expectedOpsPerSec = 20_000,
): Promise<LoopResult> {
  const samples = new Samples(Math.min(1 << 22, Math.ceil(seconds * expectedOpsPerSec * 1.5)));
  let bytes = 0;
  const cpu = process.cpuUsage();
  const start = performance.now();
  const deadline = start + seconds * 1000;
  const worker = async (w: number): Promise<void> => {
    for (;;) {
      const t0 = performance.now();
      if (t0 >= deadline) return;
      // Not `bytes += await op(w)`: that reads `bytes` before the await and loses
      // the other workers' additions.
      const n = await op(w);
      bytes += n;
      samples.push(performance.now() - t0);
    }
  };
  const workers: Promise<void>[] = [];
  for (let w = 0; w < depth; w++) workers.push(worker(w));
  await Promise.all(workers);
  const elapsedMs = performance.now() - start;
  return { samples, elapsedMs, bytes, cpuUs: cpuSince(cpu) };
}

/**
 * Sequential offsets over [0, size), wrapping: what a log does. Each call
 * hands out the next `blockSize` bytes.
 */
export class SequentialOffsets {
  #next = 0;
  constructor(
    readonly size: number,
    readonly blockSize: number,
  ) {
    if (size % blockSize !== 0) throw new Error(`file size ${size} is not a multiple of ${blockSize}`);
  }
  next(): number {
    const offset = this.#next;
    this.#next += this.blockSize;
    if (this.#next >= this.size) this.#next = 0;
    return offset;
  }
}
