import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { asReplicaId, decodeOps, defineSchema, encodeDocSnapshot, f, type Op, q } from '@loam/core';
import { createMemoryReplica } from '@loam/core/testing';
import type { Engine, RefusedWrite } from '@loam/store';
import { createBetterSqlite3Storage, openEngine } from '@loam/store/node';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { decodeClientMessage, encodeMessage } from '../protocol/codec';
import type { ClientMessage, ServerMessage } from '../protocol/messages';
import type { Transport, TransportCloseEvent, TransportFactory } from '../transport/transport';
import { backoffCeiling, createBackoff } from './backoff';
import { createSyncClient } from './lifecycle';
import type { Connectivity, SyncClient, SyncClientOptions, Timers } from './sync-client';

const schema = defineSchema({
  version: 2,
  collections: {
    notes: { fields: { title: f.string(), store: f.number({ indexed: true }), count: f.counter() } },
  },
});

let dir: string;
const engines: Engine<typeof schema>[] = [];
const clients: SyncClient[] = [];

async function openAt(file: string): Promise<Engine<typeof schema>> {
  const engine = await openEngine({
    driver: await createBetterSqlite3Storage({ filename: join(dir, file) }),
    schema,
  });
  engines.push(engine);
  return engine;
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'loam-sync-client-'));
});
afterEach(async () => {
  for (const c of clients.splice(0)) await c.stop();
  for (const e of engines.splice(0)) await e.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A timer queue the test advances by hand. */
function createManualTimers() {
  let clock = 0;
  let nextId = 1;
  const due = new Map<number, { at: number; ms: number; run: () => void }>();
  const timers: Timers & {
    advance(ms: number): void;
    delays(): number[];
    readonly now: number;
  } = {
    setTimeout(run, ms) {
      const id = nextId++;
      due.set(id, { at: clock + ms, ms, run });
      return id;
    },
    clearTimeout(handle) {
      due.delete(handle as number);
    },
    advance(ms) {
      const until = clock + ms;
      for (;;) {
        const next = [...due.entries()].filter(([, t]) => t.at <= until).sort((a, b) => a[1].at - b[1].at)[0];
        if (!next) break;
        due.delete(next[0]);
        clock = next[1].at;
        next[1].run();
      }
      clock = until;
    },
    delays: () => [...due.values()].map((t) => t.ms),
    get now() {
      return clock;
    },
  };
  return timers;
}

function listen<L>(set: Set<L>, listener: L): () => void {
  set.add(listener);
  return () => {
    set.delete(listener);
  };
}

/** One connection as the scripted server sees it. */
interface FakeConnection {
  readonly received: ClientMessage[];
  open(): void;
  send(message: ServerMessage): void;
  sendRaw(frame: Uint8Array): void;
  /** Closes from the server's side (the link dropped). */
  drop(): void;
  readonly closed: boolean;
  pushes(): Extract<ClientMessage, { t: 'push' }>[];
}

/** A transport factory whose connections the test drives; connections open at once unless `refuse` is set. */
function createFakeServer() {
  const connections: FakeConnection[] = [];
  let refuse = false;
  const factory: TransportFactory = () => {
    const opens = new Set<() => void>();
    const frames = new Set<(frame: Uint8Array) => void>();
    const closes = new Set<(event: TransportCloseEvent) => void>();
    let isOpen = false;
    let closed = false;
    const finish = (event: TransportCloseEvent) => {
      if (closed) return;
      closed = true;
      isOpen = false;
      for (const l of [...closes]) l(event);
    };
    const received: ClientMessage[] = [];
    const connection: FakeConnection = {
      received,
      open() {
        isOpen = true;
        for (const l of [...opens]) l();
      },
      send(message) {
        if (isOpen) for (const l of [...frames]) l(encodeMessage(message));
      },
      sendRaw(frame) {
        if (isOpen) for (const l of [...frames]) l(frame);
      },
      drop: () => finish({ code: 1006, reason: '' }),
      get closed() {
        return closed;
      },
      pushes: () => received.filter((m): m is Extract<ClientMessage, { t: 'push' }> => m.t === 'push'),
    };
    connections.push(connection);
    const transport: Transport = {
      send(frame) {
        if (isOpen) received.push(decodeClientMessage(frame));
      },
      close: () => finish({ code: 1000, reason: 'closed by client' }),
      onOpen: (l) => listen(opens, l),
      onFrame: (l) => listen(frames, l),
      onClose: (l) => listen(closes, l),
      onError: () => () => undefined,
    };
    queueMicrotask(() => {
      if (refuse) finish({ code: 1006, reason: 'refused' });
      else connection.open();
    });
    return transport;
  };
  return {
    factory,
    connections,
    set refuse(value: boolean) {
      refuse = value;
    },
    last(): FakeConnection {
      const c = connections.at(-1);
      if (!c) throw new Error('no connection yet');
      return c;
    },
  };
}

const serverId = asReplicaId('server0000000000');
const welcome = (cursor = 0): ServerMessage => ({
  t: 'welcome',
  protocol: 1,
  server: serverId,
  cursor,
  reset: false,
  user: 'u1',
});

function opsOf(push: Extract<ClientMessage, { t: 'push' }>): Op[] {
  return decodeOps(push.ops);
}

async function until<T>(probe: () => T | Promise<T>, what: string): Promise<NonNullable<T>> {
  return vi.waitFor(
    async () => {
      const value = await probe();
      if (!value) throw new Error(`still waiting for ${what}`);
      return value as NonNullable<T>;
    },
    { timeout: 15_000, interval: 2 },
  );
}

function startClient(
  engine: Engine<typeof schema>,
  server: ReturnType<typeof createFakeServer>,
  extra: Partial<SyncClientOptions> = {},
) {
  const timers = createManualTimers();
  const client = createSyncClient({
    store: engine.syncStore,
    transportFactory: server.factory,
    getToken: async () => 'token-1',
    timers,
    now: () => 1_000_000 + timers.now,
    random: () => 0.5,
    backoff: { baseMs: 100, maxMs: 1_600 },
    ...extra,
  });
  clients.push(client);
  client.start();
  return { client, timers };
}

async function connected(server: ReturnType<typeof createFakeServer>, client: SyncClient, count: number) {
  await until(() => server.connections.length >= count && server.last().received[0]?.t === 'hello', 'hello');
  server.last().send(welcome());
  await until(() => client.status().connected, 'connected');
  return server.last();
}

describe('backoff', () => {
  it('grows exponentially up to the cap, with full jitter below the ceiling', () => {
    expect([0, 1, 2, 3, 4, 5, 6].map((n) => backoffCeiling(n, { baseMs: 100, maxMs: 1_000 }))).toEqual([
      100, 200, 400, 800, 1_000, 1_000, 1_000,
    ]);
    const top = createBackoff({ baseMs: 100, maxMs: 1_000 }, () => 0.999_999);
    expect(Array.from({ length: 6 }, () => top.next())).toEqual([99, 199, 399, 799, 999, 999]);
    const bottom = createBackoff({ baseMs: 100, maxMs: 1_000 }, () => 0);
    expect(Array.from({ length: 3 }, () => bottom.next())).toEqual([0, 0, 0]);
  });

  it('spreads the delays of many clients over the whole window and restarts after reset', () => {
    let seed = 7;
    const random = () => {
      seed = (seed * 16807) % 2147483647;
      return (seed - 1) / 2147483646;
    };
    const delays = Array.from({ length: 400 }, () => {
      const b = createBackoff({ baseMs: 1_000, maxMs: 60_000 }, random);
      for (let i = 0; i < 3; i++) b.next();
      return b.next();
    });
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...delays)).toBeLessThan(8_000);
    expect(delays.filter((d) => d < 4_000).length).toBeGreaterThan(120);
    expect(delays.filter((d) => d >= 4_000).length).toBeGreaterThan(120);
    const b = createBackoff({ baseMs: 100, maxMs: 1_000 }, () => 0.5);
    b.next();
    b.next();
    b.reset();
    expect(b.next()).toBe(50);
  });
});

