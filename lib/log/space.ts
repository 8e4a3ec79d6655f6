/**
 * The space ledger: how much room the log has for new blocks, and whether
 * an append or a reservation fits while every reserved record stays
 * appendable (CLFS: an append into a reservation never meets a full log).
 *
 * The arithmetic is pure (`roomOf`, `fits`, `freeContainerCount`) and
 * tested without I/O; `SpaceLedger` binds it to a log's live state.
 * @module
 */
import type { Lsn } from '../lsn.ts';
import { isFreeLogicalId } from './containers.ts';

/** The facts the room arithmetic reads: a snapshot of the log's layout. */
export interface SpaceSnapshot {
  containerSize: number;
  /** Logical id of each physical container (0: never used). */
  logicalIds: readonly number[];
  /** Where the next block starts if the open block were sealed now. */
  position: { logicalId: number; offset: number };
  /**
   * The base as persisted (for an archive log, the lower of it and the
   * archive tail as persisted, and of outstanding archive snapshots): the
   * writer recycles a container only once the move that freed it is
   * durable, so only that frees space.
   */
  persistedBase: Lsn;
  /** How many containers the log may grow to (0, or its count, when it cannot grow). */
  maxContainers: number;
}

/** Room for new blocks without any base move: the rest of the current container, and whole containers after it. */
export interface Room {
  current: number;
  containers: number;
}

/**
 * The room new blocks can still take without any base move: the rest of
 * the container being written (after the open block, as if sealed now), and
 * how many whole containers follow it (those given later ids but not
 * written yet, the free ones, and with `withGrowth` the ones the log may
 * still add).
 */
export function roomOf(s: SpaceSnapshot, withGrowth: boolean): Room {
  const { logicalId, offset } = s.position;
  let current = 0;
  let containers = 0;
  s.logicalIds.forEach((id) => {
    if (id === logicalId) current = Math.max(0, s.containerSize - offset);
    else if (id > logicalId || isFreeLogicalId(id, s.persistedBase)) containers++;
  });
  if (withGrowth) containers += Math.max(0, s.maxContainers - s.logicalIds.length);
  return { current, containers };
}

/** Bytes of a room. */
export function roomBytes(room: Room, containerSize: number): number {
  return room.current + room.containers * containerSize;
}

/** Containers holding no record at or above `base`, or not reached yet by the writer at `writingId`. */
export function freeContainerCount(logicalIds: readonly number[], writingId: number, base: Lsn): number {
  return logicalIds.filter((id) => id > writingId || isFreeLogicalId(id, base)).length;
}

/** What an append or a reservation asks of the log's space. */
export interface SpaceRequest {
  /** Lengths of the new blocks, in the order the writer places them. */
  blocks: readonly number[];
  /** Bytes it newly reserves (with those already reserved, see `fits`). */
  reserve: number;
  /** The largest block one of its reserved records may need (0: none). */
  largest: number;
}

/**
 * Whether `request` fits in `room` while `reserved` bytes stay appendable
 * as records whose blocks are at most `largest` bytes (both including the
 * request's own).
 *
 * The blocks are placed as the writer places them: where one does not fit
 * before a container's end, the rest of that container is left unused. The
 * reserved records are then appended in any order, each whole in one
 * container, so each container may end with up to the largest reserved
 * block less a sector unused: only what lies before that counts for them.
 * With nothing reserved, only what cannot fit at all is refused (the writer
 * finds a full log block by block then).
 */
export function fits(
  room: Room,
  geometry: { containerSize: number; unit: number },
  blocks: readonly number[],
  reserved: number,
  largest: number,
): boolean {
  const size = geometry.containerSize;
  let { current: rest, containers } = room;
  if (reserved === 0) return roomBytes(room, size) >= blocks.reduce((a, b) => a + b, 0);
  for (const block of blocks) {
    if (rest < block) {
      if (containers === 0 || size < block) return false;
      containers--;
      rest = size;
    }
    rest -= block;
  }
  const waste = Math.max(0, largest - geometry.unit);
  return Math.max(0, rest - waste) + containers * Math.max(0, size - waste) >= reserved;
}

/** One holder of reservations (a marshalling area's Reservation). */
export interface ReservationHolder {
  readonly bytes: number;
  /** The largest block one of its reserved records may need (0: none reserved). */
  readonly largest: number;
}

/** The ledger of one open log: its live layout and every area's reservations. */
export class SpaceLedger {
  readonly #snapshot: () => SpaceSnapshot;
  readonly #currentRoom: () => number;
  readonly #unit: number;
  readonly #holders = new Set<ReservationHolder>();

  /**
   * `snapshot` reads the log's layout as it is at the call; `currentRoom`,
   * roomOf(snapshot).current, without making the snapshot (appends ask on
   * every record).
   */
  constructor(snapshot: () => SpaceSnapshot, currentRoom: () => number, unit: number) {
    this.#snapshot = snapshot;
    this.#currentRoom = currentRoom;
    this.#unit = unit;
  }

  /** Counts `holder`'s reservations until `forget`. */
  register(holder: ReservationHolder): void {
    this.#holders.add(holder);
  }

  forget(holder: ReservationHolder): void {
    this.#holders.delete(holder);
  }

  /** Bytes reserved by every holder. */
  totalReservation(): number {
    let total = 0;
    for (const holder of this.#holders) total += holder.bytes;
    return total;
  }

  /** Bytes available for new records now, after reservations (growth not counted). */
  currentAvailable(): number {
    const s = this.#snapshot();
    return Math.max(0, roomBytes(roomOf(s, false), s.containerSize) - this.totalReservation());
  }

  /**
   * Whether the log keeps room enough with only the containers of
   * `logicalIds` (a prefix of the table: removeContainers asks before it
   * removes the rest): the container the writer goes on in, if it has none
   * yet, and every reserved record.
   */
  roomStaysWith(logicalIds: readonly number[]): boolean {
    const s = { ...this.#snapshot(), logicalIds };
    const room = roomOf(s, true);
    if (!logicalIds.includes(s.position.logicalId) && room.containers === 0) return false;
    let reserved = 0;
    let largest = 0;
    for (const holder of this.#holders) {
      reserved += holder.bytes;
      largest = Math.max(largest, holder.largest);
    }
    return fits(room, { containerSize: s.containerSize, unit: this.#unit }, [], reserved, largest);
  }

  /**
   * Whether new blocks of `request.blocks` fit while every reserved record
   * stays appendable, `request.reserve` more bytes reserved with records of
   * at most `request.largest` bytes included (growth the log may still do
   * counts as room).
   */
  hasRoomFor(request: SpaceRequest): boolean {
    let reserved = request.reserve;
    let largest = request.largest;
    for (const holder of this.#holders) {
      reserved += holder.bytes;
      largest = Math.max(largest, holder.largest);
    }
    if (reserved === 0) {
      // fits() then compares the blocks with the whole room, of which the
      // current container's rest is part: often enough on its own.
      let total = 0;
      for (const block of request.blocks) total += block;
      if (total <= this.#currentRoom()) return true;
    }
    const s = this.#snapshot();
    return fits(
      roomOf(s, true),
      { containerSize: s.containerSize, unit: this.#unit },
      request.blocks,
      reserved,
      largest,
    );
  }
}
