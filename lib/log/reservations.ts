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
  /**
   * The largest block one reserved record may need, while any is reserved:
   * where a record does not fit before a container's end, the writer moves
   * to the next container, so up to this much less a sector may be left
   * unused at the end of each container (Log.hasRoomFor keeps that free).
   */
  largest = 0;

  copy(): Reservation {
    const next = new Reservation();
    next.assign(this);
    return next;
  }

  assign(other: Reservation): void {
    this.records = other.records;
    this.bytes = other.bytes;
    this.largest = other.largest;
  }

  /**
   * With no record reserved nothing is: leftover bytes could never be freed
   * (a free takes a record), so they go back with the last record.
   */
  settle(): this {
    if (this.records === 0) {
      this.bytes = 0;
      this.largest = 0;
    }
    return this;
  }
}
