import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Filter, QueryDoc, Scalar } from './ast';
import { q } from './builder';
import { evaluateFilter, runQuery } from './evaluate';

const docs: QueryDoc[] = [
  { id: 'a', price: 5, name: 'Apple', paid: true, at: new Date(10), address: { city: 'Lyon' } },
  { id: 'b', price: '5', name: 'apricot', paid: false, tags: ['x'] },
  { id: 'c', price: null, name: 'Banana' },
  { id: 'd', name: 7, address: { city: null } },
];

function ids(filter: Filter): string[] {
  return docs.filter((d) => evaluateFilter(filter, d)).map((d) => String(d.id));
}

describe('evaluateFilter', () => {
  it('eq and ne are null-safe and never convert between numbers and strings', () => {
    expect(ids(q.eq('price', 5))).toEqual(['a']);
    expect(ids(q.eq('price', '5'))).toEqual(['b']);
    expect(ids(q.eq('price', null))).toEqual(['c', 'd']);
    expect(ids(q.ne('price', 5))).toEqual(['b', 'c', 'd']);
    expect(ids(q.ne('price', null))).toEqual(['a', 'b']);
  });

  it('compares booleans as 0/1 and dates as epoch ms', () => {
    expect(ids(q.eq('paid', 1))).toEqual(['a']);
    expect(ids(q.eq('paid', false))).toEqual(['b']);
    expect(ids(q.eq('at', new Date(10)))).toEqual(['a']);
    expect(ids(q.gt('at', 9))).toEqual(['a']);
  });

  it('ordered comparisons are false on null and put every string above every number', () => {
    expect(ids(q.gt('price', 4))).toEqual(['a', 'b']);
    expect(ids(q.lt('price', 'a'))).toEqual(['a', 'b']);
    expect(ids(q.lt('price', 100))).toEqual(['a']);
    expect(ids(q.lte('price', null))).toEqual([]);
    expect(ids(q.not(q.lt('price', 100)))).toEqual(['b', 'c', 'd']);
  });

  it('in and nin are null-safe; nin is the exact complement of in', () => {
    expect(ids(q.in('price', [5, null]))).toEqual(['a', 'c', 'd']);
    expect(ids(q.nin('price', [5, null]))).toEqual(['b']);
    expect(ids(q.nin('price', [5]))).toEqual(['b', 'c', 'd']);
    expect(ids(q.in('price', []))).toEqual([]);
    expect(ids(q.nin('price', []))).toEqual(['a', 'b', 'c', 'd']);
  });

  it('exists treats missing and null alike, and nested paths through null as missing', () => {
    expect(ids(q.exists('address.city'))).toEqual(['a']);
    expect(ids(q.exists('address.city', false))).toEqual(['b', 'c', 'd']);
    expect(ids(q.exists('tags'))).toEqual(['b']);
  });

  it('prefix and contains are case-sensitive and only match strings', () => {
    expect(ids(q.prefix('name', 'Ap'))).toEqual(['a']);
    expect(ids(q.prefix('name', ''))).toEqual(['a', 'b', 'c']);
    expect(ids(q.contains('name', 'an'))).toEqual(['c']);
    expect(ids(q.contains('name', '7'))).toEqual([]);
    expect(ids(q.prefix('price', '5'))).toEqual(['b']);
  });

  it('arrays and objects match no comparison but exist', () => {
    expect(ids(q.eq('tags', 'x'))).toEqual([]);
    expect(ids(q.ne('tags', 'x'))).toEqual(['a', 'b', 'c', 'd']);
    expect(ids(q.gte('address', 0))).toEqual([]);
    expect(ids(q.contains('tags', 'x'))).toEqual([]);
  });

  it('and/or/true/false behave as boolean algebra with empty and = true, empty or = false', () => {
    expect(ids(q.and())).toEqual(['a', 'b', 'c', 'd']);
    expect(ids(q.or())).toEqual([]);
    expect(ids(q.or(q.eq('id', 'a'), q.eq('id', 'c')))).toEqual(['a', 'c']);
    expect(ids(q.and(q.true(), q.false()))).toEqual([]);
  });
});

