// Checks (or with --fix, applies) clang-format on the native sources, using
// the clang-format binary the npm package ships (no system package needed).
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const fix = process.argv.includes('--fix');

function sources(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sources(full);
    return /\.(cc|c|h)$/.test(entry.name) ? [full] : [];
  });
}

// native/, the C the sanitizer tier preloads (scripts/asan-preload.c) and the
// platform layer's test program (test/native/platform_*.cc, .h).
const files = ['native', 'scripts', 'test/native'].flatMap((dir) => {
  try {
    return sources(path.join(root, dir));
  } catch {
    return [];
  }
});
const binary = createRequire(import.meta.url)('clang-format').getNativeBinary();
const args = fix ? ['-i', ...files] : ['--dry-run', '--Werror', ...files];
const result = spawnSync(binary, args, { cwd: root, stdio: 'inherit' });
if (result.status !== 0) {
  if (!fix) console.error('clang-format: run `npm run format` to fix the native sources');
  process.exit(result.status ?? 1);
}
