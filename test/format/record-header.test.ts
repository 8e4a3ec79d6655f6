// The record header of block format 2 (lib/format/block.ts): 8 bytes of
// length, type and flags, then only the chain LSNs the record carries. One
// byte form per record (canonical), every check in parseRecordAt, and what
// it saves: written bytes per payload byte for 64-byte records.
import { describe, expect, it } from 'vitest';

import {
  BLOCK_HEADER_SIZE,
  BLOCK_VERSION,
  MAX_RECORD_HEADER_SIZE,
  RECORD_FLAG_NEW_BASE,
  RECORD_FLAG_PREVIOUS,
  RECORD_FLAG_UNDO_NEXT,
  RECORD_PREFIX_SIZE,
  alignUp,
  maxRecordSpan,
  parseRecordAt,
  parseRecords,
  recordHeaderSize,
  recordSpan,
  writeBlockHeader,
  writeRecordHeader,
  type RecordLsns,
  type RecordTypeName,
} from '../../lib/format/block.ts';
import { reservedSize } from '../../lib/log/reservations.ts';
import { maxDataLength, packedBlockLengths } from '../../lib/log/write/placement.ts';
import { Lsn, makeLsn } from '../../lib/lsn.ts';
import { MemoryStorage, emptyImage } from '../../lib/storage/memory-storage.ts';
import { Log } from '../../lib/log/log.ts';
import { KiB, MiB, int, payload, pick, prng } from '../support/fixtures.ts';

const A = makeLsn(3, 0x200) | 5n;
const B = makeLsn(2, 0x400);
const C = Lsn.NULL;
const NONE: RecordLsns = { undoNextLsn: Lsn.INVALID, previousLsn: Lsn.INVALID, newBaseLsn: Lsn.INVALID };

/** Every combination of chain LSNs a record of each type may carry. */
const ALLOWED: [RecordTypeName, RecordLsns][] = [
  ['data', NONE],
  ['data', { ...NONE, undoNextLsn: A }],
  ['data', { ...NONE, previousLsn: B }],
  ['data', { ...NONE, undoNextLsn: A, previousLsn: C }],
  ['restart', NONE],
  ['restart', { ...NONE, previousLsn: B }],
  ['restart', { ...NONE, newBaseLsn: C }],
  ['restart', { ...NONE, previousLsn: A, newBaseLsn: B }],
];

/** A record written at offset 8 of a fresh 256-byte buffer (0xee elsewhere), data `data`. */
function written(type: RecordTypeName, lsns: RecordLsns, data: Uint8Array): { view: DataView; end: number } {
  const bytes = new Uint8Array(256).fill(0xee);
  const view = new DataView(bytes.buffer);
  const dataOffset = writeRecordHeader(
    view,
    8,
    data.byteLength,
    type,
    lsns.undoNextLsn,
    lsns.previousLsn,
    lsns.newBaseLsn,
  );
  bytes.set(data, dataOffset);
  bytes.fill(0, dataOffset + data.byteLength, 8 + recordSpan(data.byteLength, lsns));
  return { view, end: 8 + recordSpan(data.byteLength, lsns) };
}

