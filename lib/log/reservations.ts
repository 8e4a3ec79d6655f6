/**
 * Reservation arithmetic (CLFS's AlignReservedLog and the sizes
 * ReserveAndAppendLog returns).
 *
 * A reservation must guarantee that the record can be appended later
 * whatever happens in between, including flushes that seal every block
 * after one record. So a record's real (reserved) size is a whole block of
 * its own: block header, record header and data padded to 8, rounded up to
 * the sector unit.
 * @module
 */
import { BLOCK_HEADER_SIZE, alignUp, recordSpan } from '../format/block.ts';

/** The bytes reserving one record of `dataLength` bytes takes. */
export function reservedSize(dataLength: number, unit: number): number {
  return alignUp(BLOCK_HEADER_SIZE + recordSpan(dataLength), unit);
}

/** Per-area reservation totals: a count of records and a number of bytes, as in CLFS. */
export class Reservation {
  records = 0;
  bytes = 0;
}
