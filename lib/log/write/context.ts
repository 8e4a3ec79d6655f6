/**
 * The types the writer's parts share: what the log gives the writer (its
 * storage and geometry, its generation, the containers, where recovery left
 * the log's end), what a marshalling area lends it, and a block in memory.
 * @module
 */
import type { Lsn } from '../../lsn.ts';
import type { LogStorage } from '../../storage/storage.ts';

/** What a marshalling area lends the writer: its write buffers, one per block. */
export interface BufferOwner {
  readonly bufferSize: number;
  /** A write buffer of bufferSize bytes; waits when the area has none to give. */
  acquireWriteBuffer(): Uint8Array | Promise<Uint8Array>;
  /** A write buffer if the area has one to give now, else undefined. */
  tryAcquireWriteBuffer(): Uint8Array | undefined;
  releaseWriteBuffer(buffer: Uint8Array): void;
}

/**
 * An append that must not wait for a write buffer in the log's turn: the
 * buffer it got before its turn, if any (taken, set to undefined, when used).
 */
export interface SpareBuffer {
  buffer: Uint8Array | undefined;
}

/** What an append given a SpareBuffer returns when it needs a buffer its area cannot give now. */
export const NO_BUFFER: unique symbol = Symbol('no write buffer');
export type NoBuffer = typeof NO_BUFFER;

/** A block in memory: open (filling) or sealed (waiting, in flight). */
export interface MemoryBlock {
  readonly lsn: Lsn;
  readonly owner: BufferOwner;
  readonly buffer: Uint8Array;
  readonly view: DataView;
  readonly logicalId: number;
  readonly physical: number;
  readonly offset: number;
  /** The block before it in the log (INVALID for the first). */
  readonly previousBlockLsn: Lsn;
  /** Most bytes this block may take (buffer size, or to the container's end). */
  readonly capacity: number;
  used: number;
  count: number;
  /** Offset of each record's header in the buffer. */
  readonly recordOffsets: number[];
  /** Set when sealed. */
  length: number;
  /** 'failed': never to be written (the log fail-stopped first). */
  state: 'open' | 'sealed' | 'writing' | 'written' | 'durable' | 'failed';
}

/** The log's side of the writer. */
export interface WriterContext {
  storage: LogStorage;
  unit: number;
  containerSize: number;
  logId: bigint;
  epoch: bigint;
  /** Physical index of a logical container, -1 if none. */
  physicalOf(logicalId: number): number;
  /** Makes logical container `logicalId` exist (recycling or growing); ERR_CLFS_LOG_FULL if it cannot. Persists before resolving. */
  provideContainer(logicalId: number): Promise<number>;
  /** Told whenever flushes settle (the durable watermark may have moved). */
  onDurable?: () => void;
}

/** Where recovery left the log's end: the writer starts there. */
export interface WriterStart {
  logicalId: number;
  offset: number;
  previousBlockLsn: Lsn;
  lastLsn: Lsn;
}
