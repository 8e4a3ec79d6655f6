/**
 * Turning a plan's relative arguments into real ones when a call is made:
 * sizes against the area's limits, LSN picks against the model, payloads
 * from the run's seeded stream (each tagged with a counter so no two
 * records of a run look alike), entries laid out as the library does.
 * @module
 */
import { Lsn } from '../../lib/lsn.ts';
import { int } from '../support/random.ts';
import { maxRecordOf, type SimConfig } from './config.ts';
import type { AreaHandle } from './instance.ts';
import { SCRIBBLE, type Model } from './model.ts';
import { BELOW_BASE, NEWEST, NONE, NO_RECORD, RESTART, type Pick, type Size } from './plan.ts';

export function resolveSize(size: Size, area: AreaHandle, config: SimConfig, random: () => number): number {
  const max = maxRecordOf(area.config, config);
  switch (size) {
    case 'max':
      return max;
    case 'over':
      return max + 1;
    case 'half':
      return Math.floor(max / 2);
    case 'container':
      // Near the container's size: just under, at, or past what a container holds.
      return Math.min(max, config.containerSize - int(random, 0, 3) * config.unit - int(random, 0, 200));
    default:
      return size;
  }
}

/** `n` bytes: `tag` (a counter of the run's payloads), then bytes from the stream. */
export function payload(random: () => number, n: number, tag: number): Uint8Array {
  const out = new Uint8Array(n);
  let t = tag;
  for (let i = 0; i < Math.min(n, 4); i++, t >>>= 8) out[i] = t & 0xff;
  // 60 seeded bytes, then copies of them: cheap for megabyte records (what matters is that no two records look alike).
  for (let i = 4; i < Math.min(n, 64); i++) out[i] = int(random, 0, 255);
  for (let have = 64; have < n; have *= 2) out.copyWithin(have, 0, Math.min(have, n - have));
  return out;
}

/** Splits `data` into `pieces` entries (some empty). */
export function split(data: Uint8Array, pieces: number, random: () => number): Uint8Array[] {
  if (pieces <= 1) return [data];
  const cuts = Array.from({ length: pieces - 1 }, () => int(random, 0, data.byteLength)).sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let at = 0;
  for (const cut of [...cuts, data.byteLength]) {
    out.push(data.slice(at, cut));
    at = cut;
  }
  return out;
}

/** The record data entries make: each entry at a multiple of `alignment`, gaps zero (ReserveAndAppendLogAligned). */
export function layout(entries: readonly Uint8Array[], alignment: number): Uint8Array {
  let length = 0;
  for (const e of entries) length = Math.ceil(length / alignment) * alignment + e.byteLength;
  const out = new Uint8Array(length);
  let at = 0;
  for (const e of entries) {
    at = Math.ceil(at / alignment) * alignment;
    out.set(e, at);
    at += e.byteLength;
  }
  return out;
}

/** Overwrites the caller's buffers: a library that reads them after the call returned sees this. */
export function scribble(buffers: readonly Uint8Array[]): void {
  for (const b of buffers) b.fill(SCRIBBLE);
}

/** An LSN far past every record (names no record; as a chain field, not an older one, even once the appends queued now are placed). */
export function noRecordLsn(model: Model): bigint {
  // Past the writer too: records appended but not yet known to the model are there.
  const writer = model.writerLast();
  const newest = writer > model.newest ? writer : model.newest;
  return newest < 0n ? Lsn.create(4096, 0, 0) : (newest & ~0xffff_ffffn) + (4096n << 32n);
}

/** The LSN a pick names now, or undefined for NONE (or nothing to pick). */
export function resolvePick(pick: Pick, model: Model, random: () => number): bigint | undefined {
  const lsns = model.lsns;
  switch (pick) {
    case NONE:
      return undefined;
    case NEWEST:
      return lsns.length === 0 ? undefined : lsns[lsns.length - 1];
    case BELOW_BASE: {
      const below = [...model.belowBase, ...lsns.filter((l) => l < model.ackedBase)];
      return below.length === 0 ? lsns[0] : below[int(random, 0, below.length - 1)];
    }
    case NO_RECORD:
      return noRecordLsn(model);
    case RESTART: {
      const restarts = model.restartLsns();
      return restarts.length === 0 ? lsns[lsns.length - 1] : restarts[restarts.length - 1];
    }
    default:
      return lsns.length === 0 ? undefined : lsns[Math.min(lsns.length - 1, Math.floor(pick * lsns.length))];
  }
}
