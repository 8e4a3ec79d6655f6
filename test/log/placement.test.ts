// Block placement (lib/log/write/placement.ts): where records go, as pure
// arithmetic. The randomised cases run fixed seeds: a failure names its seed,
// and the same seed replays it.
import { describe, expect, it } from 'vitest';

import {
  BLOCK_HEADER_SIZE,
  MAX_RECORDS_PER_BLOCK,
  MAX_RECORD_HEADER_SIZE,
  alignUp,
  recordSpan,
} from '../../lib/format/block.ts';
import {
  type Placement,
  type PlacementGeometry,
  blockCapacity,
  packedBlockLengths,
  placeRecord,
  placeRecords,
} from '../../lib/log/write/placement.ts';
import { Lsn } from '../../lib/lsn.ts';
import { chance, int, pick, prng } from '../support/fixtures.ts';

const UNIT = 512;
const geometry: PlacementGeometry = { bufferSize: 64 * 1024, containerSize: 256 * 1024, unit: UNIT };
const start: Placement = { logicalId: 1, offset: 0, open: undefined };
/** A record carrying no chain LSN (the most common: an 8-byte header). */
const NONE = { undoNextLsn: Lsn.INVALID, previousLsn: Lsn.INVALID, newBaseLsn: Lsn.INVALID };
/** A data record carrying both chain LSNs (the largest header). */
const CHAINED = { undoNextLsn: 5n, previousLsn: 7n, newBaseLsn: Lsn.INVALID };

describe('placeRecord', () => {
  it('a record that fits in the open block and leaves a record number joins it', () => {
    const at: Placement = { logicalId: 1, offset: 4096, open: { used: 1000, count: 3, capacity: 8192 } };
    const placed = placeRecord(at, 200, geometry);
    expect(placed).toEqual({
      logicalId: 1,
      offset: 4096,
      open: { used: 1200, count: 4, capacity: 8192 },
      newBlock: false,
    });
  });

  it('a record that does not fit starts a new block where the open block ends, sealed to whole units', () => {
    const at: Placement = { logicalId: 1, offset: 4096, open: { used: 8000, count: 3, capacity: 8192 } };
    const placed = placeRecord(at, 300, geometry);
    expect(placed.newBlock).toBe(true);
    expect(placed.logicalId).toBe(1);
    expect(placed.offset).toBe(4096 + alignUp(8000, UNIT));
    expect(placed.open).toEqual({ used: BLOCK_HEADER_SIZE + 300, count: 1, capacity: geometry.bufferSize });
  });

  it(`the record after ${MAX_RECORDS_PER_BLOCK} in a block starts a new block, room or not`, () => {
    const at: Placement = {
      logicalId: 1,
      offset: 0,
      open: { used: 20_000, count: MAX_RECORDS_PER_BLOCK, capacity: 65536 },
    };
    const placed = placeRecord(at, 32, geometry);
    expect(placed.newBlock).toBe(true);
    expect(placed.offset).toBe(alignUp(20_000, UNIT));
  });

  it(`the record that would be the ${MAX_RECORDS_PER_BLOCK}th in a block joins it only if it adds no sector unit`, () => {
    const open = { used: 4096 - 8, count: MAX_RECORDS_PER_BLOCK - 1, capacity: 65536 };
    expect(placeRecord({ logicalId: 1, offset: 0, open }, 8, geometry).newBlock).toBe(false);
    const placed = placeRecord({ logicalId: 1, offset: 0, open }, 16, geometry);
    expect(placed).toMatchObject({ logicalId: 1, offset: 4096, newBlock: true });
    // Below the last record number, a record joins whatever units it adds.
    expect(placeRecord({ logicalId: 1, offset: 0, open: { ...open, count: 3 } }, 16, geometry).newBlock).toBe(false);
  });

  it("a record that does not fit before the container's end starts the next container at offset 0", () => {
    const at: Placement = { logicalId: 2, offset: geometry.containerSize - 1024, open: undefined };
    const placed = placeRecord(at, 2000, geometry);
    expect(placed).toMatchObject({ logicalId: 3, offset: 0, newBlock: true });
    expect(placed.open.capacity).toBe(geometry.bufferSize);
  });

  it("a block near the container's end takes only the room left there", () => {
    const offset = geometry.containerSize - 4096;
    expect(blockCapacity(geometry, offset)).toBe(4096);
    expect(blockCapacity(geometry, 0)).toBe(geometry.bufferSize);
    const placed = placeRecord({ logicalId: 1, offset, open: undefined }, 1000, geometry);
    expect(placed).toMatchObject({ logicalId: 1, offset, newBlock: true });
    expect(placed.open.capacity).toBe(4096);
  });

  it('with no open block to join, the new block starts at the given offset', () => {
    const placed = placeRecord({ logicalId: 1, offset: 8192, open: undefined }, 100, geometry);
    expect(placed).toMatchObject({ logicalId: 1, offset: 8192, newBlock: true });
  });
});

describe('placeRecords', () => {
  it('follows the records into the container the last one reaches', () => {
    // 64 KiB blocks of one 60000-byte record each: four fill a 256 KiB container.
    const spans = Array.from({ length: 5 }, () => recordSpan(60_000, CHAINED));
    expect(placeRecords(start, spans.slice(0, 4), geometry).logicalId).toBe(1);
    expect(placeRecords(start, spans, geometry)).toMatchObject({ logicalId: 2, offset: 0 });
  });

  it('of no records is where writing stands', () => {
    expect(placeRecords(start, [], geometry)).toBe(start);
  });
});

