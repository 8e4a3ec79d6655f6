// The metadata's truncation cuts (format version 2, lib/format/metadata.ts):
// encoded after the container table, read back, and every malformed list
// refused as 'fields' (a log with such a copy is ERR_CLFS_CORRUPT, never
// read with a wrong idea of which records exist).
import { describe, expect, it } from 'vitest';

import {
  MAX_CUTS,
  METADATA_CHECKSUM_OFFSET,
  METADATA_HEADER_SIZE,
  METADATA_VERSION,
  SLOT_SIZE,
  decodeMetadata,
  encodeMetadata,
  type Metadata,
} from '../../lib/format/metadata.ts';
import { Lsn } from '../../lib/lsn.ts';
import { crc32c } from '../../lib/native/crc32c.ts';

const lsn = (container: number, offset: number, sequence = 0): Lsn => Lsn.create(container, offset, sequence);

const META: Metadata = {
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
  maxContainers: 0,
  clean: false,
  containers: [1, 0],
  cuts: [],
};

/** `m` encoded into a slot with its CRC filled, as the write path does. */
function slotOf(m: Metadata, patch?: (view: DataView) => void): Uint8Array {
  const slot = new Uint8Array(SLOT_SIZE);
  const used = encodeMetadata(slot, m);
  const view = new DataView(slot.buffer);
  patch?.(view);
  view.setUint32(METADATA_CHECKSUM_OFFSET, 0, true);
  view.setUint32(METADATA_CHECKSUM_OFFSET, crc32c(slot.subarray(0, view.getUint32(12, true) || used)), true);
  return slot;
}

const decode = (slot: Uint8Array): ReturnType<typeof decodeMetadata> => decodeMetadata(slot, (b) => crc32c(b));
const cutsAt = METADATA_HEADER_SIZE + 4 * META.containers.length;

describe('metadata format: truncation cuts', () => {
  it('TruncateLog cuts: version 2 encodes the cut list after the container table and reads it back', () => {
    const cuts = [lsn(1, 0, 2), lsn(1, 4096, 0)];
    const decoded = decode(slotOf({ ...META, cuts }));
    expect(decoded).toMatchObject({ cuts, containers: [1, 0] });
    expect(METADATA_VERSION).toBe(2);
    expect(decode(slotOf(META))).toMatchObject({ cuts: [] });
  });

  it('TruncateLog cuts: a version 1 copy is refused (version)', () => {
    expect(decode(slotOf(META, (v) => v.setUint16(4, 1, true)))).toBe('version');
  });

  it('TruncateLog cuts: malformed lists are refused (fields)', () => {
    const cases: [string, Lsn[]][] = [
      ['not ascending', [lsn(1, 4096, 0), lsn(1, 0, 2)]],
      ['a duplicate', [lsn(1, 0, 2), lsn(1, 0, 2)]],
      ['at the tail', [lsn(1, 12288, 0)]],
      ['past the tail', [lsn(2, 0, 1)]],
      ['a block not on a sector', [lsn(1, 512, 1)]],
    ];
    for (const [name, cuts] of cases) expect(decode(slotOf({ ...META, cuts })), name).toBe('fields');
  });

  it('TruncateLog cuts: a count that does not match the used length, or above MAX_CUTS, is refused (fields)', () => {
    const one = { ...META, cuts: [lsn(1, 0, 1)] };
    expect(decode(slotOf(one, (v) => v.setUint32(cutsAt, 2, true)))).toBe('fields');
    expect(decode(slotOf(one, (v) => v.setUint32(cutsAt, 0, true)))).toBe('fields');
    expect(decode(slotOf(one, (v) => v.setUint32(cutsAt, MAX_CUTS + 1, true)))).toBe('fields');
  });
});
