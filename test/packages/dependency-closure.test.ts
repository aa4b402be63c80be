/**
 * What installing a Loam package pulls in, read from the package.json files the way npm resolves them: a package's
 * `dependencies`, `optionalDependencies` and required `peerDependencies` (npm installs those; optional peers and
 * `devDependencies` are not installed for a package's users), followed through the workspace and `node_modules`.
 * A browser app installs `@loam/client` (and `@loam/react`): nothing it pulls may be a native Node build.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

interface PackageJson {
  readonly name: string;
  readonly dependencies?: Record<string, string>;
  readonly optionalDependencies?: Record<string, string>;
  readonly peerDependencies?: Record<string, string>;
  readonly peerDependenciesMeta?: Record<string, { optional?: boolean }>;
}

const root = resolve(import.meta.dirname, '../..');

function readJson(file: string): PackageJson {
  return JSON.parse(readFileSync(file, 'utf8')) as PackageJson;
}

/** Workspace packages by name, with their folders. */
const workspace = new Map<string, string>();
for (const group of ['packages', 'workers', 'apps']) {
  for (const entry of readdirSync(join(root, group))) {
    const file = join(root, group, entry, 'package.json');
    if (existsSync(file)) workspace.set(readJson(file).name, dirname(file));
  }
}

/** The folder of `name` as Node finds it from `from`: the workspace, else the nearest `node_modules`. */
function locate(name: string, from: string): string {
  const inWorkspace = workspace.get(name);
  if (inWorkspace) return inWorkspace;
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dirname(dir) === dir) throw new Error(`${name} (needed from ${from}) is not installed`);
  }
}

/** What npm installs for a package's users, besides the package itself. */
function installedWith(pkg: PackageJson): string[] {
  const optionalPeers = pkg.peerDependenciesMeta ?? {};
  return [
    ...Object.keys(pkg.dependencies ?? {}),
    ...Object.keys(pkg.optionalDependencies ?? {}),
    ...Object.keys(pkg.peerDependencies ?? {}).filter((name) => !optionalPeers[name]?.optional),
  ];
}

/** Every package installing `name` pulls in, mapped to the chain that pulls it (for the failure message). */
function closure(name: string): Map<string, string> {
  const seen = new Map<string, string>([[name, name]]);
  const queue: { name: string; dir: string }[] = [{ name, dir: locate(name, root) }];
  for (let next = queue.shift(); next; next = queue.shift()) {
    const chain = seen.get(next.name) as string;
    for (const dep of installedWith(readJson(join(next.dir, 'package.json')))) {
      if (seen.has(dep)) continue;
      seen.set(dep, `${chain} → ${dep}`);
      queue.push({ name: dep, dir: locate(dep, next.dir) });
    }
  }
  return seen;
}

/** Packages with a native build step (node-gyp, prebuilt binaries), which a browser install must not need. */
function nativeBuilds(packages: Map<string, string>): string[] {
  return [...packages.values()].filter((chain) => {
    const name = chain.split(' → ').at(-1) as string;
    const dir = locate(name, root);
    return existsSync(join(dir, 'binding.gyp'));
  });
}

describe('dependency closure', () => {
  it.each(['@loam/client', '@loam/react'])(
    'installing %s pulls no native build (no better-sqlite3)',
    (name) => {
      const pulled = closure(name);
      expect(pulled.has('@loam/store'), 'the engine types and live results come from @loam/store').toBe(true);
      expect(pulled.get('better-sqlite3')).toBeUndefined();
      expect(nativeBuilds(pulled)).toEqual([]);
    },
  );

  it('the relay, a Node program, gets the better-sqlite3 driver it runs on', () => {
    expect(closure('@loam/server').get('better-sqlite3')).toBe('@loam/server → better-sqlite3');
  });

  it('@loam/store offers better-sqlite3 to Node users as an optional peer, not a dependency', () => {
    const store = readJson(join(locate('@loam/store', root), 'package.json'));
    expect(store.dependencies?.['better-sqlite3']).toBeUndefined();
    expect(store.peerDependencies?.['better-sqlite3']).toBeDefined();
    expect(store.peerDependenciesMeta?.['better-sqlite3']?.optional).toBe(true);
  });
});
