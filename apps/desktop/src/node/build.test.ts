import { readFile as fsReadFile, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { type BuildResult, buildDesktop, DESKTOP_DIR } from './build';

const REPO = join(DESKTOP_DIR, '../..');
let root: string;
let result: BuildResult;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'loam-desktop-build-'));
  const posDist = join(root, 'pos-dist');
  await mkdir(join(posDist, 'assets'), { recursive: true });
  await writeFile(join(posDist, 'index.html'), '<!doctype html><title>POS</title>');
  await writeFile(join(posDist, 'assets', 'app.js'), 'export {}');
  result = await buildDesktop({ outDir: join(root, 'out'), posDist });
}, 60_000);
afterAll(() => rm(root, { recursive: true, force: true }));

function requires(code: string): string[] {
  return [...new Set([...code.matchAll(/\brequire\("([^"]+)"\)/g)].map((m) => m[1] ?? ''))].sort();
}

describe('desktop build', () => {
  it('bundles a preload that requires only electron, as a sandboxed preload must', async () => {
    expect(requires(await fsReadFile(result.preloadFile, 'utf8'))).toEqual(['electron']);
  });

  it('bundles a main process that requires only electron and Node built-ins', async () => {
    const code = await fsReadFile(result.mainFile, 'utf8');
    const builtins = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`)]);
    for (const name of requires(code)) {
      expect(name === 'electron' || builtins.has(name), name).toBe(true);
    }
    expect(code).toContain('loam-desktop:terminal-config');
  });

  it('copies the built POS app beside the bundles', async () => {
    expect(result.posDir).toBe(join(root, 'out', 'pos'));
    expect((await readdir(join(root, 'out', 'pos'))).sort()).toEqual(['assets', 'index.html']);
  });

  it('leaves the POS app out, and says so, when it has not been built', async () => {
    const bare = await buildDesktop({ outDir: join(root, 'bare'), posDist: join(root, 'nowhere') });
    expect(bare.posDir).toBeUndefined();
  });
});

describe('electron-builder.yml', () => {
  const load = async () => parse(await fsReadFile(join(REPO, 'electron-builder.yml'), 'utf8'));
  const desktopPackage = async () => JSON.parse(await fsReadFile(join(DESKTOP_DIR, 'package.json'), 'utf8'));

  it('packages apps/desktop, whose main is the main bundle', async () => {
    const config = await load();
    expect(config.directories.app).toBe(relative(REPO, DESKTOP_DIR));
    const pkg = await desktopPackage();
    expect(pkg.main).toBe('dist/main.cjs');
    for (const key of ['name', 'version', 'description', 'author']) expect(pkg[key], key).toBeTruthy();
  });

  it('packs exactly what the build writes: both bundles and the POS app', async () => {
    const files: string[] = (await load()).files;
    const built = [result.mainFile, result.preloadFile].map((f) => `dist/${relative(join(root, 'out'), f)}`);
    for (const file of built) expect(files).toContain(file);
    expect(files).toContain('dist/pos/**');
    expect(files).toContain('package.json');
  });

  it('pins the same Electron the package installs, and packs no node_modules', async () => {
    const config = await load();
    const pkg = await desktopPackage();
    expect(String(config.electronVersion)).toBe(pkg.devDependencies.electron);
    expect(pkg.dependencies ?? {}).toEqual({});
    expect(config.npmRebuild).toBe(false);
  });

  it('targets Linux AppImage and deb, and Windows NSIS', async () => {
    const config = await load();
    expect(config.linux.target).toEqual(['AppImage', 'deb']);
    expect(config.win.target).toEqual(['nsis']);
  });
});

describe('electron imports', () => {
  it('only the Electron entry points import electron, so everything else runs under Node', async () => {
    const src = join(DESKTOP_DIR, 'src');
    const importers: string[] = [];
    for (const entry of await readdir(src, { recursive: true })) {
      const file = String(entry);
      if (!file.endsWith('.ts') || file.endsWith('.test.ts')) continue;
      const code = await fsReadFile(join(src, file), 'utf8');
      if (/from 'electron'|require\('electron'\)|import\('electron'\)/.test(code)) importers.push(file);
    }
    expect(importers.sort()).toEqual(['main/electron-main.ts', 'preload/preload.ts']);
  });
});
