/**
 * The base file: the log's metadata, in two shadow slots.
 *
 * ```
 * base file = slot 0 at offset 0, slot 1 at offset SLOT_SIZE
 * slot (little-endian)
 *   0  u32 magic 0x4d4c4643 ("CFLM")
 *   4  u16 version (3; version 2 is read too, see below)
 *   6  u16 flags (0)
 *   8  u32 CRC32C of [0, usedLength) with these 4 bytes counted as zero
 *  12  u32 usedLength
 *  16  u64 dumpCount: +1 on every write; the valid slot with the higher count wins
 *  24  16  identity (UUID bytes)
 *  40  u32 sectorUnit: blocks start and end on multiples of it
 *  44  u32 containerCount
 *  48  u64 containerSize: a multiple of 512 KiB (and of sectorUnit), at most 4 GiB
 *  56  u64 epoch: the generation blocks are written with now (at most MAX_EPOCH)
 *  64  u64 baseLsn
 *  72  u64 restartLsn (INVALID: none)
 *  80  u64 tailLsn: where recovery starts scanning (the block after tailPreviousLsn)
 *  88  u64 tailPreviousLsn: the last block known durable (INVALID: none yet)
 *  96  u64 lastLsn: the youngest record in or before that block (INVALID: none)
 * 104  u32 flags: bit 0 set by a clean close (nothing was written after the tail);
 *      bit 1 an archive (non-ephemeral) log: it keeps an archive tail
 * 108  the space policy (lib/log/policy.ts), 12 bytes:
 *      108 u16 maxContainers   2..1024
 *      110 u16 minContainers   2..maxContainers
 *      112 u16 growthRate      1..1024
 *      114 u8  autoShrink      percent, 0..100 (0: off)
 *      115 u8  logTail         percent, 0..100 (0: off)
 *      116 u8  policy flags: bit 0 autoGrow
 *      117 u8  0, 118 u16 0
 *      containerCount lies in [minContainers, maxContainers]
 * 120  containerCount x u32 logicalId of each physical container (0: free)
 *   T  u32 truncationCount (at most MAX_TRUNCATIONS), T = 120 + 4 x containerCount
 * T+4  truncationCount x { u64 lsn, u64 epoch, u64 end }: lsn ascending, each
 *      below tailLsn; epoch ascending, at most the copy's epoch; end > lsn
 *   A  u64 archiveTailLsn, A = T + 4 + 24 x truncationCount: the oldest
 *      record not yet archived (CLFS's archive tail), at most tailLsn;
 *      INVALID unless flags bit 1 is set
 * ```
 *
 * Version 3. Version 2 is the same without archiveTailLsn and flags bit 1
 * (a log made before archiving; it is read as an ephemeral log, and the
 * next metadata write makes it version 3). Version 1 had no policy block
 * and no truncations (`maxContainers` at 104, the flags at 108, the table
 * at 112; it is refused as 'version').
 *
 * Containers are recycled only once min(baseLsn, archiveTailLsn) has passed
 * every record in them (CLFS's container recycling for non-ephemeral
 * logs): every logical id from that LSN's container to the newest is in the
 * table.
 *
 * A truncation (area.truncateLog) to record `lsn` starts generation
 * `epoch`; `end` is where the log ended before it (its last record). The
 * rule it leaves: **a record after `lsn` exists only in a block of
 * generation `epoch` or later**. Blocks are never rewritten, so the
 * dropped records stay on disk, in `lsn`'s own block (written before) and
 * in the blocks after it (all of older generations) until new blocks take
 * their place; every reader (by LSN, forward, along chains, a base check)
 * counts a block's records only up to the first truncation whose rule the
 * block's epoch fails. A truncation is kept until the base passes `end`
 * (nothing it dropped can be reached then); a truncation to an earlier
 * record replaces those at or after it.
 *
 * It is made durable by one thing: this metadata, written with the new
 * epoch (above every epoch on disk), its tail at the end of `lsn`'s block
 * and lastLsn `lsn`. The dropped blocks past the tail carry older epochs:
 * they never follow a block after the tail (format/chain.ts), and
 * recovery takes no block of an epoch below the metadata's as a voucher
 * (nothing written after the tail can be older than the metadata's
 * generation), so they neither extend the log nor make its end look
 * damaged. The truncation writes the metadata to both slots, so the copy
 * recording it is never the only one.
 *
 * Dump count N is written to slot N % 2, so a write never touches the slot
 * holding the newest valid copy: a torn metadata write leaves the previous
 * one. Every field is bounds-checked on read.
 * @module
 */
