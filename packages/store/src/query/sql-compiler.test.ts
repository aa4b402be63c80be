import { type Filter, type Query, type QueryDoc, q, runQuery } from '@loam/core';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { queryArbitraries } from '../../../../test/query/arbitraries';
import {
  type ColumnOf,
  compileFilter,
  compileQuery,
  prefixUpperBound,
  type QueryParam,
  quoteIdentifier,
  toSqlValue,
} from './sql-compiler';

const FIELDS = ['a', 'b', 's', 'n.x'] as const;
const TABLE = 'docs';

const column: ColumnOf = (path) => {
  if (path === 'id' || (FIELDS as readonly string[]).includes(path)) return quoteIdentifier(path);
  throw new Error(`no column for ${path}`);
};

const db = new Database(':memory:');
db.exec(
  `CREATE TABLE ${quoteIdentifier(TABLE)} (id TEXT PRIMARY KEY, ${FIELDS.map(quoteIdentifier).join(', ')})`,
);
db.exec(`CREATE INDEX docs_a ON ${quoteIdentifier(TABLE)} ("a")`);
/**
 * better-sqlite3 binds every number as REAL; the storage drivers bind safe integers as INTEGER. With TEXT affinity
 * (the `id` column) the two differ (`1` becomes '1', `1.0` becomes '1.0'), so both bindings are exercised.
 */
let integersAsInteger = true;
function bind(value: QueryParam): QueryParam | bigint {
  return integersAsInteger && typeof value === 'number' && Number.isSafeInteger(value)
    ? BigInt(value)
    : value;
}

const insert = db.prepare(`INSERT INTO docs VALUES (?, ${FIELDS.map(() => '?').join(', ')})`);
const load = db.transaction((docs: readonly QueryDoc[]) => {
  db.exec('DELETE FROM docs');
  for (const doc of docs) {
    const n = doc.n as { x?: unknown } | null | undefined;
    insert.run(doc.id, ...[doc.a, doc.b, doc.s, n?.x].map((v) => bind(toSqlValue(v))));
  }
});
afterAll(() => db.close());

function sqlIds(query: Query): string[] {
  const { sql, params } = compileQuery(query, { table: TABLE, column, select: 'id' });
  return db
    .prepare(sql)
    .pluck()
    .all(...params.map(bind)) as string[];
}

function jsIds(query: Query, docs: readonly QueryDoc[]): string[] {
  return runQuery(query, docs).map((d) => d.id as string);
}

const { scalar, filter: filterArb, query: queryOf } = queryArbitraries(['a', 'b', 's', 'n.x', 'id']);
const queryArb = queryOf('docs');
const stored = fc.oneof(
  { arbitrary: fc.constant(undefined), weight: 1 },
  { arbitrary: scalar, weight: 8 },
  { arbitrary: fc.constantFrom(Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 2 ** 60), weight: 1 },
);

const idChar = fc.constantFrom('a', 'b', '1', 'é', '\uE000', '\uFFFF', '😀', '\u{10FFFF}');
const docsArb: fc.Arbitrary<QueryDoc[]> = fc
  .uniqueArray(
    fc.oneof(
      fc.constantFrom('0', '1', '2', '1.5', '-1'),
      fc.string({ unit: idChar, minLength: 1, maxLength: 3 }),
    ),
    { maxLength: 25 },
  )
  .chain((ids) =>
    fc.tuple(
      ...ids.map((id) => fc.tuple(fc.constant(id), stored, stored, stored, fc.option(stored, { nil: null }))),
    ),
  )
  .map((rows) =>
    rows.map(([id, a, b, s, nx]) => {
      const doc: Record<string, unknown> = { id };
      if (a !== undefined) doc.a = a;
      if (b !== undefined) doc.b = b;
      if (s !== undefined) doc.s = s;
      if (nx !== null) doc.n = nx === undefined ? {} : { x: nx };
      return doc;
    }),
  );

const seed = process.env.LOAM_SEED === undefined ? undefined : Number(process.env.LOAM_SEED);

