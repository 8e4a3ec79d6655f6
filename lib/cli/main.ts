#!/usr/bin/env node
/**
 * `clfs`: the command line (package.json's `bin`). One file per command;
 * this one picks the command, and turns every failure into one line on
 * stderr, `clfs: <message> (<code>)`, and an exit code (common.ts's EXIT).
 * @module
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

import { ClfsError } from '../errors.ts';
import { packageRoot } from '../native/binding.ts';
import { bench } from './bench.ts';
import { EXIT, EXIT_HELP, usageError, type Command } from './common.ts';
import { create } from './create.ts';
import { dump } from './dump.ts';
import { info } from './info.ts';
import { stats } from './stats.ts';
import { tail } from './tail.ts';
import { verify } from './verify.ts';

const COMMANDS: readonly Command[] = [create, info, dump, verify, stats, tail, bench];

function version(): string {
  const manifest = path.join(packageRoot(), 'package.json');
  return (JSON.parse(readFileSync(manifest, 'utf8')) as { version: string }).version;
}

function help(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return `clfs ${version()}: inspect, check and create clfs logs

Usage: clfs <command> [options]

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}

Options:
  -h, --help     this help; \`clfs <command> --help\` for a command's
  -v, --version  the package's version

Read commands open the log read-only: they take no lock and write nothing,
so they work while a writer has it open. --json on a read command prints
JSON (LSNs as "0x..." hex strings) instead of text.

${EXIT_HELP}`;
}

/** The exit code for a failure. */
function exitCodeOf(error: unknown): number {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === 'ERR_CLFS_CORRUPT') return EXIT.damaged;
  if (typeof code === 'string' && (code.startsWith('ERR_PARSE_ARGS_') || code.startsWith('ERR_INVALID_ARG_'))) {
    return EXIT.usage;
  }
  return code === 'ERR_OUT_OF_RANGE' ? EXIT.usage : EXIT.failed;
}

/** A failure as one line: its message and code (`CLFS_DEBUG=1` prints the stack too). */
function describe(error: unknown): string {
  if (process.env.CLFS_DEBUG) console.error(error);
  if (!(error instanceof Error)) return `clfs: ${String(error)}`;
  const code = (error as { code?: unknown }).code;
  const message = error.message.split('\n')[0]!;
  return `clfs: ${message}${typeof code === 'string' ? ` (${code})` : error instanceof ClfsError ? '' : ' (internal error)'}`;
}

/** Runs the command line `args` (after `clfs`); resolves with the exit code. */
export async function main(args: string[]): Promise<number> {
  const [name, ...rest] = args;
  try {
    if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
      process.stdout.write(`${help()}\n`);
      return name === undefined ? EXIT.usage : EXIT.ok;
    }
    if (name === '--version' || name === '-v') {
      process.stdout.write(`${version()}\n`);
      return EXIT.ok;
    }
    const command = COMMANDS.find((c) => c.name === name);
    if (command === undefined) {
      throw usageError(
        name.startsWith('-')
          ? `unknown option '${name}' (see clfs --help)`
          : `unknown command '${name}' (commands: ${COMMANDS.map((c) => c.name).join(', ')})`,
      );
    }
    return await command.run(rest);
  } catch (error) {
    process.stderr.write(`${describe(error)}\n`);
    return exitCodeOf(error);
  }
}

// A reader that goes away (`clfs dump PATH | head`) ends the output, not with an error.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(EXIT.ok);
  throw error;
});

process.exitCode = await main(process.argv.slice(2));
