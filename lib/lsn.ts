/**
 * Log sequence numbers, exactly as CLFS lays them out in 64 bits:
 * `containerId << 32 | blockOffset | recordSequence`, where the block offset
 * is a multiple of 512 (bits 31..9) and the record sequence is 0..511
 * (bits 8..0). LSNs of one log compare with `<` and `===`.
 * @module
 */
import { invalidArgType, invariant, outOfRange } from './errors.ts';
import { hex64 } from './util/hex.ts';

/** A CLFS log sequence number: a `bigint` holding the 64-bit value. */
export type Lsn = bigint;

const MAX_U32 = 0xffff_ffff;
const NULL: Lsn = 0n;
const INVALID: Lsn = 0xffff_ffff_0000_0000n;
const MAX_U64 = 0xffff_ffff_ffff_ffffn;

/** Throws `ERR_INVALID_ARG_TYPE` / `ERR_OUT_OF_RANGE` unless `lsn` is a 64-bit unsigned bigint. */
function checkLsn(name: string, lsn: unknown): Lsn {
  if (typeof lsn !== 'bigint') throw invalidArgType(name, 'of type bigint', lsn);
  if (lsn < 0n || lsn > MAX_U64) throw outOfRange(name, '>= 0n and <= 0xffffffffffffffffn', lsn);
  return lsn;
}

function checkU32(name: string, value: unknown, max: number): number {
  if (typeof value !== 'number') throw invalidArgType(name, 'of type number', value);
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw outOfRange(name, `an integer >= 0 and <= ${max}`, value);
  }
  return value;
}

/**
 * The `Lsn` helpers (CLFS's `ClfsLsn*` functions).
 *
 * @example
 * ```ts
 * const lsn = Lsn.create(2, 4096, 3); // 0x0000000200001003n
 * Lsn.containerId(lsn); // 2
 * ```
 */
export const Lsn = {
  /** `CLFS_LSN_NULL` (0n): the smallest LSN. clfs never gives it to a record. */
  NULL,
  /** `CLFS_LSN_INVALID` (0xFFFFFFFF00000000n): greater than every valid LSN; marks "no LSN". */
  INVALID,

  /**
   * Builds an LSN (`ClfsLsnCreate`). The block offset must be a multiple of
   * 512 below 2^32, the record sequence 0..511; otherwise `ERR_OUT_OF_RANGE`
   * (where CLFS silently returns `CLFS_LSN_INVALID`).
   */
  create(containerId: number, blockOffset: number, recordSequence: number): Lsn {
    checkU32('containerId', containerId, MAX_U32);
    checkU32('blockOffset', blockOffset, MAX_U32);
    if (blockOffset % 512 !== 0) throw outOfRange('blockOffset', 'a multiple of 512', blockOffset);
    checkU32('recordSequence', recordSequence, 511);
    const lsn = (BigInt(containerId) << 32n) | BigInt(blockOffset + recordSequence);
    if (lsn >= INVALID) throw outOfRange('containerId', 'below 0xffffffff for a valid LSN', containerId);
    return lsn;
  },

  /** The logical container id (`ClfsLsnContainer`). */
  containerId(lsn: Lsn): number {
    return Number(checkLsn('lsn', lsn) >> 32n);
  },

  /** The block's byte offset in its container, a multiple of 512 (`ClfsLsnBlockOffset`). */
  blockOffset(lsn: Lsn): number {
    return Number(checkLsn('lsn', lsn) & 0xffff_fe00n);
  },

  /** The record's index in its block, 0..511 (`ClfsLsnRecordSequence`). */
  recordSequence(lsn: Lsn): number {
    return Number(checkLsn('lsn', lsn) & 0x1ffn);
  },

  /** Whether `lsn` is a bigint in the valid range [NULL, INVALID). */
  isValid(lsn: unknown): lsn is Lsn {
    return typeof lsn === 'bigint' && lsn >= 0n && lsn < INVALID;
  },

  /** `0x0000000200001003` style hex, for messages. */
  format(lsn: Lsn): string {
    return hex64(checkLsn('lsn', lsn));
  },

  /**
   * A `JSON.stringify` replacer that writes bigints (LSNs) as `Lsn.format`
   * hex strings, which JSON cannot hold otherwise. `log.information()`,
   * `log.recoveryReport` and `ClfsError` serialize this way by themselves.
   *
   * @example
   * ```ts
   * JSON.stringify({ at: lsn }, Lsn.replacer); // '{"at":"0x0000000200001003"}'
   * ```
   */
  replacer(this: unknown, _key: string, value: unknown): unknown {
    return typeof value === 'bigint' ? hex64(value) : value;
  },
} as const;

/**
 * Internal: gives `value` a (non-enumerable) toJSON writing its bigints as
 * hex strings, so that JSON.stringify of it works. Returns `value`.
 */
export function jsonFriendly<T extends object>(value: T): T {
  Object.defineProperty(value, 'toJSON', {
    value: () => JSON.parse(JSON.stringify({ ...value }, Lsn.replacer)) as unknown,
  });
  return value;
}

/** Internal, unchecked: the logical container id of an LSN. */
export function containerOf(lsn: Lsn): number {
  return Number(lsn >> 32n);
}

/** Internal, unchecked: the low 32 bits of an LSN as a number (a block's or position's byte offset). */
export function offsetOf(lsn: Lsn): number {
  return Number(lsn & 0xffff_ffffn);
}

/** Internal, unchecked: the record sequence (index in its block) of an LSN. */
export function sequenceOf(lsn: Lsn): number {
  return Number(lsn & 0x1ffn);
}

/** Internal: the block LSN (record sequence 0) of an LSN. */
export function blockLsnOf(lsn: Lsn): Lsn {
  return lsn & ~0x1ffn;
}

/** Record sequences 0..511 as bigints, made once: a scan computes an LSN per record. */
const SEQUENCES: readonly bigint[] = Array.from({ length: 512 }, (_, i) => BigInt(i));

/** Internal, unchecked: the LSN of record `index` of the block at `blockLsn`. */
export function lsnInBlock(blockLsn: Lsn, index: number): Lsn {
  return blockLsn + (SEQUENCES[index] ?? BigInt(index));
}

/** Internal: an LSN from a container id and a byte offset plus sequence, without checks. */
export function makeLsn(containerId: number, blockOffset: number, recordSequence = 0): Lsn {
  return (BigInt(containerId) << 32n) | BigInt(blockOffset + recordSequence);
}

/**
 * Internal: the LSN of a position between blocks. The end of a container is
 * the start of the next one: an offset equal to a 4 GiB container's size
 * does not fit the 32 offset bits, and would carry into the container id.
 */
export function positionLsn(containerId: number, offset: number, containerSize: number): Lsn {
  invariant(offset <= containerSize, () => `offset ${offset} past a ${containerSize}-byte container`);
  return offset === containerSize ? makeLsn(containerId + 1, 0) : makeLsn(containerId, offset);
}

/** Internal: `checkLsn` for public API arguments. */
export { checkLsn };
