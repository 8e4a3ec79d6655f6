/**
 * A simulated run's configuration, drawn from its seed at and around the
 * documented limits (API.md, REFERENCE.md §5.8): containers of 512 KiB to
 * 4 GiB (4 GiB often), 2 to 1024 of them, buffers of one sector to 4 MiB,
 * 1-4 marshalling areas with 1..Infinity write and read buffers, autoGrow on
 * and off, 'dsync' and 'fdatasync', 512- and 4096-byte sectors.
 *
 * `startOffset` fast-forwards the log: it starts with its writer (and base)
 * that far into its first container, as a log does that wrote that much
 * and moved its base past it. It is how a run reaches the end of a 4 GiB
 * container without writing 4 GiB; it is often drawn so that blocks of a
 * whole buffer end exactly at the container's end.
 * @module
 */
import { chance, int, pick, weighted } from '../support/random.ts';
import type { FaultPlan } from './storage.ts';
import { KiB, MiB } from '../support/sizes.ts';

export const GiB = 1024 * MiB;
/** Container sizes are multiples of this (CLFS). */
export const GRANULE = 512 * KiB;
export const MAX_CONTAINER = 4 * GiB;
export const MAX_BUFFER = 4 * MiB;
export const MAX_CONTAINERS = 1024;
/** Headers of the block format (lib/format/block.ts), restated: the model computes sizes on its own. */
export const BLOCK_HEADER = 64;
/** A record header at its largest (two chain LSNs): what reservations and the record size limit count. */
export const RECORD_HEADER = 24;

export interface AreaConfig {
  /** As requested; the library rounds it up to the sector unit. */
  bufferSize: number;
  /** null: Infinity (JSON has no Infinity). */
  maxWriteBuffers: number | null;
  maxReadBuffers: number | null;
  /** Use a counting allocator (alloc/free must pair up). */
  allocator: boolean;
  /** Appends wait this long for room in a full log (absent: 0, they fail at once). */
  logFullTimeoutMs?: number;
}

export interface SimConfig {
  unit: 512 | 4096;
  durability: 'dsync' | 'fdatasync';
  containerSize: number;
  containers: number;
  /** autoGrow's ceiling; 0: off. */
  maxContainers: number;
  /** Where the writer starts in container 1 (a multiple of the unit, below the container's end). */
  startOffset: number;
  areas: AreaConfig[];
  faults: FaultPlan[];
  /** An archive log (Log.create({ archive: true })); absent: ephemeral. */
  archive?: boolean;
  /** The writer's idlePublishMs, in virtual milliseconds; absent: 0 (never). */
  idlePublishMs?: number;
}

export const alignUp = (n: number, unit: number): number => Math.ceil(n / unit) * unit;

/** The real buffer size of an area (rounded up to the unit). */
export function realBufferSize(area: AreaConfig, unit: number): number {
  return alignUp(area.bufferSize, unit);
}

/** The largest record an area takes: its buffer less the block and record headers. */
export function maxRecordOf(area: AreaConfig, log: { unit: number; containerSize: number }): number {
  // A block never crosses a container's end (issue 7, defect 3).
  return Math.min(realBufferSize(area, log.unit), log.containerSize) - BLOCK_HEADER - RECORD_HEADER;
}

function drawContainerSize(random: () => number): number {
  switch (weighted(random, { max: 30, min: 20, small: 20, nearMax: 8, any: 12, twoMin: 10 })) {
    case 'max':
      return MAX_CONTAINER;
    case 'min':
      return GRANULE;
    case 'twoMin':
      return 2 * GRANULE;
    case 'small':
      return int(random, 2, 16) * GRANULE;
    case 'nearMax':
      return MAX_CONTAINER - int(random, 1, 4) * GRANULE;
    default:
      return int(random, 1, MAX_CONTAINER / GRANULE) * GRANULE;
  }
}

function drawBufferSize(random: () => number, unit: number, containerSize: number): number {
  switch (
    weighted(random, {
      sector: 15,
      small: 15,
      max: 12,
      beyondContainer: containerSize < MAX_BUFFER ? 12 : 0,
      containerSized: containerSize <= MAX_BUFFER ? 6 : 0,
      pow2: 15,
      odd: 10,
      any: 15,
    })
  ) {
    case 'sector':
      return pick(random, [512, unit]);
    case 'small':
      return pick(random, [1024, 4 * KiB, 8 * KiB]);
    case 'max':
      return MAX_BUFFER;
    case 'beyondContainer':
      // Buffers larger than a container: records can outgrow the container.
      return int(random, containerSize / unit + 1, MAX_BUFFER / unit) * unit;
    case 'containerSized':
      return containerSize;
    case 'pow2':
      return 2 ** int(random, 9, 22);
    case 'odd':
      // Not a multiple of the unit: the library rounds it up.
      return int(random, 1, MAX_BUFFER - 1);
    default:
      return int(random, 1, MAX_BUFFER / 512) * 512;
  }
}

