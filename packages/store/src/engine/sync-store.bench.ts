/**
 * A client reset on a device with many unsynced writes: every subscribed document arrives in `replace` mode and
 * the device's own pending ops of it are re-applied on top. The outbox is indexed by document, so this reads only
 * the transactions that wrote each document. Baseline, measured in the same run: the previous way, decoding the
 * whole outbox for every document (timed on a sample of documents and scaled to all of them), plus the same
 * writes. Node, better-sqlite3 file.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { asReplicaId, createMemoryReplica, type DocState, defineSchema, f } from '@loam/core';
import type { Bench } from '../../../../test/bench/bench';
import { createBetterSqlite3Storage } from '../storage/storage-better-sqlite3';
import { openEngine } from './open-engine';
import { outboxOps } from './outbox';

const DOCS = 2_000;
const PENDING_PER_DOC = 2;
const SAMPLE = 40;

const schema = defineSchema({
  version: 1,
  collections: { items: { fields: { name: f.string(), stock: f.counter() } } },
});

export const benches: Bench[] = [
  {
    name: `store: client reset of ${DOCS} documents with ${DOCS * PENDING_PER_DOC} unsynced ops, replace + replay`,
    async run() {
      const dir = mkdtempSync(join(tmpdir(), 'loam-reset-bench-'));
      try {
        const driver = await createBetterSqlite3Storage({ filename: join(dir, 'device.db') });
        const engine = await openEngine({ driver, schema });
        const relay = createMemoryReplica({ schema, replica: asReplicaId('relay00000000000') });
        const ids: string[] = [];
        for (let i = 0; i < DOCS; i++) ids.push(relay.insert('items', { id: `item-${i}`, name: `n${i}` }).id);
        const snapshot = () =>
          ids.map((id) => ({
            collection: 'items',
            id,
            state: structuredClone(relay.state.getState('items', id)) as DocState,
            mode: 'replace' as const,
          }));
        await engine.syncStore.applyDownload({ docs: snapshot(), removed: [] });
        for (const id of ids) {
          await engine.transaction(async (tx) => {
            await tx.increment('items', id, 'stock', 1);
            await tx.update('items', id, { name: `${id} renamed` });
          });
        }
        const docs = snapshot();
        let start = performance.now();
        await engine.syncStore.applyDownload({ docs, removed: [] });
        const indexed = performance.now() - start;
        start = performance.now();
        for (const id of ids.slice(0, SAMPLE))
          (await outboxOps(driver)).filter((op) => op.collection === 'items' && op.doc === id);
        const wholeOutbox = ((performance.now() - start) / SAMPLE) * DOCS;
        await engine.close();
        return {
          figure: indexed,
          unit: 'ms',
          higherIsBetter: false,
          baseline: { name: 'whole outbox decoded per document (previous)', figure: wholeOutbox + indexed },
          notes: `${((indexed / DOCS) * 1000).toFixed(0)} µs per document; the baseline's decoding alone: ${wholeOutbox.toFixed(0)} ms`,
        };
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  },
];
