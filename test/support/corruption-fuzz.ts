// Fuzzing recovery and reads (RELIABILITY.md: "fuzz recovery with arbitrary
// and damaged log images: never crash, hang, or return a record that fails
// validation"). Valid images are built in memory from known records; a case
// is a base image and a list of mutations (fast-check generates and shrinks
// them), or wholly random files. Each case is opened, read, appended to and
// reopened; `runCase` returns what went wrong, if anything.
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { gunzipSync, gzipSync } from 'node:zlib';

import fc from 'fast-check';

import { ClfsError } from '../../lib/errors.ts';
import {
  BLOCK_HEADER_SIZE,
  BLOCK_VERSION,
  RECORD_ALIGNMENT,
  alignUp,
  parseRecords,
  type BlockHeader,
} from '../../lib/format/block.ts';
import { METADATA_HEADER_SIZE, SLOT_SIZE, encodeMetadata, type Metadata } from '../../lib/format/metadata.ts';
import { DEFAULT_POLICY } from '../../lib/log/policy.ts';
import { Log } from '../../lib/log/log.ts';
import type { LogRecord } from '../../lib/log/read/read-context.ts';
import { Lsn } from '../../lib/lsn.ts';
import {
  HostileStorage,
  LogBuilder,
  checkAgainst,
  copyImage,
  newestSlot,
  resealBlock,
  resealSlot,
  sameBytes,
  withTimeout,
  type KnownRecord,
  type MemoryImage,
} from './corruption.ts';
import { KiB, SECTOR } from './sizes.ts';
import { payload, prng } from './fixtures.ts';

// --- base images --------------------------------------------------------------------

/** A block of the log's chain as it is in the image. */
export interface LiveBlock {
  physical: number;
  offset: number;
  lsn: Lsn;
  header: BlockHeader;
  /** Offset of each record's header in the block. */
  recordOffsets: number[];
}

/** A valid image and everything known about how it was made. */
export interface BaseImage {
  name: string;
  unit: number;
  image: MemoryImage;
  /** Every record ever appended to it (every generation, acknowledged or not). */
  known: KnownRecord[];
  /** Every block ever written, with where (for stale copies). */
  history: { physical: number; offset: number; bytes: Uint8Array }[];
  live: LiveBlock[];
}

/** Where each record's header starts: the first after the block header, each next after the one before's padded data. */
function recordOffsetsOf(records: readonly { dataOffset: number; dataLength: number }[]): number[] {
  let at = BLOCK_HEADER_SIZE;
  return records.map((r) => {
    const offset = at;
    at = r.dataOffset + alignUp(r.dataLength, RECORD_ALIGNMENT);
    return offset;
  });
}

