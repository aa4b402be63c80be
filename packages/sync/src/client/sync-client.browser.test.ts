import type { Rules } from '@loam/core';
import type { LoamServer } from '@loam/server';
import { startTestRelay, type TestRelay } from '@loam/server/testing';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { useBrowserHarness, type WorkerHandle } from '../../../../test/browser/harness';
import { createRng } from '../../../../test/convergence/random';
import { deviceSchema } from '../../test-pages/device-schema';
import type { SyncStatus } from './sync-client';

const browser = useBrowserHarness();

const rules: Rules = {
  notes: { roles: [{ name: 'clerk', read: true, write: true, insert: true, delete: true }] },
};

let relay: TestRelay;
let server: LoamServer;

beforeAll(async () => {
  relay = await startTestRelay(deviceSchema, rules);
  server = relay.server;
});

afterAll(() => relay?.close());

const tokenFor = (user: string) => relay.tokenFor(user);

async function openDevice(name: string, store = 1): Promise<{ page: Page; device: WorkerHandle }> {
  const page = await browser().newPage();
  const device = await browser().startWorker(page, '/packages/sync/test-pages/sync-device-worker.ts');
  await device.call('open', server.wsUrl, name, await tokenFor(name), store);
  return { page, device };
}

type Note = { id: string; title: string; count: number; memo: string };
const note = (d: WorkerHandle, id: string) => d.call<Note | undefined>('get', id);

const until = <T>(probe: () => Promise<T>, what: string, timeout: number) =>
  vi.waitFor(
    async () => {
      const value = await probe();
      if (!value) throw new Error(`still waiting for ${what}`);
      return value;
    },
    { timeout, interval: 10 },
  );

it('syncs two browser devices through the relay, across one going offline and back', async () => {
  const a = await openDevice('till-a');
  const b = await openDevice('till-b');
  const titles = (d: WorkerHandle) => d.call<string[]>('titles');
  const status = (d: WorkerHandle) => d.call<SyncStatus>('status');

  await a.device.call('write', 'sold while online', 1);
  await until(
    async () => (await titles(b.device)).includes('sold while online'),
    'the online write on b',
    5_000,
  );

  await a.page.context().setOffline(true);
  await until(async () => (await status(a.device)).state === 'offline', 'a noticing it is offline', 5_000);
  for (const t of ['offline sale 1', 'offline sale 2', 'offline sale 3']) await a.device.call('write', t, 1);
  expect((await status(a.device)).pendingUploads).toBe(3);
  expect(await titles(a.device)).toEqual([
    'offline sale 1',
    'offline sale 2',
    'offline sale 3',
    'sold while online',
  ]);
  expect(await titles(b.device)).toEqual(['sold while online']);

  await a.page.context().setOffline(false);
  await until(
    async () => (await titles(b.device)).length === 4,
    'the offline writes on b within a second',
    1_000,
  );
  expect(await titles(b.device)).toEqual([
    'offline sale 1',
    'offline sale 2',
    'offline sale 3',
    'sold while online',
  ]);
  await until(async () => (await status(a.device)).pendingUploads === 0, 'a acknowledged', 5_000);
  expect(await status(a.device)).toMatchObject({ state: 'connected', connected: true });
});

it('on OPFS, concurrent transactions where random ones throw never reuse an op id, and every commit reaches the relay', async () => {
  const a = await openDevice('till-c', 2);
  const b = await openDevice('till-d', 2);
  const id = await a.device.call<string>('write', 'start', 2);
  await until(async () => (await note(b.device, id)) !== undefined, 'the note on b', 5_000);
  await a.page.context().setOffline(true);
  await until(
    async () => (await a.device.call<SyncStatus>('status')).state === 'offline',
    'a offline',
    5_000,
  );
  const rng = createRng(11);
  const committed: string[] = [];
  let opIds: string[] = [];
  for (let round = 0; round < 8; round++) {
    const batch = Array.from({ length: rng.int(2, 4) }, (_, i) => ({
      name: `r${round}t${i}`,
      fail: rng.chance(0.4),
    }));
    const outcome = await a.device.call<{ committed: string[]; opIds: string[] }>('concurrent', id, batch);
    committed.push(...outcome.committed);
    opIds = outcome.opIds;
  }
  expect(new Set(opIds).size).toBe(opIds.length);
  expect(opIds).toHaveLength(committed.length * 2);
  await a.page.context().setOffline(false);
  await until(
    async () => (await note(b.device, id))?.count === committed.length,
    'every increment on b',
    10_000,
  );
  expect((await note(b.device, id))?.title).toBe(committed.at(-1));
});