import { invariant } from '../errors.ts';
import { Lsn, blockLsnOf, containerOf, offsetOf } from '../lsn.ts';

export const METADATA_MAGIC = 0x4d4c4643;
export const METADATA_VERSION = 3;
/** The older version still read (no archive tail). */
export const METADATA_VERSION_2 = 2;
export const SLOT_SIZE = 64 * 1024;
export const METADATA_HEADER_SIZE = 120;
/** Where the space policy's 12 bytes are. */
export const METADATA_POLICY_OFFSET = 108;
export const METADATA_CHECKSUM_OFFSET = 8;
/** The most truncations a log holds at once (those the base has not passed). */
export const MAX_TRUNCATIONS = 1024;
/** A truncation's rule as the metadata records it (see the module comment). */
export interface Truncation {
  /** The record the log was truncated to. */
  lsn: Lsn;
  /** The generation that began after it: records after `lsn` are only in blocks of it or later. */
  epoch: bigint;
  /** The log's last record before it. */
  end: Lsn;
}
/** CLFS's limit on containers per log. */
export const MAX_CONTAINERS = 1024;
/**
 * The highest epoch a copy may hold: each open writes a higher one (at least
 * this + 1, which must still fit the u64 field), so a copy above it could
 * never be followed by a new generation.
 */
export const MAX_EPOCH = 0xffff_ffff_ffff_fffen;
/** CLFS rounds container sizes up to 512 KiB and takes at most 4 GiB (every log is created so). */
export const CONTAINER_GRANULE = 512 * 1024;
export const MAX_CONTAINER_SIZE = 4 * 1024 * 1024 * 1024;

/**
 * A log's space policy (CLFS's MaximumSize, MinimumSize, GrowthRate,
 * AutoGrow, AutoShrink and LogTail policies), persisted in its metadata.
 * Read it with `log.policy()`, change it with `log.setPolicy()`
 * (lib/log/policy.ts checks it).
 */
export interface LogPolicy {
  /** Most containers the log may have (2..1024; default 1024): growth and addContainers stop there. */
  maxContainers: number;
  /** Fewest containers (2..maxContainers; default 2): removeContainers and autoShrink stop there. */
  minContainers: number;
  /** Containers added at once when the log grows on its own (1..1024, capped by maxContainers; default 1). */
  growthRate: number;
  /** Whether an append that finds the log full adds containers (growthRate at a time) up to maxContainers. Default false. */
  autoGrow: boolean;
  /**
   * Percent of the log's space (0..100; 0, the default: never): when more
   * than this is free after a base move, the log removes free containers
   * beyond minContainers (as removeContainers does) while at least this
   * percent stays free.
   */
  autoShrink: number;
  /**
   * Percent of the log's space (0..100; 0, the default: never): when less
   * than this is free, the log emits `'advance-tail'`, asking its clients to
   * move the base far enough to free this much again.
   */
  logTail: number;
}

export interface Metadata {
  dumpCount: bigint;
  identity: string;
  sectorUnit: number;
  containerSize: number;
  epoch: bigint;
  baseLsn: Lsn;
  restartLsn: Lsn;
  tailLsn: Lsn;
  tailPreviousLsn: Lsn;
  lastLsn: Lsn;
  policy: LogPolicy;
  /** Written by a clean close: no block follows the tail. */
  clean: boolean;
  /** Logical id of each physical container, 0 when free. */
  containers: number[];
  /** Truncations the base has not passed, by ascending LSN. */
  truncations: Truncation[];
  /** Whether the log is an archive (non-ephemeral) log. */
  archive: boolean;
  /** The archive tail (the oldest record not yet archived); INVALID unless `archive`. */
  archiveTailLsn: Lsn;
}

