/**
 * One error class for everything clfs reports. Every error has a stable
 * `code`; those with a CLFS counterpart carry its name in `clfsError`; system
 * errors carry `errno`, `syscall` and `path` as Node's `fs` errors do.
 * @module
 */
import { hex64 } from './util/hex.ts';

/** The `ERR_CLFS_*` codes and the CLFS (Win32) error each corresponds to. */
const CLFS_ERRORS = {
  ERR_CLFS_LOG_FULL: 'ERROR_LOG_FULL',
  ERR_CLFS_RECORD_TOO_LARGE: 'ERROR_INVALID_PARAMETER',
  ERR_CLFS_BLOCKS_EXHAUSTED: 'ERROR_LOG_BLOCKS_EXHAUSTED',
  ERR_CLFS_START_OF_LOG: 'ERROR_LOG_START_OF_LOG',
  ERR_CLFS_RESERVATION_INVALID: 'ERROR_LOG_RESERVATION_INVALID',
  ERR_CLFS_INVALID_LSN: 'ERROR_LOG_RECORD_NONEXISTENT',
  ERR_CLFS_TAIL_INVALID: 'ERROR_LOG_TAIL_INVALID',
  // A record dropped by a truncation (area.truncateLog): a flush or append
  // of it that was pending, or a base that named it.
  ERR_CLFS_TRUNCATED: 'ERROR_LOG_RECORD_NONEXISTENT',
  ERR_CLFS_NO_RESTART: 'ERROR_LOG_NO_RESTART',
  ERR_CLFS_CORRUPT: 'ERROR_LOG_BLOCK_INVALID',
  ERR_CLFS_LOCKED: 'ERROR_SHARING_VIOLATION',
  ERR_CLFS_CLOSED: 'ERROR_INVALID_HANDLE',
  ERR_CLFS_CONTEXT_BUSY: 'ERROR_BUSY',
  ERR_CLFS_IO_FAILED: 'ERROR_LOG_APPENDED_FLUSH_FAILED',
  ERR_CLFS_MISALIGNED: 'ERROR_INVALID_PARAMETER',
  ERR_CLFS_PIN_LIMIT: 'ERROR_WORKING_SET_QUOTA',
  ERR_CLFS_DIRECT_IO_UNSUPPORTED: 'ERROR_NOT_SUPPORTED',
  ERR_CLFS_EXISTS: 'ERROR_ALREADY_EXISTS',
  ERR_CLFS_NOT_FOUND: 'ERROR_FILE_NOT_FOUND',
  // A log policy whose fields contradict each other (minContainers above maxContainers).
  ERR_CLFS_POLICY_INVALID: 'ERROR_LOG_POLICY_INVALID',
  // A change the log's policy forbids now (a container count outside [minContainers, maxContainers]).
  ERR_CLFS_POLICY_CONFLICT: 'ERROR_LOG_POLICY_CONFLICT',
  // removeContainers: a container that would go holds records at or above the base.
  ERR_CLFS_CONTAINER_ACTIVE: 'ERROR_LOG_CONTAINER_STATE_INVALID',
  // setArchiveTail / prepareArchive on a log created without `archive: true`.
  ERR_CLFS_EPHEMERAL: 'ERROR_LOG_EPHEMERAL',
  // A truncation that would drop records an archive snapshot not yet released covers.
  ERR_CLFS_ARCHIVE_IN_PROGRESS: 'ERROR_LOG_ARCHIVE_IN_PROGRESS',
  // A writing call on a log opened with `readOnly: true` (CLFS: a handle
  // opened with GENERIC_READ only).
  ERR_CLFS_READ_ONLY: 'ERROR_ACCESS_DENIED',
  ERR_CLFS_ENGINE_UNAVAILABLE: undefined,
  // A symbolic link, hard link, FIFO, socket, device or directory where a
  // log's file belongs. CLFS opens its files in the kernel and has no such
  // error; clfs refuses them rather than write through them.
  ERR_CLFS_UNSAFE_FILE: undefined,
  // No native addon for this platform: no prebuilt binary matched and none
  // was built (install scripts blocked, or the build failed).
  ERR_CLFS_ADDON_MISSING: undefined,
} as const;

/** A code of clfs's own (see the README's error table). */
export type ClfsCode = keyof typeof CLFS_ERRORS;

/** Node's argument-error codes, which clfs uses for bad arguments. */
export type ArgumentCode = 'ERR_INVALID_ARG_TYPE' | 'ERR_INVALID_ARG_VALUE' | 'ERR_OUT_OF_RANGE';

/**
 * Every `code` a {@link ClfsError} can have: clfs's own, Node's argument
 * codes, and system error names such as `'EIO'` or `'ENOSPC'`.
 */
export type ErrorCode = ClfsCode | ArgumentCode | (string & {});

/** Extra properties an error may carry. */
export interface ClfsErrorDetails {
  /** Negative errno, as in Node's `fs` errors (`-5` for EIO). */
  errno?: number;
  /** The system call that failed. */
  syscall?: string;
  /** The file involved. */
  path?: string;
  /** The LSN where damage was found, or that was refused. */
  lsn?: bigint;
  /** The error that caused this one (for `ERR_CLFS_IO_FAILED`, the first failure). */
  cause?: unknown;
  [key: string]: unknown;
}

