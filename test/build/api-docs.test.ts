// The API reference (`npm run docs`, TypeDoc from the TSDoc) builds with no
// warning: every public option, field and method is documented, every
// {@link} resolves, and no public type refers to one the reference leaves out.
import { spawnSync } from 'node:child_process';
import path from 'node:path';

import { expect, it } from 'vitest';

import { ROOT } from '../support/helpers.ts';

it('TypeDoc generates the API reference from the TSDoc with no warning', () => {
  const typedoc = path.join(ROOT, 'node_modules', 'typedoc', 'bin', 'typedoc');
  const run = spawnSync(process.execPath, [typedoc, '--emit', 'none', '--treatWarningsAsErrors'], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
  });
  expect(`${run.stdout}${run.stderr}`).not.toMatch(/\[warning\]|\[error\]/);
  expect(run.status).toBe(0);
}, 120_000);
