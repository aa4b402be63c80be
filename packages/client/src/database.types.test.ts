/**
 * Type tests: a database opened with `openDatabase({ schema })` is typed by the schema. `npm run typecheck` checks
 * this file; every `@ts-expect-error` below must be an error (a directive on a line that compiles fails the
 * typecheck). The function holding them is never called (it needs a browser); the browser tests run the API.
 */
import { defineSchema, type FilterOf, f, q } from '@loam/core';
import { expect, expectTypeOf, it } from 'vitest';
import type { Database } from './database';

const schema = defineSchema({
  version: 1,
  collections: {
    notes: {
      fields: {
        title: f.string(),
        store: f.number({ indexed: true }),
        pinned: f.boolean({ default: false }),
        place: f.object({ city: f.string(), zip: f.string({ optional: true }) }, { optional: true }),
        extra: f.json({ optional: true }),
        likes: f.counter(),
        tags: f.list<string>(),
        body: f.text(),
      },
    },
    stores: { fields: { name: f.string() } },
  },
});

async function typedBySchema(db: Database<typeof schema>) {
  const notes = db.collection('notes');
  // @ts-expect-error: no such collection
  db.collection('nope');
  const id = await notes.insert({ title: 'a', store: 1 });
  // @ts-expect-error: notes have no field zzz
  await notes.insert({ title: 'a', store: 1, zzz: 1 });
  // @ts-expect-error: store is a number
  await notes.update(id, { store: '1' });
  await notes.update(id, { 'place.zip': '69001' });
  // @ts-expect-error: likes is the counter, store is not
  await notes.increment(id, 'store');
  // @ts-expect-error: tags hold strings
  await notes.listInsert(id, 'tags', 0, [true]);

  const found = await notes.find({
    filter: q.and(q.eq('store', 1), q.prefix('place.city', 'Ly')),
    limit: 10,
  });
  expectTypeOf(found[0]?.place?.city).toEqualTypeOf<string | undefined>();
  // @ts-expect-error: no field stor
  await notes.find({ filter: q.eq('stor', 1) });
  // @ts-expect-error: the object as a whole has no column (its leaves do)
  await notes.find({ sort: [q.asc('place')] });
  // @ts-expect-error: nor a json field
  notes.watch({ filter: q.exists('extra') }, () => undefined);
  // @ts-expect-error: stores have no field title
  await db.subscribe('stores', q.eq('title', 'x'));
  const mine: FilterOf<typeof schema, 'notes'> = q.eq('store', 1);
  await db.subscribe('notes', mine);

  const rows = await notes.aggregate({
    filter: q.eq('pinned', true),
    groupBy: ['store'],
    aggregates: { n: { fn: 'count' }, likes: { fn: 'sum', field: 'likes' } },
  });
  expectTypeOf(rows[0]?.likes).toEqualTypeOf<number | undefined>();
  // @ts-expect-error: not a column of this aggregate
  rows[0]?.title;
  // @ts-expect-error: avg takes a number field
  await notes.aggregate({ aggregates: { a: { fn: 'avg', field: 'title' } } });
  // @ts-expect-error: no field stor to group by
  notes.watchAggregate({ groupBy: ['stor'], aggregates: { n: { fn: 'count' } } }, () => undefined);

  await db.transaction(async (tx) => {
    await tx.collection('notes').increment(id, 'likes');
    // @ts-expect-error: inside a transaction too
    await tx.collection('nope').get(id);
  });
}

it('types the database by its schema (checked by the typecheck; nothing runs)', () => {
  expect(typeof typedBySchema).toBe('function');
});
