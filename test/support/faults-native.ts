// The native-path fault tiers' workload and checks: a child process that
// appends under load and reports every record whose flush resolved, line by
// line, into a side file outside the log (each line with a write(2) of its
// own before the next step: a SIGKILL takes the process, not the kernel's
// page cache, so no fsync is needed; stdout would not do, as a pipe the
// parent has not drained holds later writes inside the process); and the
// checks the parent runs on the reopened log (RELIABILITY.md I1-I4).
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { cp, rm } from 'node:fs/promises';

import { expect } from 'vitest';

import { crc32c, Log, Lsn, type OpenLogOptions } from '../../lib/index.ts';
import { payloadFor, payloadSource } from './log.ts';
import { sleep } from './faults.ts';

/** The LSN of a new log's first record: its base until a base move. */
export const FIRST_LSN = Lsn.create(1, 0, 0);

/** What a restart record written by the load child holds. */
export function restartText(seed: number, round: number, index: number): string {
  return `clfs-restart ${seed} ${round} ${index}`;
}

const sha1 = (data: Uint8Array): string => createHash('sha1').update(data).digest('hex');

/** A child's report file, as written so far ('' if it has none). */
export function readReport(file: string): string {
  return existsSync(file) ? readFileSync(file, 'utf8') : '';
}

/** What the load child does (ARGS of {@link LOAD_CHILD}). */
export interface LoadArgs {
  path: string;
  /** The side file the child reports into. */
  report: string;
  seed: number;
  round: number;
  durability: 'dsync' | 'fdatasync';
  engine: 'uring' | 'threads';
  /** Create the log first (else open it). */
  create?: { containerSize: number; containers: number; maxContainers: number };
  /** Buffer size of each marshalling area. */
  areas: number[];
  /** Writers: `single:<area>` (forceFlush appends), `batch:<area>` (appendBatch + forceFlush), `lazy:<area>` (appends, some forceAppend, then flushToLsn). */
  writers: string[];
  /** Largest payload (each area must take it). */
  maxPayload: number;
  /** Milliseconds between checkpoints (restart area with a base move, or advanceLogBase); 0: none. */
  checkpointMs: number;
  /** Acked records the base stays behind the newest one. */
  baseLag: number;
  /** Stop after this many data records and close the log (absent: run until killed). */
  records?: number;
}

/**
 * The load child. Prints `phase open` (before opening or creating the log)
 * and `ready` (after) on stdout, and reports into ARGS.report:
 * - `phase open` and `ready` too;
 * - `ack <lsn> <seq> <sha1>` once a data record's flush resolved;
 * - `want-base <lsn>` before a base move, `base <lsn>` once it resolved;
 * - `restart <lsn> <index> <sha1>` once a restart area was written;
 * - `closed` after a clean close (bounded runs).
 * Records are payloadFor(seed, round, seq), seq in call order (so in LSN
 * order); restart records hold restartText(seed, round, index).
 */
