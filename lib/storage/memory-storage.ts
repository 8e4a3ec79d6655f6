/**
 * LogStorage in memory, recording every write, sync and container change:
 * the backend of crash-state enumeration (the crash tier's). It completes
 * requests asynchronously and, with a seeded random source, out of order, as
 * a device with a queue does; its event list says exactly what was submitted
 * and completed in which order, so a crash can be placed between any two
 * events and the disk image at that point rebuilt (see crash images in
 * test/crash).
 *
 * What reaches "the disk" follows the durability mode: with 'dsync' a write
 * is durable when it completes; with 'fdatasync' when a sync submitted after
 * it completed has completed; metadata writes are durable on completion
 * (except 'none'). Reads see every completed write.
 *
 * A `fault` hook fails chosen requests (the I/O-error tier, test/faults):
 * at submission, on completion, or as a short write whose first bytes land
 * before the error. A failed write's landed bytes are recorded as a write
 * that never completed, so crash images treat them as unsynced.
 * @module
 */
import { ClfsError, invariant } from '../errors.ts';
import { SLOT_SIZE } from '../format/metadata.ts';
import type { Durability } from '../native/direct-file.ts';
import { crc32c } from '../native/crc32c.ts';
import {
  emptyStorageStats,
  type ChecksumRange,
  type LogStorage,
  type StorageGeometry,
  type StorageStats,
} from './storage.ts';

/** A file of the log: the base file, or a container by physical index. */
export type FileId = 'base' | number;

export type StorageEvent =
  | { kind: 'write'; id: number; file: FileId; offset: number; data: Uint8Array; dsync: boolean }
  | { kind: 'sync'; id: number; files: number[] }
  | { kind: 'add'; id: number; index: number; size: number }
  | { kind: 'remove'; id: number; index: number }
  | { kind: 'complete'; id: number };

/** The bytes of every file: what a log is, at rest. */
export interface MemoryImage {
  base: Uint8Array;
  containers: Uint8Array[];
}

export interface MemoryStorageOptions {
  durability?: Durability;
  /** The sector unit (physical sector size) the storage reports (default 4096). */
  unit?: number;
  /** Random source in [0, 1) for completion order; default: completions in order. */
  random?: () => number;
  /** Most event-loop turns a request waits before completing (default 2). */
  maxDelay?: number;
  /**
   * Called before each request; what it returns fails the request (fault
   * injection): an Error fails it at once, before anything happens; a
   * {@link FaultAction} can instead fail it on completion, after part of its
   * data landed (a short write).
   */
  fault?: (request: FaultRequest) => Error | FaultAction | undefined;
}

/** What fault injection sees of a request. */
export interface FaultRequest {
  op: 'write' | 'sync' | 'read' | 'metadata' | 'add' | 'remove';
  /** 1-based count of requests of this op so far. */
  n: number;
  file: FileId;
  /** Byte offset in the file (0 for sync and add). */
  offset: number;
  length: number;
}

/** How an injected fault behaves (a bare Error is `{ error }`). */
export interface FaultAction {
  error: Error;
  /**
   * Fail on completion, after the usual delay, rather than at submission
   * (a device reporting the error when the request completes).
   */
  delayed?: boolean;
  /**
   * Writes and metadata writes: bytes of the request, from its start, that
   * reach the file before it fails (a short write: part of the data lands,
   * then the error). Implies `delayed`. Default 0.
   */
  landed?: number;
}

export function emptyImage(): MemoryImage {
  return { base: new Uint8Array(2 * SLOT_SIZE), containers: [] };
}

