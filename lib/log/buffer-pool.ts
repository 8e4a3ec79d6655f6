/**
 * A marshalling area's log I/O buffers: all one size, from the paged or
 * non-paged pool or from the caller's allocator, at most `max` allocated at
 * once. CLFS allocates and frees them as needed; idle ones are kept for reuse, up to a bound (see KEEP_IDLE).
 * @module
 */
import { ClfsError } from '../errors.ts';
import { binding } from '../native/binding.ts';
import { alignedBuffer, misalignment, releaseBuffer, type Pool } from '../native/memory.ts';
import { Fifo } from '../util/fifo.ts';

/**
 * A custom allocator for log I/O buffers (CLFS's pfnAllocBuffer /
 * pfnFreeBuffer). `allocate` must return a Uint8Array on a SharedArrayBuffer
 * (build on {@link alignedBuffer}: direct I/O refuses detachable memory),
 * whose first byte is a multiple of `alignment`, at least `size` bytes long,
 * and not overlapping a buffer it gave out that was not freed yet; else the
 * area reports ERR_CLFS_MISALIGNED. `free` receives exactly what `allocate`
 * returned, once.
 *
 * @example
 * ```ts
 * const allocator = {
 *   allocate: (size, alignment) => alignedBuffer(size, { alignment, pool: 'nonPaged' }),
 *   free: (buffer) => releaseBuffer(buffer),
 * };
 * ```
 */
export interface BufferAllocator {
  /** Returns `size` bytes (or more) whose address is a multiple of `alignment`; else ERR_CLFS_MISALIGNED. */
  allocate(size: number, alignment: number): Uint8Array;
  /** Takes back a buffer `allocate` returned, once the area no longer uses it. */
  free(buffer: Uint8Array): void;
}

/**
 * Idle buffers kept for reuse instead of being freed. Paged buffers: with
 * a finite `max`, all of them (the caller bounded the area's memory;
 * freeing a buffer only to allocate and zero a new one a moment later, as
 * writes complete in bursts, cost a fifth of the CPU of small appends);
 * with no limit, up to IDLE_BYTES of them, and at least KEEP_IDLE. Pinned
 * (non-paged) buffers: KEEP_IDLE, so idle ones do not hold RLIMIT_MEMLOCK.
 */
const KEEP_IDLE = 2;
const IDLE_BYTES = 16 * 1024 * 1024;

/**
 * The memory each allocator has handed out and not had back, by address,
 * across every area using it: a buffer that overlaps one still in use would
 * let one block's bytes overwrite another's.
 */
const liveByAllocator = new WeakMap<BufferAllocator, Map<number, number>>();

function overlapsLive(allocator: BufferAllocator, start: number, length: number): boolean {
  const live = liveByAllocator.get(allocator);
  if (live === undefined) return false;
  for (const [begin, size] of live) if (start < begin + size && begin < start + length) return true;
  return false;
}

export class BufferPool {
  readonly size: number;
  readonly max: number;
  readonly #alignment: number;
  readonly #pool: Pool;
  readonly #allocator: BufferAllocator | undefined;
  readonly #idle: Uint8Array[] = [];
  /** What the allocator returned, for each buffer handed out (its first `size` bytes). */
  readonly #original = new Map<Uint8Array, Uint8Array>();
  readonly #waiting = new Fifo<(buffer: Uint8Array) => void>();
  /** Most idle buffers kept (see KEEP_IDLE). */
  readonly #keepIdle: number;
  #allocated = 0;
  #drained = false;

  constructor(size: number, max: number, alignment: number, pool: Pool, allocator: BufferAllocator | undefined) {
    this.size = size;
    this.max = max;
    this.#alignment = alignment;
    this.#pool = pool;
    this.#allocator = allocator;
    this.#keepIdle =
      pool === 'nonPaged' ? KEEP_IDLE : Number.isFinite(max) ? max : Math.max(KEEP_IDLE, Math.floor(IDLE_BYTES / size));
  }

