/**
 * A new log on a simulated disk, as Log.create would leave it (through the
 * library's own Log.initializeStorage), with two changes that keep runs
 * exact and cheap:
 * - the log's identity comes from the seed (Log.initializeStorage draws a
 *   random UUID; it ends up in every block's header), so a seed replays
 *   byte for byte;
 * - a fast-forward (config.startOffset): the metadata puts the tail and the
 *   base that far into container 1, as if everything before had been
 *   written and the base moved past it, and one empty record is written
 *   there so the base names a record. A 4 GiB container's end is then a
 *   few blocks away.
 * @module
 */
import { Log } from '../../lib/log/log.ts';
import { SLOT_SIZE, decodeMetadata, encodeMetadata, METADATA_CHECKSUM_OFFSET } from '../../lib/format/metadata.ts';
import { Lsn } from '../../lib/lsn.ts';
import { crc32c } from '../../lib/native/crc32c.ts';
import { int } from '../support/random.ts';
import { settle, type Recovered } from './checker.ts';
import { alignUp, type SimConfig } from './config.ts';
import { SimDisk } from './disk.ts';
import type { Scheduler } from './scheduler.ts';
import { SimStorage } from './storage.ts';

function uuidFrom(random: () => number): string {
  const hex = Array.from({ length: 32 }, () => int(random, 0, 15).toString(16)).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20)}`;
}

/** Rewrites both metadata slots with `change` applied (CRC recomputed). */
function patchMetadata(disk: SimDisk, change: (m: ReturnType<typeof decodeMetadata> & object) => void): void {
  const base = disk.files.get('base')!;
  for (const slot of [0, 1]) {
    const bytes = new Uint8Array(SLOT_SIZE);
    base.readInto(slot * SLOT_SIZE, bytes);
    const m = decodeMetadata(bytes, (b) => crc32c(b));
    if (typeof m === 'string') throw new Error(`sim setup: metadata slot ${slot} does not decode (${m})`);
    change(m);
    const used = encodeMetadata(bytes, m);
    const view = new DataView(bytes.buffer);
    view.setUint32(METADATA_CHECKSUM_OFFSET, crc32c(bytes.subarray(0, used)), true);
    base.write(slot * SLOT_SIZE, bytes);
  }
}

/** What the run starts from: the disk and the log it holds. */
export async function newLog(
  config: SimConfig,
  scheduler: Scheduler,
  random: () => number,
): Promise<{ disk: SimDisk; start: Recovered }> {
  const disk = SimDisk.create(config.containers, config.containerSize);
  const storage = new SimStorage(disk, scheduler, { unit: config.unit, durability: config.durability, name: 'setup' });
  const init = await settle(
    scheduler,
    Log.initializeStorage(
      storage,
      config.containerSize,
      config.containers,
      config.maxContainers,
      config.archive ?? false,
    ),
  );
  if (init === undefined || 'error' in init)
    throw new Error(`sim setup: initializeStorage failed: ${String(init && 'error' in init ? init.error : 'hang')}`);
  const identity = uuidFrom(random);
  // The setup record's block takes one unit: start it one unit early so the run starts at startOffset.
  const at = config.startOffset >= config.unit ? alignUp(config.startOffset, config.unit) - config.unit : 0;
  patchMetadata(disk, (m) => {
    m.identity = identity;
    if (at > 0) {
      const lsn = Lsn.create(1, at, 0);
      m.baseLsn = lsn;
      m.tailLsn = lsn;
    }
  });
  if (at === 0)
    return { disk, start: { base: Lsn.create(1, 0, 0), restartLsn: Lsn.INVALID, lastLsn: Lsn.INVALID, records: [] } };
  const writing = new SimStorage(disk, scheduler, { unit: config.unit, durability: config.durability, name: 'setup' });
  const outcome = await settle(
    scheduler,
    (async () => {
      const log = await Log.openStorage('setup', writing, 'strict');
      const area = await log.createMarshallingArea({ bufferSize: config.unit, flushIntervalMs: 0 });
      const { lsn } = await area.reserveAndAppend(new Uint8Array(0), { forceFlush: true });
      await log.close();
      return lsn!;
    })(),
  );
  if (outcome === undefined || 'error' in outcome) {
    throw new Error(
      `sim setup: the fast-forward record failed: ${String(outcome && 'error' in outcome ? outcome.error : 'hang')}`,
    );
  }
  const lsn = outcome.value;
  return {
    disk,
    start: {
      base: lsn,
      restartLsn: Lsn.INVALID,
      lastLsn: lsn,
      records: [{ lsn, type: 'data', data: new Uint8Array(0), undoNextLsn: Lsn.INVALID, previousLsn: Lsn.INVALID }],
    },
  };
}
