import {
  applyOp,
  createDocState,
  type DocId,
  decodeDocSnapshot,
  isPackedDocState,
  materialize,
  mergeDocState,
  readDocSnapshot,
} from '@loam/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LoamServer, startServer } from './server';
import { mintToken, startTestServer, tempDir, testConfig, testDevice, testSchema } from './testing/fixtures';
import { connectClient, type ProtocolClient } from './testing/protocol-client';

const orders = testSchema.collections.orders;
const tmp = tempDir('loam-server-');
let server: LoamServer;
const open: ProtocolClient[] = [];

beforeAll(async () => {
  server = await startTestServer(tmp.dir);
});
afterAll(async () => {
  for (const c of open) c.close();
  await server.close();
  tmp.cleanup();
});

async function client(url = server.wsUrl) {
  const c = await connectClient(url);
  open.push(c);
  return c;
}

function decoded(frame: { docs: readonly { id: string; state: Uint8Array }[] }) {
  return frame.docs.map((d) => materialize(orders, d.id, decodeDocSnapshot(d.state)));
}

describe('handshake', () => {
  it('welcomes a signed-in device with the server replica, cursor and user', async () => {
    const c = await client();
    const device = testDevice();
    const welcome = await c.hello({
      replica: device.replica,
      token: await mintToken({ sub: 'ann', role: 'manager' }),
    });
    expect(welcome).toMatchObject({ t: 'welcome', protocol: 1, reset: false, user: 'ann' });
    expect(welcome.server).toMatch(/^[0-9a-z]{16}$/);
    c.send({ t: 'ping' });
    await c.next('pong');
  });

  it('refuses a schema version the server does not have, with a clear error', async () => {
    const c = await client();
    const token = await mintToken({ sub: 'ann', role: 'manager' });
    await expect(c.hello({ replica: testDevice().replica, token, schemaVersion: 2 })).rejects.toMatchObject({
      code: 'schema_mismatch',
    });
    expect((await c.closed).code).toBe(1008);
  });

  it('tells a device how far its op ids went, and never acknowledges an op id it holds with other content', async () => {
    const device = testDevice();
    const token = await mintToken({ sub: 'ann', role: 'manager' });
    const first = await client();
    expect((await first.hello({ replica: device.replica, token })).replicaSeq).toBe(0);
    const { id, ops } = device.insert('orders', { storeId: 's1', owner: 'ann', total: 5 });
    const inc = device.increment('orders', id, 'qty', 2);
    expect((await first.push(1, [...ops, ...inc])).accepted).toHaveLength(2);
    first.close();

    const again = await client();
    expect((await again.hello({ replica: device.replica, token })).replicaSeq).toBe(2);
    const reused = { ...inc[0]!, by: 9 } as (typeof inc)[number];
    const other = device.insert('orders', { storeId: 's1', owner: 'ann', total: 1 });
    const ack = await again.push(2, [...ops, reused, ...other.ops]);
    expect(ack.accepted).toEqual([ops[0]!.id]);
    expect(ack.refused).toMatchObject([{ op: reused.id, doc: id, code: 'op_id_reused' }]);
    // The document's authoritative state rides in the ack that refused the op (`corrections`).
    const authoritative = ack.corrections ?? { docs: [] };
    expect(authoritative.docs.map((d) => [d.id, d.mode])).toEqual([[id, 'replace']]);
    expect(decoded(authoritative)[0]?.qty).toBe(2);
    expect(await server.store.getDoc('orders', other.id)).toBeUndefined();
  });

  it('signs in anonymously when the server allows it', async () => {
    const c = await client();
    const device = testDevice();
    const welcome = await c.hello({ replica: device.replica, token: null });
    expect(welcome.user).toBe(`anon:${device.replica}`);
  });
});

