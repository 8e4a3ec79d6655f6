// The space ledger's arithmetic (lib/log/space.ts) and the reservation
// arithmetic (lib/log/reservations.ts), pure, without I/O. The randomised
// case runs fixed seeds: a failure names its seed, and the seed replays it.
import { describe, expect, it } from 'vitest';

import { alignUp, recordSpan, type RecordLsns } from '../../lib/format/block.ts';
import { Lsn, makeLsn } from '../../lib/lsn.ts';
import { Reservation, largestOfAllocation, planReservation, reservedSize } from '../../lib/log/reservations.ts';
import {
  SpaceLedger,
  fits,
  freeContainerCount,
  roomBytes,
  roomOf,
  type Room,
  type SpaceSnapshot,
} from '../../lib/log/space.ts';
import { maxDataLength, placeRecord, type Placement } from '../../lib/log/write/placement.ts';
import { int, pick, prng } from '../support/fixtures.ts';

const UNIT = 512;
const SIZE = 8 * UNIT;
const geometry = { containerSize: SIZE, unit: UNIT };

function snapshot(over: Partial<SpaceSnapshot>): SpaceSnapshot {
  return {
    containerSize: SIZE,
    logicalIds: [1, 2, 0],
    position: { logicalId: 2, offset: 3 * UNIT },
    persistedBase: makeLsn(1, 0),
    maxContainers: 3,
    ...over,
  };
}

describe('roomOf', () => {
  it('the rest of the container being written, and the unused containers after it', () => {
    expect(roomOf(snapshot({}), false)).toEqual({ current: 5 * UNIT, containers: 1 });
  });

  it('a container wholly below the persisted base is free; one holding the base is not', () => {
    expect(roomOf(snapshot({ persistedBase: makeLsn(2, 0) }), false)).toEqual({ current: 5 * UNIT, containers: 2 });
    expect(roomOf(snapshot({ persistedBase: makeLsn(1, 4 * UNIT) }), false).containers).toBe(1);
  });

  it('containers given later ids but not written yet count whole', () => {
    expect(roomOf(snapshot({ logicalIds: [3, 2, 4] }), false)).toEqual({ current: 5 * UNIT, containers: 2 });
  });

  it('growth counts only when asked, up to maxContainers', () => {
    expect(roomOf(snapshot({ maxContainers: 6 }), true).containers).toBe(4);
    expect(roomOf(snapshot({ maxContainers: 6 }), false).containers).toBe(1);
  });

  it('a full current container leaves no current room', () => {
    expect(roomOf(snapshot({ position: { logicalId: 2, offset: SIZE } }), false).current).toBe(0);
  });

  it('roomBytes adds the rest and whole containers', () => {
    expect(roomBytes({ current: 100, containers: 2 }, SIZE)).toBe(100 + 2 * SIZE);
  });
});

describe('freeContainerCount', () => {
  it('counts never-used, below-base and not-yet-reached containers', () => {
    expect(freeContainerCount([1, 2, 0], 2, makeLsn(1, 0))).toBe(1);
    expect(freeContainerCount([1, 2, 0], 2, makeLsn(2, 0))).toBe(2);
    expect(freeContainerCount([3, 2, 0], 2, makeLsn(2, 0))).toBe(2);
  });
});

