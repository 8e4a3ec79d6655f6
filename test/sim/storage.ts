/**
 * LogStorage over the simulated disk, for one open log instance.
 *
 * Every request waits for the scheduler (test/sim/scheduler.ts) to complete
 * it. It behaves like the native direct file, not like a forgiving buffer:
 * the CRC32Cs are computed into the caller's buffers at submission, but the
 * bytes are copied only at completion (a buffer changed while its write is
 * in flight shows in the data, as with DMA); offsets and lengths must be
 * multiples of the sector unit (a misaligned direct write fails with
 * EINVAL). A write past a container's end is accepted, the file grows, as a
 * real file would, but it is a violation the checker reports (the log's
 * containers have a fixed size, and recovery never reads there).
 *
 * Injected faults (FaultPlan) fail chosen requests: EIO on completion, a
 * short write (part of the data lands, unsynced, then EIO), ENOSPC at
 * submission. A crash drops the instance (`kill`): its pending requests
 * never complete.
 * @module
 */
import { ClfsError } from '../../lib/errors.ts';
import { SLOT_SIZE } from '../../lib/format/metadata.ts';
import type { Durability } from '../../lib/native/direct-file.ts';
import { applyChecksums } from '../../lib/storage/memory-storage.ts';
import {
  emptyStorageStats,
  type ChecksumRange,
  type LogStorage,
  type StorageGeometry,
  type StorageStats,
} from '../../lib/storage/storage.ts';
import type { FaultKind, FaultOp as BaseFaultOp, FaultPlan as BaseFaultPlan } from '../support/fault-plan.ts';
import type { FileId, InFlightWrite, SimDisk } from './disk.ts';
import type { Scheduler } from './scheduler.ts';

/** The harness's requests, and reads. */
export type FaultOp = BaseFaultOp | 'read';
export type { FaultKind };

/** Fail the `n`th request of `op` (counted over the whole run), or every one from it on. */
export type FaultPlan = BaseFaultPlan<FaultOp>;

/** Counts requests over the run's instances and says which fail. */
export class Faults {
  readonly plans: FaultPlan[];
  readonly #counts: Record<FaultOp, number> = { write: 0, sync: 0, metadata: 0, add: 0, read: 0 };
  enabled = true;
  injected = 0;

  constructor(plans: FaultPlan[]) {
    this.plans = plans;
  }

  decide(op: FaultOp): FaultPlan | undefined {
    const n = ++this.#counts[op];
    if (!this.enabled) return undefined;
    const plan = this.plans.find((p) => p.op === op && (p.persistent ? n >= p.n : n === p.n));
    if (plan !== undefined) this.injected++;
    return plan;
  }
}

function injected(plan: FaultPlan): ClfsError {
  const code = plan.kind === 'ENOSPC' ? 'ENOSPC' : 'EIO';
  const syscall = { write: 'pwritev', sync: 'fdatasync', metadata: 'pwrite', add: 'fallocate', read: 'pread' }[plan.op];
  return new ClfsError(code, `${code}: injected ${plan.kind} on ${plan.op} #${plan.n}, ${syscall}`, {
    errno: code === 'ENOSPC' ? -28 : -5,
    syscall,
  });
}

/** Something the storage saw the library do that a real device would not take (reported by the checker). */
export interface StorageViolation {
  kind: string;
  detail: string;
}

export interface SimStorageOptions {
  unit: number;
  durability: Durability;
  faults?: Faults;
  name: string;
  /** A read-only log's, beside the writer's: its metadata may name a container the writer removed since. */
  follower?: boolean;
}

export class SimStorage implements LogStorage {
  readonly geometry: StorageGeometry;
  readonly stats: StorageStats = emptyStorageStats();
  readonly disk: SimDisk;
  readonly violations: StorageViolation[] = [];
  readonly #scheduler: Scheduler;
  readonly #options: SimStorageOptions;
  readonly #inFlight = new Map<number, { file: FileId; offset: number; buffers: Uint8Array[] }>();
  readonly #adding = new Map<number, { index: number; size: number; remove?: boolean }>();
  /** Containers removed by this instance (reads of them find nothing, not a violation). */
  readonly #removed = new Set<number>();
  #containerCount: number;
  closed = false;
  dead = false;
  /** Write, sync or metadata faults delivered to the library (it must fail-stop). */
  writeFaultsDelivered = 0;
  /** Read faults delivered to the library. */
  readFaultsDelivered = 0;
  /**
   * Whether the log using this storage has fail-stopped (set by the driver
   * once the log is open): from then on it must record nothing, so a write,
   * sync or metadata write it submits is an I6 violation.
   */
  failStopped: () => boolean = () => false;

