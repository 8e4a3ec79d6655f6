// The kill tests of the examples (kv-kill.test.ts, queue-kill.test.ts): a
// compiled example program (dist/examples, built by the global setup) runs as
// a child process printing what it acknowledges, one line each; the parent
// SIGKILLs it at a random moment (sometimes while it is still recovering),
// runs it again, and checks what the new one recovered against what the
// dead one acknowledged. `npm run test:examples` kills 50 times per example,
// `npm test` a few.
import { spawn } from 'node:child_process';
import path from 'node:path';

import { ROOT } from '../support/helpers.ts';

/** Kills per example: 50 in `npm run test:examples`, a sample in `npm test`. */
export const KILLS = process.env.CLFS_EXAMPLES_FULL === '1' ? 50 : 5;

/** One run of an example program: its stdout lines as they come, and how it ended. */
export interface Run {
  readonly lines: string[];
  /** Resolves with the first line starting with `prefix` (undefined if the process ends first). */
  line(prefix: string): Promise<string | undefined>;
  /** SIGKILL (if still running); resolves once it has exited. */
  kill(): Promise<void>;
  /** Resolves when the process has exited: its code and signal, and stderr. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
}

/** Runs `dist/examples/<program>.js` with `args`. */
export function runExample(program: string, args: string[]): Run {
  const child = spawn(process.execPath, [path.join(ROOT, 'dist', 'examples', `${program}.js`), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const watchers: { prefix: string; resolve: (line: string | undefined) => void }[] = [];
  let partial = '';
  let stderr = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop()!;
    for (const text of parts) {
      lines.push(text);
      for (let i = watchers.length - 1; i >= 0; i--) {
        if (text.startsWith(watchers[i]!.prefix)) watchers.splice(i, 1)[0]!.resolve(text);
      }
    }
  });
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) =>
    child.on('close', (code, signal) => {
      for (const watcher of watchers.splice(0)) watcher.resolve(undefined);
      resolve({ code, signal, stderr });
    }),
  );
  let done = false;
  void exited.then(() => (done = true));
  return {
    lines,
    exited,
    line(prefix) {
      const found = lines.find((text) => text.startsWith(prefix));
      if (found !== undefined || done) return Promise.resolve(found);
      return new Promise((resolve) => watchers.push({ prefix, resolve }));
    },
    async kill() {
      if (!done) child.kill('SIGKILL');
      await exited;
    },
  };
}

/** Sleeps `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
