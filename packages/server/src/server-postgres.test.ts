import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { LoamServer } from './server';
import type { CommitFeedEvent, ServerStore } from './storage/server-store';
import { createPostgresServerStore } from './storage/storage-postgres';
import {
  mintToken,
  SERVICE_TOKEN,
  startTestServer,
  tempDir,
  testDevice,
  testSchema,
} from './testing/fixtures';
import { createTestSchema, type TestSchema } from './testing/postgres';
import { connectClient } from './testing/protocol-client';

const HOOK_SECRET = 'webhook-secret-0123456789';
const tmp = tempDir('loam-server-pg-');
const received: { body: { cursor: number; changes: { id: string }[] }; delivery: string }[] = [];
const attempts: string[] = [];
let receiverUp = true;
const receiver = createServer((req: IncomingMessage, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const delivery = String(req.headers['x-loam-delivery']);
    attempts.push(delivery);
    if (!receiverUp) return res.writeHead(503).end();
    received.push({ body: JSON.parse(Buffer.concat(chunks).toString('utf8')), delivery });
    res.writeHead(204).end();
  });
});
let hookUrl: string;
const schemas: TestSchema[] = [];
const servers: LoamServer[] = [];

beforeAll(async () => {
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
});
afterAll(async () => {
  for (const s of servers) await s.close();
  for (const s of schemas) await s.drop();
  await new Promise<void>((resolve) => receiver.close(() => resolve()));
  tmp.cleanup();
});

async function start(store: 'sqlite' | 'postgres', db?: TestSchema, baseDelayMs = 50): Promise<LoamServer> {
  const server = await startTestServer(
    join(tmp.dir, store),
    {
      ...(db ? { databaseUrl: db.url } : {}),
      webhooks: [{ collection: 'orders', url: hookUrl, secret: HOOK_SECRET, maxAttempts: 8 }],
    },
    { webhookBaseDelayMs: baseDelayMs },
  );
  servers.push(server);
  return server;
}

async function insertOrder(server: LoamServer, total: number): Promise<string> {
  const d = testDevice();
  const c = await connectClient(server.wsUrl);
  await c.hello({ replica: d.replica, token: await mintToken({ sub: 'boss', role: 'manager' }) });
  const { id, ops } = d.insert('orders', { storeId: 'hooks', owner: 'boss', total });
  await c.push(1, ops);
  c.close();
  return id;
}

const stop = async (server: LoamServer) => {
  await server.close();
  servers.splice(servers.indexOf(server), 1);
};

describe.each(['sqlite', 'postgres'] as const)('webhooks on %s', (store) => {
  it('keeps a delivery queued across a restart and delivers it once, with the same delivery id', async () => {
    const db = store === 'postgres' ? createTestSchema() : undefined;
    if (db) schemas.push(db);
    received.length = 0;
    attempts.length = 0;
    receiverUp = false;
    const first = await start(store, db, 300);
    const id = await insertOrder(first, 1);
    await vi.waitFor(() => expect(attempts.length).toBeGreaterThan(0), { timeout: 10_000 });
    await stop(first);
    expect(received).toEqual([]);
    receiverUp = true;
    const second = await start(store, db, 300);
    await second.webhooksIdle();
    expect(received.map((r) => r.body.changes.map((c) => c.id))).toEqual([[id]]);
    expect(received[0]?.delivery).toBe(attempts[0]);
    await stop(second);
  });
});

