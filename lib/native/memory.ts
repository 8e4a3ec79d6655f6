/**
 * Aligned, optionally pinned, buffers for direct I/O.
 * @module
 */
import { ClfsError } from '../errors.ts';
import { checkInteger, checkOneOf, checkOptions, checkPowerOfTwo, checkUint8Array } from '../validate.ts';
import { binding } from './binding.ts';

/**
 * Where a buffer lives, in CLFS's words: `'paged'` memory may be swapped out;
 * `'nonPaged'` memory is pinned in RAM (`mlock`, and kept out of forked
 * children) and counts against the process's `RLIMIT_MEMLOCK`. On Windows it
 * is `VirtualLock`ed, and clfs raises the process's minimum working set by the
 * buffer's size when the lock needs it (never lowering it again).
 */
export type Pool = 'paged' | 'nonPaged';

/** Options of {@link alignedBuffer}. */
export interface AlignedBufferOptions {
  /** Alignment of the first byte: a power of two, default 4096 (enough for any sector size up to 4 KiB and for pages). */
  alignment?: number;
  /** `'paged'` (default) or `'nonPaged'` (pinned). */
  pool?: Pool;
}

/** The largest buffer {@link alignedBuffer} makes: Node's `buffer.constants.MAX_LENGTH` (4 GiB). */
export const MAX_BUFFER_SIZE = 2 ** 32;
/** The largest alignment {@link alignedBuffer} accepts (1 GiB). */
export const MAX_ALIGNMENT = 2 ** 30;
const POOLS: readonly Pool[] = ['paged', 'nonPaged'];

/**
 * A `Uint8Array` of `size` bytes whose first byte is aligned, on a V8
 * `SharedArrayBuffer` over-allocated by the alignment. Never an external
 * buffer (Electron and the V8 sandbox refuse them), and never a plain
 * `ArrayBuffer`: that could be detached (transferred) while the kernel reads
 * or writes it; a `SharedArrayBuffer` cannot, so direct I/O takes only these.
 *
 * A `'nonPaged'` buffer stays pinned until {@link releaseBuffer} is called or
 * the returned array is garbage-collected. Pinning beyond `RLIMIT_MEMLOCK`
 * fails with `ERR_CLFS_PIN_LIMIT`, whose message names the limit and how to
 * raise it; clfs never falls back to unpinned memory silently.
 *
 * @example
 * ```ts
 * const block = alignedBuffer(64 * 1024, { pool: 'nonPaged' });
 * ```
 */
export function alignedBuffer(size: number, options?: AlignedBufferOptions): Uint8Array {
  checkInteger('size', size, 1, MAX_BUFFER_SIZE);
  const opts = checkOptions('options', options, ['alignment', 'pool']);
  const alignment =
    opts.alignment === undefined ? 4096 : checkPowerOfTwo('options.alignment', opts.alignment, 1, MAX_ALIGNMENT);
  const pool = opts.pool === undefined ? 'paged' : checkOneOf('options.pool', opts.pool, POOLS);
  const pinned = pool === 'nonPaged';
  // Pinned memory is locked by whole pages, which must belong to this buffer
  // alone (or unpinning it would unpin a neighbour).
  const page = pageSize();
  const start = pinned ? Math.max(alignment, page) : alignment;
  const usable = pinned ? Math.ceil(size / page) * page : size;
  let memory: SharedArrayBuffer;
  try {
    memory = new SharedArrayBuffer(usable + start - 1);
  } catch (error) {
    throw new ClfsError('ENOMEM', `cannot allocate a ${size}-byte aligned buffer`, { cause: error });
  }
  const offset = (start - binding.misalignment(new Uint8Array(memory, 0, 1), start)) % start;
  const view = new Uint8Array(memory, offset, size);
  // The pin lasts while this very view lives (or until releaseBuffer).
  if (pinned) binding.pin(view, usable);
  return view;
}

let cachedPageSize = 0;
function pageSize(): number {
  if (cachedPageSize === 0) cachedPageSize = binding.memoryInfo().pageSize;
  return cachedPageSize;
}

/**
 * Unpins a `'nonPaged'` buffer from {@link alignedBuffer} now rather than at
 * garbage collection. The memory stays usable (as paged memory). Returns
 * whether the buffer was pinned.
 */
export function releaseBuffer(buffer: Uint8Array): boolean {
  checkUint8Array('buffer', buffer);
  return binding.releaseBuffer(buffer);
}

/** Pinned-memory accounting; see {@link memoryInfo}. */
export interface MemoryInfo {
  /** Bytes pinned by clfs buffers in this thread (whole pages). */
  pinnedBytes: number;
  /** clfs buffers pinned in this thread. */
  pinnedBuffers: number;
  /** Bytes the OS counts as locked for the whole process (Linux `VmLck`); `null` where unknown. */
  processLockedBytes: number | null;
  /** `RLIMIT_MEMLOCK` in bytes, `Infinity` when unlimited (and on Windows, which has no fixed limit). */
  pinLimit: number;
  /** The page size pins are rounded to. */
  pageSize: number;
}

/** The pinned-memory quota and what is pinned now. */
export function memoryInfo(): MemoryInfo {
  return binding.memoryInfo();
}

/**
 * The address of `buffer`'s first byte modulo `alignment` (0 when aligned).
 * Lets code check memory it did not allocate, such as an allocator's.
 */
export function misalignment(buffer: Uint8Array, alignment: number): number {
  checkUint8Array('buffer', buffer);
  checkPowerOfTwo('alignment', alignment, 1, MAX_ALIGNMENT);
  return binding.misalignment(buffer, alignment);
}

/** Throws `ERR_CLFS_MISALIGNED` unless `buffer` starts on `alignment`. */
export function assertAligned(what: string, buffer: Uint8Array, alignment: number): void {
  const off = misalignment(buffer, alignment);
  if (off !== 0) {
    throw new ClfsError(
      'ERR_CLFS_MISALIGNED',
      `${what} is misaligned by ${off} bytes: ${alignment}-byte alignment is required`,
      { misaligned: 'address', alignment, misalignment: off },
    );
  }
}