/**
 * The error clfs throws and rejects with.
 *
 * @example
 * ```ts
 * try {
 *   await Log.open(path);
 * } catch (error) {
 *   if (error instanceof ClfsError && error.code === 'ERR_CLFS_LOCKED') {
 *     // another process has the log open
 *   }
 * }
 * ```
 */
export class ClfsError extends Error {
  /** Stable identifier of the failure; see {@link ErrorCode}. */
  readonly code: ErrorCode;
  /** The CLFS error name this corresponds to, where there is one (e.g. `'ERROR_LOG_FULL'`); absent otherwise. */
  declare readonly clfsError?: string;
  /** Negative errno for system errors. */
  declare readonly errno?: number;
  /** The failed system call, for system errors. */
  declare readonly syscall?: string;
  /** The file involved, where there is one. */
  declare readonly path?: string;
  /** The LSN concerned, for log errors that name one. */
  declare readonly lsn?: bigint;

  constructor(code: ErrorCode, message: string, details?: ClfsErrorDetails) {
    const { cause, ...rest } = details ?? {};
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'ClfsError';
    this.code = code;
    const clfsError = (CLFS_ERRORS as Record<string, string | undefined>)[code];
    // Absent rather than undefined where CLFS has no counterpart (system and argument errors).
    if (clfsError !== undefined) Object.defineProperty(this, 'clfsError', { value: clfsError, enumerable: true });
    for (const [key, value] of Object.entries(rest)) {
      if (value !== undefined) Object.defineProperty(this, key, { value, enumerable: true });
    }
  }

  /** For JSON.stringify: name, code, message and the details, an LSN as a hex string. */
  toJSON(): Record<string, unknown> {
    const out: Record<string, unknown> = { name: this.name, code: this.code, message: this.message };
    for (const [key, value] of Object.entries(this)) {
      out[key] = typeof value === 'bigint' ? hex64(value) : value;
    }
    return out;
  }
}

/**
 * A Node.js system error (from node:fs) as a ClfsError with the same code,
 * errno, syscall and path; anything else is returned as it is.
 */
export function fromSystemError(error: unknown): unknown {
  if (error instanceof ClfsError || !(error instanceof Error)) return error;
  const e = error as NodeJS.ErrnoException;
  if (typeof e.code !== 'string') return error;
  return new ClfsError(e.code, e.message, { errno: e.errno, syscall: e.syscall, path: e.path, cause: error });
}

/**
 * `error` with the directory `from` named `to` in its message and path: an
 * error met while a log was being made in a temporary directory names the
 * log's own path, the one the caller gave.
 */
export function relocated(error: unknown, from: string, to: string): unknown {
  if (!(error instanceof ClfsError)) return error;
  const move = (text: string): string => text.split(from).join(to);
  const { name: _name, code: _code, clfsError: _clfs, ...rest } = { ...error };
  const details: ClfsErrorDetails = { ...rest, cause: error.cause ?? error };
  if (error.path !== undefined) details.path = move(error.path);
  return new ClfsError(error.code, move(error.message), details);
}

/** Describes a received value the way Node's argument errors do. */
function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'function') return `function ${value.name || '<anonymous>'}`;
  if (typeof value === 'object') {
    const name = (value as object).constructor?.name;
    return name ? `an instance of ${name}` : 'an object';
  }
  let shown = typeof value === 'bigint' ? `${value}n` : String(value);
  if (typeof value === 'string') shown = `'${value.length > 28 ? `${value.slice(0, 25)}...` : value}'`;
  return `type ${typeof value} (${shown})`;
}

/** `ERR_INVALID_ARG_TYPE`: `name` is not of the `expected` type. */
export function invalidArgType(name: string, expected: string, actual: unknown): ClfsError {
  return new ClfsError(
    'ERR_INVALID_ARG_TYPE',
    `The "${name}" argument must be ${expected}. Received ${describe(actual)}`,
  );
}

/** `ERR_INVALID_ARG_VALUE`: `name` has the right type but an unusable value. */
export function invalidArgValue(name: string, actual: unknown, reason: string): ClfsError {
  return new ClfsError('ERR_INVALID_ARG_VALUE', `The argument '${name}' ${reason}. Received ${describe(actual)}`);
}

/** `ERR_OUT_OF_RANGE`: `name` is outside `range`. */
export function outOfRange(name: string, range: string, actual: unknown): ClfsError {
  const shown = typeof actual === 'bigint' ? `${actual}n` : String(actual);
  return new ClfsError(
    'ERR_OUT_OF_RANGE',
    `The value of "${name}" is out of range. It must be ${range}. Received ${shown}`,
  );
}

/**
 * A state the code makes impossible was reached: a bug in clfs, never a
 * user's error (no `code`; the message starts `clfs: internal error:`).
 */
export class InternalError extends Error {
  override name = 'InternalError';
  constructor(what: string) {
    super(`clfs: internal error: ${what}`);
  }
}

/** Asserts an impossible state is not reached; `what` (or its thunk) names it. */
export function invariant(condition: unknown, what: string | (() => string)): asserts condition {
  if (!condition) throw new InternalError(typeof what === 'string' ? what : what());
}
