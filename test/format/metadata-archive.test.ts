// The metadata's archive fields (format version 3, lib/format/metadata.ts):
// flags bit 1 and the archive tail after the truncations; version 2 copies
// (made before archiving) still read, as ephemeral logs.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { METADATA_VERSION, SLOT_SIZE, type Metadata } from '../../lib/format/metadata.ts';
import { Log } from '../../lib/index.ts';
import { Lsn } from '../../lib/lsn.ts';
import { BASE_FILE } from '../../lib/storage/log-directory.ts';
import { makeArea, readAll, reopenLog, tag, untag } from '../support/area.ts';
import { SAMPLE_METADATA, decodeSlot as decode, lsn, sealSlot as seal, slotOf } from '../support/metadata.ts';

/** An archive log's copy: containers 1 and 2, the base in 2, the archive tail back in 1. */
const META: Metadata = {
  ...SAMPLE_METADATA,
  baseLsn: lsn(2, 0),
  tailLsn: lsn(2, 12288),
  tailPreviousLsn: lsn(2, 8192),
  lastLsn: lsn(2, 8192, 1),
  containers: [1, 2],
  archive: true,
  archiveTailLsn: lsn(1, 4096, 2),
};

/** The copy in `slot` rewritten as version 2 (no archive tail; flags bit 1 as given). */
function asVersion2(slot: Uint8Array, keepArchiveBit = false): Uint8Array {
  const copy = slot.slice();
  const view = new DataView(copy.buffer);
  const used = view.getUint32(12, true);
  view.setUint16(4, 2, true);
  view.setUint32(12, used - 8, true);
  copy.fill(0, used - 8, used);
  if (!keepArchiveBit) view.setUint32(104, view.getUint32(104, true) & 1, true);
  return seal(copy);
}

describe('metadata format: archive', () => {
  it('Non-ephemeral log metadata: version 3 encodes the archive flag and tail after the truncations and reads them back', () => {
    expect(METADATA_VERSION).toBe(3);
    expect(decode(slotOf(META))).toMatchObject({ archive: true, archiveTailLsn: META.archiveTailLsn });
    const ephemeral = { ...META, archive: false, archiveTailLsn: Lsn.INVALID, containers: [0, 2] };
    expect(decode(slotOf(ephemeral))).toMatchObject({ archive: false, archiveTailLsn: Lsn.INVALID });
  });

  it('Non-ephemeral log metadata: a version 2 copy (made before archiving) reads as an ephemeral log', () => {
    const v2 = asVersion2(slotOf({ ...META, archive: false, archiveTailLsn: Lsn.INVALID }));
    expect(decode(v2)).toMatchObject({ archive: false, archiveTailLsn: Lsn.INVALID, lastLsn: META.lastLsn });
  });

  it('Non-ephemeral log metadata: malformed archive fields are refused (fields)', () => {
    const cases: [string, Uint8Array][] = [
      ['a version 2 copy with the archive bit', asVersion2(slotOf(META), true)],
      ['an ephemeral copy with an archive tail', slotOf(META, (v) => v.setUint32(104, 0, true))],
      ['an archive tail beyond the tail', slotOf({ ...META, archiveTailLsn: lsn(2, 16384) })],
      ['an archive tail in container 0', slotOf({ ...META, archiveTailLsn: lsn(0, 0) })],
      // Container 1 (below the base) was recycled although the archive tail is in it.
      ['the archive tail container missing from the table', slotOf({ ...META, containers: [3, 2] })],
      ['an unknown flag', slotOf(META, (v) => v.setUint32(104, 4, true))],
    ];
    for (const [name, slot] of cases) expect(decode(slot), name).toBe('fields');
  });

  it('Non-ephemeral log metadata: a log whose base file holds version 2 copies opens, keeps its records, and is written as version 3 after', async () => {
    const { log, area, path: logPath } = await makeArea();
    for (let i = 0; i < 5; i++) await area.reserveAndAppend(tag(i), { forceFlush: true });
    await log.close();
    const file = path.join(logPath, BASE_FILE);
    const base = readFileSync(file);
    for (const slot of [0, 1]) {
      const bytes = new Uint8Array(base.buffer, base.byteOffset + slot * SLOT_SIZE, SLOT_SIZE);
      bytes.set(asVersion2(bytes.slice()));
    }
    writeFileSync(file, base);
    const again = await reopenLog(logPath);
    expect(again.information()).toMatchObject({ archive: false, archiveTailLsn: Lsn.INVALID });
    const area2 = await again.createMarshallingArea({ bufferSize: 16384 });
    expect((await readAll(area2)).map((r) => untag(r.data))).toEqual([0, 1, 2, 3, 4]);
    await again.close();
    const after = readFileSync(file);
    const versions = [0, 1].map((slot) => after.readUInt16LE(slot * SLOT_SIZE + 4));
    expect(versions).toContain(3);
    await (await Log.open(logPath)).close();
  });
});