export const LOAD_CHILD = `
import { Log } from 'CLFS';
import { createHash } from 'node:crypto';
import { openSync, writeSync } from 'node:fs';
${payloadSource}
const A = ARGS;
const report = openSync(A.report, 'a');
const say = (line) => writeSync(report, line + '\\n');
const progress = (line) => {
  say(line);
  process.stdout.write(line + '\\n');
};
const sha1 = (d) => createHash('sha1').update(d).digest('hex');
const options = { durability: A.durability, engine: A.engine };
progress('phase open');
const log = A.create
  ? await Log.create(A.path, { ...options, containerSize: A.create.containerSize, containers: A.create.containers,
      autoGrow: { maxContainers: A.create.maxContainers } })
  : await Log.open(A.path, options);
const areas = [];
for (const bufferSize of A.areas) areas.push(await log.createMarshallingArea({ bufferSize, flushIntervalMs: 0 }));
progress('ready');
const limit = A.records ?? Infinity;
let seq = 0;
const acked = [];
let newest = 0n;
const ack = (lsn, my, data) => {
  if (lsn > newest) newest = lsn;
  acked.push(lsn);
  if (acked.length > 4096) acked.splice(0, 2048);
  say('ack ' + lsn + ' ' + my + ' ' + sha1(data));
};
const max = (area) => {
  if (area.maxRecordSize < A.maxPayload) throw new Error('maxPayload does not fit area ' + area.bufferSize);
  return A.maxPayload;
};
async function single(area) {
  while (seq < limit) {
    const my = seq++;
    const data = payloadFor(A.seed, A.round, my, max(area));
    const { lsn } = await area.reserveAndAppend(data, { forceFlush: true });
    ack(lsn, my, data);
  }
}
async function batch(area) {
  for (let i = 0; seq < limit; i++) {
    const count = 2 + ((i * 7) % 11);
    const first = seq;
    seq += count;
    const datas = Array.from({ length: count }, (_, k) => payloadFor(A.seed, A.round, first + k, max(area)));
    const lsns = await area.appendBatch(datas, { forceFlush: true, forceAppend: i % 2 === 1 });
    lsns.forEach((lsn, k) => ack(lsn, first + k, datas[k]));
  }
}
async function lazy(area) {
  let pending = [];
  for (let i = 1; seq < limit; i++) {
    const my = seq++;
    const data = payloadFor(A.seed, A.round, my, max(area));
    const { lsn } = await area.reserveAndAppend(data, { forceAppend: i % 3 === 0 });
    pending.push([lsn, my, data]);
    if (i % 5 === 0) {
      await area.flushToLsn(lsn);
      for (const p of pending) ack(...p);
      pending = [];
    }
  }
  if (pending.length > 0) {
    await area.flushToLsn();
    for (const p of pending) ack(...p);
  }
}
let writing = true;
async function checkpointer() {
  // The largest buffers: a base move reads the block holding the new base
  // into the calling area's read buffer (see defects.test.ts).
  const area = areas.reduce((a, b) => (b.bufferSize > a.bufferSize ? b : a));
  for (let r = 0; writing; r++) {
    await new Promise((resolve) => setTimeout(resolve, A.checkpointMs));
    if (!writing || acked.length === 0) continue;
    const info = log.information();
    // Move the base some way behind the newest acked record; right up to it
    // when space runs low, so containers recycle and the log never fills.
    const low = info.currentAvailable < 2 * info.containerSize;
    const sorted = acked.slice(-2 * A.baseLag - 1).sort((a, b) => (a < b ? -1 : 1));
    const target = low ? newest : sorted[Math.max(0, sorted.length - 1 - A.baseLag)];
    const moves = target > info.baseLsn;
    if (moves) say('want-base ' + target);
    if (r % 3 === 2 && moves) {
      await area.advanceLogBase(target);
    } else {
      const data = new TextEncoder().encode('clfs-restart ' + A.seed + ' ' + A.round + ' ' + r);
      const { lsn } = await area.writeRestartArea(data, moves ? { newBaseLsn: target } : {});
      say('restart ' + lsn + ' ' + r + ' ' + sha1(data));
    }
    if (moves) say('base ' + target);
  }
}
const writers = A.writers.map((w) => {
  const [kind, index] = w.split(':');
  const area = areas[Number(index)];
  return kind === 'single' ? single(area) : kind === 'batch' ? batch(area) : lazy(area);
});
const checkpoints = A.checkpointMs > 0 ? checkpointer() : undefined;
await Promise.all(writers);
writing = false;
await checkpoints;
await log.close();
say('closed');
`;

/** A record read back: what the checks need of it. */
interface Seen {
  lsn: Lsn;
  type: 'data' | 'restart';
  crc: number;
  /** Data records: their round and seq. */
  round: number;
  seq: number;
}