describe('upload and download', () => {
  it('acknowledges a batch and streams it to a subscribed device, then live changes', async () => {
    const writer = await client();
    const reader = await client();
    const a = testDevice();
    const b = testDevice();
    const token = await mintToken({ sub: 'mgr', role: 'manager' });
    await writer.hello({ replica: a.replica, token });
    const { id, ops } = a.insert('orders', { storeId: 's-live', owner: 'mgr', total: 10 });
    const ack = await writer.push(1, ops);
    expect(ack.accepted).toEqual(ops.map((o) => o.id));
    expect(ack.refused).toEqual([]);

    await reader.hello({
      replica: b.replica,
      token,
      subs: [
        {
          id: 'live',
          query: { collection: 'orders', filter: { op: 'eq', field: 'storeId', value: 's-live' } },
        },
      ],
    });
    const first = await reader.next('docs', (m) => m.sub === 'live');
    expect(decoded(first)).toEqual([expect.objectContaining({ id, total: 10 })]);
    expect(first.progress).toEqual({ sent: 1, total: 1 });
    const synced = await reader.next('synced');
    expect(synced.sub).toBe('live');

    await writer.push(2, a.update('orders', id, { total: 12 }));
    const live = await reader.next('docs', (m) => m.sub === undefined && m.docs.length > 0);
    expect(decoded(live)).toEqual([expect.objectContaining({ id, total: 12 })]);
    expect(live.cursor).toBeGreaterThan(synced.cursor);

    await writer.push(3, a.update('orders', id, { storeId: 's-elsewhere' }));
    const left = await reader.next('docs', (m) => m.removed.length > 0);
    expect(left.removed).toEqual([{ collection: 'orders', id }]);
  });

  it('sends snapshots in the newest format a client announced, and format 1 to a client that announced none', async () => {
    const writer = await client();
    const a = testDevice();
    const token = await mintToken({ sub: 'mgr', role: 'manager' });
    await writer.hello({ replica: a.replica, token });
    const { id, ops } = a.insert('orders', { storeId: 's-format', owner: 'mgr', total: 7 });
    await writer.push(1, ops);
    const sub = {
      id: 'f',
      query: { collection: 'orders', filter: { op: 'eq', field: 'storeId', value: 's-format' } },
    } as const;
    const formats: number[] = [];
    const format = (bytes: Uint8Array) => (isPackedDocState(readDocSnapshot(bytes)) ? 2 : 1);
    // Two readers of the same view, so a fan-out frame cached for one would reach the other.
    const readers = [await client(), await client()];
    for (const [i, announced] of [undefined, 2].entries()) {
      const reader = readers[i]!;
      await reader.hello({
        replica: testDevice().replica,
        token,
        subs: [sub],
        ...(announced ? { snapshots: announced } : {}),
      });
      const first = await reader.next('docs', (m) => m.sub === 'f');
      expect(decoded(first)).toEqual([expect.objectContaining({ id, total: 7 })]);
      formats.push(format(first.docs[0]!.state));
      await reader.next('synced');
    }
    await writer.push(2, a.update('orders', id, { total: 8 }));
    for (const reader of readers) {
      const live = await reader.next('docs', (m) => m.sub === undefined && m.docs.length > 0);
      expect(decoded(live)).toEqual([expect.objectContaining({ id, total: 8 })]);
      formats.push(format(live.docs[0]!.state));
    }
    expect(formats).toEqual([1, 2, 1, 2]);
  });

  it('acknowledges a re-sent batch without applying it twice', async () => {
    const c = await client();
    const a = testDevice();
    await c.hello({ replica: a.replica, token: await mintToken({ sub: 'mgr', role: 'manager' }) });
    const { id, ops } = a.insert('orders', { storeId: 's-dup', owner: 'mgr', total: 1 });
    const inc = a.increment('orders', id, 'qty', 5);
    await c.push(1, [...ops, ...inc]);
    const again = await c.push(2, inc);
    expect(again.accepted).toEqual([inc[0]!.id]);
    const stored = await server.store.getDoc('orders', id);
    expect(materialize(orders, id, stored!.state)?.qty).toBe(5);
  });

  it('resumes from a cursor: changed docs in view, removals for docs that left, tombstones for deletes', async () => {
    const w = await client();
    const a = testDevice();
    const token = await mintToken({ sub: 'mgr', role: 'manager' });
    await w.hello({ replica: a.replica, token });
    const x = a.insert('orders', { storeId: 's-res', owner: 'mgr', total: 1 });
    const y = a.insert('orders', { storeId: 's-res', owner: 'mgr', total: 2 });
    const z = a.insert('orders', { storeId: 's-res', owner: 'mgr', total: 3 });
    await w.push(1, [...x.ops, ...y.ops, ...z.ops]);
    const sub = {
      id: 's',
      query: { collection: 'orders', filter: { op: 'eq', field: 'storeId', value: 's-res' } },
    } as const;
    const r1 = await client();
    const b = testDevice();
    await r1.hello({ replica: b.replica, token, subs: [sub] });
    const { cursor } = await r1.next('synced');
    r1.close();

    await w.push(2, a.update('orders', x.id, { total: 10 }));
    await w.push(3, a.update('orders', y.id, { storeId: 's-gone' }));
    await w.push(4, a.delete('orders', z.id));

    const r2 = await client();
    const welcome = await r2.hello({ replica: b.replica, token, cursor, subs: [sub] });
    expect(welcome.reset).toBe(false);
    const frames = [];
    await r2.next('synced');
    for (const m of r2.received) if (m.t === 'docs') frames.push(m);
    const docs = frames.flatMap((f) => f.docs.map((d) => ({ id: d.id, state: decodeDocSnapshot(d.state) })));
    const removed = frames.flatMap((f) => f.removed.map((r) => r.id));
    expect(docs.find((d) => d.id === x.id)?.state.regs.total?.v).toBe(10);
    expect(docs.find((d) => d.id === z.id)?.state.deleted).toBe(true);
    expect(removed).toContain(y.id);
    expect(docs.map((d) => d.id)).not.toContain(y.id);
  });

  it('sends the tombstone to a device whose create lost to a delete it never saw, before the ack', async () => {
    const token = await mintToken({ sub: 'mgr', role: 'manager' });
    const a = testDevice();
    const b = testDevice();
    const ca = await client();
    await ca.hello({ replica: a.replica, token });
    const made = a.insert('orders', { id: 'lost-create', storeId: 's-lost', owner: 'mgr', total: 1 });
    await ca.push(1, [...made.ops, ...a.delete('orders', made.id)]);

    // b never heard of that incarnation: its own create of the same id is concurrent with the delete and loses.
    const cb = await client();
    await cb.hello({ replica: b.replica, token });
    const mine = b.insert('orders', { id: 'lost-create', storeId: 's-lost', owner: 'mgr', total: 2 });
    const ack = await cb.push(1, mine.ops);
    expect(ack.accepted).toEqual(mine.ops.map((o) => o.id));
    const frames = cb.received.filter((m) => m.t === 'docs' || m.t === 'ack').map((m) => m.t);
    expect(frames).toEqual(['docs', 'ack']);
    const tombstone = (await cb.next('docs')).docs[0]!;
    expect(tombstone).toMatchObject({ id: 'lost-create', mode: 'merge' });
    const onB = createDocState();
    for (const op of mine.ops) applyOp(orders, onB, op);
    mergeDocState(onB, decodeDocSnapshot(tombstone.state));
    expect(materialize(orders, mine.id, onB)).toBeUndefined();
  });

  it('sends the tombstone of its incarnation to a device whose create lost to a later incarnation', async () => {
    const token = await mintToken({ sub: 'mgr', role: 'manager' });
    const a = testDevice();
    const b = testDevice();
    const ca = await client();
    await ca.hello({ replica: a.replica, token });
    const made = a.insert('orders', { id: 'lost-again', storeId: 's-lost', owner: 'mgr', total: 1 });
    await ca.push(1, [...made.ops, ...a.delete('orders', made.id)]);
    const again = a.insert('orders', { id: 'lost-again', storeId: 's-lost', owner: 'mgr', total: 3 });
    await ca.push(2, again.ops);

    // b (not subscribed: no commit reaches it) creates the id in the first incarnation; a later one lives.
    const cb = await client();
    await cb.hello({ replica: b.replica, token });
    const mine = b.insert('orders', { id: 'lost-again', storeId: 's-lost', owner: 'mgr', total: 2 });
    const ack = await cb.push(1, mine.ops);
    expect(ack.accepted).toEqual(mine.ops.map((o) => o.id));
    const tombstone = (await cb.next('docs')).docs[0]!;
    const onB = createDocState();
    for (const op of mine.ops) applyOp(orders, onB, op);
    mergeDocState(onB, decodeDocSnapshot(tombstone.state));
    expect(materialize(orders, mine.id, onB)).toBeUndefined();
    // The live incarnation still wins over the tombstone when b later downloads it.
    const live = await server.store.getDoc('orders', 'lost-again');
    mergeDocState(onB, live!.state);
    expect(materialize(orders, mine.id, onB)).toMatchObject({ total: 3 });
  });

  it('sends the tombstone to a device whose write lost to a delete it never saw, before the ack', async () => {
    const token = await mintToken({ sub: 'mgr', role: 'manager' });
    const a = testDevice();
    const b = testDevice();
    const ca = await client();
    await ca.hello({ replica: a.replica, token });
    const made = a.insert('orders', { id: 'lost-write', storeId: 's-lost', owner: 'mgr', total: 1 });
    await ca.push(1, made.ops);
    b.receive(made.ops);
    await ca.push(2, a.delete('orders', made.id));

    // b held the document, missed the delete (away, or not subscribed), and wrote to it: accepted, changing nothing.
    const cb = await client();
    await cb.hello({ replica: b.replica, token });
    const write = b.update('orders', made.id, { total: 5 });
    const ack = await cb.push(1, write);
    expect(ack.accepted).toEqual(write.map((o) => o.id));
    expect(cb.received.filter((m) => m.t === 'docs' || m.t === 'ack').map((m) => m.t)).toEqual([
      'docs',
      'ack',
    ]);
    const tombstone = (await cb.next('docs')).docs[0]!;
    expect(tombstone).toMatchObject({ id: 'lost-write', mode: 'merge' });
    const onB = createDocState();
    for (const op of [...made.ops, ...write]) applyOp(orders, onB, op);
    mergeDocState(onB, decodeDocSnapshot(tombstone.state));
    expect(materialize(orders, made.id, onB)).toBeUndefined();
  });

  it('resets a device whose cursor is ahead of the server (a restored backup) and resends in replace mode', async () => {
    const c = await client();
    const a = testDevice();
    const token = await mintToken({ sub: 'mgr', role: 'manager' });
    await c.hello({ replica: a.replica, token });
    await c.push(1, a.insert('orders', { storeId: 's-reset', owner: 'mgr', total: 1 }).ops);
    const r = await client();
    const welcome = await r.hello({
      replica: testDevice().replica,
      token,
      cursor: 1_000_000,
      subs: [
        {
          id: 'r',
          query: { collection: 'orders', filter: { op: 'eq', field: 'storeId', value: 's-reset' } },
        },
      ],
    });
    expect(welcome.reset).toBe(true);
    const frame = await r.next('docs', (m) => m.sub === 'r');
    expect(frame.docs.map((d) => d.mode)).toEqual(['replace']);
  });
});

describe('durability', () => {
  it('keeps acknowledged data across a restart of the server on the same file', async () => {
    const local = tempDir('loam-server-restart-');
    const config = await testConfig(`${local.dir}/server.db`);
    const first = await startServer({ config });
    const a = testDevice();
    const token = await mintToken({ sub: 'mgr', role: 'manager' });
    const c = await connectClient(first.wsUrl);
    await c.hello({ replica: a.replica, token });
    const { id, ops } = a.insert('orders', { storeId: 's-d', owner: 'mgr', total: 42 });
    await c.push(1, ops);
    const { replica } = await first.store.meta();
    await first.close();

    const second = await startServer({ config });
    try {
      expect((await second.store.meta()).replica).toBe(replica);
      const r = await connectClient(second.wsUrl);
      await r.hello({
        replica: testDevice().replica,
        token,
        subs: [{ id: 'd', query: { collection: 'orders' } }],
      });
      const frame = await r.next('docs', (m) => m.sub === 'd');
      expect(decoded(frame)).toEqual([expect.objectContaining({ id: id as DocId, total: 42 })]);
      r.close();
    } finally {
      await second.close();
      local.cleanup();
    }
  });
});
