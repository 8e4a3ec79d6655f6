/**
 * Options of Log.create / Log.open, validated.
 * @module
 */
import type { Durability, IoEngine } from '../native/direct-file.ts';
import { checkBoolean, checkInteger, checkOneOf, checkOptions } from '../validate.ts';
import { CONTAINER_GRANULE, MAX_CONTAINER_SIZE, MAX_CONTAINERS } from '../format/metadata.ts';
import { DEFAULT_POLICY, autoGrowPolicy, checkCount, resolvePolicy, type LogPolicy } from './policy.ts';

export { CONTAINER_GRANULE, MAX_CONTAINER_SIZE };

/** Options of {@link Log.create}. */
export interface CreateLogOptions {
  /** Bytes per container, rounded up to a multiple of 512 KiB (minimum 512 KiB, maximum 4 GiB). Default 16 MiB. */
  containerSize?: number;
  /** Containers to create, at least 2 (default 2). */
  containers?: number;
  /**
   * When a flush counts as durable: `'dsync'` (default) writes with
   * O_DSYNC, durable when they complete; `'fdatasync'` writes without it and
   * an fdatasync makes them durable before a flush resolves; `'none'`
   * (measurement only) never waits for the device.
   */
  durability?: Durability;
  /**
   * Where the filesystem refuses direct I/O (tmpfs), open buffered instead
   * of failing with ERR_CLFS_DIRECT_IO_UNSUPPORTED (`information().direct`
   * then says false). Default false.
   */
  allowBuffered?: boolean;
  /**
   * The log's space policy (see {@link LogPolicy}): fields not given take
   * their defaults. `minContainers` must not be above `containers`, nor
   * `maxContainers` below it (ERR_CLFS_POLICY_CONFLICT).
   */
  policy?: Partial<LogPolicy>;
  /**
   * Shorthand for `policy: { autoGrow: true }` (`true`) or
   * `policy: { autoGrow: true, maxContainers }`, kept from before policies;
   * `policy` wins where both set a field. Default false.
   */
  autoGrow?:
    | boolean
    | {
        /** The policy's `maxContainers`. */
        maxContainers: number;
      };
  /** Native I/O engine (default `$CLFS_IO_ENGINE` or 'auto'). */
  engine?: IoEngine;
  /**
   * Milliseconds the writer waits, once it has made records durable and
   * made no more durable since, before it records its durable tail in the
   * base file (one small write), so that read-only readers
   * (`Log.open(path, { readOnly: true })`) see the records of its last
   * flush: they see a record once the base file or a later block vouches
   * for it. A busy writer never needs to. Default 200; 0: never (readers
   * then see the last flush at the writer's next write, metadata update or
   * close).
   */
  idlePublishMs?: number;
  /**
   * An archive (non-ephemeral) log (CLFS's `FILE_ATTRIBUTE_ARCHIVE`): it
   * keeps an archive tail, and a container is reused only once both the
   * base and the archive tail have passed it (see `log.setArchiveTail`,
   * `log.prepareArchive`). Fixed for the log's life. Default false.
   */
  archive?: boolean;
}

/** Options of {@link Log.open}. */
export interface OpenLogOptions {
  /**
   * When a flush counts as durable: `'dsync'` (default) writes with
   * O_DSYNC, durable when they complete; `'fdatasync'` writes without it and
   * an fdatasync makes them durable before a flush resolves; `'none'`
   * (measurement only) never waits for the device.
   */
  durability?: Durability;
  /**
   * Where the filesystem refuses direct I/O (tmpfs), open buffered instead
   * of failing with ERR_CLFS_DIRECT_IO_UNSUPPORTED (`information().direct`
   * then says false). Default false.
   */
  allowBuffered?: boolean;
  /**
   * `'strict'` (default): damage in acknowledged data fails the open with
   * ERR_CLFS_CORRUPT naming the LSN. `'salvage'`: damage is skipped and
   * listed in `log.recoveryReport`.
   */
  recovery?: 'strict' | 'salvage';
  /** Native I/O engine (default `$CLFS_IO_ENGINE` or 'auto'). */
  engine?: IoEngine;
  /**
   * Milliseconds the writer waits, once it has made records durable and
   * made no more durable since, before it records its durable tail in the
   * base file (one small write), so that read-only readers
   * (`Log.open(path, { readOnly: true })`) see the records of its last
   * flush: they see a record once the base file or a later block vouches
   * for it. A busy writer never needs to. Default 200; 0: never (readers
   * then see the last flush at the writer's next write, metadata update or
   * close).
   */
  idlePublishMs?: number;
  /**
   * Open for reading only (default false): no lock is taken and nothing is
   * written, not even the base file, so the log can be read while another
   * process (or this one) has it open for writing, and inspected without
   * changing it. Recovery runs in memory: the reader sees every record known
   * durable (see {@link Log.refresh} for how it learns of new ones), never a
   * torn one. Every writing call is ERR_CLFS_READ_ONLY.
   */
  readOnly?: boolean;
}

