/**
 * Making and opening a log's files: the first metadata of a new log, and
 * the open that recovers a log and builds its core (recovery.ts for what
 * recovery finds).
 * @module
 */
import { randomUUID } from 'node:crypto';

import { ClfsError } from '../errors.ts';
import { logIdOf } from '../format/block.ts';
import { MAX_EPOCH, type Metadata } from '../format/metadata.ts';
import { Lsn, containerOf, makeLsn, positionLsn } from '../lsn.ts';
import type { LogStorage } from '../storage/storage.ts';
import { ContainerTable } from './containers.ts';
import { LogCore } from './core.ts';
import { MetadataStore } from './metadata-store.ts';
import { recover } from './recovery.ts';
import { DEFAULT_POLICY, type LogPolicy } from './policy.ts';
import { LogWriter } from './write/writer.ts';

/** The policy an older autoGrow ceiling stands for (0: no autoGrow). */
function policyOfCeiling(maxContainers: number): LogPolicy {
  return maxContainers === 0 ? { ...DEFAULT_POLICY } : { ...DEFAULT_POLICY, autoGrow: true, maxContainers };
}

/**
 * Writes the first metadata of a new log onto `storage`, whose
 * `containers` containers exist already (both slots, so neither holds
 * garbage). `policy` is the log's policy, or (for the test harnesses) a
 * number as the older autoGrow ceiling: 0 for no autoGrow. `archive`: an
 * archive log, its archive tail at the first LSN.
 */
export async function initializeStorage(
  storage: LogStorage,
  containerSize: number,
  containers: number,
  policy: LogPolicy | number,
  archive = false,
): Promise<void> {
  const unit = storage.geometry.unit;
  if (containerSize % unit !== 0) {
    throw new ClfsError('ERR_OUT_OF_RANGE', `the container size must be a multiple of the ${unit}-byte sector`);
  }
  const logicalIds = new Array<number>(containers).fill(0);
  logicalIds[0] = 1;
  const first = makeLsn(1, 0);
  const initial: Metadata = {
    dumpCount: 0n,
    identity: randomUUID(),
    sectorUnit: unit,
    containerSize,
    epoch: 0n,
    baseLsn: first,
    restartLsn: Lsn.INVALID,
    tailLsn: first,
    tailPreviousLsn: Lsn.INVALID,
    lastLsn: Lsn.INVALID,
    policy: typeof policy === 'number' ? policyOfCeiling(policy) : policy,
    clean: true,
    containers: logicalIds,
    truncations: [],
    archive,
    archiveTailLsn: archive ? first : Lsn.INVALID,
  };
  const store = new MetadataStore(storage, initial);
  await store.write({});
  await store.write({});
}

/**
 * Checks that the log's layout fits `storage` (its sector unit) and tells
 * the storage how many containers there are; checks them before anything
 * reads one (a container replaced or cut is damage found now, not wherever
 * a read happens to look).
 */
export async function checkLayout(metadata: Metadata, storage: LogStorage): Promise<void> {
  if (metadata.sectorUnit % storage.geometry.unit !== 0 && storage.geometry.unit % metadata.sectorUnit !== 0) {
    throw new ClfsError(
      'ERR_CLFS_MISALIGNED',
      `the log was laid out for ${metadata.sectorUnit}-byte sectors; this device needs ${storage.geometry.unit}`,
    );
  }
  if (metadata.sectorUnit < storage.geometry.unit) {
    throw new ClfsError(
      'ERR_CLFS_MISALIGNED',
      `the log was laid out for ${metadata.sectorUnit}-byte sectors but this device writes ${storage.geometry.unit}-byte sectors: it cannot be written here without rewriting sectors that hold records`,
    );
  }
  storage.setContainerCount(metadata.containers.length);
  await storage.checkContainers(metadata.containerSize);
}

/**
 * Opens the log on `storage` and recovers it: reads the metadata, finds the
 * end of the log, makes what recovery found durable, and starts a new
 * generation. Returns the log's core (any LogStorage: the crash tests use
 * an in-memory one).
 */
export async function openCore(
  path: string,
  storage: LogStorage,
  recovery: 'strict' | 'salvage',
  idlePublishMs = 0,
): Promise<LogCore> {
  const { metadata, problems } = await MetadataStore.read(storage);
  await checkLayout(metadata, storage);
  const table = new ContainerTable([...metadata.containers], metadata.containerSize);
  const logId = logIdOf(metadata.identity);
  const tail = await recover(storage, metadata, table, {
    salvage: recovery === 'salvage',
    logId,
    // A clean close says nothing follows the tail only if its copy is the
    // newest: with the other copy unreadable, a later generation may have
    // written after it.
    clean: metadata.clean && problems.length === 0,
  });
  tail.report.metadataProblems.push(...problems);
  // The blocks recovery found past the metadata's tail are the log from
  // now on (the metadata below records them), but an earlier process may
  // have written them without syncing them ('fdatasync' mode, killed
  // before its sync): they are made durable first, or a power cut could
  // take blocks the metadata says are there.
  if (tail.report.blocksScanned > 0 || tail.report.skipped.length > 0) {
    const first = Math.max(1, containerOf(metadata.tailLsn) - 1);
    const containers: number[] = [];
    for (let id = first; id <= tail.endLogicalId; id++) {
      const physical = table.physicalOf(id);
      if (physical !== -1) containers.push(physical);
    }
    await storage.syncContainers(containers);
  }
  const store = new MetadataStore(storage, metadata);
  // The new generation is above every epoch on disk (when the newest
  // metadata copy was lost, blocks of later generations than the surviving
  // copy's are), so no block left behind can ever follow one it writes. It
  // is durable before anything is written with it.
  const highest = tail.highestEpoch > metadata.epoch ? tail.highestEpoch : metadata.epoch;
  if (highest >= MAX_EPOCH) {
    throw new ClfsError(
      'ERR_CLFS_CORRUPT',
      `the log's generation number (${highest}) cannot be raised: the log is damaged`,
    );
  }
  const epoch = highest + 1n;
  await store.write({
    epoch,
    // Containers recovery found recycled (by a metadata write it could not read).
    containers: [...table.logicalIds],
    baseLsn: tail.baseLsn,
    restartLsn: tail.restartLsn,
    tailLsn: positionLsn(tail.endLogicalId, tail.endOffset, metadata.containerSize),
    tailPreviousLsn: tail.lastBlockLsn,
    lastLsn: tail.lastLsn,
    clean: false,
  });
  // The writer asks the base manager for containers; the core that holds
  // it is made after the writer.
  const self: { core?: LogCore } = {};
  const writer = new LogWriter(
    {
      storage,
      unit: metadata.sectorUnit,
      containerSize: metadata.containerSize,
      logId,
      epoch,
      physicalOf: (id) => table.physicalOf(id),
      provideContainer: (id) => self.core!.bases.provideContainer(id),
      onDurable: () => self.core?.tailPublisher.advanced(),
    },
    {
      logicalId: tail.endLogicalId,
      offset: tail.endOffset,
      previousBlockLsn: tail.lastBlockLsn,
      lastLsn: tail.lastLsn,
    },
  );
  self.core = new LogCore({ path, storage, metadata: store, table, writer, logId, report: tail.report, idlePublishMs });
  return self.core;
}
