/**
 * The peers that are files, not databases: the hand-made WAL on
 * `fs.promises`, and raw `O_DIRECT|O_DSYNC` writes through the
 * `@ronomon/direct-io` addon.
 * @module
 */
import { close as closeCb, open as openCb, write as writeCb } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

import { preallocatedFile } from './files.ts';
import type { PeerStore } from './peers.ts';

/** The usual hand-made WAL: a file opened for appending, write() then datasync() per commit. */
export async function openFsPeer(dir: string): Promise<PeerStore> {
  const file = path.join(dir, 'fs-wal.log');
  const handle = await open(file, 'a');
  return {
    id: 'fs',
    label: 'fs.promises',
    what: 'FileHandle.write(record) on a file opened with flags "a" (buffered, appending), then datasync()',
    whatBatch: 'one FileHandle.write of the records concatenated, then datasync()',
    version: process.version,
    details: { file, flags: 'a', sync: 'datasync() (fdatasync) after every write' },
    concurrent: true,
    async commit(record) {
      await handle.write(record);
      await handle.datasync();
    },
    async commitBatch(records) {
      await handle.write(Buffer.concat(records));
      await handle.datasync();
    },
    close: () => handle.close(),
  };
}

/** The parts of @ronomon/direct-io used here. */
interface RonomonModule {
  O_DIRECT: number;
  O_DSYNC: number;
  getAlignedBuffer(size: number, alignment: number): Buffer;
}

/** Bytes of the file the ronomon peer overwrites, wrapping (preallocated and written first). */
const RONOMON_FILE_BYTES = 64 * 1024 * 1024;
const SECTOR = 4096;

/**
 * Raw durable writes with no log: a file opened O_RDWR|O_DIRECT|O_DSYNC
 * through @ronomon/direct-io's flags and aligned buffers, and fs.write (the
 * libuv thread pool) of the record rounded up to whole 4 KiB sectors, at
 * consecutive offsets of a preallocated file.
 */
export async function openRonomonPeer(dir: string, module: unknown, version: string): Promise<PeerStore> {
  const io = module as RonomonModule;
  const file = path.join(dir, 'ronomon.dat');
  await preallocatedFile(file, RONOMON_FILE_BYTES);
  const fd = await promisify(openCb)(file, 2 /* O_RDWR */ | io.O_DIRECT | io.O_DSYNC);
  const write = promisify(writeCb);
  let next = 0;
  const pool: Buffer[] = [];
  const take = (bytes: number): Buffer => {
    const size = Math.max(SECTOR, Math.ceil(bytes / SECTOR) * SECTOR);
    const i = pool.findIndex((b) => b.length === size);
    return i >= 0 ? pool.splice(i, 1)[0]! : io.getAlignedBuffer(size, SECTOR);
  };
  const durableWrite = async (parts: readonly Uint8Array[]): Promise<void> => {
    let bytes = 0;
    for (const p of parts) bytes += p.length;
    const buffer = take(bytes);
    let at = 0;
    for (const p of parts) {
      buffer.set(p, at);
      at += p.length;
    }
    if (next + buffer.length > RONOMON_FILE_BYTES) next = 0;
    const offset = next;
    next += buffer.length;
    try {
      await write(fd, buffer, 0, buffer.length, offset);
    } finally {
      pool.push(buffer);
    }
  };
  return {
    id: 'ronomon',
    label: '@ronomon/direct-io',
    what: 'fs.write of the record rounded up to 4 KiB sectors, on a fd opened O_RDWR|O_DIRECT|O_DSYNC (raw blocks, no log)',
    whatBatch: 'one fs.write of the records concatenated, rounded up to 4 KiB sectors, O_DIRECT|O_DSYNC',
    version,
    details: { file, flags: 'O_RDWR|O_DIRECT|O_DSYNC', fileBytes: RONOMON_FILE_BYTES, engine: 'libuv thread pool' },
    concurrent: true,
    commit: (record) => durableWrite([record]),
    commitBatch: (records) => durableWrite(records),
    close: () => promisify(closeCb)(fd),
  };
}
