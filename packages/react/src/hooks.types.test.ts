/**
 * Type tests: the hooks of `createLoamHooks(schema)` are checked against the schema by `npm run typecheck` (each
 * `@ts-expect-error` below must be an error, or the typecheck fails). The function holding them is never called:
 * hooks run only inside React components (the browser tests run them).
 */
import { defineSchema, f } from '@loam/core';
import { expect, expectTypeOf, it } from 'vitest';
import { createLoamHooks } from './hooks';

const schema = defineSchema({
  version: 1,
  collections: {
    orders: { fields: { total: f.number(), payment: f.string({ optional: true }), placed: f.date() } },
  },
});
const hooks = createLoamHooks(schema);

function TypedByTheSchema() {
  const orders = hooks.useQuery('orders');
  if (orders.status === 'ready') {
    expectTypeOf(orders.data[0]?.total).toEqualTypeOf<number | undefined>();
    expectTypeOf(orders.data[0]?.placed).toEqualTypeOf<Date | undefined>();
  }
  if (orders.status === 'loading') expectTypeOf(orders.data).toEqualTypeOf<undefined>();
  // @ts-expect-error: no such collection
  hooks.useQuery('nope');
  const one = hooks.useDoc('orders', 'o1');
  if (one.status === 'ready') {
    expectTypeOf(one.data?.total).toEqualTypeOf<number | undefined>();
    expectTypeOf<null>().toExtend<typeof one.data>();
  }
  const rows = hooks.useAggregate('orders', {
    groupBy: ['payment'],
    aggregates: {
      n: { fn: 'count' },
      sum: { fn: 'sum', field: 'total' },
      mean: { fn: 'avg', field: 'total' },
    },
  });
  if (rows.status === 'ready') {
    expectTypeOf(rows.data[0]?.n).toEqualTypeOf<number | undefined>();
    expectTypeOf(rows.data[0]?.mean).toEqualTypeOf<number | null | undefined>();
    // @ts-expect-error: not an aggregate or a group of this query
    rows.data[0]?.other;
  }
  hooks.useCan('orders', { action: 'insert', doc: { total: 1, placed: new Date() } });
  // @ts-expect-error: an insert must give the required fields
  hooks.useCan('orders', { action: 'insert', doc: { payment: 'card' } });
  return null;
}

it('types the hooks by the schema (checked by the typecheck; nothing runs)', () => {
  expect(typeof TypedByTheSchema).toBe('function');
});
