// A record holds the bytes its caller passed when the call was made: the
// caller may reuse its arrays as soon as the call returns, whether or not
// the call then waits (for its turn, a container, a block read) before the
// record is placed (issue 7, defect 7).
import { describe, expect, it } from 'vitest';

import { crc32c, Lsn, type MarshallingArea } from '../../lib/index.ts';
import { bytes, makeArea, readAll } from '../support/area.ts';
import { KiB } from '../support/fixtures.ts';

/** Records compared by checksum: a failure reports without diffing 64 KiB arrays. */
const sums = (records: readonly Uint8Array[]): number[] => records.map((r) => crc32c(r));

/** Overwrites what the caller passed, as a caller reusing its buffers does. */
function scribble(...arrays: Uint8Array[]): void {
  for (const array of arrays) array.fill(0xee);
}

/** An area of 64 KiB buffers on 512 KiB containers, with 7 full blocks written: one more block fills the first container. */
async function nearContainerEnd(): Promise<{ area: MarshallingArea }> {
  const { area } = await makeArea({ bufferSize: 64 * KiB }, { containerSize: 512 * KiB, containers: 3 });
  for (let i = 0; i < 7; i++) await area.reserveAndAppend(bytes(area.maxRecordSize, i), { forceFlush: true });
  return { area };
}

describe("records hold the caller's bytes as they were at the call", () => {
  it('appendBatch: records that reach a new container hold the bytes passed, though the caller overwrote them after the call', async () => {
    const { area } = await nearContainerEnd();
    const records = [bytes(area.maxRecordSize, 100), bytes(area.maxRecordSize, 101), bytes(100, 102)];
    const expected = records.map((r) => r.slice());
    const call = area.appendBatch(records, { forceFlush: true });
    scribble(...records);
    const lsns = await call;
    expect(Lsn.containerId(lsns[1]!)).toBe(2);
    const read = (await readAll(area, { from: lsns[0] })).map((r) => r.data);
    expect(sums(read)).toEqual(sums(expected));
  });

  it('reserveAndAppend: a record that reaches a new container holds the bytes passed (entries as an array of pieces)', async () => {
    const { area } = await nearContainerEnd();
    await area.reserveAndAppend(bytes(area.maxRecordSize - 200, 1));
    const pieces = [bytes(100, 2), bytes(area.maxRecordSize - 100, 3)];
    const expected = new Uint8Array([...pieces[0]!, ...pieces[1]!]);
    const call = area.reserveAndAppend(pieces, { forceFlush: true });
    scribble(...pieces);
    const { lsn } = await call;
    expect(Lsn.containerId(lsn!)).toBe(2);
    expect(sums((await readAll(area, { from: lsn })).map((r) => r.data))).toEqual(sums([expected]));
  });

  it('reserveAndAppend / appendBatch: calls queued behind a waiting one hold the bytes passed', async () => {
    const { area } = await nearContainerEnd();
    const first = bytes(area.maxRecordSize, 1);
    const queued = [bytes(500, 2), bytes(600, 3)];
    const single = bytes(700, 4);
    const expected = [first, ...queued, single].map((r) => r.slice());
    const calls = [
      area.reserveAndAppend(first),
      area.reserveAndAppend(bytes(area.maxRecordSize, 9)), // this one waits for the next container
      area.appendBatch(queued),
      area.reserveAndAppend(single, { forceFlush: true }),
    ];
    scribble(first, ...queued, single);
    await Promise.all(calls);
    const read = (await readAll(area)).map((r) => r.data).slice(7);
    expect(sums([read[0]!, ...read.slice(2)])).toEqual(sums(expected));
  });

  it('ClfsWriteRestartArea: with a new base whose block is read from disk, the restart area holds the bytes passed', async () => {
    const { area } = await nearContainerEnd();
    const base = (await readAll(area))[3]!.lsn;
    const data = bytes(3000, 5);
    const expected = data.slice();
    const call = area.writeRestartArea(data, { newBaseLsn: base });
    scribble(data);
    const { lsn } = await call;
    const restart = await area.readRestartArea();
    restart.context.terminate();
    expect(restart.lsn).toBe(lsn);
    expect(sums([restart.data])).toEqual(sums([expected]));
  });

  it('appendBatch: records in blocks after the first hold the bytes passed (the batch opens blocks on its way)', async () => {
    const { area } = await makeArea({ bufferSize: 8 * KiB, maxWriteBuffers: 3 });
    const records = [bytes(area.maxRecordSize, 1), bytes(area.maxRecordSize, 2), bytes(100, 3)];
    const expected = records.map((r) => r.slice());
    const call = area.appendBatch(records, { forceFlush: true });
    scribble(...records);
    await call;
    expect(sums((await readAll(area)).map((r) => r.data))).toEqual(sums(expected));
  });
});
