// The two native builds (binding.gyp for installs, CMakeLists.txt for
// development and sanitizers) must compile the same code the same way.
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { ROOT } from '../support/helpers.ts';

// --- binding.gyp: a Python literal; JSON once comments and trailing commas go.

/** binding.gyp as JSON: comments dropped, single-quoted strings requoted, trailing commas dropped. */
function gypToJson(text: string): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '"' || c === "'") {
      let value = '';
      for (i++; i < text.length && text[i] !== c; i++) {
        if (text[i] === '\\') {
          const next = text[++i]!;
          value += next === 'n' ? '\n' : next === 't' ? '\t' : next;
        } else {
          value += text[i];
        }
      }
      out += JSON.stringify(value);
    } else if (c === '#') {
      while (i < text.length && text[i] !== '\n') i++;
      out += '\n';
    } else {
      out += c;
    }
  }
  return out.replace(/,(\s*[}\]])/g, '$1');
}

interface GypTarget {
  target_name: string;
  sources?: string[];
  defines?: string[];
  conditions?: [string, { defines?: string[] }][];
}

/** The target's defines, with those of its conditions (CMakeLists.txt sets them under if()). */
function gypDefines(target: GypTarget): string[] {
  return [...(target.defines ?? []), ...(target.conditions ?? []).flatMap(([, then]) => then.defines ?? [])];
}

function parseGyp(text: string): { targets: GypTarget[] } {
  return JSON.parse(gypToJson(text)) as { targets: GypTarget[] };
}

// --- CMakeLists.txt: commands, their arguments, and set() variables.

interface CmakeCommand {
  name: string;
  args: string[];
}

function parseCmake(text: string): CmakeCommand[] {
  // Drop comments (a # outside a quoted argument runs to the end of the line).
  const lines = text.split('\n').map((line) => {
    let quoted = false;
    for (let i = 0; i < line.length; i++) {
      if (line[i] === '"') quoted = !quoted;
      else if (line[i] === '#' && !quoted) return line.slice(0, i);
    }
    return line;
  });
  const source = lines.join('\n');
  const commands: CmakeCommand[] = [];
  const head = /([A-Za-z_][A-Za-z0-9_]*)\s*\(/g;
  let match: RegExpExecArray | null;
  while ((match = head.exec(source))) {
    let depth = 1;
    let i = head.lastIndex;
    let quoted = false;
    for (; i < source.length && depth > 0; i++) {
      const c = source[i];
      if (c === '"') quoted = !quoted;
      else if (!quoted && c === '(') depth++;
      else if (!quoted && c === ')') depth--;
    }
    const body = source.slice(head.lastIndex, i - 1);
    const args = (body.match(/"[^"]*"|[^\s"]+/g) ?? []).map((a) => a.replace(/^"(.*)"$/, '$1'));
    commands.push({ name: match[1]!.toLowerCase(), args });
    head.lastIndex = i;
  }
  return commands;
}

/** The sources and definitions of the library target, with `${VAR}`s of set() expanded. */
function cmakeTarget(commands: CmakeCommand[]): { sources: string[]; defines: string[] } {
  const vars = new Map<string, string[]>();
  const expand = (args: string[]): string[] =>
    args.flatMap((arg) => {
      const whole = /^\$\{([A-Za-z0-9_]+)\}$/.exec(arg);
      return whole ? (vars.get(whole[1]!) ?? []) : [arg];
    });
  const project = commands.find((c) => c.name === 'project')?.args[0];
  if (project) vars.set('PROJECT_NAME', [project]);
  let sources: string[] = [];
  const defines: string[] = [];
  for (const { name, args } of commands) {
    if (name === 'set' && args.length > 0) {
      vars.set(args[0]!, expand(args.slice(1)));
    } else if (name === 'add_library' && expand(args.slice(0, 1))[0] === project) {
      sources = expand(args.slice(1)).filter((a) => !['SHARED', 'MODULE', 'STATIC', 'OBJECT'].includes(a));
    } else if (name === 'target_compile_definitions' && expand(args.slice(0, 1))[0] === project) {
      defines.push(...expand(args.slice(1)).filter((a) => !['PRIVATE', 'PUBLIC', 'INTERFACE'].includes(a)));
    } else if (name === 'add_compile_definitions') {
      defines.push(...expand(args));
    }
  }
  return { sources, defines: defines.map((d) => d.replace(/^-D/, '')) };
}

