/**
 * area.records(): the records a read context reads, as an async iterator.
 * @module
 */
import type { ReadContext } from './read-context.ts';
import type { LogRecord, RecordTypeFilter } from './read-types.ts';

/** The records `context` reads from its current one on, those of `filter`'s type; terminates it at the end. */
export async function* recordsFrom(
  context: ReadContext,
  filter: RecordTypeFilter,
): AsyncGenerator<LogRecord, void, undefined> {
  try {
    let record: LogRecord | null = context.record;
    while (record !== null) {
      if (filter === 'client' || record.type === filter) yield record;
      // Records in the block already read come without a promise each.
      record = context.nextBuffered() ?? (await context.next());
    }
  } finally {
    context.terminate();
  }
}
