// The Lsn helpers (CLFS's ClfsLsn* functions): the exact 64-bit layout
// containerId << 32 | blockOffset | recordSequence, round trips, the special
// values, and typed errors for bad components.
import { describe, expect, it } from 'vitest';

import { Lsn } from '../../lib/index.ts';
import { throwsWith } from '../support/area.ts';

describe('Lsn layout', () => {
  it('Lsn.create: the value is exactly containerId << 32 | blockOffset | recordSequence', () => {
    expect(Lsn.create(2, 4096, 3)).toBe(0x0000000200001003n);
    expect(Lsn.create(0, 0, 0)).toBe(0n);
    expect(Lsn.create(1, 512, 0)).toBe(0x0000000100000200n);
    expect(Lsn.create(0, 0, 511)).toBe(0x1ffn);
    expect(Lsn.create(0xfffffffe, 0xfffffe00, 511)).toBe(0xfffffffeffffffffn);
  });

  it('Lsn.create: an LSN is a bigint carrying all 64 bits (container ids above 2^31 are not truncated)', () => {
    const lsn = Lsn.create(0x80000001, 0x7ffffe00, 0x1ff);
    expect(typeof lsn).toBe('bigint');
    expect(lsn >> 32n).toBe(0x80000001n);
    expect(Lsn.containerId(lsn)).toBe(0x80000001);
  });

  it.each([
    [0, 0, 0],
    [1, 0, 0],
    [2, 4096, 3],
    [7, 512, 511],
    [0x12345678, 0x0abcde00, 0x155],
    [0xfffffffe, 0xfffffe00, 511],
  ])('Lsn.containerId / blockOffset / recordSequence: round trip of (%i, %i, %i)', (c, o, s) => {
    const lsn = Lsn.create(c, o, s);
    expect(Lsn.containerId(lsn)).toBe(c);
    expect(Lsn.blockOffset(lsn)).toBe(o);
    expect(Lsn.recordSequence(lsn)).toBe(s);
  });

  it('Lsn.blockOffset and Lsn.recordSequence split the low 32 bits at bit 9', () => {
    const lsn = 0x0000000300000fffn;
    expect(Lsn.containerId(lsn)).toBe(3);
    expect(Lsn.blockOffset(lsn)).toBe(0xe00);
    expect(Lsn.recordSequence(lsn)).toBe(0x1ff);
  });

  it('LSNs order numerically: container, then block offset, then record sequence', () => {
    const ordered = [
      Lsn.create(1, 0, 0),
      Lsn.create(1, 0, 511),
      Lsn.create(1, 512, 0),
      Lsn.create(1, 0xfffffe00, 511),
      Lsn.create(2, 0, 0),
    ];
    for (let i = 1; i < ordered.length; i++) expect(ordered[i - 1]! < ordered[i]!).toBe(true);
  });
});

describe('Lsn special values', () => {
  it('Lsn.NULL is 0n, the smallest LSN', () => {
    expect(Lsn.NULL).toBe(0n);
    expect(Lsn.containerId(Lsn.NULL)).toBe(0);
    expect(Lsn.blockOffset(Lsn.NULL)).toBe(0);
    expect(Lsn.recordSequence(Lsn.NULL)).toBe(0);
  });

  it('Lsn.INVALID is 0xFFFFFFFF00000000n, above every LSN Lsn.create can make', () => {
    expect(Lsn.INVALID).toBe(0xffffffff00000000n);
    expect(Lsn.containerId(Lsn.INVALID)).toBe(0xffffffff);
    expect(Lsn.blockOffset(Lsn.INVALID)).toBe(0);
    expect(Lsn.recordSequence(Lsn.INVALID)).toBe(0);
    expect(Lsn.create(0xfffffffe, 0xfffffe00, 511) < Lsn.INVALID).toBe(true);
  });
});

describe('Lsn bad components', () => {
  it.each([
    ['containerId -1', () => Lsn.create(-1, 0, 0)],
    ['containerId 1.5', () => Lsn.create(1.5, 0, 0)],
    ['containerId 2^32', () => Lsn.create(2 ** 32, 0, 0)],
    ['containerId 0xFFFFFFFF (that is Lsn.INVALID)', () => Lsn.create(0xffffffff, 0, 0)],
    ['containerId NaN', () => Lsn.create(NaN, 0, 0)],
    ['blockOffset not a multiple of 512', () => Lsn.create(1, 100, 0)],
    ['blockOffset 2^32', () => Lsn.create(1, 2 ** 32, 0)],
    ['blockOffset -512', () => Lsn.create(1, -512, 0)],
    ['recordSequence 512', () => Lsn.create(1, 0, 512)],
    ['recordSequence -1', () => Lsn.create(1, 0, -1)],
    ['recordSequence 0.5', () => Lsn.create(1, 0, 0.5)],
  ])('Lsn.create: %s -> ERR_OUT_OF_RANGE', (_name, call) => {
    throwsWith(call, 'ERR_OUT_OF_RANGE');
  });

  it.each([
    ['containerId a string', () => Lsn.create('1' as unknown as number, 0, 0)],
    ['blockOffset a bigint', () => Lsn.create(1, 0n as unknown as number, 0)],
    ['recordSequence undefined', () => (Lsn.create as (a: number, b: number) => bigint)(1, 0)],
  ])('Lsn.create: %s -> ERR_INVALID_ARG_TYPE', (_name, call) => {
    throwsWith(call, 'ERR_INVALID_ARG_TYPE');
  });

  it.each(['containerId', 'blockOffset', 'recordSequence'] as const)(
    'Lsn.%s: a number instead of a bigint -> ERR_INVALID_ARG_TYPE',
    (name) => {
      throwsWith(() => Lsn[name](5 as unknown as bigint), 'ERR_INVALID_ARG_TYPE');
    },
  );

  it.each(['containerId', 'blockOffset', 'recordSequence'] as const)(
    'Lsn.%s: a bigint outside 64 unsigned bits -> ERR_OUT_OF_RANGE',
    (name) => {
      throwsWith(() => Lsn[name](-1n), 'ERR_OUT_OF_RANGE');
      throwsWith(() => Lsn[name](1n << 64n), 'ERR_OUT_OF_RANGE');
    },
  );
});
