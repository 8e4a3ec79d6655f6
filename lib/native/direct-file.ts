/**
 * A file opened for direct I/O: the native layer with no log policy on top.
 * @module
 */
import { invalidArgType } from '../errors.ts';
import { checkBoolean, checkInteger, checkOneOf, checkOptions, checkPath, checkUint8Array } from '../validate.ts';
import {
  binding,
  type ChecksumRange,
  type NativeDirectFile,
  type NativeFileInfo,
  type DirectFileStats,
} from './binding.ts';

export type { ChecksumRange, DirectFileStats } from './binding.ts';

/**
 * How writes become durable:
 * - `'dsync'`: every write is durable when it completes (`O_DIRECT | O_DSYNC`);
 * - `'fdatasync'`: writes are durable after the next {@link DirectFile.sync};
 * - `'none'`: direct I/O only, not power-safe (for measurement).
 */
export type Durability = 'dsync' | 'fdatasync' | 'none';

/** Which native I/O engine runs a file's I/O. */
export type IoEngine = 'auto' | 'uring' | 'threads';

/** Options of {@link DirectFile.open}. */
export interface DirectFileOptions {
  /** Create the file if missing (default false). */
  create?: boolean;
  /** With `create`: fail with `EEXIST` if the file exists. */
  exclusive?: boolean;
  /** Open for reading only. */
  readOnly?: boolean;
  /** Take an exclusive lock (default true): a second open, from any process, fails with `ERR_CLFS_LOCKED`. */
  lock?: boolean;
  /** Where the filesystem refuses direct I/O, open buffered instead of failing (default false). */
  allowBuffered?: boolean;
  /** Default `'dsync'`. */
  durability?: Durability;
  /**
   * `'uring'` (Linux io_uring: one thread, many requests in the kernel),
   * `'threads'` (portable: `depth` threads doing blocking calls) or `'auto'`
   * (io_uring where the kernel allows it). Default: `$CLFS_IO_ENGINE` or `'auto'`.
   */
  engine?: IoEngine;
  /** How many requests may be in flight at once (default 64). */
  depth?: number;
  /**
   * Open only a plain regular file of the directory the path names (default
   * false): a symbolic link as the last component is not followed, a FIFO,
   * socket, device or directory is not opened (nothing is done with it
   * beyond an fstat), and a file with more than one link (a hard link) or on
   * another device than its directory is refused; all with
   * `ERR_CLFS_UNSAFE_FILE`. With `lock`, the path must still name the file
   * once it is locked (`ENOENT` if it was removed or renamed meanwhile).
   */
  regularOnly?: boolean;
}

const DURABILITIES: readonly Durability[] = ['dsync', 'fdatasync', 'none'];
/** DirectFile.open's boolean options, and all of its options. */
const OPEN_FLAGS = ['create', 'exclusive', 'readOnly', 'lock', 'allowBuffered', 'regularOnly'] as const;
const OPEN_OPTIONS: readonly (keyof DirectFileOptions)[] = [...OPEN_FLAGS, 'durability', 'engine', 'depth'];
const ENGINES: readonly IoEngine[] = ['auto', 'uring', 'threads'];

function defaultEngine(): IoEngine {
  const fromEnv = process.env.CLFS_IO_ENGINE;
  return fromEnv === undefined || fromEnv === '' ? 'auto' : checkOneOf('CLFS_IO_ENGINE', fromEnv, ENGINES);
}

/**
 * A file for direct I/O, with all of its I/O on a native thread of its own.
 *
 * Every address must be a multiple of {@link memoryAlignment}, and every
 * offset and length a multiple of {@link offsetAlignment}; a request that is
 * not is refused with `ERR_CLFS_MISALIGNED` before anything reaches the
 * kernel. Buffers stay referenced while their request is in flight. Every
 * method that does I/O returns a Promise; argument errors reject it.
 *
 * @example
 * ```ts
 * const file = await DirectFile.open('/var/tmp/data', { create: true });
 * await file.preallocate(1 << 20);
 * const block = alignedBuffer(4096);
 * await file.write(0, block);
 * await file.close();
 * ```
 */