describe('compileQuery against SQLite (differential)', () => {
  it('returns the same ids in the same order as runQuery for random queries over random data', () => {
    fc.assert(
      fc.property(docsArb, queryArb, fc.boolean(), (docs, query, asInteger) => {
        integersAsInteger = asInteger;
        load(docs);
        const { sql, params } = compileQuery(query, { table: TABLE, column, select: 'id' });
        expect(sqlIds(query), `SQL: ${sql}\nparams: ${JSON.stringify(params)}`).toEqual(jsIds(query, docs));
      }),
      { numRuns: 1500, ...(seed === undefined ? {} : { seed }) },
    );
  });

  it('a filter and its negation partition the rows (no NULL leaks through not)', () => {
    fc.assert(
      fc.property(docsArb, filterArb, fc.boolean(), (docs, filter, asInteger) => {
        integersAsInteger = asInteger;
        load(docs);
        const yes = sqlIds({ collection: 'docs', filter });
        const no = sqlIds({ collection: 'docs', filter: q.not(filter) });
        expect([...yes, ...no].sort()).toEqual(docs.map((d) => d.id as string).sort());
        expect(yes.filter((id) => no.includes(id))).toEqual([]);
      }),
      { numRuns: 300, ...(seed === undefined ? {} : { seed }) },
    );
  });
});

describe('compileFilter', () => {
  const docs: QueryDoc[] = [
    { id: '1', a: 1, s: 'x' },
    { id: '2', a: '1', s: '😀' },
    { id: '3', a: true, s: '\uFFFF' },
    { id: '4', s: 'xy' },
  ];

  it('never converts between numbers and text, not even for the TEXT primary key', () => {
    for (const asInteger of [true, false]) {
      integersAsInteger = asInteger;
      load([...docs, { id: '1.5' }]);
      const where = (filter: Filter) => sqlIds({ collection: 'docs', filter });
      expect(where(q.eq('a', 1))).toEqual(['1', '3']);
      expect(where(q.eq('a', '1'))).toEqual(['2']);
      expect(where(q.eq('id', 1))).toEqual([]);
      expect(where(q.in('id', [1, '2']))).toEqual(['2']);
      expect(where(q.gt('id', 100))).toEqual(['1', '1.5', '2', '3', '4']);
      expect(where(q.ne('a', 1))).toEqual(['1.5', '2', '4']);
      expect(where(q.in('id', [1.5]))).toEqual([]);
    }
  });

  it('sorts strings in code-point order and prefix-matches across the astral boundary', () => {
    integersAsInteger = true;
    load(docs);
    expect(sqlIds({ collection: 'docs', sort: [q.asc('s')] })).toEqual(['1', '4', '3', '2']);
    expect(sqlIds({ collection: 'docs', filter: q.prefix('s', '\uFFFF') })).toEqual(['3']);
    expect(sqlIds({ collection: 'docs', filter: q.prefix('s', 'x') })).toEqual(['1', '4']);
  });

  it('compiles plain equality and prefix to index-friendly SQL', () => {
    expect(compileFilter(q.eq('a', 3), column)).toEqual({ sql: '"a" = ?', params: [3] });
    expect(compileFilter(q.eq('a', true), column)).toEqual({ sql: '"a" = ?', params: [1] });
    expect(compileFilter(q.eq('a', new Date(7)), column).params).toEqual([7]);
    for (const filter of [q.eq('a', 3), q.prefix('a', 'ab'), q.in('a', [1, 2]), q.gt('a', 1)]) {
      const { sql, params } = compileFilter(filter, column);
      const plan = db
        .prepare(`EXPLAIN QUERY PLAN SELECT id FROM docs WHERE ${sql}`)
        .all(...params)
        .map((row) => (row as { detail: string }).detail)
        .join('\n');
      expect(plan).toContain('USING INDEX docs_a');
    }
  });
});

describe('prefixUpperBound', () => {
  it('increments the last code point, skipping surrogates and dropping trailing U+10FFFF', () => {
    expect(prefixUpperBound('ab')).toBe('ac');
    expect(prefixUpperBound('a\uD7FF')).toBe('a\uE000');
    expect(prefixUpperBound('a\uFFFF')).toBe('a\u{10000}');
    expect(prefixUpperBound('a\u{10FFFF}\u{10FFFF}')).toBe('b');
    expect(prefixUpperBound('\u{10FFFF}')).toBeNull();
    expect(prefixUpperBound('')).toBeNull();
  });
});

describe('toSqlValue', () => {
  it('stores booleans as 0/1, dates as epoch ms, missing and NaN as NULL, and refuses arrays', () => {
    expect([true, false, new Date(5), undefined, Number.NaN, 'x', 2].map(toSqlValue)).toEqual([
      1,
      0,
      5,
      null,
      null,
      'x',
      2,
    ]);
    expect(() => toSqlValue(['x'])).toThrow(/array/);
  });
});
