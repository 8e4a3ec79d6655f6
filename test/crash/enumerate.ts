/**
 * Crash-state enumeration: record a workload, then for crash points between
 * its storage events build every crash image the budget allows, recover
 * each, and check the invariants. A failing image is written out as a
 * replayable artefact (see regressions.test.ts).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';

import { Lsn } from '../../lib/lsn.ts';
import type { MemoryImage } from '../../lib/storage/memory-storage.ts';
import { imagesAt, type ImageBudget } from './images.ts';
import { record, type RecordedRun } from './run.ts';
import { verifyImage } from './verify.ts';
import type { Workload } from '../support/workloads.ts';
import { prng } from '../support/fixtures.ts';

export interface EnumerateOptions {
  seed: number;
  /** Crash points to visit per workload (spread over the run); Infinity = all. */
  points: number;
  budget: ImageBudget;
  /** Check I3 (crash during recovery) and I4 (append after) on one image in this many. */
  deepEvery: number;
  /** Where failing images go. */
  artifactDir: string;
}

export interface EnumerationResult {
  workload: string;
  events: number;
  points: number;
  images: number;
  failures: { point: number; label: string; problems: string[]; artifact: string }[];
}

function choosePoints(total: number, wanted: number, random: () => number): number[] {
  const all = Array.from({ length: total + 1 }, (_, i) => i);
  if (wanted >= all.length) return all;
  // Always the ends, the rest spread at random.
  const chosen = new Set([0, total]);
  while (chosen.size < wanted) chosen.add(Math.floor(random() * (total + 1)));
  return [...chosen].sort((a, b) => a - b);
}

const b64 = (bytes: Uint8Array): string => Buffer.from(gzipSync(bytes)).toString('base64');

/** Writes a failing image and what it must contain, for replay. */
export function saveArtifact(
  dir: string,
  run: RecordedRun,
  point: number,
  label: string,
  image: MemoryImage,
  problems: string[],
): string {
  mkdirSync(dir, { recursive: true });
  const name = `${run.name.replace(/[^a-z0-9]+/gi, '-')}-seed${run.options.seed}-${label.replace(/[^a-z0-9.]+/gi, '_')}.json`;
  const file = path.join(dir, name);
  writeFileSync(
    file,
    JSON.stringify(
      {
        workload: run.name,
        options: run.options,
        point,
        label,
        problems,
        bufferSize: run.bufferSize,
        bases: run.bases.map((b) => ({ lsn: Lsn.format(b.lsn), ackedAt: b.ackedAt })),
        records: run.records.map((r) => ({
          lsn: Lsn.format(r.lsn),
          type: r.type,
          data: Buffer.from(r.data).toString('base64'),
          undoNextLsn: Lsn.format(r.undoNextLsn),
          previousLsn: Lsn.format(r.previousLsn),
          ackedAt: r.ackedAt === Infinity ? null : r.ackedAt,
        })),
        image: { base: b64(image.base), containers: image.containers.map(b64) },
      },
      null,
      1,
    ),
  );
  return file;
}

export async function enumerate(workload: Workload, options: EnumerateOptions): Promise<EnumerationResult> {
  const run = await record(workload, options.seed);
  const random = prng(options.seed ^ 0x5bd1e995);
  const points = choosePoints(run.events.length, options.points, random);
  const result: EnumerationResult = {
    workload: workload.name,
    events: run.events.length,
    points: points.length,
    images: 0,
    failures: [],
  };
  for (const point of points) {
    for (const { image, label } of imagesAt(run, point, random, options.budget)) {
      const deep = result.images % options.deepEvery === 0;
      const problems = await verifyImage(run, point, image, { crashDuringRecovery: deep, appendAfter: deep, random });
      result.images++;
      if (problems.length > 0) {
        const artifact = saveArtifact(options.artifactDir, run, point, label, image, problems);
        result.failures.push({ point, label, problems, artifact });
        if (result.failures.length >= 5) return result;
      }
    }
  }
  return result;
}