function drawCount(random: () => number): number | null {
  return pick(random, [1, 1, 1, 2, 2, 3, int(random, 3, 8), null, null, null]);
}

export function drawArea(random: () => number, unit: number, containerSize: number): AreaConfig {
  return {
    bufferSize: drawBufferSize(random, unit, containerSize),
    maxWriteBuffers: drawCount(random),
    maxReadBuffers: drawCount(random),
    allocator: chance(random, 0.1),
    ...(chance(random, 0.25) ? { logFullTimeoutMs: pick(random, [1, 50, 5000]) } : {}),
  };
}

function drawFaults(random: () => number): FaultPlan[] {
  if (!chance(random, 0.3)) return [];
  const plans: FaultPlan[] = [];
  for (let i = int(random, 1, 2); i > 0; i--) {
    const op = weighted(random, { write: 4, sync: 2, metadata: 2, add: 2, read: 1 });
    const kind =
      op === 'add'
        ? pick(random, ['EIO', 'ENOSPC'] as const)
        : op === 'write' || op === 'metadata'
          ? pick(random, ['EIO', 'short', 'ENOSPC'] as const)
          : 'EIO';
    plans.push({ op, kind, n: int(random, 1, 40), persistent: chance(random, 0.3) });
  }
  return plans;
}

/** Where the writer starts: at 0, a few sectors before the end, or whole buffers before it. */
function drawStart(random: () => number, config: Omit<SimConfig, 'startOffset'>): number {
  const size = config.containerSize;
  const buffer = realBufferSize(config.areas[0]!, config.unit);
  const p = config.containerSize === MAX_CONTAINER ? 0.75 : 0.35;
  if (!chance(random, p)) return 0;
  switch (weighted(random, { wholeBuffers: 6, sectors: 3, anywhere: 1 })) {
    case 'wholeBuffers': {
      const n = int(random, 1, 4);
      return n * buffer < size ? size - n * buffer : 0;
    }
    case 'sectors':
      return size - int(random, 1, 64) * config.unit;
    default:
      return int(random, 0, size / config.unit - 1) * config.unit;
  }
}

export function drawConfig(random: () => number): SimConfig {
  const unit = pick(random, [512, 4096] as const);
  const containerSize = drawContainerSize(random);
  const containers = pick(random, [2, 2, 2, 2, 3, int(random, 3, 8), int(random, 2, MAX_CONTAINERS), MAX_CONTAINERS]);
  const maxContainers = chance(random, 0.4)
    ? pick(random, [MAX_CONTAINERS, int(random, containers, Math.min(MAX_CONTAINERS, containers + 4))])
    : 0;
  const areas: AreaConfig[] = [];
  if (containerSize <= 8 * MiB && chance(random, 0.25)) {
    // Areas of very different buffers sharing a log: a large one (up to a
    // container) and one of a few sectors; what one reserves or wastes at a
    // container's end the other must not eat into.
    areas.push({
      ...drawArea(random, unit, containerSize),
      bufferSize: int(random, containerSize / 2 / 512, Math.min(containerSize, MAX_BUFFER) / 512) * 512,
    });
    areas.push({ ...drawArea(random, unit, containerSize), bufferSize: pick(random, [512, 1024, 4096, 8192]) });
  } else {
    const areaCount = Number(weighted(random, { 1: 35, 2: 35, 3: 15, 4: 15 }));
    for (let n = 0; n < areaCount; n++) areas.push(drawArea(random, unit, containerSize));
  }
  const partial = {
    unit,
    durability: pick(random, ['dsync', 'fdatasync'] as const),
    containerSize,
    containers,
    maxContainers,
    areas,
    faults: drawFaults(random),
  };
  const startOffset = drawStart(random, partial);
  const idlePublishMs = pick(random, [0, 0, 5, 20, 100]);
  return {
    ...partial,
    startOffset,
    ...(chance(random, 0.35) ? { archive: true } : {}),
    ...(idlePublishMs > 0 ? { idlePublishMs } : {}),
  };
}

/** One line for the trace and reports. */
export function describeConfig(c: SimConfig): string {
  const count = (n: number | null): string => (n === null ? 'Inf' : String(n));
  const areas = c.areas
    .map(
      (a) => `${a.bufferSize}/${count(a.maxWriteBuffers)}w/${count(a.maxReadBuffers)}r${a.allocator ? '/alloc' : ''}`,
    )
    .join(' ');
  const faults = c.faults.map((f) => `${f.kind}:${f.op}#${f.n}${f.persistent ? '+' : ''}`).join(' ');
  return (
    `unit ${c.unit}, ${c.durability}, ${c.containers} x ${c.containerSize} (start ${c.startOffset})` +
    `${c.maxContainers > 0 ? `, autoGrow ${c.maxContainers}` : ''}${c.archive === true ? ', archive' : ''}${c.idlePublishMs !== undefined ? `, idle publish ${c.idlePublishMs} ms` : ''}, areas [${areas}]${faults ? `, faults [${faults}]` : ''}`
  );
}
