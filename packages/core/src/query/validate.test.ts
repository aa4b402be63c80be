import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { QueryError } from '../errors';
import type { Filter } from './ast';
import { q } from './builder';
import { validateFilter, validateQuery } from './validate';

function rejects(input: unknown, message: RegExp): void {
  expect(() => validateQuery(input)).toThrow(QueryError);
  expect(() => validateQuery(input)).toThrow(message);
}

describe('validateQuery', () => {
  it('accepts a full query and returns an equal, JSON-round-trippable copy', () => {
    const input = {
      collection: 'orders',
      filter: q.and(q.eq('storeId', 101), q.not(q.in('status', ['void', null])), q.prefix('ref', 'A-')),
      sort: [q.desc('total')],
      limit: 10,
      offset: 20,
    };
    const query = validateQuery(input);
    expect(query).toEqual(input);
    expect(query).not.toBe(input);
    expect(validateQuery(JSON.parse(JSON.stringify(query)))).toEqual(query);
  });

  it('converts Date operands to epoch milliseconds', () => {
    const query = validateQuery({ collection: 'o', filter: { op: 'gt', field: 'at', value: new Date(42) } });
    expect(query.filter).toEqual({ op: 'gt', field: 'at', value: 42 });
  });

  it('rejects malformed queries with a message naming the place', () => {
    rejects(null, /expected a query object/);
    rejects({ collection: '' }, /collection: must not be empty/);
    rejects({ collection: 'o', where: {} }, /unexpected key "where"/);
    rejects({ collection: 'o', limit: -1 }, /limit: expected a non-negative integer/);
    rejects({ collection: 'o', limit: 1.5 }, /limit/);
    rejects({ collection: 'o', offset: '3' }, /offset/);
    rejects({ collection: 'o', sort: [{ field: 'a', dir: 'up' }] }, /sort\[0\]\.dir/);
    rejects({ collection: 'o', sort: { field: 'a' } }, /sort: expected an array/);
  });

  it('rejects malformed filters', () => {
    const bad: [unknown, RegExp][] = [
      [{ op: 'like', field: 'a', value: 'x' }, /unknown operator string "like"/],
      [{ op: 'eq', field: 'a' }, /filter\.value/],
      [{ op: 'eq', field: 'a', value: Number.NaN }, /finite/],
      [{ op: 'lt', field: 'a', value: Number.POSITIVE_INFINITY }, /finite/],
      [{ op: 'eq', field: 'a', value: { $gt: 1 } }, /expected null, a boolean/],
      [{ op: 'eq', field: 'a', value: new Date(Number.NaN) }, /invalid Date/],
      [{ op: 'eq', field: 'a..b', value: 1 }, /empty segment/],
      [{ op: 'eq', field: '', value: 1 }, /field/],
      [{ op: 'eq', field: 3, value: 1 }, /field: expected a string/],
      [{ op: 'eq', field: 'a', value: '\uD800x' }, /lone surrogates/],
      [{ op: 'in', field: 'a', values: 'x' }, /values: expected an array/],
      [{ op: 'in', field: 'a', values: [1, [2]] }, /values\[1\]/],
      [{ op: 'exists', field: 'a', value: 1 }, /expected a boolean/],
      [{ op: 'prefix', field: 'a', value: 1 }, /expected a string/],
      [{ op: 'and', filters: [{ op: 'true' }, 'x'] }, /filters\[1\]/],
      [{ op: 'not' }, /filter\.filter/],
      [{ op: 'true', extra: 1 }, /unexpected key "extra"/],
    ];
    for (const [filter, message] of bad) rejects({ collection: 'o', filter }, message);
  });

  it('bounds depth and size instead of overflowing the stack', () => {
    let deep: unknown = { op: 'true' };
    for (let i = 0; i < 100_000; i++) deep = { op: 'not', filter: deep };
    rejects({ collection: 'o', filter: deep }, /nest deeper than 32/);
    const wide = { op: 'in', field: 'a', values: Array.from({ length: 10_000 }, (_, i) => i) };
    rejects({ collection: 'o', filter: wide }, /larger than/);
  });

  it('turns exceptions thrown while reading the input into QueryError', () => {
    const hostile = {
      op: 'eq',
      field: 'a',
      get value() {
        throw new Error('boom');
      },
    };
    expect(() => validateFilter(hostile)).toThrow(QueryError);
    expect(() => validateFilter(new Proxy({}, { ownKeys: () => [] as string[] }))).toThrow(QueryError);
  });

  it('never throws anything but QueryError, whatever the input', () => {
    fc.assert(
      fc.property(fc.anything({ withDate: true, withMap: true, withNullPrototype: true }), (input) => {
        for (const check of [
          () => validateQuery(input),
          () => validateFilter(input),
          () => validateQuery({ collection: 'c', filter: input }),
        ]) {
          try {
            check();
          } catch (error) {
            expect(error).toBeInstanceOf(QueryError);
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it('accepts every filter the builder makes, unchanged', () => {
    const field = fc.constantFrom('a', 'b.c', 'id');
    const value = fc.oneof(fc.constant(null), fc.boolean(), fc.integer(), fc.string());
    const filter: fc.Arbitrary<Filter> = fc.letrec<{ f: Filter }>((tie) => ({
      f: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        fc
          .tuple(fc.constantFrom('eq', 'ne', 'lt', 'lte', 'gt', 'gte' as const), field, value)
          .map(([op, f, v]) => q[op](f, v)),
        fc.tuple(field, fc.array(value, { maxLength: 3 })).map(([f, vs]) => q.in(f, vs)),
        fc.tuple(field, fc.string()).map(([f, s]) => q.contains(f, s)),
        fc.array(tie('f'), { maxLength: 3 }).map((fs) => q.or(...fs)),
        tie('f').map((f) => q.not(f)),
      ),
    })).f;
    fc.assert(
      fc.property(filter, (f) => {
        expect(validateFilter(JSON.parse(JSON.stringify(f)))).toEqual(f);
      }),
      { numRuns: 300 },
    );
  });
});

describe('q', () => {
  it('throws QueryError on bad operands as soon as a leaf is built', () => {
    expect(() => q.eq('a', Number.NaN)).toThrow(QueryError);
    expect(() => q.in('a..b', [1])).toThrow(QueryError);
    expect(() => q.query('o', { limit: -1 })).toThrow(QueryError);
  });
});
