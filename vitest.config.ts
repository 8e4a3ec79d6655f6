import { fileURLToPath } from 'node:url';

import { defineConfig } from 'vitest/config';

export default defineConfig({
  // examples/ import the package by its name, as a user would: in tests that
  // is the sources (the compiled examples find dist/ by the package's exports).
  resolve: { alias: [{ find: /^clfs$/, replacement: fileURLToPath(new URL('./lib/index.ts', import.meta.url)) }] },
  test: {
    include: ['test/**/*.test.ts'],
    // Native handles, pinned memory and child processes: each test file gets
    // a process of its own.
    pool: 'forks',
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: ['default'],
  },
});
