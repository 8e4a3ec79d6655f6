// The metadata's truncations (format version 2, lib/format/metadata.ts):
// encoded after the container table, read back, and every malformed list
// refused as 'fields' (a log with such a copy is ERR_CLFS_CORRUPT, never
// read with a wrong idea of which records exist).
import { describe, expect, it } from 'vitest';

import {
  MAX_TRUNCATIONS,
  METADATA_HEADER_SIZE,
  METADATA_VERSION,
  type Metadata,
  type Truncation,
} from '../../lib/format/metadata.ts';
import { Lsn } from '../../lib/lsn.ts';
import { SAMPLE_METADATA, decodeSlot as decode, lsn, slotOf } from '../support/metadata.ts';

const META: Metadata = SAMPLE_METADATA;

const rule = (lsn: Lsn, epoch: bigint, end: Lsn): Truncation => ({ lsn, epoch, end });

const rulesAt = METADATA_HEADER_SIZE + 4 * META.containers.length;

describe('metadata format: truncations', () => {
  it('TruncateLog rules: the metadata (version 2 and on) encodes the truncations after the container table and reads them back', () => {
    const truncations = [rule(lsn(1, 0, 2), 2n, lsn(1, 4096, 3)), rule(lsn(1, 4096, 0), 4n, lsn(1, 8192, 0))];
    const decoded = decode(slotOf({ ...META, truncations }));
    expect(decoded).toMatchObject({ truncations, containers: [1, 0] });
    expect(METADATA_VERSION).toBe(3);
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
