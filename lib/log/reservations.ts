/**
 * Reservation arithmetic (CLFS's AlignReservedLog and the sizes
 * ReserveAndAppendLog returns).
 *
 * A reservation must guarantee that the record can be appended later
 * whatever happens in between, including flushes that seal every block
 * after one record. So a record's real (reserved) size is a whole block of
 * its own: block header, record header and data padded to 8, rounded up to
 * the sector unit. Its chain LSNs are not known when it is reserved, so the
 * record header counts at its largest (MAX_RECORD_HEADER_SIZE): the record
 * appended into the reservation never needs more.
 * @module
 */
import { ClfsError } from '../errors.ts';
import { BLOCK_HEADER_SIZE, alignUp, maxRecordSpan } from '../format/block.ts';

/** The bytes reserving one record of `dataLength` bytes takes (whatever chain LSNs it will carry). */
export function reservedSize(dataLength: number, unit: number): number {
  return alignUp(BLOCK_HEADER_SIZE + maxRecordSpan(dataLength), unit);
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

/** ERR_CLFS_RESERVATION_INVALID: `reservation` does not cover a record of `size` reserved bytes. */
export function reservationInvalid(reservation: Reservation, size: number): ClfsError {
  return new ClfsError(
    'ERR_CLFS_RESERVATION_INVALID',
    `the area's reservation (${reservation.records} records, ${reservation.bytes} bytes) does not cover a ${size}-byte record`,
    { records: reservation.records, bytes: reservation.bytes },
  );
}

/** A reservation change checked against an area's reservation: what the space ledger must still allow. */
export interface ReservationPlan {
  /** The area's totals after the change. */
  next: Reservation;
  /** Reserved size of the record appended into new space (0: none, or it uses the reservation). */
  cost: number;
  /** Bytes the change adds to what is reserved (negative: frees). */
  added: number;
}

/**
 * Plans a reservation change (real sizes: positive reserve one record,
 * negative free one) and the append it comes with (`appendSize`, the
 * record's reserved size, taken from the reservation with
 * `useReservation`). Throws ERR_CLFS_RESERVATION_INVALID when the
 * reservation does not cover what is freed or used. Pure.
 */
export function planReservation(
  current: Reservation,
  real: readonly number[],
  appendSize: number | undefined,
  useReservation: boolean,
): ReservationPlan {
  const next = current.copy();
  let added = 0;
  for (const size of real) {
    if (size > 0) {
      next.records++;
      next.bytes += size;
      next.largest = Math.max(next.largest, size);
    } else {
      if (next.records < 1 || next.bytes < -size) throw reservationInvalid(current, -size);
      next.records--;
      next.bytes += size;
    }
    added += size;
  }
  let cost = 0;
  if (appendSize !== undefined) {
    if (useReservation) {
      if (next.records < 1 || next.bytes < appendSize) throw reservationInvalid(current, appendSize);
      next.records--;
      next.bytes -= appendSize;
      added -= appendSize;
    } else {
      cost = appendSize;
    }
  }
  // A smaller record written into a worst-case reservation: the bytes
  // left over go back with the last record (Reservation.settle).
  next.settle();
  return { next, cost, added };
}

/**
 * The largest block one of `count` records reserved together as `bytes`
 * may need (CLFS's AllocReservedLog does not say their sizes): one of them
 * may take all the bytes but a sector for each other, up to the largest
 * record's block.
 */
export function largestOfAllocation(count: number, bytes: number, unit: number, maxRecordSize: number): number {
  return Math.min(Math.max(unit, bytes - (count - 1) * unit), reservedSize(maxRecordSize, unit));
}
