import { q, writeIntent } from '@loam/core';
import { createBetterSqlite3Storage, openEngine } from '@loam/store/node';
import { schema } from './schema';

const db = await openEngine({ driver: await createBetterSqlite3Storage({ filename: 'shop.db' }), schema });
const stop = db.watch({ kind: 'find', query: { collection: 'orders' } }, (event) => {
  if (event.kind === 'docs') console.log(event.reset ? 'orders: first result' : 'orders: changed');
});
const id = await db.insert('products', { name: 'Tea', price: 2.5, stock: 10 });
await db.transaction(async (tx) => {
  await tx.increment('products', id, 'stock', -1);
  await tx.insert('orders', { productId: id, quantity: 1, total: 2.5 });
}); // all or nothing, ops and outbox included
await db.upsert('products', 'sku-42', { name: 'Coffee', price: 3, supplier: { name: 'Bean & Co' } }); // created, or its fields set
await db.update('products', 'sku-42', { 'supplier.city': 'Lyon' }); // one path: a concurrent edit of supplier.name is kept
await db.write(writeIntent.increment('products', 'sku-42', 'stock', 5)); // every write is a write intent of @loam/core
const cheap = await db.find(q.query('products', { filter: q.lt('price', 3), sort: [q.asc('price')] }));
console.log(cheap.map((p) => `${p.name}: ${p.stock} left`)); // [ 'Tea: 9 left' ]
stop();
await db.close();
