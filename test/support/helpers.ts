// Shared test helpers: child processes running the compiled library
// (scratch directories are in fixtures.ts).
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The compiled entry point, for child processes (test/global-setup.ts builds it). */
export const DIST_ENTRY = path.join(ROOT, 'dist', 'lib', 'index.js');

export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs an ES module source text in a child Node process. `CLFS` in the
 * source is replaced by the compiled library's URL, so scripts can
 * `import { ... } from 'CLFS'`.
 */
export function runChild(
  source: string,
  options: {
    args?: string[];
    nodeArgs?: string[];
    env?: NodeJS.ProcessEnv;
    shellPrefix?: string;
    timeoutMs?: number;
  } = {},
): Promise<ChildResult> {
  const code = source.replaceAll("'CLFS'", JSON.stringify(pathToFileURL(DIST_ENTRY).href));
  const nodeArgs = [...(options.nodeArgs ?? []), '--input-type=module', '-e', code, '--', ...(options.args ?? [])];
  const env = { ...process.env, ...options.env };
  const child = options.shellPrefix
    ? spawn('bash', ['-c', `${options.shellPrefix} exec "$0" "$@"`, process.execPath, ...nodeArgs], { env })
    : spawn(process.execPath, nodeArgs, { env });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (exitCode, signal) => {
      clearTimeout(timer);
      resolve({ code: exitCode, signal, stdout, stderr });
    });
  });
}
