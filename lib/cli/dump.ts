/**
 * `clfs dump PATH`: prints records, forward from the base or along the
 * previous / undo-next chains.
 * @module
 */
import type { ReadMode } from '../log/read/read-types.ts';
import { Lsn } from '../lsn.ts';
import { EXIT, EXIT_HELP, parse, parseChoice, parseCount, parseLsn, type Command } from './common.ts';
import { RECORD_OPTIONS, RECORD_OPTIONS_HELP, dataFormat, printLog } from './records.ts';

const MODES: readonly ReadMode[] = ['forward', 'previous', 'undoNext'];

const HELP = `Usage: clfs dump PATH [options]

Prints the log's records (data and restart records), one per line: LSN,
type, size, the previous and undo-next LSNs when set, and the data. Read-only:
works while a writer runs (it sees the records durable when it opened).

Options:
  --from LSN    the first record: 0x... hex as clfs prints LSNs, or decimal
                (default: the base for forward, the last record otherwise)
  --mode MODE   forward (default), previous (along each record's previous
                LSN) or undoNext (along its undo-next LSN)
  --limit N     print at most N records
${RECORD_OPTIONS_HELP}
  -h, --help    this help

${EXIT_HELP}`;

const OPTIONS = { ...RECORD_OPTIONS, mode: { type: 'string' }, limit: { type: 'string' } } as const;

export const dump: Command = {
  name: 'dump',
  summary: 'print records: PATH [--from LSN --mode forward|previous|undoNext --limit N --format hex|utf8|json]',
  help: HELP,
  async run(args) {
    const parsed = parse(args, OPTIONS, ['PATH'], HELP);
    if (parsed === undefined) return EXIT.ok;
    const { values, positionals } = parsed;
    const mode = values.mode === undefined ? 'forward' : parseChoice('--mode', values.mode, MODES);
    const limit = values.limit === undefined ? Infinity : parseCount('--limit', values.limit);
    const given = values.from === undefined ? undefined : parseLsn('--from', values.from);
    await printLog(positionals[0]!, {
      start(log) {
        const last = log.information().lastLsn;
        const from = given ?? (mode === 'forward' || last === Lsn.INVALID ? undefined : last);
        return mode !== 'forward' && from === undefined ? undefined : { from, skip: 0 };
      },
      records: (area, from) => area.records(from, mode, { type: 'client', view: true }),
      format: dataFormat(values.format),
      json: values.json === true,
      limit,
    });
    return EXIT.ok;
  },
};
