import { describe, expect, it } from 'vitest';
import { cachedPathFor, cacheName, isAppCache } from './precache';

const manifest = {
  version: 'abc123',
  files: ['/index.html', '/assets/index-1.js', '/assets/db-worker-2.js', '/assets/wa-sqlite-3.wasm'],
};
const scope = 'http://127.0.0.1:4173/';
const get = (url: string, mode = 'cors') => ({ method: 'GET', url, mode });

describe('precache', () => {
  it('answers navigations with the cached app shell, whatever the query string', () => {
    expect(cachedPathFor(get('http://127.0.0.1:4173/?terminal=2', 'navigate'), manifest, scope)).toBe(
      '/index.html',
    );
  });

  it('answers listed files (worker and wasm included) and nothing else', () => {
    expect(cachedPathFor(get('http://127.0.0.1:4173/assets/db-worker-2.js'), manifest, scope)).toBe(
      '/assets/db-worker-2.js',
    );
    expect(cachedPathFor(get('http://127.0.0.1:4173/assets/wa-sqlite-3.wasm'), manifest, scope)).toBe(
      '/assets/wa-sqlite-3.wasm',
    );
    expect(
      cachedPathFor(get('http://127.0.0.1:4173/dev/session?terminal=1'), manifest, scope),
    ).toBeUndefined();
    expect(cachedPathFor(get('http://127.0.0.1:8787/healthz'), manifest, scope)).toBeUndefined();
    expect(
      cachedPathFor(
        { method: 'POST', url: 'http://127.0.0.1:4173/index.html', mode: 'cors' },
        manifest,
        scope,
      ),
    ).toBeUndefined();
  });

  it('names caches by version so old builds can be dropped', () => {
    expect(cacheName('abc123')).toBe('loam-pos-abc123');
    expect(isAppCache(cacheName('x'))).toBe(true);
    expect(isAppCache('other-app')).toBe(false);
  });
});
