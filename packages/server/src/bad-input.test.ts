import { type DocId, encodeOps, type Op } from '@loam/core';
import { encodeMessage, PROTOCOL_VERSION } from '@loam/sync';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONFIG_DEFAULTS } from './config/config';
import type { LoamServer } from './server';
import {
  AUDIENCE,
  ISSUER,
  mintToken,
  startTestServer,
  tempDir,
  testDevice,
  testKeys,
} from './testing/fixtures';
import { connectClient, type ProtocolClient } from './testing/protocol-client';

const tmp = tempDir('loam-bad-');
let server: LoamServer;
let strict: LoamServer;
const open: ProtocolClient[] = [];
const good = testDevice();
let goodClient: ProtocolClient;
let watcher: ProtocolClient;
let batch = 0;

beforeAll(async () => {
  server = await startTestServer(tmp.dir);
  const strictDir = tempDir('loam-bad-strict-');
  strict = await startTestServer(strictDir.dir, {
    auth: {
      publicKeys: [{ kid: 'rs1', alg: 'RS256', pem: (await testKeys()).publicPem }],
      issuer: ISSUER,
      audience: AUDIENCE,
      anonymous: false,
    },
    limits: { ...CONFIG_DEFAULTS.limits, frameBytes: 256 * 1024, opsPerBatch: 500, connectionsPerUser: 2 },
  });
  const token = await mintToken({ sub: 'boss', role: 'manager' });
  goodClient = await connectClient(server.wsUrl);
  await goodClient.hello({ replica: good.replica, token });
  watcher = await connectClient(server.wsUrl);
  await watcher.hello({
    replica: testDevice().replica,
    token,
    subs: [{ id: 'all', query: { collection: 'orders' } }],
  });
  await watcher.next('synced');
});
afterAll(async () => {
  for (const c of [...open, goodClient, watcher]) c.close();
  await server.close();
  await strict.close();
  tmp.cleanup();
});

async function client(url = server.wsUrl, origin?: string) {
  const c = await connectClient(url, origin === undefined ? {} : { origin });
  open.push(c);
  return c;
}

/**
 * Runs `bad`, then has a well-behaved device write a marker: the watcher's next download must be the marker alone
 * and the server's version must have moved by exactly that one batch (nothing of the bad input was stored or
 * forwarded, and the other clients still work).
 */
async function expectNothingStoredOrForwarded(bad: () => Promise<void>) {
  const before = server.relay.version();
  const mark = watcher.received.length;
  await bad();
  const { id, ops } = good.insert('orders', { storeId: 'marker', owner: 'boss', total: 1 });
  expect((await goodClient.push(++batch, ops)).refused).toEqual([]);
  await watcher.next('docs', (m) => m.docs.some((d) => d.id === id));
  const since = watcher.received.slice(mark).filter((m) => m.t === 'docs');
  expect(since.flatMap((m) => (m.t === 'docs' ? m.docs.map((d) => d.id) : []))).toEqual([id]);
  expect(server.relay.version()).toBe(before + 1);
}

async function expectFatal(c: ProtocolClient, code: string) {
  const error = await c.next('error');
  expect(error).toMatchObject({ code, fatal: true });
  expect(error.message.length).toBeGreaterThan(10);
  expect((await c.closed).code).toBe(1008);
}

async function signedIn(token?: string) {
  const c = await client();
  const device = testDevice();
  await c.hello({
    replica: device.replica,
    token: token ?? (await mintToken({ sub: 'mallory', role: 'manager' })),
  });
  return { c, device };
}

const hello = (token: string | null, replica = testDevice().replica) =>
  encodeMessage({
    t: 'hello',
    protocol: PROTOCOL_VERSION,
    replica,
    token,
    schemaVersion: 1,
    cursor: 0,
    subs: [],
  });

