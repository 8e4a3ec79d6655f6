// The base file's space policy block (lib/format/metadata.ts, version 2):
// written and read back field for field, and every out-of-range field or
// reserved bit refused ('fields'), as is a version 1 copy ('version').
import { describe, expect, it } from 'vitest';

import {
  METADATA_CHECKSUM_OFFSET,
  METADATA_POLICY_OFFSET,
  SLOT_SIZE,
  decodeMetadata,
  encodeMetadata,
  type Metadata,
} from '../../lib/format/metadata.ts';
import { DEFAULT_POLICY } from '../../lib/log/policy.ts';
import { crc32c } from '../../lib/native/crc32c.ts';

const INVALID = 0xffff_ffff_0000_0000n;

function metadata(policy = { ...DEFAULT_POLICY }, containers = 4): Metadata {
  return {
    dumpCount: 3n,
    identity: '0123abcd-0000-4000-8000-000000000000',
    sectorUnit: 4096,
    containerSize: 512 * 1024,
    epoch: 2n,
    baseLsn: 1n << 32n,
    restartLsn: INVALID,
    tailLsn: 1n << 32n,
    tailPreviousLsn: INVALID,
    lastLsn: INVALID,
    policy,
    clean: true,
    containers: Array.from({ length: containers }, (_, i) => (i === 0 ? 1 : 0)),
    truncations: [],
    archive: false,
    archiveTailLsn: INVALID,
  };
}

/** Encodes `m`, lets `patch` change the slot, and seals it (the CRC right) before decoding. */
function roundTrip(m: Metadata, patch: (v: DataView) => void = () => undefined): ReturnType<typeof decodeMetadata> {
  const slot = new Uint8Array(SLOT_SIZE);
  const used = encodeMetadata(slot, m);
  const v = new DataView(slot.buffer);
  patch(v);
  v.setUint32(METADATA_CHECKSUM_OFFSET, 0, true);
  v.setUint32(METADATA_CHECKSUM_OFFSET, crc32c(slot.subarray(0, used)), true);
  return decodeMetadata(slot.subarray(0, used), (b) => crc32c(b));
}

describe('metadata: the space policy block', () => {
  it('every policy field is written and read back', () => {
    const policy = {
      maxContainers: 1000,
      minContainers: 3,
      growthRate: 7,
      autoGrow: true,
      autoShrink: 55,
      logTail: 35,
    };
    const decoded = roundTrip(metadata(policy));
    expect(typeof decoded).toBe('object');
    expect((decoded as Metadata).policy).toEqual(policy);
  });

  const at = METADATA_POLICY_OFFSET;
  it.each([
    ['maxContainers over 1024', (v: DataView) => v.setUint16(at, 1025, true)],
    ['maxContainers below the container count', (v: DataView) => v.setUint16(at, 3, true)],
    ['minContainers below 2', (v: DataView) => v.setUint16(at + 2, 1, true)],
    ['minContainers above the container count', (v: DataView) => v.setUint16(at + 2, 5, true)],
    ['minContainers above maxContainers', (v: DataView) => v.setUint16(at + 2, 1024, true)],
    ['growthRate 0', (v: DataView) => v.setUint16(at + 4, 0, true)],
    ['growthRate over 1024', (v: DataView) => v.setUint16(at + 4, 1025, true)],
    ['autoShrink over 100', (v: DataView) => v.setUint8(at + 6, 101)],
    ['logTail over 100', (v: DataView) => v.setUint8(at + 7, 255)],
    ['an unknown policy flag', (v: DataView) => v.setUint8(at + 8, 3)],
    ['a reserved byte set', (v: DataView) => v.setUint8(at + 9, 1)],
    ['a reserved u16 set', (v: DataView) => v.setUint16(at + 10, 1, true)],
  ])('a copy whose policy has %s is refused (fields)', (_name, patch) => {
    expect(roundTrip(metadata(), patch)).toBe('fields');
  });

  it('a version 1 copy (no policy block) is refused (version)', () => {
    expect(roundTrip(metadata(), (v) => v.setUint16(4, 1, true))).toBe('version');
  });
});
