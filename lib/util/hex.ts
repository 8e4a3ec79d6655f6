/**
 * How an LSN (or any 64-bit value) is written as text: `0x` and 16 hex
 * digits (`Lsn.format`, and JSON of what carries LSNs).
 * @module
 */
export function hex64(value: bigint): string {
  return `0x${value.toString(16).padStart(16, '0')}`;
}