function liveBlocks(image: MemoryImage, builder: LogBuilder): LiveBlock[] {
  const { metadata } = newestSlot(image);
  const out: LiveBlock[] = [];
  const seen = new Set<string>();
  for (const b of [...builder.blocks].reverse()) {
    const key = `${b.physical}:${b.offset}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const now = image.containers[b.physical]!.subarray(b.offset, b.offset + b.bytes.byteLength);
    if (!sameBytes(now, b.bytes)) continue;
    if (metadata.containers[b.physical] !== Number(b.header.lsn >> 32n)) continue;
    const records = parseRecords(b.bytes, b.header);
    if (records === 'records') throw new Error('a written block does not parse');
    out.push({
      physical: b.physical,
      offset: b.offset,
      lsn: b.header.lsn,
      header: b.header,
      recordOffsets: recordOffsetsOf(records),
    });
  }
  return out.sort((a, b) => (a.lsn < b.lsn ? -1 : 1));
}

function finish(name: string, unit: number, image: MemoryImage, builder: LogBuilder): BaseImage {
  return {
    name,
    unit,
    image,
    known: builder.records,
    history: builder.blocks.map((b) => ({ physical: b.physical, offset: b.offset, bytes: b.bytes })),
    live: liveBlocks(image, builder),
  };
}

/** Varied records: small, empty, chained, one block or several per flush. */
async function mixedWorkload(b: LogBuilder, rounds: number): Promise<void> {
  let previous = Lsn.INVALID;
  for (let i = 0; i < rounds; i++) {
    const size = [0, 1, 17, 200, 1000, 3000][i % 6]!;
    previous = await b.append(payload(b.random, `m${b.generation}.${i} `, size).subarray(0, size), {
      previousLsn: previous,
      undoNextLsn: i % 3 === 0 ? Lsn.INVALID : previous,
      flush: i % 4 !== 3,
    });
  }
  await b.flushedBlocks(3, 4);
  await b.flushedBatch(6, 1500);
}

/**
 * The valid images cases start from (deterministic): a cleanly closed log, a
 * crashed one with an unacknowledged tail, one whose containers were recycled
 * and whose base moved, one on 512-byte sectors with 16 KiB blocks written
 * over several generations with a cut tail, and one in 'fdatasync' mode.
 */
export async function buildBaseImages(): Promise<BaseImage[]> {
  const bases: BaseImage[] = [];
  {
    const b = await LogBuilder.create({ seed: 11, bufferSize: 8 * KiB });
    await mixedWorkload(b, 24);
    await b.restart(payload(b.random, 'checkpoint ', 300));
    await b.flushedBlocks(4);
    bases.push(finish('clean close', 4096, await b.close(), b));
  }
  {
    const b = await LogBuilder.create({ seed: 12, bufferSize: 8 * KiB });
    await mixedWorkload(b, 18);
    await b.unackedRecords(3);
    bases.push(finish('crash with an unacknowledged tail', 4096, b.crashImage(), b));
  }
  {
    const b = await LogBuilder.create({ seed: 13, containerSize: 512 * KiB, bufferSize: 4 * KiB });
    const first = await b.flushedBlocks(130, 1, 3900);
    await b.restart(payload(b.random, 'checkpoint ', 100), first[129]![0]);
    await b.flushedBlocks(40, 1, 3900);
    await mixedWorkload(b, 12);
    bases.push(finish('recycled containers, base moved', 4096, b.crashImage(), b));
  }
  {
    const b = await LogBuilder.create({ seed: 14, unit: 512, bufferSize: 16 * KiB });
    await mixedWorkload(b, 12);
    const unacked = await b.unackedRecords(2, 16 * KiB - 200);
    const crash = b.crashImage();
    // Tear the first unacknowledged block; the next generation writes over it.
    const torn = copyImage(crash);
    const victim = b.blocks.find((w) => w.header.lsn === unacked[0])!;
    torn.containers[victim.physical]!.fill(0x5a, victim.offset + 512, victim.offset + 1024);
    await b.reopen(torn);
    await mixedWorkload(b, 12);
    await b.unackedRecords(2, 3000);
    bases.push(finish('512-byte sectors, several generations', 512, b.crashImage(), b));
  }
  {
    const b = await LogBuilder.create({ seed: 15, durability: 'fdatasync', bufferSize: 8 * KiB, containers: 3 });
    await mixedWorkload(b, 20);
    await b.restart(payload(b.random, 'checkpoint ', 50));
    await mixedWorkload(b, 6);
    bases.push(finish('fdatasync, three containers', 4096, b.crashImage(), b));
  }
  return bases;
}

// --- mutations ------------------------------------------------------------------------

const INVALID = 0xffff_ffff_0000_0000n;
const U64 = 0xffff_ffff_ffff_ffffn;

/** Field offsets (bytes) and widths of the block header, record header and metadata slot. */
const BLOCK_FIELDS = {
  magic: [0, 4],
  version: [4, 2],
  flags: [6, 2],
  length: [12, 4],
  lsn: [16, 8],
  previous: [24, 8],
  epoch: [32, 8],
  vouched: [40, 8],
  count: [48, 4],
  used: [52, 4],
  logId: [56, 8],
} as const;
const RECORD_FIELDS = {
  dataLength: [0, 4],
  type: [4, 1],
  flags: [5, 1],
  reserved: [6, 2],
  // The first LSN the header carries, if any (else the data's first bytes).
  firstLsn: [8, 8],
  // The second, if any.
  secondLsn: [16, 8],
} as const;
const META_FIELDS = {
  magic: [0, 4],
  version: [4, 2],
  used: [12, 4],
  dumpCount: [16, 8],
  sectorUnit: [40, 4],
  containerCount: [44, 4],
  containerSize: [48, 8],
  epoch: [56, 8],
  base: [64, 8],
  restart: [72, 8],
  tail: [80, 8],
  tailPrevious: [88, 8],
  last: [96, 8],
  flags: [104, 4],
  maxContainers: [108, 2],
  minContainers: [110, 2],
  growthRate: [112, 2],
  autoShrink: [114, 1],
  logTail: [115, 1],
  policyFlags: [116, 4],
} as const;
type BlockField = keyof typeof BLOCK_FIELDS;
type RecordField = keyof typeof RECORD_FIELDS;
type MetaField = keyof typeof META_FIELDS;

/** A value for a field: an extreme from a pool (by index), or `raw`. */
export interface Extreme {
  pick: number;
  raw: string; // a bigint, as a decimal string (JSON-friendly)
}

/** Where in the image a byte-level mutation lands. */
export type Target =
  | { where: 'block'; block: number; offset: number }
  | { where: 'meta'; slot: 'newest' | 'older'; offset: number }
  | { where: 'file'; file: number; offset: number };

export type Mutation =
  | { kind: 'flip'; target: Target; bit: number }
  | { kind: 'bytes'; target: Target; length: number; fill: 'zero' | 'ff' | 'random'; seed: number }
  | { kind: 'zeroSector'; file: number; sector: number }
  | { kind: 'copySector'; from: number; fromSector: number; to: number; toSector: number }
  | { kind: 'swapSectors'; a: number; aSector: number; b: number; bSector: number }
  | { kind: 'truncate'; file: number; length: number; aligned: boolean }
  | { kind: 'stale'; history: number }
  | { kind: 'blockField'; block: number; field: BlockField; value: Extreme; reseal: boolean }
  | { kind: 'recordField'; block: number; record: number; field: RecordField; value: Extreme; reseal: boolean }
  | { kind: 'metaField'; slot: 'newest' | 'older' | 'both'; field: MetaField; value: Extreme; reseal: boolean }
  | {
      kind: 'table';
      slot: 'newest' | 'older' | 'both';
      op: 'duplicate' | 'set' | 'swap';
      i: number;
      j: number;
      value: Extreme;
    }
  | { kind: 'randomFile'; file: number; seed: number };

export interface FuzzCase {
  base: number;
  recovery: 'strict' | 'salvage';
  mutations: Mutation[];
  append: boolean;
}

/** A case with no base image: random files (with, optionally, one valid part). */
export interface RandomCase {
  seed: number;
  unit: 512 | 4096;
  containers: number;
  containerSize: number;
  /** What is random: everything, the containers under a valid metadata, or metadata with random fields. */
  shape: 'all' | 'containers' | 'fields';
  recovery: 'strict' | 'salvage';
}

const nat32 = fc.nat({ max: 0xffff_ffff });
const extremeArb: fc.Arbitrary<Extreme> = fc.record({
  pick: fc.nat({ max: 63 }),
  raw: fc.bigInt({ min: 0n, max: U64 }).map(String),
});
const slotArb = fc.constantFrom('newest' as const, 'older' as const);
const targetArb: fc.Arbitrary<Target> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({ where: fc.constant('block' as const), block: fc.nat(), offset: fc.nat({ max: 127 }) }),
  },
  { weight: 2, arbitrary: fc.record({ where: fc.constant('block' as const), block: fc.nat(), offset: nat32 }) },
  {
    weight: 2,
    arbitrary: fc.record({ where: fc.constant('meta' as const), slot: slotArb, offset: fc.nat({ max: 127 }) }),
  },
  { weight: 1, arbitrary: fc.record({ where: fc.constant('file' as const), file: fc.nat(), offset: nat32 }) },
);

export const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({ kind: fc.constant('flip' as const), target: targetArb, bit: fc.nat({ max: 7 }) }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('bytes' as const),
      target: targetArb,
      length: fc.integer({ min: 1, max: 64 }),
      fill: fc.constantFrom('zero' as const, 'ff' as const, 'random' as const),
      seed: nat32,
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('zeroSector' as const), file: fc.nat(), sector: nat32 }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('copySector' as const),
      from: fc.nat(),
      fromSector: nat32,
      to: fc.nat(),
      toSector: nat32,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('swapSectors' as const),
      a: fc.nat(),
      aSector: nat32,
      b: fc.nat(),
      bSector: nat32,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('truncate' as const),
      file: fc.nat(),
      length: nat32,
      aligned: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('stale' as const), history: fc.nat() }) },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('blockField' as const),
      block: fc.nat(),
      field: fc.constantFrom(...(Object.keys(BLOCK_FIELDS) as BlockField[])),
      value: extremeArb,
      reseal: fc.boolean(),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('recordField' as const),
      block: fc.nat(),
      record: fc.nat(),
      field: fc.constantFrom(...(Object.keys(RECORD_FIELDS) as RecordField[])),
      value: extremeArb,
      reseal: fc.boolean(),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('metaField' as const),
      slot: fc.constantFrom('newest' as const, 'older' as const, 'both' as const),
      field: fc.constantFrom(...(Object.keys(META_FIELDS) as MetaField[])),
      value: extremeArb,
      // Usually resealed (else the CRC refuses the slot and nothing deeper is reached).
      reseal: fc.oneof({ weight: 4, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('table' as const),
      slot: fc.constantFrom('newest' as const, 'older' as const, 'both' as const),
      op: fc.constantFrom('duplicate' as const, 'set' as const, 'swap' as const),
      i: fc.nat(),
      j: fc.nat(),
      value: extremeArb,
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('randomFile' as const), file: fc.nat(), seed: nat32 }) },
);

export function caseArb(bases: number): fc.Arbitrary<FuzzCase> {
  return fc.record({
    base: fc.nat({ max: bases - 1 }),
    recovery: fc.constantFrom('strict' as const, 'salvage' as const),
    mutations: fc.array(mutationArb, { minLength: 1, maxLength: 5 }),
    append: fc.boolean(),
  });
}

export const randomCaseArb: fc.Arbitrary<RandomCase> = fc.record({
  seed: nat32,
  unit: fc.constantFrom(512 as const, 4096 as const),
  containers: fc.integer({ min: 0, max: 4 }),
  containerSize: fc.constantFrom(0, 4096, 100_000, 512 * KiB),
  shape: fc.constantFrom('all' as const, 'containers' as const, 'fields' as const),
  recovery: fc.constantFrom('strict' as const, 'salvage' as const),
});

/** The pool of extreme values for a field of `width` bytes in `base` (last entry: raw). */
function pool(width: number, base: BaseImage, field: string): bigint[] {
  const meta = newestSlot(base.image).metadata;
  const size = BigInt(meta.containerSize);
  const unit = BigInt(base.unit);
  const lsns = base.live.map((b) => b.lsn);
  const someLsn = (i: number): bigint => lsns[i % Math.max(1, lsns.length)] ?? 0n;
  const small = [0n, 1n, 2n, 7n, 8n, 31n, 32n, 63n, 64n, 95n, 96n, 112n, 511n, 512n, 513n, 1023n, 1024n];
  const sizes = [
    unit - 1n,
    unit,
    unit + 1n,
    2n * unit,
    4096n,
    65536n,
    65537n,
    1n << 20n,
    4n << 20n,
    (4n << 20n) + unit,
  ];
  const around = [size - unit, size, size + unit, size - 1n, 2n * size];
  const u32 = [0x7fff_ffffn, 0x8000_0000n, 0xffff_fe00n, 0xffff_ffffn];
  if (width <= 2) return [...small.filter((v) => v < 1n << BigInt(8 * width)), (1n << BigInt(8 * width)) - 1n, 0n];
  if (width === 4) return [...small, ...sizes, ...around, ...u32, 0n];
  const lsnLike = [
    0n,
    INVALID,
    U64,
    1n << 63n,
    (1n << 63n) - 1n,
    someLsn(0),
    someLsn(1),
    someLsn(lsns.length - 1),
    someLsn(lsns.length - 1) + 1n,
    someLsn(lsns.length - 1) + unit,
    someLsn(3) + 5n,
    someLsn(3) + 511n,
    (1n << 32n) | size,
    (1n << 32n) | (size - unit),
    (2n << 32n) | 0n,
    (5n << 32n) | 0n,
    (0xffff_fffen << 32n) | 0n,
    (1n << 32n) | 0xffff_fe00n,
    meta.epoch,
    meta.epoch + 1n,
    meta.epoch - 1n,
    U64 - 1n,
    meta.dumpCount + 1n,
    meta.dumpCount + 1000n,
    size,
    1n << 32n,
    ...small,
  ];
  void field;
  return [...lsnLike, 0n];
}

function valueOf(e: Extreme, width: number, base: BaseImage, field: string): bigint {
  const p = pool(width, base, field);
  const index = e.pick % p.length;
  const v = index === p.length - 1 ? BigInt(e.raw) : p[index]!;
  return BigInt.asUintN(8 * width, v < 0n ? 0n : v);
}

function writeField(bytes: Uint8Array, at: number, width: number, value: bigint): void {
  if (at < 0 || at + width > bytes.byteLength) return;
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (width === 1) v.setUint8(at, Number(value));
  else if (width === 2) v.setUint16(at, Number(value), true);
  else if (width === 4) v.setUint32(at, Number(value), true);
  else v.setBigUint64(at, value, true);
}

/** The files of an image, base first: file k>0 is container k-1. */
function files(image: MemoryImage): Uint8Array[] {
  return [image.base, ...image.containers];
}

function pickFile(image: MemoryImage, n: number): number {
  return n % (image.containers.length + 1);
}

function setFile(image: MemoryImage, index: number, bytes: Uint8Array): void {
  if (index === 0) image.base = bytes;
  else image.containers[index - 1] = bytes;
}

function slotIndex(image: MemoryImage, which: 'newest' | 'older'): 0 | 1 {
  let newest: 0 | 1 = 0;
  try {
    newest = newestSlot(image).slot;
  } catch {
    // neither slot valid any more: 'newest' is slot 0
  }
  return which === 'newest' ? newest : newest === 0 ? 1 : 0;
}

function slotView(image: MemoryImage, slot: 0 | 1): Uint8Array {
  return image.base.subarray(slot * SLOT_SIZE, Math.min((slot + 1) * SLOT_SIZE, image.base.byteLength));
}

function randomBytes(seed: number, length: number): Uint8Array {
  const random = prng(seed);
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = Math.floor(random() * 256);
  return out;
}

/** Resolves a target to (file bytes, offset), or undefined when it lands nowhere. */
function resolve(
  image: MemoryImage,
  base: BaseImage,
  t: Target,
): { bytes: Uint8Array; at: number; forged?: string } | undefined {
  if (t.where === 'block') {
    if (base.live.length === 0) return undefined;
    const b = base.live[t.block % base.live.length]!;
    const bytes = image.containers[b.physical];
    if (bytes === undefined) return undefined;
    return { bytes, at: b.offset + (t.offset % b.header.blockLength) };
  }
  if (t.where === 'meta') {
    const slot = slotIndex(image, t.slot);
    return { bytes: image.base, at: slot * SLOT_SIZE + t.offset };
  }
  const f = files(image)[pickFile(image, t.file)]!;
  if (f.byteLength === 0) return undefined;
  return { bytes: f, at: t.offset % f.byteLength };
}

/**
 * Applies `mutations` to a copy of the base image. Returns the image and the
 * block positions whose CRC was recomputed after a change (forged blocks:
 * their records may legitimately differ from what was appended).
 */
export function applyMutations(
  base: BaseImage,
  mutations: readonly Mutation[],
): { image: MemoryImage; forged: Set<string> } {
  const image = copyImage(base.image);
  const forged = new Set<string>();
  for (const m of mutations) {
    switch (m.kind) {
      case 'flip': {
        const r = resolve(image, base, m.target);
        if (r !== undefined && r.at < r.bytes.byteLength) r.bytes[r.at] = r.bytes[r.at]! ^ (1 << m.bit);
        break;
      }
      case 'bytes': {
        const r = resolve(image, base, m.target);
        if (r === undefined) break;
        const end = Math.min(r.at + m.length, r.bytes.byteLength);
        const random = randomBytes(m.seed, m.length);
        for (let i = r.at; i < end; i++)
          r.bytes[i] = m.fill === 'zero' ? 0 : m.fill === 'ff' ? 0xff : random[i - r.at]!;
        break;
      }
      case 'zeroSector': {
        const f = files(image)[pickFile(image, m.file)]!;
        const sectors = Math.floor(f.byteLength / SECTOR);
        if (sectors > 0) f.fill(0, (m.sector % sectors) * SECTOR, (m.sector % sectors) * SECTOR + SECTOR);
        break;
      }
      case 'copySector':
      case 'swapSectors': {
        const [fa, sa, fb, sb] =
          m.kind === 'copySector' ? [m.from, m.fromSector, m.to, m.toSector] : [m.a, m.aSector, m.b, m.bSector];
        const a = files(image)[pickFile(image, fa)]!;
        const b = files(image)[pickFile(image, fb)]!;
        const na = Math.floor(a.byteLength / SECTOR);
        const nb = Math.floor(b.byteLength / SECTOR);
        if (na === 0 || nb === 0) break;
        const x = a.slice((sa % na) * SECTOR, (sa % na) * SECTOR + SECTOR);
        const y = b.slice((sb % nb) * SECTOR, (sb % nb) * SECTOR + SECTOR);
        b.set(x, (sb % nb) * SECTOR);
        if (m.kind === 'swapSectors') a.set(y, (sa % na) * SECTOR);
        break;
      }
      case 'truncate': {
        const index = pickFile(image, m.file);
        const f = files(image)[index]!;
        if (f.byteLength === 0) break;
        let length = m.length % f.byteLength;
        if (m.aligned) length -= length % SECTOR;
        setFile(image, index, f.slice(0, length));
        break;
      }
      case 'stale': {
        if (base.history.length === 0) break;
        const h = base.history[m.history % base.history.length]!;
        const f = image.containers[h.physical];
        if (f === undefined || h.offset >= f.byteLength) break;
        f.set(h.bytes.subarray(0, Math.min(h.bytes.byteLength, f.byteLength - h.offset)), h.offset);
        break;
      }
      case 'blockField':
      case 'recordField': {
        if (base.live.length === 0) break;
        const b = base.live[m.block % base.live.length]!;
        const f = image.containers[b.physical];
        if (f === undefined || b.offset + b.header.blockLength > f.byteLength) break;
        const block = f.subarray(b.offset, b.offset + b.header.blockLength);
        if (m.kind === 'blockField') {
          const [at, width] = BLOCK_FIELDS[m.field];
          writeField(block, at, width, valueOf(m.value, width, base, m.field));
        } else {
          const [at, width] = RECORD_FIELDS[m.field];
          const record = b.recordOffsets[m.record % b.recordOffsets.length]!;
          writeField(block, record + at, width, valueOf(m.value, width, base, m.field));
        }
        if (m.reseal) {
          resealBlock(block);
          forged.add(`${b.physical}:${b.offset}`);
        }
        break;
      }
      case 'metaField': {
        const slots = m.slot === 'both' ? ([0, 1] as const) : [slotIndex(image, m.slot)];
        for (const slot of slots) {
          const s = slotView(image, slot);
          const [at, width] = META_FIELDS[m.field];
          writeField(s, at, width, valueOf(m.value, width, base, m.field));
          if (m.reseal && s.byteLength >= METADATA_HEADER_SIZE) resealSlot(s);
        }
        break;
      }
      case 'table': {
        const slots = m.slot === 'both' ? ([0, 1] as const) : [slotIndex(image, m.slot)];
        for (const slot of slots) {
          const s = slotView(image, slot);
          if (s.byteLength < METADATA_HEADER_SIZE) continue;
          const v = new DataView(s.buffer, s.byteOffset, s.byteLength);
          const count = Math.min(v.getUint32(44, true), (s.byteLength - METADATA_HEADER_SIZE) / 4);
          if (count < 1) continue;
          const at = (k: number): number => METADATA_HEADER_SIZE + 4 * (k % count);
          if (m.op === 'duplicate') v.setUint32(at(m.j), v.getUint32(at(m.i), true), true);
          else if (m.op === 'swap') {
            const x = v.getUint32(at(m.i), true);
            v.setUint32(at(m.i), v.getUint32(at(m.j), true), true);
            v.setUint32(at(m.j), x, true);
          } else v.setUint32(at(m.i), Number(valueOf(m.value, 4, base, 'table')), true);
          resealSlot(s);
        }
        break;
      }
      case 'randomFile': {
        const index = pickFile(image, m.file);
        setFile(image, index, randomBytes(m.seed, files(image)[index]!.byteLength));
        break;
      }
    }
  }
  return { image, forged };
}

/** The image of a random case. */
export function randomImage(c: RandomCase): MemoryImage {
  const random = prng(c.seed);
  const bytes = (n: number): Uint8Array => {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = Math.floor(random() * 256);
    return out;
  };
  const containers = Array.from({ length: c.containers }, () => bytes(c.containerSize));
  if (c.shape === 'all') return { base: bytes(2 * SLOT_SIZE), containers };
  // A metadata slot (both copies) that validates, over random containers;
  // with 'fields', its fields are random too (but the CRC right).
  const meta: Metadata = {
    dumpCount: 1n,
    identity: '0123abcd-0000-4000-8000-000000000000',
    sectorUnit: c.unit,
    containerSize: Math.max(c.containerSize, 512 * KiB),
    epoch: 1n,
    baseLsn: 1n << 32n,
    restartLsn: INVALID,
    tailLsn: 1n << 32n,
    tailPreviousLsn: INVALID,
    lastLsn: INVALID,
    policy: { ...DEFAULT_POLICY },
    clean: false,
    containers: Array.from({ length: Math.max(2, c.containers) }, (_, i) => (i === 0 ? 1 : 0)),
    truncations: [],
    archive: false,
    archiveTailLsn: INVALID,
  };
  const base = new Uint8Array(2 * SLOT_SIZE);
  for (const slot of [0, 1]) {
    const s = base.subarray(slot * SLOT_SIZE, (slot + 1) * SLOT_SIZE);
    encodeMetadata(s, { ...meta, dumpCount: BigInt(slot + 1) });
    if (c.shape === 'fields') {
      const v = new DataView(s.buffer, s.byteOffset, s.byteLength);
      for (let at = 16; at < METADATA_HEADER_SIZE; at += 4) {
        if (random() < 0.5) v.setUint32(at, Math.floor(random() * 2 ** 32), true);
      }
    }
    resealSlot(s);
  }
  if (c.shape === 'fields' || c.containers === 0) return { base, containers };
  // Give the random containers plausible block headers now and then.
  for (const container of containers) {
    for (let at = 0; at + BLOCK_HEADER_SIZE <= container.byteLength; at += c.unit) {
      if (random() < 0.7) continue;
      const v = new DataView(container.buffer, container.byteOffset + at, BLOCK_HEADER_SIZE);
      v.setUint32(0, 0x424c4643, true);
      v.setUint16(4, BLOCK_VERSION, true);
      v.setUint16(6, 0, true);
      v.setUint32(12, c.unit * (1 + Math.floor(random() * 4)), true);
      v.setUint32(48, 1 + Math.floor(random() * 600), true);
      v.setBigUint64(56, 0x0123abcd00004000n, true);
    }
  }
  return { base, containers };
}

// --- running a case ----------------------------------------------------------------------

/**
 * The codes accepted, and why:
 * - open: ERR_CLFS_CORRUPT (damage, or neither metadata slot valid);
 *   ERR_CLFS_MISALIGNED (the metadata's sector unit does not suit the device);
 *   ENOENT (the metadata names a container file that does not exist, as the
 *   native storage reports it).
 * - reads: ERR_CLFS_CORRUPT (damage found while reading); ERR_CLFS_INVALID_LSN
 *   (a base, last or chain LSN that names no record); ERR_CLFS_START_OF_LOG
 *   (a follower below the base); ERR_CLFS_RECORD_TOO_LARGE (a block header
 *   claims more than the reader's buffer: it cannot be checked without
 *   reading it whole); ERR_CLFS_NO_RESTART.
 * - append: ERR_CLFS_LOG_FULL (the recovered state leaves no room);
 *   ERR_CLFS_IO_FAILED (the storage refused a write: a truncated container);
 *   ERR_CLFS_CORRUPT, ERR_CLFS_INVALID_LSN (a container switch meets damage);
 *   ENOENT.
 */
export const OPEN_CODES = new Set(['ERR_CLFS_CORRUPT', 'ERR_CLFS_MISALIGNED', 'ENOENT']);
export const READ_CODES = new Set([
  'ERR_CLFS_CORRUPT',
  'ERR_CLFS_INVALID_LSN',
  'ERR_CLFS_START_OF_LOG',
  'ERR_CLFS_RECORD_TOO_LARGE',
  'ERR_CLFS_NO_RESTART',
]);
export const APPEND_CODES = new Set([
  'ERR_CLFS_LOG_FULL',
  'ERR_CLFS_IO_FAILED',
  'ERR_CLFS_CORRUPT',
  'ERR_CLFS_INVALID_LSN',
  'ENOENT',
]);
export const CLOSE_CODES = new Set(['ERR_CLFS_IO_FAILED', 'ENOENT']);

/** Limits per case. */
export const LIMITS = {
  /** Async time for each step (open, read, append, close). */
  stepMs: 5_000,
  /** The largest single buffer the log may ask the storage for: a block is at most 4 MiB, a scan chunk 1 MiB. */
  largestAllocation: 4 * 1024 * 1024 + 64 * 1024,
  /** All buffers asked for in one case. */
  totalAllocation: 256 * 1024 * 1024,
  /** Growth of process.memoryUsage().arrayBuffers across one case. */
  arrayBufferGrowth: 512 * 1024 * 1024,
  /** Bytes read from the containers in one case (the scan's look-ahead is bounded: 2 x 16 MiB + 4 MiB). */
  totalRead: 512 * 1024 * 1024,
};

export interface CaseResult {
  /** Empty when the case passed. */
  problems: string[];
  /** What happened, for counting. */
  outcome: string;
  recordsRead: number;
}

function describeError(error: unknown): string {
  if (error instanceof ClfsError) return `${error.code}: ${error.message}`;
  if (error instanceof Error) {
    const frame = (error.stack ?? '').split('\n').find((l) => l.includes('/lib/')) ?? '';
    return `${error.constructor.name}: ${error.message} ${frame.trim()}`;
  }
  return String(error);
}

/** The problem with `error` if its code is not in `allowed` (undefined when it is fine). */
function typed(error: unknown, allowed: Set<string>, step: string): string | undefined {
  if (error instanceof ClfsError && allowed.has(String(error.code))) {
    if (error.code === 'ERR_CLFS_CORRUPT' && step !== 'open' && typeof error.lsn !== 'bigint') {
      return `${step}: ERR_CLFS_CORRUPT without an lsn: ${error.message}`;
    }
    return undefined;
  }
  return `${step}: ${describeError(error)}`;
}

/**
 * Runs one image: open (with `recovery`), read every record forward from
 * the base and back along the previous chain from the last, read the
 * restart area, optionally append one record and reopen to find it; all
 * under time and allocation limits. `known` are the records ever appended;
 * records read from `forged` block positions are exempt from the
 * byte-exact check.
 */
export async function runImage(
  image: MemoryImage,
  unit: number,
  recovery: 'strict' | 'salvage',
  known: readonly KnownRecord[],
  forged: ReadonlySet<string>,
  append: boolean,
): Promise<CaseResult> {
  const problems: string[] = [];
  const buffersBefore = process.memoryUsage().arrayBuffers;
  const storage = new HostileStorage(image, {
    unit,
    allocationLimit: LIMITS.largestAllocation * 2,
    budget: 2 * Math.max(LIMITS.totalAllocation, LIMITS.totalRead),
  });
  const step = <T>(promise: Promise<T>, what: string): Promise<T> =>
    withTimeout(promise, LIMITS.stepMs, what).catch((error: unknown) => {
      // A step that timed out keeps running: stop its storage so it ends.
      if (error instanceof Error && error.message.startsWith('timeout:')) storage.stop(error.message);
      throw error;
    });
  const checkMemory = (): void => {
    if (storage.largestAllocation > LIMITS.largestAllocation) {
      problems.push(`memory: a single allocation of ${storage.largestAllocation} bytes`);
    }
    if (storage.totalAllocated > LIMITS.totalAllocation) {
      problems.push(`memory: ${storage.totalAllocated} bytes allocated in one case`);
    }
    if (storage.stats.bytesRead > LIMITS.totalRead) {
      problems.push(`reads: ${storage.stats.bytesRead} bytes read from the containers in one case`);
    }
    const growth = process.memoryUsage().arrayBuffers - buffersBefore;
    if (growth > LIMITS.arrayBufferGrowth) problems.push(`memory: arrayBuffers grew by ${growth} bytes`);
  };
  let log: Log;
  try {
    log = await step(Log.openStorage('fuzz', storage, recovery), 'Log.openStorage');
  } catch (error) {
    const p = typed(error, OPEN_CODES, 'open');
    if (p !== undefined) problems.push(p);
    checkMemory();
    return { problems, outcome: `open: ${(error as { code?: string }).code ?? 'untyped'}`, recordsRead: 0 };
  }
  let outcome = 'opened';
  let recordsRead = 0;
  const physicalOf = (lsn: Lsn): number => log.core.table.physicalOf(Number(lsn >> 32n));
  const exempt = (r: LogRecord): boolean => forged.has(`${physicalOf(r.lsn)}:${Number(r.lsn & 0xffff_fe00n)}`);
  const checkRecords = (records: LogRecord[], how: string): void => {
    for (const p of checkAgainst(
      records.filter((r) => !exempt(r)),
      known,
    )) {
      problems.push(`${how}: ${p}`);
    }
  };
  try {
    const bufferSize = 64 * KiB;
    const area = await log.createMarshallingArea({ bufferSize, flushIntervalMs: 0 });
    // Forward from the base. A forward read can hold at most every block the containers can.
    const cap = ((log.core.table.count * log.core.table.containerSize) / log.core.unit) * 512 + 1;
    const forward: LogRecord[] = [];
    try {
      await step(
        (async () => {
          for await (const r of area.records(undefined, 'forward', { type: 'client' })) {
            forward.push(r);
            if (forward.length > cap) throw new Error(`forward read: more than ${cap} records`);
          }
        })(),
        'area.records()',
      );
      outcome += ', read to the end';
    } catch (error) {
      const p = typed(error, READ_CODES, 'forward read');
      if (p !== undefined) problems.push(p);
      outcome += `, read: ${(error as { code?: string }).code ?? 'untyped'}`;
    }
    recordsRead = forward.length;
    checkRecords(forward, 'forward read');
    for (let i = 1; i < forward.length; i++) {
      if (forward[i]!.lsn <= forward[i - 1]!.lsn) {
        problems.push('forward read: LSNs not increasing');
        break;
      }
    }

    // Backward along the previous chain from the last record.
    const last = log.information().lastLsn;
    if (last !== Lsn.INVALID) {
      const backward: LogRecord[] = [];
      try {
        await step(
          (async () => {
            const context = await area.readLogRecord(last, 'previous', { type: 'client' });
            try {
              backward.push(context.record);
              for (let r = await context.next(); r !== null; r = await context.next()) {
                backward.push(r);
                if (backward.length > cap) throw new Error(`backward read: more than ${cap} records`);
              }
            } finally {
              context.terminate();
            }
          })(),
          'previous-chain read',
        );
      } catch (error) {
        const p = typed(error, READ_CODES, 'backward read');
        if (p !== undefined) problems.push(p);
      }
      checkRecords([...backward].reverse(), 'backward read');
    }

    try {
      const restart = await step(area.readRestartArea(), 'readRestartArea');
      restart.context.terminate();
      checkRecords([{ ...restart.context.record }], 'restart area');
    } catch (error) {
      const p = typed(error, READ_CODES, 'restart area');
      if (p !== undefined) problems.push(p);
    }

    if (append) {
      const data = payload(prng(recordsRead + 1), 'fuzz-append ', 100);
      let lsn: Lsn | undefined;
      try {
        const result = await step(area.reserveAndAppend(data, { forceFlush: true }), 'append');
        lsn = result.lsn;
        outcome += ', appended';
      } catch (error) {
        const p = typed(error, APPEND_CODES, 'append');
        if (p !== undefined) problems.push(p);
        outcome += `, append: ${(error as { code?: string }).code ?? 'untyped'}`;
      }
      if (lsn !== undefined) {
        // I1 on an image the log accepted: the acknowledged record survives a reopen.
        try {
          await step(log.close(), 'close');
        } catch (error) {
          const p = typed(error, CLOSE_CODES, 'close after append');
          if (p !== undefined) problems.push(p);
        }
        storage.reopen();
        try {
          log = await step(Log.openStorage('fuzz', storage, 'strict'), 'reopen');
          const again = await log.createMarshallingArea({ bufferSize, flushIntervalMs: 0 });
          const context = await step(again.readLogRecord(lsn, 'forward'), 'reading the append');
          context.terminate();
          if (!sameBytes(context.record.data, data))
            problems.push(`I1: the appended record ${Lsn.format(lsn)} came back different`);
        } catch (error) {
          problems.push(
            `I1: the record appended (and acknowledged) at ${Lsn.format(lsn)} after opening this image is lost on reopen: ${describeError(error)}`,
          );
        }
      }
    }
  } catch (error) {
    problems.push(`unexpected: ${describeError(error)}`);
  } finally {
    try {
      await step(log.close(), 'close');
    } catch (error) {
      const p = typed(error, CLOSE_CODES, 'close');
      if (p !== undefined) problems.push(p);
    }
  }
  checkMemory();
  return { problems, outcome, recordsRead };
}

export async function runCase(bases: readonly BaseImage[], c: FuzzCase): Promise<CaseResult> {
  const base = bases[c.base % bases.length]!;
  const { image, forged } = applyMutations(base, c.mutations);
  return runImage(image, base.unit, c.recovery, base.known, forged, c.append);
}

export async function runRandomCase(c: RandomCase): Promise<CaseResult> {
  return runImage(randomImage(c), c.unit, c.recovery, [], new Set(), true);
}

/** A short, stable name for a failure, for telling distinct defects apart. */
export function signature(problems: readonly string[]): string {
  return problems
    .map((p) =>
      p
        .replace(/0x[0-9a-f]+/g, 'X')
        .replace(/\d+/g, 'N')
        .replace(/\(.*\)/g, '')
        .slice(0, 90),
    )
    .sort()
    .join(' | ');
}

// --- regressions ---------------------------------------------------------------------------

/** A saved failing image: replayed by test/corruption/regressions.test.ts. */
export interface Regression {
  name: string;
  found: string;
  problems: string[];
  unit: number;
  recovery: 'strict' | 'salvage';
  append: boolean;
  forged: string[];
  case?: FuzzCase | RandomCase;
  /** Every record appended to the image: JSON of { lsn, type, data (base64), previousLsn, undoNextLsn }[], gzip, base64. */
  known: string;
  image: { base: string; containers: string[] };
}

const b64gz = (bytes: Uint8Array): string => gzipSync(bytes, { level: 9 }).toString('base64');
const unb64gz = (text: string): Uint8Array => new Uint8Array(gunzipSync(Buffer.from(text, 'base64')));

export function saveRegression(
  dir: string,
  entry: Omit<Regression, 'image' | 'known' | 'name'> & { image: MemoryImage; known: readonly KnownRecord[] },
): string {
  const image = { base: b64gz(entry.image.base), containers: entry.image.containers.map(b64gz) };
  // Named by the case (base images carry a random log identity, so their bytes differ from run to run).
  const hash = createHash('sha256')
    .update(`${entry.found}\n${JSON.stringify(entry.case ?? null)}\n${entry.recovery}\n${String(entry.append)}`)
    .digest('hex')
    .slice(0, 12);
  const name = `fuzz-${hash}`;
  const file = path.join(dir, `${name}.json`);
  const known = b64gz(
    new TextEncoder().encode(
      JSON.stringify(
        entry.known.map((k) => ({
          lsn: String(k.lsn),
          type: k.type,
          data: Buffer.from(k.data).toString('base64'),
          previousLsn: String(k.previousLsn),
          undoNextLsn: String(k.undoNextLsn),
        })),
      ),
    ),
  );
  mkdirSync(dir, { recursive: true });
  if (existsSync(file)) return file;
  const regression: Regression = { ...entry, name, image, known };
  writeFileSync(file, `${JSON.stringify(regression, null, 1)}\n`);
  return file;
}

export function loadRegressions(dir: string): (Regression & { file: string })[] {
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith('.json'));
  } catch {
    return [];
  }
  return names.sort().map((n) => ({ ...(JSON.parse(readFileSync(path.join(dir, n), 'utf8')) as Regression), file: n }));
}

export function regressionImage(r: Regression): MemoryImage {
  return { base: unb64gz(r.image.base), containers: r.image.containers.map(unb64gz) };
}

export function regressionKnown(r: Regression): KnownRecord[] {
  const known = JSON.parse(new TextDecoder().decode(unb64gz(r.known))) as {
    lsn: string;
    type: 'data' | 'restart';
    data: string;
    previousLsn: string;
    undoNextLsn: string;
  }[];
  return known.map((k) => ({
    lsn: BigInt(k.lsn),
    type: k.type,
    data: new Uint8Array(Buffer.from(k.data, 'base64')),
    previousLsn: BigInt(k.previousLsn),
    undoNextLsn: BigInt(k.undoNextLsn),
    acked: true,
    generation: 0,
  }));
}

// --- watchdog ------------------------------------------------------------------------------

/**
 * Guards against a case that blocks the event loop (a synchronous or
 * microtask-only loop, which no timer in this thread can interrupt): a
 * worker thread watches a heartbeat in shared memory and, when a case has
 * run longer than `limitMs`, writes the case to stderr and to `dumpFile`
 * and kills the process, so the run fails loudly with the case in hand.
 */
export class Watchdog {
  readonly #state = new Int32Array(new SharedArrayBuffer(8));
  readonly #text = new Uint8Array(new SharedArrayBuffer(64 * 1024));
  readonly #worker: Worker;

  constructor(limitMs: number, dumpFile: string) {
    const source = `
      const { workerData } = require('node:worker_threads');
      const fs = require('node:fs');
      const { state, text, limitMs, dumpFile } = workerData;
      let last = -1, since = Date.now();
      setInterval(() => {
        const beat = Atomics.load(state, 0);
        if (beat !== last || Atomics.load(state, 1) === 0) { last = beat; since = Date.now(); return; }
        if (Date.now() - since < limitMs) return;
        const end = text.indexOf(0);
        const description = Buffer.from(text.subarray(0, end === -1 ? text.length : end)).toString();
        const message = 'fuzz watchdog: a case blocked the event loop for more than ' + limitMs + ' ms:\\n' + description + '\\n';
        try { fs.writeFileSync(dumpFile, description); } catch {}
        fs.writeSync(2, message);
        process.kill(process.pid, 'SIGKILL');
      }, 100);`;
    this.#worker = new Worker(source, {
      eval: true,
      workerData: { state: this.#state, text: this.#text, limitMs, dumpFile },
    });
    this.#worker.unref();
  }

  /** A case starts: `description` says how to replay it. */
  begin(description: string): void {
    const bytes = new TextEncoder().encode(description.slice(0, 60_000));
    this.#text.fill(0);
    this.#text.set(bytes);
    Atomics.add(this.#state, 0, 1);
    Atomics.store(this.#state, 1, 1);
  }

  end(): void {
    Atomics.store(this.#state, 1, 0);
    Atomics.add(this.#state, 0, 1);
  }

  async stop(): Promise<void> {
    await this.#worker.terminate();
  }
}
