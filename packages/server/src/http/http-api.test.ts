import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeDocSnapshot, materialize } from '@loam/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LoamServer } from '../server';
import {
  mintToken,
  SERVICE_TOKEN,
  startTestServer,
  tempDir,
  testDevice,
  testSchema,
} from '../testing/fixtures';
import { connectClient, type ProtocolClient } from '../testing/protocol-client';
import { signWebhookBody } from './webhooks';

const orders = testSchema.collections.orders;
const tmp = tempDir('loam-http-');
const HOOK_SECRET = 'webhook-secret-0123456789';
let server: LoamServer;
let device: ProtocolClient;
const received: { body: string; signature: string; delivery: string }[] = [];
let failuresLeft = 0;
const receiver = createServer((req: IncomingMessage, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    if (failuresLeft > 0) {
      failuresLeft--;
      res.writeHead(503).end();
      return;
    }
    received.push({
      body: Buffer.concat(chunks).toString('utf8'),
      signature: String(req.headers['x-loam-signature']),
      delivery: String(req.headers['x-loam-delivery']),
    });
    res.writeHead(204).end();
  });
});

beforeAll(async () => {
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  server = await startTestServer(
    tmp.dir,
    { webhooks: [{ collection: 'orders', url: hookUrl, secret: HOOK_SECRET, maxAttempts: 4 }] },
    { webhookBaseDelayMs: 5 },
  );
  device = await connectClient(server.wsUrl);
  await device.hello({
    replica: testDevice().replica,
    token: await mintToken({ sub: 'boss', role: 'manager' }),
    subs: [
      { id: 'http', query: { collection: 'orders', filter: { op: 'eq', field: 'storeId', value: 'h1' } } },
    ],
  });
  await device.next('synced');
});
afterAll(async () => {
  device.close();
  await server.close();
  await new Promise<void>((resolve) => receiver.close(() => resolve()));
  tmp.cleanup();
});

async function call(method: string, path: string, body?: unknown, token: string | null = SERVICE_TOKEN) {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
  });
  return {
    status: res.status,
    body: (await res.json()) as Record<string, unknown> & { doc?: Record<string, unknown> },
  };
}

