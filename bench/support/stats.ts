/**
 * Sample collection and summaries shared by the benchmarks.
 *
 * Latencies are recorded in milliseconds (what `performance.now()` gives) and
 * reported in microseconds. Percentiles are nearest-rank over the sorted
 * samples: p50 of n samples is the ceil(0.5 n)-th smallest.
 * @module
 */

/** A growable array of latency samples (milliseconds), cheap to append to in a hot loop. */
export class Samples {
  #data: Float64Array;
  #length = 0;

  constructor(initialCapacity = 1 << 16) {
    this.#data = new Float64Array(Math.max(16, initialCapacity));
  }

  get length(): number {
    return this.#length;
  }

  push(ms: number): void {
    if (this.#length === this.#data.length) {
      const bigger = new Float64Array(this.#data.length * 2);
      bigger.set(this.#data);
      this.#data = bigger;
    }
    this.#data[this.#length++] = ms;
  }

  /** The samples, sorted ascending (a copy). */
  sorted(): Float64Array {
    return this.#data.slice(0, this.#length).sort();
  }
}

/** The p-th percentile (0 < p <= 100) of ascending `sorted`, nearest rank; NaN when empty. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const rank = Math.min(n, Math.max(1, Math.ceil((p / 100) * n)));
  return sorted[rank - 1]!;
}

/** The median of `values` (mean of the middle two when even); NaN when empty. Ignores NaN. */
export function median(values: readonly number[]): number {
  const v = values.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  const n = v.length;
  if (n === 0) return Number.NaN;
  return n % 2 === 1 ? v[(n - 1) / 2]! : (v[n / 2 - 1]! + v[n / 2]!) / 2;
}

export function mean(values: ArrayLike<number>): number {
  const n = values.length;
  if (n === 0) return Number.NaN;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += values[i]!;
  return sum / n;
}

/** What one measured run produced. Latencies in microseconds, rates per second, MB = 10^6 bytes. */
export interface RunSummary {
  /** Operations counted (writes, or commits where the case says so). */
  ops: number;
  bytes: number;
  seconds: number;
  opsPerSec: number;
  mbPerSec: number;
  /** Latency of one operation, from the call to the resolution of its promise. */
  meanUs: number;
  p50Us: number;
  p99Us: number;
  minUs: number;
  maxUs: number;
}

/** Summarises a run: `samples` are per-operation latencies in ms, `elapsedMs` the measured window. */
export function summarize(samples: Samples, elapsedMs: number, bytes: number): RunSummary {
  const sorted = samples.sorted();
  const seconds = elapsedMs / 1000;
  return {
    ops: sorted.length,
    bytes,
    seconds,
    opsPerSec: sorted.length / seconds,
    mbPerSec: bytes / seconds / 1e6,
    meanUs: mean(sorted) * 1000,
    p50Us: percentile(sorted, 50) * 1000,
    p99Us: percentile(sorted, 99) * 1000,
    minUs: (sorted[0] ?? Number.NaN) * 1000,
    maxUs: (sorted[sorted.length - 1] ?? Number.NaN) * 1000,
  };
}

/**
 * The median, field by field, of several repetitions' summaries (each numeric
 * field is the median of that field; fields need not come from one run).
 */
export function medianOf<T extends object>(runs: readonly T[]): T {
  if (runs.length === 0) throw new Error('medianOf: no runs');
  const first = runs[0]!;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(first)) {
    if (typeof value === 'number') {
      out[key] = median(runs.map((r) => (r as Record<string, unknown>)[key] as number));
    } else if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      const nested = runs.map((r) => (r as Record<string, unknown>)[key]).filter((x) => x != null) as object[];
      out[key] = nested.length === 0 ? value : medianOf(nested);
    } else {
      out[key] = value;
    }
  }
  return out as T;
}

/** a / b, or NaN when either is missing. */
export function ratio(a: number | undefined, b: number | undefined): number {
  if (a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b === 0) return Number.NaN;
  return a / b;
}
