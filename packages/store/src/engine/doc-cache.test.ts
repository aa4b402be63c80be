import { createDocState } from '@loam/core';
import { describe, expect, it } from 'vitest';
import { createDocCache } from './doc-cache';
import type { StoredDoc } from './yjs-rows';

const doc = (bytes: number): StoredDoc => ({
  state: createDocState(),
  logs: new Map([['body', { base: bytes, logged: 0, next: 1 }]]),
});

describe('the hot-document cache', () => {
  it('keeps the most recently used documents within its count and byte bounds, the hot one always', () => {
    const cache = createDocCache(3, 1000);
    for (const key of ['a', 'b', 'c', 'd']) cache.put(key, doc(100));
    expect(['a', 'b', 'c', 'd'].filter((k) => cache.peek(k))).toEqual(['b', 'c', 'd']);
    cache.put('b', cache.take('b') as StoredDoc);
    cache.put('e', doc(850));
    expect(['b', 'c', 'd', 'e'].filter((k) => cache.peek(k))).toEqual(['b', 'e']);
    cache.put('huge', doc(5000));
    expect(cache.peek('huge')).toBeDefined();
    expect(cache.peek('e')).toBeUndefined();
  });

  it('hands a taken document to one owner: it is gone until put back', () => {
    const cache = createDocCache(3, 1000);
    const d = doc(10);
    cache.put('a', d);
    expect(cache.take('a')).toBe(d);
    expect(cache.take('a')).toBeUndefined();
    expect(cache.peek('a')).toBeUndefined();
  });
});
