/**
 * clfs: the Windows Common Log File System's marshalling-area model for
 * Node.js, over real direct I/O.
 * @module
 */
export { ClfsError, type ArgumentCode, type ClfsCode, type ClfsErrorDetails, type ErrorCode } from './errors.ts';
export {
  alignedBuffer,
  memoryInfo,
  misalignment,
  releaseBuffer,
  MAX_ALIGNMENT,
  MAX_BUFFER_SIZE,
  type AlignedBufferOptions,
  type MemoryInfo,
  type Pool,
} from './native/memory.ts';
export { crc32c, crc32cImplementation, crc32cPortable } from './native/crc32c.ts';
export {
  DirectFile,
  type ChecksumRange,
  type DirectFileOptions,
  type DirectFileStats,
  type Durability,
  type IoEngine,
} from './native/direct-file.ts';
export { Lsn } from './lsn.ts';
export { Log, type LogInformation, type LogIoStatistics } from './log/log.ts';
export type { StorageStats } from './storage/storage.ts';
export type { CreateLogOptions, OpenLogOptions } from './log/options.ts';
export { DEFAULT_POLICY, type LogPolicy } from './log/policy.ts';
export type { AdvanceTailEvent, LogEvents } from './log/space-manager.ts';
export type { ArchiveExtent, ArchiveImage, ArchiveSnapshot } from './log/archive.ts';
export type { ExtentReader } from './log/restore.ts';
export {
  MarshallingArea,
  type AppendOptions,
  type AppendResult,
  type AppendedResult,
  type AreaBuffers,
  type BufferAllocator,
  type Entries,
  type MarshallingAreaOptions,
  type RestartArea,
  type RestartWritten,
} from './log/marshalling-area.ts';
export {
  ReadContext,
  type LogRecord,
  type ReadMode,
  type ReadOptions,
  type RecordTypeFilter,
  type RestartRecord,
} from './log/read/read-context.ts';
export type { RecordsOptions } from './log/read/read-types.ts';
export type { RecoveryReport, SkippedRange } from './log/recovery.ts';
