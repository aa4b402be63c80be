/**
 * Ops that reach the relay late, on better-sqlite3 engines against a real relay: after the relay compacted its
 * history, an op sent again from a database put back from an older copy and a create of an incarnation another
 * device deleted (compaction must keep what they are judged by: `server-store.ts`, invariant 4); and a write
 * renumbered after a conflict, then renumbered again by another copy of the same database (it counts once). */
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineSchema, f, q, type Rules } from '@loam/core';
import { startTestRelay, type TestRelay } from '@loam/server/testing';
import type { Engine } from '@loam/store';
import { createBetterSqlite3Storage, openEngine } from '@loam/store/node';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import { createWebSocketTransport, type WebSocketConstructor } from '../transport/transport-websocket';
import { createSyncClient } from './lifecycle';
import type { SyncClient } from './sync-client';

const schema = defineSchema({
  version: 1,
  collections: {
    tills: { fields: { name: f.string(), store: f.number({ indexed: true }), sales: f.counter() } },
  },
});

const rules: Rules = {
  tills: {
    roles: [
      {
        name: 'clerk',
        applyWhen: { op: 'eq', field: 'role', value: 'clerk' },
        read: true,
        write: true,
        insert: true,
        delete: true,
      },
    ],
  },
};

let dir: string;
let relay: TestRelay;
interface Device {
  readonly engine: Engine<typeof schema>;
  readonly client: SyncClient;
}

const open: Device[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'loam-compaction-'));
  relay = await startTestRelay(schema, rules);
});

afterAll(async () => {
  await relay?.close();
  rmSync(dir, { recursive: true, force: true });
});

afterEach(async () => {
  for (const d of open.splice(0)) await close(d);
});

/** Opens the device database `file`; syncs (subscribed to `store`'s tills) unless `offline`. */
async function device(user: string, file: string, store: number, offline = false): Promise<Device> {
  const engine = await openEngine({
    driver: await createBetterSqlite3Storage({ filename: join(dir, file) }),
    schema,
  });
  const client = createSyncClient({
    store: engine.syncStore,
    transportFactory: () =>
      createWebSocketTransport({
        url: relay.server.wsUrl,
        WebSocket: WebSocket as unknown as WebSocketConstructor,
      }),
    getToken: () => relay.tokenFor(user, { claims: { role: 'clerk' } }),
    backoff: { baseMs: 20, maxMs: 200 },
  });
  const d = { engine, client };
  open.push(d);
  if (!offline) {
    client.start();
    await client.subscribe('tills', q.eq('store', store)).ready;
  }
  return d;
}

async function close(d: Device) {
  open.splice(open.indexOf(d), 1);
  await d.client.stop();
  await d.engine.close();
}

function copyDatabase(from: string, to: string) {
  for (const suffix of ['', '-wal', '-shm']) {
    rmSync(join(dir, to + suffix), { force: true });
    if (existsSync(join(dir, from + suffix))) copyFileSync(join(dir, from + suffix), join(dir, to + suffix));
  }
}

async function until(probe: () => Promise<boolean>, what: string) {
  await vi.waitFor(
    async () => {
      if (!(await probe())) throw new Error(`still waiting for ${what}`);
    },
    { timeout: 15_000, interval: 10 },
  );
}

const uploaded = (d: Device) => async () => (await d.engine.pendingCount()) === 0;

