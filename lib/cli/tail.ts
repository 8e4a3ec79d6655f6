/**
 * `clfs tail PATH`: prints new records as a writer makes them durable,
 * until SIGINT (Ctrl-C) or SIGTERM.
 * @module
 */
import { Lsn } from '../lsn.ts';
import { EXIT, EXIT_HELP, parse, parseCount, parseLsn, type Command } from './common.ts';
import { RECORD_OPTIONS, RECORD_OPTIONS_HELP, dataFormat, printLog } from './records.ts';

const HELP = `Usage: clfs tail PATH [options]

Follows the log at PATH: prints each record once it is known durable, as
another process appends them, until Ctrl-C (SIGINT) or SIGTERM (exit 0).
Read-only: takes no lock, so the writer goes on. Lines as \`clfs dump\`
prints them. A record shows once it is known durable: a later block of the
writer's vouches for it, or the writer records its durable tail (an idle
writer does so idlePublishMs after its last flush: 200 ms by default).

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
    const given = values.from === undefined ? undefined : parseLsn('--from', values.from);
    const pollInterval = values.interval === undefined ? 100 : Math.max(1, parseCount('--interval', values.interval));
    const stop = new AbortController();
    const abort = (): void => stop.abort();
    process.once('SIGINT', abort);
    process.once('SIGTERM', abort);
    try {
      await printLog(positionals[0]!, {
        // By default only what comes next: the last record now, left out.
        start(log) {
          const last = log.information().lastLsn;
          if (given !== undefined) return { from: given, skip: 0 };
          return last === Lsn.INVALID ? { from: undefined, skip: 0 } : { from: last, skip: 1 };
        },
        records: (area, from) =>
          area.records(from, 'forward', {
            type: 'client',
            view: true,
            follow: true,
            signal: stop.signal,
            pollInterval,
          }),
        format: dataFormat(values.format),
        json: values.json === true,
        limit: Infinity,
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
