import { NotFoundError } from '@loam/core';
import type { WatchEvent } from '@loam/db-worker';
import { type DbRequest, serveChannel } from '@loam/db-worker';
import { afterEach, expect, it } from 'vitest';
import { createChannelClient } from './channel-client';

const open: BroadcastChannel[] = [];
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
  for (const c of open.splice(0)) c.close();
});

let counter = 0;
function channelPair() {
  const name = `test-${++counter}`;
  const make = () => {
    const c = new BroadcastChannel(name);
    open.push(c);
    return c;
  };
  return make;
}

const write = (requestId: string): DbRequest => ({
  type: 'write',
  requestId,
  intents: [{ kind: 'delete', collection: 'items', id: 'x' }],
});

/** A leader whose requests and subscriptions are recorded; `answer` false leaves requests unanswered. */
function startLeader(make: () => BroadcastChannel, leaderId: string, answer: boolean) {
  const received: DbRequest[] = [];
  const listeners = new Set<(event: WatchEvent) => void>();
  const server = serveChannel({
    channel: make(),
    leaderId,
    storage: { kind: 'memory', backend: 'wa-sqlite/MemoryVFS', persistent: false },
    handle: (request) => {
      received.push(request);
      if (!answer) return new Promise(() => undefined);
      if (request.type === 'read') return Promise.reject(new NotFoundError('items', 'x'));
      return Promise.resolve(`${leaderId}:${(request as { requestId?: string }).requestId}`);
    },
    watch: (_spec, listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  });
  cleanups.push(() => server.close());
  return { received, listeners, server };
}

const until = async (condition: () => boolean) => {
  const deadline = Date.now() + 5000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not reached in 5 s');
    await new Promise((r) => setTimeout(r, 5));
  }
};

it('holds requests until a leader announces itself, and resends unanswered ones, unchanged, to the next leader', async () => {
  const make = channelPair();
  const client = createChannelClient({ channel: make(), tabId: 'tab-1' });
  cleanups.push(() => client.close());
  const reply = client.call(write('w-1'));

  const dying = startLeader(make, 'leader-A', false);
  await until(() => dying.received.length === 1);
  dying.server.close();

  const next = startLeader(make, 'leader-B', true);
  expect(await reply).toBe('leader-B:w-1');
  expect(next.received).toEqual([write('w-1')]);
  expect(client.leaderId).toBe('leader-B');
});

it('rebuilds errors from their code, and resubscribes live queries to a new leader', async () => {
  const make = channelPair();
  const first = startLeader(make, 'leader-A', true);
  const client = createChannelClient({ channel: make(), tabId: 'tab-1' });
  cleanups.push(() => client.close());
  await client.firstLeader;
  await expect(
    client.call({ type: 'read', op: { kind: 'get', collection: 'items', id: 'x' } }),
  ).rejects.toBeInstanceOf(NotFoundError);

  const events: WatchEvent[] = [];
  const unsubscribe = client.subscribe({ kind: 'sql', sql: 'SELECT 1' }, (e) => events.push(e));
  await until(() => first.listeners.size === 1);
  first.server.close();
  const second = startLeader(make, 'leader-B', true);
  await until(() => second.listeners.size === 1);
  for (const listener of second.listeners) listener({ kind: 'rows', rows: [{ n: 1 }] });
  await until(() => events.length === 1);

  unsubscribe();
  await until(() => second.listeners.size === 0);
  expect(events).toEqual([{ kind: 'rows', rows: [{ n: 1 }] }]);
});

it('a call with no leader rejects with leader_unavailable after leaderTimeoutMs; once a leader comes, calls go through', async () => {
  const make = channelPair();
  const client = createChannelClient({ channel: make(), tabId: 'tab', leaderTimeoutMs: 100 });
  cleanups.push(() => client.close());
  await expect(client.call(write('w1'))).rejects.toMatchObject({ code: 'leader_unavailable' });
  startLeader(make, 'L1', true);
  await expect(client.call(write('w2'))).resolves.toBe('L1:w2');
  const other = channelPair();
  const silent = createChannelClient({ channel: other(), tabId: 'tab2' });
  cleanups.push(() => silent.close());
  startLeader(other, 'L2', false);
  await until(() => silent.leaderId !== undefined);
  await expect(silent.call(write('w3'), 100)).rejects.toMatchObject({ code: 'leader_unavailable' });
});
