// Helpers for the corruption tests (test/corruption): logs built in memory
// from known records (so every record read back can be checked byte-exact),
// the blocks and metadata slots of an image located from what was written,
// damage done to an image's bytes (bit flips, zeroed, swapped and stale
// 512-byte sectors, forged fields with their CRC recomputed), and opening and
// reading a damaged image with a bounded time and bounded allocations.
import { BLOCK_HEADER_SIZE, CHECKSUM_OFFSET, parseBlockHeader, type BlockHeader } from '../../lib/format/block.ts';
import {
  METADATA_CHECKSUM_OFFSET,
  METADATA_HEADER_SIZE,
  SLOT_SIZE,
  decodeMetadata,
  type Metadata,
} from '../../lib/format/metadata.ts';
import { ClfsError } from '../../lib/errors.ts';
import { Log } from '../../lib/log/log.ts';
import type { MarshallingArea } from '../../lib/log/marshalling-area.ts';
import type { LogRecord } from '../../lib/log/read/read-context.ts';
import { Lsn } from '../../lib/lsn.ts';
import type { Durability } from '../../lib/native/direct-file.ts';
import { crc32c } from '../../lib/native/crc32c.ts';
import { MemoryStorage, copyImage, emptyImage, type MemoryImage } from '../../lib/storage/memory-storage.ts';
import type { ChecksumRange, LogStorage, StorageGeometry, StorageStats } from '../../lib/storage/storage.ts';
import { KiB, MiB, SECTOR } from './sizes.ts';
import { payload, prng } from './fixtures.ts';

export { SLOT_SIZE, copyImage, type MemoryImage };

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

// --- building logs from known records ------------------------------------------------

/** A record as appended, kept outside the files under test. */
export interface KnownRecord {
  lsn: Lsn;
  type: 'data' | 'restart';
  data: Uint8Array;
  previousLsn: Lsn;
  undoNextLsn: Lsn;
  /** A flush (or restart area, or close) covering it resolved. */
  acked: boolean;
  /** Which open of the log appended it (0 = the first). */
  generation: number;
}

/** A block as the writer wrote it (one container write = one block). */
export interface WrittenBlock {
  physical: number;
  offset: number;
  /** The bytes written, checksum included. */
  bytes: Uint8Array;
  header: BlockHeader;
  generation: number;
  /** Order of the write over the whole build. */
  order: number;
}

export interface BuildOptions {
  /** The storage's sector unit (default 4096, this machine's physical sector). */
  unit?: number;
  containerSize?: number;
  containers?: number;
  maxContainers?: number;
  durability?: Durability;
  /** The marshalling area's buffer size (default 4096). */
  bufferSize?: number;
  seed?: number;
}

/**
 * A log in memory driven through the public API, recording every record
 * appended (and whether a flush acknowledged it) and every block written.
 * `crashImage()` is the disk as a power cut would leave it now (every
 * completed write, metadata as last written); `close()` then `image` is a
 * cleanly closed log.
 */
export class LogBuilder {
  readonly options: Required<BuildOptions>;
  readonly random: () => number;
  readonly records: KnownRecord[] = [];
  readonly blocks: WrittenBlock[] = [];
  storage: MemoryStorage;
  log: Log;
  area!: MarshallingArea;
  generation = 0;
  #order = 0;
  #seen = 0;

  private constructor(options: Required<BuildOptions>, storage: MemoryStorage, log: Log) {
    this.options = options;
    this.random = prng(options.seed);
    this.storage = storage;
    this.log = log;
  }

  static async create(options: BuildOptions = {}): Promise<LogBuilder> {
    const o: Required<BuildOptions> = {
      unit: options.unit ?? 4096,
      containerSize: options.containerSize ?? 512 * KiB,
      containers: options.containers ?? 2,
      maxContainers: options.maxContainers ?? 0,
      durability: options.durability ?? 'dsync',
      bufferSize: options.bufferSize ?? 4096,
      seed: options.seed ?? 1,
    };
    const image = emptyImage();
    for (let i = 0; i < o.containers; i++) image.containers.push(new Uint8Array(o.containerSize));
    const setup = new MemoryStorage(image, { durability: o.durability, unit: o.unit });
    await Log.initializeStorage(setup, o.containerSize, o.containers, o.maxContainers);
    const storage = new MemoryStorage(image, { durability: o.durability, unit: o.unit });
    const log = await Log.openStorage('memory', storage, 'strict');
    const builder = new LogBuilder(o, storage, log);
    builder.area = await log.createMarshallingArea({ bufferSize: o.bufferSize, flushIntervalMs: 0 });
    return builder;
  }

