import { describe, expect, it } from 'vitest';
import { ShellConfigError } from '../errors';
import { parseShellConfig, resolveDataPaths } from './shell-config';

const context = { bundleDir: '/opt/loam/dist/pos', cwd: '/home/shop' };
const parse = (argv: string[], env: Record<string, string> = {}) => parseShellConfig(argv, env, context);

function refusedSource(argv: string[], env: Record<string, string> = {}): string {
  try {
    parse(argv, env);
  } catch (error) {
    expect(error).toBeInstanceOf(ShellConfigError);
    expect((error as ShellConfigError).code).toBe('desktop_config_invalid');
    return (error as ShellConfigError).source;
  }
  throw new Error('expected a ShellConfigError');
}

describe('shell configuration', () => {
  it('defaults to the bundled app in a normal window', () => {
    expect(parse([])).toEqual({
      kiosk: false,
      source: { kind: 'bundle', dir: '/opt/loam/dist/pos' },
      relayUrl: undefined,
      dataDir: undefined,
    });
  });

  it('turns kiosk mode on by flag or variable, and off again', () => {
    expect(parse(['--kiosk']).kiosk).toBe(true);
    expect(parse([], { LOAM_DESKTOP_KIOSK: '1' }).kiosk).toBe(true);
    expect(parse([], { LOAM_DESKTOP_KIOSK: 'false' }).kiosk).toBe(false);
    expect(parse(['--kiosk=false'], { LOAM_DESKTOP_KIOSK: '1' }).kiosk).toBe(false);
    expect(refusedSource([], { LOAM_DESKTOP_KIOSK: 'maybe' })).toBe('LOAM_DESKTOP_KIOSK');
  });

  it('loads a dev server given as --url=…, --url … or LOAM_DESKTOP_URL', () => {
    const dev = { kind: 'url', url: 'http://localhost:5173/' };
    expect(parse(['--url=http://localhost:5173']).source).toEqual(dev);
    expect(parse(['--url', 'http://localhost:5173']).source).toEqual(dev);
    expect(parse([], { LOAM_DESKTOP_URL: 'http://localhost:5173' }).source).toEqual(dev);
    expect(
      parse(['--url=http://127.0.0.1:4000'], { LOAM_DESKTOP_URL: 'http://localhost:5173' }).source,
    ).toEqual({
      kind: 'url',
      url: 'http://127.0.0.1:4000/',
    });
  });

  it('refuses a URL that is not http(s), has credentials, or is missing', () => {
    expect(refusedSource(['--url=file:///etc/passwd'])).toBe('--url');
    expect(refusedSource(['--url=javascript:alert(1)'])).toBe('--url');
    expect(refusedSource(['--url=http://user:pw@localhost:5173'])).toBe('--url');
    expect(refusedSource(['--url'])).toBe('--url');
    expect(refusedSource(['--url', '--kiosk'])).toBe('--url');
    expect(refusedSource([], { LOAM_DESKTOP_URL: 'localhost:5173' })).toBe('LOAM_DESKTOP_URL');
  });

  it('takes a relay override as ws(s) or http(s)', () => {
    expect(parse(['--relay-url=wss://relay.example.com/sync']).relayUrl).toBe('wss://relay.example.com/sync');
    expect(parse([], { LOAM_RELAY_URL: 'ws://10.0.0.5:8787' }).relayUrl).toBe('ws://10.0.0.5:8787/');
    expect(refusedSource(['--relay-url=ftp://relay.example.com'])).toBe('--relay-url');
    expect(refusedSource(['--relay-url=wss://relay.example.com; script-src *'])).toBe('--relay-url');
  });

  it('resolves a relative --data-dir against the working directory', () => {
    expect(parse(['--data-dir=till-2']).dataDir).toBe('/home/shop/till-2');
    expect(parse(['--data-dir', '/var/lib/loam/till-2']).dataDir).toBe('/var/lib/loam/till-2');
    expect(refusedSource(['--data-dir= '])).toBe('--data-dir');
  });

  it('ignores arguments it does not know (Chromium switches, file paths)', () => {
    expect(parse(['--no-sandbox', '--enable-logging', '/tmp/x', '--kiosk']).kiosk).toBe(true);
  });
});

describe('data paths', () => {
  it('keep user data and Chromium storage (OPFS, IndexedDB) in one folder', () => {
    expect(resolveDataPaths(undefined, '/home/shop/.config')).toEqual({
      userData: '/home/shop/.config/Loam POS',
      sessionData: '/home/shop/.config/Loam POS',
    });
    expect(resolveDataPaths('/var/lib/loam/till-2', '/home/shop/.config')).toEqual({
      userData: '/var/lib/loam/till-2',
      sessionData: '/var/lib/loam/till-2',
    });
  });
});