it('on OPFS, a database put back from an older copy recovers: writes made after it reach the other device', async () => {
  const name = 'till-e';
  const a = await openDevice(name, 3);
  const b = await openDevice('till-f', 3);
  const id = await a.device.call<string>('apply', {
    kind: 'insert',
    collection: 'notes',
    doc: { title: 'kept', store: 3, memo: 'hello' },
  });
  await until(async () => (await note(b.device, id)) !== undefined, 'the note on b', 5_000);
  await a.device.call('close');
  expect(await a.device.call<number>('copyFiles', name, 'backup')).toBeGreaterThan(0);

  await a.device.call('open', server.wsUrl, name, await tokenFor(name), 3);
  await a.device.call('apply', { kind: 'update', collection: 'notes', id, patch: { title: 'renamed' } });
  await a.device.call('apply', { kind: 'increment', collection: 'notes', id, field: 'count', by: 2 });
  await a.device.call('apply', {
    kind: 'textInsert',
    collection: 'notes',
    id,
    field: 'memo',
    index: 5,
    text: ' world',
  });
  await until(async () => (await note(b.device, id))?.memo === 'hello world', 'the later writes on b', 5_000);
  await a.device.call('close');
  await a.device.call('copyFiles', name, 'backup', true);

  await a.device.call('open', server.wsUrl, name, await tokenFor(name), 3, false);
  expect((await note(a.device, id))?.title).toBe('kept');
  const fresh = await a.device.call<string>('write', 'written after the restore', 3);
  await a.device.call('apply', { kind: 'increment', collection: 'notes', id, field: 'count', by: 3 });
  await a.device.call('apply', {
    kind: 'textInsert',
    collection: 'notes',
    id,
    field: 'memo',
    index: 0,
    text: '> ',
  });
  await a.device.call('start');
  await until(async () => (await note(b.device, fresh)) !== undefined, 'the new note on b', 10_000);
  await until(async () => (await note(b.device, id))?.count === 5, 'both increments on b', 10_000);
  expect(await note(b.device, id)).toMatchObject({ title: 'renamed', memo: '> hello world' });
  await until(
    async () => (await a.device.call<SyncStatus>('status')).pendingUploads === 0,
    'a uploaded',
    5_000,
  );
  expect(await note(a.device, id)).toEqual(await note(b.device, id));
  expect(await a.device.call<string[]>('problems')).toContain('replica_restored');
});

it('on OPFS, a client reset past the history horizon drops what the relay deleted and keeps unsynced writes', async () => {
  const name = 'till-g';
  const a = await openDevice(name, 4);
  const b = await openDevice('till-h', 4);
  const gone = await b.device.call<string>('write', 'deleted while a was away', 4);
  const kept = await b.device.call<string>('write', 'kept', 4);
  await until(async () => (await a.device.call<string[]>('titles')).length === 2, 'both notes on a', 5_000);
  await a.device.call('close');
  await b.device.call('apply', { kind: 'delete', collection: 'notes', id: gone });
  await until(
    async () => (await server.store.getDoc('notes', gone))?.live === false,
    'the delete on the relay',
    5_000,
  );
  await server.store.compact(Date.now() + 60_000);

  await a.device.call('open', server.wsUrl, name, await tokenFor(name), 4, false);
  const mine = await a.device.call<string>('write', 'written offline', 4);
  await a.device.call('apply', {
    kind: 'update',
    collection: 'notes',
    id: kept,
    patch: { title: 'kept, renamed offline' },
  });
  await a.device.call('start');
  await until(async () => (await note(b.device, mine)) !== undefined, 'the offline note on b', 10_000);
  await until(
    async () =>
      JSON.stringify(await a.device.call('titles')) ===
      JSON.stringify(['kept, renamed offline', 'written offline']),
    'the relay view on a, with its own writes',
    10_000,
  );
  expect(await b.device.call<string[]>('titles')).toEqual(['kept, renamed offline', 'written offline']);
});
