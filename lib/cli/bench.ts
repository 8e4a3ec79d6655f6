/**
 * `clfs bench`: runs the benchmark (bench/log.ts, shipped compiled in
 * dist/bench) in a child process, with the arguments given.
 * @module
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { ClfsError } from '../errors.ts';
import type { Command } from './common.ts';

/** The compiled benchmark: dist/bench/log.js beside dist/lib. */
const BENCH = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'log.js');

const HELP = `Usage: clfs bench [options]

Runs the benchmark: clfs's workloads against the device's limit (DirectFile,
and fio when it is installed) and the libraries a Node user would pick
(better-sqlite3, classic-level, lmdb, @ronomon/direct-io: each one that is
installed beside clfs; missing ones are skipped), in the current
directory's filesystem unless --dir says otherwise. Results go to
clfs-bench-results in the system's temporary directory unless --out.
Every option is the benchmark's: \`clfs bench --help\` lists them
(--quick for a short run).

Exit codes: 0 done, 1 the benchmark failed, 3 it is not installed, 64 bad arguments.`;

export const bench: Command = {
  name: 'bench',
  summary: "measure this machine's disk: clfs against the device and other libraries (--quick, --help)",
  help: HELP,
  async run(args) {
    if (!existsSync(BENCH)) {
      throw new ClfsError(
        'ERR_CLFS_NOT_FOUND',
        `the benchmark is not in this installation (${BENCH}); run it from a clone: npm ci && npm run bench`,
      );
    }
    if (args.includes('--help') || args.includes('-h')) process.stdout.write(`${HELP}\n\n`);
    const child = spawn(process.execPath, [BENCH, ...args], { stdio: 'inherit' });
    // Ctrl-C reaches the child too (same process group): wait for it to clean up.
    const ignore = (): void => undefined;
    process.on('SIGINT', ignore);
    try {
      return await new Promise<number>((resolve, reject) => {
        child.on('error', reject);
        child.on('close', (code, signal) =>
          resolve(code ?? 128 + (signal === null ? 0 : os.constants.signals[signal])),
        );
      });
    } finally {
      process.off('SIGINT', ignore);
    }
  },
};
