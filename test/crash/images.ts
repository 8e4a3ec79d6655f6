/**
 * Crash images: the disk as it could be if power failed after the first P
 * storage events of a recorded run.
 *
 * What is durable at P: a dsync write (and every metadata write) once it
 * completed; an fdatasync-mode write once a sync submitted after its
 * completion, covering its file, completed; a container once added, and
 * gone once its removal completed (with the writes made to it). Every
 * other write submitted before P is unsynced: it may be on disk wholly, not
 * at all, or (when still in flight at P) torn: any subset of its 512-byte
 * sectors, the others left old, zeroed or garbage. The images per point:
 * unsynced all dropped; all kept; a random prefix kept; each in-flight write
 * torn (every subset for writes of <= 8 sectors, 64 random subsets
 * otherwise, in the three fills); unsynced writes kept in a random subset
 * (reordered).
 */
import type { FileId, MemoryImage, StorageEvent } from '../../lib/storage/memory-storage.ts';
import type { RecordedRun } from './run.ts';
import { SECTOR } from '../support/fixtures.ts';

type WriteEvent = Extract<StorageEvent, { kind: 'write' }>;

export interface Unsynced {
  write: WriteEvent;
  /** Still in flight at the crash point (not completed). */
  inFlight: boolean;
}

export interface CrashState {
  /** Durable writes, in submission order. */
  durable: WriteEvent[];
  /** Unsynced writes, in submission order. */
  unsynced: Unsynced[];
  /** Containers that exist at the point. */
  containers: number;
}

export interface CrashImage {
  image: MemoryImage;
  label: string;
}

/** What was durable and what was not after the first `point` events. */
export function stateAt(run: RecordedRun, point: number): CrashState {
  const writes = new Map<number, WriteEvent>();
  const syncs = new Map<number, { candidates: WriteEvent[] }>();
  const adds = new Map<number, number>();
  const removes = new Map<number, number>();
  const completed = new Set<number>();
  const durable = new Set<number>();
  // fdatasync mode: completed, not yet covered, per file
  const pendingByFile = new Map<FileId, WriteEvent[]>();
  let containers = run.initial.containers.length;
  for (let i = 0; i < point && i < run.events.length; i++) {
    const e = run.events[i]!;
    if (e.kind === 'write') writes.set(e.id, e);
    else if (e.kind === 'add') adds.set(e.id, e.index);
    else if (e.kind === 'remove') {
      // Removed once submitted or not until it completes: an image keeps a
      // removed container's file only while the removal is in flight, and
      // its old writes never land in a container added there later.
      removes.set(e.id, e.index);
    } else if (e.kind === 'sync') {
      const candidates = e.files.flatMap((f) => pendingByFile.get(f) ?? []);
      for (const f of e.files) pendingByFile.delete(f);
      syncs.set(e.id, { candidates });
    } else {
      completed.add(e.id);
      const w = writes.get(e.id);
      if (w !== undefined) {
        if (w.dsync) durable.add(w.id);
        else {
          const list = pendingByFile.get(w.file) ?? [];
          list.push(w);
          pendingByFile.set(w.file, list);
        }
      }
      const s = syncs.get(e.id);
      if (s !== undefined) for (const c of s.candidates) durable.add(c.id);
      const index = adds.get(e.id);
      if (index !== undefined) containers = Math.max(containers, index + 1);
      const removed = removes.get(e.id);
      if (removed !== undefined) {
        containers = Math.min(containers, removed);
        for (const [id, w] of writes) if (w.file === removed) writes.delete(id);
        for (const list of pendingByFile.values())
          list.splice(0, list.length, ...list.filter((w) => w.file !== removed));
      }
    }
  }
  const ordered = [...writes.values()].sort((a, b) => a.id - b.id);
  return {
    durable: ordered.filter((w) => durable.has(w.id)),
    unsynced: ordered.filter((w) => !durable.has(w.id)).map((w) => ({ write: w, inFlight: !completed.has(w.id) })),
    containers,
  };
}

function fileOf(image: MemoryImage, file: FileId): Uint8Array | undefined {
  return file === 'base' ? image.base : image.containers[file];
}

function apply(image: MemoryImage, w: WriteEvent): void {
  const file = fileOf(image, w.file);
  if (file !== undefined) file.set(w.data, w.offset);
}

/** The image with the durable writes applied. */
export function durableImage(run: RecordedRun, state: CrashState): MemoryImage {
  const containers: Uint8Array[] = [];
  for (let i = 0; i < state.containers; i++) {
    const initial = run.initial.containers[i];
    containers.push(initial !== undefined ? initial.slice() : new Uint8Array(run.options.containerSize));
  }
  const image = { base: run.initial.base.slice(), containers };
  for (const w of state.durable) apply(image, w);
  return image;
}

