// The metadata's truncations (format version 2, lib/format/metadata.ts):
// encoded after the container table, read back, and every malformed list
// refused as 'fields' (a log with such a copy is ERR_CLFS_CORRUPT, never
// read with a wrong idea of which records exist).
import { describe, expect, it } from 'vitest';

import {
  MAX_TRUNCATIONS,
  METADATA_CHECKSUM_OFFSET,
  METADATA_HEADER_SIZE,
  METADATA_VERSION,
  SLOT_SIZE,
  decodeMetadata,
  encodeMetadata,
  type Metadata,
  type Truncation,
} from '../../lib/format/metadata.ts';
import { Lsn } from '../../lib/lsn.ts';
import { crc32c } from '../../lib/native/crc32c.ts';
import { DEFAULT_POLICY } from '../../lib/log/policy.ts';

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
  policy: { ...DEFAULT_POLICY },
  clean: false,
  containers: [1, 0],
  truncations: [],
};

const rule = (lsn: Lsn, epoch: bigint, end: Lsn): Truncation => ({ lsn, epoch, end });

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
const rulesAt = METADATA_HEADER_SIZE + 4 * META.containers.length;

describe('metadata format: truncations', () => {
  it('TruncateLog rules: version 2 encodes the truncations after the container table and reads them back', () => {
    const truncations = [rule(lsn(1, 0, 2), 2n, lsn(1, 4096, 3)), rule(lsn(1, 4096, 0), 4n, lsn(1, 8192, 0))];
    const decoded = decode(slotOf({ ...META, truncations }));
    expect(decoded).toMatchObject({ truncations, containers: [1, 0] });
    expect(METADATA_VERSION).toBe(2);
    expect(decode(slotOf(META))).toMatchObject({ truncations: [] });
  });

  it('TruncateLog rules: a version 1 copy is refused (version)', () => {
    expect(decode(slotOf(META, (v) => v.setUint16(4, 1, true)))).toBe('version');
  });

  it('TruncateLog rules: malformed lists are refused (fields)', () => {
    const a = rule(lsn(1, 0, 2), 2n, lsn(1, 4096, 3));
    const b = rule(lsn(1, 4096, 0), 3n, lsn(1, 8192, 0));
    const cases: [string, Truncation[]][] = [
      ['LSNs not ascending', [b, { ...a, epoch: 4n }]],
      ['epochs not ascending', [{ ...a, epoch: 3n }, b]],
      ['a duplicate', [a, a]],
      ['at the tail', [rule(lsn(1, 12288, 0), 2n, lsn(1, 16384, 0))]],
      ['past the tail', [rule(lsn(2, 0, 1), 2n, lsn(2, 4096, 0))]],
      ['a block not on a sector', [rule(lsn(1, 512, 1), 2n, lsn(1, 4096, 0))]],
      ['an epoch above the copy', [{ ...a, epoch: 5n }]],
      ['an end not after its LSN', [{ ...a, end: a.lsn }]],
    ];
    for (const [name, truncations] of cases) expect(decode(slotOf({ ...META, truncations })), name).toBe('fields');
  });

  it('TruncateLog rules: a count that does not match the used length, or above MAX_TRUNCATIONS, is refused (fields)', () => {
    const one = { ...META, truncations: [rule(lsn(1, 0, 1), 2n, lsn(1, 4096, 0))] };
    expect(decode(slotOf(one, (v) => v.setUint32(rulesAt, 2, true)))).toBe('fields');
    expect(decode(slotOf(one, (v) => v.setUint32(rulesAt, 0, true)))).toBe('fields');
    expect(decode(slotOf(one, (v) => v.setUint32(rulesAt, MAX_TRUNCATIONS + 1, true)))).toBe('fields');
  });
});
