/**
 * A log opened read-only (`Log.open(path, { readOnly: true })`): no lock,
 * no write, and a view of the log that a writer, in this process or
 * another, may be extending meanwhile.
 *
 * What the reader serves is a prefix of the log known durable, never more:
 *
 * - the metadata's tail (the writer records its durable tail with every
 *   metadata write, and the metadata only after what it names is durable);
 * - and up to the highest `vouchedLsn` of the valid blocks that follow in
 *   the chain (a block vouches for every block below that LSN: they were
 *   durable when it was submitted, format/block.ts).
 *
 * Blocks past that are on disk but may not be durable (a write in flight,
 * or written and not yet synced in 'fdatasync' mode): they are served once
 * a later block vouches for them, or the writer's metadata records them
 * (at a restart area, base move, container change, close), or a writer's
 * open recovers them. A torn block is never served: the scan is recovery's
 * own (recovery/scanner.ts), run in memory.
 *
 * `refresh()` brings the view up to date: it re-reads the metadata (both
 * slots; one torn by a write in progress leaves the other), adopts the
 * writer's base, restart area, archive tail, container table and
 * truncations, and scans on from the end it serves. A new generation (a
 * writer's open, or a truncation, each written to the metadata before any
 * block of it) read before and after the scan makes the scan start again;
 * a truncation that dropped records the reader served moves its end back
 * to the metadata's tail (readers past it see the end of the log, as
 * a writer's readers do).
 * @module
 */
import { ClfsError, invariant } from '../errors.ts';
import { logIdOf } from '../format/block.ts';
import type { Metadata } from '../format/metadata.ts';
import { Lsn, containerOf, offsetOf, positionLsn } from '../lsn.ts';
import type { LogStorage } from '../storage/storage.ts';
import { ContainerTable } from './containers.ts';
import { LogCore } from './core.ts';
import { MetadataStore } from './metadata-store.ts';
import { checkLayout } from './open.ts';
import type { CheckedBlock } from './read/block-check.ts';
import { RecoveryScanner } from './recovery/scanner.ts';
import type { RecoveryReport } from './recovery/report.ts';
import { LogWriter } from './write/writer.ts';

/** The end of what a reader serves: the writer's start, and what the blocks up to it roll the metadata forward to. */
interface ServedEnd {
  logicalId: number;
  offset: number;
  previousBlockLsn: Lsn;
  /** The generation of the block before the end (blocks after it are of it or later). */
  epoch: bigint;
  lastLsn: Lsn;
  restartLsn: Lsn;
  baseLsn: Lsn;
}

/** A block the scan accepted, where it lies. */
interface Accepted {
  block: CheckedBlock;
  logicalId: number;
  offset: number;
}

/** How often the metadata is read again when a write tore both copies as they were read. */
const METADATA_ATTEMPTS = 4;
/** How often a refresh starts its scan again when the log's generation changed under it. */
const SCAN_ATTEMPTS = 4;

function endOfMetadata(m: Metadata): ServedEnd {
  return {
    logicalId: containerOf(m.tailLsn),
    offset: offsetOf(m.tailLsn),
    previousBlockLsn: m.tailPreviousLsn,
    epoch: m.epoch,
    lastLsn: m.lastLsn,
    restartLsn: m.restartLsn,
    baseLsn: m.baseLsn,
  };
}

/** Reads the newest metadata copy, again if a write in progress tore both as they were read. */
async function readMetadata(storage: LogStorage): Promise<{ metadata: Metadata; problems: string[] }> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await MetadataStore.read(storage);
    } catch (error) {
      if (!(error instanceof ClfsError && error.code === 'ERR_CLFS_CORRUPT') || attempt >= METADATA_ATTEMPTS) {
        throw error;
      }
    }
  }
}

/** Whether a writer has written the metadata since `metadata` was read. */
async function changedSince(storage: LogStorage, metadata: Metadata): Promise<boolean> {
  return (await readMetadata(storage)).metadata.dumpCount !== metadata.dumpCount;
}

/** Scans beside a writer that may run: damage is believed when a second scan finds it at the same place. */
async function scanFrom(
  storage: LogStorage,
  metadata: Metadata,
  table: ContainerTable,
  from: ServedEnd,
  salvage: boolean,
): Promise<{ end: ServedEnd; report: RecoveryReport }> {
  // The scan reads each place once, at a different time: a place it read
  // before the writer wrote it (empty, a block of an earlier lap, a write
  // in flight) can be vouched for by a block written after that read, and
  // look damaged. The writer never rewrites a durable block, so a second
  // scan reads it whole. Damage is believed where the second scan fails at
  // the same place; where it fails further on instead, the writer raced it
  // again, and what it found before that place is served (the next refresh
  // goes on from there).
  try {
    return await scanOnce(storage, metadata, table, from, salvage);
  } catch (error) {
    const at = damageAt(error);
    if (at === undefined) throw error;
    const again = await scanOnce(storage, metadata, table, from, salvage, true);
    if (again.damage !== undefined && damageAt(again.damage) === at) throw again.damage;
    return again;
  }
}