describe('sync client (scripted server)', () => {
  it('retries a server it cannot reach with growing jittered delays, and starts over after a success', async () => {
    const engine = await openAt('a.db');
    const server = createFakeServer();
    server.refuse = true;
    const { client, timers } = startClient(engine, server);
    const waits: number[] = [];
    for (let attempt = 1; attempt <= 6; attempt++) {
      await until(() => server.connections.length === attempt && timers.delays().length === 1, 'a retry');
      const [delay] = timers.delays();
      waits.push(delay as number);
      timers.advance(delay as number);
    }
    expect(waits).toEqual([50, 100, 200, 400, 800, 800]);
    expect(client.status()).toMatchObject({ state: 'connecting', connected: false });
    expect(client.status().lastError?.code).toBe('connection_lost');
    server.refuse = false;
    await until(() => server.connections.length === 7, 'attempt 7');
    await connected(server, client, 7);
    expect(client.status().lastError).toBeNull();
    server.last().drop();
    await until(() => timers.delays().includes(50), 'the first delay again');
  });

  it('uploads the outbox in bounded batches and drops ops only once acknowledged', async () => {
    const engine = await openAt('a.db');
    await engine.insertMany(
      'notes',
      Array.from({ length: 1_200 }, (_, i) => ({ title: `n${i}`, store: i % 3 })),
    );
    const server = createFakeServer();
    const { client, timers } = startClient(engine, server, { maxBatchOps: 500, maxInFlight: 2 });
    const first = await connected(server, client, 1);
    await until(() => first.pushes().length === 2, 'two batches');
    const [b1, b2] = first.pushes();
    expect([opsOf(b1!).length, opsOf(b2!).length]).toEqual([500, 500]);
    expect(await engine.pendingCount()).toBe(1_200);
    expect(client.status().pendingUploads).toBe(1_200);

    first.send({ t: 'ack', batch: b1!.batch, accepted: opsOf(b1!).map((o) => o.id), refused: [] });
    await until(() => first.pushes().length === 3, 'the third batch');
    expect(opsOf(first.pushes()[2]!).length).toBe(200);
    await until(() => client.status().pendingUploads === 700, 'pending 700');
    expect(await engine.pendingCount()).toBe(700);

    first.drop();
    expect(client.status().connected).toBe(false);
    timers.advance(timers.delays()[0] ?? 0);
    const second = await connected(server, client, 2);
    await until(() => second.pushes().length === 2, 'resent batches');
    const resent = second.pushes().flatMap(opsOf);
    expect(resent.map((o) => o.id).sort()).toEqual(
      [...opsOf(b2!), ...opsOf(first.pushes()[2]!)].map((o) => o.id).sort(),
    );
    for (const p of second.pushes())
      second.send({ t: 'ack', batch: p.batch, accepted: opsOf(p).map((o) => o.id), refused: [] });
    await until(() => client.status().pendingUploads === 0, 'everything acknowledged');
    expect(await engine.pendingCount()).toBe(0);
    expect(second.pushes()).toHaveLength(2);
  });

  it('pushes a local write as soon as it commits', async () => {
    const engine = await openAt('a.db');
    const server = createFakeServer();
    const { client } = startClient(engine, server);
    const conn = await connected(server, client, 1);
    const id = await engine.insert('notes', { title: 'fresh', store: 1 });
    const push = await until(() => conn.pushes()[0], 'a push');
    expect(opsOf(push).map((o) => o.doc)).toEqual([id]);
    expect(client.status().pendingUploads).toBe(1);
  });

  it('records a refused write, announces it, and the compensating snapshot reverts the document', async () => {
    const engine = await openAt('a.db');
    const id = await engine.insert('notes', { title: 'original', store: 1 });
    const server = createFakeServer();
    const { client } = startClient(engine, server);
    const refusals: RefusedWrite[] = [];
    client.onRefused((r) => refusals.push(r));
    const conn = await connected(server, client, 1);
    const p1 = await until(() => conn.pushes()[0], 'first push');
    conn.send({ t: 'ack', batch: p1.batch, accepted: opsOf(p1).map((o) => o.id), refused: [] });
    const relay = createMemoryReplica({ schema, replica: serverId });
    relay.receive(opsOf(p1));
    const authoritative = relay.state.getState('notes', id);
    await engine.update('notes', id, { title: 'not allowed' });
    const p2 = await until(() => conn.pushes()[1], 'second push');
    const [op] = opsOf(p2);
    conn.send({
      t: 'ack',
      batch: p2.batch,
      accepted: [],
      refused: [
        { op: op!.id, collection: 'notes', doc: id, code: 'field_denied', reason: 'title is read-only' },
      ],
    });
    conn.send({
      t: 'docs',
      cursor: 5,
      docs: [{ collection: 'notes', id, state: encodeDocSnapshot(authoritative!), mode: 'replace' }],
      removed: [],
    });
    await until(async () => (await engine.get('notes', id))?.title === 'original', 'the revert');
    expect(refusals).toMatchObject([{ op: op!.id, code: 'field_denied', doc: id }]);
    expect(await engine.refusedWrites()).toMatchObject([{ op: op!.id, code: 'field_denied' }]);
    expect(await engine.pendingCount()).toBe(0);
    expect(await engine.syncStore.cursor()).toBe(5);
  });

  it('applies the corrections of an ack that refuses nothing (an echo: acknowledged, not applied by the relay)', async () => {
    const engine = await openAt('echo.db');
    const id = await engine.insert('notes', { title: 'till', store: 1 });
    const server = createFakeServer();
    const { client } = startClient(engine, server);
    const conn = await connected(server, client, 1);
    const p1 = await until(() => conn.pushes()[0], 'first push');
    conn.send({ t: 'ack', batch: p1.batch, accepted: opsOf(p1).map((o) => o.id), refused: [] });
    const relay = createMemoryReplica({ schema, replica: serverId });
    relay.receive(opsOf(p1));
    const held = relay.state.getState('notes', id);
    // The relay already holds this increment under another id (a copy of this database renumbered it first).
    await engine.increment('notes', id, 'count', 3);
    const p2 = await until(() => conn.pushes()[1], 'second push');
    conn.send({
      t: 'ack',
      batch: p2.batch,
      accepted: opsOf(p2).map((o) => o.id),
      refused: [],
      corrections: {
        docs: [{ collection: 'notes', id, state: encodeDocSnapshot(held!), mode: 'replace' }],
        removed: [],
      },
    });
    await until(async () => (await engine.pendingCount()) === 0, 'the echo acknowledged');
    await until(async () => (await engine.get('notes', id))?.count === 0, "the relay's count, not 3");
    expect(await engine.refusedWrites()).toEqual([]);
  });

  it('moves past the op ids the relay holds when its database was restored, and renumbers reused ones', async () => {
    const engine = await openAt('a.db');
    const id = await engine.insert('notes', { title: 'old copy', store: 1 });
    await engine.increment('notes', id, 'count', 4);
    const server = createFakeServer();
    const { client } = startClient(engine, server);
    await until(() => server.connections[0]?.received[0], 'hello');
    const conn = server.last();
    conn.send({ ...welcome(), replicaSeq: 3 } as ServerMessage);
    await until(() => client.status().lastError?.code === 'replica_restored', 'restored');
    expect(client.status()).toMatchObject({ connected: true, lastError: { fatal: false } });
    const push = await until(() => conn.pushes()[0], 'a push');
    const [create, inc] = opsOf(push);
    conn.send({
      t: 'ack',
      batch: push.batch,
      accepted: [create!.id],
      refused: [
        {
          op: inc!.id,
          collection: 'notes',
          doc: id,
          code: 'op_id_reused',
          reason: 'held with other content',
        },
      ],
    });
    const again = await until(() => conn.pushes()[1], 'the renumbered op');
    const [renumbered] = opsOf(again);
    expect(renumbered).toMatchObject({ kind: 'increment', by: 4, ts: inc!.ts, doc: id });
    expect(renumbered!.id).toBe(`${engine.replica}:4`);
    expect(await engine.refusedWrites()).toEqual([]);
    expect((await engine.get('notes', id))?.count).toBe(4);
    await engine.update('notes', id, { title: 'next' });
    const next = await until(() => conn.pushes()[2], 'the next write');
    expect(opsOf(next)[0]!.id).toBe(`${engine.replica}:5`);
  });

  it('stops retrying after a fatal server error until started again', async () => {
    const engine = await openAt('a.db');
    const server = createFakeServer();
    const { client, timers } = startClient(engine, server);
    await until(() => server.connections[0]?.received[0], 'hello');
    server.last().send({ t: 'error', code: 'auth_invalid', message: 'bad signature', fatal: true });
    await until(() => client.status().state === 'failed', 'failed');
    expect(client.status().lastError).toMatchObject({ code: 'auth_invalid', fatal: true });
    expect(server.last().closed).toBe(true);
    timers.advance(60_000);
    expect(server.connections).toHaveLength(1);
    client.start();
    await connected(server, client, 2);
    expect(client.status().lastError).toBeNull();
  });

  it('fetches a fresh token at once when the server says the token expired', async () => {
    const engine = await openAt('a.db');
    const server = createFakeServer();
    let n = 0;
    const { client, timers } = startClient(engine, server, { getToken: async () => `token-${++n}` });
    await until(() => server.connections[0]?.received[0], 'hello');
    server.last().send({ t: 'error', code: 'auth_expired', message: 'expired', fatal: true });
    await until(() => timers.delays().length === 1, 'the reconnect');
    expect(timers.delays()).toEqual([0]);
    timers.advance(0);
    const conn = await connected(server, client, 2);
    expect(conn.received[0]).toMatchObject({ t: 'hello', token: 'token-2' });

    conn.send({ t: 'error', code: 'auth_expired', message: 'expires soon', fatal: false });
    await until(() => conn.received.find((m) => m.t === 'auth'), 'auth');
    expect(conn.received.find((m) => m.t === 'auth')).toEqual({ t: 'auth', token: 'token-3' });
    expect(client.status().connected).toBe(true);
  });

  it('drops a connection whose server stops answering pings, and keeps one that answers', async () => {
    const engine = await openAt('a.db');
    const server = createFakeServer();
    const { client, timers } = startClient(engine, server, { pingIntervalMs: 1_000, pingTimeoutMs: 500 });
    const conn = await connected(server, client, 1);
    timers.advance(1_000);
    expect(conn.received.filter((m) => m.t === 'ping')).toHaveLength(1);
    conn.send({ t: 'pong' });
    timers.advance(1_000);
    expect(conn.closed).toBe(false);
    expect(conn.received.filter((m) => m.t === 'ping')).toHaveLength(2);
    timers.advance(500);
    expect(conn.closed).toBe(true);
    expect(client.status()).toMatchObject({ connected: false, lastError: { code: 'ping_timeout' } });
  });

  it('makes no attempt while offline and reconnects at once when the device is back online', async () => {
    const engine = await openAt('a.db');
    const server = createFakeServer();
    let online = false;
    const listeners = new Set<(online: boolean) => void>();
    const connectivity: Connectivity = {
      isOnline: () => online,
      onChange: (l) => listen(listeners, l),
    };
    const setOnline = (value: boolean) => {
      online = value;
      for (const l of listeners) l(value);
    };
    const { client, timers } = startClient(engine, server, { connectivity });
    await until(() => client.status().state === 'offline', 'offline');
    timers.advance(60_000);
    expect(server.connections).toHaveLength(0);
    setOnline(true);
    const conn = await connected(server, client, 1);
    setOnline(false);
    expect(conn.closed).toBe(true);
    expect(client.status()).toMatchObject({ state: 'offline', connected: false });
    await engine.insert('notes', { title: 'offline write', store: 1 });
    await until(() => client.status().pendingUploads === 1, 'pending count');
    timers.advance(60_000);
    expect(server.connections).toHaveLength(1);
    setOnline(true);
    const again = await connected(server, client, 2);
    await until(() => again.pushes().length === 1, 'the offline write uploaded');
  });

  it('drops the connection on a malformed frame and applies nothing from it', async () => {
    const engine = await openAt('a.db');
    const server = createFakeServer();
    const { client } = startClient(engine, server);
    const conn = await connected(server, client, 1);
    conn.sendRaw(new Uint8Array([1, 0xc1, 0xff]));
    await until(() => conn.closed, 'closed');
    expect(client.status().lastError?.code).toBe('frame_invalid');
    expect(await engine.syncStore.cursor()).toBe(0);
  });
});