  /** Buffers allocated now (in use or idle). */
  get allocated(): number {
    return this.#allocated;
  }

  /** Buffers in use. */
  get inUse(): number {
    return this.#allocated - this.#idle.length;
  }

  /** A buffer now, or undefined when `max` are in use. */
  tryAcquire(): Uint8Array | undefined {
    const idle = this.#idle.pop();
    if (idle !== undefined) return idle;
    if (this.#allocated >= this.max) return undefined;
    const buffer = this.#allocate();
    this.#allocated++;
    return buffer;
  }

  /** A buffer, waiting for one to be released when `max` are in use. */
  acquire(): Uint8Array | Promise<Uint8Array> {
    return this.tryAcquire() ?? new Promise((resolve) => this.#waiting.push(resolve));
  }

  release(buffer: Uint8Array): void {
    if (this.#drained) {
      // Back after the area closed (a read that was in flight): free it now.
      this.#free(buffer);
      return;
    }
    const waiter = this.#waiting.shift();
    if (waiter !== undefined) {
      waiter(buffer);
      return;
    }
    if (this.#idle.length < this.#keepIdle) {
      this.#idle.push(buffer);
      return;
    }
    this.#free(buffer);
  }

  /**
   * Frees every idle buffer (on close; buffers in use come back first). An
   * allocator's free() that throws does not stop the others; the first error
   * is returned.
   */
  drain(): unknown {
    this.#drained = true;
    let failure: unknown;
    for (const buffer of this.#idle.splice(0)) {
      try {
        this.#free(buffer);
      } catch (error) {
        failure ??= error;
      }
    }
    return failure;
  }

  #allocate(): Uint8Array {
    if (this.#allocator === undefined) {
      return alignedBuffer(this.size, { alignment: this.#alignment, pool: this.#pool });
    }
    const allocator = this.#allocator;
    const memory = allocator.allocate(this.size, this.#alignment);
    // The allocator's contract: what allocate returns must be aligned memory at least `size`
    // long, else ERR_CLFS_MISALIGNED; the message says what was wrong.
    let problem: string | undefined;
    if (!(memory instanceof Uint8Array)) {
      problem = 'did not return a Uint8Array';
    } else if (!(memory.buffer instanceof SharedArrayBuffer)) {
      problem = 'returned memory that is not on a SharedArrayBuffer (build allocators on alignedBuffer())';
    } else if (memory.byteLength < this.size) {
      problem = `returned ${memory.byteLength} bytes, fewer than the ${this.size} asked for`;
    } else if (misalignment(memory, this.#alignment) !== 0) {
      problem = `returned memory misaligned by ${misalignment(memory, this.#alignment)} bytes (${this.#alignment}-byte alignment is required)`;
    } else if (overlapsLive(allocator, binding.address(memory), this.size)) {
      problem = 'returned memory that overlaps a buffer still in use';
    }
    if (problem !== undefined) {
      // Matched one to one: what allocate returned goes back to free.
      if (memory instanceof Uint8Array) allocator.free(memory);
      throw new ClfsError('ERR_CLFS_MISALIGNED', `the marshalling area's allocator ${problem}`, {
        alignment: this.#alignment,
      });
    }
    const buffer = memory.byteLength === this.size ? memory : memory.subarray(0, this.size);
    this.#original.set(buffer, memory);
    let live = liveByAllocator.get(allocator);
    if (live === undefined) liveByAllocator.set(allocator, (live = new Map()));
    live.set(binding.address(buffer), this.size);
    return buffer;
  }

  #free(buffer: Uint8Array): void {
    this.#allocated--;
    if (this.#allocator === undefined) {
      if (this.#pool === 'nonPaged') releaseBuffer(buffer);
      return;
    }
    const original = this.#original.get(buffer);
    this.#original.delete(buffer);
    liveByAllocator.get(this.#allocator)?.delete(binding.address(buffer));
    this.#allocator.free(original ?? buffer);
  }
}
