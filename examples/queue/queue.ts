/**
 * A durable job queue on a clfs log: at-least-once delivery, and the log's
 * base as the queue's head (see README.md beside this file).
 *
 * - `enqueue` appends the job as a record (`forceFlush`): the record's LSN
 *   is the job's id, and the job is delivered once it is durable. The same
 *   atomic append reserves room for the two records the job will need: its
 *   acknowledgement and one restart area (below).
 * - `take` hands the oldest job nobody holds to a consumer; holding is kept
 *   in memory only, so a consumer that dies with the process gets its jobs
 *   again after the restart (and one that dies alone, after
 *   `redeliverAfterMs`).
 * - `ack` appends an acknowledgement record into the job's reservation
 *   (`useReservation`, `forceFlush`: concurrent acks share a write) and
 *   resolves once it is durable: the job is never delivered again. An ack
 *   can never meet a full log, whatever the producers did.
 * - The base moves over the prefix of acknowledged jobs: a restart area
 *   naming the prefix's last job (`through`), written with `newBaseLsn:
 *   through` into one job's reserved restart room (the other jobs of the
 *   prefix free theirs). An ack of a job that is not the oldest is
 *   remembered (its record stays above the base) until the older ones are
 *   acknowledged. The restart room is what keeps a full log from locking:
 *   moving the base never needs free space.
 * - A full log makes `enqueue` wait for consumers to acknowledge
 *   (`logFullTimeoutMs`, CLFS's HandleLogFull), then ERR_CLFS_LOG_FULL:
 *   back-pressure on the producers.
 *
 * The prefix never passes a job whose LSN the queue has not learned yet:
 * an append's LSN is above every LSN learned before it was called, so while
 * an enqueue is unresolved the prefix stops at the newest job learned
 * before that call (see #advance).
 * @module
 */
import { ClfsError, type Log, type Lsn, type MarshallingArea } from 'clfs';

import { openOrCreate } from '../shared/log.ts';

/** A job as a consumer gets it. */
export interface Job {
  /** The job's id: its record's LSN. */
  id: Lsn;
  /** What was enqueued. */
  payload: string;
}

/** Options of {@link JobQueue.open}. */
export interface QueueOptions {
  /** Container size of a new log (default 1 MiB). */
  containerSize?: number;
  /** Containers of a new log (default 4). */
  containers?: number;
  /** How long an enqueue waits for room before ERR_CLFS_LOG_FULL, in ms (default 10 000). */
  logFullTimeoutMs?: number;
  /**
   * A job taken and neither acknowledged nor released within this many ms
   * is taken again by the next consumer (its consumer is presumed dead), in ms
   * (default 30 000). Until then it holds the base back.
   */
  redeliverAfterMs?: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

// Records: a job is `j` and its payload; an acknowledgement `a` and the
// job's LSN in 16 hex digits; a restart area the prefix's last job's LSN in
// 16 hex digits. Fixed sizes, so one reservation fits each.
const hex = (lsn: Lsn): string => lsn.toString(16).padStart(16, '0');
const ACK_SIZE = 17;
const RESTART_SIZE = 16;

/** A durable job queue. */
export class JobQueue {
  readonly #log: Log;
  readonly #area: MarshallingArea;
  /** Jobs learned and not behind the acknowledged prefix, oldest first. */
  readonly #jobs: { id: Lsn; payload: string; acked: boolean; durable?: Promise<void> }[] = [];
  /** Jobs ready to be taken, oldest first. */
  readonly #ready: Job[] = [];
  /** Jobs taken and not acknowledged: when each was taken. */
  readonly #held = new Map<Lsn, { job: Job; at: number }>();
  readonly #redeliverAfterMs: number;
  #newest: Lsn | undefined;
  /** Unresolved enqueues: the newest job learned when each was called. */
  readonly #unresolved = new Set<{ floor: Lsn | undefined }>();
  #advancing: Promise<void> = Promise.resolve();
  #again = false;
  #closed = false;

  private constructor(log: Log, area: MarshallingArea, redeliverAfterMs: number) {
    this.#log = log;
    this.#area = area;
    this.#redeliverAfterMs = redeliverAfterMs;
  }

  /** Opens the queue at `path` (created if there is none); jobs not acknowledged are ready again. */
  static async open(path: string, options: QueueOptions = {}): Promise<JobQueue> {
    const log = await openOrCreate(path, {
      containerSize: options.containerSize ?? 1024 * 1024,
      containers: options.containers ?? 4,
    });
    try {
      const area = await log.createMarshallingArea({
        bufferSize: 64 * 1024,
        logFullTimeoutMs: options.logFullTimeoutMs ?? 10_000,
      });
      const queue = new JobQueue(log, area, options.redeliverAfterMs ?? 30_000);
      await queue.#recover();
      log.on('advance-tail', () => queue.#advance());
      return queue;
    } catch (error) {
      await log.close().catch(() => undefined);
      throw error;
    }
  }

  /** Jobs ready to be taken. */
  get ready(): number {
    return this.#ready.length;
  }

  /** The log's base: the queue's durable head. */
  get baseLsn(): Lsn {
    return this.#log.information().baseLsn;
  }

  /** Appends a job; resolves with its id once it is durable (and can be taken). */
  async enqueue(payload: string): Promise<Lsn> {
    this.#checkOpen();
    const call = { floor: this.#newest };
    this.#unresolved.add(call);
    try {
      const { lsn } = await this.#area.reserveAndAppend(encoder.encode(`j${payload}`), {
        reservations: [ACK_SIZE, RESTART_SIZE],
        forceFlush: true,
      });
      this.#learn(lsn!, payload, false);
      return lsn!;
    } finally {
      this.#unresolved.delete(call);
    }
  }

