/**
 * `clfs tail PATH`: prints new records as a writer makes them durable,
 * until SIGINT (Ctrl-C) or SIGTERM.
 * @module
 */
import { ClfsError } from '../errors.ts';
import type { Log } from '../log/log.ts';
import type { MarshallingArea } from '../log/marshalling-area.ts';
import type { LogRecord } from '../log/read/read-types.ts';
import { Lsn } from '../lsn.ts';
import { EXIT, EXIT_HELP, lsnText, parse, parseCount, parseLsn, usageError, type Command } from './common.ts';
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
  --interval MS   how often to look for new records, in ms (1 to 3600000;
                  default 100)
${RECORD_OPTIONS_HELP}
  -h, --help      this help

${EXIT_HELP}`;

const OPTIONS = { ...RECORD_OPTIONS, interval: { type: 'string' } } as const;

/** --interval: 1 ms to an hour (records()'s pollInterval). */
function parseInterval(text: string): number {
  const ms = parseCount('--interval', text);
  if (ms < 1 || ms > 3_600_000) throw usageError(`--interval: ${ms} is not between 1 and 3600000 ms`);
  return ms;
}

/**
 * The records from `from` on, following the log. A writer that moves its
 * base past the record the reader is at (a consumer slower than the base
 * moves) drops records before they were read: that is said on stderr, and
 * the records go on from the new base.
 */
async function* following(
  log: Log,
  area: MarshallingArea,
  from: Lsn | undefined,
  options: { pollInterval: number | undefined; signal: AbortSignal },
): AsyncGenerator<LogRecord, void, undefined> {
  let next = from;
  for (;;) {
    try {
      yield* area.records(next, 'forward', { type: 'client', view: true, follow: true, ...options });
      return;
    } catch (error) {
      if (!(error instanceof ClfsError && error.code === 'ERR_CLFS_START_OF_LOG')) throw error;
      next = log.information().baseLsn;
      process.stderr.write(
        `clfs: the writer moved the base to ${lsnText(next)} past records not yet printed; going on from there\n`,
      );
    }
  }
}

export const tail: Command = {
  name: 'tail',
  summary: 'follow new records until Ctrl-C: PATH [--from LSN --format hex|utf8|json]',
  help: HELP,
  async run(args) {
    const parsed = parse(args, OPTIONS, ['PATH'], HELP);
    if (parsed === undefined) return EXIT.ok;
    const { values, positionals } = parsed;
    const given = values.from === undefined ? undefined : parseLsn('--from', values.from);
    const pollInterval = values.interval === undefined ? undefined : parseInterval(values.interval);
    const stop = new AbortController();
    const abort = (): void => stop.abort();
    process.once('SIGINT', abort);
    process.once('SIGTERM', abort);
    let log: Log | undefined;
    try {
      await printLog(positionals[0]!, {
        // By default only what comes next: the last record now, left out.
        start(opened) {
          log = opened;
          const last = opened.information().lastLsn;
          if (given !== undefined) return { from: given, skip: 0 };
          return last === Lsn.INVALID ? { from: undefined, skip: 0 } : { from: last, skip: 1 };
        },
        records: (area, from) => following(log!, area, from, { pollInterval, signal: stop.signal }),
        format: dataFormat(values.format),
        json: values.json === true,
        limit: Infinity,
      });
    } catch (error) {
      // Ctrl-C or SIGTERM: the iteration ends with the signal's AbortError.
      if (!(stop.signal.aborted && error instanceof Error && error.name === 'AbortError')) throw error;
    } finally {
      process.off('SIGINT', abort);
      process.off('SIGTERM', abort);
    }
    return EXIT.ok;
  },
};
