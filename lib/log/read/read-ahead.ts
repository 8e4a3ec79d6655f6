/**
 * Reading ahead for a read buffer that reads forward: while the records of
 * one block are served, the blocks after it are read from their containers
 * and checked, each into a buffer of its own that the area lends (up to
 * DEPTH of them), so that the device is kept busy and the next block is
 * there when it is asked for.
 *
 * Where the next read goes is found from the bytes of the last read, as soon
 * as it is in (before its block is checked, so that the check runs while
 * the next read is in flight): past the blocks they hold whole (their
 * headers are only looked at here; blocks are checked before they are
 * served), or at the next container's start when that is the container's
 * end. A read ahead is used only when
 * the block it read is the one asked for next; otherwise its buffer goes
 * back. Only blocks the writer has written are read ahead (readWritten), so
 * a block read ahead is what a read made later would find: a written block
 * does not change while it is above the base, and a reader checks the base
 * before it asks for a block.
 * @module
 */
import { BLOCK_HEADER_SIZE, parseBlockHeader } from '../../format/block.ts';
import { type Lsn, containerOf, makeLsn, offsetOf } from '../../lsn.ts';
import type { LoadedBlock } from './loaded-block.ts';

/** Blocks read ahead at most (each in a buffer lent by the area). */
const DEPTH = 2;

/** What reading ahead needs of the area and the log. */
export interface ReadAheadSource {
  containerSize(): number;
  /** What blocks read from containers must carry. */
  blockExpectation(): { logId: bigint; unit: number };
  /** Reads `blockLsn`'s place into `into` when the writer has written the block; resolves with the bytes to trust, or undefined. */
  readWritten(blockLsn: Lsn, into: Uint8Array): Promise<number | undefined>;
  /** The block at the start of `bytes` (read by readWritten) if it passes every check. */
  checkWritten(blockLsn: Lsn, bytes: Uint8Array): LoadedBlock | undefined;
  /** A read buffer to read ahead into, or undefined when the area lends none. */
  lendReadBuffer(): Uint8Array | undefined;
  /** Gives back a buffer lendReadBuffer() lent. */
  returnReadBuffer(buffer: Uint8Array): void;
}

/** A block being read ahead, or read. */
interface Entry {
  blockLsn: Lsn;
  bytes: Uint8Array;
  /** The block, once read and checked; undefined when it did not load. */
  done: Promise<LoadedBlock | undefined>;
  /** Once read: the bytes read that can be trusted (undefined when the read failed or was not made). */
  window?: number | undefined;
}

export class ReadAhead {
  readonly #source: ReadAheadSource;
  /** The reads ahead, in the order of the log. */
  #queue: Entry[] = [];
  /** Lent buffers not in use now. */
  readonly #spares: Uint8Array[] = [];
  #closed = false;

  constructor(source: ReadAheadSource) {
    this.#source = source;
  }

  /** `block` was just loaded, with `window` (container bytes from its start): reads ahead of it. */
  after(block: LoadedBlock, window: Uint8Array): void {
    const next = this.#nextPosition(block.lsn, window);
    if (next === undefined || this.#queue[0]?.blockLsn === next) return;
    this.#discard();
    this.#issue(next);
  }

  /** The block read ahead at `blockLsn`, waiting for its read, if it is the next one read ahead. */
  async peek(blockLsn: Lsn): Promise<LoadedBlock | undefined> {
    const head = this.#queue[0];
    return head?.blockLsn === blockLsn ? head.done : undefined;
  }

  /**
   * The block at `blockLsn`, if it was read ahead and loaded, with the
   * buffer it is in; `current` (the reader's buffer until now) is then kept
   * for the reads ahead. Reads ahead of another block are dropped.
   */
  async take(blockLsn: Lsn, current: Uint8Array): Promise<{ block: LoadedBlock; bytes: Uint8Array } | undefined> {
    const head = this.#queue[0];
    if (head?.blockLsn !== blockLsn) {
      this.#discard();
      return undefined;
    }
    const block = await head.done;
    this.#queue.shift();
    if (block === undefined) {
      this.#recycle(head);
      this.#discard();
      return undefined;
    }
    this.#spares.push(current);
    this.#topUp();
    return { block, bytes: head.bytes };
  }

  /** Gives every lent buffer back (those being read into once their reads are done). */
  close(): void {
    this.#closed = true;
    this.#discard();
    for (const buffer of this.#spares.splice(0)) this.#source.returnReadBuffer(buffer);
  }

  /**
   * Where the block after those `window` holds whole (`window` holds the
   * bytes from `blockLsn` on; only their headers are looked at) starts;
   * undefined when it holds no block whole.
   */
  #nextPosition(blockLsn: Lsn, window: Uint8Array): Lsn | undefined {
    const size = this.#source.containerSize();
    const { unit } = this.#source.blockExpectation();
    const id = containerOf(blockLsn);
    const start = offsetOf(blockLsn);
    let at = 0;
    while (at + BLOCK_HEADER_SIZE <= window.byteLength) {
      const header = parseBlockHeader(window.subarray(at), unit, size - start - at);
      if (typeof header === 'string' || at + header.blockLength > window.byteLength) break;
      at += header.blockLength;
    }
    if (at === 0) return undefined;
    return start + at >= size ? makeLsn(id + 1, 0) : makeLsn(id, start + at);
  }

  /** Starts reading the block at `blockLsn` ahead, when a buffer is free and the queue has room. */
  #issue(blockLsn: Lsn): void {
    if (this.#closed || this.#queue.length >= DEPTH) return;
    const bytes = this.#spares.pop() ?? this.#source.lendReadBuffer();
    if (bytes === undefined) return;
    const entry: Entry = { blockLsn, bytes, done: Promise.resolve(undefined) };
    entry.done = this.#source
      .readWritten(blockLsn, bytes)
      .catch(() => undefined)
      .then((window) => {
        entry.window = window;
        if (window === undefined) return undefined;
        // The last read ahead is in: the next one starts before this one is checked.
        if (this.#queue.at(-1) === entry) this.#topUp();
        return this.#source.checkWritten(blockLsn, bytes.subarray(0, window));
      });
    this.#queue.push(entry);
  }

  /** Reads ahead of the last block read ahead, once it is read (its header says where it ends). */
  #topUp(): void {
    const last = this.#queue.at(-1);
    if (last?.window === undefined) return;
    const next = this.#nextPosition(last.blockLsn, last.bytes.subarray(0, last.window));
    if (next !== undefined) this.#issue(next);
  }

  /** Drops every read ahead; their buffers are free again once their reads are done. */
  discard(): void {
    this.#discard();
  }

  #discard(): void {
    const dropped = this.#queue;
    this.#queue = [];
    for (const entry of dropped) void entry.done.then(() => this.#recycle(entry));
  }

  #recycle(entry: Entry): void {
    if (this.#closed) this.#source.returnReadBuffer(entry.bytes);
    else this.#spares.push(entry.bytes);
  }
}
