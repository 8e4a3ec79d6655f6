// Planting things where a log's files belong, as someone sharing the
// machine might: a symbolic link or a hard link to a file outside the log, a
// FIFO, a socket, a device node, a directory. And snapshots of what was
// planted and of the outside file, taken before and after, to show that
// nothing was followed, opened for writing, or removed.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { linkSync, lstatSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import net from 'node:net';

export type Kind = 'symbolic link' | 'hard link' | 'FIFO' | 'socket' | 'device node' | 'directory';

export const KINDS: readonly Kind[] = ['symbolic link', 'hard link', 'FIFO', 'socket', 'device node', 'directory'];

/** Why `kind` cannot be planted here (undefined when it can). */
export function plantSkipReason(kind: Kind): string | undefined {
  if (process.platform === 'win32') return 'these are POSIX file kinds';
  if (kind === 'device node' && process.getuid?.() !== 0) return 'mknod of a device node needs root';
  return undefined;
}

export interface Planted {
  /**
   * For links: the file outside the log they lead to. It is the log's own
   * file, moved there, so that anything following the link finds a valid
   * file and would read and write it.
   */
  outside?: string;
  /** Stops what must not outlive the test (a listening socket). */
  close(): Promise<void>;
}

/** Replaces the log's file `file` with a `kind`; links lead to `outside` (see {@link Planted.outside}). */
export async function plant(kind: Kind, file: string, outside: string): Promise<Planted> {
  const none = { close: async () => undefined };
  switch (kind) {
    case 'symbolic link':
      renameSync(file, outside);
      symlinkSync(outside, file);
      return { ...none, outside };
    case 'hard link':
      renameSync(file, outside);
      linkSync(outside, file);
      return { ...none, outside };
    case 'FIFO':
      rmSync(file);
      execFileSync('mkfifo', [file]);
      return none;
    case 'socket': {
      rmSync(file);
      const server = net.createServer();
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(file, resolve);
      });
      return { close: () => new Promise((resolve) => server.close(() => resolve(undefined))) };
    }
    case 'device node':
      rmSync(file);
      // /dev/null's numbers: harmless even to a program that did write to it.
      execFileSync('mknod', [file, 'c', '1', '3']);
      return none;
    case 'directory':
      rmSync(file);
      mkdirSync(file);
      return none;
  }
}

/** What a directory entry is, without following it: compared before and after. */
export function entryOf(file: string): { type: string; inode: number; links: number; size: number } {
  const s = lstatSync(file);
  const type = s.isSymbolicLink()
    ? 'symbolic link'
    : s.isFIFO()
      ? 'FIFO'
      : s.isSocket()
        ? 'socket'
        : s.isCharacterDevice()
          ? 'character device'
          : s.isDirectory()
            ? 'directory'
            : 'file';
  return { type, inode: s.ino, links: s.nlink, size: s.isFile() ? s.size : 0 };
}

/** A regular file's bytes (as a hash), size and modification time: compared before and after. */
export function fileSnapshot(file: string): { sha1: string; size: number; mtimeMs: number } {
  const s = lstatSync(file);
  return { sha1: createHash('sha1').update(readFileSync(file)).digest('hex'), size: s.size, mtimeMs: s.mtimeMs };
}

/** Settles `promise` into its value or error, or 'still pending after <ms> ms' (a hang). */
export function settleWithin<T>(promise: Promise<T>, ms: number): Promise<T | Error | string> {
  return Promise.race([
    promise.catch((error: unknown) => error as Error),
    new Promise<string>((resolve) => setTimeout(() => resolve(`still pending after ${ms} ms`), ms).unref()),
  ]);
}