export class DirectFile {
  readonly #native: NativeDirectFile;
  readonly #info: NativeFileInfo;

  private constructor(native: NativeDirectFile, info: NativeFileInfo) {
    this.#native = native;
    this.#info = info;
  }

  /**
   * Opens (or creates) `path` for direct I/O and checks that direct I/O
   * really happens. Where it does not (tmpfs), rejects with
   * `ERR_CLFS_DIRECT_IO_UNSUPPORTED` unless `allowBuffered` is set.
   */
  static async open(path: string, options?: DirectFileOptions): Promise<DirectFile> {
    checkPath('path', path);
    const opts = checkOptions('options', options, OPEN_OPTIONS);
    for (const name of OPEN_FLAGS) {
      if (opts[name] !== undefined) checkBoolean(`options.${name}`, opts[name]);
    }
    const durability =
      opts.durability === undefined ? 'dsync' : checkOneOf('options.durability', opts.durability, DURABILITIES);
    const engine = opts.engine === undefined ? defaultEngine() : checkOneOf('options.engine', opts.engine, ENGINES);
    const depth = opts.depth === undefined ? 64 : checkInteger('options.depth', opts.depth, 1, 4096);
    const native = new binding.DirectFile({ engine, depth });
    const info = await stacked(
      native.open(path, {
        create: opts.create ?? false,
        exclusive: opts.exclusive ?? false,
        readOnly: opts.readOnly ?? false,
        lock: opts.lock ?? true,
        allowBuffered: opts.allowBuffered ?? false,
        durability,
        regularOnly: opts.regularOnly ?? false,
      }),
    );
    return new DirectFile(native, info);
  }

  /** The path it was opened with. */
  get path(): string {
    return this.#info.path;
  }
  /** Whether I/O bypasses the page cache (false only when opened with `allowBuffered` on a filesystem that refused). */
  get direct(): boolean {
    return this.#info.direct;
  }
  /** Why {@link direct} is what it is, in a sentence. */
  get reason(): string {
    return this.#info.reason;
  }
  /** The durability mode it was opened with. */
  get durability(): Durability {
    return this.#info.durability;
  }
  /** `'io_uring'` or `'threads'`. */
  get engine(): 'io_uring' | 'threads' {
    return this.#info.engine;
  }
  /** How many requests the engine keeps in flight at most. */
  get depth(): number {
    return this.#info.depth;
  }
  /** Every buffer's address must be a multiple of this. */
  get memoryAlignment(): number {
    return this.#info.memoryAlignment;
  }
  /** Every offset and length must be a multiple of this. */
  get offsetAlignment(): number {
    return this.#info.offsetAlignment;
  }
  /** The device's logical sector size (the smallest addressable unit). */
  get logicalSectorSize(): number {
    return this.#info.logicalSectorSize;
  }
  /** The device's physical sector size (what it writes atomically; 4096 on a 512e drive). */
  get physicalSectorSize(): number {
    return this.#info.physicalSectorSize;
  }
  /** The file's size in bytes when it was opened. */
  get sizeAtOpen(): number {
    return this.#info.size;
  }
  /**
   * Where the alignment came from: `'statx'`, `'BLKSSZGET'`, `'sysfs'`, `'page-size'` or `'buffered'`;
   * on Windows `'FILE_STORAGE_INFO'`, `'IOCTL_STORAGE_QUERY_PROPERTY'` or `'GetDiskFreeSpace'`.
   */
  get alignmentSource(): string {
    return this.#info.alignmentSource;
  }

