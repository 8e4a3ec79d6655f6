/**
 * `clfs tail PATH`: prints new records as a writer makes them durable,
 * until SIGINT (Ctrl-C) or SIGTERM.
 * @module
 */
import { Lsn } from '../lsn.ts';
import { EXIT, EXIT_HELP, parse, parseCount, parseLsn, withLog, type Command } from './common.ts';
import { RECORD_OPTIONS, RECORD_OPTIONS_HELP, dataFormat, printRecords, readingArea } from './records.ts';

const HELP = `Usage: clfs tail PATH [options]

Follows the log at PATH: prints each record once it is durable, as another
process appends them, until Ctrl-C (SIGINT) or SIGTERM. Read-only: takes no
lock, so the writer goes on. Lines as \`clfs dump\` prints them.

Options:
  --from LSN      start at this record (0x... hex as clfs prints LSNs, or
                  decimal); default: the records after the last one now
  --interval MS   how often to look for new records, in ms (default 100)
${RECORD_OPTIONS_HELP}
  -h, --help      this help

${EXIT_HELP}`;

const OPTIONS = { ...RECORD_OPTIONS, interval: { type: 'string' } } as const;

export const tail: Command = {
  name: 'tail',
  summary: 'follow new records until Ctrl-C: PATH [--from LSN --format hex|utf8|json]',
  help: HELP,
  async run(args) {
    const parsed = parse(args, OPTIONS, ['PATH'], HELP);
    if (parsed === undefined) return EXIT.ok;
    const { values, positionals } = parsed;
    const format = dataFormat(values.format);
    const given = values.from === undefined ? undefined : parseLsn('--from', values.from);
    const pollInterval = values.interval === undefined ? 100 : Math.max(1, parseCount('--interval', values.interval));
    const stop = new AbortController();
    const abort = (): void => stop.abort();
    process.once('SIGINT', abort);
    process.once('SIGTERM', abort);
    try {
      await withLog(positionals[0]!, async (log) => {
        const last = log.information().lastLsn;
        // By default only what comes next: start at the last record, and leave it out.
        const from = given ?? (last === Lsn.INVALID ? undefined : last);
        const skip = given === undefined && last !== Lsn.INVALID ? 1 : 0;
        const area = await readingArea(log);
        const follow = { follow: true, signal: stop.signal, pollInterval };
        const records = area.records(from, 'forward', { type: 'client', view: true, ...follow });
        await printRecords(skipFirst(records, skip), format, values.json === true);
      });
    } catch (error) {
      if (!stop.signal.aborted) throw error;
    } finally {
      process.off('SIGINT', abort);
      process.off('SIGTERM', abort);
    }
    return EXIT.ok;
  },
};

async function* skipFirst<T>(items: AsyncIterable<T>, count: number): AsyncGenerator<T> {
  let skipped = 0;
  for await (const item of items) {
    if (skipped < count) skipped++;
    else yield item;
  }
}
