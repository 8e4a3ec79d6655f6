/**
 * Loads the native addon (a prebuilt binary when one matches, else the local
 * build) and hands it the error class. `CLFS_NATIVE_PATH` names another build
 * to load instead, such as the sanitizer build.
 * @module
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { ClfsError } from '../errors.ts';

/** Options of `new DirectFile()` in the addon. */
export interface NativeEngineOptions {
  engine?: 'auto' | 'uring' | 'threads';
  depth?: number;
}

/** Options of the addon's `DirectFile.open()`. */
export interface NativeOpenOptions {
  create?: boolean;
  exclusive?: boolean;
  readOnly?: boolean;
  lock?: boolean;
  allowBuffered?: boolean;
  durability?: 'dsync' | 'fdatasync' | 'none';
  regularOnly?: boolean;
}

/** What the addon reports about an open file. */
export interface NativeFileInfo {
  path: string;
  direct: boolean;
  reason: string;
  durability: 'dsync' | 'fdatasync' | 'none';
  engine: 'io_uring' | 'threads';
  depth: number;
  memoryAlignment: number;
  offsetAlignment: number;
  logicalSectorSize: number;
  physicalSectorSize: number;
  alignmentSource: string;
  size: number;
}

/** A CRC32C to compute natively just before a write (see `DirectFile.write`). */
export interface ChecksumRange {
  /** First byte covered, counted over the write's buffers laid end to end. */
  start: number;
  /** Bytes covered. */
  length: number;
  /** Where the 4-byte little-endian CRC goes; counted as zero while computing. */
  field: number;
}

/** Counters of one open file (`DirectFile.stats()`). */
export interface DirectFileStats {
  /** Writes completed. */
  writes: number;
  /** Bytes of those writes. */
  bytesWritten: number;
  /** Reads completed. */
  reads: number;
  /** Bytes of those reads. */
  bytesRead: number;
  /** Syncs completed. */
  syncs: number;
  /** Requests refused before any I/O (bad alignment, closed file). */
  rejectedBeforeIo: number;
  /** Requests in flight now. */
  inFlight: number;
  /** Requests held for the end of a completion batch, not yet handed to the kernel (io_uring only). */
  unsubmitted: number;
}

export interface NativeDirectFile {
  open(path: string, options: NativeOpenOptions): Promise<NativeFileInfo>;
  write(
    offset: number,
    buffers: Uint8Array | Uint8Array[],
    checksums?: ChecksumRange[],
    sync?: boolean,
  ): Promise<number>;
  read(offset: number, buffer: Uint8Array): Promise<number>;
  sync(): Promise<void>;
  preallocate(size: number): Promise<void>;
  size(): Promise<number>;
  close(): Promise<void>;
  stats(): DirectFileStats;
}

export interface NativeMemoryInfo {
  pinnedBytes: number;
  pinnedBuffers: number;
  processLockedBytes: number | null;
  pinLimit: number;
  pageSize: number;
}

export interface NativeBinding {
  init(options: { ClfsError: typeof ClfsError }): void;
  pin(view: Uint8Array, length: number): void;
  address(buffer: Uint8Array): number;
  releaseBuffer(buffer: Uint8Array): boolean;
  memoryInfo(): NativeMemoryInfo;
  misalignment(buffer: Uint8Array, alignment: number): number;
  crc32c(data: Uint8Array, crc?: number): number;
  crc32cPortable(data: Uint8Array, crc?: number): number;
  crc32cImplementation(): string;
  regularFileSize(path: string): Promise<number>;
  DirectFile: new (options: NativeEngineOptions) => NativeDirectFile;
  napiVersion: number;
}

/** The directory holding the `clfs` package.json. */
export function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = path.join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'clfs') {
      return dir;
    }
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('clfs: cannot find the package root');
    dir = parent;
  }
}

/** The addon node-gyp-build finds (a local build, else a matching prebuilt one), or what to do when there is none. */
function resolveAddon(require: NodeJS.Require, root: string): string {
  try {
    return (require('node-gyp-build') as { resolve(dir: string): string }).resolve(root);
  } catch (cause) {
    const where = `${process.platform}-${process.arch} (Node ${process.version})`;
    throw new ClfsError(
      'ERR_CLFS_ADDON_MISSING',
      `clfs has no native addon for ${where}: no prebuilt binary matches (the package ships linux-x64 with glibc 2.33 or later) and none was built. ` +
        'If install scripts were blocked (pnpm, --ignore-scripts), allow them for clfs and run `npm rebuild clfs` (pnpm: `pnpm rebuild clfs`); ' +
        'building needs python3, make and a C++17 compiler',
      { cause },
    );
  }
}

function load(): NativeBinding {
  const require = createRequire(import.meta.url);
  const override = process.env.CLFS_NATIVE_PATH;
  const file =
    override !== undefined && override !== '' ? path.resolve(override) : resolveAddon(require, packageRoot());
  const binding = require(file) as NativeBinding;
  binding.init({ ClfsError });
  return binding;
}

/** The addon, loaded once per environment (each worker thread loads its own). */
export const binding: NativeBinding = load();