const value: fc.Arbitrary<Scalar> = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer({ min: -2, max: 2 }),
  fc.constantFrom('', 'a', 'ab', 'B', '😀', '\uFFFF'),
);
const fieldValue = fc.oneof(value, fc.constant(undefined), fc.constant(new Date(1)), fc.constant(['a']));
const doc = fieldValue.map((f): QueryDoc => (f === undefined ? { id: 'x' } : { id: 'x', f }));

describe('evaluateFilter laws', () => {
  it('ne ≡ not eq, nin ≡ not in, in ≡ or of eq, exists false ≡ eq null', () => {
    fc.assert(
      fc.property(doc, value, fc.array(value, { maxLength: 3 }), (d, v, vs) => {
        const ev = (f: Filter) => evaluateFilter(f, d);
        expect(ev(q.ne('f', v))).toBe(!ev(q.eq('f', v)));
        expect(ev(q.nin('f', vs))).toBe(!ev(q.in('f', vs)));
        expect(ev(q.in('f', vs))).toBe(ev(q.or(...vs.map((x) => q.eq('f', x)))));
        expect(ev(q.exists('f', false))).toBe(ev(q.eq('f', null)));
      }),
      { numRuns: 500 },
    );
  });

  it('lte ≡ lt or eq, and gte ≡ not lt, whenever field and value are comparable', () => {
    fc.assert(
      fc.property(doc, value, (d, v) => {
        const ev = (f: Filter) => evaluateFilter(f, d);
        const comparable = v !== null && ev(q.exists('f')) && !Array.isArray(d.f);
        if (!comparable) {
          for (const f of [q.lt('f', v), q.lte('f', v), q.gt('f', v), q.gte('f', v)])
            expect(ev(f)).toBe(false);
          return;
        }
        expect(ev(q.lte('f', v))).toBe(ev(q.or(q.lt('f', v), q.eq('f', v))));
        expect(ev(q.gte('f', v))).toBe(!ev(q.lt('f', v)));
        expect(ev(q.gt('f', v))).toBe(!ev(q.lte('f', v)));
      }),
      { numRuns: 500 },
    );
  });
});

describe('runQuery', () => {
  const rows: QueryDoc[] = [
    { id: '😀', n: 1 },
    { id: '\uFFFF', n: 1 },
    { id: 'b', n: null },
    { id: 'a', n: 'z' },
    { id: 'c', n: 0 },
    { id: 'e' },
  ];

  it('sorts asc with nulls first, desc with nulls last, ties by id in code-point order', () => {
    const asc = runQuery({ collection: 'x', sort: [q.asc('n')] }, rows).map((d) => d.id);
    expect(asc).toEqual(['b', 'e', 'c', '\uFFFF', '😀', 'a']);
    const desc = runQuery({ collection: 'x', sort: [q.desc('n')] }, rows).map((d) => d.id);
    expect(desc).toEqual(['a', '\uFFFF', '😀', 'c', 'b', 'e']);
  });

  it('sorts by id when no key is given, skips offset then keeps limit', () => {
    expect(runQuery({ collection: 'x' }, rows).map((d) => d.id)).toEqual([
      'a',
      'b',
      'c',
      'e',
      '\uFFFF',
      '😀',
    ]);
    expect(runQuery({ collection: 'x', offset: 1, limit: 2 }, rows).map((d) => d.id)).toEqual(['b', 'c']);
    expect(runQuery({ collection: 'x', offset: 5, limit: 2 }, rows).map((d) => d.id)).toEqual(['😀']);
    expect(runQuery({ collection: 'x', limit: 0 }, rows)).toEqual([]);
  });

  it('filters before paging and leaves the input untouched', () => {
    const input = [...rows];
    const page = runQuery({ collection: 'x', filter: q.exists('n'), sort: [q.desc('n')], limit: 2 }, input);
    expect(page.map((d) => d.id)).toEqual(['a', '\uFFFF']);
    expect(input).toEqual(rows);
  });

  it('sorts by several keys in turn', () => {
    const people = [
      { id: '1', city: 'B', age: 30 },
      { id: '2', city: 'A', age: 20 },
      { id: '3', city: 'B', age: 20 },
      { id: '4', city: 'A', age: 40 },
    ];
    const sorted = runQuery({ collection: 'p', sort: [q.asc('city'), q.desc('age')] }, people);
    expect(sorted.map((d) => d.id)).toEqual(['4', '2', '1', '3']);
  });
});
