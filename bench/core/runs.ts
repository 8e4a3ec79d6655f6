/**
 * The measured loops the workloads share: clfs commits (one record or a
 * batch per durable commit, N committers), clfs appends without flush, and
 * the same closed loop around a peer's commit.
 * @module
 */
import type { Lsn } from '../../lib/index.ts';
import { BaseAdvancer } from '../support/base-advancer.ts';
import { closedLoop, cpuSince, type LoopResult } from '../support/loops.ts';
import type { PeerStore } from '../support/peers.ts';
import { summarize } from '../support/stats.ts';
import { KiB, randomRecords, type Context } from './context.ts';
import type { CaseRun } from './types.ts';

/** Buffer size of the areas that commit one record (or one batch) at a time. */
export const COMMIT_BUFFER = 64 * KiB;

/** A closed loop's result as a CaseRun; `perOp` records per operation. */
export function loopRun(r: LoopResult, perOp = 1): CaseRun {
  const s = summarize(r.samples, r.elapsedMs, r.bytes);
  const records = s.ops * perOp;
  return {
    ops: s.ops,
    opsPerSec: s.opsPerSec,
    seconds: s.seconds,
    p50Us: s.p50Us,
    p99Us: s.p99Us,
    meanUs: s.meanUs,
    bytes: s.bytes,
    mbPerSec: s.mbPerSec,
    cpuUsPerOp: r.cpuUs / s.ops,
    records,
    recordsPerSec: records / s.seconds,
    cpuUsPerRecord: r.cpuUs / records,
  };
}

export interface CommitSpec {
  committers: number;
  /** Record size in bytes. */
  size: number;
  /** Records per durable commit: 1 = reserveAndAppend(record, { forceFlush }), more = appendBatch(records, { forceFlush }). */
  batch: number;
  bufferSize?: number;
}

/**
 * N committers on one marshalling area of the commit log, each looping one
 * durable commit: `reserveAndAppend(record, { forceFlush: true })` or
 * `appendBatch(records, { forceFlush: true })`.
 */
export async function clfsCommitRun(ctx: Context, spec: CommitSpec): Promise<CaseRun> {
  const log = await ctx.commitLog();
  const area = await log.createMarshallingArea({ bufferSize: spec.bufferSize ?? COMMIT_BUFFER });
  try {
    const advancer = new BaseAdvancer(area);
    const records = Array.from({ length: spec.committers }, () => randomRecords(spec.batch, spec.size));
    const bytesPerOp = spec.batch * spec.size;
    let last: Lsn | undefined;
    const note = (lsn: Lsn | undefined): void => {
      advancer.note(lsn);
      if (lsn !== undefined && (last === undefined || lsn > last)) last = lsn;
    };
    const op =
      spec.batch === 1
        ? async (w: number): Promise<number> => {
            const { lsn } = await area.reserveAndAppend(records[w]![0]!, { forceFlush: true });
            note(lsn);
            return bytesPerOp;
          }
        : async (w: number): Promise<number> => {
            const lsns = await area.appendBatch(records[w]!, { forceFlush: true });
            note(lsns[lsns.length - 1]);
            return bytesPerOp;
          };
    if (ctx.opts.warmup > 0) await closedLoop(spec.committers, ctx.opts.warmup, op);
    const before = log.ioStatistics();
    const r = await closedLoop(spec.committers, ctx.opts.seconds, op, 300_000);
    const after = log.ioStatistics();
    await advancer.idle();
    const run = loopRun(r, spec.batch);
    run.blocksPerCommit = (after.flushes - before.flushes) / run.ops;
    run.bytesWrittenPerCommit = (after.bytesFlushed - before.bytesFlushed) / run.ops;
    run.writtenPerPayload = (after.bytesFlushed - before.bytesFlushed) / r.bytes;
    run.metadataWrites = after.metadataFlushes - before.metadataFlushes;
    // Outside the window: everything so far becomes reclaimable for the next case.
    if (last !== undefined) await area.advanceLogBase(last);
    return run;
  } finally {
    await area.close();
  }
}

