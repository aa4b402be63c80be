/**
 * `applyOp` as a store uses it: apply to a copy, keep the copy only when the op changed the state, then persist it
 * as a snapshot. An op must not be lost by arriving before the ops it depends on.
 */
import { expect, it } from 'vitest';
import { asReplicaId } from '../ids/ids';
import { defineSchema, f, getCollection } from '../schema/schema';
import { applyOp, createDocState, materialize } from './doc-state';
import { createMemoryReplica } from './memory-replica';
import { decodeDocSnapshot, encodeDocSnapshot } from './snapshot';

const schema = defineSchema({
  version: 1,
  collections: { products: { fields: { name: f.string(), tags: f.list<string>() } } },
});
const products = getCollection(schema, 'products');

it('a list edit that arrives before the edit it builds on changes the state, and is kept through a snapshot', () => {
  const a = createMemoryReplica({
    schema,
    replica: asReplicaId('terminal0000000a'),
    now: () => 1_750_000_000_000,
  });
  const { id, ops: created } = a.insert('products', { name: 'Cake', tags: [] });
  const first = a.listInsert('products', id, 'tags', 0, ['sweet']);
  const second = a.listInsert('products', id, 'tags', 1, ['chocolate']);

  let state = createDocState();
  for (const op of created) applyOp(products, state, op);
  // `second` names an item of `first` as its neighbour: Yjs holds it until `first` arrives.
  for (const op of second) expect(applyOp(products, state, op)).toBe(true);
  state = decodeDocSnapshot(encodeDocSnapshot(state));
  for (const op of first) applyOp(products, state, op);
  expect(materialize(products, id, state)?.tags).toEqual(['sweet', 'chocolate']);
});
