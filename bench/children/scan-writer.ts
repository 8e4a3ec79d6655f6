/**
 * Child process of W6/W7: creates a log, writes one restart area, appends
 * `payloadBytes` of 4 KiB records after it, flushes them, and dies by
 * SIGKILL without closing the log — a crash, as the kill tier's children do
 * (test/faults/kill.test.ts). The next Log.open must scan from the restart
 * area to the end. Prints one JSON line before dying.
 *
 * Usage: node scan-writer.js '<json: { path, containerSize, payloadBytes }>'
 * @module
 */
import { randomFillSync } from 'node:crypto';

import { Log } from '../../lib/index.ts';

interface Args {
  path: string;
  containerSize: number;
  payloadBytes: number;
}

const RECORD = 4096;
const BATCH = 256;

async function main(): Promise<void> {
  const args = JSON.parse(process.argv[2] ?? '{}') as Args;
  const log = await Log.create(args.path, { containerSize: args.containerSize, containers: 2, durability: 'dsync' });
  if (log.information().direct !== true) throw new Error('the scan log is not doing direct I/O');
  const area = await log.createMarshallingArea({ bufferSize: 1 << 20, maxWriteBuffers: 8 });
  await area.writeRestartArea(new Uint8Array(64));
  const records = Array.from({ length: BATCH }, () => randomFillSync(new Uint8Array(RECORD)));
  let count = 0;
  while (count * RECORD < args.payloadBytes) {
    await area.appendBatch(records);
    count += BATCH;
  }
  await area.flushBuffers();
  const info = log.information();
  process.stdout.write(
    `${JSON.stringify({ records: count, payloadBytes: count * RECORD, containers: info.totalContainers, lastLsn: info.lastLsn.toString() })}\n`,
    () => process.kill(process.pid, 'SIGKILL'),
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
