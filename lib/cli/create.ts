/**
 * `clfs create PATH`: makes a new log.
 * @module
 */
import { Log } from '../log/log.ts';
import { EXIT, EXIT_HELP, bytesText, json, parse, parseCount, parseSize, table, type Command } from './common.ts';

const HELP = `Usage: clfs create PATH [options]

Creates a log in the directory PATH (which must not exist), its containers
preallocated and written, and closes it.

Options:
  --container-size SIZE  bytes per container, rounded up to a multiple of 512K
                         (512K .. 4G; suffixes K, M, G are powers of 1024;
                         default 16M)
  --containers N         containers to create, at least 2 (default 2)
  --archive              an archive log (records are kept for setArchiveTail)
  --json                 print the new log's information as JSON
  -h, --help             this help

${EXIT_HELP}`;

const OPTIONS = {
  'container-size': { type: 'string' },
  containers: { type: 'string' },
  archive: { type: 'boolean' },
  json: { type: 'boolean' },
} as const;

export const create: Command = {
  name: 'create',
  summary: 'create a log: PATH [--container-size SIZE] [--containers N]',
  help: HELP,
  async run(args) {
    const parsed = parse(args, OPTIONS, ['PATH'], HELP);
    if (parsed === undefined) return EXIT.ok;
    const { values, positionals } = parsed;
    const size = values['container-size'];
    const count = values.containers;
    const log = await Log.create(positionals[0]!, {
      ...(size === undefined ? {} : { containerSize: parseSize('--container-size', size) }),
      ...(count === undefined ? {} : { containers: parseCount('--containers', count) }),
      archive: values.archive === true,
    });
    const information = log.information();
    await log.close();
    if (values.json === true) {
      process.stdout.write(`${json(information, 2)}\n`);
    } else {
      const { totalContainers, containerSize, direct } = information;
      process.stdout.write(
        `${table([
          ['created', log.path],
          ['containers', `${totalContainers} x ${bytesText(containerSize)}`],
          ['I/O', direct ? 'direct' : 'buffered'],
        ])}\n`,
      );
    }
    return EXIT.ok;
  },
};
