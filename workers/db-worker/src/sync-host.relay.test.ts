/**
 * The worker's signaling watch against a real relay: a peer's offer that arrives before the leader tab's dialer
 * watches is handed to it when it starts watching, not lost.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineSchema, f, type Rules } from '@loam/core';
import { startTestRelay, type TestRelay } from '@loam/server/testing';
import { openEngine } from '@loam/store';
import { createBetterSqlite3Storage } from '@loam/store/node';
import { createSyncClient, type SyncClient, type WebSocketConstructor } from '@loam/sync';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import { createSyncHost, type SignalingEvent } from './sync-host';

const schema = defineSchema({ version: 1, collections: { notes: { fields: { title: f.string() } } } });
const rules: Rules = {
  notes: { roles: [{ name: 'all', read: true, write: true, insert: true, delete: true }] },
};

let dir: string;
let relay: TestRelay;
const clients: SyncClient[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'loam-sync-host-'));
  relay = await startTestRelay(schema, rules, { peers: { sameClaims: ['shop'] } });
});
afterAll(async () => {
  for (const c of clients) await c.stop();
  await relay?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function device(name: string) {
  const engine = await openEngine({
    driver: await createBetterSqlite3Storage({ filename: join(dir, `${name}.db`) }),
    schema,
  });
  const client = createSyncClient({
    store: engine.syncStore,
    url: relay.server.wsUrl,
    WebSocket: WebSocket as unknown as WebSocketConstructor,
    getToken: () => relay.tokenFor(name, { claims: { shop: 1 } }),
  });
  clients.push(client);
  const host = createSyncHost(client, engine.replica);
  client.start();
  await vi.waitFor(() => expect(client.status().connected).toBe(true), { timeout: 10_000 });
  return { client, host, replica: engine.replica };
}

it('keeps a signal that arrived before anyone watched, and hands it to the first watcher after the roster', async () => {
  const a = await device('till-a');
  const b = await device('till-b');
  await vi.waitFor(() =>
    expect(a.client.peers.roster().some((p) => p.replica === b.replica && p.online)).toBe(true),
  );
  expect(await a.host.handle({ kind: 'signal', to: b.replica, data: '{"type":"offer"}' })).toBe(true);
  await new Promise((resolve) => setTimeout(resolve, 300));

  const seen: SignalingEvent[] = [];
  const stop = b.host.watchSignaling((event) => seen.push(event));
  expect(seen.map((e) => e.kind)).toEqual(['roster', 'signal']);
  expect(seen[0]).toMatchObject({ kind: 'roster', self: b.replica });
  expect(seen[1]).toEqual({ kind: 'signal', from: a.replica, data: '{"type":"offer"}' });

  await a.host.handle({ kind: 'signal', to: b.replica, data: 'candidate' });
  await vi.waitFor(() => expect(seen.at(-1)).toEqual({ kind: 'signal', from: a.replica, data: 'candidate' }));
  stop();
  const again: SignalingEvent[] = [];
  b.host.watchSignaling((event) => again.push(event));
  expect(again.map((e) => e.kind)).toEqual(['roster']);
});
