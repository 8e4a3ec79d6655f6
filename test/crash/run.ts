/**
 * Recording a workload for crash-state enumeration: a log over a recording
 * MemoryStorage, and, outside the files under test, every record appended and
 * the storage event count at which its flush was acknowledged.
 */
import { Log } from '../../lib/log/log.ts';
import type {
  AppendOptions,
  Entries,
  MarshallingArea,
  MarshallingAreaOptions,
} from '../../lib/log/marshalling-area.ts';
import { Lsn } from '../../lib/lsn.ts';
import type { Durability } from '../../lib/native/direct-file.ts';
import {
  MemoryStorage,
  copyImage,
  emptyImage,
  type MemoryImage,
  type StorageEvent,
} from '../../lib/storage/memory-storage.ts';
import { prng } from '../support/fixtures.ts';

export interface RecordedRecord {
  lsn: Lsn;
  type: 'data' | 'restart';
  data: Uint8Array;
  undoNextLsn: Lsn;
  previousLsn: Lsn;
  /** Storage events seen when its flush was acknowledged (Infinity: never). */
  ackedAt: number;
}

export interface RunOptions {
  durability: Durability;
  containerSize: number;
  containers: number;
  maxContainers?: number;
  seed: number;
}

export interface RecordedRun {
  name: string;
  options: RunOptions;
  /** The files when recording began (a new, empty log). */
  initial: MemoryImage;
  events: StorageEvent[];
  /** Every record appended, in LSN order. */
  records: RecordedRecord[];
  /** Base LSNs set, with the event count at which each move was acknowledged. */
  bases: { lsn: Lsn; ackedAt: number }[];
  /** Largest marshalling buffer used (readers need one as large). */
  bufferSize: number;
}

function concat(entries: Entries): Uint8Array {
  if (entries === null) return new Uint8Array(0);
  if (entries instanceof Uint8Array) return entries.slice();
  const total = entries.reduce((n, e) => n + e.byteLength, 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const e of entries) {
    out.set(e, at);
    at += e.byteLength;
  }
  return out;
}

/** What a workload drives: the log, and tracked operations. */
export class Harness {
  readonly storage: MemoryStorage;
  readonly random: () => number;
  log: Log;
  readonly #records = new Map<Lsn, RecordedRecord>();
  readonly #bases: { lsn: Lsn; ackedAt: number }[] = [];
  bufferSize = 0;

  private constructor(storage: MemoryStorage, log: Log, random: () => number) {
    this.storage = storage;
    this.log = log;
    this.random = random;
    this.#bases.push({ lsn: log.information().baseLsn, ackedAt: 0 });
  }

  static async start(options: RunOptions): Promise<{ harness: Harness; initial: MemoryImage }> {
    const image = emptyImage();
    for (let i = 0; i < options.containers; i++) image.containers.push(new Uint8Array(options.containerSize));
    const setup = new MemoryStorage(image, { durability: options.durability });
    await Log.initializeStorage(setup, options.containerSize, options.containers, options.maxContainers ?? 0);
    const initial = copyImage(image);
    const random = prng(options.seed);
    const storage = new MemoryStorage(copyImage(initial), { durability: options.durability, random, maxDelay: 3 });
    const log = await Log.openStorage('memory', storage, 'strict');
    return { harness: new Harness(storage, log, random), initial };
  }

  /** Marks every record now durable as acknowledged (a flush resolved). */
  #acknowledge(): void {
    const durable = this.log.writer.durableLsn;
    if (durable === Lsn.INVALID) return;
    const at = this.storage.events.length;
    for (const record of this.#records.values()) {
      if (record.lsn <= durable && record.ackedAt === Infinity) record.ackedAt = at;
    }
  }

  async area(options: MarshallingAreaOptions): Promise<MarshallingArea> {
    const area = await this.log.createMarshallingArea(options);
    this.bufferSize = Math.max(this.bufferSize, area.bufferSize);
    return area;
  }

  #track(lsn: Lsn, type: 'data' | 'restart', entries: Entries, options: AppendOptions): void {
    this.#records.set(lsn, {
      lsn,
      type,
      data: concat(entries),
      undoNextLsn: options.undoNextLsn ?? Lsn.INVALID,
      previousLsn: options.previousLsn ?? Lsn.INVALID,
      ackedAt: Infinity,
    });
  }

  async append(area: MarshallingArea, entries: Entries, options: AppendOptions = {}): Promise<Lsn | undefined> {
    const { lsn } = await area.reserveAndAppend(entries, options);
    if (lsn !== undefined && entries !== null) {
      this.#track(lsn, 'data', entries, options);
      if (options.forceFlush) this.#acknowledge();
    }
    return lsn;
  }

  async batch(
    area: MarshallingArea,
    records: Uint8Array[],
    options: Omit<AppendOptions, 'reservations'> = {},
  ): Promise<Lsn[]> {
    const lsns = await area.appendBatch(records, options);
    lsns.forEach((lsn, i) => this.#track(lsn, 'data', records[i]!, options));
    if (options.forceFlush) this.#acknowledge();
    return lsns;
  }

  async flush(area: MarshallingArea, lsn?: Lsn): Promise<void> {
    await area.flushToLsn(lsn);
    this.#acknowledge();
  }

  async restart(area: MarshallingArea, data: Uint8Array, newBaseLsn?: Lsn): Promise<Lsn> {
    const previous = this.log.lastRestartAppended;
    const { lsn } = await area.writeRestartArea(data, newBaseLsn === undefined ? {} : { newBaseLsn });
    this.#records.set(lsn, {
      lsn,
      type: 'restart',
      data: data.slice(),
      undoNextLsn: Lsn.INVALID,
      previousLsn: previous,
      ackedAt: Infinity,
    });
    this.#acknowledge();
    if (newBaseLsn !== undefined) this.#bases.push({ lsn: newBaseLsn, ackedAt: this.storage.events.length });
    return lsn;
  }

  async advanceBase(area: MarshallingArea, lsn: Lsn): Promise<void> {
    await area.advanceLogBase(lsn);
    this.#acknowledge();
    this.#bases.push({ lsn, ackedAt: this.storage.events.length });
  }

  /** Closes and reopens the log on the same storage (a clean restart). */
  async reopen(): Promise<void> {
    await this.log.close();
    this.#acknowledge();
    this.storage.reopen();
    this.log = await Log.openStorage('memory', this.storage, 'strict');
  }

  /** Appended records not yet tracked by LSN order. */
  lastLsns(): Lsn[] {
    return [...this.#records.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  async finish(name: string, options: RunOptions, initial: MemoryImage): Promise<RecordedRun> {
    await this.log.close();
    this.#acknowledge();
    const records = [...this.#records.values()].sort((a, b) => (a.lsn < b.lsn ? -1 : a.lsn > b.lsn ? 1 : 0));
    return {
      name,
      options,
      initial,
      events: this.storage.events,
      records,
      bases: this.#bases,
      bufferSize: this.bufferSize,
    };
  }
}