export interface StreamSpec {
  size: number;
  /** Records per call: 1 = await reserveAndAppend(record), more = await appendBatch(records). */
  batch: number;
  bufferSize: number;
  maxWriteBuffers: number;
}

/**
 * One appender awaiting each reserveAndAppend (or appendBatch) without
 * flushing, then one flushBuffers(): the window covers both.
 */
export async function clfsStreamRun(ctx: Context, spec: StreamSpec): Promise<CaseRun> {
  const log = await ctx.commitLog();
  const area = await log.createMarshallingArea({ bufferSize: spec.bufferSize, maxWriteBuffers: spec.maxWriteBuffers });
  try {
    const advancer = new BaseAdvancer(area);
    const records = randomRecords(spec.batch, spec.size);
    let last: Lsn | undefined;
    let peak = 0;
    const op =
      spec.batch === 1
        ? async (): Promise<void> => {
            const { lsn } = await area.reserveAndAppend(records[0]!);
            advancer.note(lsn);
            last = lsn;
          }
        : async (): Promise<void> => {
            const lsns = await area.appendBatch(records);
            last = lsns[lsns.length - 1];
            advancer.note(last);
          };
    // A sequential loop with one clock read per call.
    const loop = async (seconds: number): Promise<{ ops: number; elapsedMs: number }> => {
      const start = performance.now();
      const deadline = start + seconds * 1000;
      let now = start;
      let ops = 0;
      while (now < deadline) {
        await op();
        now = performance.now();
        ops++;
        const held = area.buffersAllocated.write;
        if (held > peak) peak = held;
      }
      return { ops, elapsedMs: now - start };
    };
    if (ctx.opts.warmup > 0) {
      await loop(ctx.opts.warmup);
      await area.flushBuffers();
    }
    peak = 0;
    const before = log.ioStatistics();
    const cpu = process.cpuUsage();
    const r = await loop(ctx.opts.seconds);
    const flushStart = performance.now();
    await area.flushBuffers();
    const flushMs = performance.now() - flushStart;
    const cpuUs = cpuSince(cpu);
    const after = log.ioStatistics();
    await advancer.idle();
    const seconds = (r.elapsedMs + flushMs) / 1000;
    const records_ = r.ops * spec.batch;
    const payload = records_ * spec.size;
    const run: CaseRun = {
      ops: r.ops,
      opsPerSec: r.ops / seconds,
      seconds,
      bytes: payload,
      mbPerSec: payload / seconds / 1e6,
      cpuUsPerOp: cpuUs / r.ops,
      records: records_,
      recordsPerSec: records_ / seconds,
      cpuUsPerRecord: cpuUs / records_,
      flushMs,
      writtenPerPayload: (after.bytesFlushed - before.bytesFlushed) / payload,
      metadataWrites: after.metadataFlushes - before.metadataFlushes,
      peakWriteBuffers: peak,
    };
    if (last !== undefined) await area.advanceLogBase(last);
    return run;
  } finally {
    await area.close();
  }
}

/** N committers looping a peer's durable commit of one record, or of `batch` records in one transaction. */
export async function peerRun(
  ctx: Context,
  store: PeerStore,
  committers: number,
  size: number,
  batch = 1,
): Promise<CaseRun> {
  const records = Array.from({ length: committers }, () => randomRecords(batch, size));
  const op =
    batch === 1
      ? async (w: number): Promise<number> => {
          await store.commit(records[w]![0]!);
          return size;
        }
      : async (w: number): Promise<number> => {
          await store.commitBatch(records[w]!);
          return size * batch;
        };
  if (ctx.opts.warmup > 0) await closedLoop(committers, ctx.opts.warmup, op);
  return loopRun(await closedLoop(committers, ctx.opts.seconds, op), batch);
}
