/**
 * A record as an append hands it to the writer: its header fields and its
 * data pieces, laid out in the block with their alignment.
 * @module
 */
import { alignUp, type RecordTypeName } from '../../format/block.ts';
import type { Lsn } from '../../lsn.ts';

/** One record to append. */
export interface RecordSpec {
  type: RecordTypeName;
  /** Data pieces, concatenated (each starting at a multiple of entryAlignment). */
  entries: readonly Uint8Array[];
  entryAlignment: number;
  undoNextLsn: Lsn;
  previousLsn: Lsn;
  newBaseLsn: Lsn;
}

/** The spec with its own copy of the entries' bytes (the caller may reuse its arrays once a call returns). */
export function copySpec(spec: RecordSpec): RecordSpec {
  return { ...spec, entries: spec.entries.map((e) => e.slice()) };
}

/** Data length of a record once its entries are laid out with their alignment. */
export function dataLengthOf(entries: readonly Uint8Array[], entryAlignment: number): number {
  let length = 0;
  for (const entry of entries) length = alignUp(length, entryAlignment) + entry.byteLength;
  return length;
}