  /**
   * Writes the buffers, laid end to end, at `offset` in one vectored write.
   * Resolves with the bytes written once the write has completed (and, with
   * durability `'dsync'`, is durable). Short writes are resumed; an error
   * rejects with the system error (`code`, `errno`, `syscall`, `path`).
   *
   * `sync: true` makes this write durable before it resolves, whatever the
   * durability mode (RWF_DSYNC with io_uring, an fdatasync after it with the
   * thread engine): one request instead of write() then sync(). It says
   * nothing of other writes; sync() covers those.
   *
   * `checksums` asks the native thread to compute CRC32Cs just before the
   * write and store them in the buffers (see {@link ChecksumRange}).
   */
  write(
    offset: number,
    buffers: Uint8Array | readonly Uint8Array[],
    options?: { checksums?: readonly ChecksumRange[]; sync?: boolean },
  ): Promise<number> {
    // Not an async function: a completion reaches the caller one promise
    // step after the addon's (the one that gives a failure its stack). Bad
    // arguments still reject rather than throw.
    try {
      checkInteger('offset', offset, 0);
      let list: Uint8Array[];
      if (Array.isArray(buffers)) {
        list = buffers.map((b, i) => checkUint8Array(`buffers[${i}]`, b));
      } else if (buffers instanceof Uint8Array) {
        list = [buffers];
      } else {
        throw invalidArgType('buffers', 'a Uint8Array or an array of them', buffers);
      }
      const opts = checkOptions('options', options, ['checksums', 'sync']);
      if (opts.checksums !== undefined && !Array.isArray(opts.checksums)) {
        throw invalidArgType('options.checksums', 'an array', opts.checksums);
      }
      const sync = opts.sync === undefined ? false : checkBoolean('options.sync', opts.sync);
      return stacked(this.#native.write(offset, list, opts.checksums as ChecksumRange[] | undefined, sync));
    } catch (error) {
      return Promise.reject(error as Error);
    }
  }

  /** Reads into `buffer` from `offset`; resolves with the bytes read (fewer at the end of the file). */
  async read(offset: number, buffer: Uint8Array): Promise<number> {
    checkInteger('offset', offset, 0);
    checkUint8Array('buffer', buffer);
    return stacked(this.#native.read(offset, buffer));
  }

  /** Makes every write that completed before this call durable (`fdatasync`). */
  async sync(): Promise<void> {
    return stacked(this.#native.sync());
  }

  /**
   * Grows the file to `size` bytes (a multiple of {@link offsetAlignment}),
   * allocating *and writing* zeros over the new part, so later direct
   * overwrites never allocate or convert extents; then syncs.
   */
  async preallocate(size: number): Promise<void> {
    checkInteger('size', size, 0);
    return stacked(this.#native.preallocate(size));
  }

  /** The file's size in bytes. */
  async size(): Promise<number> {
    return stacked(this.#native.size());
  }

  /** Request and byte counters. */
  stats(): DirectFileStats {
    return this.#native.stats();
  }

  /** Waits for everything in flight, then closes and unlocks. A second call does nothing. */
  async close(): Promise<void> {
    return stacked(this.#native.close());
  }

  /** Closes the file (for `await using`). */
  async [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * The size of the file at `path`, which must pass the checks of a
 * `regularOnly` open (`ERR_CLFS_UNSAFE_FILE` otherwise); the file is not
 * opened. A system error (`ENOENT`, ...) rejects as Node's `fs` errors do.
 */
export async function regularFileSize(path: string): Promise<number> {
  checkPath('path', path);
  return stacked(binding.regularFileSize(path));
}

/**
 * The addon's promise, whose rejection gets a stack: an error made on
 * completion, in no JavaScript frame, has none, so it takes the awaiting
 * callers' (async) frames here.
 */
function stacked<T>(promise: Promise<T>): Promise<T> {
  return promise.catch(withStack);
}

function withStack(error: unknown): never {
  if (error instanceof Error) Error.captureStackTrace(error, withStack);
  throw error;
}
