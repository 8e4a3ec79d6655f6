/**
 * A record as an append hands it to the writer: its header fields and its
 * data pieces, and how they are laid out in a block (entries at their
 * alignment, gaps and the tail zero-filled).
 * @module
 */
import { alignUp, writeRecordHeader, type RecordTypeName } from '../../format/block.ts';
import type { Lsn } from '../../lsn.ts';

/** One record to append. */
export interface RecordSpec {
  type: RecordTypeName;
  /** Data pieces, concatenated (each starting at a multiple of entryAlignment). */
  entries: readonly Uint8Array[];
  entryAlignment: number;
  /** dataLengthOf(entries, entryAlignment), computed once when the spec is made. */
  readonly dataLength: number;
  /** Chain LSNs, INVALID when absent (the record's header carries the others: its span depends on them). */
  undoNextLsn: Lsn;
  previousLsn: Lsn;
  newBaseLsn: Lsn;
}

/** The spec with its own copy of the entries' bytes (the caller may reuse its arrays once a call returns). */
export function copySpec(spec: RecordSpec): RecordSpec {
  return { ...spec, entries: spec.entries.map((e) => e.slice()) };
}

/**
 * copySpec() of `specs[from..]`, in place, into one allocation: a batch
 * that must wait takes the records it has not placed yet, and one array for
 * all of them costs one allocation instead of one per entry.
 */
export function copySpecs(specs: RecordSpec[], from: number): void {
  let total = 0;
  for (let i = from; i < specs.length; i++) {
    const entries = specs[i]!.entries;
    for (let k = 0; k < entries.length; k++) total += entries[k]!.byteLength;
  }
  const store = new Uint8Array(total);
  let at = 0;
  for (let i = from; i < specs.length; i++) {
    const spec = specs[i]!;
    const entries: Uint8Array[] = [];
    for (let k = 0; k < spec.entries.length; k++) {
      const entry = spec.entries[k]!;
      store.set(entry, at);
      entries.push(store.subarray(at, at + entry.byteLength));
      at += entry.byteLength;
    }
    specs[i] = { ...spec, entries };
  }
}

/** Data length of a record once its entries are laid out with their alignment. */
export function dataLengthOf(entries: readonly Uint8Array[], entryAlignment: number): number {
  let length = 0;
  // An index loop: this runs several times per append, and for...of costs an iterator.
  for (let i = 0; i < entries.length; i++) length = alignUp(length, entryAlignment) + entries[i]!.byteLength;
  return length;
}

/**
 * Writes a record's header and data into a block's buffer (and its view) at
 * `at`, filling its `span` bytes (recordSpan of `dataLength` and the spec's
 * LSNs): every byte is written, the buffer may hold an older block's bytes.
 */
export function writeRecord(
  block: { readonly buffer: Uint8Array; readonly view: DataView },
  at: number,
  spec: RecordSpec,
  dataLength: number,
  span: number,
): void {
  const buffer = block.buffer;
  let cursor = writeRecordHeader(
    block.view,
    at,
    dataLength,
    spec.type,
    spec.undoNextLsn,
    spec.previousLsn,
    spec.newBaseLsn,
  );
  const dataStart = cursor;
  for (const entry of spec.entries) {
    const aligned = dataStart + alignUp(cursor - dataStart, spec.entryAlignment);
    if (aligned > cursor) buffer.fill(0, cursor, aligned);
    buffer.set(entry, aligned);
    cursor = aligned + entry.byteLength;
  }
  const end = at + span;
  if (end > cursor) buffer.fill(0, cursor, end);
}
