/**
 * The data of the initial-sync benches (Node, `initial-sync.bench.ts`, and Chromium, `engine.browser-worker.ts`):
 * one collection of small products, and the relay's snapshots of them in pages as `docs` frames carry them. Not
 * part of the package's API.
 */
import { asReplicaId, defineSchema, encodeDocSnapshot, f, type SnapshotVersion } from '@loam/core';
import { createMemoryReplica } from '@loam/core/testing';
import type { DownloadedDoc } from '@loam/sync';

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

/**
 * The relay's snapshots of products 0 to `count - 1`, in pages of `pageSize`, in format `version` (2: what a current
 * client announces and gets).
 */
export function relayPages(
  count: number,
  pageSize: number,
  version: SnapshotVersion = 2,
): { id: string; bytes: Uint8Array }[][] {
  const relay = createMemoryReplica({ schema: syncSchema, replica: asReplicaId('relay00000000000') });
  const pages: { id: string; bytes: Uint8Array }[][] = [];
  for (let i = 0; i < count; i++) {
    const row = syncRow(i);
    relay.insert('products', row);
    if (i % pageSize === 0) pages.push([]);
    const state = relay.state.getState('products', row.id);
    if (state) pages.at(-1)?.push({ id: row.id, bytes: encodeDocSnapshot(state, version) });
  }
  return pages;
}

/**
 * A page's snapshots as the sync client's downloader hands them to `applyDownload`: as the relay sent them, for the
 * store to decode as it applies them.
 */
export function downloadedDocs(page: readonly { id: string; bytes: Uint8Array }[]): DownloadedDoc[] {
  return page.map(({ id, bytes }) => ({ collection: 'products', id, state: bytes, mode: 'merge' as const }));
}
