import {
  type DocId,
  type DocState,
  decodeDocSnapshot,
  type MaterializedDoc,
  materialize,
  type Op,
} from '@loam/core';
import type { ServerMessage } from '@loam/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LoamServer } from './server';
import { mintToken, startTestServer, tempDir, testDevice, testSchema } from './testing/fixtures';
import { connectClient, type ProtocolClient } from './testing/protocol-client';

const orders = testSchema.collections.orders;
const tmp = tempDir('loam-perm-');
let server: LoamServer;
const open: ProtocolClient[] = [];
const manager = testDevice();
let mgr: ProtocolClient;
let mgrBatch = 0;

beforeAll(async () => {
  server = await startTestServer(tmp.dir);
  mgr = await connect({ sub: 'boss', role: 'manager' }, manager.replica);
});
afterAll(async () => {
  for (const c of open) c.close();
  await server.close();
  tmp.cleanup();
});

async function connect(
  claims: Record<string, unknown>,
  replica = testDevice().replica,
  subs: Parameters<ProtocolClient['hello']>[0]['subs'] = [],
) {
  const c = await connectClient(server.wsUrl);
  open.push(c);
  await c.hello({ replica, token: await mintToken(claims), subs });
  return c;
}

const seeded = new Map<string, Op[]>();

/** The manager creates an order and waits for its ack. */
async function seed(doc: Record<string, unknown>): Promise<DocId> {
  const { id, ops } = manager.insert('orders', { owner: 'boss', total: 1, ...doc });
  const ack = await mgr.push(++mgrBatch, ops);
  expect(ack.refused).toEqual([]);
  seeded.set(id, ops);
  return id;
}

/** A clerk's device that knows the seeded documents `ids` (as if it had synced them). */
function deviceKnowing(...ids: DocId[]) {
  const d = testDevice();
  for (const id of ids) d.receive(seeded.get(id) ?? []);
  return d;
}

function snapshots(c: ProtocolClient): { id: string; state: DocState; mode: string }[] {
  return c.received
    .filter((m): m is ServerMessage & { t: 'docs' } => m.t === 'docs')
    .flatMap((m) => m.docs.map((d) => ({ id: d.id, state: decodeDocSnapshot(d.state), mode: d.mode })));
}

function docsOf(c: ProtocolClient): MaterializedDoc[] {
  return snapshots(c)
    .map((s) => materialize(orders, s.id, s.state))
    .filter((d): d is MaterializedDoc => d !== undefined);
}

/** A device whose own op was refused: its ack, and the compensating states the ack carries. */
async function refusedPush(c: ProtocolClient, batch: number, ops: Op[]) {
  const ack = await c.push(batch, ops);
  const compensation = ack.corrections ?? { docs: [], removed: [] };
  return { ack, compensation };
}

describe('row read filter', () => {
  it('a clerk downloads only the orders of their store, live changes included', async () => {
    const mine = await seed({ storeId: 'r1', note: 'mine' });
    const other = await seed({ storeId: 'r2', note: 'other' });
    const clerk = await connect({ sub: 'cara', role: 'clerk', storeId: 'r1' }, undefined, [
      { id: 'all', query: { collection: 'orders' } },
    ]);
    await clerk.next('synced');
    const ids = docsOf(clerk).map((d) => d.id);
    expect(ids).toContain(mine);
    expect(ids).not.toContain(other);

    const later = await seed({ storeId: 'r2', note: 'later other' });
    const marker = await seed({ storeId: 'r1', note: 'marker' });
    await clerk.next('docs', (m) => m.docs.some((d) => d.id === marker));
    const all = snapshots(clerk).map((s) => s.id);
    expect(all).not.toContain(later);
    expect(all).not.toContain(other);
  });
});