export function copyImage(image: MemoryImage): MemoryImage {
  return { base: image.base.slice(), containers: image.containers.map((c) => c.slice()) };
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export class MemoryStorage implements LogStorage {
  readonly geometry: StorageGeometry;
  readonly stats: StorageStats = emptyStorageStats();
  /** Everything submitted and completed, in order. */
  readonly events: StorageEvent[] = [];
  /** The files as reads see them (every completed write applied). */
  readonly image: MemoryImage;
  readonly #options: MemoryStorageOptions;
  readonly #dirty = new Set<number>();
  readonly #counts = { write: 0, sync: 0, read: 0, metadata: 0, add: 0, remove: 0 };
  #containerCount: number;
  #nextId = 1;
  #closed = false;

  /** `image` is used as is (not copied): the storage changes it. */
  constructor(image: MemoryImage, options: MemoryStorageOptions = {}) {
    this.image = image;
    this.#options = options;
    this.#containerCount = image.containers.length;
    const unit = options.unit ?? 4096;
    this.geometry = {
      unit,
      memoryAlignment: 512,
      direct: true,
      reason: 'in memory',
      logicalSectorSize: 512,
      physicalSectorSize: unit,
      durability: options.durability ?? 'dsync',
    };
  }

  get containerCount(): number {
    return this.#containerCount;
  }

  setContainerCount(count: number): void {
    invariant(count <= this.image.containers.length, 'the image has fewer containers');
    this.#containerCount = count;
  }

  async checkContainers(size: number): Promise<void> {
    this.#check();
    for (let index = 0; index < this.#containerCount; index++) {
      const actual = this.image.containers[index]!.byteLength;
      if (actual !== size) {
        throw new ClfsError(
          'ERR_CLFS_CORRUPT',
          `container ${index} (in memory) is ${actual} bytes, but this log's containers are ${size} bytes`,
          { size: actual, expected: size },
        );
      }
    }
  }

  allocate(size: number): Uint8Array {
    return new Uint8Array(size);
  }

  #check(): void {
    if (this.#closed) throw new ClfsError('ERR_CLFS_CLOSED', 'the memory storage is closed');
  }

  /**
   * Asks the fault hook about a request: throws a fault to inject at once;
   * returns one to inject on completion (undefined: no fault).
   */
  #fault(op: FaultRequest['op'], file: FileId, offset: number, length: number): FaultAction | undefined {
    const n = ++this.#counts[op];
    const result = this.#options.fault?.({ op, n, file, offset, length });
    if (result === undefined) return undefined;
    const action = result instanceof Error ? { error: result } : result;
    if (!action.delayed && (action.landed ?? 0) === 0) throw action.error;
    return action;
  }

  #file(file: FileId): Uint8Array {
    if (file === 'base') return this.image.base;
    invariant(
      Number.isInteger(file) && file >= 0 && file < this.#containerCount,
      () => `container ${file} does not exist`,
    );
    return this.image.containers[file]!;
  }

  #aligned(offset: number, length: number): void {
    const unit = this.geometry.unit;
    if (offset % unit !== 0 || length % unit !== 0) {
      throw new ClfsError('ERR_CLFS_MISALIGNED', `offset ${offset} / length ${length} not a multiple of ${unit}`);
    }
  }

  /** Completes after a (seeded) random number of event-loop turns. */
  async #delay(): Promise<void> {
    const random = this.#options.random;
    const turns = random === undefined ? 1 : 1 + Math.floor(random() * ((this.#options.maxDelay ?? 2) + 1));
    for (let i = 0; i < turns; i++) await turn();
  }

  async write(container: number, offset: number, buffers: Uint8Array[], checksums: ChecksumRange[]): Promise<void> {
    this.#check();
    const length = buffers.reduce((n, b) => n + b.byteLength, 0);
    this.#aligned(offset, length);
    const file = this.#file(container);
    invariant(offset + length <= file.byteLength, 'write past the end of the container');
    const fault = this.#fault('write', container, offset, length);
    const data = new Uint8Array(length);
    let at = 0;
    for (const b of buffers) {
      data.set(b, at);
      at += b.byteLength;
    }
    applyChecksums(data, checksums);
    if (fault !== undefined) return this.#failLate(fault, container, offset, data);
    const id = this.#nextId++;
    const dsync = this.geometry.durability === 'dsync';
    this.events.push({ kind: 'write', id, file: container, offset, data, dsync });
    await this.#delay();
    this.#check();
    file.set(data, offset);
    this.events.push({ kind: 'complete', id });
    if (!dsync) this.#dirty.add(container);
    this.stats.flushes++;
    this.stats.bytesFlushed += length;
  }

  /**
   * A write failing on completion: after the delay, the first `landed` bytes
   * reach the file (recorded as a write never completed, so crash images
   * treat them as unsynced), then the error.
   */
  async #failLate(fault: FaultAction, file: FileId, offset: number, data: Uint8Array): Promise<never> {
    const landed = Math.max(0, Math.min(fault.landed ?? 0, data.byteLength));
    const part = data.slice(0, landed);
    if (landed > 0) this.events.push({ kind: 'write', id: this.#nextId++, file, offset, data: part, dsync: false });
    await this.#delay();
    this.#check();
    if (landed > 0) this.#file(file).set(part, offset);
    throw fault.error;
  }

  async read(container: number, offset: number, into: Uint8Array): Promise<number> {
    this.#check();
    this.#aligned(offset, into.byteLength);
    // Removed (removeContainers) since the reader looked it up: nothing there.
    if (Number.isInteger(container) && container >= this.#containerCount) return 0;
    const file = this.#file(container);
    const fault = this.#fault('read', container, offset, into.byteLength);
    await turn();
    if (fault !== undefined) throw fault.error;
    const n = Math.max(0, Math.min(into.byteLength, file.byteLength - offset));
    into.set(file.subarray(offset, offset + n));
    this.stats.reads++;
    this.stats.bytesRead += n;
    return n;
  }

  async sync(): Promise<void> {
    this.#check();
    const files = [...this.#dirty];
    const fault = this.#fault('sync', files[0] ?? 0, 0, 0);
    if (fault !== undefined) {
      // A failed sync vouches for nothing: the files stay dirty.
      await this.#delay();
      throw fault.error;
    }
    this.#dirty.clear();
    const id = this.#nextId++;
    this.events.push({ kind: 'sync', id, files });
    await this.#delay();
    this.#check();
    this.events.push({ kind: 'complete', id });
    this.stats.syncs++;
  }

  /** Nothing to do: an image holds no write of an earlier process that a power cut could still take. */
  async syncContainers(indices: readonly number[]): Promise<void> {
    this.#check();
    for (const index of indices) this.#file(index);
  }

  async writeMetadata(slot: 0 | 1, bytes: Uint8Array, checksum: ChecksumRange): Promise<void> {
    this.#check();
    this.#aligned(0, bytes.byteLength);
    const offset = slot * SLOT_SIZE;
    const fault = this.#fault('metadata', 'base', offset, bytes.byteLength);
    const data = bytes.slice();
    applyChecksums(data, [checksum]);
    if (fault !== undefined) return this.#failLate(fault, 'base', offset, data);
    const id = this.#nextId++;
    this.events.push({ kind: 'write', id, file: 'base', offset, data, dsync: this.geometry.durability !== 'none' });
    await this.#delay();
    this.#check();
    this.image.base.set(data, offset);
    this.events.push({ kind: 'complete', id });
    this.stats.metadataFlushes++;
    this.stats.metadataBytesFlushed += data.byteLength;
  }

  async readMetadata(slot: 0 | 1, into: Uint8Array): Promise<number> {
    this.#check();
    const offset = slot * SLOT_SIZE;
    const n = Math.min(into.byteLength, SLOT_SIZE);
    into.set(this.image.base.subarray(offset, offset + n));
    await turn();
    return n;
  }

  async addContainer(index: number, size: number): Promise<void> {
    this.#check();
    invariant(index === this.#containerCount, () => `containers are added in order: expected ${this.#containerCount}`);
    this.#aligned(0, size);
    const fault = this.#fault('add', index, 0, size);
    if (fault !== undefined) {
      await this.#delay();
      throw fault.error;
    }
    const id = this.#nextId++;
    this.events.push({ kind: 'add', id, index, size });
    await this.#delay();
    this.image.containers[index] = new Uint8Array(size);
    this.#containerCount = index + 1;
    this.events.push({ kind: 'complete', id });
  }

  async removeContainer(index: number): Promise<void> {
    this.#check();
    invariant(
      index === this.#containerCount - 1,
      () => `containers are removed from the end: expected ${this.#containerCount - 1}`,
    );
    const fault = this.#fault('remove', index, 0, 0);
    if (fault !== undefined) {
      await this.#delay();
      throw fault.error;
    }
    const id = this.#nextId++;
    this.#containerCount = index;
    this.#dirty.delete(index);
    this.events.push({ kind: 'remove', id, index });
    await this.#delay();
    this.image.containers.length = Math.min(this.image.containers.length, index);
    this.events.push({ kind: 'complete', id });
  }

  async close(): Promise<void> {
    this.#closed = true;
  }

  /** Makes a closed storage usable again (a log reopened on the same "disk"). */
  reopen(): void {
    this.#closed = false;
  }
}

/** Computes the listed CRC32Cs into `data`, as the native write path does. */
export function applyChecksums(data: Uint8Array, checksums: readonly ChecksumRange[]): void {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  for (const { start, length, field } of checksums) {
    view.setUint32(field, 0, true);
    view.setUint32(field, crc32c(data.subarray(start, start + length)), true);
  }
}