/** Opens `logPath`, retrying ERR_CLFS_LOCKED for a while (a dead child's io_uring can hold the lock briefly). */
export async function openRetrying(logPath: string, options?: OpenLogOptions): Promise<Log> {
  const deadline = performance.now() + 5000;
  for (;;) {
    try {
      return await Log.open(logPath, options);
    } catch (error) {
      if ((error as { code?: string }).code !== 'ERR_CLFS_LOCKED' || performance.now() > deadline) throw error;
      await sleep(2);
    }
  }
}

/** Every record of an open log from its base, restart records included. */
export async function readEverything(log: Log): Promise<{ lsn: Lsn; type: 'data' | 'restart'; data: Uint8Array }[]> {
  const area = await log.createMarshallingArea({ bufferSize: 1 << 20, flushIntervalMs: 0 });
  try {
    const out: { lsn: Lsn; type: 'data' | 'restart'; data: Uint8Array }[] = [];
    for await (const r of area.records(undefined, 'forward', { type: 'client' })) {
      out.push({ lsn: r.lsn, type: r.type, data: r.data });
    }
    return out;
  } finally {
    await area.close();
  }
}

/**
 * What the children of one log acknowledged, over every round, and what the
 * last check recovered; `verify` checks a reopened log against it.
 */
export class ChildLedger {
  readonly seed: number;
  readonly maxPayload: number;
  /** Acked data records. */
  readonly acked = new Map<Lsn, { round: number; seq: number; sha1: string }>();
  /** Acked restart records. */
  readonly restarts = new Map<Lsn, { round: number; index: number; sha1: string }>();
  /** Every base asked for (the base recovered must be one), and the newest acked one. */
  readonly wantedBases = new Set<Lsn>([FIRST_LSN]);
  ackedBase: Lsn = FIRST_LSN;
  /** What the last check read, in LSN order. */
  recovered: Seen[] = [];
  /** Totals, for the report. */
  records = 0;

  constructor(seed: number, maxPayload: number) {
    this.seed = seed;
    this.maxPayload = maxPayload;
  }

  /** An independent copy (for checking copies of one log separately). */
  clone(): ChildLedger {
    const copy = new ChildLedger(this.seed, this.maxPayload);
    for (const [k, v] of this.acked) copy.acked.set(k, v);
    for (const [k, v] of this.restarts) copy.restarts.set(k, v);
    for (const b of this.wantedBases) copy.wantedBases.add(b);
    copy.ackedBase = this.ackedBase;
    copy.recovered = [...this.recovered];
    copy.records = this.records;
    return copy;
  }

  /** Takes in a child's report; returns how many records it acknowledged. */
  absorb(stdout: string, round: number): number {
    let acks = 0;
    // A SIGKILL can cut the child's last write short (a write crossing a page
    // of the report file stops between pages when a fatal signal is pending):
    // a line without its newline was never wholly reported. (Taking one
    // such line, an ack with half its SHA-1, made "acked record differs"
    // failures about once in 500 kills.)
    const lines = stdout.split('\n');
    lines.pop();
    for (const line of lines) {
      const [tag, a, b, c] = line.split(' ');
      if (tag === 'ack') {
        this.acked.set(BigInt(a!), { round, seq: Number(b), sha1: c! });
        acks++;
      } else if (tag === 'restart') {
        this.restarts.set(BigInt(a!), { round, index: Number(b), sha1: c! });
      } else if (tag === 'want-base') {
        this.wantedBases.add(BigInt(a!));
      } else if (tag === 'base') {
        if (BigInt(a!) > this.ackedBase) this.ackedBase = BigInt(a!);
      }
    }
    return acks;
  }