describe('fits', () => {
  it('with nothing reserved, refuses only what cannot fit at all', () => {
    const room: Room = { current: UNIT, containers: 1 };
    expect(fits(room, geometry, [UNIT + SIZE], 0, 0)).toBe(true);
    expect(fits(room, geometry, [UNIT + SIZE + 1], 0, 0)).toBe(false);
  });

  it('a block that does not fit before the container end skips its rest', () => {
    const room: Room = { current: UNIT, containers: 1 };
    // The 2-unit block goes to the next container: 6 units are left there.
    expect(fits(room, geometry, [2 * UNIT], 6 * UNIT, UNIT)).toBe(true);
    expect(fits(room, geometry, [2 * UNIT], 6 * UNIT + 1, UNIT)).toBe(false);
  });

  it('no block longer than a container fits, whatever the room', () => {
    expect(fits({ current: 0, containers: 5 }, geometry, [SIZE + UNIT], 1, UNIT)).toBe(false);
  });

  it('each container may end with the largest reserved block less a sector unused', () => {
    const room: Room = { current: 0, containers: 2 };
    // Largest 3 units: up to 2 units of each container may be lost.
    expect(fits(room, geometry, [], 12 * UNIT, 3 * UNIT)).toBe(true);
    expect(fits(room, geometry, [], 12 * UNIT + 1, 3 * UNIT)).toBe(false);
  });

  /** Places blocks one after another as the writer does; false when they run out of containers. */
  function place(room: Room, blocks: readonly number[]): boolean {
    let { current: rest, containers } = room;
    for (const block of blocks) {
      if (rest < block) {
        if (containers === 0 || SIZE < block) return false;
        containers--;
        rest = SIZE;
      }
      rest -= block;
    }
    return true;
  }

  it('whenever it says yes, the blocks and then every reserved record, all of the largest size, can be placed (seeds 1..300)', () => {
    for (let seed = 1; seed <= 300; seed++) {
      const random = prng(seed);
      const room: Room = { current: int(random, 0, 8) * UNIT, containers: int(random, 0, 3) };
      const blocks = Array.from({ length: int(random, 0, 3) }, () => int(random, 1, 8) * UNIT);
      const largest = int(random, 1, 8) * UNIT;
      const records = int(random, 1, 6);
      if (fits(room, geometry, blocks, records * largest, largest)) {
        const reserved = Array.from({ length: records }, () => largest);
        expect(place(room, [...blocks, ...reserved]), `seed ${seed}`).toBe(true);
      }
    }
  });
});

describe('fits, with records reserved before their chain LSNs are known', () => {
  const NONE: RecordLsns = { undoNextLsn: Lsn.INVALID, previousLsn: Lsn.INVALID, newBaseLsn: Lsn.INVALID };
  /** What a record may carry: no chain LSN, one, or two (a data record's two, a restart record's two). */
  const CARRIES: RecordLsns[] = [
    NONE,
    { ...NONE, previousLsn: makeLsn(1, 0) },
    { ...NONE, undoNextLsn: makeLsn(1, 0), previousLsn: makeLsn(1, 0) | 1n },
    { ...NONE, previousLsn: makeLsn(1, 0), newBaseLsn: makeLsn(1, 0) | 1n },
  ];

  it('whenever it says yes, the blocks and then the reserved records, with or without chain LSNs, placed by the writer (packed, or each flushed alone), fit: every room, seeds 1..1000', () => {
    for (let seed = 1; seed <= 1000; seed++) {
      const random = prng(seed);
      const bufferSize = int(random, 1, 8) * UNIT;
      const blocks = Array.from({ length: int(random, 0, 2) }, () => int(random, 1, 8) * UNIT);
      const limit = maxDataLength(Math.min(bufferSize, SIZE));
      // Small and large records, and lengths whose header at its largest crosses a sector boundary
      // where a smaller one would not (the reservation must count the largest).
      const records = Array.from({ length: int(random, 1, 6) }, () => ({
        dataLength: pick(random, [
          () => int(random, 0, limit),
          () => limit - 8 * int(random, 0, 3),
          () => Math.min(limit, Math.max(0, int(random, 1, 8) * UNIT - 64 - 8 * int(random, 1, 3))),
        ])(),
        lsns: pick(random, CARRIES),
      }));
      const sizes = records.map((r) => reservedSize(r.dataLength, UNIT));
      const reserved = sizes.reduce((a, b) => a + b, 0);
      const g = { bufferSize, containerSize: SIZE, unit: UNIT };
      // Every room, so that the tightest one fits() accepts is among them.
      for (let units = 0; units <= SIZE / UNIT; units++) {
        for (let containers = 0; containers <= 3; containers++) {
          const room: Room = { current: units * UNIT, containers };
          if (!fits(room, geometry, blocks, reserved, Math.max(...sizes))) continue;
          // The blocks as the writer places them, from the rest of container 0 on.
          let logicalId = 0;
          let rest = room.current;
          for (const block of blocks) {
            if (rest < block) {
              logicalId++;
              rest = SIZE;
            }
            rest -= block;
          }
          for (const alone of [false, true]) {
            let at: Placement = { logicalId, offset: SIZE - rest, open: undefined };
            for (const r of records) {
              const placed = placeRecord(at, recordSpan(r.dataLength, r.lsns), g);
              at = alone
                ? { ...placed, offset: placed.offset + alignUp(placed.open.used, UNIT), open: undefined }
                : placed;
            }
            const context = `seed ${seed}, room ${JSON.stringify(room)}${alone ? ', each flushed alone' : ''}`;
            if (at.logicalId > containers)
              expect.fail(`${context}: the reserved records need container ${at.logicalId}`);
          }
        }
      }
    }
  });
});