describe('record header layout', () => {
  it('a record without chain LSNs has the 8-byte header: a 64-byte data record spans 72 bytes', () => {
    expect(RECORD_PREFIX_SIZE).toBe(8);
    expect(recordHeaderSize(NONE)).toBe(8);
    expect(recordSpan(64, NONE)).toBe(72);
    expect(recordSpan(65, NONE)).toBe(8 + 72);
  });

  it('each present chain LSN adds 8 bytes; the largest header carries two', () => {
    expect(ALLOWED.map(([, lsns]) => recordHeaderSize(lsns))).toEqual([8, 16, 16, 24, 8, 16, 16, 24]);
    expect(MAX_RECORD_HEADER_SIZE).toBe(24);
    for (const [, lsns] of ALLOWED) expect(recordSpan(100, lsns)).toBeLessThanOrEqual(maxRecordSpan(100));
  });

  it('the block format is version 2', () => {
    expect(BLOCK_VERSION).toBe(2);
  });

  it.each(ALLOWED)('a %s record with %o reads back as written, its data on a multiple of 8', (type, lsns) => {
    const data = payload(prng(3), 'r', 13);
    const { view, end } = written(type, lsns, data);
    const entry = parseRecordAt(view, 8, end);
    expect(entry).toEqual({ dataOffset: 8 + recordHeaderSize(lsns), dataLength: 13, type, ...lsns });
    if (entry === 'records') return;
    expect(entry.dataOffset % 8).toBe(0);
    expect(new Uint8Array(view.buffer, entry.dataOffset, 13)).toEqual(data);
    // The flags name exactly the LSNs present, in their order.
    const flags =
      (lsns.undoNextLsn === Lsn.INVALID ? 0 : RECORD_FLAG_UNDO_NEXT) |
      (lsns.previousLsn === Lsn.INVALID ? 0 : RECORD_FLAG_PREVIOUS) |
      (lsns.newBaseLsn === Lsn.INVALID ? 0 : RECORD_FLAG_NEW_BASE);
    expect(view.getUint8(8 + 5)).toBe(flags);
  });

  it('an absent LSN reads INVALID (no bytes stored for it)', () => {
    const { view, end } = written('data', { ...NONE, previousLsn: B }, new Uint8Array(8));
    expect(end - 8).toBe(8 + 8 + 8);
    expect(parseRecordAt(view, 8, end)).toMatchObject({
      undoNextLsn: Lsn.INVALID,
      previousLsn: B,
      newBaseLsn: Lsn.INVALID,
    });
  });
});

describe('refused record headers (the block is refused: records)', () => {
  const record = (type: RecordTypeName, lsns: RecordLsns): { view: DataView; end: number } =>
    written(type, lsns, new Uint8Array(16).fill(1));

  it('canonical encoding refused: a present LSN that is INVALID', () => {
    for (const flag of [RECORD_FLAG_UNDO_NEXT, RECORD_FLAG_PREVIOUS]) {
      const { view, end } = record('data', { ...NONE, undoNextLsn: A, previousLsn: B });
      view.setBigUint64(flag === RECORD_FLAG_UNDO_NEXT ? 16 : 24, Lsn.INVALID, true);
      expect(parseRecordAt(view, 8, end)).toBe('records');
    }
    const { view, end } = record('restart', { ...NONE, newBaseLsn: B });
    view.setBigUint64(16, Lsn.INVALID, true);
    expect(parseRecordAt(view, 8, end)).toBe('records');
  });

  it('unknown flag refused: every bit above the three LSN bits', () => {
    for (let bit = 3; bit < 8; bit++) {
      const { view, end } = record('data', NONE);
      view.setUint8(8 + 5, 1 << bit);
      expect(parseRecordAt(view, 8, end), `bit ${bit}`).toBe('records');
    }
  });

  it('a data record carrying newBaseLsn refused', () => {
    const { view, end } = record('data', { ...NONE, previousLsn: B });
    view.setUint8(8 + 5, RECORD_FLAG_NEW_BASE); // the stored LSN now reads as the new base
    expect(parseRecordAt(view, 8, end)).toBe('records');
  });

  it('a restart record carrying undoNextLsn refused', () => {
    const { view, end } = record('restart', { ...NONE, previousLsn: B });
    view.setUint8(8 + 5, RECORD_FLAG_UNDO_NEXT);
    expect(parseRecordAt(view, 8, end)).toBe('records');
  });

  it('an unknown type or a non-zero reserved field refused', () => {
    for (const type of [0, 3, 255]) {
      const { view, end } = record('data', NONE);
      view.setUint8(8 + 4, type);
      expect(parseRecordAt(view, 8, end), `type ${type}`).toBe('records');
    }
    const { view, end } = record('data', NONE);
    view.setUint16(8 + 6, 1, true);
    expect(parseRecordAt(view, 8, end)).toBe('records');
  });

  it('a header whose LSNs or data run past the limit refused', () => {
    const { view, end } = record('data', { ...NONE, undoNextLsn: A, previousLsn: B });
    expect(parseRecordAt(view, 8, end)).not.toBe('records');
    for (const limit of [8 + 7, 8 + 15, 8 + 23, end - 1]) expect(parseRecordAt(view, 8, limit)).toBe('records');
  });

  it('the writer never writes what the reader refuses: a data record with a new base, a restart record with an undo-next LSN', () => {
    const view = new DataView(new ArrayBuffer(64));
    expect(() => writeRecordHeader(view, 0, 0, 'data', Lsn.INVALID, Lsn.INVALID, B)).toThrow(/may not carry/);
    expect(() => writeRecordHeader(view, 0, 0, 'restart', A, Lsn.INVALID, Lsn.INVALID)).toThrow(/may not carry/);
  });
});

