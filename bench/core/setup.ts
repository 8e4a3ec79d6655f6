/**
 * Before anything is measured: the machine and the storage, fio, the device
 * file, the peers' stores, and the conditions the JSON states.
 * @module
 */
import path from 'node:path';

import { DirectFile } from '../../lib/index.ts';
import { preallocatedFile } from '../support/files.ts';
import { findFio, fioInstallHint, type FioInfo } from '../support/fio.ts';
import type { MachineDescription } from '../support/machine.ts';
import { openPeers, PEER_IDS, type PeerAvailability, type PeerId } from '../support/peers.ts';

export interface DeviceFileInfo {
  path: string;
  size: number;
  direct: boolean;
  reason: string;
  autoEngine: string;
  logicalSectorSize: number;
  physicalSectorSize: number;
  offsetAlignment: number;
  memoryAlignment: number;
  alignmentSource: string;
}

/** The DirectFile reference file, preallocated and written; what its open reported. */
export async function prepareDeviceFile(dir: string, size: number): Promise<DeviceFileInfo> {
  const file = path.join(dir, 'device.dat');
  const prepared = await preallocatedFile(file, size);
  if (!prepared.direct) throw new Error(`no direct I/O in ${dir}: ${prepared.reason}`);
  const probe = await DirectFile.open(file, { durability: 'dsync', engine: 'auto', depth: 1 });
  try {
    return {
      path: file,
      size,
      direct: probe.direct,
      reason: probe.reason,
      autoEngine: probe.engine,
      logicalSectorSize: probe.logicalSectorSize,
      physicalSectorSize: probe.physicalSectorSize,
      offsetAlignment: probe.offsetAlignment,
      memoryAlignment: probe.memoryAlignment,
      alignmentSource: probe.alignmentSource,
    };
  } finally {
    await probe.close();
  }
}

/** fio and its file, or null with the install hint printed once. */
export async function prepareFio(
  dir: string,
  size: number,
  wanted: boolean,
  say: (line: string) => void,
): Promise<{ info: FioInfo; file: string; size: number } | null> {
  if (!wanted) return null;
  const info = await findFio();
  if (info === null) {
    say(fioInstallHint());
    return null;
  }
  say(`fio: ${info.version} (${info.path})`);
  const file = path.join(dir, 'fio.dat');
  await preallocatedFile(file, size);
  return { info, file, size };
}

/** Opens every peer but those in `skip` (id -> why), saying which loaded. */
export async function preparePeers(
  dir: string,
  skip: ReadonlyMap<PeerId, string>,
  say: (line: string) => void,
): Promise<Map<PeerId, PeerAvailability>> {
  const peers = new Map<PeerId, PeerAvailability>();
  const wanted = new Set<PeerId>(PEER_IDS);
  for (const [id, reason] of skip) {
    wanted.delete(id);
    peers.set(id, { id, available: false, reason });
  }
  for (const [id, p] of await openPeers(dir, wanted)) peers.set(id, p);
  for (const id of PEER_IDS) {
    const p = peers.get(id)!;
    say(p.available ? `peer ${p.store.label} ${p.store.version}` : `peer ${id} skipped: ${p.reason}`);
  }
  return peers;
}

/** The peers as the JSON lists them. */
export function peersJson(peers: ReadonlyMap<PeerId, PeerAvailability>): Record<string, unknown>[] {
  return [...peers.values()].map((p) =>
    p.available
      ? {
          id: p.id,
          available: true,
          label: p.store.label,
          version: p.store.version,
          what: p.store.what,
          whatBatch: p.store.whatBatch,
          details: p.store.details,
        }
      : { id: p.id, available: false, reason: p.reason },
  );
}

/** What was measured under: the conditions issue 9 asks the JSON to state. */
export function conditionsJson(
  machine: MachineDescription,
  device: DeviceFileInfo,
  logs: Record<string, Record<string, unknown>>,
): Record<string, unknown> {
  const d = machine.device;
  return {
    directIo: {
      obtained: device.direct && Object.values(logs).every((l) => l.direct === true),
      deviceFile: device.direct,
      logs: Object.fromEntries(Object.entries(logs).map(([k, v]) => [k, v.direct])),
      note: 'every log the benchmark makes (here and in its children) asserts information().direct === true',
    },
    durability: 'dsync (O_DIRECT|O_DSYNC: a write is durable when it completes)',
    pool: 'paged (the default; buffers are not pinned)',
    alignment: {
      offset: device.offsetAlignment,
      memory: device.memoryAlignment,
      source: device.alignmentSource,
    },
    engine: device.autoEngine,
    kernel: machine.kernel,
    filesystem:
      machine.mount === null
        ? null
        : {
            type: machine.mount.fsType,
            source: machine.mount.source,
            mountPoint: machine.mount.mountPoint,
            options: machine.mount.options,
          },
    blockDevice:
      d === null
        ? null
        : {
            name: d.name,
            partition: d.partition,
            model: d.model,
            vendor: d.vendor,
            rotational: d.rotational,
            scheduler: d.scheduler,
            note: d.note,
          },
    logicalSectorSize: d?.logicalBlockSize ?? device.logicalSectorSize,
    physicalSectorSize: d?.physicalBlockSize ?? device.physicalSectorSize,
    writeCache: d?.writeCache ?? null,
    fua: d?.fua ?? null,
  };
}