describe('late ops', () => {
  it('counts every increment once when a database put back from an older copy reuses an op id after compaction', async () => {
    const a = await device('alice', 'till-a.db', 1);
    const b = await device('bob', 'till-b.db', 1);
    const id = await a.engine.insert('tills', { name: 'front', store: 1 });
    await until(uploaded(a), 'the till on the relay');
    await close(a);
    const offline = await device('alice', 'till-a.db', 1, true);
    await offline.engine.increment('tills', id, 'sales', 2);
    await close(offline);
    copyDatabase('till-a.db', 'till-a.backup');

    const online = await device('alice', 'till-a.db', 1);
    await online.engine.increment('tills', id, 'sales', 4);
    await until(uploaded(online), 'both increments acknowledged');
    await close(online);
    await relay.server.store.compact(Date.now() + 60_000);

    copyDatabase('till-a.backup', 'till-a.db');
    const restored = await device('alice', 'till-a.db', 1, true);
    // Sent again: the +2 the relay already counted. New: a +3 under the id the +4 had.
    expect(await restored.engine.pendingCount()).toBe(1);
    await restored.engine.increment('tills', id, 'sales', 3);
    restored.client.start();
    await until(uploaded(restored), 'the restored outbox uploaded');
    await until(async () => (await b.engine.get('tills', id))?.sales === 9, 'b counts 2 + 4 + 3');
    await until(async () => (await restored.engine.get('tills', id))?.sales === 9, 'the restored device too');
    const onRelay = await relay.server.store.queryDocs({ collection: 'tills', filter: q.eq('store', 1) });
    expect(onRelay.map((t) => t.sales)).toEqual([9]);
    expect(restored.client.status().lastError?.code).toBe('replica_restored');
  });

  it('keeps a document deleted when a device that never saw the delete sends its create after compaction', async () => {
    const a = await device('alice', 'till-c.db', 2);
    const id = await a.engine.insert('tills', { id: 'till-7', name: 'from a', store: 2 });
    await until(uploaded(a), 'the till on the relay');
    const b = await device('bob', 'till-d.db', 3, true);
    await b.engine.insert('tills', { id, name: 'from b, offline', store: 2 });
    await a.engine.delete('tills', id);
    await until(uploaded(a), 'the delete on the relay');
    await relay.server.store.compact(Date.now() + 60_000);

    b.client.start();
    await b.client.subscribe('tills', q.eq('store', 2)).ready;
    await until(uploaded(b), "b's create answered");
    await until(async () => (await b.engine.get('tills', id)) === undefined, 'the delete on b');
    expect((await relay.server.store.getDoc('tills', id))?.live).toBe(false);
    expect(await a.engine.get('tills', id)).toBeUndefined();
  });

  it('counts once a write two copies of one database renumbered, each after the same conflict', async () => {
    const a = await device('alice', 'till-e.db', 4);
    const b = await device('bob', 'till-f.db', 4);
    const id = await a.engine.insert('tills', { name: 'back', store: 4 });
    await until(uploaded(a), 'the till on the relay');
    await close(a);
    copyDatabase('till-e.db', 'till-e.first');
    const later = await device('alice', 'till-e.db', 4);
    await later.engine.increment('tills', id, 'sales', 4);
    await until(uploaded(later), 'the +4 acknowledged');
    await close(later);

    copyDatabase('till-e.first', 'till-e.db');
    const offline = await device('alice', 'till-e.db', 4, true);
    await offline.engine.increment('tills', id, 'sales', 3);
    await close(offline);
    copyDatabase('till-e.db', 'till-e.second');
    const renumbered = await device('alice', 'till-e.db', 4);
    await until(uploaded(renumbered), 'the +3 renumbered and acknowledged');
    await until(async () => (await b.engine.get('tills', id))?.sales === 7, 'b counts 4 + 3');
    await close(renumbered);

    copyDatabase('till-e.second', 'till-e.db');
    const again = await device('alice', 'till-e.db', 4);
    await until(uploaded(again), 'the +3 renumbered again and acknowledged');
    // The echo's ack carries the till's state on the relay: once acknowledged, the device's own +3 is not counted
    // a second time, without waiting for any later download.
    expect((await again.engine.get('tills', id))?.sales).toBe(7);
    await b.engine.increment('tills', id, 'sales', 1);
    await until(async () => (await again.engine.get('tills', id))?.sales === 8, 'a later write reaches it');
    expect((await b.engine.get('tills', id))?.sales).toBe(8);
    const onRelay = await relay.server.store.queryDocs({ collection: 'tills', filter: q.eq('store', 4) });
    expect(onRelay.map((t) => t.sales)).toEqual([8]);
  });
});
