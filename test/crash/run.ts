/**
 * Recording a workload for crash-state enumeration: the workload runs on
 * the LogHarness without faults (support/harness.ts), which keeps, outside
 * the files under test, every record appended and the storage event count
 * at which its flush was acknowledged.
 */
import { LogHarness, type RecordedRun } from '../support/harness.ts';
import type { Workload } from '../support/workloads.ts';

export type { RecordedRecord, RecordedRun, RunOptions } from '../support/harness.ts';

/** Runs a workload and returns the recording; any operation that rejects fails it (there are no faults). */
export async function record(workload: Workload, seed: number): Promise<RecordedRun> {
  const h = await LogHarness.start(workload.options, seed);
  let thrown: unknown;
  try {
    await workload.run(h);
  } catch (error) {
    thrown = error;
  }
  await h.finish();
  const failed = h.ops.find((op) => op.status === 'rejected');
  if (failed !== undefined)
    throw new Error(`${workload.name}: ${failed.kind} failed without a fault`, { cause: failed.error });
  if (thrown !== undefined) throw thrown;
  return h.recording(workload.name);
}
