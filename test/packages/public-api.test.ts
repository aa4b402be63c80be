/**
 * Each package publishes on purpose: its entry points (package.json `exports`) list their names one by one (no
 * `export *` of a module's internals), every published name carries TSDoc, and no file reaches into another
 * package by a relative path (packages are imported by name, through those entry points).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');

interface Entry {
  readonly pkg: string;
  readonly subpath: string;
  readonly file: string;
}

const packageDirs = ['packages', 'workers'].flatMap((group) =>
  readdirSync(join(root, group))
    .map((name) => join(root, group, name))
    .filter((dir) => existsSync(join(dir, 'package.json'))),
);

const entries: Entry[] = packageDirs.flatMap((dir) => {
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
    name: string;
    exports: Record<string, string>;
  };
  return Object.entries(pkg.exports).map(([subpath, target]) => ({
    pkg: pkg.name,
    subpath,
    file: join(dir, target),
  }));
});

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    if (d.name === 'node_modules' || d.name === 'dist' || d.name.startsWith('.')) return [];
    const path = join(dir, d.name);
    if (d.isDirectory()) return sourceFiles(path);
    return /\.tsx?$/.test(d.name) && !d.name.endsWith('.d.ts') ? [path] : [];
  });
}

describe('public API', () => {
  it('every entry point exists and lists its names (only `./node` re-exports its own package entry whole)', () => {
    const wholesale: string[] = [];
    for (const entry of entries) {
      expect(existsSync(entry.file), `${entry.pkg} ${entry.subpath}`).toBe(true);
      if (entry.subpath === './worker') continue;
      for (const match of readFileSync(entry.file, 'utf8').matchAll(/^export \* from '([^']+)'/gm)) {
        if (!(entry.subpath === './node' && match[1] === './index'))
          wholesale.push(`${entry.pkg} ${match[0]}`);
      }
    }
    expect(wholesale).toEqual([]);
  });

  it('every published name carries TSDoc', () => {
    const config = ts.getParsedCommandLineOfConfigFile(
      join(root, 'tsconfig.json'),
      {},
      {
        ...ts.sys,
        onUnRecoverableConfigFileDiagnostic: () => undefined,
      },
    );
    const files = entries.filter((e) => e.subpath !== './worker').map((e) => e.file);
    const program = ts.createProgram(files, config?.options ?? {});
    const checker = program.getTypeChecker();
    const undocumented: string[] = [];
    for (const entry of entries.filter((e) => e.subpath !== './worker')) {
      const module = checker.getSymbolAtLocation(program.getSourceFile(entry.file) as ts.SourceFile);
      for (const exported of checker.getExportsOfModule(module as ts.Symbol)) {
        const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
        const documented = (symbol.declarations ?? []).some((d) => ts.getJSDocCommentsAndTags(d).length > 0);
        if (!documented) undocumented.push(`${entry.pkg}${entry.subpath.slice(1)}: ${exported.name}`);
      }
    }
    expect(undocumented).toEqual([]);
  });

  it('no file imports another package by a relative path', () => {
    const owners = packageDirs.concat(
      ['apps'].flatMap((g) => readdirSync(join(root, g)).map((n) => join(root, g, n))),
    );
    const ownerOf = (file: string) => owners.find((dir) => !relative(dir, file).startsWith('..'));
    const crossings: string[] = [];
    for (const file of ['packages', 'workers', 'apps', 'test'].flatMap((g) => sourceFiles(join(root, g)))) {
      const from = ownerOf(file);
      for (const match of readFileSync(file, 'utf8').matchAll(/(?:from|import)\s*\(?\s*'(\.[^']+)'/g)) {
        const target = ownerOf(resolve(dirname(file), match[1] as string));
        if (target && target !== from) crossings.push(`${relative(root, file)} → ${match[1]}`);
      }
    }
    expect(crossings).toEqual([]);
  });
});
