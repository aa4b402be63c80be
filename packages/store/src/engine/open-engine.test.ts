import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  asReplicaId,
  createDocState,
  type DocState,
  decodeDocSnapshot,
  defineSchema,
  encodeDocSnapshot,
  encodeOps,
  f,
  type Op,
  q,
  type Schema,
  writeIntent,
} from '@loam/core';
import { createMemoryReplica, type MemoryReplica } from '@loam/core/testing';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createRng } from '../../../../test/convergence/random';
import { fuzzSchema, randomWrite } from '../../../../test/convergence/workload';
import { createBetterSqlite3Storage } from '../storage/storage-better-sqlite3';
import { collectionSql, rowParams } from './doc-rows';
import type { Engine, LiveQueryEvent } from './engine';
import { applyLiveEvent } from './live-result';
import { openEngine } from './open-engine';

const shop = defineSchema({
  version: 1,
  collections: {
    products: {
      fields: {
        name: f.string(),
        price: f.number({ indexed: true }),
        category: f.string({ optional: true, indexed: true }),
        active: f.boolean({ default: true }),
        supplier: f.object({ name: f.string(), city: f.string({ optional: true }) }, { optional: true }),
        stock: f.counter(),
        tags: f.list<string>(),
        note: f.text(),
      },
    },
  },
});

