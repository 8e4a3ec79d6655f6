// CRC32C (Castagnoli): known vectors, hardware against portable code, and
// continuation.
import { readFileSync } from 'node:fs';

import { describe, expect, it } from 'vitest';

import { ClfsError, crc32c, crc32cImplementation, crc32cPortable } from '../../lib/index.ts';
import { referenceCrc32c, seededBytes, thrownBy } from '../support/native.ts';
import { itWhere } from '../support/platform.ts';

// RFC 3720 (iSCSI), appendix B.4: CRC Examples. The RFC prints each CRC as the
// bytes sent on the wire, least significant first; the values here are those
// bytes read little-endian.
const SCSI_READ_10_PDU = Uint8Array.from([
  0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00,
  0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18, 0x28, 0x00, 0x00, 0x00, 0x00, 0x00,
  0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
]);

const VECTORS: { name: string; data: Uint8Array; crc: number }[] = [
  { name: '32 zero bytes', data: new Uint8Array(32), crc: 0x8a9136aa },
  { name: '32 bytes of 0xFF', data: new Uint8Array(32).fill(0xff), crc: 0x62a8ab43 },
  { name: '32 incrementing bytes 0x00..0x1F', data: Uint8Array.from({ length: 32 }, (_, i) => i), crc: 0x46dd794e },
  {
    name: '32 decrementing bytes 0x1F..0x00',
    data: Uint8Array.from({ length: 32 }, (_, i) => 31 - i),
    crc: 0x113fdb5c,
  },
  { name: 'the 48-byte iSCSI SCSI Read (10) command PDU', data: SCSI_READ_10_PDU, crc: 0xd9963a56 },
  { name: 'the ASCII string "123456789"', data: new TextEncoder().encode('123456789'), crc: 0xe3069283 },
];

const IMPLEMENTATIONS = [
  { name: 'crc32c', fn: crc32c },
  { name: 'crc32cPortable', fn: crc32cPortable },
];

describe.each(IMPLEMENTATIONS)('$name: known vectors', ({ fn }) => {
  it.each(VECTORS)('computes the CRC of $name', ({ data, crc }) => {
    expect(fn(data)).toBe(crc);
  });

  it('gives 0 for empty input', () => {
    expect(fn(new Uint8Array(0))).toBe(0);
  });

  it('returns the seed unchanged for empty input', () => {
    expect(fn(new Uint8Array(0), 0x12345678)).toBe(0x12345678);
  });
});

describe('the test vectors themselves', () => {
  it('match an independent bitwise CRC32C', () => {
    for (const { data, crc } of VECTORS) expect(referenceCrc32c(data)).toBe(crc);
  });
});

describe('hardware and portable code agree', () => {
  it('on seeded random data of every length from 0 to 5000', () => {
    const data = seededBytes(5000, 1);
    const mismatches: number[] = [];
    for (let length = 0; length <= 5000; length++) {
      const view = data.subarray(0, length);
      if (crc32c(view) !== crc32cPortable(view)) mismatches.push(length);
    }
    expect(mismatches).toEqual([]);
  });

  it('on views starting at every offset 0..15 (unaligned addresses) for several lengths', () => {
    const data = seededBytes(4096 + 16, 2);
    const mismatches: string[] = [];
    for (let offset = 0; offset < 16; offset++) {
      for (const length of [0, 1, 7, 8, 9, 15, 16, 17, 63, 64, 65, 255, 1000, 4096]) {
        const view = data.subarray(offset, offset + length);
        if (crc32c(view) !== crc32cPortable(view)) mismatches.push(`${offset}+${length}`);
      }
    }
    expect(mismatches).toEqual([]);
  });

  it('on 1 MiB buffers, at offsets 0, 1 and 3', () => {
    const data = seededBytes((1 << 20) + 3, 3);
    for (const offset of [0, 1, 3]) {
      const view = data.subarray(offset, offset + (1 << 20));
      expect(crc32c(view)).toBe(crc32cPortable(view));
    }
  });

  it('around the lengths where the hardware code runs three streams (3 x 256 and 3 x 8192 bytes), at unaligned offsets, with a seed', () => {
    const data = seededBytes(4 * 24576 + 16, 4);
    const mismatches: string[] = [];
    for (const base of [768, 1536, 24576, 49152, 73728]) {
      for (let length = base - 9; length <= base + 9; length++) {
        for (const offset of [0, 1, 5]) {
          const view = data.subarray(offset, offset + length);
          if (crc32c(view, 0x9e3779b9) !== crc32cPortable(view, 0x9e3779b9)) mismatches.push(`${length}@${offset}`);
        }
      }
    }
    expect(mismatches).toEqual([]);
  });

  it('and both agree with an independent bitwise CRC32C', () => {
    for (const length of [1, 3, 8, 31, 100, 1023]) {
      const data = seededBytes(length, 100 + length);
      expect(crc32c(data)).toBe(referenceCrc32c(data));
      expect(crc32cPortable(data)).toBe(referenceCrc32c(data));
    }
  });

  it('with a seed', () => {
    const data = seededBytes(777, 4);
    expect(crc32c(data, 0xdeadbeef)).toBe(crc32cPortable(data, 0xdeadbeef));
    expect(crc32c(data, 0xdeadbeef)).toBe(referenceCrc32c(data, 0xdeadbeef));
  });
});

