/**
 * What the `clfs` commands share: argument parsing (`util.parseArgs`,
 * strict), sizes and LSNs as typed, the exit codes, output, and opening a
 * log for reading.
 * @module
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';

import { ClfsError } from '../errors.ts';
import { Log } from '../log/log.ts';
import { Lsn } from '../lsn.ts';

/** The exit codes every command uses (`clfs --help` lists them). */
export const EXIT = {
  /** Done; `verify`: the log is clean. */
  ok: 0,
  /** `verify`: a torn tail (what a crash leaves, and recovery cuts): not damage. */
  tornTail: 1,
  /** The log is damaged (ERR_CLFS_CORRUPT; `verify`: damage found, its LSN named). */
  damaged: 2,
  /** Any other failure: no log, a locked or existing one, an I/O error. */
  failed: 3,
  /** Bad arguments: an unknown command or option, a bad value, a missing PATH. */
  usage: 64,
} as const;

/** The exit codes, as `--help` says them. */
export const EXIT_HELP = `Exit codes:
  0   done (verify: the log is clean)
  1   verify: a torn tail (a write a crash cut short; recovery drops it): not damage
  2   the log is damaged (ERR_CLFS_CORRUPT); verify names the LSN
  3   other failures: no log there, a locked or existing one, I/O errors
  64  bad arguments`;

/** A command of the command line. */
export interface Command {
  name: string;
  /** One line for `clfs --help`. */
  summary: string;
  /** `clfs <name> --help`. */
  help: string;
  /** Runs the command with the arguments after its name; resolves with the exit code. */
  run(args: string[]): Promise<number>;
}

/** A bad argument: exit code 64, one line. */
export function usageError(message: string): ClfsError {
  return new ClfsError('ERR_INVALID_ARG_VALUE', message);
}

type Options = NonNullable<ParseArgsConfig['options']>;

/** The values of `options` as parsed: a string or a boolean each, by its type. */
export type Values<O extends Options> = { [K in keyof O]?: O[K]['type'] extends 'string' ? string : boolean };

/** What parse() found: the options' values and the positionals. */
export interface Parsed<O extends Options> {
  values: Values<O>;
  positionals: string[];
}

/**
 * Parses `args` strictly against `options` (plus `--help`/`-h`), with at
 * most `positionals` positional arguments named in `names` (each required).
 * Prints `help` and resolves undefined when `--help` was given.
 */
export function parse<O extends Options>(
  args: string[],
  options: O,
  names: readonly string[],
  help: string,
): Parsed<O> | undefined {
  const parsed = parseArgs({
    args,
    options: { ...options, help: { type: 'boolean', short: 'h' } },
    strict: true,
    allowPositionals: true,
  });
  const values = parsed.values as Record<string, string | boolean | undefined>;
  if (values.help === true) {
    process.stdout.write(`${help}\n`);
    return undefined;
  }
  if (parsed.positionals.length > names.length) {
    throw usageError(`unexpected argument '${parsed.positionals[names.length]}' (see --help)`);
  }
  if (parsed.positionals.length < names.length) {
    throw usageError(`missing ${names[parsed.positionals.length]} (see --help)`);
  }
  return { values: values as Values<O>, positionals: parsed.positionals };
}

const SUFFIXES: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** A byte count: an integer with an optional binary suffix (`512K`, `64M`, `1G`, `64MiB`). */
export function parseSize(option: string, text: string): number {
  const match = /^(\d+)\s*([kmg]?)(?:i?b)?$/i.exec(text.trim());
  const n = match === null ? NaN : Number(match[1]) * SUFFIXES[match[2]!.toLowerCase()]!;
  if (!Number.isSafeInteger(n)) throw usageError(`${option}: '${text}' is not a size (bytes, or 512K, 64M, 1G)`);
  return n;
}

/** A count: a non-negative integer. */
export function parseCount(option: string, text: string): number {
  const n = /^\d+$/.test(text.trim()) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n)) throw usageError(`${option}: '${text}' is not a whole number`);
  return n;
}

/** An LSN as clfs prints it (`0x0000000100001000`) or in decimal. */
export function parseLsn(option: string, text: string): Lsn {
  const t = text.trim();
  let lsn: bigint | undefined;
  if (/^0x[0-9a-f]{1,16}$/i.test(t) || /^\d{1,20}$/.test(t)) lsn = BigInt(t);
  if (lsn === undefined || !Lsn.isValid(lsn)) {
    throw usageError(
      `${option}: '${text}' is not an LSN (0x and up to 16 hex digits, as clfs prints them, or decimal)`,
    );
  }
  return lsn;
}

/** One of `allowed`. */
export function parseChoice<T extends string>(option: string, text: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(text)) {
    throw usageError(`${option}: '${text}' is not one of ${allowed.join(', ')}`);
  }
  return text as T;
}

/** `value` as JSON, LSNs (bigints) as hex strings. */
export function json(value: unknown, indent?: number): string {
  return JSON.stringify(value, Lsn.replacer, indent);
}

/** An LSN as printed, `-` for Lsn.INVALID (no such record). */
export function lsnText(lsn: Lsn): string {
  return lsn === Lsn.INVALID ? '-' : Lsn.format(lsn);
}

/** Bytes for people: `1.5 MiB`. */
export function bytesText(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${n} B` : `${Number.isInteger(value) ? value : value.toFixed(1)} ${units[unit]}`;
}

/** Lines of `key  value`, the keys padded to one width. */
export function table(rows: readonly (readonly [string, string])[]): string {
  const width = Math.max(...rows.map(([key]) => key.length));
  return rows.map(([key, value]) => `${key.padEnd(width)}  ${value}`).join('\n');
}

/**
 * Writes `text` to stdout, waiting for it to drain when its buffer is full
 * (a dump of a large log into a slow pipe holds little in memory).
 */
export function write(text: string): Promise<void> | undefined {
  if (process.stdout.write(text)) return undefined;
  return new Promise((resolve) => process.stdout.once('drain', resolve));
}

/**
 * Opens the log at `path` for reading: read-only (no lock taken, nothing
 * written; it works while a writer runs), buffered where the filesystem
 * refuses direct I/O.
 */
export function openForReading(path: string): Promise<Log> {
  return Log.open(path, { readOnly: true, allowBuffered: true });
}

/** Runs `body` with the log at `path` open for reading, and closes it. */
export async function withLog<T>(path: string, body: (log: Log) => Promise<T>): Promise<T> {
  const log = await openForReading(path);
  try {
    return await body(log);
  } finally {
    await log.close();
  }
}
