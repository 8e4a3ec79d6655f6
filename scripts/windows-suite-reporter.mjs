// A vitest reporter for `npm run test:windows` (scripts/windows-suite.mjs):
// writes every test's outcome (its file, full name, state, the note a
// ctx.skip(note) gave, its first error) as JSON to the file named by
// $CLFS_SUITE_REPORT, for the summary the script prints. A file that failed
// to load or a hook that failed outside any test counts as one failed entry.
import { writeFileSync } from 'node:fs';
import path from 'node:path';

export default class SuiteReport {
  onInit(vitest) {
    this.root = vitest.config.root;
  }

  onTestRunEnd(testModules, unhandledErrors) {
    const tests = [];
    const firstLine = (error) => `${error?.name ?? 'Error'}: ${error?.message ?? error}`.split('\n')[0];
    for (const module of testModules) {
      const file = path.relative(this.root, module.moduleId).replaceAll('\\', '/');
      for (const test of module.children.allTests()) {
        const result = test.result();
        const error = result.errors?.[0];
        tests.push({
          file,
          name: test.fullName,
          state: result.state,
          note: result.note,
          error: error && firstLine(error),
        });
      }
      for (const error of module.errors())
        tests.push({ file, name: '(the file)', state: 'failed', error: firstLine(error) });
    }
    const report = { tests, unhandled: unhandledErrors.map(firstLine) };
    writeFileSync(process.env.CLFS_SUITE_REPORT, JSON.stringify(report));
  }
}
