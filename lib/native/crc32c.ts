/**
 * CRC32C (Castagnoli), computed natively with SSE4.2 or ARMv8 CRC
 * instructions where the CPU has them.
 * @module
 */
import { checkInteger, checkUint8Array } from '../validate.ts';
import { binding } from './binding.ts';

/**
 * The CRC32C of `data`, continuing from `crc` (default 0), so that
 * `crc32c(b, crc32c(a)) === crc32c(concat(a, b))`.
 *
 * @example
 * ```ts
 * crc32c(new TextEncoder().encode('123456789')); // 0xe3069283
 * ```
 */
export function crc32c(data: Uint8Array, crc = 0): number {
  checkUint8Array('data', data);
  checkInteger('crc', crc, 0, 0xffffffff);
  return binding.crc32c(data, crc);
}

/** The same CRC, always by the portable table-driven code (for cross-checks). */
export function crc32cPortable(data: Uint8Array, crc = 0): number {
  checkUint8Array('data', data);
  checkInteger('crc', crc, 0, 0xffffffff);
  return binding.crc32cPortable(data, crc);
}

/** Which implementation {@link crc32c} uses here: `'sse4.2'`, `'armv8-crc'` or `'portable'`. */
export function crc32cImplementation(): string {
  return binding.crc32cImplementation();
}