  /**
   * The oldest job nobody holds (or one held too long), now held by the
   * caller until it acks or releases it; undefined if none.
   */
  take(): Job | undefined {
    this.#checkOpen();
    const now = Date.now();
    for (const held of this.#held.values()) {
      if (now - held.at < this.#redeliverAfterMs) continue;
      held.at = now;
      return held.job;
    }
    const job = this.#ready.shift();
    if (job !== undefined) this.#held.set(job.id, { job, at: now });
    return job;
  }

  /** Gives a taken job back (it is the next one taken). */
  release(job: Job): void {
    if (this.#held.delete(job.id)) this.#ready.unshift(job);
  }

  /** Acknowledges a job: resolves once that is durable (the job is never delivered again). */
  async ack(job: Job): Promise<void> {
    this.#checkOpen();
    const entry = this.#jobs.find((j) => j.id === job.id);
    if (entry === undefined) return; // behind the base: acknowledged durably
    if (!entry.acked) {
      entry.acked = true;
      this.#held.delete(job.id);
      const record = encoder.encode(`a${hex(job.id)}`);
      entry.durable = this.#area.reserveAndAppend(record, { useReservation: true, forceFlush: true }).then(() => {
        if (this.#jobs[0] === entry) this.#advance();
      });
    }
    await entry.durable; // a second ack of the job (it was delivered twice) waits for the first's record
  }

  /** Resolves once the base has moved over the jobs acknowledged so far (it moves in the background). */
  async settled(): Promise<void> {
    for (let last; last !== this.#advancing;) {
      last = this.#advancing;
      await last;
    }
  }

  /** Closes the queue (jobs held and not acknowledged are delivered again at the next open). */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#advancing;
    await this.#log.close();
  }

  #checkOpen(): void {
    if (this.#closed) throw new Error('the queue is closed');
  }

  #learn(id: Lsn, payload: string, acked: boolean): void {
    let at = this.#jobs.length;
    while (at > 0 && this.#jobs[at - 1]!.id > id) at--;
    this.#jobs.splice(at, 0, { id, payload, acked });
    if (!acked) this.#ready.push({ id, payload });
    if (this.#newest === undefined || id > this.#newest) this.#newest = id;
  }

  async #recover(): Promise<void> {
    let through: Lsn | undefined;
    try {
      const restart = await this.#area.readRestartArea();
      restart.context.terminate();
      through = BigInt(`0x${decoder.decode(restart.data)}`);
    } catch (error) {
      if (!(error instanceof ClfsError && error.code === 'ERR_CLFS_NO_RESTART')) throw error;
    }
    this.#newest = through;
    const jobs = new Map<Lsn, string>();
    const acked = new Set<Lsn>();
    for await (const record of this.#area.records()) {
      const text = decoder.decode(record.data);
      if (text.startsWith('a')) acked.add(BigInt(`0x${text.slice(1)}`));
      else if (through === undefined || record.lsn > through) jobs.set(record.lsn, text.slice(1));
    }
    for (const [id, payload] of jobs) this.#learn(id, payload, acked.has(id));
    // The reservations of the jobs left (not durable: made again; the log kept their room free).
    const unacked = this.#jobs.filter((j) => !j.acked).length;
    const sizes = [...Array<number>(unacked).fill(ACK_SIZE), ...Array<number>(this.#jobs.length).fill(RESTART_SIZE)];
    if (sizes.length > 0) await this.#area.allocReservedLog(sizes.length, this.#area.alignReservedLog(sizes));
    this.#advance();
  }

  /** Moves the base over the acknowledged prefix (one at a time; a call meanwhile runs again after). */
  #advance(): void {
    if (this.#again) return;
    this.#again = true;
    this.#advancing = this.#advancing.then(async () => {
      this.#again = false;
      if (this.#closed) return;
      await this.#moveBase().catch(() => undefined); // a failure shows in the next call that needs the log
    });
  }

  async #moveBase(): Promise<void> {
    // The prefix stops at the newest job learned before any unresolved enqueue was called.
    let limit: Lsn | undefined;
    let limited = false;
    for (const { floor } of this.#unresolved) {
      if (!limited || floor === undefined || (limit !== undefined && floor < limit)) limit = floor;
      limited = true;
    }
    let through: Lsn | undefined;
    let passed = 0;
    while (this.#jobs.length > 0 && this.#jobs[0]!.acked) {
      const id = this.#jobs[0]!.id;
      if (limited && (limit === undefined || id > limit)) break;
      through = this.#jobs.shift()!.id;
      passed++;
    }
    if (through === undefined) return;
    await this.#area.writeRestartArea(encoder.encode(hex(through)), { newBaseLsn: through, useReservation: true });
    if (passed > 1) {
      const rest = Array<number>(passed - 1).fill(RESTART_SIZE);
      await this.#area.freeReservedLog(rest.length, this.#area.alignReservedLog(rest));
    }
  }
}
