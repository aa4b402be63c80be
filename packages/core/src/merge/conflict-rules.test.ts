/**
 * The conflict contract of DESIGN.md ("Conflict rules"), one named scenario per rule, told the way a shop
 * would see it: two offline terminals, then they exchange what they did, in both orders.
 */
import { describe, expect, it } from 'vitest';
import { asReplicaId } from '../ids/ids';
import type { Op } from '../ops/ops';
import { defineSchema, f } from '../schema/schema';
import { createMemoryReplica, type MemoryReplica } from './memory-replica';

const schema = defineSchema({
  version: 1,
  collections: {
    products: {
      fields: {
        name: f.string(),
        price: f.number(),
        category: f.string({ optional: true }),
        supplier: f.object({ name: f.string(), city: f.string({ optional: true }) }, { optional: true }),
        stock: f.counter(),
        tags: f.list<string>(),
        description: f.text(),
      },
    },
  },
});

let wall = 1_750_000_000_000;
function terminals(): [MemoryReplica, MemoryReplica] {
  const now = () => wall;
  return [
    createMemoryReplica({ schema, replica: asReplicaId('terminal0000000a'), now }),
    createMemoryReplica({ schema, replica: asReplicaId('terminal0000000b'), now }),
  ];
}

/** Both terminals come back online and exchange their ops (each receives what it lacks). */
function reconnect(a: MemoryReplica, b: MemoryReplica): void {
  const fromA = a.missing(new Set(b.log().map((op) => op.id)));
  const fromB = b.missing(new Set(a.log().map((op) => op.id)));
  a.receive(fromB);
  b.receive(fromA);
  expect(a.state.canonical()).toEqual(b.state.canonical());
}

/** A third device that receives everything in the opposite order must agree too. */
function replayReversed(ops: Op[]): MemoryReplica {
  const c = createMemoryReplica({ schema, replica: asReplicaId('backoffice00000c'), now: () => wall });
  c.receive([...ops].reverse());
  return c;
}

describe('rule 1: field-level last writer wins', () => {
  it('two offline terminals edit different fields of one product: both edits are kept', () => {
    const [a, b] = terminals();
    const { id, ops } = a.insert('products', {
      name: 'Espresso',
      price: 2.5,
      supplier: { name: 'Roastery' },
    });
    b.receive(ops);
    wall += 1000;
    a.update('products', id, { price: 2.8 });
    b.update('products', id, { category: 'coffee' });
    b.update('products', id, { supplier: { name: 'Roastery', city: 'Lyon' } });
    reconnect(a, b);
    expect(a.get('products', id)).toMatchObject({
      name: 'Espresso',
      price: 2.8,
      category: 'coffee',
      supplier: { name: 'Roastery', city: 'Lyon' },
    });
    expect(replayReversed(a.log()).get('products', id)).toEqual(a.get('products', id));
  });

  it('two terminals set the same field: the later timestamp wins on both', () => {
    const [a, b] = terminals();
    const { id, ops } = a.insert('products', { name: 'Tea', price: 2 });
    b.receive(ops);
    wall += 1000;
    b.update('products', id, { price: 3 });
    wall += 1000;
    a.update('products', id, { price: 4 });
    reconnect(a, b);
    expect(b.get('products', id)?.price).toBe(4);
  });

  it('nested object paths merge per leaf', () => {
    const [a, b] = terminals();
    const { id, ops } = a.insert('products', {
      name: 'Beans',
      price: 9,
      supplier: { name: 'Old', city: 'Oslo' },
    });
    b.receive(ops);
    wall += 1000;
    a.update('products', id, { supplier: { name: 'New', city: 'Oslo' } });
    wall += 1000;
    b.update('products', id, { supplier: { name: 'Old', city: 'Bergen' } });
    reconnect(a, b);
    expect(a.get('products', id)?.supplier).toEqual({ name: 'Old', city: 'Bergen' });
  });
});

describe('rule 2: counters keep every increment', () => {
  it('two terminals sell the same item offline: both decrements count', () => {
    const [a, b] = terminals();
    const { id, ops } = a.insert('products', { name: 'Croissant', price: 1.5, stock: 10 });
    b.receive(ops);
    wall += 1000;
    a.increment('products', id, 'stock', -1);
    b.increment('products', id, 'stock', -2);
    b.increment('products', id, 'stock', -1);
    reconnect(a, b);
    expect(a.get('products', id)?.stock).toBe(6);
    expect(replayReversed(b.log()).get('products', id)?.stock).toBe(6);
  });

  it('a stock count (reset) races a sale: sales stamped after the reset are added, earlier ones absorbed', () => {
    const [a, b] = terminals();
    const { id, ops } = a.insert('products', { name: 'Baguette', price: 1, stock: 20 });
    b.receive(ops);
    wall += 1000;
    b.increment('products', id, 'stock', -3);
    wall += 1000;
    a.update('products', id, { stock: 50 });
    wall += 1000;
    b.increment('products', id, 'stock', -1);
    reconnect(a, b);
    expect(a.get('products', id)?.stock).toBe(49);
    expect(b.get('products', id)?.stock).toBe(49);
  });
});

describe('rule 3: deletes win', () => {
  it('a delete races an update with a later timestamp: the product stays deleted', () => {
    const [a, b] = terminals();
    const { id, ops } = a.insert('products', { name: 'Muffin', price: 2 });
    b.receive(ops);
    wall += 1000;
    a.delete('products', id);
    wall += 5000;
    b.update('products', id, { price: 2.2 });
    b.increment('products', id, 'stock', 5);
    reconnect(a, b);
    expect(a.get('products', id)).toBeUndefined();
    expect(b.get('products', id)).toBeUndefined();
  });

  it('a create after the writer saw the delete starts a fresh incarnation without the old fields', () => {
    const [a, b] = terminals();
    const { id, ops } = a.insert('products', { name: 'Bagel', price: 2, category: 'bread', stock: 4 });
    b.receive(ops);
    b.delete('products', id);
    wall += 1000;
    a.update('products', id, { price: 9 });
    b.insert('products', { id, name: 'Bagel v2', price: 3 });
    reconnect(a, b);
    expect(a.get('products', id)).toEqual({
      id,
      name: 'Bagel v2',
      price: 3,
      stock: 0,
      tags: [],
      description: '',
    });
  });
});

describe('rule 4: lists and text use Yjs', () => {
  it('concurrent inserts into one list are all kept, in the same order everywhere', () => {
    const [a, b] = terminals();
    const { id, ops } = a.insert('products', { name: 'Cake', price: 20, tags: ['sweet'] });
    b.receive(ops);
    a.listInsert('products', id, 'tags', 1, ['chocolate']);
    b.listInsert('products', id, 'tags', 1, ['birthday']);
    b.listInsert('products', id, 'tags', 0, ['new']);
    reconnect(a, b);
    const tags = a.get('products', id)?.tags as string[];
    expect([...tags].sort()).toEqual(['birthday', 'chocolate', 'new', 'sweet']);
    expect(tags[0]).toBe('new');
    expect(replayReversed(a.log()).get('products', id)?.tags).toEqual(tags);
  });

  it('concurrent edits to one text keep both edits', () => {
    const [a, b] = terminals();
    const { id, ops } = a.insert('products', { name: 'Pie', price: 4, description: 'Apple pie' });
    b.receive(ops);
    a.textInsert('products', id, 'description', 0, 'Warm ');
    b.textInsert('products', id, 'description', 9, ' with cream');
    reconnect(a, b);
    expect(a.get('products', id)?.description).toBe('Warm Apple pie with cream');
  });
});
