import { describe, expect, it } from 'vitest';
import { DesktopError } from '../errors';
import { assertBundlePresent, resolveAppEntry } from './app-entry';

describe('app entry', () => {
  it('serves the bundle under loam://pos with the relay in its CSP', () => {
    const entry = resolveAppEntry({ kind: 'bundle', dir: '/opt/loam/pos' }, 'wss://relay.example.com/');
    expect(entry).toMatchObject({
      appOrigin: 'loam://pos',
      entryUrl: 'loam://pos/',
      bundleDir: '/opt/loam/pos',
    });
    expect(entry.csp).toContain("connect-src 'self' wss://relay.example.com https://relay.example.com;");
  });

  it('treats a dev server as the app origin', () => {
    const entry = resolveAppEntry({ kind: 'url', url: 'http://localhost:5173/' }, 'ws://127.0.0.1:8787/');
    expect(entry).toMatchObject({ appOrigin: 'http://localhost:5173', entryUrl: 'http://localhost:5173/' });
    expect(entry.bundleDir).toBeUndefined();
    expect(entry.csp).toContain('ws://localhost:5173');
  });

  it('stops with a clear error when the bundle holds no POS app', () => {
    const entry = resolveAppEntry({ kind: 'bundle', dir: '/opt/loam/pos' }, 'ws://127.0.0.1:8787/');
    let caught: unknown;
    try {
      assertBundlePresent(entry, () => false);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(DesktopError);
    expect((caught as DesktopError).code).toBe('desktop_app_missing');
    expect((caught as DesktopError).message).toContain('/opt/loam/pos/index.html');
    expect(() => assertBundlePresent(entry, (p) => p === '/opt/loam/pos/index.html')).not.toThrow();
  });
});
