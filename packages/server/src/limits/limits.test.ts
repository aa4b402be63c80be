import { request } from 'node:http';
import { encodeMessage, PROTOCOL_VERSION } from '@loam/sync';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { CONFIG_DEFAULTS } from '../config/config';
import type { LoamServer } from '../server';
import { mintToken, startTestServer, tempDir, testDevice } from '../testing/fixtures';
import { connectClient, type ProtocolClient } from '../testing/protocol-client';
import { parseLimits } from './limits';

const tmp = tempDir('loam-limits-');
const servers: LoamServer[] = [];
const clients: ProtocolClient[] = [];
afterEach(() => {
  for (const c of clients.splice(0)) c.close();
});
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  tmp.cleanup();
});

let n = 0;
async function serverWith(limits: Partial<typeof CONFIG_DEFAULTS.limits>): Promise<LoamServer> {
  const server = await startTestServer(`${tmp.dir}/${++n}`.replace(/\/(\d+)$/, '-$1'), {
    limits: { ...CONFIG_DEFAULTS.limits, frameBytes: 256 * 1024, ...limits },
  });
  servers.push(server);
  return server;
}
async function client(server: LoamServer): Promise<ProtocolClient> {
  const c = await connectClient(server.wsUrl);
  clients.push(c);
  return c;
}
async function signedIn(server: LoamServer, device = testDevice()) {
  const c = await client(server);
  await c.hello({ replica: device.replica, token: await mintToken({ sub: 'ann', role: 'manager' }) });
  return { c, device };
}
async function expectFatal(c: ProtocolClient, code: string) {
  expect(await c.next('error')).toMatchObject({ code, fatal: true });
  expect((await c.closed).code).toBe(1008);
}
/** The status and code of an upgrade the relay refuses (rejects if it is accepted). */
function upgradeRefusal(server: LoamServer): Promise<{ status: number; code: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${server.url}/sync`, {
      headers: {
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-version': '13',
        'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
      },
    });
    req.on('upgrade', (_res, socket) => {
      socket.destroy();
      reject(new Error('the upgrade was accepted'));
    });
    req.on('response', (res) => {
      let body = '';
      res.on('data', (d) => {
        body += d;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, code: JSON.parse(body).code }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** A frame of the current version whose body is an array nested `depth` deep. */
function nestedFrame(depth: number): Uint8Array {
  const frame = new Uint8Array(depth + 2).fill(0x91);
  frame[0] = PROTOCOL_VERSION;
  frame[depth + 1] = 0xc0;
  return frame;
}

describe('limits before hello', () => {
  it('a frame larger than the pre-hello limit is refused from its header (close 1009), though under the frame limit', async () => {
    const server = await serverWith({ preHelloFrameBytes: 2048 });
    const c = await client(server);
    c.sendRaw(new Uint8Array(4096).fill(1));
    expect((await c.closed).code).toBe(1009);
    const { c: signed } = await signedIn(server);
    signed.sendRaw(encodeMessage({ t: 'unsubscribe', id: 'x'.repeat(3000) }));
    expect(await signed.next('error')).toMatchObject({ code: 'frame_invalid' });
  });

  it('a frame nested deeper than the limit → frame_too_deep, and the relay keeps serving', async () => {
    const server = await serverWith({});
    const c = await client(server);
    c.sendRaw(nestedFrame(60_000));
    await expectFatal(c, 'frame_too_deep');
    const { c: other } = await signedIn(server);
    other.send({ t: 'ping' });
    await other.next('pong');
  });

  it('no hello within the handshake timeout → handshake_timeout', async () => {
    const server = await serverWith({ handshakeTimeoutMs: 300 });
    const c = await client(server);
    await expectFatal(c, 'handshake_timeout');
  });

  it('one address holds at most connectionsPerAddress connections; a closed one frees its place', async () => {
    const server = await serverWith({ connectionsPerAddress: 3 });
    const three = [await client(server), await client(server), await client(server)];
    expect(await upgradeRefusal(server)).toEqual({ status: 429, code: 'too_many_connections' });
    three[0]!.close();
    await three[0]!.closed;
    await expect
      .poll(async () => {
        try {
          (await client(server)).ws.readyState;
          return true;
        } catch {
          return false;
        }
      })
      .toBe(true);
  });

  it('an address opening connections faster than handshakesPerSecond is refused with 429 handshake_rate', async () => {
    const server = await serverWith({ handshakesPerSecond: 4 });
    const outcomes = await Promise.allSettled(Array.from({ length: 12 }, () => client(server)));
    const refused = outcomes.filter((o) => o.status === 'rejected');
    expect(refused.length).toBeGreaterThan(0);
    expect(outcomes.filter((o) => o.status === 'fulfilled').length).toBeGreaterThanOrEqual(4);
    expect(await upgradeRefusal(server)).toEqual({ status: 429, code: 'handshake_rate' });
  });
});

describe('limits after hello', () => {
  it('ops nested deeper than the limit inside a push → frame_too_deep; nothing is stored', async () => {
    const server = await serverWith({});
    const { c, device } = await signedIn(server);
    const before = server.relay.version();
    const ops = new Uint8Array(100_002).fill(0x91);
    ops[0] = 1;
    ops[100_001] = 0xc0;
    c.send({ t: 'push', batch: 1, ops });
    await expectFatal(c, 'frame_too_deep');
    const again = await signedIn(server, device);
    const { ops: good } = device.insert('orders', { storeId: 's1', owner: 'ann', total: 1 });
    expect((await again.c.push(1, good)).refused).toEqual([]);
    expect(server.relay.version()).toBe(before + 1);
  });

  it('a user whose connections keep sending refused frames may not sign in for the cooldown (too_many_bad_frames); others may', async () => {
    const server = await serverWith({ badFramesPerMinute: 2, badFrameCooldownMs: 60_000 });
    const bad = [nestedFrame(60_000), Uint8Array.of(PROTOCOL_VERSION, 0xc1), nestedFrame(60_000)];
    for (const frame of bad) {
      const { c } = await signedIn(server);
      c.sendRaw(frame);
      expect((await c.next('error')).fatal).toBe(true);
    }
    const refused = await client(server);
    await expect(
      refused.hello({
        replica: testDevice().replica,
        token: await mintToken({ sub: 'ann', role: 'manager' }),
      }),
    ).rejects.toMatchObject({ code: 'too_many_bad_frames' });
    expect((await refused.closed).code).toBe(1008);
    const other = await client(server);
    const bob = testDevice();
    await other.hello({ replica: bob.replica, token: await mintToken({ sub: 'bob', role: 'manager' }) });
    const { ops } = bob.insert('orders', { storeId: 's1', owner: 'bob', total: 1 });
    expect((await other.push(1, ops)).refused).toEqual([]);
  });

  it('a subscription past subscriptionsPerConnection is refused alone (too_many_subscriptions); the connection stays', async () => {
    const server = await serverWith({ subscriptionsPerConnection: 2 });
    const { c } = await signedIn(server);
    for (const id of ['a', 'b', 'c'])
      c.send({ t: 'subscribe', sub: { id, query: { collection: 'orders' } } });
    expect(await c.next('error')).toMatchObject({ code: 'too_many_subscriptions', fatal: false, sub: 'c' });
    await c.next('synced', (m) => m.sub === 'a');
    await c.next('synced', (m) => m.sub === 'b');
    c.send({ t: 'unsubscribe', id: 'a' });
    c.send({ t: 'subscribe', sub: { id: 'c', query: { collection: 'orders' } } });
    await c.next('synced', (m) => m.sub === 'c');
  });

  it('a malformed collection name refuses that subscription only (subscription_invalid), in hello or later', async () => {
    const server = await serverWith({});
    const c = await client(server);
    await c.hello({
      replica: testDevice().replica,
      token: await mintToken({ sub: 'ann', role: 'manager' }),
      subs: [
        { id: 'bad', query: { collection: 'no such/name!' } },
        { id: 'good', query: { collection: 'orders' } },
      ],
    });
    expect(await c.next('error')).toMatchObject({ code: 'subscription_invalid', fatal: false, sub: 'bad' });
    await c.next('synced', (m) => m.sub === 'good');
    c.send({ t: 'subscribe', sub: { id: 'worse', query: { collection: '9' } } });
    expect(await c.next('error')).toMatchObject({ code: 'subscription_invalid', fatal: false, sub: 'worse' });
    c.send({ t: 'ping' });
    await c.next('pong');
    expect(c.ws.readyState).toBe(c.ws.OPEN);
  });

  it('every frame decodes through the depth limit: a hello with a filter nested past it → frame_too_deep', async () => {
    const server = await serverWith({});
    const c = await client(server);
    let filter: unknown = { op: 'true' };
    for (let i = 0; i < 80; i++) filter = { op: 'not', filter };
    c.sendRaw(
      encodeMessage({
        t: 'hello',
        protocol: PROTOCOL_VERSION,
        replica: testDevice().replica,
        token: null,
        schemaVersion: 1,
        cursor: 0,
        subs: [{ id: 's', query: { collection: 'orders', filter: filter as never } }],
      }),
    );
    await expectFatal(c, 'frame_too_deep');
  });
});

describe('limits configuration', () => {
  it('fills defaults, names the key at fault, and keeps the pre-hello limit under the frame limit', () => {
    expect(parseLimits({})).toEqual(CONFIG_DEFAULTS.limits);
    expect(() => parseLimits({ handshakesPerSecond: 0 })).toThrow(/limits\.handshakesPerSecond/);
    expect(() => parseLimits({ subscriptions: 3 })).toThrow(/limits\.subscriptions.*unknown key/);
    expect(() => parseLimits({ frameBytes: 4096, preHelloFrameBytes: 8192 })).toThrow(
      /limits\.preHelloFrameBytes/,
    );
  });
});
