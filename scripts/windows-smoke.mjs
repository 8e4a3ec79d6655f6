// The smoke test `npm run test:windows` runs with Windows' node.exe (under
// wine): a log's life through the public API, against the cross-built addon.
//
//   node.exe windows-smoke.mjs <package dir> <scratch dir>
// Prints one line per step ("ok ..." or "FAIL ...") and exits 1 on a failure.
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const [packageDir, scratch] = process.argv.slice(2);
const { Log, Lsn, ClfsError } = await import(pathToFileURL(path.join(packageDir, 'dist', 'lib', 'index.js')).href);
const text = (s) => new TextEncoder().encode(s);
const dir = path.join(scratch, `wal-${process.pid}`);
let failed = false;

async function step(name, body) {
  try {
    const detail = await body();
    console.log(`ok ${name}${detail ? `: ${detail}` : ''}`);
  } catch (error) {
    failed = true;
    console.log(`FAIL ${name}: ${error?.code ?? ''} ${error?.stack ?? error}`);
  }
}

console.log(`node ${process.version} ${process.platform}-${process.arch}`);
let log;
let area;
let lsns = [];
await step('Log.create', async () => {
  log = await Log.create(dir, { containerSize: 1024 * 1024, containers: 2, allowBuffered: true });
  const info = log.information();
  return `direct ${info.direct}, sector ${info.sectorSize}, durability ${info.durability}`;
});
await step('append (forceFlush)', async () => {
  area = await log.createMarshallingArea({ bufferSize: 64 * 1024 });
  const { lsn } = await area.reserveAndAppend(text('put a=1'), { forceFlush: true });
  lsns.push(lsn);
  return Lsn.format(lsn);
});
await step('appendBatch', async () => {
  lsns.push(...(await area.appendBatch([text('put b=2'), text('put c=3')], { forceFlush: true })));
  return `${lsns.length} records`;
});
await step('writeRestartArea', async () => {
  await area.writeRestartArea(text('checkpoint'), { newBaseLsn: lsns[0] });
});
await step('read records', async () => {
  const read = [];
  for await (const record of area.records()) read.push(new TextDecoder().decode(record.data));
  if (read.join(',') !== 'put a=1,put b=2,put c=3') throw new Error(`read ${JSON.stringify(read)}`);
  return read.join(', ');
});
await step('lock refuses a second open', async () => {
  try {
    const second = await Log.open(dir);
    await second.close();
  } catch (error) {
    if (error instanceof ClfsError && error.code === 'ERR_CLFS_LOCKED') return error.code;
    throw error;
  }
  throw new Error('a second Log.open succeeded while the log was open');
});
await step('close', () => log.close());
await step('reopen and read the restart area', async () => {
  const again = await Log.open(dir, { allowBuffered: true });
  const reader = await again.createMarshallingArea({ bufferSize: 64 * 1024 });
  const { data, context } = await reader.readRestartArea();
  context.terminate();
  await again.close();
  const got = new TextDecoder().decode(data);
  if (got !== 'checkpoint') throw new Error(`restart area ${got}`);
  return got;
});
await step('Log.delete', () => Log.delete(dir));
process.exit(failed ? 1 : 0);
