/**
 * Device certificates renew while online: a real relay issues short-lived certificates (3 s), each device gets a
 * fresh one before the old expires and keeps peering past the first one's expiry; a device that went offline
 * keeps its last certificate until it expires, and then a peer refuses it (`cert_expired`).
 */
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
import { createPeers, type Peers } from './peers';

const schema = defineSchema({
  version: 1,
  collections: { products: { fields: { name: f.string(), price: f.number() } } },
});
const rules: Rules = {
  products: { roles: [{ name: 'staff', read: true, write: true, insert: true, delete: true }] },
};

const CERTIFICATE_MS = 3_000;
/** The clock skew peers allow each other here (it widens a certificate's validity window). */
const SKEW_MS = 200;

let dir: string;
let relay: TestRelay;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'loam-renewal-'));
  relay = await startTestRelay(schema, rules, { certificateMs: CERTIFICATE_MS });
});
afterAll(async () => {
  await relay?.close();
  rmSync(dir, { recursive: true, force: true });
});

interface Device {
  readonly engine: Engine<typeof schema>;
  readonly client: SyncClient;
  readonly peers: Peers;
  /** The certificate it holds now. */
  certificate(): Promise<{ serial: number; expires: number } | undefined>;
}
const open: Device[] = [];
afterEach(async () => {
  for (const d of open.splice(0)) {
    d.peers.close();
    await d.client.stop();
    await d.engine.close();
  }
});

const until = (check: () => boolean | Promise<boolean>, what: string, timeout = 20_000) =>
  vi.waitFor(
    async () => {
      if (!(await check())) throw new Error(`waiting for ${what}`);
    },
    { timeout, interval: 25 },
  );

async function device(user: string): Promise<Device> {
  const file = join(dir, `${user}.db`);
  const keys = await createFileKeyStore(`${file}.key`).deviceKeys();
  const engine = await openEngine({
    driver: await createBetterSqlite3Storage({ filename: file }),
    schema,
    keys,
  });
  const peers = createPeers({ store: engine.syncStore, keys, rules, maxSkewMs: SKEW_MS });
  const client = createSyncClient({
    store: engine.syncStore,
    transportFactory: () =>
      createWebSocketTransport({
        url: relay.server.wsUrl,
        WebSocket: WebSocket as unknown as WebSocketConstructor,
      }),
    getToken: () => relay.tokenFor(user, { claims: { role: 'manager' } }),
    backoff: { baseMs: 20, maxMs: 100 },
    peers,
  });
  client.start();
  const d: Device = {
    engine,
    client,
    peers,
    async certificate() {
      const c = (await loadCredentials(engine.syncStore))?.certificate.cert;
      return c && { serial: c.serial, expires: c.expires };
    },
  };
  open.push(d);
  await until(async () => (await d.certificate()) !== undefined, `${user}'s first certificate`);
  return d;
}

function link(x: Device, y: Device) {
  const pair = createMemoryTransportPair();
  return [x.peers.connect(pair.a), y.peers.connect(pair.b)] as const;
}

describe('device certificates renew while online', () => {
  it('keep two devices peering past their first certificates’ expiry; an expired one is refused', async () => {
    const a = await device('renew-a');
    const b = await device('renew-b');
    const first = (await a.certificate()) as { serial: number; expires: number };
    const [atA, atB] = link(a, b);
    await until(() => atA.info().state === 'live', 'the first link live');

    // Renewed before it expires, while the first link stays up.
    await until(
      async () => ((await a.certificate())?.expires ?? 0) > first.expires,
      'a renewed certificate',
      CERTIFICATE_MS,
    );
    expect((await a.certificate())?.serial).not.toBe(first.serial);
    await until(() => Date.now() > first.expires + SKEW_MS + 100, 'the first certificate expired');
    expect(atA.info().state).toBe('live');

    // The link made with the first certificates carries a's writes on: b judges them by the renewed one.
    await a.engine.insert('products', { id: 'p0', name: 'Jam', price: 4 });
    await until(() => atB.info().opsReceived > 0, 'the write over the first link');
    expect(await b.engine.refusedWrites()).toEqual([]);
    atA.close();

    // A new link after the first certificates expired authenticates with the renewed ones, and carries writes.
    const [again, againAtB] = link(a, b);
    await until(() => again.info().state === 'live' && againAtB.info().state === 'live', 'a new link live');
    await a.engine.insert('products', { id: 'p1', name: 'Tea', price: 3 });
    await until(() => againAtB.info().opsReceived > 0, 'the write over the new link');
    expect(await b.engine.get('products', 'p1')).toMatchObject({ name: 'Tea' });

    // Offline, a stops renewing: once its last certificate expired, b refuses a new link with it.
    await a.client.stop();
    const last = (await a.certificate()) as { serial: number; expires: number };
    await until(
      () => Date.now() > last.expires + SKEW_MS + 100,
      "a's last certificate expired",
      2 * CERTIFICATE_MS,
    );
    expect((await b.certificate())?.expires ?? 0).toBeGreaterThan(Date.now());
    const [late, lateAtB] = link(a, b);
    await until(() => lateAtB.info().state === 'refused', 'b refuses a');
    expect(lateAtB.info().refusal).toMatchObject({ code: 'cert_expired', by: 'us' });
    await until(() => late.info().state === 'refused', 'a hears the refusal');
    expect(late.info().refusal).toMatchObject({ code: 'cert_expired', by: 'peer' });
  }, 60_000);
});
