/**
 * A simulated run's plan: its configuration and a schedule of API calls,
 * drawn from one seed. Plans are plain JSON (a shrunk or saved failing run
 * is a plan), and their arguments are given relative to what exists when
 * the call is made (a record "by rank", a size "the area's largest"), so a
 * plan with operations dropped (shrinking) still makes sense.
 *
 * Each operation carries its timing: how many scheduler steps (storage
 * completions, timers) run before it is issued, how many microtask turns
 * after those, and whether the driver waits for it to settle before going
 * on. Most calls are not waited for: they race each other, and closes land
 * in the middle of other calls.
 * @module
 */
import { chance, fork, int, pick, prng, weighted } from '../support/random.ts';
import { drawArea, drawConfig, maxRecordOf, type AreaConfig, type SimConfig } from './config.ts';
import { drawMotif } from './motifs.ts';
import { MiB } from '../support/sizes.ts';

/**
 * A record size, resolved when the call is made: bytes, or 'max' (the
 * area's largest record), 'over' (one byte more: ERR_CLFS_RECORD_TOO_LARGE),
 * 'half' (half the largest), 'container' (close to the container's size,
 * within the area's largest).
 */
export type Size = number | 'max' | 'over' | 'half' | 'container';

/**
 * An LSN, chosen when the call is made: [0, 1) a known record by rank;
 * NONE (no LSN, or Lsn.INVALID in chain fields); NEWEST; BELOW_BASE (a
 * record the base has passed); NO_RECORD (an LSN naming no record);
 * RESTART (the newest restart record).
 */
export type Pick = number;
export const NONE = -1;
export const NEWEST = -2;
export const BELOW_BASE = -3;
export const NO_RECORD = -4;
export const RESTART = -5;
/** flushToLsn: no argument, or Lsn.NULL (both mean everything). */
export const NO_ARGUMENT = -6;
export const NULL_LSN = -7;

export type Mode = 'forward' | 'previous' | 'undoNext';
export type Filter = 'data' | 'restart' | 'client';

export interface Timing {
  /** Scheduler steps before the call. */
  gap: number;
  /** Microtask turns after those. */
  ticks: number;
  /** Run the scheduler until the call settles before the next one. */
  wait: boolean;
}

export type OpBody =
  | {
      k: 'append';
      area: number;
      /** new: new space; use: into a reservation; reserve: reserve only; both: append and reserve. */
      mode: 'new' | 'use' | 'reserve' | 'both';
      size: Size;
      pieces: number;
      align: number;
      res: { size: Size; free: boolean }[];
      prev: Pick;
      undo: Pick;
      forceAppend: boolean;
      forceFlush: boolean;
    }
  | {
      k: 'batch';
      area: number;
      count: number;
      size: Size;
      use: boolean;
      prev: Pick;
      forceAppend: boolean;
      forceFlush: boolean;
    }
  | { k: 'alloc'; area: number; count: number; size: Size }
  | { k: 'free'; area: number; count: number; fraction: number }
  | { k: 'align'; area: number; sizes: Size[] }
  | { k: 'flush'; area: number; target: Pick }
  | { k: 'flushBuffers'; area: number }
  | { k: 'restart'; area: number; size: Size; base: Pick; use: boolean }
  | { k: 'readRestart'; area: number; prevs: number; hold: boolean }
  | { k: 'advance'; area: number; target: Pick }
  /** truncateLog, racing the other calls (ops-truncate.ts). */
  | { k: 'truncate'; area: number; target: Pick }
  | {
      k: 'read';
      area: number;
      start: Pick;
      mode: Mode;
      type: Filter;
      nexts: number;
      user: Pick;
      view: boolean;
      hold: boolean;
    }
  | { k: 'next'; ctx: number; count: number; user: Pick }
  | { k: 'terminate'; ctx: number }
  | { k: 'records'; area: number; from: Pick; mode: Mode; type: Filter; limit: number }
  /** A read-only log beside the writer, refreshed and read on (ops-follow.ts). */
  | { k: 'follow'; limit: number }
  | { k: 'addContainers'; count: number }
  /** setPolicy with these fields (`bad`: one is out of range on purpose). */
  | { k: 'policy'; fields: Record<string, number | boolean>; bad: boolean }
  | { k: 'removeContainers'; count: number }
  /** Answers the newest advance-tail request (a base move to its target), if one is waiting. */
  | { k: 'tail'; area: number }
  /** setArchiveTail (a record by pick), or prepareArchive, held or released at once (ops-archive.ts). */
  | { k: 'archive'; target: Pick; prepare: boolean; hold: boolean }
  | { k: 'createArea'; config: AreaConfig }
  | { k: 'closeArea'; area: number }
  | { k: 'closeLog' }
  | { k: 'open' }
  | { k: 'crash' }
  | { k: 'kill' }
  | { k: 'info' }
  | { k: 'fill'; area: number; size: Size; max: number; forceFlush: boolean }
  | { k: 'bad'; area: number; which: number };