  /** The data record a child generated for (round, seq), if `data` is one. */
  #header(data: Uint8Array): { round: number; seq: number } | undefined {
    if (data.byteLength < 12) return undefined;
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    const round = view.getUint32(0);
    const seq = view.getUint32(4);
    const expected = payloadFor(this.seed, round, seq, this.maxPayload);
    return Buffer.from(expected).equals(Buffer.from(data)) ? { round, seq } : undefined;
  }

  /**
   * Opens the log (recovery) and checks it after round `round`:
   * - I1: every acked record at or above the base is there, byte-exact; the
   *   base is not older than the newest acked base move, and is one that was
   *   asked for; the restart area is not older than the newest acked one;
   * - I2: every record is one a child generated, in LSN order, and the data
   *   records run on in sequence (each round from seq 0, no gaps);
   * - I3/I4: what the previous check recovered is still there, unchanged,
   *   and everything after it comes from round `round` (nothing stale).
   * With `twice`, the log is opened a second time and must read the same.
   */
  async verify(
    logPath: string,
    round: number,
    context: string,
    options: { open?: OpenLogOptions; twice?: boolean } = {},
  ): Promise<{ records: number; base: Lsn }> {
    // CLFS_FAULT_KEEP=<dir>: keep the image each check starts from (the last
    // one is there after a failure), to replay a rare failure offline.
    const keep = process.env.CLFS_FAULT_KEEP;
    if (keep !== undefined && keep !== '') {
      await rm(keep, { recursive: true, force: true });
      await cp(logPath, keep, { recursive: true });
    }
    const log = await openRetrying(logPath, options.open);
    let base: Lsn;
    let restartLsn: Lsn;
    let read: Awaited<ReturnType<typeof readEverything>>;
    try {
      ({ baseLsn: base, restartLsn } = log.information());
      read = await readEverything(log);
    } finally {
      await log.close();
    }
    if (options.twice) {
      const again = await openRetrying(logPath, options.open);
      try {
        const second = await readEverything(again);
        const same =
          second.length === read.length &&
          second.every((r, i) => r.lsn === read[i]!.lsn && Buffer.from(r.data).equals(Buffer.from(read[i]!.data)));
        expect(same, `${context}: I3: a second recovery read ${second.length} records, the first ${read.length}`).toBe(
          true,
        );
      } finally {
        await again.close();
      }
    }

    // The base and the restart area.
    expect(this.wantedBases.has(base), `${context}: base ${Lsn.format(base)} was never asked for`).toBe(true);
    if (base < this.ackedBase) {
      expect.fail(`${context}: I1: base ${Lsn.format(base)} is older than the acked ${Lsn.format(this.ackedBase)}`);
    }
    const newestRestart = [...this.restarts.keys()].reduce((m, l) => (l > m ? l : m), Lsn.NULL);
    if (newestRestart !== Lsn.NULL && (restartLsn === Lsn.INVALID || restartLsn < newestRestart)) {
      expect.fail(
        `${context}: I1: restart area ${Lsn.format(restartLsn)} older than acked ${Lsn.format(newestRestart)}`,
      );
    }

    // I2: generated records, in order, data records in sequence.
    const seen: Seen[] = [];
    let last: { round: number; seq: number } | undefined;
    for (const [i, r] of read.entries()) {
      const at = `${context}: record ${i} at ${Lsn.format(r.lsn)}`;
      if (i > 0 && !(r.lsn > read[i - 1]!.lsn)) expect.fail(`${at}: I2: LSNs out of order`);
      if (r.type === 'restart') {
        const text = new TextDecoder().decode(r.data);
        const match = /^clfs-restart (\d+) (\d+) (\d+)$/.exec(text);
        if (match === null || Number(match[1]) !== this.seed)
          expect.fail(`${at}: I2: restart record '${text}' (phantom)`);
        seen.push({ lsn: r.lsn, type: 'restart', crc: crc32c(r.data), round: Number(match[2]), seq: -1 });
        continue;
      }
      const header = this.#header(r.data);
      if (header === undefined) expect.fail(`${at}: I2: ${r.data.byteLength} bytes no child generated (phantom)`);
      if (last === undefined) {
        // The first record: the base itself, or the first of some round.
        if (base === FIRST_LSN ? header.seq !== 0 : r.lsn !== base) {
          expect.fail(
            `${at}: I2: round ${header.round} seq ${header.seq} is the first record above base ${Lsn.format(base)}`,
          );
        }
      } else {
        const follows =
          (header.round === last.round && header.seq === last.seq + 1) ||
          (header.round > last.round && header.seq === 0);
        if (!follows) {
          expect.fail(
            `${at}: I2: round ${header.round} seq ${header.seq} follows round ${last.round} seq ${last.seq} (gap or reordering)`,
          );
        }
      }
      last = header;
      seen.push({ lsn: r.lsn, type: 'data', crc: crc32c(r.data), ...header });
    }

    // I1: acked records at or above the base.
    const byLsn = new Map(read.map((r) => [r.lsn, r.data]));
    for (const [lsn, ack] of this.acked) {
      if (lsn < base) continue;
      const data = byLsn.get(lsn);
      if (data === undefined) {
        expect.fail(`${context}: I1: acked record round ${ack.round} seq ${ack.seq} at ${Lsn.format(lsn)} lost`);
      }
      if (sha1(data) !== ack.sha1) {
        expect.fail(`${context}: I1: acked record round ${ack.round} seq ${ack.seq} at ${Lsn.format(lsn)} differs`);
      }
    }
    for (const [lsn, ack] of this.restarts) {
      if (lsn < base) continue;
      const data = byLsn.get(lsn);
      if (data === undefined || sha1(data) !== ack.sha1) {
        expect.fail(`${context}: I1: acked restart record ${ack.index} at ${Lsn.format(lsn)} lost or changed`);
      }
    }

    // I3/I4: the previous check's records above the base are unchanged; the
    // rest is new, from this round.
    const previousEnd = this.recovered.length > 0 ? this.recovered[this.recovered.length - 1]!.lsn : Lsn.NULL;
    const now = new Map(seen.map((s) => [s.lsn, s]));
    for (const old of this.recovered) {
      if (old.lsn < base) continue;
      const s = now.get(old.lsn);
      if (s === undefined || s.crc !== old.crc) {
        expect.fail(`${context}: I3/I4: record ${Lsn.format(old.lsn)} recovered before is gone or changed`);
      }
    }
    for (const s of seen) {
      if (s.lsn > previousEnd && s.round !== round) {
        expect.fail(`${context}: I4: record ${Lsn.format(s.lsn)} of round ${s.round} after the previous end (stale)`);
      }
    }
    this.recovered = seen;
    this.records = seen.length;
    return { records: seen.length, base };
  }

  /**
   * I4: appends continue after recovery. Appends one record (round
   * `round`, the next seq) with forceFlush, closes, and checks the reopened
   * log ends with it. The ledger counts it as acked.
   */
  async appendAndCheck(logPath: string, round: number, context: string, options?: OpenLogOptions): Promise<void> {
    const lastData = [...this.recovered].reverse().find((s) => s.type === 'data');
    const seq = lastData !== undefined && lastData.round === round ? lastData.seq + 1 : 0;
    const data = payloadFor(this.seed, round, seq, this.maxPayload);
    const log = await openRetrying(logPath, options);
    let lsn: Lsn;
    try {
      const area = await log.createMarshallingArea({ bufferSize: 64 * 1024, flushIntervalMs: 0 });
      ({ lsn } = (await area.reserveAndAppend(data, { forceFlush: true })) as { lsn: Lsn });
    } finally {
      await log.close();
    }
    this.acked.set(lsn, { round, seq, sha1: sha1(data) });
    await this.verify(logPath, round, `${context} (after appending at ${Lsn.format(lsn)})`, { open: options });
    const end = this.recovered[this.recovered.length - 1];
    expect(end?.lsn, `${context}: I4: the record appended after recovery is not the last`).toBe(lsn);
  }
}
