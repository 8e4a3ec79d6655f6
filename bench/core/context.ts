/**
 * What every case runs against: the options, the benchmark directory, the
 * preallocated device files, fio, the peers' stores, and the logs (made on
 * first use, before anything is measured).
 * @module
 */
import { randomFillSync } from 'node:crypto';
import path from 'node:path';

import { Log, Lsn, type LogInformation } from '../../lib/index.ts';
import { preallocatedFile } from '../support/files.ts';
import type { FioInfo, FioResult } from '../support/fio.ts';
import type { PeerAvailability, PeerId, PeerStore } from '../support/peers.ts';

export const KiB = 1024;
export const MiB = 1024 * 1024;

export interface BenchOptions {
  quick: boolean;
  reps: number;
  /** Measured seconds of a timed case. */
  seconds: number;
  warmup: number;
  /** Size of the DirectFile, fio and raw-peer files. */
  fileBytes: number;
  /** Container size of the commit/append log (4 containers, recycled). */
  containerBytes: number;
  /** W6/W7: the data between the restart area and the end (1 GiB; quick 64 MiB). */
  scanBytes: number;
  /** W8: bytes streamed (4 GiB; quick 256 MiB). */
  streamBytes: number;
  /** maxWriteBuffers of the streaming areas (W4, W5, W8). */
  maxWriteBuffers: number;
}

/** The log W6 and W7 read: `scanBytes` of 4 KiB records after one restart area. */
export interface ScanLog {
  path: string;
  /** The container file the records are in (for the DirectFile read reference). */
  containerFile: string;
  containerSize: number;
  /** Payload bytes and records after the restart area. */
  payloadBytes: number;
  records: number;
  /** Whether the log was last left by a crash (then opening it runs a recovery scan). */
  crashed: boolean;
}

export interface Context {
  opts: BenchOptions;
  dir: string;
  /** A preallocated, written file for DirectFile writes and reads. */
  device: { file: string; size: number };
  fio: { info: FioInfo; file: string; size: number } | null;
  peers: Map<PeerId, PeerAvailability>;
  fioResults: Map<string, FioResult[]>;
  /** Information of every log made, as made (LSNs as text). */
  logInfo: Record<string, Record<string, unknown>>;
  warnings: string[];
  /** Progress line (a TTY only). */
  progress(text: string): void;
  /** The dsync log the commit and append cases share (4 containers, recycled). */
  commitLog(): Promise<Log>;
  /** A preallocated file of `fileBytes` named `name` (made once). */
  file(name: string): Promise<string>;
  /** W6/W7's log; `make` builds it when it does not exist yet. */
  scanLog: ScanLog | null;
  closeLogs(): Promise<void>;
}

/** LogInformation with its LSNs as text, for JSON. */
export function infoJson(info: LogInformation): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(info)) out[key] = typeof value === 'bigint' ? Lsn.format(value) : value;
  return out;
}

export function randomRecords(count: number, size: number): Uint8Array[] {
  return Array.from({ length: count }, () => randomFillSync(new Uint8Array(size)));
}

/** The store of an available peer, or undefined. */
export function peerStore(ctx: Context, id: PeerId): PeerStore | undefined {
  const p = ctx.peers.get(id);
  return p?.available === true ? p.store : undefined;
}

/** Containers of the commit log; the base advancer keeps two of them free. */
export const COMMIT_CONTAINERS = 4;

export function makeContext(
  base: Omit<Context, 'commitLog' | 'file' | 'scanLog' | 'closeLogs' | 'logInfo' | 'fioResults'>,
): Context {
  let commitLog: Promise<Log> | undefined;
  const files = new Map<string, Promise<string>>();
  const ctx: Context = {
    ...base,
    fioResults: new Map(),
    logInfo: {},
    scanLog: null,
    commitLog() {
      commitLog ??= (async () => {
        const log = await Log.create(path.join(ctx.dir, 'log-commit'), {
          containerSize: ctx.opts.containerBytes,
          containers: COMMIT_CONTAINERS,
          durability: 'dsync',
          // A safety net only: the base advancer keeps containers free. Growth is reported.
          autoGrow: { maxContainers: 64 },
        });
        const info = log.information();
        if (info.direct !== true)
          throw new Error(`the commit log is not doing direct I/O (information().direct is ${info.direct})`);
        ctx.logInfo.commit = infoJson(info);
        return log;
      })();
      return commitLog;
    },
    file(name) {
      let made = files.get(name);
      if (made === undefined) {
        const file = path.join(ctx.dir, name);
        made = preallocatedFile(file, ctx.opts.fileBytes).then((r) => {
          if (!r.direct) throw new Error(`no direct I/O on ${file}: ${r.reason}`);
          return file;
        });
        files.set(name, made);
      }
      return made;
    },
    async closeLogs() {
      if (commitLog === undefined) return;
      const made = commitLog;
      commitLog = undefined;
      const log = await made.catch(() => undefined);
      if (log === undefined) return;
      const info = log.information();
      if (info.totalContainers > COMMIT_CONTAINERS) {
        ctx.warnings.push(
          `the commit log grew to ${info.totalContainers} containers (autoGrow): appends outran the base advancer, and growth happened inside measured windows`,
        );
      }
      ctx.logInfo.commitAtEnd = infoJson(info);
      await log.close();
    },
  };
  return ctx;
}