export type Op = Timing & OpBody;
export type OpKind = OpBody['k'];

export interface Plan {
  seed: number;
  config: SimConfig;
  ops: Op[];
}

/** Bytes of records a plan may write (estimated): the simulated disk lives in memory. */
const BYTE_BUDGET = 24 * MiB;

const WEIGHTS: Record<OpKind, number> = {
  append: 30,
  batch: 7,
  alloc: 4,
  free: 3,
  align: 1,
  flush: 7,
  flushBuffers: 2,
  restart: 6,
  readRestart: 3,
  advance: 5,
  truncate: 3,
  read: 8,
  next: 4,
  terminate: 3,
  records: 2,
  follow: 3,
  addContainers: 1,
  policy: 1.5,
  removeContainers: 1.5,
  tail: 2,
  archive: 2,
  createArea: 1,
  closeArea: 2,
  closeLog: 1.5,
  open: 0,
  crash: 2.5,
  kill: 1,
  info: 2,
  fill: 2.5,
  bad: 1.5,
};

function drawSize(random: () => number): Size {
  switch (
    weighted(random, { zero: 8, tiny: 22, small: 18, big: 10, max: 16, half: 8, over: 3, container: 7, huge: 8 })
  ) {
    case 'zero':
      return 0;
    case 'tiny':
      return int(random, 1, 100);
    case 'small':
      return int(random, 100, 8192);
    case 'big':
      return int(random, 8192, 256 * 1024);
    case 'huge':
      return int(random, 256 * 1024, 1024 * 1024);
    case 'max':
      return 'max';
    case 'half':
      return 'half';
    case 'over':
      return 'over';
    default:
      return 'container';
  }
}

/** What a size costs at most, for the byte budget. */
function estimate(size: Size, largest: number, containerSize: number): number {
  if (typeof size === 'number') return Math.min(size, largest);
  if (size === 'container') return Math.min(largest, containerSize);
  return largest;
}

function drawPick(random: () => number): Pick {
  return weighted(random, { rank: 10, newest: 4, none: 3, below: 1, noRecord: 0.6, restart: 1 }) === 'rank'
    ? random()
    : pick(random, [NEWEST, NEWEST, NEWEST, NEWEST, NONE, NONE, NONE, BELOW_BASE, NO_RECORD, RESTART]);
}

function drawChain(random: () => number): Pick {
  return chance(random, 0.4) ? NONE : chance(random, 0.03) ? NO_RECORD : chance(random, 0.5) ? NEWEST : random();
}

function drawTiming(random: () => number): Timing {
  return {
    gap: weighted(random, { 0: 40, 1: 25, 2: 10, many: 25 }) === 'many' ? int(random, 3, 12) : int(random, 0, 2),
    ticks: int(random, 0, 6),
    wait: chance(random, 0.3),
  };
}