describe('packedBlockLengths', () => {
  it('packs records into fresh blocks, one length per block, each sealed to whole units', () => {
    const span = recordSpan(1000, CHAINED); // 1024
    // 3 records per 4096-byte block (64 + 3 * 1024 = 3136), the fourth starts a block.
    expect(packedBlockLengths([span, span, span, span], 4096, UNIT)).toEqual([3584, 1536]);
  });

  it(`starts a block after ${MAX_RECORDS_PER_BLOCK} records`, () => {
    const spans = Array.from({ length: MAX_RECORDS_PER_BLOCK + 1 }, () => recordSpan(0, NONE));
    expect(packedBlockLengths(spans, 1024 * 1024, UNIT)).toEqual([
      alignUp(BLOCK_HEADER_SIZE + MAX_RECORDS_PER_BLOCK * recordSpan(0, NONE), UNIT),
      alignUp(BLOCK_HEADER_SIZE + recordSpan(0, NONE), UNIT),
    ]);
  });

  it('of no records is no block', () => {
    expect(packedBlockLengths([], 4096, UNIT)).toEqual([]);
  });

  it('64-byte records on 4096-byte units: 511 to a block of 9 units (512 would take 10)', () => {
    const spans = Array.from({ length: 1022 }, () => recordSpan(64, NONE));
    expect(BLOCK_HEADER_SIZE + 511 * 72).toBeLessThanOrEqual(9 * 4096);
    expect(packedBlockLengths(spans, 256 * 1024, 4096)).toEqual([9 * 4096, 9 * 4096]);
  });
});

describe('placement over random records (seeds 1..300)', () => {
  it('every block fits its buffer and its container, holds at most 512 records, and starts only when the record could not join the one before', () => {
    for (let seed = 1; seed <= 300; seed++) {
      const random = prng(seed);
      const unit = pick(random, [512, 4096]);
      const bufferSize = unit * int(random, 1, 32);
      const containerSize = bufferSize * int(random, 1, 6) + unit * int(random, 0, 7);
      const g: PlacementGeometry = { bufferSize, containerSize, unit };
      const largest = Math.floor((bufferSize - BLOCK_HEADER_SIZE - MAX_RECORD_HEADER_SIZE) / 8);
      // Some runs of tiny records only, so blocks run out of record numbers before room.
      const tiny = chance(random, 0.25);
      const spans = Array.from({ length: int(random, 1, 2000) }, () =>
        recordSpan(8 * int(random, 0, tiny ? 2 : largest >> int(random, 0, 8)), chance(random, 0.5) ? NONE : CHAINED),
      );
      const context = `seed ${seed}, ${JSON.stringify(g)}`;
      const check = (condition: boolean, what: string): void => {
        if (!condition) expect.fail(`${context}: ${what}`);
      };
      let at: Placement = { logicalId: 1, offset: 0, open: undefined };
      let fullBlocks = true;
      const lengths: number[] = [];
      for (const [i, span] of spans.entries()) {
        const next = placeRecord(at, span, g);
        const open = next.open;
        check(open.used <= open.capacity, `record ${i} overfills its block`);
        check(open.capacity === blockCapacity(g, next.offset), `record ${i}: capacity ${open.capacity}`);
        check(next.offset + open.capacity <= containerSize, `record ${i}: a block past the container's end`);
        check(open.count <= MAX_RECORDS_PER_BLOCK, `record ${i}: ${open.count} records in a block`);
        fullBlocks &&= open.capacity === bufferSize;
        if (next.newBlock && at.open !== undefined) {
          const sealedEnd = at.offset + alignUp(at.open.used, unit);
          const lastNumberAddsUnit =
            at.open.count === MAX_RECORDS_PER_BLOCK - 1 &&
            alignUp(at.open.used + span, unit) > alignUp(at.open.used, unit);
          check(
            at.open.used + span > at.open.capacity || at.open.count === MAX_RECORDS_PER_BLOCK || lastNumberAddsUnit,
            `record ${i} could have joined the block before`,
          );
          lengths.push(sealedEnd - at.offset);
          if (next.logicalId === at.logicalId) check(next.offset === sealedEnd, `record ${i}: a gap before its block`);
          else {
            check(
              next.logicalId === at.logicalId + 1 && next.offset === 0,
              `record ${i}: not at the next container's start`,
            );
            check(BLOCK_HEADER_SIZE + span > containerSize - sealedEnd, `record ${i} left a container it fitted in`);
          }
        }
        at = next;
      }
      expect(placeRecords({ logicalId: 1, offset: 0, open: undefined }, spans, g), context).toEqual(at);
      // Where no container's end cut a block short, the blocks are those of fresh blocks of the buffer size.
      const fresh = packedBlockLengths(spans, bufferSize, unit);
      for (const length of fresh) check(length % unit === 0 && length <= bufferSize, `a packed block of ${length}`);
      if (fullBlocks && at.logicalId === 1) expect(fresh, context).toEqual([...lengths, alignUp(at.open!.used, unit)]);
    }
  });
});
