import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { asReplicaId, defineSchema, f, q } from '@loam/core';
import { createDbWorkerApi, type DbWorkerApi, SyncNotConfiguredError } from '@loam/db-worker';
import { openEngine } from '@loam/store';
import { createBetterSqlite3Storage } from '@loam/store/node';
import {
  type ClientMessage,
  createSyncClient,
  decodeClientMessage,
  encodeMessage,
  PROTOCOL_VERSION,
  type ServerMessage,
  type SyncStatus,
  type TransportCloseEvent,
  type TransportFactory,
} from '@loam/sync';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { type ChannelClient, createChannelClient } from './channel-client';
import { createSyncApi, type SyncApi } from './sync';

const schema = defineSchema({ version: 1, collections: { notes: { fields: { title: f.string() } } } });

let dir: string;
let counter = 0;
const cleanups: (() => Promise<void> | void)[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'loam-client-sync-'));
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  rmSync(dir, { recursive: true, force: true });
});

/**
 * A relay stand-in: welcomes every connection, answers `subscribe` with `synced` while `answering`, denies
 * subscriptions with a filter, and records what it received.
 */
function createRelay() {
  const received: ClientMessage[] = [];
  const relay = { received, answering: true, factory: undefined as unknown as TransportFactory };
  relay.factory = () => {
    const opens = new Set<() => void>();
    const frames = new Set<(frame: Uint8Array) => void>();
    const closes = new Set<(event: TransportCloseEvent) => void>();
    let closed = false;
    const reply = (message: ServerMessage) =>
      setTimeout(() => {
        if (!closed) for (const l of frames) l(encodeMessage(message));
      }, 0);
    setTimeout(() => {
      if (!closed) for (const l of opens) l();
    }, 0);
    const on =
      <L>(set: Set<L>) =>
      (listener: L) => {
        set.add(listener);
        return () => set.delete(listener);
      };
    return {
      send(frame) {
        if (closed) return;
        const m = decodeClientMessage(frame);
        received.push(m);
        if (m.t === 'hello') {
          reply({
            t: 'welcome',
            protocol: PROTOCOL_VERSION,
            server: asReplicaId('server0000000000'),
            cursor: 0,
            reset: false,
            user: 'u1',
          });
        } else if (m.t === 'subscribe' && m.sub.query.filter) {
          reply({ t: 'error', code: 'subscription_denied', message: 'no', fatal: false, sub: m.sub.id });
        } else if (m.t === 'subscribe' && relay.answering) {
          reply({ t: 'synced', sub: m.sub.id, cursor: 1 });
        } else if (m.t === 'ping') reply({ t: 'pong' });
      },
      close() {
        if (closed) return;
        closed = true;
        setTimeout(() => {
          for (const l of closes) l({ code: 1000, reason: '' });
        }, 0);
      },
      onOpen: on(opens),
      onFrame: on(frames),
      onClose: on(closes),
      onError: () => () => undefined,
    };
  };
  return relay;
}

/** A leader's worker API on the shared database file, serving `channel`; sync against `relay` when given. */
async function startLeader(
  channel: string,
  relay: ReturnType<typeof createRelay> | undefined,
  getToken: () => Promise<string | null>,
): Promise<DbWorkerApi> {
  const api = createDbWorkerApi({
    openDriver: () => createBetterSqlite3Storage({ filename: join(dir, 'db.sqlite') }),
    openEngine: (options) => openEngine(options),
    whenLockFree: () => undefined,
    createSyncClient: (options) =>
      createSyncClient({
        ...options,
        ...(relay ? { transportFactory: relay.factory } : {}),
        backoff: { baseMs: 10, maxMs: 50 },
      }),
  });
  cleanups.push(() => api.close());
  await api.open(
    {
      name: 'db',
      schema,
      channel,
      leaderId: `leader-${++counter}`,
      ...(relay ? { sync: { url: 'ws://relay.invalid/sync' } } : {}),
    },
    getToken,
  );
  return api;
}