describe('HTTP API', () => {
  it('creates, updates, increments, reads, queries and deletes; devices see every change live', async () => {
    const created = await call('POST', '/v1/collections/orders/docs', {
      id: 'web-1',
      storeId: 'h1',
      owner: 'backend',
      total: 20,
      placedAt: '2024-05-01T10:00:00.000Z',
    });
    expect(created.status).toBe(201);
    expect(created.body.doc).toMatchObject({
      id: 'web-1',
      total: 20,
      qty: 0,
      placedAt: '2024-05-01T10:00:00.000Z',
    });
    const live = await device.next('docs', (m) => m.docs.some((d) => d.id === 'web-1'));
    const state = decodeDocSnapshot(live.docs[0]!.state);
    expect(materialize(orders, 'web-1', state)?.placedAt).toEqual(new Date('2024-05-01T10:00:00.000Z'));
    const { server: serverReplica } = device.received.find((m) => m.t === 'welcome') as { server: string };
    expect(state.regs.total?.t.endsWith(serverReplica)).toBe(true);

    expect(
      (await call('PATCH', '/v1/collections/orders/docs/web-1', { note: 'gift' })).body.doc,
    ).toMatchObject({
      note: 'gift',
    });
    expect(
      (await call('POST', '/v1/collections/orders/docs/web-1/increment', { field: 'qty', by: 3 })).body.doc,
    ).toMatchObject({ qty: 3 });
    await device.next('docs', (m) =>
      m.docs.some((d) => d.id === 'web-1' && decodeDocSnapshot(d.state).counters.qty?.value === 3),
    );
    expect((await call('GET', '/v1/collections/orders/docs/web-1')).body.doc).toMatchObject({
      note: 'gift',
      qty: 3,
    });

    const query = await call('POST', '/v1/collections/orders/query', {
      filter: { op: 'gte', field: 'placedAt', value: '2024-01-01T00:00:00Z' },
      sort: [{ field: 'total', dir: 'desc' }],
    });
    expect((query.body.docs as { id: string }[]).map((d) => d.id)).toEqual(['web-1']);

    expect((await call('DELETE', '/v1/collections/orders/docs/web-1')).status).toBe(200);
    const gone = await device.next('docs', (m) =>
      m.docs.some((d) => d.id === 'web-1' && decodeDocSnapshot(d.state).deleted),
    );
    expect(gone.docs).toHaveLength(1);
    expect((await call('GET', '/v1/collections/orders/docs/web-1')).status).toBe(404);
  });

  it('upserts with PUT and writes one path of an object with a dotted PATCH key, keeping the others', async () => {
    const put = await call('PUT', '/v1/collections/notes/docs/n-1', {
      text: 'Deliver',
      place: { city: 'Lyon', zip: '69001' },
    });
    expect(put).toMatchObject({ status: 200, body: { doc: { id: 'n-1', place: { city: 'Lyon' } } } });
    const again = await call('PUT', '/v1/collections/notes/docs/n-1', { text: 'Deliver today' });
    expect(again.body.doc).toEqual({
      id: 'n-1',
      text: 'Deliver today',
      place: { city: 'Lyon', zip: '69001' },
    });
    await call('PATCH', '/v1/collections/notes/docs/n-1', { 'place.city': 'Paris' });
    const patched = await call('PATCH', '/v1/collections/notes/docs/n-1', { 'place.zip': '75001' });
    expect(patched.body.doc).toEqual({
      id: 'n-1',
      text: 'Deliver today',
      place: { city: 'Paris', zip: '75001' },
    });
    const bad = await call('PATCH', '/v1/collections/notes/docs/n-1', { 'place.country': 'FR', 'text.x': 1 });
    expect(bad).toMatchObject({ status: 400, body: { code: 'validation_failed' } });
    expect(bad.body.problems).toHaveLength(2);
    expect(
      (await call('PUT', '/v1/collections/notes/docs/n-2', { place: { city: 'Nice' } })).body,
    ).toMatchObject({
      code: 'validation_failed',
      problems: [expect.stringContaining('text')],
    });
  });

  it('refuses bad requests with clear errors and stores nothing', async () => {
    const before = server.relay.version();
    const invalid = await call('POST', '/v1/collections/orders/docs', { storeId: 5, total: 'x', bogus: 1 });
    expect(invalid.status).toBe(400);
    expect(invalid.body.code).toBe('validation_failed');
    expect(invalid.body.problems).toEqual(
      expect.arrayContaining([
        expect.stringContaining('storeId'),
        expect.stringContaining('owner'),
        expect.stringContaining('total'),
        expect.stringContaining('bogus'),
      ]),
    );
    expect((await call('POST', '/v1/collections/orders/docs', '{not json')).body.code).toBe('bad_request');
    expect((await call('POST', '/v1/collections/orders/docs', [1, 2])).status).toBe(400);
    expect(
      (await call('POST', '/v1/collections/orders/docs', { storeId: 'a', owner: 'b', total: 1 }, null))
        .status,
    ).toBe(401);
    expect(
      (
        await call(
          'POST',
          '/v1/collections/orders/docs',
          { storeId: 'a', owner: 'b', total: 1 },
          'wrong-token',
        )
      ).status,
    ).toBe(401);
    expect((await call('GET', '/v1/collections/nope/docs/x')).status).toBe(404);
    expect((await call('PATCH', '/v1/collections/orders/docs/missing', { note: 'x' })).body.code).toBe(
      'not_found',
    );
    expect(
      (await call('POST', '/v1/collections/orders/docs/x/increment', { field: 'total', by: 1 })).status,
    ).toBe(400);
    expect((await call('POST', '/v1/collections/orders/query', { filter: { op: 'zz' } })).body.code).toBe(
      'query_invalid',
    );
    expect(server.relay.version()).toBe(before);
  });
});

describe('webhooks', () => {
  it('POSTs each committed change, signed, retrying after failures', async () => {
    await server.webhooksIdle();
    received.length = 0;
    failuresLeft = 2;
    const a = testDevice();
    const c = await connectClient(server.wsUrl);
    await c.hello({ replica: a.replica, token: await mintToken({ sub: 'boss', role: 'manager' }) });
    const { id, ops } = a.insert('orders', { storeId: 'hook', owner: 'boss', total: 7 });
    await c.push(1, ops);
    c.close();
    await server.webhooksIdle();
    expect(received).toHaveLength(1);
    const [delivery] = received;
    expect(delivery!.signature).toBe(signWebhookBody(HOOK_SECRET, delivery!.body));
    expect(JSON.parse(delivery!.body)).toMatchObject({
      collection: 'orders',
      source: 'device',
      changes: [{ id, deleted: false, doc: { id, total: 7 } }],
    });
  });
});

describe('health and metrics', () => {
  it('/healthz answers and /metrics exposes connections, ops, ack latency and refusals', async () => {
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    const viewer = testDevice();
    const c = await connectClient(server.wsUrl);
    await c.hello({ replica: viewer.replica, token: await mintToken({ sub: 'v', role: 'viewer' }) });
    await c.push(1, viewer.insert('orders', { storeId: 'm', owner: 'v', total: 1 }).ops);
    const text = await (await fetch(`${server.url}/metrics`)).text();
    c.close();
    expect(text).toMatch(/^loam_connections [1-9]\d*$/m);
    expect(text).toMatch(/^loam_ops_in_total [1-9]\d*$/m);
    expect(text).toMatch(/^loam_ack_latency_seconds_count [1-9]\d*$/m);
    expect(text).toMatch(/^loam_refusals_total\{code="insert_denied"\} 1$/m);
    expect(text).toMatch(/^loam_docs_out_total [1-9]\d*$/m);
  });
});