describe('subscriptions (scripted server)', () => {
  it('streams a first set with progress, settles ready, and survives a restart', async () => {
    const engine = await openAt('a.db');
    const server = createFakeServer();
    const { client } = startClient(engine, server);
    const conn = await connected(server, client, 1);
    const sub = client.subscribe('notes', q.eq('store', 101));
    const sent = await until(() => conn.received.find((m) => m.t === 'subscribe'), 'subscribe');
    expect(sent).toEqual({ t: 'subscribe', sub: { id: sub.id, query: sub.query } });

    const other = createMemoryReplica({ schema, replica: serverId });
    const ids = [
      { title: 'a', store: 101 },
      { title: 'b', store: 101 },
    ].map((doc) => other.insert('notes', doc).id);
    const frames = ids.map((id) => ({
      collection: 'notes',
      id,
      state: encodeDocSnapshot(other.state.getState('notes', id)!),
      mode: 'merge' as const,
    }));
    conn.send({
      t: 'docs',
      cursor: 0,
      docs: [frames[0]!],
      removed: [],
      sub: sub.id,
      progress: { sent: 1, total: 2 },
    });
    await until(() => client.status().downloading?.sent === 1, 'progress');
    expect(client.status().downloading).toEqual({ sub: sub.id, sent: 1, total: 2 });
    conn.send({
      t: 'docs',
      cursor: 0,
      docs: [frames[1]!],
      removed: [],
      sub: sub.id,
      progress: { sent: 2, total: 2 },
    });
    conn.send({ t: 'synced', sub: sub.id, cursor: 9 });
    expect(await sub.ready).toEqual({ status: 'synced' });
    await until(async () => (await engine.syncStore.cursor()) === 9, 'cursor');
    expect(client.status().downloading).toBeNull();
    expect((await engine.find({ collection: 'notes' })).map((d) => d.title).sort()).toEqual(['a', 'b']);

    await client.stop();
    await engine.close();
    const reopened = await openAt('a.db');
    const { client: restarted } = startClient(reopened, server);
    const hello = await until(() => server.connections[1]?.received[0], 'second hello');
    expect(hello).toMatchObject({ t: 'hello', cursor: 9, schemaVersion: 2, token: 'token-1' });
    expect(hello.t === 'hello' && hello.subs).toEqual([{ id: sub.id, query: sub.query }]);
    const again = restarted.subscribe('notes', q.eq('store', 101));
    expect(again.id).toBe(sub.id);
    expect(await again.ready).toEqual({ status: 'synced' });
    expect(await restarted.subscriptions()).toEqual([{ id: sub.id, query: sub.query, synced: true }]);
  });

  it('applies docs frames that queue up behind a slow apply together, in their order, removals included', async () => {
    const engine = await openAt('a.db');
    const server = createFakeServer();
    const calls: string[][] = [];
    let release = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const store = {
      ...engine.syncStore,
      async applyDownload(download: Parameters<Engine['syncStore']['applyDownload']>[0]) {
        calls.push([...download.docs.map((d) => d.id), ...download.removed.map((r) => `-${r.id}`)]);
        if (calls.length === 1) await gate;
        return engine.syncStore.applyDownload(download);
      },
    };
    const { client } = startClient(engine, server, { store });
    const conn = await connected(server, client, 1);
    const other = createMemoryReplica({ schema, replica: serverId });
    const snapshot = (id: string) => ({
      collection: 'notes',
      id,
      state: encodeDocSnapshot(other.state.getState('notes', id)!),
      mode: 'merge' as const,
    });
    const frame = (docs: string[], removed: string[] = [], cursor = 0): ServerMessage => ({
      t: 'docs',
      cursor,
      docs: docs.map(snapshot),
      removed: removed.map((id) => ({ collection: 'notes', id })),
    });
    for (const title of ['x', 'a', 'b', 'c']) other.upsert('notes', title as never, { title, store: 1 });
    conn.send(frame(['x']));
    await until(() => calls.length === 1, 'the first apply');
    conn.send(frame(['a']));
    conn.send(frame(['b'], ['a']));
    other.update('notes', 'a' as never, { title: 'a again' });
    conn.send(frame(['a']));
    conn.send(frame(['c'], [], 7));
    release();
    await until(async () => (await engine.syncStore.cursor()) === 7, 'cursor');
    expect(calls).toEqual([['x'], ['a', 'b', '-a'], ['a', 'c']]);
    expect((await engine.find({ collection: 'notes' })).map((d) => d.title).sort()).toEqual([
      'a again',
      'b',
      'c',
      'x',
    ]);
  });

  it('asks for the whole set of a subscription made offline, even when resuming from a cursor', async () => {
    const engine = await openAt('a.db');
    await engine.syncStore.setCursor(40);
    const server = createFakeServer();
    const { client, timers } = startClient(engine, server);
    const first = await connected(server, client, 1);
    const old = client.subscribe('notes', q.eq('store', 1));
    await until(() => first.received.find((m) => m.t === 'subscribe'), 'subscribe');
    first.send({ t: 'synced', sub: old.id, cursor: 41 });
    await old.ready;
    first.drop();
    const fresh = client.subscribe('notes', q.eq('store', 2));
    await until(async () => (await client.subscriptions()).length === 2, 'persisted');
    timers.advance(timers.delays()[0] ?? 0);
    const second = await until(() => server.connections[1]?.received[0], 'second hello').then(() =>
      server.last(),
    );
    const hello = second.received[0];
    expect(hello).toMatchObject({ t: 'hello', cursor: 41, subs: [{ id: old.id }] });
    second.send({ ...welcome(41), reset: false } as ServerMessage);
    await until(() => second.received.find((m) => m.t === 'subscribe'), 'subscribe after welcome');
    expect(second.received.filter((m) => m.t === 'subscribe')).toEqual([
      { t: 'subscribe', sub: { id: fresh.id, query: fresh.query } },
    ]);
  });

  it('removes on unsubscribe only the documents no remaining subscription covers', async () => {
    const engine = await openAt('a.db');
    const other = createMemoryReplica({ schema, replica: serverId });
    const ids = [
      { title: 'only-a', store: 1 },
      { title: 'both', store: 2 },
      { title: 'only-b', store: 3 },
    ].map((doc) => other.insert('notes', doc).id);
    const server = createFakeServer();
    const { client } = startClient(engine, server);
    const conn = await connected(server, client, 1);
    const a = client.subscribe('notes', q.in('store', [1, 2]));
    const b = client.subscribe('notes', q.gte('store', 2));
    await until(() => conn.received.filter((m) => m.t === 'subscribe').length === 2, 'two subscribes');
    conn.send({
      t: 'docs',
      cursor: 3,
      docs: ids.map((id) => ({
        collection: 'notes',
        id,
        state: encodeDocSnapshot(other.state.getState('notes', id)!),
        mode: 'merge' as const,
      })),
      removed: [],
    });
    await until(async () => (await engine.find({ collection: 'notes' })).length === 3, 'three docs');
    await a.unsubscribe();
    expect(await a.ready).toEqual({ status: 'unsubscribed' });
    expect(conn.received.at(-1)).toEqual({ t: 'unsubscribe', id: a.id });
    expect((await engine.find({ collection: 'notes' })).map((d) => d.title).sort()).toEqual([
      'both',
      'only-b',
    ]);
    expect(await engine.pendingCount()).toBe(0);
    expect(await client.subscriptions()).toEqual([{ id: b.id, query: b.query, synced: false }]);
    expect(() => client.subscribe('nope', q.eq('x', 1))).toThrow(/no such collection/);
  });

  it('rejects the calls of the app when the local database fails, instead of pretending', async () => {
    const engine = await openAt('a.db');
    const server = createFakeServer();
    const { client } = startClient(engine, server);
    await engine.close();
    await expect(client.subscriptions()).rejects.toMatchObject({ code: 'storage_closed' });
    const sub = client.subscribe('notes', q.eq('store', 1));
    await expect(sub.saved).rejects.toMatchObject({ code: 'storage_closed' });
    await expect(sub.ready).rejects.toMatchObject({ code: 'storage_closed' });
    await expect(sub.unsubscribe()).rejects.toMatchObject({ code: 'storage_closed' });
  });

  it('settles ready as denied when the server refuses the subscription, remembers it, and retries it on demand', async () => {
    const engine = await openAt('a.db');
    const server = createFakeServer();
    const { client, timers } = startClient(engine, server);
    const conn = await connected(server, client, 1);
    const sub = client.subscribe('notes');
    await until(() => conn.received.find((m) => m.t === 'subscribe'), 'subscribe');
    conn.send({
      t: 'error',
      code: 'subscription_denied',
      message: 'no read access',
      fatal: false,
      sub: sub.id,
    });
    const denied = { status: 'denied', code: 'subscription_denied', message: 'no read access' };
    expect(await sub.ready).toEqual(denied);
    const listed = [
      {
        id: sub.id,
        query: sub.query,
        synced: false,
        denied: { code: 'subscription_denied', message: 'no read access' },
      },
    ];
    expect(await client.subscriptions()).toEqual(listed);
    expect(client.status()).toMatchObject({ connected: true, lastError: { code: 'subscription_denied' } });

    conn.drop();
    timers.advance(timers.delays()[0] ?? 0);
    const again = await connected(server, client, 2);
    await client.subscriptions();
    expect(again.received.filter((m) => m.t === 'subscribe')).toEqual([]);
    expect(again.received[0]).toMatchObject({ t: 'hello', subs: [] });
    expect(await client.subscriptions()).toEqual(listed);

    await client.stop();
    const { client: restarted } = startClient(engine, server);
    expect(await restarted.subscriptions()).toEqual(listed);
    const third = await connected(server, restarted, 3);
    const retry = restarted.subscribe('notes');
    await until(() => third.received.find((m) => m.t === 'subscribe'), 'the retried subscribe');
    third.send({ t: 'synced', sub: retry.id, cursor: 3 });
    expect(await retry.ready).toEqual({ status: 'synced' });
    expect(await restarted.subscriptions()).toEqual([{ id: sub.id, query: sub.query, synced: true }]);
  });
});
