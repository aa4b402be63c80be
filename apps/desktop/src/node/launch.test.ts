import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { electronMissingMessage, type LocateElectronOptions, locateElectron } from './launch';

const pkg = '/repo/node_modules/electron';

function options(files: Record<string, string>, env: Record<string, string> = {}): LocateElectronOptions {
  return {
    resolvePackage: () => join(pkg, 'package.json'),
    env,
    exists: (path) => path in files,
    readFile: (path) => {
      const text = files[path];
      if (text === undefined) throw new Error(`ENOENT ${path}`);
      return text;
    },
  };
}

describe('locating the Electron binary', () => {
  it('finds the executable that path.txt names inside dist/', () => {
    const found = locateElectron(options({ [`${pkg}/path.txt`]: 'electron', [`${pkg}/dist/electron`]: '' }));
    expect(found).toEqual({ found: true, path: `${pkg}/dist/electron` });
  });

  it('reports the binary missing when it was never downloaded (this machine)', () => {
    expect(locateElectron(options({}))).toEqual({ found: false, reason: 'binary-missing', packageDir: pkg });
    expect(locateElectron(options({ [`${pkg}/path.txt`]: 'electron' }))).toMatchObject({
      found: false,
      reason: 'binary-missing',
    });
  });

  it('uses ELECTRON_OVERRIDE_DIST_PATH when set', () => {
    const env = { ELECTRON_OVERRIDE_DIST_PATH: '/opt/electron-45' };
    expect(locateElectron(options({ '/opt/electron-45/electron': '' }, env))).toEqual({
      found: true,
      path: '/opt/electron-45/electron',
    });
    expect(locateElectron(options({}, env))).toMatchObject({ found: false, reason: 'binary-missing' });
  });

  it('reports the package missing when npm did not install it', () => {
    const none = {
      ...options({}),
      resolvePackage: () => {
        throw new Error("Cannot find module 'electron/package.json'");
      },
    };
    expect(locateElectron(none)).toEqual({ found: false, reason: 'package-missing' });
  });

  it('tells the user what to do, with the download error, and no stack trace', () => {
    const message = electronMissingMessage('binary-missing', 'TypeError: fetch failed');
    expect(message).toContain('fetching it failed (TypeError: fetch failed)');
    expect(message).toContain('npx install-electron --no');
    expect(message).toContain('ELECTRON_OVERRIDE_DIST_PATH');
    expect(message).not.toMatch(/\n\s+at /);
    expect(electronMissingMessage('package-missing')).toContain('npm install');
  });
});
