import { describe, expect, it } from 'vitest';
import { IdError } from '../errors';
import { asDocId, asReplicaId, createDocId, createOpId, createReplicaId, isDocId, parseOpId } from './ids';

describe('ids', () => {
  it('generates UUIDv7 document ids that sort by creation time', () => {
    const ids = [1, 2, 1000, 1_750_000_000_000].map((ms) => createDocId(() => ms));
    expect([...ids].sort()).toEqual(ids);
    for (const id of ids)
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(new Set(Array.from({ length: 1000 }, () => createDocId(() => 5))).size).toBe(1000);
  });

  it('draws document ids from the platform CSPRNG: well formed, distinct within one millisecond, every random digit used', () => {
    const ids = Array.from({ length: 20_000 }, () => createDocId(() => 1_750_000_000_000));
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids)
      expect(id).toMatch(/^0197[0-9a-f]{4}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const variants = new Set(ids.map((id) => id[19]));
    expect([...variants].sort()).toEqual(['8', '9', 'a', 'b']);
    for (const at of [15, 16, 17, 20, 21, 22, 24, 35]) expect(new Set(ids.map((id) => id[at])).size).toBe(16);
  });

  it('makes the same document id from the same injected randomness', () => {
    const seeded = () => {
      let x = 7;
      return () => {
        x = (x * 16807) % 2147483647;
        return x / 2147483647;
      };
    };
    expect(createDocId(() => 42, seeded())).toBe(createDocId(() => 42, seeded()));
  });

  it('round-trips op ids and refuses malformed ones', () => {
    const replica = createReplicaId();
    expect(parseOpId(createOpId(replica, 42))).toEqual({ replica, seq: 42 });
    for (const bad of [
      'x:1',
      `${replica}:0`,
      `${replica}:01`,
      `${replica}:1.5`,
      `${replica}`,
      `${replica}:-3`,
    ]) {
      expect(() => parseOpId(bad)).toThrow(IdError);
    }
    expect(() => createOpId(replica, 0)).toThrow(IdError);
  });

  it('accepts app-chosen document ids but not control characters, lone surrogates or huge ones', () => {
    expect(asDocId('SKU-0042')).toBe('SKU-0042');
    for (const bad of ['', 'a\nb', '\ud800', 'x'.repeat(129)]) expect(isDocId(bad)).toBe(false);
    expect(() => asReplicaId('UPPERCASE0000000')).toThrow(IdError);
  });
});