/** Where a scan's ERR_CLFS_CORRUPT says the log is damaged, if it is one. */
function damageAt(error: unknown): Lsn | undefined {
  return error instanceof ClfsError && error.code === 'ERR_CLFS_CORRUPT' ? error.lsn : undefined;
}

/**
 * Scans from `from` along the chain, as recovery does, and returns the end
 * the reader may serve: the last accepted block that the metadata's tail
 * or a later block vouches durable.
 */
async function scanOnce(
  storage: LogStorage,
  metadata: Metadata,
  table: ContainerTable,
  from: ServedEnd,
  salvage: boolean,
  stopAtDamage = false,
): Promise<{ end: ServedEnd; report: RecoveryReport; damage?: ClfsError }> {
  const accepted: Accepted[] = [];
  const start: Metadata = {
    ...metadata,
    tailLsn: positionLsn(from.logicalId, from.offset, metadata.containerSize),
    tailPreviousLsn: from.previousBlockLsn,
    epoch: from.epoch,
    lastLsn: from.lastLsn,
    restartLsn: from.restartLsn,
    baseLsn: from.baseLsn,
  };
  const scanner = new RecoveryScanner(storage, start, table, {
    salvage,
    logId: logIdOf(metadata.identity),
    clean: false,
    accepted: (block, logicalId, offset) => accepted.push({ block, logicalId, offset }),
  });
  let report: RecoveryReport | undefined;
  let damage: ClfsError | undefined;
  try {
    report = (await scanner.scan()).report;
  } catch (error) {
    // The blocks accepted before the damage are the log up to it.
    if (!stopAtDamage || damageAt(error) === undefined) throw error;
    damage = error as ClfsError;
  }
  let vouched = metadata.tailLsn;
  for (const { block } of accepted) if (block.header.vouchedLsn > vouched) vouched = block.header.vouchedLsn;
  const end = { ...from };
  for (const { block, logicalId, offset } of accepted) {
    const { lsn, blockLength, epoch } = block.header;
    if (positionLsn(logicalId, offset + blockLength, metadata.containerSize) > vouched) break;
    for (let i = 0; i < block.records.length; i++) {
      const record = block.records[i]!;
      if (record.type !== 'restart') continue;
      end.restartLsn = lsn + BigInt(i);
      if (record.newBaseLsn !== Lsn.INVALID && record.newBaseLsn > end.baseLsn) end.baseLsn = record.newBaseLsn;
    }
    Object.assign(end, { logicalId, offset: offset + blockLength, previousBlockLsn: lsn, epoch });
    end.lastLsn = lsn + BigInt(block.records.length - 1);
  }
  report ??= {
    mode: salvage ? 'salvage' : 'strict',
    blocksScanned: accepted.length,
    bytesScanned: accepted.reduce((n, a) => n + a.block.header.blockLength, 0),
    tailCutAt: damage!.lsn,
    tailReason: 'a block the writer was writing as it was read',
    skipped: [],
    metadataProblems: [],
    problems: {},
  };
  return { end, report, ...(damage === undefined ? {} : { damage }) };
}

/** The part of a read-only log that follows the writer (see the module comment). */
export class Follower {
  readonly #storage: LogStorage;
  readonly #salvage: boolean;
  #core: LogCore | undefined;
  #end: ServedEnd;
  #metadata: Metadata;
  /** Refreshes run one at a time: a second call waits for the first and runs after it. */
  #queue: Promise<unknown> = Promise.resolve();

  constructor(storage: LogStorage, metadata: Metadata, end: ServedEnd, salvage: boolean) {
    this.#storage = storage;
    this.#metadata = metadata;
    this.#end = end;
    this.#salvage = salvage;
  }

  /** The core this follower updates (set once, when it is built). */
  attach(core: LogCore): void {
    this.#core = core;
  }

