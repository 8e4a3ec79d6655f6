// The buffers of requests in flight stay alive through garbage collection,
// even when JavaScript holds no reference to them: the kernel is writing from
// them. Run in a child process with --expose-gc, for each engine.
import { beforeAll, expect, it } from 'vitest';

import { runChild, type ChildResult } from '../support/helpers.ts';
import { scratchFiles } from '../support/fixtures.ts';
import { describeEngines } from '../support/native.ts';

const COUNT = 200;
const SIZE = 64 * 1024;

const scratch = scratchFiles('clfs-gc-');

// The child starts COUNT writes, each from a freshly allocated aligned buffer
// that only the write holds, and while they are in flight collects garbage
// and allocates more (so that freed memory is reused and overwritten). It
// watches the buffers through WeakRefs and a FinalizationRegistry, then reads
// the file back and checks every write's pattern.
const CHILD = `
  import { DirectFile, alignedBuffer } from 'CLFS';
  const [path, engine] = process.argv.slice(1);
  const COUNT = ${COUNT};
  const SIZE = ${SIZE};
  const word = (write, k) => (Math.imul(write + 1, 0x9e3779b1) + k) >>> 0;

  const file = await DirectFile.open(path, { create: true, engine, durability: 'dsync', depth: 64 });
  const completed = new Set();
  const collectedBeforeCompletion = new Set();
  let finalized = 0;
  const registry = new FinalizationRegistry((i) => {
    finalized++;
    if (!completed.has(i)) collectedBeforeCompletion.add(i);
  });
  const weak = [];

  // Returns only the promise: the buffer is unreachable from JavaScript once
  // this returns (a WeakRef does not keep it alive).
  function start(i) {
    const buffer = alignedBuffer(SIZE);
    const words = new Uint32Array(buffer.buffer, buffer.byteOffset, SIZE / 4);
    for (let k = 0; k < words.length; k++) words[k] = word(i, k);
    registry.register(buffer, i);
    weak[i] = new WeakRef(buffer);
    return file.write(i * SIZE, buffer).then((n) => {
      completed.add(i);
      return n;
    });
  }

  let garbage = [];
  function churn() {
    globalThis.gc();
    garbage = [];
    for (let j = 0; j < 8; j++) garbage.push(new Uint8Array(SIZE).fill(0xee));
  }
  const turn = () => new Promise((resolve) => setImmediate(resolve));
  // A WeakRef that is empty while its write is still pending means the buffer
  // was collected under the kernel's feet. deref() keeps its target alive to
  // the end of the current job, so every check is followed by a turn of the
  // event loop before the next collection.
  function checkInFlight() {
    for (let i = 0; i < weak.length; i++) {
      if (!completed.has(i) && weak[i].deref() === undefined) collectedBeforeCompletion.add(i);
    }
  }

  const writes = [];
  for (let i = 0; i < COUNT; i++) {
    writes.push(start(i));
    if (i % 16 === 15) {
      churn();
      await turn();
      checkInFlight();
      await turn();
    }
  }
  let settled = false;
  const all = Promise.all(writes).finally(() => (settled = true));
  let collectionsInFlight = 0;
  while (!settled) {
    churn();
    collectionsInFlight++;
    await turn();
    checkInFlight();
    await turn();
  }
  const results = await all;

  // Afterwards the buffers are garbage: they must go (eventually).
  const alive = () => weak.filter((w) => w.deref() !== undefined).length;
  for (let i = 0; i < 100 && alive() > 0; i++) {
    await turn();
    churn();
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  const stillAlive = alive();
  garbage = [];

  const back = alignedBuffer(COUNT * SIZE);
  const read = await file.read(0, back);
  const words = new Uint32Array(back.buffer, back.byteOffset, back.length / 4);
  const corrupt = [];
  for (let i = 0; i < COUNT; i++) {
    for (let k = 0; k < SIZE / 4; k++) {
      if (words[i * (SIZE / 4) + k] !== word(i, k)) {
        corrupt.push(i);
        break;
      }
    }
  }
  await file.close();
  console.log(JSON.stringify({
    direct: file.direct,
    durability: file.durability,
    engine: file.engine,
    resolvedWith: [...new Set(results)],
    read,
    corrupt,
    collectedBeforeCompletion: [...collectedBeforeCompletion],
    collectionsInFlight,
    stillAlive,
    finalized,
  }));
`;

interface Report {
  direct: boolean;
  durability: string;
  engine: string;
  resolvedWith: number[];
  read: number;
  corrupt: number[];
  collectedBeforeCompletion: number[];
  collectionsInFlight: number;
  stillAlive: number;
  finalized: number;
}

describeEngines("buffers of writes in flight survive garbage collection (engine '$engine')", ({ engine, reported }) => {
  let child: ChildResult;
  let report: Report;

  beforeAll(async () => {
    child = await runChild(CHILD, { nodeArgs: ['--expose-gc'], args: [`${scratch.dir}/${engine}`, engine] });
    expect(child.stderr).toBe('');
    expect(child.code).toBe(0);
    report = JSON.parse(child.stdout) as Report;
  });

  it(`the child wrote with real direct I/O, durability 'dsync', on '${reported}'`, () => {
    expect(report.direct).toBe(true);
    expect(report.durability).toBe('dsync');
    expect(report.engine).toBe(reported);
  });

  it(`all ${COUNT} writes resolved with ${SIZE} bytes`, () => {
    expect(report.resolvedWith).toEqual([SIZE]);
  });

  it('the collector ran while writes were in flight', () => {
    expect(report.collectionsInFlight).toBeGreaterThan(0);
  });

  it('no buffer was collected before its write completed', () => {
    expect(report.collectedBeforeCompletion).toEqual([]);
  });

  it('every write reads back byte-exact', () => {
    expect(report.read).toBe(COUNT * SIZE);
    expect(report.corrupt).toEqual([]);
  });

  it('once their writes completed, the buffers were collected (the test really let go of them)', () => {
    expect(report.stillAlive).toBe(0);
    expect(report.finalized).toBeGreaterThan(0);
  });
});
