/**
 * Restoring a log from archive snapshots (log.prepareArchive): a new log
 * directory whose containers hold the copied extents and whose base file
 * holds the newest snapshot's metadata copy. `Log.open` then recovers it as
 * it would the original after a clean close at the moment of that snapshot.
 *
 * The restored log is built in a temporary sibling directory and renamed
 * into place (NativeStorage.create): a crash leaves no log or the whole
 * one. Its bytes go through the storage interface like every write.
 * @module
 */
import { ClfsError, invalidArgType, invalidArgValue } from '../errors.ts';
import { decodeMetadata, reclaimLsnOf, type Metadata } from '../format/metadata.ts';
import { Lsn, blockLsnOf } from '../lsn.ts';
import { crc32c } from '../native/crc32c.ts';
import { NativeStorage, type NativeStorageOptions } from '../storage/native-storage.ts';
import { checkUint8Array } from '../validate.ts';
import type { ArchiveExtent, ArchiveImage } from './archive.ts';
import { MetadataStore } from './metadata-store.ts';

/** Gives the bytes copied for `extent` of `images[image]` (exactly `extent.length` of them). */
export type ExtentReader = (extent: ArchiveExtent, image: number) => Promise<Uint8Array> | Uint8Array;

/** The most bytes written at once. */
const CHUNK = 1024 * 1024;

/** Decodes a snapshot's metadata copy: ERR_CLFS_CORRUPT if it is not a valid one. */
function decodeImage(image: ArchiveImage, index: number): Metadata {
  if (typeof image !== 'object' || image === null) throw invalidArgType(`images[${index}]`, 'an archive image', image);
  if (!Array.isArray(image.extents)) throw invalidArgType(`images[${index}].extents`, 'an array', image.extents);
  const bytes = checkUint8Array(`images[${index}].metadata`, image.metadata);
  const decoded = decodeMetadata(bytes, (b) => crc32c(b));
  if (typeof decoded === 'string') {
    throw new ClfsError('ERR_CLFS_CORRUPT', `the metadata copy of archive image ${index} is not valid (${decoded})`);
  }
  return decoded;
}

/**
 * Checks that `images` (oldest first) restore the newest one: one log, and
 * together they hold every block from the newest one's base (or archive
 * tail, if lower) to its last record.
 */
function checkChain(images: readonly ArchiveImage[], decoded: readonly Metadata[]): void {
  const last = decoded.at(-1)!;
  decoded.forEach((m, i) => {
    if (m.identity !== last.identity || m.containerSize !== last.containerSize || m.sectorUnit !== last.sectorUnit) {
      throw invalidArgValue(`images[${i}]`, '(an archive image)', 'is of another log than the newest image');
    }
    const image = images[i]!;
    if (typeof image.fromLsn !== 'bigint' || typeof image.lastLsn !== 'bigint') {
      throw invalidArgType(`images[${i}].fromLsn`, 'of type bigint', image.fromLsn);
    }
    const before = images[i - 1];
    if (before !== undefined && before.lastLsn !== Lsn.INVALID && blockLsnOf(image.fromLsn) > before.lastLsn) {
      throw invalidArgValue(
        `images[${i}]`,
        '(an archive image)',
        `starts at ${Lsn.format(image.fromLsn)}, after the end of the image before it (${Lsn.format(before.lastLsn)}): records between them are missing`,
      );
    }
  });
  const needed = reclaimLsnOf(last.baseLsn, last.archiveTailLsn, last.archive);
  if (last.lastLsn !== Lsn.INVALID && images[0]!.fromLsn > needed) {
    throw invalidArgValue(
      'images',
      '(archive images)',
      `start at ${Lsn.format(images[0]!.fromLsn)}, after the newest image's base ${Lsn.format(needed)}: give the earlier images too`,
    );
  }
}

/** Checks an extent against the restored log's layout. */
function checkExtent(extent: ArchiveExtent, where: string, m: Metadata): void {
  const { container, fileOffset, length } = extent;
  const ok =
    Number.isInteger(container) &&
    Number.isInteger(fileOffset) &&
    Number.isInteger(length) &&
    container >= 0 &&
    fileOffset >= 0 &&
    length > 0 &&
    fileOffset % m.sectorUnit === 0 &&
    length % m.sectorUnit === 0 &&
    fileOffset + length <= m.containerSize;
  if (!ok) throw invalidArgValue(where, extent, `is not a range of a ${m.containerSize}-byte container`);
}

/**
 * Makes a log at `path` from `images` (see Log.restoreArchive); `read`
 * gives each extent's copied bytes.
 */
export async function restoreArchive(
  path: string,
  images: readonly ArchiveImage[],
  read: ExtentReader,
  options: NativeStorageOptions,
): Promise<void> {
  if (images.length === 0) throw invalidArgValue('images', images, 'holds no archive image');
  if (typeof read !== 'function') throw invalidArgType('read', 'of type function', read);
  const decoded = images.map((image, i) => decodeImage(image, i));
  checkChain(images, decoded);
  const last = decoded.at(-1)!;
  // Extents of containers the newest table no longer has were removed as free: not needed.
  const count = last.containers.length;
  await NativeStorage.create(
    path,
    count,
    () => last.containerSize,
    options,
    async (storage) => {
      if (last.containerSize % storage.geometry.unit !== 0 || last.sectorUnit % storage.geometry.unit !== 0) {
        throw new ClfsError(
          'ERR_CLFS_MISALIGNED',
          `the archived log was laid out for ${last.sectorUnit}-byte sectors; this device needs ${storage.geometry.unit}`,
        );
      }
      const buffer = storage.allocate(CHUNK);
      for (const [i, image] of images.entries()) {
        for (const [j, extent] of image.extents.entries()) {
          const where = `images[${i}].extents[${j}]`;
          checkExtent(extent, where, last);
          if (extent.container >= count) continue;
          const bytes = checkUint8Array(`the bytes read for ${where}`, await read(extent, i));
          if (bytes.byteLength !== extent.length) {
            throw invalidArgValue(`the bytes read for ${where}`, bytes.byteLength, `must be ${extent.length} bytes`);
          }
          for (let at = 0; at < bytes.byteLength; at += CHUNK) {
            const n = Math.min(CHUNK, bytes.byteLength - at);
            buffer.set(bytes.subarray(at, at + n));
            await storage.write(extent.container, extent.fileOffset + at, [buffer.subarray(0, n)], []);
          }
        }
      }
      await storage.sync();
      // Both slots, as a new log's: neither holds garbage.
      const store = new MetadataStore(storage, { ...last, clean: true });
      await store.write({});
      await store.write({});
    },
  );
}
