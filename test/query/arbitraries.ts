/**
 * Random queries for the differential tests of the SQL compilers (SQLite's in `@loam/store`, PostgreSQL's in
 * `@loam/server`): each test makes its own documents, compiles these queries and compares the rows with
 * `runQuery`'s.
 */
import { type Filter, type Query, q, type ScalarInput, type SortKey } from '@loam/core';
import fc from 'fast-check';

/** Strings at the edges of code-point order: empty, case, accents, the private-use area, astral planes. */
export const QUERY_STRINGS: readonly string[] = [
  '',
  'a',
  'A',
  'ab',
  'abc',
  'b',
  '1',
  'é',
  'aé',
  '\uE000',
  '\uFFFF',
  '😀',
  '😀a',
  '\u{10FFFF}',
  'a\u{10FFFF}',
];
export const QUERY_NUMBERS: readonly number[] = [-1, 0, -0, 1, 1.5, 2, 1e15];
export const QUERY_DATES: readonly Date[] = [0, 1, 2, 1e12].map((ms) => new Date(ms));

/** Arbitraries over the given field paths (`id` among them, if wanted) and strings. */
export function queryArbitraries(fields: readonly string[], strings: readonly string[] = QUERY_STRINGS) {
  const scalar: fc.Arbitrary<ScalarInput> = fc.oneof(
    { arbitrary: fc.constant(null), weight: 1 },
    { arbitrary: fc.boolean(), weight: 1 },
    { arbitrary: fc.constantFrom(...QUERY_NUMBERS), weight: 3 },
    { arbitrary: fc.constantFrom(...QUERY_DATES), weight: 1 },
    { arbitrary: fc.constantFrom(...strings), weight: 3 },
  );
  const field = fc.constantFrom(...fields);
  const compareOp = fc.constantFrom('eq', 'ne', 'lt', 'lte', 'gt', 'gte' as const);
  const filter: fc.Arbitrary<Filter> = fc.letrec<{ filter: Filter }>((tie) => ({
    filter: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      fc.tuple(compareOp, field, scalar).map(([op, f, v]) => q[op](f, v)),
      fc
        .tuple(fc.boolean(), field, fc.array(scalar, { maxLength: 4 }))
        .map(([isIn, f, vs]) => (isIn ? q.in(f, vs) : q.nin(f, vs))),
      fc.tuple(field, fc.boolean()).map(([f, v]) => q.exists(f, v)),
      fc
        .tuple(fc.boolean(), field, fc.constantFrom(...strings))
        .map(([isPrefix, f, s]) => (isPrefix ? q.prefix(f, s) : q.contains(f, s))),
      fc.constantFrom(q.true(), q.false()),
      fc.array(tie('filter'), { maxLength: 3 }).map((fs) => q.and(...fs)),
      fc.array(tie('filter'), { maxLength: 3 }).map((fs) => q.or(...fs)),
      tie('filter').map((f) => q.not(f)),
    ),
  })).filter;
  const sort: fc.Arbitrary<SortKey[]> = fc.array(
    fc.tuple(field, fc.boolean()).map(([f, asc]) => (asc ? q.asc(f) : q.desc(f))),
    { maxLength: 3 },
  );
  const query = (collection: string): fc.Arbitrary<Query> =>
    fc
      .record({ filter, sort, limit: fc.nat({ max: 10 }), offset: fc.nat({ max: 10 }) }, { requiredKeys: [] })
      .map((options) => q.query(collection, options));
  return { scalar, filter, sort, query };
}
