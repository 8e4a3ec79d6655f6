/**
 * The simulated disk: sparse files (pages in a Map, unwritten bytes read as
 * zeros), so a 4 GiB container costs only the pages written to it, and the
 * line between what is durable and what is not.
 *
 * `files` holds durable contents. Container writes in 'fdatasync' mode that
 * completed but were not yet covered by a completed sync sit in `unsynced`;
 * reads see them laid over the durable bytes, as a page cache would. A crash
 * image (crashImage) starts from the durable files, keeps a seeded subset of
 * the unsynced writes, and tears each write still in flight by 512-byte
 * sector (each sector new, old, zeroed or garbage), as RELIABILITY.md's
 * recording layer does.
 * @module
 */
import { SLOT_SIZE } from '../../lib/format/metadata.ts';
import { chance, int, pick } from '../support/random.ts';
import { SECTOR } from '../support/sizes.ts';

/** Pages are immutable once stored, so copying a file copies references only. */
const PAGE = 4096;
/** The tearing unit: the disk here has 512-byte logical sectors (RELIABILITY.md). */

export class SparseFile {
  size: number;
  readonly #pages: Map<number, Uint8Array>;

  constructor(size: number, pages = new Map<number, Uint8Array>()) {
    this.size = size;
    this.#pages = pages;
  }

