/**
 * Child process of W8: streams `streamBytes` of 4 KiB records into a fresh
 * log through one area of `maxWriteBuffers` x `bufferSize`, moving the base
 * as containers fill, and reports its peak RSS (VmHWM, and
 * process.resourceUsage().maxRSS) as one JSON line.
 *
 * Usage: node rss-stream.js '<json: { path, containerSize, streamBytes, bufferSize, maxWriteBuffers }>'
 * @module
 */
import { randomFillSync } from 'node:crypto';
import { readFileSync } from 'node:fs';

import { Log, type Lsn } from '../../lib/index.ts';
import { BaseAdvancer } from '../support/base-advancer.ts';

interface Args {
  path: string;
  containerSize: number;
  streamBytes: number;
  bufferSize: number;
  maxWriteBuffers: number;
}

const RECORD = 4096;
const BATCH = 64;

/** A /proc/self/status field in bytes (Linux), else NaN. */
function status(field: 'VmHWM' | 'VmRSS'): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync('/proc/self/status', 'utf8'));
    return m === null ? Number.NaN : Number(m[1]) * 1024;
  } catch {
    return Number.NaN;
  }
}

async function main(): Promise<void> {
  const a = JSON.parse(process.argv[2] ?? '{}') as Args;
  const log = await Log.create(a.path, { containerSize: a.containerSize, containers: 4, durability: 'dsync' });
  if (log.information().direct !== true) throw new Error('the W8 log is not doing direct I/O');
  const area = await log.createMarshallingArea({ bufferSize: a.bufferSize, maxWriteBuffers: a.maxWriteBuffers });
  const advancer = new BaseAdvancer(area);
  const records = Array.from({ length: BATCH }, () => randomFillSync(new Uint8Array(RECORD)));
  const rssBefore = status('VmRSS');
  const hwmBefore = status('VmHWM');
  const cpu = process.cpuUsage();
  const start = performance.now();
  let written = 0;
  let last: Lsn | undefined;
  while (written < a.streamBytes) {
    const lsns = await area.appendBatch(records);
    last = lsns[lsns.length - 1];
    advancer.note(last);
    written += BATCH * RECORD;
  }
  await area.flushBuffers();
  const seconds = (performance.now() - start) / 1000;
  const c = process.cpuUsage(cpu);
  await advancer.idle();
  const result = {
    bytes: written,
    records: written / RECORD,
    seconds,
    cpuUs: c.user + c.system,
    rssBefore,
    hwmBefore,
    hwm: status('VmHWM'),
    maxRss: process.resourceUsage().maxRSS * 1024,
    containers: log.information().totalContainers,
  };
  await area.close();
  await log.close();
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
