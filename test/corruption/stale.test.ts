// Stale data, in memory (DESIGN.md invariant 5: stale blocks of an earlier
// pass through a recycled container, or left behind by an earlier crash,
// must never validate after new appends): whole blocks and single 512-byte
// sectors of an earlier version of the same place put back over acknowledged
// blocks, in the region recovery scans and below the metadata's tail.
import { beforeAll, describe, expect, it } from 'vitest';

import { Lsn } from '../../lib/lsn.ts';
import {
  LogBuilder,
  blockAt,
  blockBytes,
  checkAgainst,
  copyImage,
  flipBit,
  hex,
  matches,
  newestSlot,
  openImage,
  placeOf,
  readForward,
  rejection,
  staleSector,
  type KnownRecord,
  type MemoryImage,
} from '../support/corruption.ts';
import { KiB, SECTOR } from '../support/fixtures.ts';

describe('an earlier pass through a recycled container', () => {
  /**
   * 4 KiB one-record blocks in two 512 KiB containers: logical 1 filled
   * (128 blocks), logical 2 filled, the base moved into logical 2, and 20
   * blocks in logical 3, which reuses logical 1's physical container.
   * `before` is the disk while logical 1 was still there.
   */
  let before: MemoryImage;
  let crash: MemoryImage;
  let clean: MemoryImage;
  let third: Lsn[];
  let known: KnownRecord[];
  beforeAll(async () => {
    const b = await LogBuilder.create({ seed: 41, containerSize: 512 * KiB, containers: 2 });
    await b.flushedBlocks(128, 1, 3900);
    before = b.crashImage();
    const second = (await b.flushedBlocks(128, 1, 3900)).flat();
    await b.advanceBase(second[100]!);
    third = (await b.flushedBlocks(20, 1, 3900)).flat();
    crash = b.crashImage();
    clean = await b.close();
    known = b.records;
    // Premises: logical 3 is in the physical container logical 1 was in; the crash image's tail is before it.
    expect(new Set(third.map((l) => Lsn.containerId(l)))).toEqual(new Set([3]));
    expect(placeOf(crash, third[0]!).physical).toBe(0);
    expect(newestSlot(crash).metadata.tailLsn <= third[0]!).toBe(true);
  });

  /** The image with logical 1's block (or one sector of it) put back where logical 3's block `index` is. */
  function staleAt(image: MemoryImage, index: number, sector?: number): MemoryImage {
    const copy = copyImage(image);
    const { offset } = placeOf(copy, third[index]!);
    const old = before.containers[0]!.subarray(offset, offset + 4096);
    const now = blockBytes(copy, third[index]!);
    if (sector === undefined) now.set(old);
    else staleSector(now, old, sector);
    return copy;
  }

  it('the old blocks past the end of the new pass end the log cleanly: nothing cut, nothing skipped, no old record read', async () => {
    const log = await openImage(crash);
    try {
      expect(log.recoveryReport.tailReason).toBe('clean end');
      expect(log.information().lastLsn).toBe(third.at(-1));
      const { records, error } = await readForward(log);
      expect(error).toBeUndefined();
      expect(records.at(-1)!.lsn).toBe(third.at(-1));
      expect(checkAgainst(records, known)).toEqual([]);
    } finally {
      await log.close();
    }
  });

  it("strict open: the earlier pass's block put back over an acknowledged block (scanned) is ERR_CLFS_CORRUPT naming that block", async () => {
    const error = await rejection(openImage(staleAt(crash, 10)));
    expect(error.code).toBe('ERR_CLFS_CORRUPT');
    expect(hex(error.lsn)).toBe(hex(third[10]));
  });

  it('strict open: one stale 512-byte sector of the earlier pass in an acknowledged block (scanned) is ERR_CLFS_CORRUPT naming that block', async () => {
    const error = await rejection(openImage(staleAt(crash, 10, 3)));
    expect(error.code).toBe('ERR_CLFS_CORRUPT');
    expect(hex(error.lsn)).toBe(hex(third[10]));
  });

  it("salvage open: the earlier pass's block is skipped, and the records after it read back byte-exact", async () => {
    const log = await openImage(staleAt(crash, 10), 'salvage');
    try {
      expect(log.recoveryReport.skipped.map((s) => [s.fromLsn, s.toLsn])).toEqual([[third[10], third[11]]]);
      const { records, error } = await readForward(log, third[11]);
      expect(error).toBeUndefined();
      expect(records.map((r) => r.lsn)).toEqual(third.slice(11));
      expect(checkAgainst(records, known)).toEqual([]);
    } finally {
      await log.close();
    }
  });

  it.each([
    ['the whole block', undefined],
    ['one sector', 5],
  ] as const)(
    "below the tail (closed log): the earlier pass's data (%s) over an acknowledged block opens, and reading across it is ERR_CLFS_CORRUPT naming it, never old data",
    async (_what, sector) => {
      const log = await openImage(staleAt(clean, 10, sector));
      try {
        const { records, error } = await readForward(log);
        expect(checkAgainst(records, known)).toEqual([]);
        expect(records.at(-1)!.lsn).toBe(third[9]);
        expect(error?.code).toBe('ERR_CLFS_CORRUPT');
        expect(hex(error?.lsn)).toBe(hex(third[10]));
      } finally {
        await log.close();
      }
    },
  );
});

