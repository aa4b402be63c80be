import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineSchema, f, writeIntent } from '@loam/core';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createBetterSqlite3Storage } from '../storage/storage-better-sqlite3';
import type { Engine } from './engine';
import { openEngine } from './open-engine';

const schema = defineSchema({
  version: 1,
  collections: {
    products: { fields: { name: f.string(), price: f.number({ indexed: true }), stock: f.counter() } },
    notes: { fields: { title: f.string(), body: f.text() } },
  },
});

let dir: string;
const open: Engine<typeof schema>[] = [];
async function openAt(file: string) {
  const engine = await openEngine({
    driver: await createBetterSqlite3Storage({ filename: join(dir, file) }),
    schema,
  });
  open.push(engine);
  return engine;
}
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'loam-bulk-'));
});
afterEach(async () => {
  for (const e of open.splice(0)) await e.close();
  rmSync(dir, { recursive: true, force: true });
});

const products = (from: number, count: number) =>
  Array.from({ length: count }, (_, i) => ({ id: `p${from + i}`, name: `P${from + i}`, price: from + i }));

describe('bulk writes of documents with given ids', () => {
  it('stores new documents, and refuses a batch naming an existing id or one id twice, storing none of it', async () => {
    const db = await openAt('a.db');
    await db.insert('products', { id: 'taken', name: 'T', price: 1 });
    expect(await db.insertMany('products', products(0, 100))).toEqual(products(0, 100).map((p) => p.id));
    expect(await db.get('products', 'p99')).toMatchObject({ name: 'P99', price: 99, stock: 0 });

    await expect(
      db.insertMany('products', [...products(100, 20), { id: 'taken', name: 'again', price: 2 }]),
    ).rejects.toMatchObject({ code: 'already_exists' });
    const twice = [...products(200, 20), { id: 'p205', name: 'twice', price: 3 }];
    await expect(db.insertMany('products', twice)).rejects.toMatchObject({ code: 'already_exists' });
    expect(await db.get('products', 'p100')).toBeUndefined();
    expect(await db.get('products', 'p205')).toBeUndefined();
    expect(await db.get('products', 'taken')).toMatchObject({ name: 'T' });
    expect(await db.pendingCount()).toBe(101);
  });

  it('sees its own earlier writes across a long transaction: a repeated id far apart, updates of early documents', async () => {
    const db = await openAt('a.db');
    const many = products(0, 5000);
    await expect(
      db.insertMany('products', [...many, { id: 'p10', name: 'again', price: 0 }]),
    ).rejects.toMatchObject({
      code: 'already_exists',
    });
    expect(await db.pendingCount()).toBe(0);
    await db.transaction(async (tx) => {
      await tx.insertMany('products', many);
      await tx.update('products', 'p10', { name: 'changed' });
      await tx.increment('products', 'p10', 'stock', 5);
      expect(await tx.get('products', 'p10')).toMatchObject({ name: 'changed', price: 10, stock: 5 });
    });
    expect(await db.get('products', 'p10')).toMatchObject({ name: 'changed', price: 10, stock: 5 });
    expect(await db.get('products', 'p4999')).toMatchObject({ name: 'P4999' });
    const ops = await db.syncStore.pendingOps(10_000);
    expect(ops.filter((op) => op.doc === 'p10').map((op) => op.kind)).toEqual(['create', 'set', 'increment']);
    expect(ops).toHaveLength(5002);
  });

  it('inserts again documents deleted earlier, as their next incarnation', async () => {
    const db = await openAt('a.db');
    await db.insertMany('products', products(0, 30));
    await db.writeAll(products(0, 10).map((p) => writeIntent.delete('products', p.id)));
    await db.insertMany(
      'products',
      products(0, 30)
        .map((p) => ({ ...p, name: `new ${p.name}` }))
        .slice(0, 10),
    );
    const [p3] = await db.find({ collection: 'products', filter: { op: 'eq', field: 'price', value: 3 } });
    expect(p3).toMatchObject({ id: 'p3', name: 'new P3' });
    const ops = await db.syncStore.pendingOps(100);
    expect(ops.filter((op) => op.doc === 'p3').map((op) => [op.kind, op.epoch])).toEqual([
      ['create', 0],
      ['delete', 0],
      ['create', 1],
    ]);
  });

  it('updates many documents in one call, lists and texts included, and refuses the call when one is missing', async () => {
    const db = await openAt('a.db');
    await db.insertMany('products', products(0, 50));
    await db.insertMany(
      'notes',
      Array.from({ length: 20 }, (_, i) => ({ id: `n${i}`, title: `t${i}`, body: 'hello' })),
    );
    await db.writeAll(
      Array.from({ length: 20 }, (_, i) => writeIntent.textInsert('notes', `n${i}`, 'body', 5, ` ${i}`)),
    );
    await db.writeAll(products(0, 50).map((p) => writeIntent.increment('products', p.id, 'stock', 2)));
    await expect(
      db.writeAll([
        ...products(0, 50).map((p) => writeIntent.update('products', p.id, { price: -1 })),
        writeIntent.update('products', 'missing', { price: -1 }),
      ]),
    ).rejects.toMatchObject({ code: 'not_found' });
    expect(await db.get('products', 'p49')).toMatchObject({ price: 49, stock: 2 });
    expect(await db.get('notes', 'n7')).toMatchObject({ body: 'hello 7' });
    await db.transaction(async (tx) => {
      await tx.writeAll(
        Array.from({ length: 20 }, (_, i) => writeIntent.textInsert('notes', `n${i}`, 'body', 0, '> ')),
      );
      expect(await tx.get('notes', 'n3')).toMatchObject({ body: '> hello 3' });
    });
    expect(await db.get('notes', 'n19')).toMatchObject({ body: '> hello 19' });
  });
});

