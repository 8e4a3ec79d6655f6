/** Loading a saved crash artefact back into a run and an image. */
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';

import type { MemoryImage } from '../../lib/storage/memory-storage.ts';
import type { RecordedRun } from './run.ts';

interface Artifact {
  workload: string;
  options: RecordedRun['options'];
  point: number;
  label: string;
  problems: string[];
  bufferSize: number;
  bases: { lsn: string; ackedAt: number }[];
  records: {
    lsn: string;
    type: 'data' | 'restart';
    data: string;
    undoNextLsn: string;
    previousLsn: string;
    ackedAt: number | null;
  }[];
  image: { base: string; containers: string[] };
}

const unb64 = (text: string): Uint8Array => new Uint8Array(gunzipSync(Buffer.from(text, 'base64')));

export function loadArtifact(file: string): {
  run: RecordedRun;
  point: number;
  label: string;
  image: MemoryImage;
  problems: string[];
} {
  const a = JSON.parse(readFileSync(file, 'utf8')) as Artifact;
  const run: RecordedRun = {
    name: a.workload,
    options: a.options,
    initial: { base: new Uint8Array(0), containers: [] },
    events: [],
    bufferSize: a.bufferSize,
    // Artifacts keep no space states: replays check records and bases.
    space: [],
    bases: a.bases.map((b) => ({ lsn: BigInt(b.lsn), ackedAt: b.ackedAt })),
    records: a.records.map((r) => ({
      lsn: BigInt(r.lsn),
      type: r.type,
      data: new Uint8Array(Buffer.from(r.data, 'base64')),
      undoNextLsn: BigInt(r.undoNextLsn),
      previousLsn: BigInt(r.previousLsn),
      ackedAt: r.ackedAt ?? Infinity,
    })),
  };
  return {
    run,
    point: a.point,
    label: a.label,
    image: { base: unb64(a.image.base), containers: a.image.containers.map(unb64) },
    problems: a.problems,
  };
}