describe('a block left behind by an earlier crash', () => {
  /**
   * Generation 0: blocks A1..A5 acknowledged, then A6, A7, A8 handed to the
   * device unflushed (one block each); the crash tears A6, so the next open
   * (generation 1) cuts the log there and writes B6..B10 (acknowledged, one
   * block each, A6's size) over A6..A8. `a6` is A6 as generation 0 wrote it,
   * whole and valid: put back over B6, it is what a lost write of B6 would
   * leave.
   */
  let a6: Uint8Array;
  let a6Lsn: Lsn;
  let b: Lsn[];
  let crash: MemoryImage;
  let clean: MemoryImage;
  let known: KnownRecord[];
  let generation1: KnownRecord[];
  beforeAll(async () => {
    const builder = await LogBuilder.create({ seed: 42 });
    await builder.flushedBlocks(5, 1, 3900);
    const unacked = await builder.unackedRecords(3, 3900);
    const run0 = builder.crashImage();
    a6Lsn = unacked[0]!;
    a6 = blockBytes(run0, a6Lsn).slice();
    const torn = copyImage(run0);
    flipBit(blockBytes(torn, a6Lsn), 2000);
    await builder.reopen(torn);
    b = (await builder.flushedBlocks(5, 1, 3900)).flat();
    crash = builder.crashImage();
    clean = await builder.close();
    known = builder.records;
    generation1 = builder.records.filter((r) => r.generation === 1);
    // Premises: B6 took A6's place and size; generation 1 wrote with a higher epoch.
    expect(b[0]).toBe(a6Lsn);
    expect(blockAt(crash, b[0]!).header.blockLength).toBe(a6.byteLength);
    expect(blockAt(crash, b[0]!).header.epoch).toBeGreaterThan(new DataView(a6.buffer).getBigUint64(32, true));
    expect(newestSlot(crash).metadata.tailLsn).toBe(b[0]);
  });

  function withA6(image: MemoryImage, sector?: number): MemoryImage {
    const copy = copyImage(image);
    const now = blockBytes(copy, b[0]!);
    if (sector === undefined) now.set(a6);
    else staleSector(now, a6, sector);
    return copy;
  }

  /** No record read is A6's (generation 0's unacknowledged record at B6's LSN). */
  function expectNoStale(records: { lsn: Lsn; data: Uint8Array }[]): void {
    const stale = known.filter((k) => k.generation === 0 && k.lsn === a6Lsn);
    const served = records.filter((r) => stale.some((s) => matches(r as never, s)));
    expect(
      served.map((r) => hex(r.lsn)),
      'records of the stale block A6 were returned as data',
    ).toEqual([]);
  }

  it('strict open: A6 in place of the acknowledged B6 (scanned) is ERR_CLFS_CORRUPT naming it (its epoch is older than the block before it may be)', async () => {
    const error = await rejection(openImage(withA6(crash)));
    expect(error.code).toBe('ERR_CLFS_CORRUPT');
    expect(hex(error.lsn)).toBe(hex(b[0]));
  });

  it('strict open: one stale sector of A6 in B6 (scanned) is ERR_CLFS_CORRUPT naming it', async () => {
    const error = await rejection(openImage(withA6(crash, 2)));
    expect(error.code).toBe('ERR_CLFS_CORRUPT');
    expect(hex(error.lsn)).toBe(hex(b[0]));
  });

  it('salvage open: A6 in place of B6 is listed in recoveryReport.skipped', async () => {
    const log = await openImage(withA6(crash), 'salvage');
    try {
      expect(log.recoveryReport.skipped.map((s) => [s.fromLsn, s.toLsn])).toEqual([[b[0], b[1]]]);
    } finally {
      await log.close();
    }
  });

  it('salvage open: the stretch recovery skipped is never served as data (reading across it is ERR_CLFS_CORRUPT, not A6)', async () => {
    const log = await openImage(withA6(crash), 'salvage');
    try {
      const { records, error } = await readForward(log);
      expectNoStale(records);
      expect(error?.code).toBe('ERR_CLFS_CORRUPT');
      expect(hex(error?.lsn)).toBe(hex(b[0]));
    } finally {
      await log.close();
    }
  });

  it('below the tail (closed log): one stale sector of A6 in B6 opens, and reading across it is ERR_CLFS_CORRUPT naming it', async () => {
    const log = await openImage(withA6(clean, 2));
    try {
      const { records, error } = await readForward(log);
      expectNoStale(records);
      expect(error?.code).toBe('ERR_CLFS_CORRUPT');
      expect(hex(error?.lsn)).toBe(hex(b[0]));
    } finally {
      await log.close();
    }
  });

  it('below the tail (closed log): A6 in place of the acknowledged B6 (a lost write) is never returned as data: reading across it is ERR_CLFS_CORRUPT', async () => {
    const log = await openImage(withA6(clean));
    try {
      const { records, error } = await readForward(log);
      expectNoStale(records);
      expect(error?.code).toBe('ERR_CLFS_CORRUPT');
      expect(hex(error?.lsn)).toBe(hex(b[0]));
    } finally {
      await log.close();
    }
  });

  it('(control) without damage, both images read back generation 1 byte-exact after the cut', async () => {
    for (const image of [crash, clean]) {
      const log = await openImage(image);
      try {
        const { records, error } = await readForward(log);
        expect(error).toBeUndefined();
        expect(checkAgainst(records, known)).toEqual([]);
        expect(records.slice(-5).map((r) => r.lsn)).toEqual(generation1.map((r) => r.lsn));
        records.slice(-5).forEach((r, i) => expect(matches(r, generation1[i]!)).toBe(true));
      } finally {
        await log.close();
      }
    }
  });

  it('(premise) A6 is whole: put back where it was written, in its own generation, it validates', () => {
    expect(a6.byteLength % SECTOR).toBe(0);
    expect(new DataView(a6.buffer).getBigUint64(16, true)).toBe(a6Lsn);
  });
});