function drawBody(random: () => number, kind: OpKind, config: SimConfig): OpBody {
  const area = int(random, 0, 7);
  switch (kind) {
    case 'append': {
      const mode = weighted(random, { new: 10, use: 5, reserve: 4, both: 3 });
      const res: { size: Size; free: boolean }[] = [];
      if (mode === 'reserve' || mode === 'both' || (mode === 'new' && chance(random, 0.05))) {
        for (let i = int(random, 1, 3); i > 0; i--) res.push({ size: drawSize(random), free: chance(random, 0.2) });
      }
      return {
        k: 'append',
        area,
        mode,
        size: drawSize(random),
        pieces: pick(random, [1, 1, 1, 2, 3]),
        align: pick(random, [1, 1, 1, 1, 8, 512, int(random, 1, 100)]),
        res,
        prev: drawChain(random),
        undo: drawChain(random),
        forceAppend: chance(random, 0.15),
        forceFlush: chance(random, 0.3),
      };
    }
    case 'batch':
      return {
        k: 'batch',
        area,
        count: pick(random, [1, 2, int(random, 2, 10), int(random, 10, 600)]),
        size: chance(random, 0.7) ? int(random, 0, 2000) : drawSize(random),
        use: chance(random, 0.25),
        prev: drawChain(random),
        forceAppend: chance(random, 0.15),
        forceFlush: chance(random, 0.4),
      };
    case 'alloc':
      return { k: 'alloc', area, count: int(random, 1, 3), size: drawSize(random) };
    case 'free':
      return { k: 'free', area, count: int(random, 1, 2), fraction: pick(random, [1, 1, 0.5, random()]) };
    case 'align':
      return { k: 'align', area, sizes: [drawSize(random), drawSize(random)].slice(0, int(random, 1, 2)) };
    case 'flush':
      return {
        k: 'flush',
        area,
        target: chance(random, 0.3) ? pick(random, [NO_ARGUMENT, NULL_LSN]) : drawPick(random),
      };
    case 'flushBuffers':
      return { k: 'flushBuffers', area };
    case 'restart':
      return {
        k: 'restart',
        area,
        size: chance(random, 0.7) ? int(random, 0, 512) : drawSize(random),
        base: chance(random, 0.5) ? drawPick(random) : NONE,
        use: chance(random, 0.15),
      };
    case 'readRestart':
      return { k: 'readRestart', area, prevs: int(random, 0, 3), hold: chance(random, 0.3) };
    case 'advance':
      return { k: 'advance', area, target: drawPick(random) };
    case 'truncate':
      return { k: 'truncate', area, target: drawPick(random) };
    case 'read':
      return {
        k: 'read',
        area,
        start: drawPick(random),
        mode: pick(random, ['forward', 'forward', 'previous', 'undoNext'] as const),
        type: pick(random, ['data', 'data', 'restart', 'client'] as const),
        nexts: int(random, 0, 4),
        user: chance(random, 0.15) ? random() : NONE,
        view: chance(random, 0.3),
        hold: chance(random, 0.4),
      };
    case 'next':
      return {
        k: 'next',
        ctx: int(random, 0, 7),
        count: int(random, 1, 3),
        user: chance(random, 0.15) ? random() : NONE,
      };
    case 'terminate':
      return { k: 'terminate', ctx: int(random, 0, 7) };
    case 'records':
      return {
        k: 'records',
        area,
        from: chance(random, 0.5) ? NONE : drawPick(random),
        mode: pick(random, ['forward', 'forward', 'previous', 'undoNext'] as const),
        type: pick(random, ['data', 'restart', 'client'] as const),
        limit: int(random, 1, 200),
      };
    case 'follow':
      return { k: 'follow', limit: int(random, 1, 300) };
    case 'addContainers':
      return { k: 'addContainers', count: pick(random, [1, 1, 2, int(random, 1, 8)]) };
    case 'policy':
      return drawPolicy(random, config);
    case 'removeContainers':
      return { k: 'removeContainers', count: pick(random, [1, 1, 2, int(random, 1, 6)]) };
    case 'tail':
      return { k: 'tail', area };
    case 'archive':
      return { k: 'archive', target: drawPick(random), prepare: chance(random, 0.4), hold: chance(random, 0.3) };
    case 'createArea':
      return { k: 'createArea', config: drawArea(random, config.unit, config.containerSize) };
    case 'closeArea':
      return { k: 'closeArea', area };
    case 'fill':
      return {
        k: 'fill',
        area,
        size: chance(random, 0.5) ? int(random, 0, 4000) : drawSize(random),
        max: int(random, 10, 400),
        forceFlush: chance(random, 0.2),
      };
    case 'bad':
      return { k: 'bad', area, which: int(random, 0, 1000) };
    default:
      return { k: kind } as OpBody;
  }
}