describe.each(IMPLEMENTATIONS)('$name: continuation', ({ fn }) => {
  it('crc(b, crc(a)) equals crc(a + b) for every split of 300 bytes', () => {
    const whole = seededBytes(300, 5);
    const expected = fn(whole);
    for (let split = 0; split <= whole.length; split++) {
      const a = whole.subarray(0, split);
      const b = whole.subarray(split);
      expect(fn(b, fn(a))).toBe(expected);
    }
  });

  it('continues over many pieces of a 1 MiB buffer', () => {
    const whole = seededBytes(1 << 20, 6);
    let crc = 0;
    for (let at = 0; at < whole.length; at += 4099) crc = fn(whole.subarray(at, at + 4099), crc);
    expect(crc).toBe(fn(whole));
  });

  it('accepts the largest seed, 0xFFFFFFFF', () => {
    const data = seededBytes(10, 7);
    expect(fn(data, 0xffffffff)).toBe(referenceCrc32c(data, 0xffffffff));
  });
});

describe('crc32cImplementation', () => {
  const cpuHasSse42 =
    process.arch === 'x64' && process.platform === 'linux' && /\bsse4_2\b/.test(readFileSync('/proc/cpuinfo', 'utf8'));

  itWhere(
    cpuHasSse42 ? undefined : 'SSE4.2: needs an x86-64 Linux CPU that has it (/proc/cpuinfo)',
    'is sse4.2 on an x86-64 CPU that has SSE4.2',
    () => {
      expect(crc32cImplementation()).toBe('sse4.2');
    },
  );

  it('is one of the documented names', () => {
    expect(['sse4.2', 'armv8-crc', 'portable']).toContain(crc32cImplementation());
  });
});

describe.each(IMPLEMENTATIONS)('$name: bad arguments', ({ fn }) => {
  const call = fn as (data: unknown, crc?: unknown) => number;

  it.each([
    { what: 'a string', data: 'abc' },
    { what: 'a number', data: 42 },
    { what: 'null', data: null },
    { what: 'undefined', data: undefined },
    { what: 'an ArrayBuffer', data: new ArrayBuffer(8) },
    { what: 'a plain array', data: [1, 2, 3] },
    { what: 'an Int32Array', data: new Int32Array(2) },
  ])('rejects $what as data with ERR_INVALID_ARG_TYPE', ({ data }) => {
    const error = thrownBy(() => call(data));
    expect(error).toBeInstanceOf(ClfsError);
    expect(error.code).toBe('ERR_INVALID_ARG_TYPE');
  });

  it.each([
    { what: 'a string', crc: '1' },
    { what: 'a bigint', crc: 1n },
    { what: 'null', crc: null },
  ])('rejects $what as the seed with ERR_INVALID_ARG_TYPE', ({ crc }) => {
    expect(() => call(new Uint8Array(4), crc)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
  });

  it.each([
    { what: '-1', crc: -1 },
    { what: '2 ** 32', crc: 2 ** 32 },
    { what: '1.5', crc: 1.5 },
    { what: 'NaN', crc: NaN },
    { what: 'Infinity', crc: Infinity },
  ])('rejects $what as the seed with ERR_OUT_OF_RANGE', ({ crc }) => {
    expect(() => call(new Uint8Array(4), crc)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
  });
});