describe('SpaceLedger.hasRoomFor', () => {
  it('answers as fits() over roomOf() of the snapshot, its shortcut through the current room included (seeds 1..300)', () => {
    for (let seed = 1; seed <= 300; seed++) {
      const random = prng(seed);
      const s = snapshot({
        logicalIds: Array.from({ length: int(random, 2, 4) }, () => int(random, 0, 4)),
        position: { logicalId: int(random, 1, 4), offset: int(random, 0, 8) * UNIT },
        persistedBase: makeLsn(int(random, 1, 4), 0),
        maxContainers: int(random, 2, 6),
      });
      const ledger = new SpaceLedger(
        () => s,
        () => roomOf(s, false).current,
        UNIT,
      );
      const held = { bytes: 0, largest: 0 };
      if (int(random, 0, 1) === 1) {
        held.largest = int(random, 1, 4) * UNIT;
        held.bytes = held.largest * int(random, 1, 3);
      }
      ledger.register(held);
      const request = {
        blocks: Array.from({ length: int(random, 0, 3) }, () => int(random, 1, 8) * UNIT),
        reserve: int(random, 0, 1) * UNIT,
        largest: int(random, 0, 2) * UNIT,
      };
      const reserved = request.reserve + held.bytes;
      const largest = Math.max(request.largest, held.largest);
      const expected = fits(roomOf(s, true), geometry, request.blocks, reserved, largest);
      expect(ledger.hasRoomFor(request), `seed ${seed}`).toBe(expected);
    }
  });
});

describe('planReservation', () => {
  const size = reservedSize(100, UNIT);

  it('reserving records adds them, their bytes, and the largest block', () => {
    const plan = planReservation(new Reservation(), [size, 2 * size], undefined, false);
    expect(plan.next).toMatchObject({ records: 2, bytes: 3 * size, largest: 2 * size });
    expect(plan.added).toBe(3 * size);
    expect(plan.cost).toBe(0);
  });

  it('an append into new space costs its reserved size; into the reservation it costs nothing', () => {
    const current = Object.assign(new Reservation(), { records: 1, bytes: size, largest: size });
    expect(planReservation(current, [], size, false)).toMatchObject({ cost: size, added: 0 });
    const used = planReservation(current, [], size, true);
    expect(used).toMatchObject({ cost: 0, added: -size });
    // The last reserved record used: nothing is reserved any more.
    expect(used.next).toMatchObject({ records: 0, bytes: 0, largest: 0 });
    expect(current).toMatchObject({ records: 1, bytes: size }); // not changed
  });

  it('freeing or using more than is reserved is ERR_CLFS_RESERVATION_INVALID naming what is reserved', () => {
    const current = Object.assign(new Reservation(), { records: 1, bytes: size, largest: size });
    expect(() => planReservation(current, [-2 * size], undefined, false)).toThrow(
      expect.objectContaining({ code: 'ERR_CLFS_RESERVATION_INVALID', records: 1, bytes: size }),
    );
    expect(() => planReservation(new Reservation(), [], size, true)).toThrow(
      expect.objectContaining({ code: 'ERR_CLFS_RESERVATION_INVALID' }),
    );
  });

  it('largestOfAllocation: one record may take all the bytes but a sector for each other, up to the largest record', () => {
    expect(largestOfAllocation(3, 8 * UNIT, UNIT, 64 * 1024)).toBe(6 * UNIT);
    expect(largestOfAllocation(4, 2 * UNIT, UNIT, 64 * 1024)).toBe(UNIT);
    expect(largestOfAllocation(1, 1 << 30, UNIT, 1000)).toBe(reservedSize(1000, UNIT));
  });
});
