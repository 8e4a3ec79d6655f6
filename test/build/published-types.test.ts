// The published declarations (what `tsc` emits into dist/ with the
// project's own tsconfig) hold only the public API: every member a user sees
// on the classes of lib/index.ts is documented, none is marked @internal,
// and none names an internal part of the log.
import path from 'node:path';

import ts from 'typescript';
import { beforeAll, describe, expect, it } from 'vitest';

import { ROOT } from '../support/helpers.ts';

/** The .d.ts files tsc emits for lib/, by path relative to lib/. */
function emitDeclarations(): Map<string, string> {
  const configPath = path.join(ROOT, 'tsconfig.json');
  const config = ts.readConfigFile(configPath, (file) => ts.sys.readFile(file));
  const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, ROOT);
  const program = ts.createProgram({
    rootNames: [path.join(ROOT, 'lib', 'index.ts')],
    options: { ...parsed.options, emitDeclarationOnly: true, declarationMap: false, noEmit: false },
  });
  const out = new Map<string, string>();
  const result = program.emit(undefined, (file, text) => {
    const relative = path.relative(path.join(parsed.options.outDir!, 'lib'), file);
    if (relative.endsWith('.d.ts')) out.set(relative.split(path.sep).join('/'), text);
  });
  expect(result.diagnostics.map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'))).toEqual([]);
  return out;
}

interface Member {
  name: string;
  documented: boolean;
  internal: boolean;
}

/** The members of `className` in a .d.ts text, with whether each has a doc comment. */
function membersOf(text: string, className: string): Member[] {
  const source = ts.createSourceFile('x.d.ts', text, ts.ScriptTarget.Latest, true);
  const found = source.statements.find(
    (s): s is ts.ClassDeclaration => ts.isClassDeclaration(s) && s.name?.text === className,
  );
  if (found === undefined) throw new Error(`no class ${className}`);
  return found.members
    .filter((m) => !(ts.isPropertyDeclaration(m) && ts.isPrivateIdentifier(m.name)))
    .filter((m) => (ts.getCombinedModifierFlags(m) & ts.ModifierFlags.Private) === 0)
    .map((m) => {
      const docs = ts.getJSDocCommentsAndTags(m);
      const name = ts.isConstructorDeclaration(m) ? 'constructor' : (m.name?.getText(source) ?? '?');
      return {
        name,
        documented: docs.some((d) => ts.isJSDoc(d) && (d.comment ?? '') !== ''),
        internal: docs.some((d) => ts.isJSDoc(d) && (d.tags ?? []).some((t) => t.tagName.text === 'internal')),
      };
    });
}

const CLASSES: [string, string][] = [
  ['log/log.d.ts', 'Log'],
  ['log/marshalling-area.d.ts', 'MarshallingArea'],
  ['log/read/read-context.d.ts', 'ReadContext'],
];

/** Names of the log's internal parts: none may show in a public declaration. */
const INTERNAL_NAMES = ['writer', 'storage', 'table', 'metadata', 'core', 'persistMetadata', 'loadBlock', 'probeBlock'];

describe('the published declarations', () => {
  let emitted: Map<string, string>;
  beforeAll(() => {
    emitted = emitDeclarations();
  }, 120_000);

  it.each(CLASSES)('%s: every member of %s a user sees is documented and none is @internal', (file, name) => {
    const members = membersOf(emitted.get(file)!, name);
    expect(members.length).toBeGreaterThan(4);
    expect(members.filter((m) => !m.documented || m.internal).map((m) => m.name)).toEqual([]);
    expect(members.map((m) => m.name).filter((m) => INTERNAL_NAMES.includes(m))).toEqual([]);
  });

  it.each(CLASSES)('%s: %s cannot be constructed by users (a private constructor)', (file, name) => {
    expect(emitted.get(file)).toMatch(new RegExp(`class ${name} \\{[^]*?private constructor\\(\\);`));
  });

  it('lib/index.d.ts exports only the public API: no internal module is re-exported', () => {
    const index = emitted.get('index.d.ts')!;
    for (const internal of ['core', 'writer', 'base-manager', 'space', 'appender', 'open', 'block-source']) {
      expect(index).not.toMatch(new RegExp(`from '\\./log/(read/)?${internal}\\.js'`));
    }
  });
});
