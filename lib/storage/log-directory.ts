/**
 * A log's directory as files: their names, and deleting a log in an order a
 * crash can stop at any point. (Creating one, which builds the storage, is
 * NativeStorage.create.) File names are made here, never read from disk.
 * @module
 */
import { randomBytes } from 'node:crypto';
import { lstat, mkdir, open as fsOpen, readdir, rename, rm, rmdir, unlink } from 'node:fs/promises';
import path from 'node:path';

import { ClfsError, fromSystemError, relocated } from '../errors.ts';
import { regularFileSize } from '../native/direct-file.ts';

export const BASE_FILE = 'base.blf';
/**
 * The base file's name once a delete has begun (CLFS's pending-delete
 * state): the log can no longer be opened, and the next Log.delete finishes
 * what a crash interrupted.
 */
export const DELETING_FILE = 'deleting.blf';

export function containerFileName(index: number): string {
  return `container-${String(index).padStart(6, '0')}.clfc`;
}

/** The index of a container file's name, or -1 for any other name. */
function containerIndexOf(name: string): number {
  const match = /^container-(\d{6,})\.clfc$/.exec(name);
  if (match === null) return -1;
  const index = Number(match[1]);
  return containerFileName(index) === name ? index : -1;
}

/**
 * Beside the log directory, the base file of a log being deleted whose
 * containers are gone, while the directory itself is removed: the mark that
 * lets the next delete finish (the directory may be empty by then).
 */
export function deletedMarkerOf(dir: string): string {
  const full = path.resolve(dir);
  return path.join(path.dirname(full), `.${path.basename(full)}.clfs-deleted`);
}

export const codeOf = (error: unknown): unknown => (error as NodeJS.ErrnoException | undefined)?.code;

/** Runs `fn`; a system error with one of `codes` (ENOENT: already gone) resolves to `fallback`. */
export async function unless<T>(codes: string[], fallback: T, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (codes.includes(String(codeOf(error)))) return fallback;
    throw fromSystemError(error);
  }
}

export function notFound(dir: string, why: string, cause?: unknown): ClfsError {
  return new ClfsError('ERR_CLFS_NOT_FOUND', `no log at '${dir}': ${why}`, { path: dir, cause });
}