/** A setPolicy op: a few fields, now and then one out of range. */
function drawPolicy(random: () => number, config: SimConfig): OpBody {
  const fields: Record<string, number | boolean> = {};
  const all: [string, () => number | boolean][] = [
    [
      'maxContainers',
      () => pick(random, [1024, config.containers, Math.min(1024, config.containers + int(random, 0, 8)), 64]),
    ],
    ['minContainers', () => pick(random, [2, 2, 3, config.containers])],
    ['growthRate', () => pick(random, [1, 1, 2, 4])],
    ['autoGrow', () => chance(random, 0.5)],
    ['autoShrink', () => pick(random, [0, 0, 30, 60, 90])],
    ['logTail', () => pick(random, [0, 20, 35, 50, 90])],
  ];
  for (const [key, draw] of all) if (chance(random, 0.4)) fields[key] = draw();
  const bad = chance(random, 0.1);
  if (bad) {
    const [key, value] = pick(random, [
      ['logTail', 101],
      ['autoShrink', 200],
      ['growthRate', 0],
      ['maxContainers', 1025],
      ['minContainers', 1],
    ] as const);
    fields[key] = value;
  }
  return { k: 'policy', fields, bad };
}

/** The plan of seed `seed`. */
export function drawPlan(seed: number): Plan {
  const root = prng(seed);
  const config = drawConfig(fork(root));
  const random = fork(root);
  const length = pick(random, [int(random, 5, 30), int(random, 20, 80), int(random, 60, 160)]);
  const ops: Op[] = [];
  let budget = BYTE_BUDGET;
  const largest = Math.max(...config.areas.map((a) => maxRecordOf(a, config)));
  let closed = false;
  const cost = (body: OpBody): number =>
    'size' in body
      ? (body.k === 'batch' ? body.count : body.k === 'fill' ? body.max : 1) *
        estimate(body.size, largest, config.containerSize)
      : 0;
  const push = (body: OpBody, timing: Timing): void => {
    if (body.k === 'closeLog') closed = true;
    if (body.k === 'open' || body.k === 'crash' || body.k === 'kill') closed = false;
    // Keep the run's memory bounded: past the budget, records are small.
    if ('size' in body && cost(body) > budget) {
      body.size = int(random, 0, 4096);
      if (body.k === 'fill') body.max = Math.min(body.max, 1 + Math.floor(budget / (body.size + 128)));
    }
    budget -= Math.min(cost(body), budget);
    ops.push({ ...timing, ...body });
  };
  while (ops.length < length) {
    if (closed && (chance(random, 0.5) || ops.length === length - 1)) {
      push({ k: 'open' }, drawTiming(random));
      continue;
    }
    const motif = chance(random, 0.05) ? drawMotif(random, config) : [];
    // A motif comes whole or not at all (shrunk sizes would make it pointless).
    if (motif.length > 0 && motif.reduce((n, step) => n + cost(step.body), 0) <= budget) {
      for (const step of motif) push(step.body, step.timing);
    } else push(drawBody(random, weighted(random, WEIGHTS), config), drawTiming(random));
  }
  return { seed, config, ops };
}

/** One line per operation (shrunk plans are printed this way). */
export function describeOp(op: Op): string {
  const { gap, ticks, wait, k, ...rest } = op;
  const args = Object.entries(rest)
    .map(([key, value]) => `${key}=${JSON.stringify(value)}`)
    .join(' ');
  return `${k} ${args} [gap ${gap}, ticks ${ticks}${wait ? ', wait' : ''}]`;
}