describe('the outbox index of a bulk transaction', () => {
  it('keeps exactly the documents with pending ops after part of the transaction is acknowledged', async () => {
    const db = await openAt('a.db');
    await db.insertMany('products', products(0, 300));
    await db.update('products', 'p0', { price: 1000 });
    const ops = await db.syncStore.pendingOps(1000);
    const acknowledged = ops.filter((op) => op.kind === 'create' && Number(op.doc.slice(1)) < 200);
    await db.syncStore.acknowledge(acknowledged.map((op) => op.id));
    const kept = await db.syncStore.removeDocs({ collection: 'products', filter: { op: 'true' } });
    expect(kept.sort()).toEqual(['p0', ...products(200, 100).map((p) => p.id)].sort());
    expect(await db.get('products', 'p1')).toBeUndefined();
    expect(await db.get('products', 'p0')).toMatchObject({ price: 1000 });
  });

  it('opens a database whose index also had an index by transaction, keeping its pending writes', async () => {
    const db = await openAt('old.db');
    await db.insertMany('products', products(0, 40));
    const pending = await db.syncStore.pendingOps(100);
    await db.close();
    const raw = new Database(join(dir, 'old.db'));
    raw.exec('CREATE INDEX loam_outbox_docs_tx ON loam_outbox_docs (tx)');
    raw.close();

    const again = await openAt('old.db');
    expect(await again.syncStore.pendingOps(100)).toEqual(pending);
    await again.syncStore.acknowledge(pending.slice(0, 10).map((op) => op.id));
    const kept = await again.syncStore.removeDocs({ collection: 'products', filter: { op: 'true' } });
    expect(kept.sort()).toEqual(
      products(10, 30)
        .map((p) => p.id)
        .sort(),
    );
    await again.close();
    const check = new Database(join(dir, 'old.db'));
    const index = check.prepare("SELECT name FROM sqlite_master WHERE name = 'loam_outbox_docs_tx'").get();
    check.close();
    expect(index).toBeUndefined();
  });
});
