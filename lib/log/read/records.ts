/**
 * area.records(): the records a read context reads, as an async iterator.
 * @module
 */
import { Lsn } from '../../lsn.ts';
import type { Follow } from './follow.ts';
import type { ReadContext } from './read-context.ts';
import type { LogRecord, RecordTypeFilter } from './read-types.ts';

/**
 * The records `context` reads from its current one on, those of `filter`'s
 * type; terminates it at the end. With `follow`, the end is waited past
 * (follow.ts), and each record given once durable.
 */
export async function* recordsFrom(
  context: ReadContext,
  filter: RecordTypeFilter,
  follow?: Follow,
): AsyncGenerator<LogRecord, void, undefined> {
  try {
    let record: LogRecord | null = context.record;
    let given = Lsn.INVALID;
    for (;;) {
      while (record !== null) {
        const waiting = follow?.durable(record.lsn);
        if (waiting !== undefined) await waiting;
        if (filter === 'client' || record.type === filter) yield record;
        given = record.lsn;
        // Records in the block already read come without a promise each.
        record = context.nextBuffered() ?? (await context.next());
      }
      if (follow === undefined) return;
      await follow.more(given);
      record = await context.next();
    }
  } finally {
    context.terminate();
  }
}
