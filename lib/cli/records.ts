/**
 * Records as `dump` and `tail` print them: one line each, the data as hex,
 * UTF-8 text or JSON.
 * @module
 */
import { MAX_BLOCK_SIZE } from '../format/block.ts';
import type { Log } from '../log/log.ts';
import type { MarshallingArea } from '../log/marshalling-area.ts';
import type { LogRecord } from '../log/read/read-types.ts';
import { Lsn } from '../lsn.ts';
import { json, parseChoice, withLog, write } from './common.ts';

export const FORMATS = ['hex', 'utf8', 'json'] as const;
export type DataFormat = (typeof FORMATS)[number];

/** The options `dump` and `tail` share. */
export const RECORD_OPTIONS = {
  from: { type: 'string' },
  format: { type: 'string' },
  json: { type: 'boolean' },
} as const;

export const RECORD_OPTIONS_HELP = `  --format FMT  how to print each record's data: hex (default), utf8 (text),
                json (the data parsed as JSON: for records that hold JSON)
  --json        one JSON object per line: { lsn, type, size, previousLsn,
                undoNextLsn, data } (LSNs as "0x..." strings; data as --format
                says, or null with dataHex when it is not JSON)`;

/** --format's value. */
export function dataFormat(text: string | undefined): DataFormat {
  return text === undefined ? 'hex' : parseChoice('--format', text, FORMATS);
}

/** An area to read with: buffers as large as the largest block, so any record of any log can be read. */
export function readingArea(log: Log): Promise<MarshallingArea> {
  return log.createMarshallingArea({ bufferSize: MAX_BLOCK_SIZE, maxReadBuffers: 2, flushIntervalMs: 0 });
}

const decoder = new TextDecoder();

/** The data as `format` says: a string, or for 'json' the parsed value (undefined when it does not parse). */
function dataAs(data: Uint8Array, format: DataFormat): unknown {
  if (format === 'hex') return Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('hex');
  const text = decoder.decode(data);
  if (format === 'utf8') return text;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** A record as one line of text or JSON (no newline). */
export function recordLine(record: LogRecord, format: DataFormat, asJson: boolean): string {
  const data = dataAs(record.data, format);
  const hex = (): string => dataAs(record.data, 'hex') as string;
  if (asJson) {
    return json({
      lsn: record.lsn,
      type: record.type,
      size: record.data.byteLength,
      previousLsn: record.previousLsn,
      undoNextLsn: record.undoNextLsn,
      data: data === undefined ? null : data,
      ...(data === undefined ? { dataHex: hex() } : {}),
    });
  }
  const links = [
    record.previousLsn === Lsn.INVALID ? '' : ` prev=${Lsn.format(record.previousLsn)}`,
    record.undoNextLsn === Lsn.INVALID ? '' : ` undoNext=${Lsn.format(record.undoNextLsn)}`,
  ].join('');
  const shown = format === 'hex' ? (data as string) : data === undefined ? `(not JSON) ${hex()}` : JSON.stringify(data);
  return `${Lsn.format(record.lsn)} ${record.type.padEnd(7)} ${record.data.byteLength} B${links}  ${shown}`;
}

/** Where a read starts: a record, and how many records to leave out there (0 or 1). */
export interface Start {
  from: Lsn | undefined;
  skip: number;
}

/** What `printLog` reads and prints. */
export interface Reading {
  /** Where to start, decided once the log is open; undefined: nothing to print. */
  start(log: Log): Start | undefined;
  /** The records from `from` on. */
  records(area: MarshallingArea, from: Lsn | undefined): AsyncIterable<LogRecord>;
  format: DataFormat;
  json: boolean;
  /** Print at most this many. */
  limit: number;
}

/** Opens the log at `path` read-only and prints the records `reading` says. */
export async function printLog(path: string, reading: Reading): Promise<void> {
  await withLog(path, async (log) => {
    const start = reading.start(log);
    if (start === undefined || reading.limit === 0) return;
    const area = await readingArea(log);
    let skip = start.skip;
    let printed = 0;
    for await (const record of reading.records(area, start.from)) {
      if (skip > 0) {
        skip--;
        continue;
      }
      await write(`${recordLine(record, reading.format, reading.json)}\n`);
      // Stop here: reading one more could meet damage past what was asked for.
      if (++printed >= reading.limit) return;
    }
  });
}
