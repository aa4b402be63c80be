import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineSchema, f, type Rules } from '@loam/core';
import { startTestRelay, type TestRelay } from '@loam/server/testing';
import type { Engine } from '@loam/store';
import { createBetterSqlite3Storage, openEngine } from '@loam/store/node';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import { createSyncClient } from '../client/lifecycle';
import type { SyncClient } from '../client/sync-client';
import { createMemoryTransportPair } from '../transport/transport-memory';
import { createWebSocketTransport, type WebSocketConstructor } from '../transport/transport-websocket';
import { loadCredentials } from './credentials';
import { createFileKeyStore } from './key-store-file';
import type { SigningKeys } from './keys';
import { createPeers, type Peers } from './peers';

export const schema = defineSchema({
  version: 1,
  collections: {
    products: {
      fields: {
        name: f.string(),
        price: f.number(),
        stock: f.counter(),
        tags: f.list(),
        notes: f.text(),
        place: f.object({ aisle: f.string(), shelf: f.number({ optional: true }) }, { optional: true }),
        secret: f.string({ optional: true }),
      },
    },
  },
});

export const rules: Rules = {
  products: {
    roles: [
      {
        name: 'manager',
        applyWhen: { op: 'eq', field: 'role', value: 'manager' },
        read: true,
        write: true,
        insert: true,
        delete: true,
      },
      {
        name: 'cashier',
        applyWhen: { op: 'eq', field: 'role', value: 'cashier' },
        read: true,
        write: true,
        insert: false,
        delete: false,
        fields: {
          read: ['name', 'price', 'stock', 'tags', 'notes', 'place'],
          write: ['stock', 'tags', 'notes'],
        },
      },
    ],
  },
};

let dir: string;
let relay: TestRelay;
let counter = 0;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'loam-peers-'));
  relay = await startTestRelay(schema, rules);
});
afterAll(async () => {
  await relay?.close();
  rmSync(dir, { recursive: true, force: true });
});

export interface Replica {
  readonly engine: Engine<typeof schema>;
  readonly keys: SigningKeys;
  readonly client: SyncClient;
  readonly peers: Peers;
}
const open: Replica[] = [];
afterEach(async () => {
  for (const r of open.splice(0)) {
    r.peers.close();
    await r.client.stop();
    await r.engine.close();
  }
});

const until = (check: () => boolean | Promise<boolean>, what: string) =>
  vi.waitFor(
    async () => {
      if (!(await check())) throw new Error(`waiting for ${what}`);
    },
    { timeout: 20_000, interval: 20 },
  );

/** A replica certified by the relay (signed in once as `role`), then cut from it: peers only. */
async function certifiedReplica(role: 'manager' | 'cashier'): Promise<Replica> {
  const file = join(dir, `r${++counter}.db`);
  const keys = await createFileKeyStore(`${file}.key`).deviceKeys();
  const engine = await openEngine({
    driver: await createBetterSqlite3Storage({ filename: file }),
    schema,
    keys,
  });
  const client = createSyncClient({
    store: engine.syncStore,
    transportFactory: () =>
      createWebSocketTransport({
        url: relay.server.wsUrl,
        WebSocket: WebSocket as unknown as WebSocketConstructor,
      }),
    getToken: () => relay.tokenFor(`user-${counter}`, { claims: { role } }),
    backoff: { baseMs: 20, maxMs: 200 },
  });
  client.start();
  await until(async () => (await loadCredentials(engine.syncStore)) !== undefined, 'a certificate');
  await client.stop();
  const peers = createPeers({ store: engine.syncStore, keys, rules });
  const replica = { engine, keys, client, peers };
  open.push(replica);
  return replica;
}

function link(x: Replica, y: Replica) {
  const pair = createMemoryTransportPair();
  x.peers.connect(pair.a);
  y.peers.connect(pair.b);
  return pair;
}

const view = async (r: Replica) =>
  (await r.engine.find({ collection: 'products', sort: [{ field: 'id', dir: 'asc' }] })).map((d) => ({
    ...d,
    tags: [...(d.tags as unknown[])],
    notes: String(d.notes),
  }));

describe('peers, with the relay unreachable', () => {
  it('two replicas exchange writes of every kind both ways and converge', async () => {
    const a = await certifiedReplica('manager');
    const b = await certifiedReplica('manager');
    await a.engine.insert('products', {
      id: 'p1',
      name: 'Tea',
      price: 3,
      stock: 10,
      tags: ['hot'],
      notes: 'green',
    });
    link(a, b);
    await until(() => a.peers.list()[0]?.state === 'live' && b.peers.list()[0]?.state === 'live', 'live');
    await until(async () => (await b.engine.get('products', 'p1')) !== undefined, 'b has p1');

    await b.engine.update('products', 'p1', { name: 'Green tea', place: { aisle: 'A' } });
    await b.engine.increment('products', 'p1', 'stock', -2);
    await a.engine.increment('products', 'p1', 'stock', 5);
    await a.engine.update('products', 'p1', { place: { aisle: 'B', shelf: 3 } });
    await a.engine.listInsert('products', 'p1', 'tags', 0, ['loose']);
    await b.engine.listInsert('products', 'p1', 'tags', 1, ['organic']);
    await a.engine.textInsert('products', 'p1', 'notes', 0, 'fresh ');
    await b.engine.textInsert('products', 'p1', 'notes', 5, ' leaves');
    await a.engine.insert('products', { id: 'p2', name: 'Jam', price: 4, stock: 1, tags: [], notes: '' });
    await b.engine.insert('products', { id: 'p3', name: 'Bread', price: 2, stock: 0, tags: [], notes: '' });
    await until(async () => (await b.engine.get('products', 'p2')) !== undefined, 'b has p2');
    await b.engine.delete('products', 'p2');
    await until(async () => JSON.stringify(await view(a)) === JSON.stringify(await view(b)), 'convergence');
    const p1 = await a.engine.get('products', 'p1');
    expect(p1).toMatchObject({ name: 'Green tea', stock: 13 });
    expect([...((p1?.tags ?? []) as unknown[])].sort()).toEqual(['hot', 'loose', 'organic']);
    expect(String(p1?.notes)).toContain('leaves');
    expect(await a.engine.get('products', 'p2')).toBeUndefined();
    expect(await a.engine.get('products', 'p3')).toMatchObject({ name: 'Bread' });
    expect(a.peers.list()[0]).toMatchObject({ state: 'live', replica: b.engine.replica });
    expect(a.peers.list()[0]?.opsReceived).toBeGreaterThan(0);
  });

  it('three replicas in a chain: what one writes reaches the far end through the middle', async () => {
    const [a, b, c] = [
      await certifiedReplica('manager'),
      await certifiedReplica('manager'),
      await certifiedReplica('manager'),
    ];
    link(a, b);
    link(b, c);
    await a.engine.insert('products', { id: 'x', name: 'From A', price: 1, stock: 0, tags: [], notes: '' });
    await c.engine.insert('products', { id: 'y', name: 'From C', price: 1, stock: 0, tags: [], notes: '' });
    await c.engine.increment('products', 'y', 'stock', 7);
    await until(async () => (await a.engine.get('products', 'y'))?.stock === 7, 'a sees c');
    await until(async () => (await c.engine.get('products', 'x')) !== undefined, 'c sees a');
    expect(JSON.stringify(await view(a))).toBe(JSON.stringify(await view(c)));
  });
});
