import { defineSchema, f, type Query, type QueryDoc, q, runQuery } from '@loam/core';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  QUERY_DATES,
  QUERY_NUMBERS,
  QUERY_STRINGS,
  queryArbitraries,
} from '../../../../test/query/arbitraries';
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

const STRINGS = [...QUERY_STRINGS, '\u0000', 'a\u0000b'];
const NUMBERS = [...QUERY_NUMBERS, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 2 ** 60];
const { filter: filterArb, query: queryOf } = queryArbitraries(['n', 's', 'b', 'd', 'o.x', 'id'], STRINGS);
const queryArb = queryOf('docs');
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
            d: maybe(fc.constantFrom(...QUERY_DATES)),
            o: maybe(fc.record({ x: maybe(fc.constantFrom(...STRINGS)) }, { requiredKeys: [] })),
          },
          { requiredKeys: ['id'] },
        ),
      ),
    ),
  )
  .map((docs) => docs as QueryDoc[]);

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
