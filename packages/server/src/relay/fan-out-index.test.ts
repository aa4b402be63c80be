import type { Filter, MaterializedDoc } from '@loam/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LoamServer } from '../server';
import { mintToken, startTestServer, tempDir, testDevice } from '../testing/fixtures';
import { connectClient, type ProtocolClient } from '../testing/protocol-client';
import { createFanOutIndex, equalityKey } from './fan-out-index';
import type { Commit } from './relay';

const eq = (field: string, value: unknown): Filter => ({ op: 'eq', field, value }) as Filter;
const doc = (fields: Record<string, unknown>) => ({ id: 'd', ...fields }) as unknown as MaterializedDoc;
const commitOf = (
  collection: string,
  before: Record<string, unknown> | undefined,
  after: Record<string, unknown> | undefined,
) =>
  ({
    version: 1,
    at: 0,
    source: 'device',
    changes: [
      {
        collection,
        id: 'd',
        beforeDoc: before && doc(before),
        afterDoc: after && doc(after),
        after: {},
      },
    ],
  }) as unknown as Commit;

describe('fan-out index', () => {
  it('keys a filter by a string equality on a top-level field, alone, in `in` or under `and`', () => {
    expect(equalityKey(eq('storeId', 's1'))).toEqual({ field: 'storeId', values: ['s1'] });
    expect(
      equalityKey({ op: 'and', filters: [{ op: 'gt', field: 'total', value: 5 }, eq('storeId', 's1')] }),
    ).toEqual({ field: 'storeId', values: ['s1'] });
    expect(equalityKey({ op: 'in', field: 'storeId', values: ['a', 'b'] })).toEqual({
      field: 'storeId',
      values: ['a', 'b'],
    });
    expect(equalityKey(eq('total', 5))).toBeUndefined();
    expect(equalityKey(eq('place.city', 'x'))).toBeUndefined();
    expect(equalityKey({ op: 'or', filters: [eq('storeId', 'a'), eq('storeId', 'b')] })).toBeUndefined();
    expect(equalityKey({ op: 'not', filter: eq('storeId', 'a') })).toBeUndefined();
  });

  it('gives a commit the sessions of its documents before and after it, and those it cannot key', () => {
    const index = createFanOutIndex<string>();
    index.set('shopA', [{ collection: 'orders', filter: eq('storeId', 'a') }]);
    index.set('shopB', [{ collection: 'orders', filter: eq('storeId', 'b') }]);
    index.set('bigOrders', [{ collection: 'orders', filter: { op: 'gt', field: 'total', value: 5 } }]);
    index.set('notes', [{ collection: 'notes', filter: { op: 'true' } }]);
    index.set('recomputing', undefined);
    const of = (c: Commit) => [...index.sessionsOf(c)].sort();
    expect(of(commitOf('orders', undefined, { storeId: 'a' }))).toEqual([
      'bigOrders',
      'recomputing',
      'shopA',
    ]);
    // A document moving from shop a to shop b leaves a's view and joins b's.
    expect(of(commitOf('orders', { storeId: 'a' }, { storeId: 'b' }))).toEqual([
      'bigOrders',
      'recomputing',
      'shopA',
      'shopB',
    ]);
    // Deleted: only its state before says where it was.
    expect(of(commitOf('orders', { storeId: 'b' }, undefined))).toEqual([
      'bigOrders',
      'recomputing',
      'shopB',
    ]);
    expect(of(commitOf('orders', undefined, { storeId: 7 }))).toEqual(['bigOrders', 'recomputing']);
    expect(of(commitOf('notes', undefined, { text: 'x' }))).toEqual(['notes', 'recomputing']);
    index.set('shopA', []);
    index.delete('recomputing');
    index.set('shopB', [{ collection: 'orders', filter: eq('storeId', 'a') }]);
    expect(of(commitOf('orders', undefined, { storeId: 'a' }))).toEqual(['bigOrders', 'shopB']);
    expect(of(commitOf('orders', undefined, { storeId: 'b' }))).toEqual(['bigOrders']);
  });
});

describe('fan-out through the relay', () => {
  const tmp = tempDir('loam-fan-out-');
  let server: LoamServer;
  beforeAll(async () => {
    server = await startTestServer(tmp.dir);
  });
  afterAll(async () => {
    await server.close();
    tmp.cleanup();
  });

  const open = async (sub: string, claims: Record<string, unknown>, filter?: Filter) => {
    const c: ProtocolClient = await connectClient(server.wsUrl);
    await c.hello({
      replica: testDevice().replica,
      token: await mintToken({ sub, ...claims }),
      subs: [{ id: 's', query: { collection: 'orders', ...(filter ? { filter } : {}) } }],
    });
    await c.next('synced');
    return c;
  };

  it('a terminal hears of its shop through its filter or its role, of an order leaving it, and of a later subscription', async () => {
    const writer = testDevice();
    const w = await connectClient(server.wsUrl);
    await w.hello({ replica: writer.replica, token: await mintToken({ sub: 'w', role: 'manager' }) });
    const byFilter = await open('f', { role: 'manager' }, eq('storeId', 'a'));
    const byRole = await open('c', { role: 'clerk', storeId: 'a' });
    const other = await open('o', { role: 'manager' }, eq('storeId', 'b'));
    const late = await connectClient(server.wsUrl);
    await late.hello({
      replica: testDevice().replica,
      token: await mintToken({ sub: 'l', role: 'manager' }),
    });

    const { id, ops } = writer.insert('orders', { storeId: 'a', owner: 'c', total: 1 });
    await w.push(1, ops);
    for (const c of [byFilter, byRole]) await c.next('docs', (m) => m.docs.some((d) => d.id === id));

    late.send({
      t: 'subscribe',
      sub: { id: 'late', query: { collection: 'orders', filter: eq('storeId', 'b') } },
    });
    await late.next('synced');
    await w.push(2, writer.update('orders', id, { storeId: 'b' }));
    for (const c of [byFilter, byRole])
      await c.next('docs', (m) => m.removed.some((r) => r.id === id) || m.docs.some((d) => d.id === id));
    for (const c of [other, late]) await c.next('docs', (m) => m.docs.some((d) => d.id === id));

    late.send({ t: 'unsubscribe', id: 'late' });
    const second = writer.insert('orders', { storeId: 'b', owner: 'c', total: 2 });
    await w.push(3, second.ops);
    await other.next('docs', (m) => m.docs.some((d) => d.id === second.id));
    await new Promise((r) => setTimeout(r, 200));
    expect(late.received.some((m) => m.t === 'docs' && m.docs.some((d) => d.id === second.id))).toBe(false);
    for (const c of [w, byFilter, byRole, other, late]) c.close();
  });
});