/** A follower tab: the sync API over the database channel. */
async function startFollower(channel: string): Promise<{ api: SyncApi; client: ChannelClient }> {
  const port = new BroadcastChannel(channel);
  const client = createChannelClient({ channel: port, tabId: `tab-${++counter}` });
  cleanups.push(() => {
    client.close();
    port.close();
  });
  await client.firstLeader;
  return {
    client,
    api: createSyncApi({ request: (r) => client.call(r), subscribe: (s, e) => client.subscribe(s, e) }),
  };
}

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`still waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

it('serves sync to a follower tab, and a new leader resumes its subscriptions with its own token', async () => {
  const channel = `sync-${++counter}`;
  const relay = createRelay();
  const tokens: string[] = [];
  relay.answering = false;
  const first = await startLeader(channel, relay, async () => {
    tokens.push('first tab');
    return 'token-1';
  });
  const { api } = await startFollower(channel);
  const statuses: SyncStatus[] = [];
  api.sync.onStatus((s) => statuses.push(s));
  await until(() => statuses.at(-1)?.state === 'connected', 'connected through the first leader');

  const sub = await api.subscribe('notes');
  const denied = await api.subscribe('notes', q.eq('title', 'secret'));
  expect(await denied.ready).toMatchObject({ status: 'denied', code: 'subscription_denied' });
  let outcome: unknown;
  void sub.ready.then((o) => {
    outcome = o;
  });

  await first.close();
  relay.answering = true;
  await startLeader(channel, relay, async () => {
    tokens.push('second tab');
    return 'token-2';
  });
  await until(() => outcome !== undefined, 'ready settled by the new leader');
  expect(outcome).toEqual({ status: 'synced' });
  expect(tokens).toEqual(['first tab', 'second tab']);
  expect(relay.received.filter((m) => m.t === 'hello').map((m) => (m as { token: unknown }).token)).toEqual([
    'token-1',
    'token-2',
  ]);
  await until(() => statuses.at(-1)?.state === 'connected', 'connected through the second leader');

  await api.sync.stop();
  expect(await api.sync.status()).toMatchObject({ state: 'stopped', connected: false });
  await until(() => statuses.at(-1)?.state === 'stopped', 'the follower hearing of the stop');
  await api.sync.start();
  await until(() => statuses.at(-1)?.state === 'connected', 'connected again after start');

  await sub.unsubscribe();
  await until(
    () => relay.received.some((m) => m.t === 'unsubscribe' && m.id === sub.id),
    'the relay told of the unsubscription',
  );
  const again = await api.subscribe('notes');
  expect(again.id).toBe(sub.id);
  expect(await again.ready).toEqual({ status: 'synced' });

  for (let i = 1; i < statuses.length; i++) expect(statuses[i]).not.toEqual(statuses[i - 1]);
});

it('without sync options: status stopped, stop does nothing, other sync calls reject sync_not_configured', async () => {
  const channel = `nosync-${++counter}`;
  await startLeader(channel, undefined, async () => null);
  const { api } = await startFollower(channel);
  const statuses: SyncStatus[] = [];
  api.sync.onStatus((s) => statuses.push(s));
  await until(() => statuses.length === 1, 'the first status');
  expect(statuses[0]).toMatchObject({ state: 'stopped', connected: false, pendingUploads: 0 });
  expect(await api.sync.status()).toEqual(statuses[0]);
  await api.sync.stop();

  const start = await api.sync.start().catch((e: unknown) => e);
  expect(start).toBeInstanceOf(SyncNotConfiguredError);
  expect(start).toMatchObject({ code: 'sync_not_configured' });
  await expect(api.subscribe('notes')).rejects.toMatchObject({ code: 'sync_not_configured' });
  await expect(api.sync.refreshToken()).rejects.toMatchObject({ code: 'sync_not_configured' });
});

it('rejects a subscription to an unknown collection with subscription_invalid, from a follower', async () => {
  const channel = `invalid-${++counter}`;
  await startLeader(channel, createRelay(), async () => 'token');
  const { api } = await startFollower(channel);
  await expect(api.subscribe('no_such_collection')).rejects.toMatchObject({
    code: 'subscription_invalid',
    name: 'SyncClientError',
  });
});