describe('three relay nodes on one PostgreSQL', () => {
  let nodes: LoamServer[];
  beforeAll(async () => {
    const db = createTestSchema();
    schemas.push(db);
    nodes = await Promise.all([start('postgres', db), start('postgres', db), start('postgres', db)]);
  });

  it('deliver each webhook delivery exactly once, in version order', async () => {
    received.length = 0;
    receiverUp = true;
    for (let i = 0; i < 12; i++) await insertOrder(nodes[i % 3]!, i);
    await Promise.all(nodes.map((n) => n.webhooksIdle()));
    const cursors = received.map((r) => r.body.cursor);
    expect(cursors).toHaveLength(12);
    expect([...cursors].sort((a, b) => a - b)).toEqual(cursors);
    expect(new Set(received.map((r) => r.delivery)).size).toBe(12);
  });

  it('take backend writes through any node, and every node sees them', async () => {
    received.length = 0;
    const headers = { authorization: `Bearer ${SERVICE_TOKEN}`, 'content-type': 'application/json' };
    const created = await fetch(`${nodes[0]!.url}/v1/collections/orders/docs`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ id: 'backend-1', storeId: 'api', owner: 'back office', total: 5 }),
    });
    expect(created.status).toBe(201);
    const inc = await fetch(`${nodes[1]!.url}/v1/collections/orders/docs/backend-1/increment`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ field: 'qty', by: 2 }),
    });
    expect(((await inc.json()) as { doc: { qty: number } }).doc.qty).toBe(2);
    const read = await fetch(`${nodes[2]!.url}/v1/collections/orders/docs/backend-1`, { headers });
    expect(((await read.json()) as { doc: { total: number; qty: number } }).doc).toMatchObject({
      total: 5,
      qty: 2,
    });
    await Promise.all(nodes.map((n) => n.webhooksIdle()));
    expect(received.map((r) => (r.body as { source?: string }).source)).toEqual(['backend', 'backend']);
  });

  it('report the database in /healthz and its figures in /metrics', async () => {
    const health = await (await fetch(`${nodes[0]!.url}/healthz`)).json();
    expect(health).toMatchObject({ ok: true, store: { backend: 'postgres', latencyMs: expect.any(Number) } });
    await insertOrder(nodes[1]!, 99);
    const text = await (await fetch(`${nodes[2]!.url}/metrics`)).text();
    expect(text).toMatch(/^loam_db_latency_seconds_count [1-9]\d*$/m);
    expect(text).toMatch(/^loam_db_batch_ops_count [1-9]\d*$/m);
    expect(text).toMatch(/^loam_fanout_lag_seconds_count [1-9]\d*$/m);
  });

  it('reset a device whose cursor is older than the history another node folded away', async () => {
    const device = testDevice();
    const token = await mintToken({ sub: 'boss', role: 'manager' });
    const first = await connectClient(nodes[0]!.wsUrl);
    await first.hello({ replica: device.replica, token });
    await first.push(1, device.insert('orders', { storeId: 'old', owner: 'boss', total: 1 }).ops);
    first.close();
    const horizon = await nodes[0]!.store.compact(Date.now() + 60_000);
    expect(horizon).toBeGreaterThan(1);
    const late = await connectClient(nodes[2]!.wsUrl);
    expect((await late.hello({ replica: device.replica, token, cursor: 1 })).reset).toBe(true);
    late.close();
  });
});

/**
 * A store whose commit feed holds every event back until `reach` asks for it: a relay node that has not heard of
 * the newest versions yet (on a real node, a notification still in flight), made deterministic.
 */
function lagging(store: ServerStore): ServerStore {
  const held: CommitFeedEvent[] = [];
  const listeners = new Set<(e: CommitFeedEvent) => void>();
  let position = store.commits.position();
  const release = () => {
    for (const e of held.splice(0)) {
      if (e.t === 'commit') position = e.commit.version;
      for (const l of listeners) l(e);
    }
  };
  store.commits.subscribe((e) => held.push(e));
  return Object.assign(Object.create(store) as ServerStore, {
    commits: {
      position: () => position,
      subscribe(listener: (e: CommitFeedEvent) => void) {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
      async reach(version: number) {
        await store.commits.reach(version);
        release();
      },
    },
  });
}

describe('a device moving to another relay node', () => {
  it('resumes from its cursor, without a reset, on a node that has not heard of that cursor yet', async () => {
    const db = createTestSchema();
    schemas.push(db);
    const a = await start('postgres', db);
    const inner = await createPostgresServerStore({ url: db.url, schema: testSchema });
    const b = await startTestServer(
      join(tmp.dir, 'lagging'),
      { databaseUrl: db.url },
      { store: lagging(inner) },
    );
    servers.push(b);
    const device = testDevice();
    const token = await mintToken({ sub: 'boss', role: 'manager' });
    const subs = [
      {
        id: 's',
        query: { collection: 'orders', filter: { op: 'eq', field: 'storeId', value: 'mv' } },
      } as const,
    ];
    const onA = await connectClient(a.wsUrl);
    await onA.hello({ replica: device.replica, token, subs: [...subs] });
    await onA.next('synced');
    const { id, ops } = device.insert('orders', { storeId: 'mv', owner: 'boss', total: 3 });
    await onA.push(1, ops);
    const { cursor } = await onA.next('docs', (m) => m.cursor > 0 && m.docs.some((d) => d.id === id));
    onA.close();
    expect(b.relay.version()).toBeLessThan(cursor);
    const onB = await connectClient(b.wsUrl);
    const welcome = await onB.hello({ replica: device.replica, token, cursor, subs: [...subs] });
    expect(welcome.reset).toBe(false);
    expect((await onB.next('synced')).cursor).toBeGreaterThanOrEqual(cursor);
    onB.close();
  });
});