  /** The files as they are now. */
  get image(): MemoryImage {
    return this.storage.image;
  }

  /** Records every container write the storage has seen since the last call. */
  #collect(): void {
    const events = this.storage.events;
    for (; this.#seen < events.length; this.#seen++) {
      const e = events[this.#seen]!;
      if (e.kind !== 'write' || e.file === 'base') continue;
      const header = parseBlockHeader(e.data, this.options.unit, this.options.containerSize);
      if (typeof header === 'string') throw new Error(`a container write that is not a block: ${header}`);
      this.blocks.push({
        physical: e.file,
        offset: e.offset,
        bytes: e.data,
        header,
        generation: this.generation,
        order: this.#order++,
      });
    }
  }

  #acknowledge(): void {
    const durable = this.log.core.writer.durableLsn;
    if (durable === Lsn.INVALID) return;
    for (const r of this.records) if (r.lsn <= durable && r.generation === this.generation) r.acked = true;
  }

  #track(lsn: Lsn, data: Uint8Array, previousLsn: Lsn, undoNextLsn: Lsn, type: 'data' | 'restart' = 'data'): void {
    this.records.push({
      lsn,
      type,
      data: data.slice(),
      previousLsn,
      undoNextLsn,
      acked: false,
      generation: this.generation,
    });
  }

  /** Appends one record and flushes it (acknowledged). */
  async append(
    data: Uint8Array,
    options: { previousLsn?: Lsn; undoNextLsn?: Lsn; flush?: boolean } = {},
  ): Promise<Lsn> {
    const { lsn } = await this.area.reserveAndAppend(data, {
      previousLsn: options.previousLsn,
      undoNextLsn: options.undoNextLsn,
      forceFlush: options.flush ?? true,
    });
    this.#track(lsn!, data, options.previousLsn ?? Lsn.INVALID, options.undoNextLsn ?? Lsn.INVALID);
    this.#acknowledge();
    this.#collect();
    return lsn!;
  }

  /**
   * `count` blocks, each holding `perBlock` records of `size` bytes, each
   * block flushed (acknowledged) before the next is begun, so every block
   * vouches for the ones before it. Returns each block's record LSNs.
   */
  async flushedBlocks(count: number, perBlock = 3, size?: number): Promise<Lsn[][]> {
    const out: Lsn[][] = [];
    const fill = size ?? Math.floor((this.options.bufferSize - BLOCK_HEADER_SIZE) / perBlock) - 40;
    for (let b = 0; b < count; b++) {
      const datas = Array.from({ length: perBlock }, (_, k) =>
        payload(this.random, `g${this.generation} b${this.blocks.length} r${k} `, fill),
      );
      const lsns = await this.area.appendBatch(datas, { forceFlush: true });
      lsns.forEach((lsn, k) => this.#track(lsn, datas[k]!, Lsn.INVALID, Lsn.INVALID));
      this.#acknowledge();
      this.#collect();
      out.push(lsns);
    }
    return out;
  }

  /**
   * Records of `size` bytes handed to the device together (forceAppend, no
   * flush): they reach the disk but no flush acknowledges them, and none
   * vouches for another (each was submitted while the first was in flight).
   * Waits until they are all written.
   */
  async unackedRecords(count: number, size = this.options.bufferSize - BLOCK_HEADER_SIZE - 40): Promise<Lsn[]> {
    const datas = Array.from({ length: count }, (_, k) => payload(this.random, `g${this.generation} u${k} `, size));
    const lsns = await this.area.appendBatch(datas, { forceAppend: true });
    lsns.forEach((lsn, k) => this.#track(lsn, datas[k]!, Lsn.INVALID, Lsn.INVALID));
    const last = lsns[lsns.length - 1]!;
    while (this.log.core.writer.durableLsn === Lsn.INVALID || this.log.core.writer.durableLsn < last) {
      await new Promise((resolve) => setImmediate(resolve));
    }
    this.#collect();
    return lsns;
  }

  /** A batch of records flushed together: its blocks are submitted together and do not vouch for each other. */
  async flushedBatch(count: number, size: number): Promise<Lsn[]> {
    const datas = Array.from({ length: count }, (_, k) => payload(this.random, `g${this.generation} f${k} `, size));
    const lsns = await this.area.appendBatch(datas, { forceFlush: true });
    lsns.forEach((lsn, k) => this.#track(lsn, datas[k]!, Lsn.INVALID, Lsn.INVALID));
    this.#acknowledge();
    this.#collect();
    return lsns;
  }

  /** Writes a restart area (optionally moving the base). */
  async restart(data: Uint8Array, newBaseLsn?: Lsn): Promise<Lsn> {
    const previous = this.log.core.bases.restartAppended;
    const { lsn } = await this.area.writeRestartArea(data, newBaseLsn === undefined ? {} : { newBaseLsn });
    this.#track(lsn, data, previous, Lsn.INVALID, 'restart');
    this.#acknowledge();
    this.#collect();
    return lsn;
  }

  async advanceBase(lsn: Lsn): Promise<void> {
    await this.area.advanceLogBase(lsn);
    this.#acknowledge();
    this.#collect();
  }

  /** The disk as a power cut now would leave it (every write so far has completed). */
  crashImage(): MemoryImage {
    this.#collect();
    return copyImage(this.storage.image);
  }

  /** Closes the log cleanly; `image` is then a closed log. */
  async close(): Promise<MemoryImage> {
    await this.log.close();
    this.#acknowledge();
    this.#collect();
    return copyImage(this.storage.image);
  }

  /**
   * Opens `image` as the next generation of the log (the crash or close
   * before it is whatever made `image`), continuing to record.
   */
  async reopen(image: MemoryImage): Promise<void> {
    this.#collect();
    this.generation++;
    this.storage = new MemoryStorage(copyImage(image), {
      durability: this.options.durability,
      unit: this.options.unit,
    });
    this.#seen = 0;
    this.log = await Log.openStorage('memory', this.storage, 'strict');
    this.area = await this.log.createMarshallingArea({ bufferSize: this.options.bufferSize, flushIntervalMs: 0 });
  }

  /** The known record with this LSN in the newest generation that appended one. */
  record(lsn: Lsn): KnownRecord {
    const found = this.records.filter((r) => r.lsn === lsn);
    if (found.length === 0) throw new Error(`no record ${Lsn.format(lsn)} was appended`);
    return found[found.length - 1]!;
  }
}

// --- where things are in an image ---------------------------------------------------------

/** The newest valid metadata slot of an image (what open uses), and its slot index. */
export function newestSlot(image: MemoryImage): { slot: 0 | 1; metadata: Metadata } {
  let best: { slot: 0 | 1; metadata: Metadata } | undefined;
  for (const slot of [0, 1] as const) {
    const m = decodeMetadata(image.base.subarray(slot * SLOT_SIZE, (slot + 1) * SLOT_SIZE), (b) => crc32c(b));
    if (typeof m !== 'string' && (best === undefined || m.dumpCount > best.metadata.dumpCount)) {
      best = { slot, metadata: m };
    }
  }
  if (best === undefined) throw new Error('no valid metadata slot');
  return best;
}

/** The physical container and offset of the block holding `lsn` (through the newest metadata). */
export function placeOf(image: MemoryImage, lsn: Lsn): { physical: number; offset: number } {
  const { metadata } = newestSlot(image);
  const physical = metadata.containers.indexOf(Number(lsn >> 32n));
  if (physical === -1) throw new Error(`no physical container holds ${Lsn.format(lsn)}`);
  return { physical, offset: Number(lsn & 0xffff_fe00n) };
}

/** The block at `blockLsn` as it is in the image now (header parsed). */
export function blockAt(image: MemoryImage, blockLsn: Lsn): { physical: number; offset: number; header: BlockHeader } {
  const { physical, offset } = placeOf(image, blockLsn);
  const { metadata } = newestSlot(image);
  const header = parseBlockHeader(
    image.containers[physical]!.subarray(offset, offset + BLOCK_HEADER_SIZE),
    metadata.sectorUnit,
    metadata.containerSize - offset,
  );
  if (typeof header === 'string') throw new Error(`no block at ${Lsn.format(blockLsn)}: ${header}`);
  return { physical, offset, header };
}

// --- damage ---------------------------------------------------------------------------------

/** The bytes of the block at `blockLsn`, as a view into the image (writes damage it). */
export function blockBytes(image: MemoryImage, blockLsn: Lsn): Uint8Array {
  const { physical, offset, header } = blockAt(image, blockLsn);
  return image.containers[physical]!.subarray(offset, offset + header.blockLength);
}

export function flipBit(bytes: Uint8Array, offset: number, bit = 0): void {
  bytes[offset] = bytes[offset]! ^ (1 << bit);
}

/** Zeroes 512-byte sector `index` of `bytes`; fails the premise if it was already zero. */
export function zeroSector(bytes: Uint8Array, index: number): void {
  const sector = bytes.subarray(index * SECTOR, (index + 1) * SECTOR);
  if (sector.every((b) => b === 0)) throw new Error(`premise: sector ${index} is already zero`);
  sector.fill(0);
}

/** Swaps 512-byte sector `i` of `a` with sector `j` of `b`; fails the premise if they are equal. */
export function swapSectors(a: Uint8Array, i: number, b: Uint8Array, j: number): void {
  const x = a.slice(i * SECTOR, (i + 1) * SECTOR);
  const y = b.slice(j * SECTOR, (j + 1) * SECTOR);
  if (sameBytes(x, y)) throw new Error('premise: the sectors are equal');
  a.set(y, i * SECTOR);
  b.set(x, j * SECTOR);
}

/** Puts sector `index` of `older` (an earlier version of the same place) back into `bytes`. */
export function staleSector(bytes: Uint8Array, older: Uint8Array, index: number): void {
  const old = older.subarray(index * SECTOR, (index + 1) * SECTOR);
  if (sameBytes(old, bytes.subarray(index * SECTOR, (index + 1) * SECTOR))) {
    throw new Error(`premise: sector ${index} did not change`);
  }
  bytes.set(old, index * SECTOR);
}

/** Recomputes a block's CRC (a forged block: only its fields can be wrong, not its checksum). */
export function resealBlock(block: Uint8Array): void {
  const view = new DataView(block.buffer, block.byteOffset, block.byteLength);
  const length = Math.min(view.getUint32(12, true), block.byteLength);
  view.setUint32(CHECKSUM_OFFSET, 0, true);
  view.setUint32(CHECKSUM_OFFSET, crc32c(block.subarray(0, length)), true);
}

/** Recomputes a metadata slot's CRC over its used length (clipped to the slot). */
export function resealSlot(slot: Uint8Array): void {
  const view = new DataView(slot.buffer, slot.byteOffset, slot.byteLength);
  const used = Math.min(Math.max(view.getUint32(12, true), METADATA_HEADER_SIZE), slot.byteLength);
  view.setUint32(METADATA_CHECKSUM_OFFSET, 0, true);
  view.setUint32(METADATA_CHECKSUM_OFFSET, crc32c(slot.subarray(0, used)), true);
}

export function slotBytes(image: MemoryImage, slot: 0 | 1): Uint8Array {
  return image.base.subarray(slot * SLOT_SIZE, (slot + 1) * SLOT_SIZE);
}

// --- opening and reading damaged images ------------------------------------------------------

/**
 * A LogStorage over a MemoryStorage that behaves as the native storage does
 * where the image is short of what the metadata claims: a container the
 * image does not have is a missing file (ENOENT, as DirectFile.open gives),
 * not the in-memory backend's RangeError. It also bounds and counts every
 * buffer the log asks it for.
 */
export class HostileStorage implements LogStorage {
  readonly inner: MemoryStorage;
  /** The largest single allocation asked for, and the total. */
  largestAllocation = 0;
  totalAllocated = 0;
  readonly #limit: number;
  readonly #budget: number;
  #stopped: string | undefined;

  /**
   * `image` is copied: the storage changes its copy (`inner.image`).
   * `allocationLimit` refuses any single buffer larger; `budget` stops the
   * storage (every later request fails) once the buffers asked for or the
   * bytes read pass it, so a runaway recovery ends instead of churning on
   * in the background after its test gave up on it.
   */
  constructor(
    image: MemoryImage,
    options: { unit?: number; durability?: Durability; allocationLimit?: number; budget?: number } = {},
  ) {
    this.inner = new MemoryStorage(copyImage(image), {
      unit: options.unit ?? 4096,
      durability: options.durability ?? 'dsync',
    });
    this.#limit = options.allocationLimit ?? 64 * MiB;
    this.#budget = options.budget ?? Infinity;
  }

  /** Fails every later request (a test that timed out stops the work it left running). */
  stop(reason: string): void {
    this.#stopped ??= reason;
  }

  #checkBudget(): void {
    if (this.#stopped === undefined && Math.max(this.totalAllocated, this.inner.stats.bytesRead) > this.#budget) {
      this.#stopped = `over budget: ${this.totalAllocated} bytes allocated, ${this.inner.stats.bytesRead} read`;
    }
    if (this.#stopped !== undefined) throw new Error(`HostileStorage stopped (${this.#stopped})`);
  }

  get geometry(): StorageGeometry {
    return this.inner.geometry;
  }
  get stats(): StorageStats {
    return this.inner.stats;
  }
  get containerCount(): number {
    return this.#count;
  }
  #count = 0;
  setContainerCount(count: number): void {
    this.#count = count;
    this.inner.setContainerCount(Math.min(count, this.inner.image.containers.length));
  }
  /** As the native storage checks them at open: a missing container is ENOENT, one of another size ERR_CLFS_CORRUPT. */
  async syncContainers(indices: readonly number[]): Promise<void> {
    for (const index of indices) if (this.#missing(index)) throw this.#enoent(index);
    await this.inner.syncContainers(indices);
  }

  async checkContainers(size: number): Promise<void> {
    this.#checkBudget();
    for (let index = 0; index < this.#count; index++) {
      if (this.#missing(index)) throw this.#enoent(index);
    }
    await this.inner.checkContainers(size);
  }
  #missing(container: number): boolean {
    return container >= this.inner.image.containers.length && container < this.#count;
  }
  #enoent(container: number): ClfsError {
    return new ClfsError('ENOENT', `ENOENT: no such file or directory, open 'container-${container}'`, {
      errno: -2,
      syscall: 'open',
      path: `container-${container}`,
    });
  }
  allocate(size: number): Uint8Array {
    this.#checkBudget();
    this.largestAllocation = Math.max(this.largestAllocation, size);
    this.totalAllocated += size;
    if (size > this.#limit) {
      // Refuse rather than let a hostile length take the machine's memory:
      // the property checks largestAllocation and reports it.
      throw new Error(`HostileStorage: an allocation of ${size} bytes (limit ${this.#limit})`);
    }
    return this.inner.allocate(size);
  }
  write(container: number, offset: number, buffers: Uint8Array[], checksums: ChecksumRange[]): Promise<void> {
    if (this.#missing(container)) return Promise.reject(this.#enoent(container));
    // A write past the end of a (truncated) file extends it, as on a real disk.
    const length = buffers.reduce((n, b) => n + b.byteLength, 0);
    const file = this.inner.image.containers[container];
    if (file !== undefined && offset + length > file.byteLength) {
      const grown = new Uint8Array(offset + length);
      grown.set(file);
      this.inner.image.containers[container] = grown;
    }
    return this.inner.write(container, offset, buffers, checksums);
  }
  read(container: number, offset: number, into: Uint8Array): Promise<number> {
    try {
      this.#checkBudget();
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.#missing(container)) return Promise.reject(this.#enoent(container));
    return this.inner.read(container, offset, into);
  }
  sync(): Promise<void> {
    return this.inner.sync();
  }
  writeMetadata(slot: 0 | 1, bytes: Uint8Array, checksum: ChecksumRange): Promise<void> {
    const end = slot * SLOT_SIZE + bytes.byteLength;
    if (this.inner.image.base.byteLength < end) {
      const grown = new Uint8Array(end);
      grown.set(this.inner.image.base);
      this.inner.image.base = grown;
    }
    return this.inner.writeMetadata(slot, bytes, checksum);
  }
  readMetadata(slot: 0 | 1, into: Uint8Array): Promise<number> {
    return this.inner.readMetadata(slot, into);
  }
  removeContainer(index: number): Promise<void> {
    return this.inner.removeContainer(index);
  }

  addContainer(index: number, size: number): Promise<void> {
    return this.inner.addContainer(index, size);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
  reopen(): void {
    this.inner.reopen();
  }
}

/** Opens a copy of `image` (open writes metadata; the image itself is left as it is). */
export async function openImage(
  image: MemoryImage,
  recovery: 'strict' | 'salvage' = 'strict',
  unit = 4096,
): Promise<Log> {
  const storage = new MemoryStorage(copyImage(image), { unit });
  return Log.openStorage('memory', storage, recovery);
}

/** What a promise rejected with; fails if it resolved. */
export async function rejection(promise: Promise<unknown>): Promise<ClfsError> {
  try {
    const value = await promise;
    if (value instanceof Log) await value.close();
  } catch (error) {
    return error as ClfsError;
  }
  throw new Error('expected a rejection, but the promise resolved');
}

/** Rejects after `ms` with a message naming `what` (for async hangs). */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timeout: ${what} took more than ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export interface ReadOutcome {
  records: LogRecord[];
  /** The error that stopped the read, if one did. */
  error: ClfsError | undefined;
}

/** Reads forward from `from` (default the base) every record of any type, until the end or an error. */
export async function readForward(log: Log, from?: Lsn, bufferSize = 64 * KiB): Promise<ReadOutcome> {
  const area = await log.createMarshallingArea({ bufferSize, flushIntervalMs: 0 });
  const records: LogRecord[] = [];
  try {
    for await (const r of area.records(from, 'forward', { type: 'client' })) records.push(r);
    return { records, error: undefined };
  } catch (error) {
    return { records, error: error as ClfsError };
  } finally {
    await area.close();
  }
}

/** Reads one record by LSN. */
export async function readOne(log: Log, lsn: Lsn, bufferSize = 64 * KiB): Promise<LogRecord> {
  const area = await log.createMarshallingArea({ bufferSize, flushIntervalMs: 0 });
  try {
    const context = await area.readLogRecord(lsn, 'forward', { type: 'client' });
    context.terminate();
    return context.record;
  } finally {
    await area.close();
  }
}

/** Whether `record` is exactly the known one (LSN, type, data, chains). */
export function matches(record: LogRecord, known: KnownRecord): boolean {
  return (
    record.lsn === known.lsn &&
    record.type === known.type &&
    record.previousLsn === known.previousLsn &&
    record.undoNextLsn === known.undoNextLsn &&
    sameBytes(record.data, known.data)
  );
}

/** Problems with records read back: each must be a known record, byte-exact, in strictly increasing LSN order. */
export function checkAgainst(records: readonly LogRecord[], known: readonly KnownRecord[]): string[] {
  const byLsn = new Map<Lsn, KnownRecord[]>();
  for (const k of known) byLsn.set(k.lsn, [...(byLsn.get(k.lsn) ?? []), k]);
  const problems: string[] = [];
  let previous: Lsn | undefined;
  for (const r of records) {
    if (previous !== undefined && r.lsn <= previous) {
      problems.push(`record ${Lsn.format(r.lsn)} after ${Lsn.format(previous)}: not in LSN order`);
    }
    previous = r.lsn;
    const candidates = byLsn.get(r.lsn) ?? [];
    if (!candidates.some((k) => matches(r, k))) {
      problems.push(
        candidates.length === 0
          ? `record ${Lsn.format(r.lsn)} was never appended (phantom)`
          : `record ${Lsn.format(r.lsn)} differs from what was appended there`,
      );
    }
  }
  return problems;
}

export function hex(lsn: Lsn | undefined): string {
  return lsn === undefined ? 'undefined' : Lsn.format(lsn);
}