describe('malformed frames', () => {
  const cases: [string, () => Uint8Array | string, string][] = [
    ['garbage bytes', () => new Uint8Array([PROTOCOL_VERSION, 0xc1, 0xff, 0x00, 0x13]), 'frame_invalid'],
    ['a truncated hello', () => hello(null).subarray(0, 20), 'frame_invalid'],
    ['an empty frame', () => new Uint8Array(0), 'frame_invalid'],
    ['a frame of another protocol version', () => new Uint8Array([9, 0x80]), 'protocol_version'],
    ['an unknown message type', () => encodeMessage({ t: 'gimme' } as never), 'frame_invalid'],
    ['a text frame', () => 'hello', 'frame_invalid'],
    [
      'a push before hello',
      () => encodeMessage({ t: 'push', batch: 1, ops: encodeOps([]) }),
      'protocol_order',
    ],
  ];
  it('an oversized frame → the socket is closed with 1009 (message too big) from the frame header', async () => {
    await expectNothingStoredOrForwarded(async () => {
      const c = await client();
      c.sendRaw(new Uint8Array(300 * 1024).fill(1));
      expect((await c.closed).code).toBe(1009);
    });
  });
  for (const [name, frame, code] of cases) {
    it(`${name} → ${code}`, async () => {
      await expectNothingStoredOrForwarded(async () => {
        const c = await client();
        c.sendRaw(frame());
        await expectFatal(c, code);
      });
    });
  }

  it('a push whose ops do not decode → frame_invalid', async () => {
    await expectNothingStoredOrForwarded(async () => {
      const { c } = await signedIn();
      c.send({ t: 'push', batch: 1, ops: new Uint8Array([1, 0x91, 0x93, 0, 1]) });
      await expectFatal(c, 'frame_invalid');
    });
  });

  it('a batch over the ops limit → limit_exceeded', async () => {
    await expectNothingStoredOrForwarded(async () => {
      const { c, device } = await signedIn();
      const { id, ops } = device.insert('orders', { storeId: 'big', owner: 'm', total: 0 });
      const many: Op[] = [...ops];
      for (let i = 0; i < 501; i++) many.push(...device.increment('orders', id, 'qty', 1));
      c.send({ t: 'push', batch: 1, ops: encodeOps(many) });
      await expectFatal(c, 'limit_exceeded');
    });
  });

  it('a subscription sorted on a hidden field does not parse (subscriptions carry no sort) → frame_invalid', async () => {
    const { c } = await signedIn(await mintToken({ sub: 'cl', role: 'clerk', storeId: 's' }));
    c.sendRaw(
      encodeMessage({
        t: 'subscribe',
        sub: { id: 's', query: { collection: 'orders', sort: [{ field: 'margin', dir: 'asc' }] } },
      } as never),
    );
    await expectFatal(c, 'frame_invalid');
  });
});

describe('tokens', () => {
  const none = () => {
    const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const now = Math.floor(Date.now() / 1000);
    return `${b64({ alg: 'none' })}.${b64({ sub: 'mallory', role: 'manager', iss: ISSUER, aud: AUDIENCE, exp: now + 600 })}.`;
  };
  const hsWithPublicKey = async () => {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ sub: 'mallory', role: 'manager' })
      .setProtectedHeader({ alg: 'HS256', kid: 'rs1' })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setExpirationTime(now + 600)
      .sign(new TextEncoder().encode((await testKeys()).publicPem));
  };
  const cases: [string, () => Promise<string | null>, string, 'server' | 'strict'][] = [
    ['no token while anonymous sign-in is off', async () => null, 'auth_required', 'strict'],
    ['alg: none', async () => none(), 'auth_invalid', 'server'],
    ['HS256 signed with the RS256 public key (HS256 not allowed)', hsWithPublicKey, 'auth_invalid', 'strict'],
    ['HS256 signed with the RS256 public key (HS256 allowed)', hsWithPublicKey, 'auth_invalid', 'server'],
    [
      'an expired token',
      () => mintToken({ sub: 'm', role: 'manager' }, { expiresIn: -60 }),
      'auth_expired',
      'server',
    ],
    [
      'a wrong audience',
      () => mintToken({ sub: 'm', role: 'manager' }, { audience: 'other' }),
      'auth_invalid',
      'server',
    ],
    [
      'a wrong issuer',
      () => mintToken({ sub: 'm', role: 'manager' }, { issuer: 'https://evil' }),
      'auth_invalid',
      'server',
    ],
    [
      'an unknown kid',
      () => mintToken({ sub: 'm', role: 'manager' }, { kid: 'nope' }),
      'auth_invalid',
      'server',
    ],
    ['not a JWT at all', async () => 'abc.def', 'auth_invalid', 'server'],
  ];
  for (const [name, token, code, which] of cases) {
    it(`${name} → ${code}`, async () => {
      await expectNothingStoredOrForwarded(async () => {
        const c = await client(which === 'strict' ? strict.wsUrl : server.wsUrl);
        c.sendRaw(hello(await token()));
        await expectFatal(c, code);
      });
    });
  }

  it('an RS256 token with its kid is accepted by the strict server', async () => {
    const c = await client(strict.wsUrl);
    const welcome = await c.hello({ replica: testDevice().replica, token: await mintToken({ sub: 'ok' }) });
    expect(welcome.user).toBe('ok');
  });

  it('a replica id bound to another user → replica_mismatch', async () => {
    const c = await client();
    c.sendRaw(hello(await mintToken({ sub: 'someone-else', role: 'manager' }), good.replica));
    await expectFatal(c, 'replica_mismatch');
  });

  it('more connections than the per-user limit → limit_exceeded', async () => {
    const token = await mintToken({ sub: 'busy' });
    await (await client(strict.wsUrl)).hello({ replica: testDevice().replica, token });
    await (await client(strict.wsUrl)).hello({ replica: testDevice().replica, token });
    const third = await client(strict.wsUrl);
    third.sendRaw(hello(token));
    await expectFatal(third, 'limit_exceeded');
  });
});