  clone(): SparseFile {
    return new SparseFile(this.size, new Map(this.#pages));
  }

  /** Copies [offset, offset + into.length) into `into`, zeros where never written; the caller bounds it by size. */
  readInto(offset: number, into: Uint8Array): void {
    let at = 0;
    while (at < into.byteLength) {
      const position = offset + at;
      const index = Math.floor(position / PAGE);
      const within = position - index * PAGE;
      const n = Math.min(PAGE - within, into.byteLength - at);
      const page = this.#pages.get(index);
      if (page === undefined) into.fill(0, at, at + n);
      else into.set(page.subarray(within, within + n), at);
      at += n;
    }
  }

  /** Writes `data` at `offset` (copy on write per page); a write past the end grows the file. */
  write(offset: number, data: Uint8Array): void {
    let at = 0;
    while (at < data.byteLength) {
      const position = offset + at;
      const index = Math.floor(position / PAGE);
      const within = position - index * PAGE;
      const n = Math.min(PAGE - within, data.byteLength - at);
      let page: Uint8Array;
      if (n === PAGE) page = data.slice(at, at + n);
      else {
        page = this.#pages.get(index)?.slice() ?? new Uint8Array(PAGE);
        page.set(data.subarray(at, at + n), within);
      }
      this.#pages.set(index, page);
      at += n;
    }
    this.size = Math.max(this.size, offset + data.byteLength);
  }
}

/** A file of the log: the base file, or a container by physical index. */
export type FileId = 'base' | number;

/** A write that reached the device but not stable storage. */
export interface UnsyncedWrite {
  seq: number;
  file: FileId;
  offset: number;
  data: Uint8Array;
}

/** A write submitted and not completed when the crash came: its bytes as they are in the buffer then. */
export interface InFlightWrite {
  file: FileId;
  offset: number;
  data: Uint8Array;
}

export class SimDisk {
  readonly files = new Map<FileId, SparseFile>();
  unsynced: UnsyncedWrite[] = [];
  #seq = 0;

  /** A new log's disk: the base file and `containers` containers of `size` bytes. */
  static create(containers: number, size: number): SimDisk {
    const disk = new SimDisk();
    disk.files.set('base', new SparseFile(2 * SLOT_SIZE));
    for (let i = 0; i < containers; i++) disk.files.set(i, new SparseFile(size));
    return disk;
  }

  /** A copy: durable files and unsynced writes (pages shared, never changed in place). */
  clone(): SimDisk {
    const disk = new SimDisk();
    for (const [id, file] of this.files) disk.files.set(id, file.clone());
    disk.unsynced = [...this.unsynced];
    disk.#seq = this.#seq;
    return disk;
  }

  get containerCount(): number {
    let n = 0;
    while (this.files.has(n)) n++;
    return n;
  }

  /** Reads as the page cache would serve it: durable bytes with unsynced writes laid over them. */
  read(file: FileId, offset: number, into: Uint8Array): number {
    const f = this.files.get(file);
    if (f === undefined) return 0;
    const n = Math.max(0, Math.min(into.byteLength, f.size - offset));
    const view = into.subarray(0, n);
    f.readInto(offset, view);
    for (const w of this.unsynced) {
      if (w.file !== file) continue;
      const from = Math.max(offset, w.offset);
      const to = Math.min(offset + n, w.offset + w.data.byteLength);
      if (from < to) view.set(w.data.subarray(from - w.offset, to - w.offset), from - offset);
    }
    return n;
  }

  /** A completed write: durable at once, or (fdatasync containers) once a sync covers it. */
  write(file: FileId, offset: number, data: Uint8Array, durable: boolean): void {
    if (durable) {
      this.files.get(file)!.write(offset, data);
      // A durable write supersedes the unsynced bytes it covers in the page cache's view.
      this.unsynced = this.unsynced.filter(
        (w) => w.file !== file || w.offset + w.data.byteLength <= offset || w.offset >= offset + data.byteLength,
      );
    } else {
      this.unsynced.push({ seq: this.#seq++, file, offset, data });
    }
  }

  /** The unsynced writes a sync submitted now covers. */
  syncPoint(): number {
    return this.#seq;
  }

  /** A sync submitted at `point` completed: the writes it covers are durable. */
  syncCompleted(point: number, files?: ReadonlySet<FileId>): void {
    const covers = (w: UnsyncedWrite): boolean => w.seq < point && (files === undefined || files.has(w.file));
    const covered = this.unsynced.filter(covers);
    this.unsynced = this.unsynced.filter((w) => !covers(w));
    for (const w of covered) this.files.get(w.file)?.write(w.offset, w.data);
  }

  addContainer(index: number, size: number): void {
    this.files.set(index, new SparseFile(size));
  }

  /** Removes a container (unlink and directory sync done): its unsynced writes go with it. */
  removeContainer(index: number): void {
    this.files.delete(index);
    this.unsynced = this.unsynced.filter((w) => w.file !== index);
  }
}

/** How a crash image was made (for the trace). */
export interface CrashChoice {
  label: string;
  disk: SimDisk;
}

/**
 * The disk as a power cut now could leave it: durable files; unsynced
 * writes all dropped, all kept, or a seeded subset; each in-flight write
 * torn by sector. Containers being added (or removed) exist or not.
 */
export function crashImage(
  disk: SimDisk,
  inFlight: readonly InFlightWrite[],
  addsInFlight: readonly { index: number; size: number; remove?: boolean }[],
  random: () => number,
): CrashChoice {
  const image = new SimDisk();
  for (const [id, file] of disk.files) image.files.set(id, file.clone());
  const parts: string[] = [];
  const keep = pick(random, ['none', 'none', 'all', 'subset'] as const);
  let kept = 0;
  for (const w of disk.unsynced) {
    if (keep === 'all' || (keep === 'subset' && chance(random, 0.5))) {
      image.files.get(w.file)?.write(w.offset, w.data);
      kept++;
    }
  }
  if (disk.unsynced.length > 0) parts.push(`unsynced ${kept}/${disk.unsynced.length}`);
  for (const add of addsInFlight) {
    if (add.remove === true) {
      if (chance(random, 0.5)) image.removeContainer(add.index);
    } else if (!image.files.has(add.index) && chance(random, 0.5)) image.addContainer(add.index, add.size);
  }
  for (const w of inFlight) {
    const file = image.files.get(w.file);
    if (file === undefined) continue;
    const how = pick(random, ['none', 'all', 'torn', 'torn'] as const);
    if (how === 'none') continue;
    if (how === 'all') {
      file.write(w.offset, w.data);
      parts.push(`inflight ${String(w.file)}@${w.offset} whole`);
      continue;
    }
    const fill = pick(random, ['old', 'old', 'zero', 'garbage'] as const);
    const sectors = w.data.byteLength / SECTOR;
    let landed = 0;
    for (let s = 0; s < sectors; s++) {
      const at = w.offset + s * SECTOR;
      if (chance(random, 0.5)) {
        file.write(at, w.data.subarray(s * SECTOR, (s + 1) * SECTOR));
        landed++;
      } else if (fill === 'zero') file.write(at, new Uint8Array(SECTOR));
      else if (fill === 'garbage') {
        const junk = new Uint8Array(SECTOR);
        for (let i = 0; i < SECTOR; i++) junk[i] = int(random, 0, 255);
        file.write(at, junk);
      }
    }
    parts.push(`inflight ${String(w.file)}@${w.offset} torn ${landed}/${sectors} ${fill}`);
  }
  return { label: `${keep} ${parts.join(', ')}`.trim(), disk: image };
}
