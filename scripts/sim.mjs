// The deterministic simulator (test/sim): compiles it with the library into
// dist/ (tsc, incremental) and runs its command line with the arguments given:
//   npm run test:sim -- --seconds 120 | --seeds 1..500 | --seed 42 | --replay test/sim/regressions/x.json
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const build = spawnSync(process.execPath, [tsc, '-p', path.join(root, 'test', 'sim', 'tsconfig.json')], {
  cwd: root,
  stdio: 'inherit',
});
if (build.status !== 0) process.exit(build.status ?? 1);
const run = spawnSync(process.execPath, [path.join(root, 'dist', 'test', 'sim', 'cli.js'), ...process.argv.slice(2)], {
  cwd: root,
  stdio: 'inherit',
});
process.exit(run.status ?? 1);