let dir: string;
const open: Engine[] = [];
async function openAt(file: string, schema: Schema = shop, now?: () => number): Promise<Engine> {
  const engine = await openEngine({
    driver: await createBetterSqlite3Storage({ filename: join(dir, file) }),
    schema,
    ...(now ? { now } : {}),
  });
  open.push(engine);
  return engine;
}
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'loam-engine-'));
});
afterEach(async () => {
  for (const e of open.splice(0)) await e.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A replica's state of a document as the relay sends it down: a snapshot, decoded. */
function snapshotOf(replica: MemoryReplica, id: string, collection = 'products'): DocState {
  return decodeDocSnapshot(encodeDocSnapshot(replica.state.getState(collection, id) as DocState));
}

/** Collects live-query events and the rebuilt result. */
function collect(engine: Engine, query: Parameters<Engine['find']>[0]) {
  const events: LiveQueryEvent[] = [];
  let docs: ReturnType<typeof applyLiveEvent> = [];
  const waiters: (() => void)[] = [];
  const stop = engine.watch({ kind: 'find', query }, (event) => {
    events.push(event);
    if (event.kind === 'docs') docs = applyLiveEvent(docs, event);
    for (const w of waiters.splice(0)) w();
  });
  return {
    events,
    docs: () => docs,
    stop,
    next: () => new Promise<void>((resolve) => waiters.push(resolve)),
  };
}

describe('local writes', () => {
  it('insert, update, increment, list and text edits, delete: read back as written', async () => {
    const db = await openAt('a.db');
    const id = await db.insert('products', { name: 'Tea', price: 2.5, tags: ['hot'], note: 'Green' });
    await db.update('products', id, { price: 3, category: 'drinks' });
    await db.increment('products', id, 'stock', 5);
    await db.listInsert('products', id, 'tags', 1, ['organic']);
    await db.textInsert('products', id, 'note', 5, ' tea');
    expect(await db.get('products', id)).toEqual({
      id,
      name: 'Tea',
      price: 3,
      category: 'drinks',
      active: true,
      stock: 5,
      tags: ['hot', 'organic'],
      note: 'Green tea',
    });
    await db.delete('products', id);
    expect(await db.get('products', id)).toBeUndefined();
    // create + 2 Yjs ops (tags, note), 2 sets, increment, list edit, text edit, delete
    expect(await db.pendingCount()).toBe(9);
  });

  it('carries write intents: upsert, dotted paths into objects, several intents in one call', async () => {
    const db = await openAt('a.db');
    const ids = await db.writeAll([
      writeIntent.upsert('products', 'tea', {
        name: 'Tea',
        price: 2,
        supplier: { name: 'Leaf', city: 'Lyon' },
      }),
      writeIntent.insert('products', { name: 'Cake', price: 4 }),
      writeIntent.update('products', 'tea', { 'supplier.city': 'Paris' }),
    ]);
    expect(ids[0]).toBe('tea');
    expect(ids[2]).toBe('tea');
    expect(await db.get('products', 'tea')).toMatchObject({ supplier: { name: 'Leaf', city: 'Paris' } });
    expect(await db.upsert('products', 'tea', { price: 3 })).toBe('tea');
    expect(await db.get('products', 'tea')).toMatchObject({ name: 'Tea', price: 3 });
    const kinds = (await db.syncStore.pendingOps(10)).map((op) => (op.kind === 'set' ? op.path : op.kind));
    expect(kinds).toEqual(['create', 'create', 'supplier.city', 'price']);
    await expect(db.update('products', 'tea', { 'supplier.name': null })).rejects.toMatchObject({
      code: 'validation_failed',
    });
  });

  it('refuses a schema-breaking write before storing anything', async () => {
    const db = await openAt('a.db');
    await expect(db.insert('products', { name: 'Bad', price: 'free' })).rejects.toMatchObject({
      code: 'validation_failed',
      problems: [{ path: ['price'], expected: 'finite number', found: 'string "free"' }],
    });
    await expect(db.update('products', 'nope', { price: 1 })).rejects.toMatchObject({ code: 'not_found' });
    expect(await db.find({ collection: 'products' })).toEqual([]);
    expect(await db.pendingCount()).toBe(0);
  });

  it('a transaction that throws leaves nothing behind, and its op ids are never given out again', async () => {
    const db = await openAt('a.db');
    await db.insert('products', { name: 'A', price: 1 });
    await expect(
      db.transaction(async (tx) => {
        await tx.insert('products', { name: 'B', price: 2 });
        expect(await tx.find({ collection: 'products' })).toHaveLength(2);
        await tx.insert('products', { name: 'C', price: 'x' });
      }),
    ).rejects.toMatchObject({ code: 'validation_failed' });
    expect((await db.find({ collection: 'products' })).map((d) => d.name)).toEqual(['A']);
    await db.insert('products', { name: 'D', price: 4 });
    const seqs = (await db.syncStore.pendingOps(10)).map((op) => Number(op.id.split(':')[1]));
    expect(seqs).toEqual([1, 3]);
  });

  it('concurrent transactions, some of which throw, never give two ops the same id', async () => {
    const rng = createRng(8);
    const db = await openAt('a.db');
    const id = await db.insert('products', { name: 'A', price: 1 });
    const committed: string[] = [];
    for (let round = 0; round < 20; round++) {
      await Promise.allSettled(
        Array.from({ length: rng.int(2, 5) }, (_, i) =>
          db.transaction(async (tx) => {
            const name = `r${round}t${i}`;
            await tx.update('products', id, { name });
            await tx.increment('products', id, 'stock', 1);
            if (rng.chance(0.4)) throw new Error('the app changed its mind');
            committed.push(name);
          }),
        ),
      );
    }
    const ops = await db.syncStore.pendingOps(10_000);
    expect(new Set(ops.map((op) => op.id)).size).toBe(ops.length);
    const names = ops.flatMap((op) => (op.kind === 'set' ? [op.value] : []));
    expect(names).toEqual(committed);
    expect((await db.get('products', id))?.stock).toBe(committed.length);
  });

  it('a retried transaction with the same request id is applied once and returns the first result', async () => {
    const db = await openAt('a.db');
    const id = await db.insert('products', { name: 'A', price: 1 });
    const sell = () =>
      db.transaction(
        async (tx) => {
          await tx.increment('products', id, 'stock', -1);
          return 'sold';
        },
        { requestId: 'req-1' },
      );
    expect(await sell()).toBe('sold');
    expect(await sell()).toBe('sold');
    expect((await db.get('products', id))?.stock).toBe(-1);
  });

  it('drops exactly the acknowledged ops from the outbox, even part of a transaction', async () => {
    const db = await openAt('a.db');
    const [a, b] = await db.transaction(async (tx) => [
      await tx.insert('products', { name: 'A', price: 1 }),
      await tx.insert('products', { name: 'B', price: 2 }),
    ]);
    await db.update('products', a as string, { price: 3 });
    const all = await db.syncStore.pendingOps(10);
    expect(all.map((op) => [op.kind, op.doc])).toEqual([
      ['create', a],
      ['create', b],
      ['set', a],
    ]);
    await db.syncStore.acknowledge([(all[1] as Op).id]);
    expect((await db.syncStore.pendingOps(10)).map((op) => op.id)).toEqual([all[0]?.id, all[2]?.id]);
    expect(await db.pendingCount()).toBe(2);
    await db.syncStore.acknowledge(all.map((op) => op.id));
    expect(await db.syncStore.pendingOps(10)).toEqual([]);
    expect(await db.pendingCount()).toBe(0);
  });

  it("keeps a bulk transaction's ops whole in a deflated outbox row: upload, partial acknowledgement, reopen, replay", async () => {
    const db = await openAt('bulk.db');
    const ids = await db.insertMany(
      'products',
      Array.from({ length: 2000 }, (_, i) => ({ name: `Product ${i}`, price: i, category: `c${i % 7}` })),
    );
    const committed = await db.syncStore.pendingOps(5000);
    expect(committed.map((op) => [op.kind, op.doc])).toEqual(ids.map((id) => ['create', id]));
    await db.close();
    const raw = new Database(join(dir, 'bulk.db'));
    const row = raw.prepare('SELECT ops FROM loam_outbox').get() as { ops: Buffer };
    raw.close();
    expect(row.ops[0]).toBe(0xfe);
    expect(row.ops.length).toBeLessThan(encodeOps(committed).length / 2);

    const again = await openAt('bulk.db');
    expect(await again.syncStore.pendingOps(5000)).toEqual(committed);
    await again.syncStore.acknowledge(committed.slice(0, 1500).map((op) => op.id));
    expect(await again.syncStore.pendingOps(5000)).toEqual(committed.slice(1500));
    const last = ids[1999] as string;
    await again.syncStore.applyDownload({
      docs: [{ collection: 'products', id: last, state: createDocState(), mode: 'replace' }],
      removed: [],
    });
    expect(await again.get('products', last)).toMatchObject({ name: 'Product 1999', price: 1999 });
  });

  it('persists documents, replica id and op sequence across reopen', async () => {
    const db = await openAt('a.db');
    const id = await db.insert('products', { name: 'Kept', price: 9, tags: ['x'], note: 'n' });
    const replica = db.replica;
    await db.close();
    const again = await openAt('a.db');
    expect(again.replica).toBe(replica);
    expect(await again.get('products', id)).toMatchObject({ name: 'Kept', tags: ['x'], note: 'n' });
    await again.textInsert('products', id, 'note', 1, 'o');
    expect((await again.get('products', id))?.note).toBe('no');
    expect((await again.syncStore.pendingOps(10)).map((op) => op.id)).toEqual(
      [1, 2, 3, 4].map((seq) => `${replica}:${seq}`),
    );
  });

  it('answers queries and aggregates with the SQL compiler, and refuses unqueryable fields', async () => {
    const db = await openAt('a.db');
    await db.insertMany('products', [
      { name: 'Tea', price: 2, category: 'drinks' },
      { name: 'Coffee', price: 3, category: 'drinks' },
      { name: 'Cake', price: 4, category: 'food' },
      { name: 'Water', price: 1 },
    ]);
    const drinks = await db.find(
      q.query('products', { filter: q.eq('category', 'drinks'), sort: [q.desc('price')] }),
    );
    expect(drinks.map((d) => d.name)).toEqual(['Coffee', 'Tea']);
    expect(
      await db.aggregate({
        collection: 'products',
        groupBy: ['category'],
        aggregates: { n: { fn: 'count' }, total: { fn: 'sum', field: 'price' } },
      }),
    ).toEqual([
      { category: null, n: 1, total: 1 },
      { category: 'drinks', n: 2, total: 5 },
      { category: 'food', n: 1, total: 4 },
    ]);
    await expect(
      db.find({ collection: 'products', filter: { op: 'eq', field: 'tags', value: 'x' } }),
    ).rejects.toMatchObject({
      code: 'query_invalid',
    });
  });

  it('runs read-only SQL over collection views and refuses anything that writes', async () => {
    const db = await openAt('a.db');
    await db.insert('products', { name: 'Tea', price: 2 });
    expect(await db.sql('SELECT name, price FROM products WHERE price > ?', [1])).toEqual([
      { name: 'Tea', price: 2 },
    ]);
    await expect(db.sql('DELETE FROM products')).rejects.toMatchObject({ code: 'query_invalid' });
    await expect(db.sql('WITH x AS (SELECT 1) DELETE FROM loam_doc_products')).rejects.toBeDefined();
    expect(await db.find({ collection: 'products' })).toHaveLength(1);
  });
});

describe('live queries', () => {
  it('sends the first result, then only changes, and nothing when the result did not change', async () => {
    const db = await openAt('a.db');
    const cheap = await db.insert('products', { name: 'Water', price: 1 });
    const live = collect(db, q.query('products', { filter: q.lt('price', 3), sort: [q.asc('price')] }));
    await live.next();
    expect(live.events[0]).toMatchObject({ kind: 'docs', reset: true });
    expect(live.docs().map((d) => d.name)).toEqual(['Water']);

    const tea = await db.insert('products', { name: 'Tea', price: 2 });
    await live.next();
    expect(live.events[1]).toEqual({
      kind: 'docs',
      reset: false,
      order: [cheap, tea],
      upserts: [expect.objectContaining({ id: tea })],
    });

    await db.insert('products', { name: 'Caviar', price: 300 });
    await db.update('products', tea, { price: 0.5 });
    await live.next();
    expect(live.docs().map((d) => d.name)).toEqual(['Tea', 'Water']);
    const before = live.events.length;
    await db.insert('products', { name: 'Gold', price: 500 });
    await db.find({ collection: 'products' });
    await new Promise((r) => setTimeout(r, 20));
    expect(live.events.length).toBe(before);
    live.stop();
  });

  it('keeps aggregates and SQL queries live, including after downloads', async () => {
    const db = await openAt('a.db');
    const events: unknown[] = [];
    let wake: () => void = () => {};
    db.watch(
      { kind: 'aggregate', spec: { collection: 'products', aggregates: { n: { fn: 'count' } } } },
      (e) => {
        events.push(e);
        wake();
      },
    );
    await new Promise<void>((r) => (wake = r));
    expect(events).toEqual([{ kind: 'rows', rows: [{ n: 0 }] }]);
    const other = createMemoryReplica({ schema: shop, replica: asReplicaId('other00000000000') });
    const { id } = other.insert('products', { name: 'Remote', price: 5 });
    const next = new Promise<void>((r) => (wake = r));
    const download = {
      docs: [{ collection: 'products', id, state: snapshotOf(other, id), mode: 'merge' as const }],
      removed: [],
    };
    expect(await db.syncStore.applyDownload(download)).toBe(1);
    await next;
    expect(events[1]).toEqual({ kind: 'rows', rows: [{ n: 1 }] });
    expect(await db.syncStore.applyDownload(download)).toBe(0);
  });
});

describe('downloads from the server', () => {
  /** A server-side replica whose states are sent down as snapshots. */
  const server = () => createMemoryReplica({ schema: shop, replica: asReplicaId('server0000000000') });
  /** Puts the relay's current state of `id` on the device, as a first download would. */
  const receive = (db: Engine, relay: MemoryReplica, id: string) =>
    db.syncStore.applyDownload({
      docs: [{ collection: 'products', id, state: snapshotOf(relay, id), mode: 'merge' }],
      removed: [],
    });

  it('never spends a Yjs item id twice when a document it wrote was removed and is written again', async () => {
    const relay = server();
    const db = await openAt('d.db');
    const id = await db.insert('products', { id: 'p-yjs', name: 'Tea', price: 2, note: 'hello' });
    const first = await db.syncStore.pendingOps(100);
    relay.receive(first);
    await db.syncStore.acknowledge(first.map((o) => o.id));
    // The device stops covering the document (an unsubscribe), then writes it again from nothing.
    expect(await db.syncStore.removeDocs({ collection: 'products', filter: { op: 'true' } })).toEqual([]);
    await db.insert('products', { id, name: 'Tea', price: 2, note: 'world' });
    relay.receive(await db.syncStore.pendingOps(100));
    await receive(db, relay, id);
    expect((await db.get('products', id))?.note).toBe(relay.get('products', id)?.note);
    expect(relay.get('products', id)?.note).toContain('world');
  });

  it('merges snapshots with unacknowledged local edits and stores the cursor atomically', async () => {
    const relay = server();
    const { id } = relay.insert('products', { name: 'Tea', price: 2, stock: 10 });
    const db = await openAt('d.db');
    await receive(db, relay, id);
    await db.update('products', id, { category: 'drinks' });
    await db.increment('products', id, 'stock', -1);
    relay.update('products', id, { price: 2.5 });
    relay.increment('products', id, 'stock', -2);
    const changed = await db.syncStore.applyDownload({
      docs: [{ collection: 'products', id, state: snapshotOf(relay, id), mode: 'merge' }],
      removed: [],
      cursor: 17,
    });
    expect(changed).toBe(1);
    expect(await db.get('products', id)).toMatchObject({ price: 2.5, category: 'drinks', stock: 7 });
    expect(await db.syncStore.cursor()).toBe(17);
  });

  it('a refused write is reverted to the server state, logged, and the other pending writes survive', async () => {
    const relay = server();
    const { id } = relay.insert('products', { name: 'Tea', price: 2, stock: 10 });
    const db = await openAt('d.db');
    await receive(db, relay, id);
    await db.update('products', id, { price: 0.01 });
    await db.increment('products', id, 'stock', -1);
    const [priceOp] = await db.syncStore.pendingOps(1);
    expect((await db.get('products', id))?.price).toBe(0.01);
    await db.syncStore.recordRefusals([
      {
        op: priceOp!.id,
        collection: 'products',
        doc: id,
        code: 'field_denied',
        reason: 'cashiers cannot change prices',
        at: 1_700_000_000_000,
      },
    ]);
    await db.syncStore.applyDownload({
      docs: [{ collection: 'products', id, state: snapshotOf(relay, id), mode: 'replace' }],
      removed: [],
    });
    expect(await db.get('products', id)).toMatchObject({ price: 2, stock: 9 });
    expect(await db.refusedWrites()).toEqual([
      expect.objectContaining({
        op: priceOp!.id,
        code: 'field_denied',
        reason: 'cashiers cannot change prices',
      }),
    ]);
    expect((await db.syncStore.pendingOps(10)).map((op) => op.kind)).toEqual(['increment']);
  });

  it('removes documents that left the view without deleting them or dropping their pending ops', async () => {
    const relay = server();
    const { id } = relay.insert('products', { name: 'Tea', price: 2 });
    const db = await openAt('d.db');
    await receive(db, relay, id);
    await db.increment('products', id, 'stock', 1);
    await db.syncStore.applyDownload({ docs: [], removed: [{ collection: 'products', id }] });
    expect(await db.get('products', id)).toBeUndefined();
    expect(await db.pendingCount()).toBe(1);
  });

  it('keeps sync settings across reopen', async () => {
    const db = await openAt('d.db');
    await db.syncStore.writeState('subscriptions', [{ id: 's', query: { collection: 'products' } }]);
    await db.syncStore.setCursor(12);
    await db.close();
    const again = await openAt('d.db');
    expect(await again.syncStore.readState('subscriptions')).toEqual([
      { id: 's', query: { collection: 'products' } },
    ]);
    expect(await again.syncStore.readState('missing')).toBeUndefined();
    expect(await again.syncStore.cursor()).toBe(12);
    await expect(again.syncStore.writeState('cursor', 1)).rejects.toThrow(/reserved/);
  });
});

describe('schema evolution on open', () => {
  it('migrates additive changes and keeps the data', async () => {
    const db = await openAt('m.db');
    const id = await db.insert('products', { name: 'Tea', price: 2 });
    await db.close();
    const v2 = defineSchema({
      version: 2,
      collections: {
        products: {
          fields: { ...shop.collections.products.fields, sku: f.string({ optional: true, indexed: true }) },
        },
        stores: { fields: { city: f.string() } },
      },
    });
    const again = await openAt('m.db', v2);
    await again.update('products', id, { sku: 'T-1' });
    expect(
      await again.find({ collection: 'products', filter: { op: 'eq', field: 'sku', value: 'T-1' } }),
    ).toHaveLength(1);
    await again.insert('stores', { city: 'Lyon' });
  });

  it('keeps every value in place when a new field comes first in the schema (lean rows point at columns)', async () => {
    const db = await openAt('order.db');
    const id = await db.insert('products', {
      name: 'Tea',
      price: 2,
      category: 'drinks',
      active: false,
      supplier: { name: 'Mill' },
      stock: 4,
    });
    await db.close();
    const v2 = defineSchema({
      version: 2,
      collections: {
        products: { fields: { barcode: f.string({ optional: true }), ...shop.collections.products.fields } },
      },
    });
    const again = await openAt('order.db', v2);
    const expected = {
      id,
      name: 'Tea',
      price: 2,
      category: 'drinks',
      active: false,
      supplier: { name: 'Mill' },
      stock: 4,
      tags: [],
      note: '',
    };
    expect(await again.get('products', id)).toEqual(expected);
    await again.update('products', id, { barcode: '123' });
    await again.increment('products', id, 'stock', 1);
    expect(await again.get('products', id)).toEqual({ ...expected, barcode: '123', stock: 5 });
  });

  it('opens a database written before lean rows (values in _state and _doc) and keeps its data', async () => {
    const reference = createMemoryReplica({ schema: shop, replica: asReplicaId('oldwriter0000000') });
    const { id: a } = reference.insert('products', {
      name: 'Tea',
      price: 2,
      category: 'drinks',
      supplier: { name: 'Mill', city: 'Lyon' },
      stock: 3,
    });
    const { id: b } = reference.insert('products', { name: 'Cake', price: 5 });
    reference.increment('products', a, 'stock', 2);
    const db = await openAt('old.db');
    await db.close();
    const raw = new Database(join(dir, 'old.db'));
    const c = collectionSql('products', shop.collections.products);
    for (const id of [a, b]) {
      const params = rowParams(
        c,
        id,
        { ...(reference.state.getState('products', id) as DocState), crdts: {} },
        1,
      );
      raw.prepare(c.upsert).run(...params);
    }
    expect(raw.prepare('SELECT count(*) AS n FROM loam_doc_products WHERE _doc IS NOT NULL').get()).toEqual({
      n: 2,
    });
    raw.close();

    const again = await openAt('old.db');
    const docs = () => again.find({ collection: 'products', sort: [{ field: 'price', dir: 'asc' }] });
    expect(await docs()).toEqual([
      {
        id: a,
        name: 'Tea',
        price: 2,
        category: 'drinks',
        active: true,
        supplier: { name: 'Mill', city: 'Lyon' },
        stock: 5,
        tags: [],
        note: '',
      },
      { id: b, name: 'Cake', price: 5, active: true, stock: 0, tags: [], note: '' },
    ]);
    await again.increment('products', a, 'stock', 1);
    await again.update('products', b, { category: 'sweet' });
    const other = createMemoryReplica({ schema: shop, replica: asReplicaId('otherwriter00000') });
    other.receive(reference.log());
    other.update('products', a, { price: 3 });
    await again.syncStore.applyDownload({
      docs: [{ collection: 'products', id: a, state: snapshotOf(other, a), mode: 'merge' }],
      removed: [],
    });
    await again.close();
    const reopened = await openAt('old.db');
    expect(await reopened.get('products', a)).toMatchObject({
      price: 3,
      stock: 6,
      supplier: { city: 'Lyon' },
    });
    expect(await reopened.get('products', b)).toMatchObject({ name: 'Cake', category: 'sweet' });
  });

  it('refuses a change that is not additive, naming it, and leaves the database as it was', async () => {
    const db = await openAt('m.db');
    await db.insert('products', { name: 'Tea', price: 2 });
    await db.close();
    const bad = defineSchema({
      version: 2,
      collections: { products: { fields: { ...shop.collections.products.fields, price: f.string() } } },
    });
    await expect(openAt('m.db', bad)).rejects.toThrow(/field "products.price" changed from number to string/);
    const required = defineSchema({
      version: 2,
      collections: { products: { fields: { ...shop.collections.products.fields, sku: f.string() } } },
    });
    await expect(openAt('m.db', required)).rejects.toThrow(/new field "products.sku" must be optional/);
    const ok = await openAt('m.db');
    expect(await ok.find({ collection: 'products' })).toHaveLength(1);
  });
});

describe('agreement with the in-memory reference', () => {
  it('merging snapshots of the same writes gives the same documents, before and after reopening', async () => {
    const ids = ['a', 'b', 'c', 'd', 'e', 'f'].map((s) => `item-${s}`);
    for (const seed of [1, 2, 3]) {
      const rng = createRng(seed);
      let time = 1_750_000_000_000;
      const writers: MemoryReplica[] = [0, 1, 2].map((i) =>
        createMemoryReplica({
          schema: fuzzSchema,
          replica: asReplicaId(`diff${i}${String(seed).padStart(11, '0')}`),
          now: () => time,
        }),
      );
      const file = `diff-${seed}.db`;
      let db = await openAt(file, fuzzSchema, () => time);
      const ops: Op[] = [];
      for (let i = 0; i < 250; i++) {
        time += rng.int(0, 5);
        const w = rng.pick(writers);
        if (rng.chance(0.3)) w.receive(rng.pick(writers).log());
        ops.push(...randomWrite(w, rng));
        if (i === 125) {
          await db.close();
          db = await openAt(file, fuzzSchema, () => time);
        }
        if (rng.chance(0.15)) {
          const from = rng.pick(writers);
          const docs = ids.flatMap((id) => {
            const state = from.state.getState('items', id);
            return state
              ? [{ collection: 'items', id, state: snapshotOf(from, id, 'items'), mode: 'merge' as const }]
              : [];
          });
          await db.syncStore.applyDownload({ docs, removed: [] });
        }
      }
      const reference = createMemoryReplica({
        schema: fuzzSchema,
        replica: asReplicaId('reference0000000'),
        now: () => time,
      });
      reference.receive(ops);
      for (const w of writers) {
        const docs = ids.flatMap((id) =>
          w.state.getState('items', id)
            ? [{ collection: 'items', id, state: snapshotOf(w, id, 'items'), mode: 'merge' as const }]
            : [],
        );
        await db.syncStore.applyDownload({ docs, removed: [] });
      }
      expect(await db.find({ collection: 'items' })).toEqual(reference.list('items'));
    }
  });
});