const DURABILITIES: readonly Durability[] = ['dsync', 'fdatasync', 'none'];
const ENGINES: readonly IoEngine[] = ['auto', 'uring', 'threads'];

export interface ResolvedCreateOptions {
  containerSize: number;
  containers: number;
  durability: Durability;
  allowBuffered: boolean;
  policy: LogPolicy;
  engine: IoEngine | undefined;
  archive: boolean;
  idlePublishMs: number;
}

export interface ResolvedOpenOptions {
  durability: Durability;
  allowBuffered: boolean;
  recovery: 'strict' | 'salvage';
  engine: IoEngine | undefined;
  readOnly: boolean;
  idlePublishMs: number;
}

const CREATE_OPTIONS: readonly (keyof CreateLogOptions)[] = [
  'containerSize',
  'containers',
  'durability',
  'allowBuffered',
  'policy',
  'autoGrow',
  'engine',
  'archive',
  'idlePublishMs',
];
const OPEN_OPTIONS: readonly (keyof OpenLogOptions)[] = [
  'durability',
  'allowBuffered',
  'recovery',
  'engine',
  'readOnly',
  'idlePublishMs',
];

/** Milliseconds idle before the writer records its tail for readers (default 200; 0 never; at most an hour). */
function idlePublishMs(value: unknown): number {
  return value === undefined ? 200 : checkInteger('options.idlePublishMs', value, 0, 3_600_000);
}

export function resolveCreateOptions(options: CreateLogOptions | undefined): ResolvedCreateOptions {
  const o = checkOptions('options', options, CREATE_OPTIONS);
  const size =
    o.containerSize === undefined
      ? 16 * 1024 * 1024
      : checkInteger('options.containerSize', o.containerSize, 1, MAX_CONTAINER_SIZE);
  const containers =
    o.containers === undefined ? 2 : checkInteger('options.containers', o.containers, 2, MAX_CONTAINERS);
  const grow = autoGrowPolicy(o.autoGrow);
  if (grow.maxContainers !== undefined && grow.maxContainers < containers) {
    checkInteger('options.autoGrow.maxContainers', grow.maxContainers, containers, MAX_CONTAINERS);
  }
  const given = checkOptions('options.policy', o.policy);
  const policy = resolvePolicy('options.policy', { ...grow, ...given }, DEFAULT_POLICY);
  checkCount(policy, containers, 'Log.create');
  return {
    containerSize: Math.max(CONTAINER_GRANULE, Math.ceil(size / CONTAINER_GRANULE) * CONTAINER_GRANULE),
    containers,
    durability: o.durability === undefined ? 'dsync' : checkOneOf('options.durability', o.durability, DURABILITIES),
    allowBuffered: o.allowBuffered === undefined ? false : checkBoolean('options.allowBuffered', o.allowBuffered),
    policy,
    engine: o.engine === undefined ? undefined : checkOneOf('options.engine', o.engine, ENGINES),
    archive: o.archive === undefined ? false : checkBoolean('options.archive', o.archive),
    idlePublishMs: idlePublishMs(o.idlePublishMs),
  };
}

export function resolveOpenOptions(options: OpenLogOptions | undefined): ResolvedOpenOptions {
  const o = checkOptions('options', options, OPEN_OPTIONS);
  return {
    durability: o.durability === undefined ? 'dsync' : checkOneOf('options.durability', o.durability, DURABILITIES),
    allowBuffered: o.allowBuffered === undefined ? false : checkBoolean('options.allowBuffered', o.allowBuffered),
    recovery:
      o.recovery === undefined ? 'strict' : checkOneOf('options.recovery', o.recovery, ['strict', 'salvage'] as const),
    engine: o.engine === undefined ? undefined : checkOneOf('options.engine', o.engine, ENGINES),
    readOnly: o.readOnly === undefined ? false : checkBoolean('options.readOnly', o.readOnly),
    idlePublishMs: idlePublishMs(o.idlePublishMs),
  };
}