describe('field read', () => {
  it('a field the role may not read appears in no frame, and subscriptions may not filter on it', async () => {
    const id = await seed({ storeId: 'f1', margin: 0.4, pin: '1234' });
    const clerk = await connect({ sub: 'fred', role: 'clerk', storeId: 'f1' }, undefined, [
      { id: 'f', query: { collection: 'orders', filter: { op: 'eq', field: 'storeId', value: 'f1' } } },
    ]);
    await clerk.next('synced');
    const seen = snapshots(clerk).find((s) => s.id === id);
    expect(seen?.state.regs.total).toBeDefined();
    expect(seen?.state.regs.margin).toBeUndefined();
    expect(seen?.state.regs.pin).toBeUndefined();

    for (const filter of [
      { op: 'gt', field: 'margin', value: 0.3 },
      {
        op: 'or',
        filters: [
          { op: 'eq', field: 'storeId', value: 'f1' },
          { op: 'gt', field: 'margin', value: 0.3 },
        ],
      },
      { op: 'not', filter: { op: 'lt', field: 'margin', value: 0.3 } },
    ] as const) {
      const sub = `m-${filter.op}`;
      clerk.send({ t: 'subscribe', sub: { id: sub, query: { collection: 'orders', filter } } });
      const error = await clerk.next('error', (m) => m.sub === sub);
      expect(error).toMatchObject({ code: 'subscription_denied', fatal: false });
    }

    await mgr.push(++mgrBatch, manager.update('orders', id, { margin: 0.6, note: 'changed' }));
    const live = await clerk.next('docs', (m) => m.docs.some((d) => d.id === id) && m.sub === undefined);
    const state = decodeDocSnapshot(live.docs.find((d) => d.id === id)!.state);
    expect(state.regs.note?.v).toBe('changed');
    expect(state.regs.margin).toBeUndefined();
  });

  it('a write-only field can be written but is never sent back', async () => {
    const cara = testDevice();
    const clerk = await connect({ sub: 'wanda', role: 'clerk', storeId: 'w1' }, cara.replica, [
      { id: 'w', query: { collection: 'orders', filter: { op: 'eq', field: 'storeId', value: 'w1' } } },
    ]);
    await clerk.next('synced');
    const { id, ops } = cara.insert('orders', { storeId: 'w1', owner: 'wanda', total: 5, pin: '9999' });
    const ack = await clerk.push(1, ops);
    expect(ack.refused).toEqual([]);
    const echo = await clerk.next('docs', (m) => m.docs.some((d) => d.id === id));
    expect(decodeDocSnapshot(echo.docs[0]!.state).regs.pin).toBeUndefined();
    expect(materialize(orders, id, (await server.store.getDoc('orders', id))!.state)?.pin).toBe('9999');
  });
});

const storeSub = (store: string) => [
  {
    id: store,
    query: { collection: 'orders', filter: { op: 'eq', field: 'storeId', value: store } },
  } as const,
];

