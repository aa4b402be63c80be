import { q } from '@loam/core';
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
const cheap = await db.find(q.query('products', { filter: q.lt('price', 3), sort: [q.asc('price')] }));
console.log(cheap.map((p) => `${p.name}: ${p.stock} left`)); // [ 'Tea: 9 left' ]
stop();
await db.close();