/** The used length of a copy (version 3; version 2 is 8 bytes shorter: no archive tail). */
export function metadataLength(containerCount: number, truncationCount = 0, version = METADATA_VERSION): number {
  return METADATA_HEADER_SIZE + 4 * containerCount + 4 + 24 * truncationCount + (version === METADATA_VERSION ? 8 : 0);
}

/**
 * The LSN container recycling goes by: the base, or for an archive log
 * the lower of the base and the archive tail (a container is reused only
 * once both have passed every record in it).
 */
export function reclaimLsnOf(baseLsn: Lsn, archiveTailLsn: Lsn, archive: boolean): Lsn {
  return archive && archiveTailLsn < baseLsn ? archiveTailLsn : baseLsn;
}

function uuidToBytes(identity: string, into: Uint8Array): void {
  const hex = identity.replaceAll('-', '');
  for (let i = 0; i < 16; i++) into[i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16);
}

function bytesToUuid(bytes: Uint8Array): string {
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * Encodes metadata into `slot` (zeroed first). The CRC field is left zero
 * for the write path to fill; returns the used length.
 */
export function encodeMetadata(slot: Uint8Array, m: Metadata): number {
  const used = metadataLength(m.containers.length, m.truncations.length);
  invariant(used <= slot.byteLength, 'metadata does not fit its slot');
  slot.fill(0);
  const v = new DataView(slot.buffer, slot.byteOffset, slot.byteLength);
  v.setUint32(0, METADATA_MAGIC, true);
  v.setUint16(4, METADATA_VERSION, true);
  v.setUint32(12, used, true);
  v.setBigUint64(16, m.dumpCount, true);
  uuidToBytes(m.identity, slot.subarray(24, 40));
  v.setUint32(40, m.sectorUnit, true);
  v.setUint32(44, m.containers.length, true);
  v.setBigUint64(48, BigInt(m.containerSize), true);
  v.setBigUint64(56, m.epoch, true);
  v.setBigUint64(64, m.baseLsn, true);
  v.setBigUint64(72, m.restartLsn, true);
  v.setBigUint64(80, m.tailLsn, true);
  v.setBigUint64(88, m.tailPreviousLsn, true);
  v.setBigUint64(96, m.lastLsn, true);
  v.setUint32(104, (m.clean ? 1 : 0) | (m.archive ? 2 : 0), true);
  encodePolicy(v, m.policy);
  m.containers.forEach((id, i) => v.setUint32(METADATA_HEADER_SIZE + 4 * i, id, true));
  const at = METADATA_HEADER_SIZE + 4 * m.containers.length;
  v.setUint32(at, m.truncations.length, true);
  m.truncations.forEach((t, i) => {
    v.setBigUint64(at + 4 + 24 * i, t.lsn, true);
    v.setBigUint64(at + 12 + 24 * i, t.epoch, true);
    v.setBigUint64(at + 20 + 24 * i, t.end, true);
  });
  v.setBigUint64(at + 4 + 24 * m.truncations.length, m.archive ? m.archiveTailLsn : Lsn.INVALID, true);
  return used;
}

export type MetadataProblem = 'magic' | 'version' | 'length' | 'checksum' | 'fields';

/**
 * Decodes one slot. `crc` computes CRC32C (passed in so this module stays
 * free of native code). Returns the metadata or why the slot is unusable.
 */
export function decodeMetadata(slot: Uint8Array, crc: (bytes: Uint8Array) => number): Metadata | MetadataProblem {
  if (slot.byteLength < METADATA_HEADER_SIZE) return 'length';
  const v = new DataView(slot.buffer, slot.byteOffset, slot.byteLength);
  if (v.getUint32(0, true) !== METADATA_MAGIC) return 'magic';
  const version = v.getUint16(4, true);
  if ((version !== METADATA_VERSION && version !== METADATA_VERSION_2) || v.getUint16(6, true) !== 0) return 'version';
  const used = v.getUint32(12, true);
  if (used < METADATA_HEADER_SIZE || used > slot.byteLength) return 'length';
  const stored = v.getUint32(METADATA_CHECKSUM_OFFSET, true);
  const copy = slot.slice(0, used);
  copy.fill(0, METADATA_CHECKSUM_OFFSET, METADATA_CHECKSUM_OFFSET + 4);
  if (crc(copy) !== stored) return 'checksum';
  const containerCount = v.getUint32(44, true);
  if (containerCount < 2 || containerCount > MAX_CONTAINERS || used < metadataLength(containerCount, 0, version)) {
    return 'fields';
  }
  const truncationsAt = METADATA_HEADER_SIZE + 4 * containerCount;
  const truncationCount = v.getUint32(truncationsAt, true);
  if (truncationCount > MAX_TRUNCATIONS || used !== metadataLength(containerCount, truncationCount, version)) {
    return 'fields';
  }
  const sectorUnit = v.getUint32(40, true);
  const containerSize = v.getBigUint64(48, true);
  if (sectorUnit < 512 || sectorUnit > 65536 || (sectorUnit & (sectorUnit - 1)) !== 0) return 'fields';
  // A container size a log can be created with, and no other: it sizes every
  // read of the containers' ends and every LSN offset check.
  if (
    containerSize < BigInt(CONTAINER_GRANULE) ||
    containerSize > BigInt(MAX_CONTAINER_SIZE) ||
    containerSize % BigInt(CONTAINER_GRANULE) !== 0n ||
    containerSize % BigInt(sectorUnit) !== 0n
  ) {
    return 'fields';
  }
  const policy = decodePolicy(v);
  if (policy === undefined || containerCount < policy.minContainers || containerCount > policy.maxContainers) {
    return 'fields';
  }
  const flags = v.getUint32(104, true);
  if ((flags & ~(version === METADATA_VERSION ? 3 : 1)) !== 0) return 'fields';
  const archive = (flags & 2) !== 0;
  const archiveTailLsn =
    version === METADATA_VERSION ? v.getBigUint64(truncationsAt + 4 + 24 * truncationCount, true) : Lsn.INVALID;
  const containers: number[] = [];
  for (let i = 0; i < containerCount; i++) containers.push(v.getUint32(METADATA_HEADER_SIZE + 4 * i, true));
  const inUse = containers.filter((id) => id !== 0);
  if (new Set(inUse).size !== inUse.length || inUse.some((id) => id === 0xffff_ffff)) return 'fields';
  // The tail must be a block position in a container the table has, and the
  // LSNs around it must be in order: a CRC-valid but inconsistent copy is as
  // unusable as a damaged one.
  const size = Number(containerSize);
  const tailLsn = v.getBigUint64(80, true);
  const tailId = containerOf(tailLsn);
  const tailOffset = offsetOf(tailLsn);
  // A tail at the end of the newest container is stored as the next one's
  // start (a 4 GiB container's end does not fit an LSN's offset): that
  // container may not have been taken yet.
  const newestId = Math.max(...inUse);
  const tailPrevious = v.getBigUint64(88, true);
  const invalid = 0xffff_ffff_0000_0000n;
  const atNextContainer =
    tailId === newestId + 1 && tailOffset === 0 && tailPrevious !== invalid && containerOf(tailPrevious) === newestId;
  if ((!inUse.includes(tailId) && !atNextContainer) || tailOffset % sectorUnit !== 0 || tailOffset > size) {
    return 'fields';
  }
  const last = v.getBigUint64(96, true);
  const base = v.getBigUint64(64, true);
  const restart = v.getBigUint64(72, true);
  if (tailPrevious !== invalid && (tailPrevious >= tailLsn || offsetOf(tailPrevious) % sectorUnit !== 0)) {
    return 'fields';
  }
  if (last !== invalid && (last >= tailLsn || (tailPrevious !== invalid && last < tailPrevious))) return 'fields';
  if (base > tailLsn || (restart !== invalid && restart >= tailLsn)) return 'fields';
  // An archive tail is a position at most the tail, in a container the
  // table has (or the tail's); an ephemeral log has none.
  if (archive ? archiveTailLsn > tailLsn || containerOf(archiveTailLsn) < 1 : archiveTailLsn !== invalid) {
    return 'fields';
  }
  if (v.getBigUint64(56, true) > MAX_EPOCH) return 'fields';
  // Every logical id from the base's container (or the archive tail's, if
  // lower) to the newest is in the table: ids are handed out in order, and a
  // container is recycled only once it is below both. A table with a gap
  // was never written (the writer would ask for an id the table cannot give).
  const baseId = Math.max(1, containerOf(reclaimLsnOf(base, archiveTailLsn, archive)));
  if (inUse.filter((id) => id >= baseId).length !== newestId - baseId + 1) return 'fields';
  // Truncations ascend (LSN and epoch), each a record position below the tail.
  const epoch = v.getBigUint64(56, true);
  const truncations: Truncation[] = [];
  for (let i = 0; i < truncationCount; i++) {
    const at = truncationsAt + 4 + 24 * i;
    const t = {
      lsn: v.getBigUint64(at, true),
      epoch: v.getBigUint64(at + 8, true),
      end: v.getBigUint64(at + 16, true),
    };
    const before = truncations[i - 1];
    if (
      t.lsn >= tailLsn ||
      t.end <= t.lsn ||
      t.epoch > epoch ||
      offsetOf(blockLsnOf(t.lsn)) % sectorUnit !== 0 ||
      (before !== undefined && (t.lsn <= before.lsn || t.epoch <= before.epoch))
    ) {
      return 'fields';
    }
    truncations.push(t);
  }
  return {
    dumpCount: v.getBigUint64(16, true),
    identity: bytesToUuid(slot.subarray(24, 40)),
    sectorUnit,
    containerSize: Number(containerSize),
    epoch: v.getBigUint64(56, true),
    baseLsn: v.getBigUint64(64, true),
    restartLsn: v.getBigUint64(72, true),
    tailLsn: v.getBigUint64(80, true),
    tailPreviousLsn: v.getBigUint64(88, true),
    lastLsn: v.getBigUint64(96, true),
    policy,
    clean: (flags & 1) !== 0,
    containers,
    truncations,
    archive,
    archiveTailLsn,
  };
}

function encodePolicy(v: DataView, p: LogPolicy): void {
  const at = METADATA_POLICY_OFFSET;
  v.setUint16(at, p.maxContainers, true);
  v.setUint16(at + 2, p.minContainers, true);
  v.setUint16(at + 4, p.growthRate, true);
  v.setUint8(at + 6, p.autoShrink);
  v.setUint8(at + 7, p.logTail);
  v.setUint8(at + 8, p.autoGrow ? 1 : 0);
}

/** The stored policy, or undefined when a field is out of its range or a reserved bit is set. */
function decodePolicy(v: DataView): LogPolicy | undefined {
  const at = METADATA_POLICY_OFFSET;
  const p: LogPolicy = {
    maxContainers: v.getUint16(at, true),
    minContainers: v.getUint16(at + 2, true),
    growthRate: v.getUint16(at + 4, true),
    autoShrink: v.getUint8(at + 6),
    logTail: v.getUint8(at + 7),
    autoGrow: (v.getUint8(at + 8) & 1) !== 0,
  };
  const ok =
    p.maxContainers <= MAX_CONTAINERS &&
    p.minContainers >= 2 &&
    p.minContainers <= p.maxContainers &&
    p.growthRate >= 1 &&
    p.growthRate <= MAX_CONTAINERS &&
    p.autoShrink <= 100 &&
    p.logTail <= 100 &&
    (v.getUint8(at + 8) & ~1) === 0 &&
    v.getUint8(at + 9) === 0 &&
    v.getUint16(at + 10, true) === 0;
  return ok ? p : undefined;
}
