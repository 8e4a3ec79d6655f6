/**
 * What both examples do the same way with clfs: open their log, or create
 * it the first time; and, as programs killed and started again, open it
 * while the killed process's lock is still going away.
 * @module
 */
import { ClfsError, Log, type CreateLogOptions } from 'clfs';

/** The log at `path`, opened (recovered), or created with `create` if there is none. */
export async function openOrCreate(path: string, create: CreateLogOptions): Promise<Log> {
  try {
    return await Log.open(path);
  } catch (error) {
    if (!(error instanceof ClfsError && error.code === 'ERR_CLFS_NOT_FOUND')) throw error;
    return Log.create(path, create);
  }
}

/**
 * `open()`, tried again while it fails with ERR_CLFS_LOCKED: a killed
 * process's lock (an flock) goes a little after the process is reported dead.
 */
export async function openWhileLocked<T>(open: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await open();
    } catch (error) {
      if (!(error instanceof ClfsError && error.code === 'ERR_CLFS_LOCKED') || attempt > 200) throw error;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}

/** Writes one line to stdout (what a load program acknowledges). */
export function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** Runs a program's main, printing its failure and exiting 1. */
export function run(main: () => Promise<void>): void {
  main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  });
}