  constructor(disk: SimDisk, scheduler: Scheduler, options: SimStorageOptions) {
    this.disk = disk;
    this.#scheduler = scheduler;
    this.#options = options;
    this.#containerCount = disk.containerCount;
    this.geometry = {
      unit: options.unit,
      memoryAlignment: 512,
      direct: true,
      reason: 'simulated',
      logicalSectorSize: 512,
      physicalSectorSize: options.unit,
      durability: options.durability,
    };
  }

  get containerCount(): number {
    return this.#containerCount;
  }

  setContainerCount(count: number): void {
    if (count > this.disk.containerCount) {
      if (this.#options.follower === true) {
        throw new ClfsError('ENOENT', `ENOENT: container ${this.disk.containerCount} does not exist`, { errno: -2 });
      }
      this.#violation(
        'missing-container',
        `the metadata lists ${count} containers; the disk has ${this.disk.containerCount}`,
      );
      throw new ClfsError('ENOENT', `ENOENT: container ${this.disk.containerCount} does not exist`, { errno: -2 });
    }
    this.#containerCount = count;
  }

  allocate(size: number): Uint8Array {
    return new Uint8Array(size);
  }

  /** The writes in flight now, with their buffers' bytes as they are now (for a crash image). */
  inFlightWrites(): InFlightWrite[] {
    return [...this.#inFlight.values()].map(({ file, offset, buffers }) => ({ file, offset, data: concat(buffers) }));
  }

  /** Containers being added (or with `remove`, removed) now. */
  addsInFlight(): { index: number; size: number; remove?: boolean }[] {
    return [...this.#adding.values()];
  }

  /** Another storage on the same disk and scheduler, with no faults (a read-only log beside the writer). */
  sibling(name: string): SimStorage {
    return new SimStorage(this.disk, this.#scheduler, {
      unit: this.#options.unit,
      durability: this.#options.durability,
      name,
      follower: true,
    });
  }

  /** A crash: nothing of this instance completes any more. */
  kill(): void {
    this.dead = true;
    this.#scheduler.drop(this);
  }

  #violation(kind: string, detail: string): void {
    this.violations.push({ kind, detail: `${this.#options.name}: ${detail}` });
  }

  /** Checks common to every request; returns an error to reject with, if any. */
  #refuse(what: string, offset: number, length: number): ClfsError | undefined {
    if (!what.includes('read') && this.failStopped()) {
      this.#violation(
        'I6',
        `${what} submitted after the log fail-stopped` + (process.env.SIM_STACK ? new Error().stack : ''),
      );
    }
    if (this.closed) {
      this.#violation('io-after-close', `${what} after the storage was closed`);
      return new ClfsError('EBADF', `EBADF: ${what} on a closed file`, { errno: -9 });
    }
    const unit = this.geometry.unit;
    if (offset % unit !== 0 || length % unit !== 0) {
      this.#violation('misaligned-io', `${what}: offset ${offset} / length ${length} not a multiple of ${unit}`);
      return new ClfsError('EINVAL', `EINVAL: misaligned direct I/O (${what})`, { errno: -22 });
    }
    return undefined;
  }

  /** Queues `effect` for the scheduler; a dead instance's requests never complete. */
  #request<T>(label: string, effect: () => T): Promise<T> {
    if (this.dead) return new Promise<T>(() => undefined);
    return new Promise<T>((resolve, reject) => {
      this.#scheduler.submit({
        id: this.#scheduler.nextId(),
        owner: this,
        label: `${this.#options.name} ${label}`,
        complete: () => {
          try {
            resolve(effect());
          } catch (error) {
            reject(error);
          }
        },
      });
    });
  }

  #container(container: number, what: string): ClfsError | undefined {
    if (!Number.isInteger(container) || container < 0 || container >= this.#containerCount) {
      this.#violation('missing-container', `${what}: container ${container} does not exist`);
      return new ClfsError('ENOENT', `ENOENT: container ${container}`, { errno: -2 });
    }
    return undefined;
  }

  write(container: number, offset: number, buffers: Uint8Array[], checksums: ChecksumRange[]): Promise<void> {
    const length = buffers.reduce((n, b) => n + b.byteLength, 0);
    const what = `write c${container}@${offset}+${length}`;
    const refused = this.#refuse(what, offset, length) ?? this.#container(container, what);
    if (refused !== undefined) return Promise.reject(refused);
    const size = this.disk.files.get(container)!.size;
    if (offset + length > size) {
      this.#violation('write-past-end', `${what} ends past the container's end (${size} bytes)`);
    }
    checksumInto(buffers, checksums);
    const fault = this.#options.faults?.decide('write');
    if (fault?.kind === 'ENOSPC') {
      this.writeFaultsDelivered++;
      return Promise.reject(injected(fault));
    }
    const id = this.#scheduler.nextId();
    this.#inFlight.set(id, { file: container, offset, buffers });
    const durable = this.geometry.durability === 'dsync';
    return this.#request(what, () => {
      this.#inFlight.delete(id);
      const data = concat(buffers);
      if (fault !== undefined) {
        // A short write: its first sectors land (not durable), then the error.
        if (fault.kind === 'short') {
          const landed = Math.floor(data.byteLength / 2 / this.geometry.unit) * this.geometry.unit;
          if (landed > 0) this.disk.write(container, offset, data.slice(0, landed), false);
        }
        this.writeFaultsDelivered++;
        throw injected(fault);
      }
      this.disk.write(container, offset, data, durable);
      this.stats.flushes++;
      this.stats.bytesFlushed += length;
    });
  }

  read(container: number, offset: number, into: Uint8Array): Promise<number> {
    const what = `read c${container}@${offset}+${into.byteLength}`;
    // A container removed since the reader looked it up reads as nothing (LogStorage.read).
    if (
      !this.closed &&
      Number.isInteger(container) &&
      container >= this.#containerCount &&
      this.#removed.has(container)
    ) {
      return Promise.resolve(0);
    }
    // A follower's metadata may name a container the writer has removed since: nothing there.
    if (this.#options.follower === true && container >= this.disk.containerCount) return Promise.resolve(0);
    const refused = this.#refuse(what, offset, into.byteLength) ?? this.#container(container, what);
    if (refused !== undefined) return Promise.reject(refused);
    const fault = this.#options.faults?.decide('read');
    return this.#request(what, () => {
      if (fault !== undefined) {
        this.readFaultsDelivered++;
        throw injected(fault);
      }
      const n = this.disk.read(container, offset, into);
      this.stats.reads++;
      this.stats.bytesRead += n;
      return n;
    });
  }

  sync(): Promise<void> {
    return this.#sync(undefined);
  }

  /** fdatasync of those containers alone: their unsynced writes (an earlier process's too) become durable. */
  syncContainers(indices: readonly number[]): Promise<void> {
    return this.#sync(new Set<FileId>(indices));
  }

  /** A sync of `files` (every container when undefined). */
  #sync(files: ReadonlySet<FileId> | undefined): Promise<void> {
    const refused = this.#refuse('sync', 0, 0);
    if (refused !== undefined) return Promise.reject(refused);
    const point = this.disk.syncPoint();
    const fault = this.#options.faults?.decide('sync');
    return this.#request('sync', () => {
      if (fault !== undefined) {
        // A failed sync vouches for nothing: the writes stay unsynced.
        this.writeFaultsDelivered++;
        throw injected(fault);
      }
      this.disk.syncCompleted(point, files);
      this.stats.syncs++;
    });
  }

  /** As the native storage checks them at open: every container of the log's size. */
  checkContainers(size: number): Promise<void> {
    for (let index = 0; index < this.containerCount; index++) {
      const actual = this.disk.files.get(index)?.size;
      if (actual !== size) {
        return Promise.reject(
          new ClfsError('ERR_CLFS_CORRUPT', `container ${index} is ${actual} bytes, not ${size}`, {
            size: actual,
            expected: size,
          }),
        );
      }
    }
    return Promise.resolve();
  }

  writeMetadata(slot: 0 | 1, bytes: Uint8Array, checksum: ChecksumRange): Promise<void> {
    const offset = slot * SLOT_SIZE;
    const what = `metadata slot ${slot}`;
    const refused = this.#refuse(what, offset, bytes.byteLength);
    if (refused !== undefined) return Promise.reject(refused);
    if (bytes.byteLength > SLOT_SIZE) this.#violation('write-past-end', `${what}: ${bytes.byteLength} bytes`);
    checksumInto([bytes], [checksum]);
    const fault = this.#options.faults?.decide('metadata');
    if (fault?.kind === 'ENOSPC') {
      this.writeFaultsDelivered++;
      return Promise.reject(injected(fault));
    }
    const id = this.#scheduler.nextId();
    this.#inFlight.set(id, { file: 'base', offset, buffers: [bytes] });
    return this.#request(what, () => {
      this.#inFlight.delete(id);
      const data = bytes.slice();
      if (fault !== undefined) {
        if (fault.kind === 'short') {
          const landed = Math.floor(data.byteLength / 2 / this.geometry.unit) * this.geometry.unit;
          if (landed > 0) this.disk.write('base', offset, data.slice(0, landed), false);
        }
        this.writeFaultsDelivered++;
        throw injected(fault);
      }
      // The base file's writes are durable when they complete (durability 'none' is not simulated).
      this.disk.write('base', offset, data, true);
      this.stats.metadataFlushes++;
      this.stats.metadataBytesFlushed += data.byteLength;
    });
  }

  readMetadata(slot: 0 | 1, into: Uint8Array): Promise<number> {
    const refused = this.#refuse(`metadata read ${slot}`, 0, 0);
    if (refused !== undefined) return Promise.reject(refused);
    return this.#request(`metadata read ${slot}`, () =>
      this.disk.read('base', slot * SLOT_SIZE, into.subarray(0, Math.min(into.byteLength, SLOT_SIZE))),
    );
  }

  addContainer(index: number, size: number): Promise<void> {
    const what = `add container ${index}`;
    const refused = this.#refuse(what, 0, size);
    if (refused !== undefined) return Promise.reject(refused);
    if (index !== this.#containerCount) {
      this.#violation('container-order', `${what}: expected ${this.#containerCount}`);
      return Promise.reject(new ClfsError('EEXIST', `EEXIST: ${what}`, { errno: -17 }));
    }
    const fault = this.#options.faults?.decide('add');
    if (fault?.kind === 'ENOSPC') return Promise.reject(injected(fault));
    const id = this.#scheduler.nextId();
    this.#adding.set(id, { index, size });
    return this.#request(what, () => {
      this.#adding.delete(id);
      if (fault !== undefined) throw injected(fault);
      this.disk.addContainer(index, size);
      this.#removed.delete(index);
      this.#containerCount = index + 1;
    });
  }

  removeContainer(index: number): Promise<void> {
    const what = `remove container ${index}`;
    const refused = this.#refuse(what, 0, 0);
    if (refused !== undefined) return Promise.reject(refused);
    if (index !== this.#containerCount - 1) {
      this.#violation('container-order', `${what}: expected ${this.#containerCount - 1}`);
      return Promise.reject(new ClfsError('ENOENT', `ENOENT: ${what}`, { errno: -2 }));
    }
    this.#containerCount = index;
    this.#removed.add(index);
    const id = this.#scheduler.nextId();
    this.#adding.set(id, { index, size: 0, remove: true });
    return this.#request(what, () => {
      this.#adding.delete(id);
      this.disk.removeContainer(index);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

function concat(buffers: readonly Uint8Array[]): Uint8Array {
  if (buffers.length === 1) return buffers[0]!.slice();
  const out = new Uint8Array(buffers.reduce((n, b) => n + b.byteLength, 0));
  let at = 0;
  for (const b of buffers) {
    out.set(b, at);
    at += b.byteLength;
  }
  return out;
}

/** Computes CRC32Cs into the caller's buffers, as the native write path does before the I/O. */
function checksumInto(buffers: Uint8Array[], checksums: readonly ChecksumRange[]): void {
  if (checksums.length === 0) return;
  if (buffers.length === 1) {
    applyChecksums(buffers[0]!, checksums);
    return;
  }
  const all = concat(buffers);
  applyChecksums(all, checksums);
  let at = 0;
  for (const b of buffers) {
    b.set(all.subarray(at, at + b.byteLength));
    at += b.byteLength;
  }
}
