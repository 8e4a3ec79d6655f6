/**
 * Reading containers through one reused window: the recovery scan, and the
 * block source's look for the first valid block after a position.
 * @module
 */
import type { LogStorage } from '../../storage/storage.ts';

const EMPTY = new Uint8Array(0);

/** How much a window reads at a time, and the most it ever holds. */
export interface WindowSizes {
  /** The usual read size (and buffer size for views no longer than it). */
  chunk: number;
  /** The largest buffer the window ever holds: a chunk, or a longer view (one whole block). */
  max: number;
}

/**
 * Reads containers through one reused window (at most `max` bytes, whatever
 * lengths the files claim). A view that starts inside the window keeps the
 * bytes already read and reads only what follows, so a scan that moves
 * forward reads each byte of a container about once, even when it looks at
 * a long (claimed) block from every sector. A read that comes back short is
 * the end of that container's file: nothing past it is read again (a
 * metadata container size larger than the files costs no I/O).
 *
 * A view is valid until the next call (the window is reused): callers keep
 * what they parsed from it, not the bytes. One window serves one scan at a
 * time (the calls of a scan are awaited in turn).
 */
export class ContainerWindow {
  #bytes: Uint8Array | undefined;
  #physical = -1;
  #start = 0;
  #length = 0;
  /** Where a container's file was found to end, when before the container size. */
  readonly #ends = new Map<number, number>();
  readonly #storage: LogStorage;
  readonly #containerSize: number;
  readonly #sizes: WindowSizes;
  /** Offsets and lengths kept in the window stay aligned for direct I/O. */
  readonly #align: number;
  bytesRead = 0;

  constructor(storage: LogStorage, containerSize: number, sizes: WindowSizes) {
    this.#storage = storage;
    this.#containerSize = containerSize;
    this.#sizes = sizes;
    this.#align = Math.max(storage.geometry.unit, storage.geometry.memoryAlignment);
  }

  /** The end of the readable bytes of a container: its size, or where its file was found to end. */
  end(physical: number): number {
    return this.#ends.get(physical) ?? this.#containerSize;
  }

  /** The bytes the window holds from `offset` of a container on, without I/O (empty when it holds none). */
  held(physical: number, offset: number): Uint8Array {
    if (physical !== this.#physical || offset < this.#start || offset >= this.#start + this.#length) return EMPTY;
    return this.#bytes!.subarray(offset - this.#start, this.#length);
  }

  /**
   * The bytes at [offset, offset + length) of a container, clipped to its
   * end (and to `max` bytes). `offset` is a multiple of the sector unit.
   */
  async view(physical: number, offset: number, length: number): Promise<Uint8Array> {
    const { chunk, max } = this.#sizes;
    const end = Math.min(offset + Math.min(length, max), this.end(physical));
    if (end <= offset) return EMPTY;
    const here = physical === this.#physical && offset >= this.#start;
    if (here && end <= this.#start + this.#length) {
      return this.#bytes!.subarray(offset - this.#start, end - this.#start);
    }
    // Bytes of the window from `offset` on are kept (when they stay aligned).
    const from = offset - this.#start;
    let keep = here && from < this.#length ? this.#length - from : 0;
    if (keep % this.#align !== 0) keep = 0;
    const old = this.#bytes;
    let bytes = old;
    this.#physical = -1; // until the read below completes
    if (bytes === undefined || bytes.byteLength < end - offset) {
      bytes = this.#storage.allocate(end - offset <= chunk ? chunk : max);
      if (keep > 0) bytes.set(old!.subarray(from, from + keep));
      this.#bytes = bytes;
    } else if (keep > 0) {
      bytes.copyWithin(0, from, from + keep);
    }
    const want = Math.min(bytes.byteLength, this.#containerSize - offset);
    let got = 0;
    if (want > keep) {
      got = await this.#storage.read(physical, offset + keep, bytes.subarray(keep, want));
      this.bytesRead += got;
      if (keep + got < want) this.#ends.set(physical, offset + keep + got);
    }
    this.#physical = physical;
    this.#start = offset;
    this.#length = keep + got;
    return bytes.subarray(0, Math.min(this.#length, end - offset));
  }
}
