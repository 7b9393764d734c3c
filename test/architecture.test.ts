// The layout's promises, checked on the import graph of src/ (value imports only: type imports are
// erased at build time and load nothing).
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const SRC = fileURLToPath(new URL('../src/', import.meta.url));

/** The modules a file loads when it runs: `./x.js` → src path, packages by name. */
function valueImports(file: string): string[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest);
  const out: string[] = [];
  for (const node of source.statements) {
    if (!ts.isImportDeclaration(node) && !ts.isExportDeclaration(node)) continue;
    if (!node.moduleSpecifier || !ts.isStringLiteral(node.moduleSpecifier)) continue;
    if (ts.isImportDeclaration(node)) {
      const clause = node.importClause;
      if (clause?.isTypeOnly) continue;
      const named = clause?.namedBindings;
      const onlyTypes = clause && !clause.name && named && ts.isNamedImports(named) && named.elements.every((e) => e.isTypeOnly);
      if (onlyTypes) continue;
    } else if (node.isTypeOnly) continue;
    const spec = node.moduleSpecifier.text;
    out.push(spec.startsWith('.') ? resolve(dirname(file), spec.replace(/\.js$/, '.ts')) : spec);
  }
  return out;
}

/** Every file reachable from `entry`, not walking past `stopAt`. */
function reachable(entry: string, stopAt: (file: string) => boolean): Set<string> {
  const seen = new Set<string>();
  const walk = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    if (!file.endsWith('.ts') || stopAt(file)) return;
    for (const next of valueImports(file)) walk(next);
  };
  walk(entry);
  return seen;
}

const src = (path: string): string => join(SRC, path);
const name = (file: string): string => (file.startsWith(SRC) ? `src/${relative(SRC, file)}` : file);

describe('architecture', () => {
  it('the server thread (src/main.ts up to the storage thread entry) never loads better-sqlite3 or src/store/', () => {
    const loaded = [...reachable(src('main.ts'), (f) => f === src('storage-thread/entry.ts'))].map(name);
    expect(loaded).toContain('src/proxy/forward.ts'); // the walk does reach the hot path
    expect(loaded.filter((f) => f === 'better-sqlite3' || f.startsWith('src/store/'))).toEqual([]);
  });

  it('record/ files say in their first line which thread runs them, and server-thread ones load nothing the storage thread alone uses', () => {
    const dir = src('record/');
    const files = readdirSync(dir, { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.ts'))
      .map((f) => join(dir, f));
    const thread = new Map(files.map((f) => [f, /^\/\/ (Server thread|Storage thread|Both threads)/.exec(readFileSync(f, 'utf8'))?.[1]]));
    expect(files.filter((f) => !thread.get(f)).map(name)).toEqual([]);
    const storageOnly = files.filter((f) => thread.get(f) === 'Storage thread');
    for (const file of files.filter((f) => thread.get(f) === 'Server thread')) {
      const loaded = [...reachable(file, () => false)];
      expect(loaded.filter((f) => storageOnly.includes(f)).map(name), `${name(file)} loads storage-thread code`).toEqual([]);
    }
  });

  it('no folder of src/ imports one that imports it back', () => {
    const folderOf = (f: string): string => (dirname(f) === SRC.replace(/\/$/, '') ? '.' : relative(SRC, f).split('/')[0]!);
    const edges = new Set<string>();
    for (const file of readdirSync(SRC, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'))) {
      const from = folderOf(join(SRC, file));
      for (const to of valueImports(join(SRC, file))
        .filter((f) => f.startsWith(SRC))
        .map(folderOf)) {
        if (to !== from && from !== '.' && to !== '.') edges.add(`${from} -> ${to}`);
      }
    }
    const cycles = [...edges].filter((e) => edges.has(e.split(' -> ').reverse().join(' -> ')));
    expect(cycles).toEqual([]);
  });
});
