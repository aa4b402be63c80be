/**
 * Type tests of the names a schema gives (`paths.ts`), the query builder's literal field names and the write
 * intents typed by a schema. `npm run typecheck` checks this file: every `@ts-expect-error` must be an error.
 */
import { expect, expectTypeOf, it } from 'vitest';
import type { WriteIntent } from '../ops/intents';
import { writeIntent } from '../ops/intents';
import type { LogicFilter, Query } from '../query/ast';
import { q } from '../query/builder';
import type { CollectionName, FieldNameOfKind, ListItemOf, NumericPath, QueryPath } from './paths';
import { type DocOf, defineSchema, f, type NewDocOf, type PatchOf, type Schema } from './schema';

const schema = defineSchema({
  version: 1,
  collections: {
    products: {
      fields: {
        name: f.string(),
        price: f.number(),
        released: f.date({ optional: true }),
        maker: f.ref('makers'),
        size: f.object({ width: f.number(), unit: f.object({ name: f.string() }) }),
        specs: f.json(),
        sold: f.counter(),
        tags: f.list<string>(),
        notes: f.text(),
      },
    },
    makers: { fields: { name: f.string() } },
  },
});
type S = typeof schema;

it('names the collections, fields of a kind, and the paths a query may use', () => {
  expectTypeOf<CollectionName<S>>().toEqualTypeOf<'products' | 'makers'>();
  expectTypeOf<FieldNameOfKind<S, 'products', 'counter'>>().toEqualTypeOf<'sold'>();
  expectTypeOf<FieldNameOfKind<S, 'products', 'list'>>().toEqualTypeOf<'tags'>();
  expectTypeOf<ListItemOf<S, 'products', 'tags'>>().toEqualTypeOf<string>();
  expectTypeOf<QueryPath<S, 'products'>>().toEqualTypeOf<
    'id' | 'name' | 'price' | 'released' | 'maker' | 'size.width' | 'size.unit.name' | 'sold'
  >();
  expectTypeOf<NumericPath<S, 'products'>>().toEqualTypeOf<'price' | 'size.width' | 'sold'>();
});

it('leaves an open schema (read from JSON) to the run-time checks', () => {
  expectTypeOf<CollectionName<Schema>>().toEqualTypeOf<string>();
  expectTypeOf<QueryPath<Schema, string>>().toEqualTypeOf<string>();
  expectTypeOf<NewDocOf<Schema, string>>().toEqualTypeOf<Readonly<Record<string, unknown>>>();
  expectTypeOf<PatchOf<Schema, string>>().toEqualTypeOf<Readonly<Record<string, unknown>>>();
  expectTypeOf<DocOf<Schema, string>['id']>().toEqualTypeOf<string>();
  expectTypeOf<WriteIntent<Schema>>().toEqualTypeOf<WriteIntent>();
});

it('keeps the field names of filters, sort keys and queries', () => {
  expectTypeOf(q.and(q.eq('name', 'x'), q.gt('size.width', 2))).toEqualTypeOf<
    LogicFilter<'name' | 'size.width'>
  >();
  expectTypeOf(q.query('products', { sort: [q.desc('price')] })).toEqualTypeOf<Query<'products', 'price'>>();
  expectTypeOf(q.query('products')).toExtend<Query<'products', QueryPath<S, 'products'>>>();
  const field: string = 'price';
  expectTypeOf(q.eq(field, 1).field).toEqualTypeOf<string>();
});

it('types write intents by the schema', () => {
  const ok: WriteIntent<S>[] = [
    writeIntent.insert('makers', { name: 'Acme' }),
    writeIntent.update('products', 'p1', { 'size.unit.name': 'cm', released: undefined }),
    writeIntent.increment('products', 'p1', 'sold', 2),
    writeIntent.listInsert('products', 'p1', 'tags', 0, ['new']),
    writeIntent.textDelete('products', 'p1', 'notes', 0, 1),
    { kind: 'delete', collection: 'makers', id: 'm1' },
  ];
  const wrong: WriteIntent<S>[] = [
    // @ts-expect-error: no such collection
    writeIntent.delete('nope', 'x'),
    // @ts-expect-error: makers need a name
    writeIntent.insert('makers', {}),
    // @ts-expect-error: size.width is a number
    writeIntent.update('products', 'p1', { 'size.width': 'wide' }),
    // @ts-expect-error: notes is text, not a list
    writeIntent.listDelete('products', 'p1', 'notes', 0, 1),
    // @ts-expect-error: tags hold strings
    writeIntent.listInsert('products', 'p1', 'tags', 0, [1]),
    // @ts-expect-error: written out, an intent is checked field by field
    { kind: 'insert', collection: 'makers', doc: { name: 'Acme', zzz: 1 } },
  ];
  expect(ok).toHaveLength(6);
  expect(wrong).toHaveLength(6);
});