  /** Brings the view up to date; resolves with whether anything changed. */
  refresh(): Promise<boolean> {
    const run = this.#queue.then(() => this.#refresh());
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #refresh(): Promise<boolean> {
    const core = this.#core!;
    for (let attempt = 1; attempt <= SCAN_ATTEMPTS; attempt++) {
      const { metadata } = await readMetadata(this.#storage);
      core.checkAlive();
      const known = this.#metadata;
      let from = this.#end;
      // Go on from the metadata's tail, which is durable, when it is past the
      // reader's end (the containers that end was in may have been reused
      // since), and whenever a generation began since: a writer's open (its
      // tail is at or past the end), or a truncation, which drops what the
      // reader served past its tail. Only from the tail are blocks of
      // earlier generations after it told from the log (recovery's rule).
      const position = positionLsn(from.logicalId, from.offset, metadata.containerSize);
      if (metadata.epoch !== known.epoch || position < metadata.tailLsn) from = endOfMetadata(metadata);
      const table = new ContainerTable([...metadata.containers], metadata.containerSize);
      let end: ServedEnd;
      try {
        // Files open since may have been removed, and made again under their
        // names (the count then unchanged): after any metadata write, opened
        // anew (a storage may find one of them gone already).
        if (metadata.dumpCount !== known.dumpCount) this.#storage.setContainerCount(table.count);
        end = (await scanFrom(this.#storage, metadata, table, from, this.#salvage)).end;
      } catch (error) {
        // A container removed (or a generation begun) since the metadata was read: look again.
        if (attempt === SCAN_ATTEMPTS || !(await changedSince(this.#storage, metadata))) throw error;
        continue;
      }
      const after = (await readMetadata(this.#storage)).metadata;
      core.checkAlive();
      // A new generation began while the scan ran: what it read may mix them.
      if (after.epoch !== metadata.epoch) continue;
      const before = this.#end;
      const moved =
        end.logicalId !== before.logicalId || end.offset !== before.offset || end.lastLsn !== before.lastLsn;
      const changed = moved || metadata.dumpCount !== known.dumpCount;
      // The view is the metadata the scan went on from, not `after`: a base
      // moved while the scan ran names a record past the end it found (the
      // next refresh goes on from that metadata's tail).
      this.#apply(core, metadata, table, end);
      return changed;
    }
    return false;
  }

  #apply(core: LogCore, metadata: Metadata, table: ContainerTable, end: ServedEnd): void {
    // The writer moves the base only to a durable record, and records its
    // durable tail with it: the base names a record the view serves.
    invariant(
      end.lastLsn === Lsn.INVALID || (metadata.baseLsn <= end.lastLsn && end.baseLsn <= end.lastLsn),
      () =>
        `a read-only view's base ${Lsn.format(metadata.baseLsn > end.baseLsn ? metadata.baseLsn : end.baseLsn)} is past its last record ${Lsn.format(end.lastLsn)}`,
    );
    core.table.logicalIds.splice(0, core.table.logicalIds.length, ...table.logicalIds);
    core.metadata.follow(metadata);
    core.bases.follow(metadata, end.baseLsn, end.restartLsn);
    core.writer.restartAt(
      { logicalId: end.logicalId, offset: end.offset, previousBlockLsn: end.previousBlockLsn, lastLsn: end.lastLsn },
      metadata.epoch,
    );
    this.#metadata = metadata;
    this.#end = end;
  }

  /**
   * Opens the log on `storage` for reading (see the module comment):
   * recovery's scan, in memory; nothing is written. A writer that changes
   * the log meanwhile (removes a container the metadata read lists) makes
   * it read the metadata again.
   */
  static async open(path: string, storage: LogStorage, recovery: 'strict' | 'salvage'): Promise<LogCore> {
    const salvage = recovery === 'salvage';
    for (let attempt = 1; ; attempt++) {
      const { metadata, problems } = await readMetadata(storage);
      try {
        await checkLayout(metadata, storage);
        const table = new ContainerTable([...metadata.containers], metadata.containerSize);
        const { end, report } = await scanFrom(storage, metadata, table, endOfMetadata(metadata), salvage);
        report.metadataProblems.push(...problems);
        return Follower.#build(path, storage, { metadata, table, end, report, salvage });
      } catch (error) {
        // A writer changed the log since its metadata was read (a container
        // removed, a generation begun): look again, as refresh() does.
        if (attempt >= SCAN_ATTEMPTS || !(await changedSince(storage, metadata))) throw error;
      }
    }
  }

  /** The read-only core over what the open found. */
  static #build(
    path: string,
    storage: LogStorage,
    opened: { metadata: Metadata; table: ContainerTable; end: ServedEnd; report: RecoveryReport; salvage: boolean },
  ): LogCore {
    const { metadata, table, end, report, salvage } = opened;
    const follower = new Follower(storage, metadata, end, salvage);
    const writer = new LogWriter(
      {
        storage,
        unit: metadata.sectorUnit,
        containerSize: metadata.containerSize,
        logId: logIdOf(metadata.identity),
        epoch: metadata.epoch,
        physicalOf: (id) => table.physicalOf(id),
        provideContainer: () => Promise.reject(new ClfsError('ERR_CLFS_READ_ONLY', `the log '${path}' is read-only`)),
      },
      { logicalId: end.logicalId, offset: end.offset, previousBlockLsn: end.previousBlockLsn, lastLsn: end.lastLsn },
    );
    const store = new MetadataStore(storage, { ...metadata, baseLsn: end.baseLsn, restartLsn: end.restartLsn });
    const core = new LogCore({
      path,
      storage,
      metadata: store,
      table,
      writer,
      logId: logIdOf(metadata.identity),
      report,
      follower,
    });
    follower.attach(core);
    return core;
  }
}
