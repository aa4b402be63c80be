/**
 * Type tests: the Node engine is typed by its schema. `npm run typecheck` checks this file; every
 * `@ts-expect-error` below must be an error (a directive on a line that compiles fails the typecheck). The function
 * holding them is never called: each call would fail at run time too (`validation_failed`, `query_invalid`...).
 */
import { defineSchema, f, q, type WriteIntent, writeIntent } from '@loam/core';
import { expect, expectTypeOf, it } from 'vitest';
import type { Engine } from './engine';

const schema = defineSchema({
  version: 1,
  collections: {
    products: {
      fields: {
        name: f.string(),
        price: f.number({ indexed: true }),
        category: f.string({ optional: true }),
        supplier: f.object({ name: f.string(), city: f.string({ optional: true }) }, { optional: true }),
        attributes: f.json({ optional: true }),
        stock: f.counter(),
        tags: f.list<string>(),
        description: f.text(),
      },
    },
    orders: { fields: { productId: f.ref('products'), quantity: f.number(), placed: f.date() } },
  },
});

async function typedBySchema(db: Engine<typeof schema>) {
  const id = await db.insert('products', { name: 'Tea', price: 2.5 });
  // @ts-expect-error: no such collection
  await db.insert('nope', { zzz: 1 });
  // @ts-expect-error: products have no field zzz
  await db.insert('products', { name: 'Tea', price: 2.5, zzz: 1 });
  // @ts-expect-error: price is a number
  await db.insert('products', { name: 'Tea', price: '2.50' });
  // @ts-expect-error: name is required
  await db.insert('products', { price: 2.5 });
  await db.update('products', id, { 'supplier.city': 'Lyon', category: undefined });
  // @ts-expect-error: supplier.city is a string
  await db.update('products', id, { 'supplier.city': 69 });
  // @ts-expect-error: supplier has no field zip
  await db.update('products', id, { 'supplier.zip': '69001' });
  await db.increment('products', id, 'stock', -1);
  // @ts-expect-error: price is not a counter
  await db.increment('products', id, 'price');
  await db.listInsert('products', id, 'tags', 0, ['green']);
  // @ts-expect-error: tags hold strings
  await db.listInsert('products', id, 'tags', 0, [1]);
  // @ts-expect-error: name is not a text field
  await db.textInsert('products', id, 'name', 0, 'x');

  const product = await db.get('products', id);
  expectTypeOf(product?.stock).toEqualTypeOf<number | undefined>();
  expectTypeOf(product?.supplier?.city).toEqualTypeOf<string | undefined>();

  const cheap = await db.find(
    q.query('products', { filter: q.lt('price', 3), sort: [q.asc('supplier.city')] }),
  );
  expectTypeOf(cheap[0]?.price).toEqualTypeOf<number | undefined>();
  // @ts-expect-error: no field pricee
  await db.find(q.query('products', { filter: q.lt('pricee', 3) }));
  // @ts-expect-error: json fields have no column: they cannot be filtered
  await db.find(q.query('products', { filter: q.exists('attributes') }));
  // @ts-expect-error: nor sorted by
  await db.find({ collection: 'products', sort: [q.desc('tags')] });
  // @ts-expect-error: orders have no field price
  await db.find({ collection: 'orders', filter: q.and(q.eq('quantity', 1), q.gt('price', 2)) });

  const rows = await db.aggregate({
    collection: 'orders',
    groupBy: ['productId'],
    aggregates: {
      n: { fn: 'count' },
      sold: { fn: 'sum', field: 'quantity' },
      last: { fn: 'max', field: 'placed' },
    },
  });
  expectTypeOf(rows[0]?.sold).toEqualTypeOf<number | undefined>();
  // @ts-expect-error: not a column of this aggregate
  rows[0]?.quantity;
  // @ts-expect-error: orders have no field total
  await db.aggregate({ collection: 'orders', aggregates: { t: { fn: 'sum', field: 'total' } } });
  // @ts-expect-error: sum takes a number field
  await db.aggregate({ collection: 'products', aggregates: { t: { fn: 'sum', field: 'name' } } });

  await db.write(writeIntent.increment('products', id, 'stock', 5));
  await db.writeAll([writeIntent.insert('orders', { productId: id, quantity: 1, placed: new Date() })]);
  // @ts-expect-error: no such collection
  await db.write(writeIntent.insert('nope', { zzz: 1 }));
  // @ts-expect-error: price is not a counter
  await db.write(writeIntent.increment('products', id, 'price', 5));
  // @ts-expect-error: quantity is a number
  await db.write(writeIntent.update('orders', id, { quantity: 'one' }));
  const intent: WriteIntent<typeof schema> = { kind: 'delete', collection: 'orders', id };
  // @ts-expect-error: an intent written out is checked field by field, extra fields included
  const extra: WriteIntent<typeof schema> = { kind: 'update', collection: 'orders', id, patch: { zzz: 1 } };

  await db.transaction(async (tx) => {
    await tx.increment('products', id, 'stock', -1);
    // @ts-expect-error: inside a transaction too
    await tx.insert('orders', { productId: id, quantity: 1 });
  });
  db.watch({ kind: 'find', query: q.query('orders', { sort: [q.desc('placed')] }) }, (event) => {
    if (event.kind === 'docs' && event.reset)
      expectTypeOf(event.docs[0]?.placed).toEqualTypeOf<Date | undefined>();
  });
  return [intent, extra];
}

it('types the engine by its schema (checked by the typecheck; nothing runs)', () => {
  expect(typeof typedBySchema).toBe('function');
});
