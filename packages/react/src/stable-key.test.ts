import { q } from '@loam/core';
import { describe, expect, it } from 'vitest';
import { stableKey } from './stable-key';

describe('stableKey', () => {
  it('is the same for queries built in a different key order or with undefined options', () => {
    const a = { filter: q.eq('storeId', 's1'), sort: [q.desc('createdAt')], limit: 5 };
    const b = { limit: 5, offset: undefined, sort: [{ dir: 'desc', field: 'createdAt' }], filter: a.filter };
    expect(stableKey(a)).toBe(stableKey(b));
  });

  it('tells apart queries that differ in a value, an order or a date', () => {
    const day = new Date(2025, 0, 2);
    const keys = [
      stableKey({ filter: q.eq('n', 1) }),
      stableKey({ filter: q.eq('n', '1') }),
      stableKey({ sort: [q.asc('a'), q.asc('b')] }),
      stableKey({ sort: [q.asc('b'), q.asc('a')] }),
      stableKey({ filter: q.gte('createdAt', day) }),
      stableKey({ filter: q.gte('createdAt', new Date(day.getTime() + 1)) }),
      stableKey({ at: day }),
      stableKey({ at: day.getTime() }),
    ];
    expect(new Set(keys).size).toBe(keys.length);
  });
});