function cloneImage(image: MemoryImage): MemoryImage {
  return { base: image.base.slice(), containers: image.containers.map((c) => c.slice()) };
}

export type Fill = 'old' | 'zero' | 'garbage';

/** Applies `w` partly: the sectors whose bit is set in `mask` land; the others stay old, or become zero or garbage. */
export function applyTorn(
  image: MemoryImage,
  w: WriteEvent,
  present: (sector: number) => boolean,
  fill: Fill,
  random: () => number,
): void {
  const file = fileOf(image, w.file);
  if (file === undefined) return;
  const sectors = w.data.byteLength / SECTOR;
  for (let s = 0; s < sectors; s++) {
    const at = w.offset + s * SECTOR;
    if (present(s)) file.set(w.data.subarray(s * SECTOR, (s + 1) * SECTOR), at);
    else if (fill === 'zero') file.fill(0, at, at + SECTOR);
    else if (fill === 'garbage') for (let i = at; i < at + SECTOR; i++) file[i] = Math.floor(random() * 256);
  }
}

export interface ImageBudget {
  /** Random prefixes per point. */
  prefixes: number;
  /** Random reorderings per point. */
  reorders: number;
  /** Tear every sector subset of writes with at most this many sectors... */
  exhaustiveSectors: number;
  /** ...else this many random subsets. */
  randomSubsets: number;
  /** Fills to tear with. */
  fills: readonly Fill[];
  /** Cap on torn images per in-flight write (after the above), 0 = none. */
  maxTornPerWrite: number;
}

export const FULL_BUDGET: ImageBudget = {
  prefixes: 2,
  reorders: 2,
  exhaustiveSectors: 8,
  randomSubsets: 64,
  fills: ['old', 'zero', 'garbage'],
  maxTornPerWrite: 0,
};

/** The images for one crash point. */
export function* imagesAt(
  run: RecordedRun,
  point: number,
  random: () => number,
  budget: ImageBudget,
): Generator<CrashImage> {
  const state = stateAt(run, point);
  const base = durableImage(run, state);
  yield { image: base, label: `p${point}:drop` };
  if (state.unsynced.length === 0) return;

  const all = cloneImage(base);
  for (const u of state.unsynced) apply(all, u.write);
  yield { image: all, label: `p${point}:all` };

  for (let i = 0; i < budget.prefixes && state.unsynced.length > 1; i++) {
    const k = 1 + Math.floor(random() * (state.unsynced.length - 1));
    const image = cloneImage(base);
    for (const u of state.unsynced.slice(0, k)) apply(image, u.write);
    yield { image, label: `p${point}:prefix${k}` };
  }

  for (let i = 0; i < budget.reorders && state.unsynced.length > 1; i++) {
    const image = cloneImage(base);
    const kept: number[] = [];
    state.unsynced.forEach((u, j) => {
      if (random() < 0.5) {
        apply(image, u.write);
        kept.push(j);
      }
    });
    yield { image, label: `p${point}:subset[${kept.join(',')}]` };
  }

  // Tear each in-flight write, with the other unsynced writes dropped.
  for (const [j, u] of state.unsynced.entries()) {
    if (!u.inFlight) continue;
    const sectors = u.write.data.byteLength / SECTOR;
    const masks: number[][] = [];
    if (sectors <= budget.exhaustiveSectors) {
      for (let m = 1; m < (1 << sectors) - 1; m++) masks.push([m]);
    } else {
      for (let r = 0; r < budget.randomSubsets; r++) {
        const words: number[] = [];
        for (let w = 0; w < Math.ceil(sectors / 30); w++) words.push(Math.floor(random() * 2 ** 30));
        masks.push(words);
      }
    }
    let count = 0;
    for (const mask of masks) {
      for (const fill of budget.fills) {
        if (budget.maxTornPerWrite > 0 && count >= budget.maxTornPerWrite) break;
        // 'old' is the common case; the other fills are sampled.
        if (fill !== 'old' && random() > 0.25) continue;
        const image = cloneImage(base);
        applyTorn(image, u.write, (s) => ((mask[Math.floor(s / 30)]! >>> (s % 30)) & 1) === 1, fill, random);
        count++;
        yield { image, label: `p${point}:torn${j}/${mask.map((m) => m.toString(16)).join('.')}/${fill}` };
      }
    }
  }
}
