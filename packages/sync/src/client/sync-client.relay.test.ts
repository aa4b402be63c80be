import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkPermission, defineSchema, f, type Permissions, q, type Rules, type Schema } from '@loam/core';
import type { LoamServer } from '@loam/server';
import { startTestRelay, type TestRelay } from '@loam/server/testing';
import type { Doc, Engine, RefusedWrite } from '@loam/store';
import { createBetterSqlite3Storage, openEngine } from '@loam/store/node';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import { createRng } from '../../../../test/convergence/random';
import { decodeServerMessage } from '../protocol/codec';
import type { Transport, TransportFactory } from '../transport/transport';
import { createWebSocketTransport, type WebSocketConstructor } from '../transport/transport-websocket';
import { createSyncClient } from './lifecycle';
import type { SyncClient } from './sync-client';

const schema = defineSchema({
  version: 1,
  collections: {
    notes: {
      fields: {
        title: f.string(),
        store: f.number({ indexed: true }),
        locked: f.string({ optional: true }),
        count: f.counter(),
        place: f.object({ city: f.string(), zip: f.string({ optional: true }) }, { optional: true }),
        memo: f.text(),
      },
    },
  },
});

const rules: Rules = {
  notes: {
    roles: [
      {
        name: 'clerk',
        applyWhen: { op: 'eq', field: 'role', value: 'clerk' },
        read: true,
        write: true,
        insert: true,
        delete: true,
        fields: { write: ['title', 'store', 'count', 'place', 'memo'] },
      },
    ],
  },
};

let dir: string;
let relay: TestRelay;
let server: LoamServer;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'loam-sync-relay-'));
  relay = await startTestRelay(schema, rules);
  server = relay.server;
});

