import {
  defineSchema,
  type Filter,
  f,
  type Query,
  type QueryDoc,
  q,
  runQuery,
  type ScalarInput,
  type SortKey,
} from '@loam/core';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestSchema } from '../testing/postgres';
import {
  collectionDdl,
  compilePgQuery,
  type PgCollection,
  pgCollection,
  pgValue,
} from './storage-postgres-sql';

const def = defineSchema({
  version: 1,
  collections: {
    docs: {
      fields: {
        n: f.number({ optional: true, indexed: true }),
        s: f.string({ optional: true }),
        b: f.boolean({ optional: true }),
        d: f.date({ optional: true }),
        o: f.object({ x: f.string({ optional: true }) }, { optional: true }),
      },
    },
  },
}).collections.docs;
const c: PgCollection = pgCollection('docs', def);
const db = createTestSchema('loam_sqltest');

beforeAll(async () => {
  await db.query(`CREATE SCHEMA "${db.schema}"`);
  for (const statement of collectionDdl(c)) await db.query(statement);
});
afterAll(() => db.drop());

async function load(docs: readonly QueryDoc[]): Promise<void> {
  await db.query(`DELETE FROM ${c.table}`);
  if (docs.length === 0) return;
  const cols = ['id', '"$live"', '"$v"', '"$state"', ...c.leaves.map((l) => l.sql)];
  const params: unknown[] = [];
  const rows = docs.map((doc) => {
    const values = [
      doc.id,
      true,
      0,
      Buffer.alloc(0),
      ...c.leaves.map((leaf) =>
        pgValue(leaf.path === 'o.x' ? (doc.o as { x?: unknown } | undefined)?.x : doc[leaf.path], leaf.type),
      ),
    ];
    return `(${values.map((v) => `$${params.push(v)}`).join(', ')})`;
  });
  await db.query(`INSERT INTO ${c.table} (${cols.join(', ')}) VALUES ${rows.join(', ')}`, params);
}

async function sqlIds(query: Query): Promise<string[]> {
  const { sql, params } = compilePgQuery(query, c, 'id');
  return (await db.query<{ id: string }>(sql, params)).map((r) => r.id);
}

const STRINGS = [
  '',
  'a',
  'A',
  'ab',
  'abc',
  'b',
  '1',
  'é',
  'aé',
  '\u0000',
  'a\u0000b',
  '\uE000',
  '\uFFFF',
  '😀',
  '😀a',
  '\u{10FFFF}',
  'a\u{10FFFF}',
];
const NUMBERS = [-1, 0, -0, 1, 1.5, 2, 1e15, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 2 ** 60];
const DATES = [0, 1, 2, 1e12].map((ms) => new Date(ms));

const scalar: fc.Arbitrary<ScalarInput> = fc.oneof(
  { arbitrary: fc.constant(null), weight: 1 },
  { arbitrary: fc.boolean(), weight: 1 },
  { arbitrary: fc.constantFrom(...NUMBERS.slice(0, 7)), weight: 3 },
  { arbitrary: fc.constantFrom(...DATES), weight: 1 },
  { arbitrary: fc.constantFrom(...STRINGS), weight: 3 },
);
const maybe = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined, freq: 4 });
const idChar = fc.constantFrom('a', 'b', '1', 'é', '\uE000', '\uFFFF', '😀', '\u{10FFFF}');
const docsArb: fc.Arbitrary<QueryDoc[]> = fc
  .uniqueArray(fc.string({ unit: idChar, minLength: 1, maxLength: 3 }), { maxLength: 20 })
  .chain((ids) =>
    fc.tuple(
      ...ids.map((id) =>
        fc.record(
          {
            id: fc.constant(id),
            n: maybe(fc.constantFrom(...NUMBERS)),
            s: maybe(fc.constantFrom(...STRINGS)),
            b: maybe(fc.boolean()),
            d: maybe(fc.constantFrom(...DATES)),
            o: maybe(fc.record({ x: maybe(fc.constantFrom(...STRINGS)) }, { requiredKeys: [] })),
          },
          { requiredKeys: ['id'] },
        ),
      ),
    ),
  )
  .map((docs) => docs as QueryDoc[]);

const field = fc.constantFrom<string>('n', 's', 'b', 'd', 'o.x', 'id');
const compareOp = fc.constantFrom('eq', 'ne', 'lt', 'lte', 'gt', 'gte' as const);
const filterArb: fc.Arbitrary<Filter> = fc.letrec<{ filter: Filter }>((tie) => ({
  filter: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.tuple(compareOp, field, scalar).map(([op, name, v]) => q[op](name, v)),
    fc
      .tuple(fc.boolean(), field, fc.array(scalar, { maxLength: 4 }))
      .map(([isIn, name, vs]) => (isIn ? q.in(name, vs) : q.nin(name, vs))),
    fc.tuple(field, fc.boolean()).map(([name, v]) => q.exists(name, v)),
    fc
      .tuple(fc.boolean(), field, fc.constantFrom(...STRINGS))
      .map(([isPrefix, name, s]) => (isPrefix ? q.prefix(name, s) : q.contains(name, s))),
    fc.constantFrom(q.true(), q.false()),
    fc.array(tie('filter'), { maxLength: 3 }).map((fs) => q.and(...fs)),
    fc.array(tie('filter'), { maxLength: 3 }).map((fs) => q.or(...fs)),
    tie('filter').map((x) => q.not(x)),
  ),
})).filter;
const sortArb: fc.Arbitrary<SortKey[]> = fc.array(
  fc.tuple(field, fc.boolean()).map(([name, asc]) => (asc ? q.asc(name) : q.desc(name))),
  { maxLength: 3 },
);
const queryArb: fc.Arbitrary<Query> = fc
  .record(
    { filter: filterArb, sort: sortArb, limit: fc.nat({ max: 10 }), offset: fc.nat({ max: 10 }) },
    { requiredKeys: [] },
  )
  .map((options) => q.query('docs', options));

const seed = process.env.LOAM_SEED === undefined ? undefined : Number(process.env.LOAM_SEED);

describe('compilePgQuery against PostgreSQL (differential, typed columns)', () => {
  it('returns the same ids in the same order as runQuery for random queries over random data', async () => {
    await fc.assert(
      fc.asyncProperty(docsArb, queryArb, async (docs, query) => {
        await load(docs);
        const { sql, params } = compilePgQuery(query, c, 'id');
        expect(await sqlIds(query), `SQL: ${sql}\nparams: ${JSON.stringify(params)}`).toEqual(
          runQuery(query, docs).map((d) => d.id as string),
        );
      }),
      { numRuns: 400, ...(seed === undefined ? {} : { seed }) },
    );
  });

  it('a filter and its negation partition the rows (no NULL leaks through not)', async () => {
    await fc.assert(
      fc.asyncProperty(docsArb, filterArb, async (docs, filter) => {
        await load(docs);
        const yes = await sqlIds({ collection: 'docs', filter });
        const no = await sqlIds({ collection: 'docs', filter: q.not(filter) });
        expect([...yes, ...no].sort()).toEqual(docs.map((d) => d.id as string).sort());
      }),
      { numRuns: 150, ...(seed === undefined ? {} : { seed }) },
    );
  });
});
