/**
 * The data of the initial-sync benches (Node, `initial-sync.bench.ts`, and Chromium, `engine.browser-worker.ts`):
 * one collection of small products, and the relay's snapshots of them in pages as `docs` frames carry them. Not
 * part of the package's API.
 */
import { asReplicaId, defineSchema, encodeDocSnapshot, f } from '@loam/core';
import { createMemoryReplica } from '@loam/core/testing';

export const syncSchema = defineSchema({
  version: 1,
  collections: {
    products: {
      fields: {
        name: f.string(),
        price: f.number(),
        category: f.string({ indexed: true }),
        active: f.boolean(),
        stock: f.counter(),
      },
    },
  },
});

/** Product `i`, as the raw baselines insert it. */
export const syncRow = (i: number) => ({
  id: `p${String(i).padStart(6, '0')}`,
  name: `Product ${i}`,
  price: (i % 997) / 10,
  category: `c${i % 50}`,
  active: i % 3 !== 0,
  stock: i % 40,
});

/** The relay's snapshots of products 0 to `count - 1`, in pages of `pageSize`. */
export function relayPages(count: number, pageSize: number): { id: string; bytes: Uint8Array }[][] {
  const relay = createMemoryReplica({ schema: syncSchema, replica: asReplicaId('relay00000000000') });
  const pages: { id: string; bytes: Uint8Array }[][] = [];
  for (let i = 0; i < count; i++) {
    const row = syncRow(i);
    relay.insert('products', row);
    if (i % pageSize === 0) pages.push([]);
    const state = relay.state.getState('products', row.id);
    if (state) pages.at(-1)?.push({ id: row.id, bytes: encodeDocSnapshot(state) });
  }
  return pages;
}