describe('blocks of mixed records (seeds 1..100)', () => {
  it('every record written reads back through parseRecords with its LSNs, and the block ends at usedLength', () => {
    for (let seed = 1; seed <= 100; seed++) {
      const random = prng(seed);
      const block = new Uint8Array(64 * KiB);
      const view = new DataView(block.buffer);
      const expected: { type: RecordTypeName; lsns: RecordLsns; data: Uint8Array }[] = [];
      let at = BLOCK_HEADER_SIZE;
      for (let i = int(random, 1, 60); i > 0; i--) {
        const [type, lsns] = pick(random, ALLOWED);
        const data = payload(random, `s${seed}`, int(random, 0, 300));
        const dataOffset = writeRecordHeader(
          view,
          at,
          data.byteLength,
          type,
          lsns.undoNextLsn,
          lsns.previousLsn,
          lsns.newBaseLsn,
        );
        block.set(data, dataOffset);
        at += recordSpan(data.byteLength, lsns);
        expected.push({ type, lsns, data });
      }
      const header = {
        blockLength: block.byteLength,
        lsn: makeLsn(1, 0),
        previousBlockLsn: Lsn.INVALID,
        epoch: 1n,
        vouchedLsn: makeLsn(1, 0),
        recordCount: expected.length,
        usedLength: at,
        logId: 1n,
      };
      writeBlockHeader(block, header);
      const records = parseRecords(block, header);
      if (records === 'records') expect.fail(`seed ${seed}: the block does not parse`);
      expect(
        records.map((r) => ({
          type: r.type,
          lsns: { undoNextLsn: r.undoNextLsn, previousLsn: r.previousLsn, newBaseLsn: r.newBaseLsn },
          data: block.slice(r.dataOffset, r.dataOffset + r.dataLength),
        })),
        `seed ${seed}`,
      ).toEqual(expected);
    }
  });
});

describe('sizes users see', () => {
  it('the largest record fills a fresh block with its header at its largest', () => {
    for (const blockSize of [4 * KiB, 64 * KiB, 4 * MiB]) {
      expect(BLOCK_HEADER_SIZE + maxRecordSpan(maxDataLength(blockSize))).toBe(blockSize);
    }
  });

  it('a reservation covers the record whatever chain LSNs it carries', () => {
    for (const unit of [512, 4096]) {
      for (let dataLength = 0; dataLength <= 2 * unit; dataLength++) {
        for (const [, lsns] of ALLOWED) {
          const block = alignUp(BLOCK_HEADER_SIZE + recordSpan(dataLength, lsns), unit);
          expect(block).toBeLessThanOrEqual(reservedSize(dataLength, unit));
        }
      }
    }
  });
});

describe('WA for 64 B records', () => {
  it('packed: written bytes per payload byte is at most 1.15 on 512- and 4096-byte sectors', () => {
    for (const unit of [512, 4096]) {
      const spans = Array.from({ length: 10_000 }, () => recordSpan(64, NONE));
      const written = packedBlockLengths(spans, 256 * KiB, unit).reduce((a, b) => a + b, 0);
      expect(written / (10_000 * 64), `unit ${unit}`).toBeLessThanOrEqual(1.15);
    }
  });

  it('appended with appendBatch and flushed: the bytes the log writes per payload byte are at most 1.15', async () => {
    const image = emptyImage();
    for (let i = 0; i < 2; i++) image.containers.push(new Uint8Array(2 * MiB));
    await Log.initializeStorage(new MemoryStorage(image, { unit: 4096 }), 2 * MiB, 2, 0);
    const storage = new MemoryStorage(image, { unit: 4096 });
    const log = await Log.openStorage('memory', storage, 'strict');
    const area = await log.createMarshallingArea({ bufferSize: 256 * KiB, flushIntervalMs: 0 });
    const before = storage.stats.bytesFlushed;
    const records = Array.from({ length: 10_000 }, (_, i) => payload(prng(i), 'wa', 64));
    for (let i = 0; i < records.length; i += 1000) await area.appendBatch(records.slice(i, i + 1000));
    await area.flushBuffers();
    const written = storage.stats.bytesFlushed - before;
    expect(written / (records.length * 64)).toBeLessThanOrEqual(1.15);
    await log.close();
  });
});