describe('writes', () => {
  it('refuses a write to a row outside the write filter, compensates, and no other device sees it', async () => {
    const id = await seed({ storeId: 'x1', note: 'original' });
    const watcher = await connect({ sub: 'boss', role: 'manager' }, undefined, storeSub('x1'));
    await watcher.next('synced');
    const cleo = deviceKnowing(id);
    const clerk = await connect({ sub: 'cleo', role: 'clerk', storeId: 'x1' }, cleo.replica, storeSub('x1'));
    await clerk.next('synced');

    const forged = cleo.update('orders', id, { note: 'hijacked' });
    expect(cleo.get('orders', id)?.note).toBe('hijacked');
    const { ack, compensation } = await refusedPush(clerk, 1, forged);
    expect(ack.accepted).toEqual([]);
    expect(ack.refused).toEqual([
      expect.objectContaining({ op: forged[0]!.id, doc: id, code: 'row_denied' }),
    ]);
    expect(compensation.docs).toEqual([expect.objectContaining({ id, mode: 'replace' })]);
    const authoritative = materialize(orders, id, decodeDocSnapshot(compensation.docs[0]!.state));
    expect(authoritative?.note).toBe('original');
    expect(authoritative?.margin).toBeUndefined();

    const marker = await seed({ storeId: 'x1', note: 'marker' });
    await watcher.next('docs', (m) => m.docs.some((d) => d.id === marker));
    expect(docsOf(watcher).some((d) => d.note === 'hijacked')).toBe(false);
    expect(materialize(orders, id, (await server.store.getDoc('orders', id))!.state)?.note).toBe('original');
  });

  it('refuses handing an order to another owner (before and after images)', async () => {
    const dana = testDevice();
    const clerk = await connect({ sub: 'dana', role: 'clerk', storeId: 'o1' }, dana.replica, storeSub('o1'));
    await clerk.next('synced');
    const { id, ops } = dana.insert('orders', { storeId: 'o1', owner: 'dana', total: 3 });
    expect((await clerk.push(1, ops)).refused).toEqual([]);
    const handOver = dana.update('orders', id, { owner: 'eve' });
    const follow = dana.update('orders', id, { note: 'after hand-over' });
    const { ack } = await refusedPush(clerk, 2, [...handOver, ...follow]);
    expect(ack.refused.map((r) => r.code)).toEqual(['row_denied', 'depends_on_refused']);
    const stored = materialize(orders, id, (await server.store.getDoc('orders', id))!.state);
    expect(stored).toMatchObject({ owner: 'dana' });
    expect(stored?.note).toBeUndefined();
  });

  it('refuses a field the role may not write, and keeps the rest of the batch', async () => {
    const fay = testDevice();
    const clerk = await connect({ sub: 'fay', role: 'clerk', storeId: 'fw' }, fay.replica);
    const { id, ops } = fay.insert('orders', { storeId: 'fw', owner: 'fay', total: 3 });
    const status = fay.update('orders', id, { status: 'paid' });
    const ack = await clerk.push(1, [...ops, ...status]);
    expect(ack.accepted).toEqual(ops.map((o) => o.id));
    expect(ack.refused).toEqual([expect.objectContaining({ code: 'field_denied' })]);
    expect(materialize(orders, id, (await server.store.getDoc('orders', id))!.state)?.status).toBeUndefined();
  });

  it('insert and delete rights', async () => {
    const viewer = testDevice();
    const v = await connect({ sub: 'vic', role: 'viewer' }, viewer.replica);
    const { id, ops } = viewer.insert('orders', { storeId: 'i1', owner: 'vic', total: 1 });
    const { ack, compensation } = await refusedPush(v, 1, ops);
    expect(ack.refused.map((r) => r.code)).toEqual(['insert_denied']);
    expect(compensation.removed).toEqual([{ collection: 'orders', id }]);
    expect(await server.store.getDoc('orders', id)).toBeUndefined();

    const seededId = await seed({ storeId: 'i1' });
    const gil = deviceKnowing(seededId);
    const clerk = await connect({ sub: 'boss', role: 'clerk', storeId: 'i1' }, gil.replica);
    const del = await refusedPush(clerk, 1, gil.delete('orders', seededId));
    expect(del.ack.refused.map((r) => r.code)).toEqual(['delete_denied']);
    expect((await server.store.getDoc('orders', seededId))?.live).toBe(true);

    const anon = testDevice();
    const a = await connectClient(server.wsUrl);
    open.push(a);
    await a.hello({ replica: anon.replica, token: null });
    const anonAck = await a.push(1, anon.insert('orders', { storeId: 'i1', owner: 'x', total: 1 }).ops);
    expect(anonAck.refused.map((r) => r.code)).toEqual(['permission_denied']);
  });
});

describe('new claims', () => {
  it('a refreshed token with other claims removes what is no longer readable and sends what now is', async () => {
    const a = await seed({ storeId: 'c1', note: 'store one' });
    const b = await seed({ storeId: 'c2', note: 'store two' });
    const hana = testDevice();
    const clerk = await connect({ sub: 'hana', role: 'clerk', storeId: 'c1' }, hana.replica, [
      {
        id: 'mine',
        query: { collection: 'orders', filter: { op: 'in', field: 'storeId', values: ['c1', 'c2'] } },
      },
    ]);
    await clerk.next('synced');
    expect(docsOf(clerk).map((d) => d.id)).toEqual([a]);
    clerk.send({ t: 'auth', token: await mintToken({ sub: 'hana', role: 'clerk', storeId: 'c2' }) });
    const change = await clerk.next('docs', (m) => m.removed.length > 0 || m.docs.some((d) => d.id === b));
    const frames = [change];
    if (!(change.removed.length > 0 && change.docs.some((d) => d.id === b)))
      frames.push(await clerk.next('docs', (m) => m.removed.length > 0 || m.docs.some((d) => d.id === b)));
    expect(frames.flatMap((f) => f.removed)).toEqual([{ collection: 'orders', id: a }]);
    expect(frames.flatMap((f) => f.docs.map((d) => d.id))).toEqual([b]);

    clerk.send({ t: 'auth', token: await mintToken({ sub: 'someone-else', role: 'clerk', storeId: 'c2' }) });
    expect(await clerk.next('error')).toMatchObject({ code: 'auth_invalid', fatal: true });
  });
});
