/** Deterministic randomness for tests: the same seed gives the same run everywhere. */

/** mulberry32: a small seeded PRNG in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Helpers over any source of prng(): they only shape its numbers, so a run
// stays a function of its seed.

/** An integer in [min, max] (both included). */
export function int(random: () => number, min: number, max: number): number {
  return min + Math.floor(random() * (max - min + 1));
}

/** True with probability `p`. */
export function chance(random: () => number, p: number): boolean {
  return random() < p;
}

/** One element of a non-empty array. */
export function pick<T>(random: () => number, items: readonly T[]): T {
  if (items.length === 0) throw new RangeError('pick from an empty array');
  return items[Math.floor(random() * items.length)]!;
}

/** One key of `weights`, chosen with probability proportional to its weight. */
export function weighted<K extends string>(random: () => number, weights: Readonly<Record<K, number>>): K {
  const entries = Object.entries(weights) as [K, number][];
  const total = entries.reduce((n, [, w]) => n + w, 0);
  let at = random() * total;
  for (const [key, w] of entries) {
    if (at < w) return key;
    at -= w;
  }
  return entries[entries.length - 1]![0];
}

/** A new source seeded from this one: an independent stream whose draws do not shift the parent's. */
export function fork(random: () => number): () => number {
  return prng(Math.floor(random() * 4294967296));
}
