// Metadata copies for the format tests (test/format): a sample copy, a slot
// encoded and checksummed as the write path does, and decoding one.
import {
  METADATA_CHECKSUM_OFFSET,
  SLOT_SIZE,
  decodeMetadata,
  encodeMetadata,
  type Metadata,
} from '../../lib/format/metadata.ts';
import { Lsn } from '../../lib/lsn.ts';
import { crc32c } from '../../lib/native/crc32c.ts';
import { DEFAULT_POLICY } from '../../lib/log/policy.ts';

export const lsn = (container: number, offset: number, sequence = 0): Lsn => Lsn.create(container, offset, sequence);

/** A valid ephemeral copy: 4096-byte sectors, two 512 KiB containers, three blocks written. */
export const SAMPLE_METADATA: Metadata = {
  dumpCount: 3n,
  identity: '0123abcd-0000-4000-8000-000000000000',
  sectorUnit: 4096,
  containerSize: 512 * 1024,
  epoch: 4n,
  baseLsn: lsn(1, 0),
  restartLsn: Lsn.INVALID,
  tailLsn: lsn(1, 12288),
  tailPreviousLsn: lsn(1, 8192),
  lastLsn: lsn(1, 8192, 1),
  policy: { ...DEFAULT_POLICY },
  clean: false,
  containers: [1, 0],
  truncations: [],
  archive: false,
  archiveTailLsn: Lsn.INVALID,
};

/** Sets the CRC of the copy in `slot` (its used length from the header, else `used`). */
export function sealSlot(slot: Uint8Array, used = 0): Uint8Array {
  const view = new DataView(slot.buffer, slot.byteOffset, slot.byteLength);
  view.setUint32(METADATA_CHECKSUM_OFFSET, 0, true);
  view.setUint32(METADATA_CHECKSUM_OFFSET, crc32c(slot.subarray(0, view.getUint32(12, true) || used)), true);
  return slot;
}

/** `m` encoded into a slot with its CRC filled, as the write path does; `patch` edits it first. */
export function slotOf(m: Metadata, patch?: (view: DataView) => void): Uint8Array {
  const slot = new Uint8Array(SLOT_SIZE);
  const used = encodeMetadata(slot, m);
  patch?.(new DataView(slot.buffer));
  return sealSlot(slot, used);
}

export const decodeSlot = (slot: Uint8Array): ReturnType<typeof decodeMetadata> =>
  decodeMetadata(slot, (b) => crc32c(b));
