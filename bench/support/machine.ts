/**
 * What the benchmark ran on: CPU, kernel, Node, and the block device and
 * filesystem behind the benchmark directory (Linux sysfs; elsewhere the
 * device part is null).
 * @module
 */
import { readFileSync, readlinkSync, realpathSync, statSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface MountDescription {
  mountPoint: string;
  fsType: string;
  source: string;
  options: string;
}

export interface DeviceDescription {
  /** Kernel name of the whole disk, e.g. `nvme0n1`, `vda`, `sda`. */
  name: string;
  /** The partition or mapped device the filesystem sits on, when not the whole disk. */
  partition: string | null;
  /** `major:minor` of the filesystem's device. */
  devno: string;
  sysfsPath: string;
  logicalBlockSize: number | null;
  physicalBlockSize: number | null;
  /** `write back` (volatile cache: durability needs flushes/FUA) or `write through`. */
  writeCache: string | null;
  /** Whether the device advertises FUA (`queue/fua`). */
  fua: boolean | null;
  rotational: boolean | null;
  scheduler: string | null;
  nrRequests: number | null;
  maxSectorsKb: number | null;
  model: string | null;
  vendor: string | null;
  sizeBytes: number | null;
  /** Set when the device could not be found from the directory (tmpfs, overlay, network filesystems). */
  note?: string;
}

export interface MachineDescription {
  hostname: string;
  platform: string;
  arch: string;
  cpuModel: string;
  cpus: number;
  availableParallelism: number;
  totalMemoryBytes: number;
  kernel: string;
  kernelVersion: string;
  node: string;
  v8: string;
  loadAverage: number[];
  benchDir: string;
  mount: MountDescription | null;
  device: DeviceDescription | null;
}

function readText(file: string): string | null {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return null;
  }
}

function readNumber(file: string): number | null {
  const text = readText(file);
  if (text === null) return null;
  const n = Number(text);
  return Number.isFinite(n) ? n : null;
}

/** The mountinfo entry whose mount point is the longest prefix of `dir` (Linux). */
export function mountOf(dir: string): MountDescription | null {
  const text = readText('/proc/self/mountinfo');
  if (text === null) return null;
  const real = realpathSync(dir);
  let best: MountDescription | null = null;
  for (const line of text.split('\n')) {
    // id parent major:minor root mountpoint options [optional...] - fstype source superoptions
    const [left, right] = line.split(' - ');
    if (left === undefined || right === undefined) continue;
    const fields = left.split(' ');
    const mountPoint = (fields[4] ?? '').replace(/\\040/g, ' ');
    const [fsType = '', source = '', superOptions = ''] = right.split(' ');
    const inside = real === mountPoint || real.startsWith(mountPoint.endsWith('/') ? mountPoint : `${mountPoint}/`);
    if (inside && (best === null || mountPoint.length >= best.mountPoint.length)) {
      best = { mountPoint, fsType, source, options: `${fields[5] ?? ''} ${superOptions}`.trim() };
    }
  }
  return best;
}

/** Linux `dev_t` decoding, as glibc's major()/minor(). */
function devno(dev: number): string {
  const big = BigInt(dev);
  const major = ((big >> 8n) & 0xfffn) | ((big >> 32n) & ~0xfffn);
  const minor = (big & 0xffn) | ((big >> 12n) & ~0xffn);
  return `${major}:${minor}`;
}

