/**
 * A marshalling area's log I/O buffers: all one size, from the paged or
 * non-paged pool or from the caller's allocator, at most `max` allocated at
 * once. CLFS allocates and frees them as needed; a few idle ones are kept.
 * @module
 */
import { ClfsError } from '../errors.ts';
import { alignedBuffer, misalignment, releaseBuffer, type Pool } from '../native/memory.ts';
import { Fifo } from '../util/fifo.ts';

/**
 * A custom allocator for log I/O buffers (CLFS's pfnAllocBuffer /
 * pfnFreeBuffer). `allocate` must return memory whose first byte is a
 * multiple of `alignment` and at least `size` bytes long, else the area
 * reports ERR_CLFS_MISALIGNED; `free` receives exactly what `allocate`
 * returned, once.
 */
export interface BufferAllocator {
  allocate(size: number, alignment: number): Uint8Array;
  free(buffer: Uint8Array): void;
}

/** Idle buffers kept for reuse instead of being freed. */
const KEEP_IDLE = 2;

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
  #allocated = 0;

  constructor(size: number, max: number, alignment: number, pool: Pool, allocator: BufferAllocator | undefined) {
    this.size = size;
    this.max = max;
    this.#alignment = alignment;
    this.#pool = pool;
    this.#allocator = allocator;
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
    const waiter = this.#waiting.shift();
    if (waiter !== undefined) {
      waiter(buffer);
      return;
    }
    if (this.#idle.length < KEEP_IDLE) {
      this.#idle.push(buffer);
      return;
    }
    this.#free(buffer);
  }

  /** Frees every idle buffer (on close; buffers in use come back first). */
  drain(): void {
    for (const buffer of this.#idle.splice(0)) this.#free(buffer);
  }

  #allocate(): Uint8Array {
    if (this.#allocator === undefined) {
      return alignedBuffer(this.size, { alignment: this.#alignment, pool: this.#pool });
    }
    const memory = this.#allocator.allocate(this.size, this.#alignment);
    let problem: string | undefined;
    if (!(memory instanceof Uint8Array)) problem = 'did not return a Uint8Array';
    else if (memory.byteLength < this.size)
      problem = `returned ${memory.byteLength} bytes, fewer than the ${this.size} asked for`;
    else if (misalignment(memory, this.#alignment) !== 0) {
      problem = `returned memory misaligned by ${misalignment(memory, this.#alignment)} bytes (${this.#alignment}-byte alignment is required)`;
    }
    if (problem !== undefined) {
      // Matched one to one: what allocate returned goes back to free.
      if (memory instanceof Uint8Array) this.#allocator.free(memory);
      throw new ClfsError('ERR_CLFS_MISALIGNED', `the marshalling area's allocator ${problem}`, {
        alignment: this.#alignment,
      });
    }
    const buffer = memory.byteLength === this.size ? memory : memory.subarray(0, this.size);
    this.#original.set(buffer, memory);
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
    this.#allocator.free(original ?? buffer);
  }
}