afterAll(async () => {
  await relay?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A clerk's token; `expiresIn` in seconds. */
const tokenFor = (user: string, expiresIn = 3600) =>
  relay.tokenFor(user, { claims: { role: 'clerk' }, expiresIn });

/**
 * A device's network link. `down('cut')` closes the live connection; `down('blackhole')` keeps it open but drops
 * every frame both ways (a dead route: only the keep-alive notices). Either way new connections fail until `up()`.
 */
function createLink(url: string) {
  const live = new Set<{ close(): void; blackhole(): void }>();
  let isUp = true;
  const refused = (): Transport => {
    const closes = new Set<(e: { code: number; reason: string }) => void>();
    queueMicrotask(() => {
      for (const l of closes) l({ code: 1006, reason: 'network down' });
    });
    return {
      send: () => undefined,
      close: () => undefined,
      onOpen: () => () => undefined,
      onFrame: () => () => undefined,
      onClose: (l) => {
        closes.add(l);
        return () => closes.delete(l);
      },
      onError: () => () => undefined,
    };
  };
  const factory: TransportFactory = () => {
    if (!isUp) return refused();
    const inner = createWebSocketTransport({ url, WebSocket: WebSocket as unknown as WebSocketConstructor });
    let dead = false;
    const handle = { close: () => inner.close(), blackhole: () => (dead = true) };
    live.add(handle);
    inner.onClose(() => live.delete(handle));
    return {
      send: (frame) => (dead ? undefined : inner.send(frame)),
      close: () => inner.close(),
      onOpen: (l) => inner.onOpen(l),
      onFrame: (l) => inner.onFrame((frame) => (dead ? undefined : l(frame))),
      onClose: (l) => inner.onClose(l),
      onError: (l) => inner.onError(l),
    };
  };
  return {
    factory,
    down(how: 'cut' | 'blackhole' = 'cut') {
      isUp = false;
      for (const t of [...live]) how === 'cut' ? t.close() : t.blackhole();
    },
    up() {
      isUp = true;
    },
  };
}

interface Device {
  readonly engine: Engine;
  readonly client: SyncClient;
  readonly link: ReturnType<typeof createLink>;
  readonly file: string;
}

const devices: Device[] = [];
let fileCounter = 0;

async function openDevice(
  user: string,
  file = `device-${++fileCounter}.db`,
  options: { getToken?: () => Promise<string>; schema?: Schema; offline?: boolean; now?: () => number } = {},
): Promise<Device> {
  const engine = await openEngine({
    driver: await createBetterSqlite3Storage({ filename: join(dir, file) }),
    schema: options.schema ?? schema,
    ...(options.now ? { now: options.now } : {}),
  });
  const link = createLink(server.wsUrl);
  if (options.offline) link.down();
  const client = createSyncClient({
    store: engine.syncStore,
    transportFactory: link.factory,
    getToken: options.getToken ?? (() => tokenFor(user)),
    backoff: { baseMs: 20, maxMs: 200 },
    pingIntervalMs: 150,
    pingTimeoutMs: 150,
  });
  const device = { engine, client, link, file };
  devices.push(device);
  client.start();
  return device;
}

async function closeDevice(device: Device): Promise<void> {
  devices.splice(devices.indexOf(device), 1);
  await device.client.stop();
  await device.engine.close();
}

afterEach(async () => {
  for (const d of [...devices]) await closeDevice(d);
});

async function until<T>(
  probe: () => T | Promise<T>,
  what: string,
  timeout = 15_000,
): Promise<NonNullable<T>> {
  return vi.waitFor(
    async () => {
      const value = await probe();
      if (!value) throw new Error(`still waiting for ${what}`);
      return value as NonNullable<T>;
    },
    { timeout, interval: 10 },
  );
}

const notes = (d: Device, store?: number): Promise<Doc[]> =>
  d.engine.find({
    collection: 'notes',
    ...(store === undefined ? {} : { filter: q.eq('store', store) }),
    sort: [{ field: 'title', dir: 'asc' }],
  });
const titles = async (d: Device, store?: number) => (await notes(d, store)).map((n) => n.title);

async function converged(all: readonly Device[]): Promise<boolean> {
  for (const d of all) if ((await d.engine.pendingCount()) > 0) return false;
  const states = await Promise.all(
    all.map(async (d) =>
      JSON.stringify(await d.engine.find({ collection: 'notes', sort: [{ field: 'id', dir: 'asc' }] })),
    ),
  );
  return states.every((s) => s === states[0]);
}

describe('sync through the relay', () => {
  it('shows a write made on one device on another', async () => {
    const a = await openDevice('alice');
    const b = await openDevice('bob');
    expect(await a.client.subscribe('notes', q.eq('store', 1)).ready).toEqual({ status: 'synced' });
    expect(await b.client.subscribe('notes', q.eq('store', 1)).ready).toEqual({ status: 'synced' });
    await a.engine.insert('notes', { title: 'from a', store: 1 });
    await a.engine.insert('notes', { title: 'other store', store: 2 });
    await until(async () => (await titles(b)).includes('from a'), 'the note on b');
    await until(() => a.client.status().pendingUploads === 0, 'a uploaded');
    expect(await titles(b)).toEqual(['from a']);
    expect(a.client.status()).toMatchObject({ connected: true, lastError: null });
    expect(a.client.status().lastSyncedAt).not.toBeNull();
  });

  it('delivers every write after a failed transaction ran beside a committed one (no reused op id)', async () => {
    const a = await openDevice('alice');
    const b = await openDevice('bob');
    await a.client.subscribe('notes', q.eq('store', 12)).ready;
    await b.client.subscribe('notes', q.eq('store', 12)).ready;
    const id = await a.engine.insert('notes', { title: '1', store: 12 });
    const first = a.engine.transaction(async (tx) => {
      await tx.update('notes', id, { title: '2' });
      await tx.update('notes', id, { title: '3' });
    });
    const second = a.engine.transaction(async (tx) => {
      await tx.update('notes', 'no-such-note', { title: 'x' });
    });
    await first;
    await expect(second).rejects.toMatchObject({ code: 'not_found' });
    await until(async () => (await b.engine.get('notes', id))?.title === '3', 'b holds 3');
    await a.engine.update('notes', id, { title: '4' });
    await until(() => converged([a, b]), 'a and b agree');
    expect((await a.engine.get('notes', id))?.title).toBe('4');
    expect((await b.engine.get('notes', id))?.title).toBe('4');
  });

  it('keeps both edits when two offline devices change different paths of one object', async () => {
    const a = await openDevice('alice');
    const b = await openDevice('bob');
    await a.client.subscribe('notes', q.eq('store', 13)).ready;
    await b.client.subscribe('notes', q.eq('store', 13)).ready;
    const id = await a.engine.insert('notes', {
      title: 'Ada',
      store: 13,
      place: { city: 'Lyon', zip: '69001' },
    });
    await until(async () => (await b.engine.get('notes', id)) !== undefined, 'the note on b');
    a.link.down();
    b.link.down();
    await a.engine.update('notes', id, { 'place.city': 'Paris' });
    await b.engine.update('notes', id, { 'place.zip': '75001' });
    a.link.up();
    b.link.up();
    await until(() => converged([a, b]), 'a and b agree');
    expect((await a.engine.get('notes', id))?.place).toEqual({ city: 'Paris', zip: '75001' });
  });

  it('recovers when its database is put back from an older copy: writes made after it reach every device', async () => {
    const a = await openDevice('alice');
    const b = await openDevice('bob');
    await a.client.subscribe('notes', q.eq('store', 14)).ready;
    await b.client.subscribe('notes', q.eq('store', 14)).ready;
    const id = await a.engine.insert('notes', { title: 'kept', store: 14, memo: 'hello' });
    await until(() => converged([a, b]), 'the first note on b');
    const file = a.file;
    const files = (name: string) => [name, `${name}-wal`, `${name}-shm`].map((f) => join(dir, f));
    const copy = (from: string, to: string) => {
      const [source, target] = [files(from), files(to)];
      for (let i = 0; i < source.length; i++) {
        rmSync(target[i]!, { force: true });
        if (existsSync(source[i]!)) copyFileSync(source[i]!, target[i]!);
      }
    };
    await closeDevice(a);
    copy(file, 'backup.db');

    const later = await openDevice('alice', file);
    await later.engine.update('notes', id, { title: 'renamed before the restore' });
    await later.engine.increment('notes', id, 'count', 2);
    await later.engine.textInsert('notes', id, 'memo', 5, ' world');
    await until(() => converged([later, b]), 'the later writes on b');
    await closeDevice(later);
    copy('backup.db', file);

    const restored = await openDevice('alice', file, { offline: true });
    const problems: string[] = [];
    restored.client.onStatus((status) => {
      if (status.lastError) problems.push(status.lastError.code);
    });
    expect((await restored.engine.get('notes', id))?.title).toBe('kept');
    const fresh = await restored.engine.insert('notes', { title: 'written after the restore', store: 14 });
    await restored.engine.increment('notes', id, 'count', 3);
    await restored.engine.textInsert('notes', id, 'memo', 0, '> ');
    restored.link.up();
    await until(() => converged([restored, b]), 'a and b agree');
    expect(problems).toContain('replica_restored');
    expect(await titles(b, 14)).toEqual(['renamed before the restore', 'written after the restore']);
    expect(await b.engine.get('notes', id)).toMatchObject({ count: 5, memo: '> hello world' });
    expect(await b.engine.get('notes', fresh)).toBeDefined();
    await restored.engine.update('notes', fresh, { title: 'and one more' });
    await until(
      async () => (await b.engine.get('notes', fresh))?.title === 'and one more',
      'the next write on b',
    );
  });

  it('after a reset past the history horizon, drops what the relay deleted and keeps its own unsynced writes', async () => {
    const a = await openDevice('alice');
    const b = await openDevice('bob');
    await a.client.subscribe('notes', q.eq('store', 15)).ready;
    await b.client.subscribe('notes', q.eq('store', 15)).ready;
    const gone = await b.engine.insert('notes', { title: 'deleted while a was away', store: 15 });
    const kept = await b.engine.insert('notes', { title: 'kept', store: 15 });
    await until(() => converged([a, b]), 'both notes on a');
    const file = a.file;
    await closeDevice(a);
    await b.engine.delete('notes', gone);
    await until(
      async () => (await server.store.getDoc('notes', gone))?.live === false,
      'the delete on the relay',
    );
    const horizon = await server.store.compact(Date.now() + 60_000);
    expect(horizon).toBe(server.relay.version());

    const back = await openDevice('alice', file, { offline: true });
    const mine = await back.engine.insert('notes', { title: 'written offline', store: 15 });
    await back.engine.update('notes', kept, { title: 'kept, renamed offline' });
    back.link.up();
    await until(() => converged([back, b]), 'a and b agree');
    expect(await titles(back, 15)).toEqual(['kept, renamed offline', 'written offline']);
    expect(await back.engine.get('notes', gone)).toBeUndefined();
    expect(await b.engine.get('notes', mine)).toBeDefined();
  });

  it('keeps a document with an unsynced write through an unsubscribe, until the write is acknowledged', async () => {
    const a = await openDevice('alice');
    const b = await openDevice('bob');
    const sub = a.client.subscribe('notes', q.eq('store', 16));
    await sub.ready;
    await b.client.subscribe('notes', q.eq('store', 16)).ready;
    const id = await b.engine.insert('notes', { title: 'shared', store: 16 });
    const other = await b.engine.insert('notes', { title: 'untouched', store: 16 });
    await until(() => converged([a, b]), 'the notes on a');
    a.link.down();
    await a.engine.update('notes', id, { title: 'edited just before leaving' });
    await sub.unsubscribe();
    expect(await a.engine.get('notes', other)).toBeUndefined();
    expect(await a.engine.get('notes', id)).toMatchObject({ title: 'edited just before leaving' });
    a.link.up();
    await until(
      async () => (await b.engine.get('notes', id))?.title === 'edited just before leaving',
      'the edit on b',
    );
    await until(
      async () => (await a.engine.get('notes', id)) === undefined,
      'the note leaving a once acknowledged',
    );
    expect(await a.engine.pendingCount()).toBe(0);
  });

  it('drops, once a renewed subscription synced, a document the relay deleted while it was not subscribed', async () => {
    const a = await openDevice('alice');
    const b = await openDevice('bob');
    await a.client.subscribe('notes', q.eq('store', 17)).ready;
    await b.client.subscribe('notes', q.eq('store', 17)).ready;
    const id = await b.engine.insert('notes', { title: 'soon deleted', store: 17 });
    await until(() => converged([a, b]), 'the note on a');
    a.link.down();
    await a.engine.update('notes', id, { title: 'edited offline' });
    await a.client.unsubscribe(a.client.subscribe('notes', q.eq('store', 17)).id);
    const again = a.client.subscribe('notes', q.eq('store', 17));
    await again.saved;
    expect(await a.engine.get('notes', id)).toMatchObject({ title: 'edited offline' });
    await b.engine.delete('notes', id);
    await until(async () => (await b.engine.pendingCount()) === 0, 'the delete acknowledged');
    a.link.up();
    await again.ready;
    await until(async () => (await a.engine.pendingCount()) === 0, "a's edit acknowledged");
    await until(async () => (await a.engine.get('notes', id)) === undefined, 'the deleted note leaving a');
    expect(await titles(a, 17)).toEqual(await titles(b, 17));
  });

  it('lets an edit made after seeing a value win, even when the editing device clock is behind', async () => {
    const fast = await openDevice('alice', undefined, { now: () => Date.now() + 30_000 });
    const slow = await openDevice('bob');
    await fast.client.subscribe('notes', q.eq('store', 17)).ready;
    await slow.client.subscribe('notes', q.eq('store', 17)).ready;
    const id = await fast.engine.insert('notes', { title: 'from the till whose clock is ahead', store: 17 });
    await until(async () => (await slow.engine.get('notes', id)) !== undefined, 'the note on the slow till');
    await slow.engine.update('notes', id, { title: 'corrected after reading it' });
    await until(() => converged([fast, slow]), 'both tills agree');
    expect((await fast.engine.get('notes', id))?.title).toBe('corrected after reading it');
  });

  it('keeps writes made offline and converges once the device is back', async () => {
    const a = await openDevice('alice');
    const b = await openDevice('bob');
    await a.client.subscribe('notes', q.eq('store', 3)).ready;
    await b.client.subscribe('notes', q.eq('store', 3)).ready;
    const shared = await b.engine.insert('notes', { title: 'shared', store: 3 });
    await until(async () => (await a.engine.get('notes', shared)) !== undefined, 'shared on a');

    // The ping timeout shows in lastError only until the next reconnect attempt fails ("could not connect",
    // a few ms later): watch every status, not a snapshot of it.
    const problems: string[] = [];
    a.client.onStatus((status) => {
      if (status.lastError) problems.push(status.lastError.code);
    });
    a.link.down('blackhole');
    for (let i = 0; i < 5; i++) await a.engine.insert('notes', { title: `offline ${i}`, store: 3 });
    await a.engine.increment('notes', shared, 'count', 2);
    await b.engine.increment('notes', shared, 'count', 3);
    await b.engine.update('notes', shared, { title: 'shared, renamed on b' });
    await until(() => a.client.status().pendingUploads === 6, 'a counts its pending writes');
    await until(() => problems.includes('ping_timeout'), 'a notices the dead link');
    expect(a.client.status().connected).toBe(false);
    expect(await titles(b)).not.toContain('offline 0');

    a.link.up();
    await until(() => converged([a, b]), 'convergence');
    expect(await titles(b)).toEqual([
      'offline 0',
      'offline 1',
      'offline 2',
      'offline 3',
      'offline 4',
      'shared, renamed on b',
    ]);
    expect((await b.engine.get('notes', shared))?.count).toBe(5);
    expect(a.client.status().pendingUploads).toBe(0);
  });

  it('converges three devices after random writes and random disconnects', async () => {
    const seed = Number(process.env.LOAM_SYNC_SEED ?? 20_240_611);
    const rng = createRng(seed);
    const all = [await openDevice('u1'), await openDevice('u2'), await openDevice('u3')];
    for (const d of all) await d.client.subscribe('notes', q.eq('store', 4)).ready;
    const ids: string[] = [];
    for (let step = 0; step < 120; step++) {
      const d = rng.pick(all);
      const roll = rng();
      if (roll < 0.1) d.link.down(rng.chance(0.5) ? 'cut' : 'blackhole');
      else if (roll < 0.2) d.link.up();
      else if (roll < 0.45 || ids.length === 0)
        ids.push(await d.engine.insert('notes', { title: `s${step}`, store: 4 }));
      else {
        const id = rng.pick(ids);
        if (!(await d.engine.get('notes', id))) continue;
        if (roll < 0.7) await d.engine.update('notes', id, { title: `s${step}` });
        else if (roll < 0.92) await d.engine.increment('notes', id, 'count', rng.int(-3, 5));
        else await d.engine.delete('notes', id);
      }
      if (step % 10 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    for (const d of all) d.link.up();
    await until(() => converged(all), `convergence (seed ${seed})`, 30_000);
    expect((await notes(all[0]!)).length).toBeGreaterThan(0);
  });

  it('reverts a refused write, logs it and tells the app; other devices never see it', async () => {
    const a = await openDevice('alice');
    const b = await openDevice('bob');
    await a.client.subscribe('notes', q.eq('store', 5)).ready;
    await b.client.subscribe('notes', q.eq('store', 5)).ready;
    const announced: RefusedWrite[] = [];
    a.client.onRefused((r) => announced.push(r));
    const id = await a.engine.insert('notes', { title: 'till 5', store: 5 });
    await until(async () => (await b.engine.get('notes', id)) !== undefined, 'the note on b');
    await a.engine.update('notes', id, { locked: 'yes', title: 'till 5, renamed' });
    expect((await a.engine.get('notes', id))?.locked).toBe('yes');

    await until(() => announced.length === 2, 'the refusals');
    expect(announced.map((r) => [r.doc, r.code])).toEqual([
      [id, 'field_denied'],
      [id, 'depends_on_refused'],
    ]);
    expect((await a.engine.refusedWrites()).map((r) => r.code).sort()).toEqual([
      'depends_on_refused',
      'field_denied',
    ]);
    await until(async () => (await a.engine.get('notes', id))?.locked === undefined, 'the revert');
    expect(await a.engine.get('notes', id)).toMatchObject({ title: 'till 5' });
    await until(() => a.client.status().pendingUploads === 0, 'outbox empty');
    expect(await b.engine.get('notes', id)).toMatchObject({ title: 'till 5' });
    expect((await b.engine.get('notes', id))?.locked).toBeUndefined();
  });

  it('reverts a refused write even when the link drops right after the ack that refused it', async () => {
    // a's connections end right after an ack that refuses something (once armed): nothing after it arrives.
    const link = createLink(server.wsUrl);
    let armed = false;
    const cutting: TransportFactory = () => {
      const t = link.factory();
      let cut = false;
      return {
        ...t,
        onFrame: (listener) =>
          t.onFrame((frame) => {
            if (cut) return;
            listener(frame);
            const m = decodeServerMessage(frame);
            if (armed && m.t === 'ack' && m.refused.length > 0) {
              cut = true;
              t.close();
            }
          }),
      };
    };
    const file = `device-${++fileCounter}.db`;
    const engine = await openEngine({
      driver: await createBetterSqlite3Storage({ filename: join(dir, file) }),
      schema: schema as Schema,
    });
    const client = createSyncClient({
      store: engine.syncStore,
      transportFactory: cutting,
      getToken: () => tokenFor('alice'),
      backoff: { baseMs: 20, maxMs: 200 },
    });
    devices.push({ engine, client, link, file });
    client.start();
    await client.subscribe('notes', q.eq('store', 25)).ready;
    const id = await engine.insert('notes', { title: 'till 25', store: 25 });
    await until(async () => (await engine.pendingCount()) === 0, 'the note uploaded');

    armed = true;
    await engine.update('notes', id, { locked: 'yes' });
    await until(async () => (await engine.refusedWrites()).length === 1, 'the refusal');
    await until(async () => client.status().connected, 'connected again');
    await until(async () => (await engine.get('notes', id))?.locked === undefined, 'the revert');
    expect(await engine.get('notes', id)).toMatchObject({ title: 'till 25' });
    expect(await engine.pendingCount()).toBe(0);
  });

  it('removes, on unsubscribe, the documents no other subscription covers, without deleting them', async () => {
    const a = await openDevice('alice');
    const b = await openDevice('bob');
    await a.client.subscribe('notes', q.in('store', [6, 7])).ready;
    for (const [title, store] of [
      ['six', 6],
      ['seven', 7],
    ] as const)
      await a.engine.insert('notes', { title, store });
    await until(() => a.client.status().pendingUploads === 0, 'uploaded');
    const narrow = b.client.subscribe('notes', q.eq('store', 6));
    const wide = b.client.subscribe('notes', q.in('store', [6, 7]));
    await narrow.ready;
    await wide.ready;
    expect(await titles(b)).toEqual(['seven', 'six']);

    await wide.unsubscribe();
    expect(await titles(b)).toEqual(['six']);
    await a.engine.insert('notes', { title: 'seven again', store: 7 });
    await a.engine.insert('notes', { title: 'six again', store: 6 });
    await until(async () => (await titles(b)).includes('six again'), 'new store-6 note on b');
    expect(await titles(b)).toEqual(['six', 'six again']);
    expect(await titles(a)).toEqual(['seven', 'seven again', 'six', 'six again']);
    expect(await b.engine.pendingCount()).toBe(0);

    await b.client.subscribe('notes', q.eq('store', 7)).ready;
    expect(await titles(b)).toEqual(['seven', 'seven again', 'six', 'six again']);
  });

  it('resumes after a restart with its subscriptions and cursor, receiving only what it missed', async () => {
    const a = await openDevice('alice');
    const b = await openDevice('bob');
    await a.client.subscribe('notes', q.eq('store', 8)).ready;
    await b.client.subscribe('notes', q.eq('store', 8)).ready;
    await a.engine.insert('notes', { title: 'before', store: 8 });
    await until(async () => (await titles(b)).includes('before'), 'before on b');
    await until(
      () => b.client.status().pendingUploads === 0 && b.client.status().downloading === null,
      'idle',
    );
    const file = b.file;
    await closeDevice(b);

    await a.engine.insert('notes', { title: 'while b was closed', store: 8 });
    await until(() => a.client.status().pendingUploads === 0, 'a uploaded');
    const reopened = await openDevice('bob', file);
    expect(await reopened.client.subscriptions()).toMatchObject([
      { query: { collection: 'notes' }, synced: true },
    ]);
    expect(await reopened.engine.syncStore.cursor()).toBeGreaterThan(0);
    await until(async () => (await titles(reopened)).includes('while b was closed'), 'the missed note');
    expect(await titles(reopened)).toEqual(['before', 'while b was closed']);
  });

  it('fetches a fresh token when the relay ends the session of an expired one, and keeps syncing', async () => {
    let issued = 0;
    const a = await openDevice('alice', undefined, {
      getToken: () => tokenFor('alice', ++issued === 1 ? 1 : 3600),
    });
    const b = await openDevice('bob');
    await a.client.subscribe('notes', q.eq('store', 9)).ready;
    await b.client.subscribe('notes', q.eq('store', 9)).ready;
    await until(() => issued >= 2, 'a second token after the first expired', 10_000);
    await b.engine.insert('notes', { title: 'after expiry', store: 9 });
    await until(async () => (await titles(a)).includes('after expiry'), 'the note on a');
    expect(a.client.status()).toMatchObject({ state: 'connected', connected: true, lastError: null });
  });

  it("keeps the relay's permissions for its token across a restart, and takes new ones when the claims change", async () => {
    let role = 'clerk';
    const getToken = () => relay.tokenFor('dana', { claims: { role } });
    const a = await openDevice('dana', undefined, { getToken });
    const seen: Permissions[] = [];
    a.client.onPermissions((p) => seen.push(p));
    const clerk = await until(() => a.client.permissions(), 'the permissions of the clerk token');
    expect(clerk.rules).toEqual({ notes: { roles: [expect.objectContaining({ name: 'clerk' })] } });
    expect(clerk.claims).toMatchObject({ sub: 'dana', role: 'clerk' });
    const note = { id: 'n1', title: 'x', store: 1, count: 0 };
    const lock = {
      kind: 'update',
      before: note,
      after: { ...note, locked: 'y' },
      touchedFields: ['locked'],
    } as const;
    expect(checkPermission(clerk, 'notes', lock)).toMatchObject({ ok: false, code: 'field_denied' });

    role = 'visitor';
    await a.client.refreshToken();
    await until(() => seen.some((p) => p.claims.role === 'visitor'), 'the permissions of the new claims');
    expect(await a.client.permissions()).toMatchObject({ rules: {}, claims: { role: 'visitor' } });

    const file = a.file;
    await closeDevice(a);
    const offline = await openDevice('dana', file, { getToken: () => new Promise<string>(() => undefined) });
    expect(await offline.client.permissions()).toMatchObject({ rules: {}, claims: { role: 'visitor' } });
  });

  it('stops retrying when the relay runs another schema version, and says why', async () => {
    let attempts = 0;
    const d = await openDevice('carol', undefined, {
      schema: { ...schema, version: 2 },
      getToken: () => {
        attempts++;
        return tokenFor('carol');
      },
    });
    await until(() => d.client.status().state === 'failed', 'failed');
    expect(d.client.status().lastError).toMatchObject({ code: 'schema_mismatch', fatal: true });
    const failedAfter = attempts;
    await d.engine.insert('notes', { title: 'kept locally', store: 1 });
    await until(() => d.client.status().pendingUploads === 1, 'pending count');
    expect(attempts).toBe(failedAfter);
    expect(d.client.status().state).toBe('failed');
  });
});
