import { afterAll, beforeAll, expect, it } from 'vitest';
import type { LoamServer } from '../server';
import { mintToken, startTestServer, tempDir, testDevice } from '../testing/fixtures';
import { connectClient } from '../testing/protocol-client';

const tmp = tempDir('loam-resume-');
let server: LoamServer;
beforeAll(async () => {
  server = await startTestServer(tmp.dir);
});
afterAll(async () => {
  await server.close();
  tmp.cleanup();
});

const shopA = [
  { id: 's', query: { collection: 'orders', filter: { op: 'eq', field: 'storeId', value: 'a' } } } as const,
];

it('a device far behind with a small view is sent its whole set (reset) instead of every change since its cursor', async () => {
  const token = await mintToken({ sub: 'm', role: 'manager' });
  const writer = testDevice();
  const w = await connectClient(server.wsUrl);
  await w.hello({ replica: writer.replica, token });
  const mine = writer.insert('orders', { storeId: 'a', owner: 'm', total: 1 });
  await w.push(1, mine.ops);
  const cursor = server.relay.version();
  // Another shop's busy hour: 1,100 versions, none in shop a's view.
  for (let i = 0; i < 1100; i++)
    await w.push(i + 2, writer.insert('orders', { storeId: 'b', owner: 'm', total: i }).ops);

  const far = await connectClient(server.wsUrl);
  const welcome = await far.hello({ replica: testDevice().replica, token, cursor, subs: [...shopA] });
  expect(welcome.reset).toBe(true);
  const set = await far.next('docs', (m) => m.sub === 's');
  expect(set.docs.map((d) => [d.id, d.mode])).toEqual([[mine.id, 'replace']]);
  expect(set.removed).toEqual([]);
  await far.next('synced');

  // A device a few versions behind resumes: only what changed since its cursor, in merge mode.
  const recent = server.relay.version();
  const update = writer.update('orders', mine.id, { total: 2 });
  await w.push(2000, update);
  const near = await connectClient(server.wsUrl);
  const again = await near.hello({ replica: testDevice().replica, token, cursor: recent, subs: [...shopA] });
  expect(again.reset).toBe(false);
  const delta = await near.next('docs');
  expect(delta.docs.map((d) => [d.id, d.mode])).toEqual([[mine.id, 'merge']]);
  for (const c of [w, far, near]) c.close();
}, 120_000);

it("a resume sends what changed in the view and a deletion; what left the view and another shop's new order only as removals", async () => {
  const token = await mintToken({ sub: 'm', role: 'manager' });
  const writer = testDevice();
  const w = await connectClient(server.wsUrl);
  await w.hello({ replica: writer.replica, token });
  const stays = writer.insert('orders', { storeId: 'a', owner: 'm', total: 1 });
  const leaves = writer.insert('orders', { storeId: 'a', owner: 'm', total: 2 });
  const goes = writer.insert('orders', { storeId: 'a', owner: 'm', total: 3 });
  await w.push(1, [...stays.ops, ...leaves.ops, ...goes.ops]);
  const cursor = server.relay.version();
  await w.push(2, writer.update('orders', stays.id, { total: 10 }));
  await w.push(3, writer.update('orders', leaves.id, { storeId: 'b' }));
  await w.push(4, writer.delete('orders', goes.id));
  const arrives = writer.insert('orders', { storeId: 'a', owner: 'm', total: 4 });
  const elsewhere = writer.insert('orders', { storeId: 'b', owner: 'm', total: 5 });
  await w.push(5, [...arrives.ops, ...elsewhere.ops]);

  const back = await connectClient(server.wsUrl);
  const welcome = await back.hello({ replica: testDevice().replica, token, cursor, subs: [...shopA] });
  expect(welcome.reset).toBe(false);
  const delta = await back.next('docs');
  expect(delta.docs.map((d) => d.id).sort()).toEqual([stays.id, goes.id, arrives.id].sort());
  expect(delta.removed.map((r) => r.id).sort()).toEqual([leaves.id, elsewhere.id].sort());
  for (const c of [w, back]) c.close();
}, 60_000);