function nativeSources(dir: string): string[] {
  return readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
    const relative = `${dir}/${entry.name}`;
    if (entry.isDirectory()) return nativeSources(relative);
    return /\.(cc|cpp|c)$/.test(entry.name) ? [relative] : [];
  });
}

const sorted = (list: readonly string[]): string[] => [...list].sort();

const gypTarget = parseGyp(readFileSync(path.join(ROOT, 'binding.gyp'), 'utf8')).targets.find(
  (t) => t.target_name === 'clfs',
);
const cmakePath = path.join(ROOT, 'CMakeLists.txt');
const cmake = existsSync(cmakePath) ? cmakeTarget(parseCmake(readFileSync(cmakePath, 'utf8'))) : undefined;

describe('binding.gyp and CMakeLists.txt', () => {
  it('binding.gyp has the clfs target with sources and defines', () => {
    expect(gypTarget).toBeDefined();
    expect(gypTarget!.sources!.length).toBeGreaterThan(0);
    expect(gypTarget!.defines!.length).toBeGreaterThan(0);
  });

  it('CMakeLists.txt exists and builds a library from sources with definitions', () => {
    expect(cmake, 'CMakeLists.txt is missing').toBeDefined();
    expect(cmake!.sources.length).toBeGreaterThan(0);
    expect(cmake!.defines.length).toBeGreaterThan(0);
  });

  it('compile the same native sources', () => {
    expect(sorted(cmake!.sources)).toEqual(sorted(gypTarget!.sources!));
  });

  it('define the same preprocessor symbols, conditional ones included', () => {
    expect(sorted(cmake!.defines)).toEqual(sorted(gypDefines(gypTarget!)));
  });

  it('compile every C++ file under native/, and only files that exist', () => {
    expect(sorted(gypTarget!.sources!)).toEqual(sorted(nativeSources('native')));
  });

  it('build for the N-API version package.json declares', () => {
    const manifest = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
      binary: { napi_versions: number[] };
    };
    const declared = manifest.binary.napi_versions.map((v) => `NAPI_VERSION=${v}`);
    expect(gypTarget!.defines!.filter((d) => d.startsWith('NAPI_VERSION='))).toEqual(declared);
  });
});

describe('the build-file parsers used above', () => {
  it('read a binding.gyp with comments, single quotes and trailing commas', () => {
    const parsed = parseGyp(`
      # a comment
      { 'targets': [ { 'target_name': 'clfs', # trailing comment
          'sources': [ 'a.cc', "b.cc", ],
          'defines': [ 'X=1', ],
          'include_dirs': [ "<!(node -p \\"require('x').dir\\")" ], }, ], }
    `);
    expect(parsed.targets[0]).toEqual({
      target_name: 'clfs',
      sources: ['a.cc', 'b.cc'],
      defines: ['X=1'],
      include_dirs: [`<!(node -p "require('x').dir")`],
    });
  });

  it('read CMake sources and definitions given as set() lists', () => {
    const target = cmakeTarget(
      parseCmake(`
        project(clfs CXX)
        set(CLFS_SOURCES
          a.cc # the first
          "b.cc"
        )
        set(CLFS_DEFINES X=1 Y)
        add_library(\${PROJECT_NAME} SHARED \${CLFS_SOURCES} \${CMAKE_JS_SRC})
        target_compile_definitions(\${PROJECT_NAME} PRIVATE \${CLFS_DEFINES})
      `),
    );
    expect(target).toEqual({ sources: ['a.cc', 'b.cc'], defines: ['X=1', 'Y'] });
  });

  it('read CMake sources and definitions given inline', () => {
    const target = cmakeTarget(
      parseCmake(`
        project(clfs)
        add_library(clfs SHARED a.cc b.cc)
        add_compile_definitions(X=1)
        target_compile_definitions(clfs PUBLIC -DY)
      `),
    );
    expect(target).toEqual({ sources: ['a.cc', 'b.cc'], defines: ['X=1', 'Y'] });
  });
});
