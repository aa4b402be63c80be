import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineSchema, f, type ReplicaId, type Rules } from '@loam/core';
import { startTestRelay, type TestRelay } from '@loam/server/testing';
import { openEngine } from '@loam/store';
import { createBetterSqlite3Storage } from '@loam/store/node';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import type { RosterPeer } from '../protocol/messages';
import type { WebSocketConstructor } from '../transport/transport-websocket';
import { createSyncClient } from './lifecycle';
import type { SyncClient } from './sync-client';

const schema = defineSchema({ version: 1, collections: { notes: { fields: { title: f.string() } } } });
const rules: Rules = {
  notes: { roles: [{ name: 'all', read: true, write: true, insert: true, delete: true }] },
};

let dir: string;
let relay: TestRelay;
const clients: SyncClient[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'loam-peer-signal-'));
  relay = await startTestRelay(schema, rules, { peers: { sameClaims: ['storeId'] } });
});
afterAll(async () => {
  for (const c of clients) await c.stop();
  await relay?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function till(name: string, storeId: number) {
  const engine = await openEngine({
    driver: await createBetterSqlite3Storage({ filename: join(dir, `${name}.db`) }),
    schema,
  });
  const client = createSyncClient({
    store: engine.syncStore,
    url: relay.server.wsUrl,
    WebSocket: WebSocket as unknown as WebSocketConstructor,
    getToken: () => relay.tokenFor(name, { claims: { storeId } }),
    backoff: { baseMs: 20, maxMs: 200 },
  });
  clients.push(client);
  const signals: { from: ReplicaId; data: string }[] = [];
  const unreachable: string[] = [];
  client.peers.onSignal((from, data) => signals.push({ from, data }));
  client.peers.onUnreachable((message) => unreachable.push(message));
  client.start();
  await vi.waitFor(() => expect(client.status().connected).toBe(true), { timeout: 10_000 });
  return { client, replica: engine.syncStore.replica, signals, unreachable };
}

const peerIn = (client: SyncClient, replica: ReplicaId): RosterPeer | undefined =>
  client.peers.roster().find((p) => p.replica === replica);

it('two sync clients of one store signal each other through the relay and keep their addresses across reconnects', async () => {
  const a = await till('till-1', 7);
  const b = await till('till-2', 7);
  a.client.peers.announce(['10.1.0.5:47800']);
  await vi.waitFor(() => expect(peerIn(b.client, a.replica)?.addresses).toEqual(['10.1.0.5:47800']));
  expect(peerIn(a.client, b.replica)?.online).toBe(true);

  expect(a.client.peers.signal(b.replica, '{"type":"offer"}')).toBe(true);
  await vi.waitFor(() => expect(b.signals).toEqual([{ from: a.replica, data: '{"type":"offer"}' }]));

  await a.client.stop();
  await vi.waitFor(() => expect(peerIn(b.client, a.replica)?.online).toBe(false));
  expect(a.client.peers.signal(b.replica, 'late')).toBe(false);
  expect(b.client.peers.signal(a.replica, 'to nobody')).toBe(true);
  await vi.waitFor(() => expect(b.unreachable).toHaveLength(1));
  expect(b.client.status().lastError).toBeNull();

  a.client.start();
  await vi.waitFor(() => expect(peerIn(b.client, a.replica)?.online).toBe(true), { timeout: 10_000 });
  expect(peerIn(b.client, a.replica)?.addresses).toEqual(['10.1.0.5:47800']);
});

it('a till of another store is neither in the roster nor reachable', async () => {
  const a = await till('till-3', 8);
  const b = await till('till-4', 9);
  expect(a.client.peers.signal(b.replica, 'offer')).toBe(true);
  await vi.waitFor(() => expect(a.unreachable).toHaveLength(1));
  expect(peerIn(a.client, b.replica)).toBeUndefined();
  expect(b.signals).toEqual([]);
});
