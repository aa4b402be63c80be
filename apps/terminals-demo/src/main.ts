/**
 * Two shop terminals, each with its own SQLite database file, sell while "offline", then exchange their ops the way
 * the sync layer will, and end up agreeing. Run with `npm start`; data lives in `.loam-data/` (deleted at start).
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { defineSchema, f, q } from '@loam/core';
import { createBetterSqlite3Storage, type Engine, openEngine } from '@loam/store/node';

const schema = defineSchema({
  version: 1,
  collections: {
    products: {
      fields: {
        name: f.string(),
        price: f.number(),
        category: f.string({ indexed: true }),
        stock: f.counter(),
      },
    },
    orders: {
      fields: {
        terminal: f.string({ indexed: true }),
        lines: f.list<{ product: string; qty: number }>(),
        total: f.number(),
        note: f.text(),
      },
    },
  },
});

const dataDir = join(process.cwd(), '.loam-data');
rmSync(dataDir, { recursive: true, force: true });
mkdirSync(dataDir, { recursive: true });

async function terminal(name: string): Promise<Engine> {
  return openEngine({
    driver: await createBetterSqlite3Storage({ filename: join(dataDir, `${name}.db`) }),
    schema,
  });
}

/** Sends each terminal the ops it has not seen yet (what the relay or a WebRTC peer will do). */
async function exchange(a: Engine, b: Engine): Promise<void> {
  const fromA = await a.pendingOps(10_000);
  const fromB = await b.pendingOps(10_000);
  const newOnB = await b.applyRemote(fromA);
  const newOnA = await a.applyRemote(fromB);
  console.log(`  exchanged ops: ${fromA.length} A→B (${newOnB} new), ${fromB.length} B→A (${newOnA} new)`);
}

async function show(label: string, db: Engine): Promise<void> {
  const products = await db.find(q.query('products', { sort: [q.asc('name')] }));
  const orders = await db.find({ collection: 'orders' });
  const line = products.map((p) => `${p.name} (${p.category}) €${p.price}, stock ${p.stock}`).join('; ');
  console.log(`  ${label}: ${line} | orders: ${orders.length}`);
}

const a = await terminal('terminal-a');
const b = await terminal('terminal-b');
console.log(`Terminal A is replica ${a.replica} on ${a.storage.backend}; terminal B is ${b.replica}.`);

console.log('\n1. The back office stocks the catalog on A; B receives it.');
const croissant = await a.insert('products', {
  name: 'Croissant',
  price: 1.4,
  category: 'bakery',
  stock: 20,
});
await a.insert('products', { name: 'Espresso', price: 2.2, category: 'drinks', stock: 100 });
await exchange(a, b);

console.log('\n2. The network drops. Both terminals keep selling croissants, and edit different things.');
await a.transaction(async (tx) => {
  await tx.insert('orders', { terminal: 'A', lines: [{ product: croissant, qty: 3 }], total: 4.2 });
  await tx.increment('products', croissant, 'stock', -3);
});
await b.transaction(async (tx) => {
  await tx.insert('orders', {
    terminal: 'B',
    lines: [{ product: croissant, qty: 2 }],
    total: 2.8,
    note: 'warm',
  });
  await tx.increment('products', croissant, 'stock', -2);
});
await a.update('products', croissant, { price: 1.5 });
await b.update('products', croissant, { category: 'viennoiserie' });
await show('A offline', a);
await show('B offline', b);

console.log('\n3. The network is back: they exchange ops and agree. Both sales counted, both edits kept.');
await exchange(a, b);
await show('A', a);
await show('B', b);
const same =
  JSON.stringify(await a.find({ collection: 'products' })) ===
  JSON.stringify(await b.find({ collection: 'products' }));
console.log(`\nTerminals agree: ${same ? 'yes' : 'NO'}. Databases: ${dataDir}`);
console.log(
  'This is an interim demo of the engine; the relay server and the POS app replace it as `npm start`.',
);
await a.close();
await b.close();
