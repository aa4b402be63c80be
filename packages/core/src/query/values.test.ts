import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareStrings, compareValues, getField, normalizeValue, OPAQUE } from './values';

describe('compareStrings', () => {
  it('orders astral characters after U+E000–U+FFFF, unlike JavaScript <', () => {
    expect('😀' < '\uFFFF').toBe(true);
    expect(compareStrings('😀', '\uFFFF')).toBe(1);
    expect(compareStrings('\uE000', '\u{10000}')).toBe(-1);
    expect(compareStrings('a😀', 'a\uE000b')).toBe(1);
  });

  it('orders a prefix before its extensions and is case-sensitive', () => {
    expect(compareStrings('ab', 'abc')).toBe(-1);
    expect(compareStrings('B', 'a')).toBe(-1);
    expect(compareStrings('', '')).toBe(0);
  });

  it('agrees with UTF-8 byte order (SQLite BINARY) on any well-formed strings', () => {
    const str = fc.string({ unit: 'binary', maxLength: 6 });
    fc.assert(
      fc.property(str, str, (a, b) => {
        const bytes = Math.sign(Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')));
        expect(compareStrings(a, b)).toBe(bytes);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('compareValues', () => {
  it('orders null < numbers (booleans, dates) < strings < opaque values', () => {
    const ordered = [undefined, false, true, 2, new Date(3), 1e15, 'a', 'b', ['x']];
    for (let i = 0; i + 1 < ordered.length; i++) {
      expect(compareValues(ordered[i], ordered[i + 1])).toBe(-1);
      expect(compareValues(ordered[i + 1], ordered[i])).toBe(1);
    }
  });

  it('treats booleans as 0/1 and dates as epoch ms', () => {
    expect(compareValues(true, 1)).toBe(0);
    expect(compareValues(false, 0)).toBe(0);
    expect(compareValues(new Date(1000), 1000)).toBe(0);
    expect(compareValues(0, -0)).toBe(0);
  });

  it('treats missing, null, NaN and invalid dates alike', () => {
    for (const v of [null, Number.NaN, new Date(Number.NaN)]) expect(compareValues(v, undefined)).toBe(0);
  });

  it('is a total preorder (antisymmetric and transitive)', () => {
    const value = fc.oneof(
      fc.constant(null),
      fc.boolean(),
      fc.double({ noNaN: true }),
      fc.string({ unit: 'binary', maxLength: 3 }),
      fc.integer({ min: -5, max: 5 }).map((n) => new Date(n)),
      fc.array(fc.integer(), { maxLength: 1 }),
    );
    fc.assert(
      fc.property(value, value, value, (a, b, c) => {
        expect(compareValues(a, b)).toBe(-compareValues(b, a) || 0);
        if (compareValues(a, b) <= 0 && compareValues(b, c) <= 0)
          expect(compareValues(a, c)).toBeLessThanOrEqual(0);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('normalizeValue', () => {
  it('makes arrays, objects and functions opaque', () => {
    expect(normalizeValue([])).toBe(OPAQUE);
    expect(normalizeValue({ a: 1 })).toBe(OPAQUE);
    expect(normalizeValue(new Uint8Array(1))).toBe(OPAQUE);
  });
});

describe('getField', () => {
  const doc = {
    id: 'd1',
    address: { city: 'Lyon', geo: { lat: 45 } },
    tags: ['a', 'b'],
    at: new Date(5),
    nothing: null,
  };

  it('follows dotted paths through nested objects', () => {
    expect(getField(doc, 'address.city')).toBe('Lyon');
    expect(getField(doc, 'address.geo.lat')).toBe(45);
    expect(getField(doc, 'id')).toBe('d1');
  });

  it('yields undefined through missing keys, scalars, arrays, dates and null', () => {
    expect(getField(doc, 'address.zip')).toBeUndefined();
    expect(getField(doc, 'address.city.length')).toBeUndefined();
    expect(getField(doc, 'tags.0')).toBeUndefined();
    expect(getField(doc, 'at.getTime')).toBeUndefined();
    expect(getField(doc, 'nothing.x')).toBeUndefined();
  });

  it('never reads inherited properties', () => {
    expect(getField(doc, 'constructor')).toBeUndefined();
    expect(getField(doc, 'address.toString')).toBeUndefined();
    expect(getField(doc, '__proto__')).toBeUndefined();
  });
});