describe('origin', () => {
  it('refuses the upgrade from an Origin that is not allowed, accepts an allowed one', async () => {
    await expect(client(server.wsUrl, 'https://evil.example')).rejects.toThrow(/HTTP 403/);
    const ok = await client(server.wsUrl, 'https://app.loam.test');
    await ok.hello({ replica: testDevice().replica, token: null });
  });
});

describe('refused ops', () => {
  const refusedWith = async (code: string, make: (device: ReturnType<typeof testDevice>) => Op[]) => {
    await expectNothingStoredOrForwarded(async () => {
      const { c, device } = await signedIn();
      const ops = make(device);
      const ack = await c.push(1, ops);
      expect(ack.accepted).toEqual([]);
      expect(ack.refused.map((r) => r.code)).toEqual(ops.map(() => code));
      expect(ack.corrections?.docs.length ?? 0).toBe(0);
      expect(ack.corrections?.removed.map((r) => r.id)).toEqual(ops.map((op) => op.doc));
    });
  };
  const insert = (d: ReturnType<typeof testDevice>) =>
    d.insert('orders', { storeId: 'bad', owner: 'm', total: 1 }).ops[0] as Op & { kind: 'create' };

  it('a value that breaks the schema → schema_invalid', async () => {
    await refusedWith('schema_invalid', (d) => {
      const op = insert(d);
      return [{ ...op, values: { ...op.values, total: 'lots' } }];
    });
  });
  it('a field the schema does not have → schema_invalid', async () => {
    await refusedWith('schema_invalid', (d) => {
      const op = insert(d);
      return [{ ...op, values: { ...op.values, admin: true } }];
    });
  });
  it('clearing a required field → schema_invalid', async () => {
    await refusedWith('schema_invalid', (d) => {
      const op = insert(d);
      return [{ ...op, kind: 'set', path: 'total', value: null } as unknown as Op];
    });
  });
  it('an op claiming another replica → replica_mismatch', async () => {
    await refusedWith('replica_mismatch', () => [insert(good)]);
  });
  it('a timestamp beyond the skew bound → clock_skew', async () => {
    await expectNothingStoredOrForwarded(async () => {
      const { c } = await signedIn();
      const skewed = testDevice(() => Date.now() + 10 * 60_000);
      const c2 = await client();
      await c2.hello({
        replica: skewed.replica,
        token: await mintToken({ sub: 'mallory', role: 'manager' }),
      });
      const ack = await c2.push(1, [insert(skewed)]);
      expect(ack.refused.map((r) => r.code)).toEqual(['clock_skew']);
      c.close();
    });
  });
  it('a write to a document that does not exist → row_denied', async () => {
    await refusedWith('row_denied', (d) => {
      const op = insert(d);
      return [{ ...op, kind: 'set', path: 'note', value: 'x', doc: 'no-such-doc' as DocId } as unknown as Op];
    });
  });
});
