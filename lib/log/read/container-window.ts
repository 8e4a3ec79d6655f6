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
  /**
   * Read ahead (for a scan that moves forward): the window holds two
   * buffers of `max` bytes. Once views move on past the window's end (twice in a row), after
   * each read the bytes that follow the window are read into the second
   * half of the other buffer while the caller checks these; the bytes kept
   * from the window (the start of a block it holds in part) go in front of
   * them. Call settle() when done.
   */
  readAhead?: boolean;
}

/** A read of the bytes after the window, in flight or done, into the spare buffer at `headroom`. */
interface ReadAhead {
  physical: number;
  offset: number;
  /** The bytes read, or undefined when the read failed (it is then made again, and fails or not, in turn). */
  done: Promise<number | undefined>;
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
  /** Where the window's bytes begin in #bytes. */
  #at = 0;
  #physical = -1;
  #start = 0;
  #length = 0;
  /** Reads in a row that moved on from the window's end. */
  #onward = 0;
  /** The last read brought in all it asked for (the container's file goes on past it). */
  #full = false;
  /** Read ahead only: the second buffer, and the read into it. */
  #spare: Uint8Array | undefined;
  #ahead: ReadAhead | undefined;
  /** Where in a buffer a read ahead goes, and how much it reads: room in front for the bytes kept from the window. */
  readonly #headroom: number;
  readonly #aheadSize: number;
  /** Where a container's file was found to end, when before the container size. */
  readonly #ends = new Map<number, number>();
  readonly #storage: LogStorage;
  readonly #containerSize: number;
  readonly #sizes: WindowSizes;
  /** Offsets and lengths kept in the window stay aligned for direct I/O. */
  readonly #align: number;

  constructor(storage: LogStorage, containerSize: number, sizes: WindowSizes) {
    this.#storage = storage;
    this.#containerSize = containerSize;
    this.#align = Math.max(storage.geometry.unit, storage.geometry.memoryAlignment);
    // No read or view goes past a container's end: no buffer needs to be larger.
    const whole = Math.ceil(containerSize / this.#align) * this.#align;
    this.#sizes = { ...sizes, chunk: Math.min(sizes.chunk, whole), max: Math.min(sizes.max, whole) };
    const half = Math.ceil(this.#sizes.max / 2 / this.#align) * this.#align;
    this.#aheadSize = sizes.readAhead === true ? half : 0;
    this.#headroom = sizes.readAhead === true ? this.#sizes.max - half : 0;
  }

  /** The end of the readable bytes of a container: its size, or where its file was found to end. */
  end(physical: number): number {
    return this.#ends.get(physical) ?? this.#containerSize;
  }

  /** The bytes the window holds from `offset` of a container on, without I/O (empty when it holds none). */
  held(physical: number, offset: number): Uint8Array {
    if (physical !== this.#physical || offset < this.#start || offset >= this.#start + this.#length) return EMPTY;
    return this.#bytes!.subarray(this.#at + offset - this.#start, this.#at + this.#length);
  }

  /** Waits for a read ahead still in flight (before the storage may close). */
  async settle(): Promise<void> {
    const ahead = this.#ahead;
    this.#ahead = undefined;
    if (ahead !== undefined) await ahead.done;
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
      return this.#bytes!.subarray(this.#at + offset - this.#start, this.#at + end - this.#start);
    }
    // Bytes of the window from `offset` on are kept (when they stay aligned).
    const from = offset - this.#start;
    let keep = here && from < this.#length ? this.#length - from : 0;
    if (keep % this.#align !== 0) keep = 0;
    // Moving on from the window's end, a second time in a row: a scan
    // forward, worth reading ahead for (a look at a position or two, as a
    // clean open's, is not).
    const onward = here && from <= this.#length;
    this.#onward = onward ? this.#onward + 1 : 0;
    const ahead = this.#ahead;
    this.#ahead = undefined;
    const got = ahead === undefined ? undefined : await ahead.done;
    this.#physical = -1; // until the read below completes
    const usable =
      got !== undefined &&
      ahead!.physical === physical &&
      ahead!.offset === offset + keep &&
      keep <= this.#headroom &&
      (keep + got >= end - offset || got < this.#aheadSize);
    if (usable) {
      this.#takeReadAhead(physical, offset, from, keep, got);
    } else {
      await this.#read(physical, offset, from, keep, end - offset <= chunk ? chunk : max);
    }
    if (this.#onward >= 2) this.#readAhead();
    return this.#bytes!.subarray(this.#at, this.#at + Math.min(this.#length, end - offset));
  }

  /** The window from `offset` on: the `keep` bytes kept from `from` of the window, then a read of the rest. */
  async #read(physical: number, offset: number, from: number, keep: number, size: number): Promise<void> {
    const old = this.#bytes;
    let bytes = old;
    if (bytes === undefined || bytes.byteLength < size) {
      // Reading ahead, the two buffers take turns: both are `max` bytes.
      bytes = this.#storage.allocate(this.#sizes.readAhead === true ? this.#sizes.max : size);
      if (keep > 0) bytes.set(old!.subarray(this.#at + from, this.#at + from + keep));
      this.#bytes = bytes;
    } else if (keep > 0) {
      bytes.copyWithin(0, this.#at + from, this.#at + from + keep);
    }
    this.#at = 0;
    const want = Math.min(this.#sizes.readAhead === true ? size : bytes.byteLength, this.#containerSize - offset);
    let got = 0;
    if (want > keep) {
      got = await this.#storage.read(physical, offset + keep, bytes.subarray(keep, want));
      if (keep + got < want) this.#ends.set(physical, offset + keep + got);
    }
    this.#full = keep + got === want;
    this.#physical = physical;
    this.#start = offset;
    this.#length = keep + got;
  }

  /** The window from `offset` on: the `keep` bytes kept from `from`, in front of the bytes read ahead (`got` of them). */
  #takeReadAhead(physical: number, offset: number, from: number, keep: number, got: number): void {
    const spare = this.#spare!;
    const headroom = this.#headroom;
    if (keep > 0) spare.set(this.#bytes!.subarray(this.#at + from, this.#at + from + keep), headroom - keep);
    this.#spare = this.#bytes;
    this.#bytes = spare;
    const wanted = Math.min(this.#aheadSize, this.#containerSize - offset - keep);
    this.#full = got === wanted;
    if (!this.#full) this.#ends.set(physical, offset + keep + got);
    this.#at = headroom - keep;
    this.#physical = physical;
    this.#start = offset;
    this.#length = keep + got;
  }

  /** With readAhead: reads the bytes after the window into the spare buffer, unless the window reached its file's end. */
  #readAhead(): void {
    if (this.#sizes.readAhead !== true || this.#ahead !== undefined) return;
    const physical = this.#physical;
    const at = this.#start + this.#length;
    if (physical === -1 || !this.#full || at >= this.end(physical)) return;
    const spare = (this.#spare ??= this.#storage.allocate(this.#sizes.max));
    const want = Math.min(this.#aheadSize, this.#containerSize - at);
    const into = spare.subarray(this.#headroom, this.#headroom + want);
    // A failed read ahead is made again when wanted, and its error is then the caller's.
    const done = this.#storage.read(physical, at, into).then(
      (n) => n,
      () => undefined,
    );
    this.#ahead = { physical, offset: at, done };
  }
}