/** The block device behind `dir`, from its st_dev through /sys/dev/block (Linux). */
export function deviceOf(dir: string, mount: MountDescription | null): DeviceDescription | null {
  if (process.platform !== 'linux') return null;
  let number = devno(statSync(dir).dev);
  let link = `/sys/dev/block/${number}`;
  if (!existsSync(link) && mount !== null && mount.source.startsWith('/dev/')) {
    // btrfs and some others report an anonymous st_dev: go by the mount's source.
    try {
      const real = realpathSync(mount.source);
      number = devno(statSync(real).rdev);
      link = `/sys/dev/block/${number}`;
    } catch {
      // fall through
    }
  }
  if (!existsSync(link)) {
    return {
      name: '',
      partition: null,
      devno: number,
      sysfsPath: '',
      logicalBlockSize: null,
      physicalBlockSize: null,
      writeCache: null,
      fua: null,
      rotational: null,
      scheduler: null,
      nrRequests: null,
      maxSectorsKb: null,
      model: null,
      vendor: null,
      sizeBytes: null,
      note: `no block device for ${number} (${mount?.fsType ?? 'unknown'} filesystem)`,
    };
  }
  let sys = path.resolve('/sys/dev/block', readlinkSync(link));
  let partition: string | null = null;
  if (existsSync(path.join(sys, 'partition'))) {
    partition = path.basename(sys);
    sys = path.dirname(sys);
  } else {
    // A device-mapper device: name it by its mapping (its queue attributes are its own).
    const dmName = readText(path.join(sys, 'dm', 'name'));
    if (dmName !== null && dmName !== '') partition = dmName;
  }
  const queue = path.join(sys, 'queue');
  const scheduler = readText(path.join(queue, 'scheduler'));
  const model = readText(path.join(sys, 'device', 'model'));
  const vendor = readText(path.join(sys, 'device', 'vendor'));
  const sectors = readNumber(path.join(sys, 'size'));
  const fua = readNumber(path.join(queue, 'fua'));
  const rotational = readNumber(path.join(queue, 'rotational'));
  return {
    name: path.basename(sys),
    partition,
    devno: number,
    sysfsPath: sys,
    logicalBlockSize: readNumber(path.join(queue, 'logical_block_size')),
    physicalBlockSize: readNumber(path.join(queue, 'physical_block_size')),
    writeCache: readText(path.join(queue, 'write_cache')),
    fua: fua === null ? null : fua === 1,
    rotational: rotational === null ? null : rotational === 1,
    scheduler: scheduler === null ? null : (/\[([^\]]+)\]/.exec(scheduler)?.[1] ?? scheduler),
    nrRequests: readNumber(path.join(queue, 'nr_requests')),
    maxSectorsKb: readNumber(path.join(queue, 'max_sectors_kb')),
    model: model === '' ? null : model,
    vendor: vendor === '' ? null : vendor,
    sizeBytes: sectors === null ? null : sectors * 512,
  };
}

/** Describes the machine and the storage behind `benchDir`. */
export function describeMachine(benchDir: string): MachineDescription {
  const cpus = os.cpus();
  const mount = mountOf(benchDir);
  let device: DeviceDescription | null = null;
  try {
    device = deviceOf(benchDir, mount);
  } catch {
    device = null;
  }
  return {
    hostname: os.hostname(),
    platform: process.platform,
    arch: process.arch,
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    cpus: cpus.length,
    availableParallelism: os.availableParallelism(),
    totalMemoryBytes: os.totalmem(),
    kernel: os.release(),
    kernelVersion: os.version(),
    node: process.version,
    v8: process.versions.v8,
    loadAverage: os.loadavg(),
    benchDir: realpathSync(benchDir),
    mount,
    device,
  };
}

/** One line for the console: CPU, kernel, Node, device. */
export function machineSummary(m: MachineDescription): string {
  const d = m.device;
  const dev =
    d === null
      ? 'device unknown'
      : d.note !== undefined
        ? d.note
        : `/dev/${d.name}${d.partition !== null ? ` (${d.partition})` : ''} ${[d.vendor, d.model].filter(Boolean).join(' ') || 'unnamed'}, ` +
          `sectors ${d.logicalBlockSize}/${d.physicalBlockSize}, cache ${d.writeCache}, fua ${d.fua}, sched ${d.scheduler}`;
  return (
    `${m.cpuModel} x${m.cpus} (parallelism ${m.availableParallelism}), ${m.platform} ${m.kernel}, Node ${m.node}\n` +
    `dir ${m.benchDir} on ${m.mount?.fsType ?? '?'} ${m.mount?.source ?? ''} (${m.mount?.mountPoint ?? '?'}): ${dev}\n` +
    `load average ${m.loadAverage.map((x) => x.toFixed(2)).join(' ')}`
  );
}