/** Makes a directory entry durable (fsync on the directory). */
export async function syncDirectory(dir: string): Promise<void> {
  // Windows cannot flush a directory (Node reports EPERM); NTFS journals the
  // entries of its directories itself.
  if (process.platform === 'win32') return;
  const handle = await fsOpen(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Deletes the log at `dir` (CLFS's DeleteLogFile), holding its lock from
 * before the first change to after the last, in an order that a crash can
 * stop at any point:
 * 1. the base file is renamed DELETING_FILE: from then on Log.open finds
 *    no log (ERR_CLFS_NOT_FOUND), whatever happens next;
 * 2. the container files are removed;
 * 3. the renamed base file is moved out, beside the directory
 *    (deletedMarkerOf), and the directory removed if nothing else is in it;
 * 4. that file is removed.
 * A delete finds where an interrupted one stopped (a DELETING_FILE, or the
 * marker beside the directory) and finishes it. Only the log's own files
 * are removed: the container files its metadata counts, which must each
 * be a regular file with one link on the directory's device
 * (ERR_CLFS_UNSAFE_FILE, before anything is changed, if one is not), and
 * leftovers of an interrupted addContainer that are. Nothing is removed
 * through a symbolic link: one at `dir` itself is ERR_CLFS_UNSAFE_FILE.
 * `lock` opens and locks the base file by name; `containerCount` reads the
 * count from its metadata.
 */
export async function deleteLog<S extends { close(): Promise<void> }>(
  dir: string,
  lock: (dir: string, name: string) => Promise<S>,
  containerCount: (storage: S) => Promise<number>,
): Promise<void> {
  // Without a trailing separator, which would make lstat follow a symbolic link.
  dir = path.resolve(dir);
  const marker = deletedMarkerOf(dir);
  const entry = await unless(['ENOENT'], undefined, () => lstat(dir));
  if (entry === undefined) {
    // A delete that stopped after removing the directory: finish it.
    if (await removeMarker(marker)) return;
    throw notFound(dir, 'there is nothing there');
  }
  if (entry.isSymbolicLink()) {
    throw new ClfsError(
      'ERR_CLFS_UNSAFE_FILE',
      `'${dir}' is a symbolic link: Log.delete removes nothing through one (name the log's directory itself)`,
      { path: dir },
    );
  }
  if (!entry.isDirectory()) throw notFound(dir, 'it is not a directory');
  const names = await unless([], [], () => readdir(dir));
  const live = names.includes(BASE_FILE);
  if (!live && !names.includes(DELETING_FILE)) {
    // A delete that stopped after moving the base file out: finish it.
    if (await unless(['ENOENT'], false, async () => Boolean(await lstat(marker)))) {
      await removeDirectory(dir, marker);
      return;
    }
    throw notFound(dir, `it has no ${BASE_FILE}`);
  }
  const storage = await lock(dir, live ? BASE_FILE : DELETING_FILE);
  try {
    const count = await containerCount(storage);
    const own = await ownContainers(dir, names, count);
    if (live) {
      await rename(path.join(dir, BASE_FILE), path.join(dir, DELETING_FILE));
      await syncDirectory(dir);
    }
    for (const name of own) await unless(['ENOENT'], undefined, () => unlink(path.join(dir, name)));
    await syncDirectory(dir);
    await rename(path.join(dir, DELETING_FILE), marker);
    await syncDirectory(dir);
    await removeDirectory(dir, marker);
  } catch (error) {
    throw fromSystemError(error);
  } finally {
    await storage.close();
  }
}

/**
 * The container files of `names` that are the log's: those below `count`,
 * each of which must be safe (a regular file with one link on the
 * directory's device), and safe ones above it (left by an interrupted
 * addContainer). Anything else is not the log's to remove.
 */
async function ownContainers(dir: string, names: string[], count: number): Promise<string[]> {
  const own: string[] = [];
  for (const name of names) {
    const index = containerIndexOf(name);
    if (index === -1) continue;
    try {
      await regularFileSize(path.join(dir, name));
    } catch (error) {
      if (codeOf(error) === 'ENOENT') continue;
      if (codeOf(error) === 'ERR_CLFS_UNSAFE_FILE' && index >= count) continue;
      throw error;
    }
    own.push(name);
  }
  return own;
}

/** The last steps of a delete: the directory, if nothing else is in it, then the marker. */
async function removeDirectory(dir: string, marker: string): Promise<void> {
  await unless(['ENOENT', 'ENOTEMPTY', 'EEXIST'], undefined, () => rmdir(dir));
  await syncDirectory(path.dirname(marker));
  await removeMarker(marker);
}

/** Removes a delete's marker if there is one (a regular file); says whether there was. */
async function removeMarker(marker: string): Promise<boolean> {
  const entry = await unless(['ENOENT'], undefined, () => lstat(marker));
  if (entry === undefined || !entry.isFile()) return false;
  await unless(['ENOENT'], undefined, () => unlink(marker));
  await syncDirectory(path.dirname(marker));
  return true;
}

/**
 * Builds a log directory at `dir` (which must not exist: ERR_CLFS_EXISTS)
 * with `build`, which fills a temporary sibling of a name no other build
 * uses; then renames it into place. A crash never leaves a half-made log
 * under the real name, and of concurrent builds exactly one wins. Errors
 * name `dir`, never the temporary path.
 */
export async function buildLogDirectory(dir: string, build: (temporary: string) => Promise<void>): Promise<void> {
  const unique = `${process.pid}-${randomBytes(8).toString('hex')}`;
  const temporary = path.join(path.dirname(dir), `.${path.basename(dir)}.creating-${unique}`);
  try {
    await mkdir(temporary);
  } catch (error) {
    throw fromSystemError(error);
  }
  try {
    await build(temporary);
    await syncDirectory(temporary);
    const exists = (): ClfsError =>
      new ClfsError('ERR_CLFS_EXISTS', `a log (or file) already exists at '${dir}'`, { path: dir });
    // lstat: a symbolic link (even a dangling one) at the path is something there.
    const present = (): Promise<boolean> => unless(['ENOENT'], false, async () => Boolean(await lstat(dir)));
    if (await present()) throw exists();
    // One atomic step: a crash leaves either no log or the whole log under
    // its name. (rename() refuses a non-empty directory, a file or a
    // symbolic link there; an empty directory made since the check above
    // is replaced.)
    try {
      await rename(temporary, dir);
    } catch (error) {
      const code = codeOf(error);
      if (code === 'ENOTEMPTY' || code === 'EEXIST' || code === 'ENOTDIR' || code === 'EISDIR') throw exists();
      // Windows refuses a rename onto any directory with EPERM: a create that lost the race.
      if (code === 'EPERM' && (await present())) throw exists();
      throw error;
    }
    await syncDirectory(path.dirname(dir));
  } catch (error) {
    await rm(temporary, { recursive: true, force: true });
    throw relocated(fromSystemError(error), temporary, dir);
  }
}
