/**
 * Reading and writing the base file's two metadata slots. Writes are
 * serialised: each takes the next dump count and goes to the slot that does
 * not hold the newest copy, so the two slots are never both being rewritten.
 * @module
 */
import { ClfsError } from '../errors.ts';
import { alignUp } from '../format/block.ts';
import {
  decodeMetadata,
  encodeMetadata,
  METADATA_CHECKSUM_OFFSET,
  SLOT_SIZE,
  type Metadata,
} from '../format/metadata.ts';
import { crc32c } from '../native/crc32c.ts';
import type { LogStorage } from '../storage/storage.ts';

export class MetadataStore {
  readonly #storage: LogStorage;
  readonly #slot: Uint8Array;
  #current: Metadata;
  #queue: Promise<void> = Promise.resolve();

  constructor(storage: LogStorage, current: Metadata) {
    this.#storage = storage;
    this.#current = current;
    this.#slot = storage.allocate(SLOT_SIZE);
  }

  /** The newest metadata written (or read at open). */
  get current(): Readonly<Metadata> {
    return this.#current;
  }

  /** A read-only log's: the metadata the writer wrote last, read again (follower.ts). */
  follow(metadata: Metadata): void {
    this.#current = metadata;
  }

  /**
   * Reads both slots and returns the newest valid one; the problems found
   * in the others are listed. ERR_CLFS_CORRUPT when neither is valid.
   */
  static async read(storage: LogStorage): Promise<{ metadata: Metadata; problems: string[] }> {
    const slot = storage.allocate(SLOT_SIZE);
    const problems: string[] = [];
    let best: Metadata | undefined;
    for (const index of [0, 1] as const) {
      slot.fill(0);
      const n = await storage.readMetadata(index, slot);
      const decoded = decodeMetadata(slot.subarray(0, n), (bytes) => crc32c(bytes));
      if (typeof decoded === 'string') {
        problems.push(`slot ${index}: ${decoded}`);
      } else if (best === undefined || decoded.dumpCount > best.dumpCount) {
        best = decoded;
      }
    }
    if (best === undefined) {
      throw new ClfsError(
        'ERR_CLFS_CORRUPT',
        `neither metadata copy in the base file is valid (${problems.join('; ')})`,
        {
          problems,
        },
      );
    }
    return { metadata: best, problems };
  }

  /**
   * Writes `update` merged into the current metadata as the next dump.
   * Writes are applied in call order; each resolves once durable. `guard`
   * runs at the write's turn (after the writes before it): if it throws,
   * the write is not made and rejects with its error.
   */
  write(update: Partial<Omit<Metadata, 'dumpCount'>>, guard?: () => void): Promise<void> {
    const run = async (): Promise<void> => {
      guard?.();
      const next: Metadata = {
        ...this.#current,
        ...update,
        containers: [...(update.containers ?? this.#current.containers)],
        dumpCount: this.#current.dumpCount + 1n,
      };
      const used = encodeMetadata(this.#slot, next);
      const length = alignUp(used, this.#storage.geometry.unit);
      await this.#storage.writeMetadata(Number(next.dumpCount % 2n) as 0 | 1, this.#slot.subarray(0, length), {
        start: 0,
        length: used,
        field: METADATA_CHECKSUM_OFFSET,
      });
      this.#current = next;
    };
    const result = this.#queue.then(run);
    this.#queue = result.catch(() => undefined);
    return result;
  }
}
