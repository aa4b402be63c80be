import type { Rules } from '@loam/core';
import type { LoamServer } from '@loam/server';
import { startTestRelay, type TestRelay } from '@loam/server/testing';
import type { Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, expect, it, vi } from 'vitest';
import { useBrowserHarness } from '../../../test/browser/harness';
import { APP_PAGE, appReady, inApp, openTab, untilApp } from '../test-pages/app-driver';
import { schema } from '../test-pages/schema';

const harness = useBrowserHarness();
const tabErrors: string[] = [];

/** Clerks read and write every note, but may not set `group`. */
const rules: Rules = {
  notes: {
    roles: [
      {
        name: 'clerk',
        read: true,
        write: true,
        insert: true,
        delete: true,
        fields: { write: ['title', 'n', 'place'] },
      },
    ],
  },
};

let relay: TestRelay;
let server: LoamServer;

beforeAll(async () => {
  relay = await startTestRelay(schema, rules);
  server = relay.server;
});

afterAll(() => relay?.close());

afterEach(() => {
  expect(tabErrors.splice(0), 'errors reported by extra tabs').toEqual([]);
});

const syncQuery = async (user: string) => {
  const token = await relay.tokenFor(user);
  return `&sync=${encodeURIComponent(server.wsUrl)}&token=${token}`;
};

/**
 * Starts tracking sync in `page`, watches every local note and subscribes to the notes of store `store` (their
 * `n`; each test writes only its own store's notes to the shared relay); resolves once the subscription synced.
 */
async function syncStore(page: Page, store: number): Promise<Page> {
  await inApp(
    page,
    async (app, n) => {
      app.trackSync();
      app.watch('all', { sort: [{ field: 'title', dir: 'asc' }] });
      await app.subscribe('store', { op: 'eq', field: 'n', value: n });
    },
    store,
  );
  await untilApp(page, (app) => app.outcome('store')?.status === 'synced');
  return page;
}

/** A device (its own browser context) whose first tab opens database `db`, syncing as `user`. */
async function openDevice(db: string, user: string, store: number): Promise<Page> {
  const page = await appReady(await harness().newPage(`${APP_PAGE}?db=${db}${await syncQuery(user)}`));
  return await syncStore(page, store);
}

const titles = (page: Page) => inApp(page, (app) => app.live('all').map((d) => d.title));

it('syncs two devices through db.subscribe, across one going offline, and shows it in the sync status', async () => {
  const a = await openDevice('shop', 'till-a', 1);
  const b = await openDevice('shop', 'till-b', 1);
  expect(await inApp(a, (app) => app.status())).toMatchObject({ state: 'connected', connected: true });

  await inApp(a, (app) => app.notes.insert({ title: 'sold online', n: 1 }));
  await untilApp(b, (app) => app.live('all').some((d) => d.title === 'sold online'));

  await a.context().setOffline(true);
  await untilApp(a, (app) => app.status()?.state === 'offline');
  await inApp(a, async (app) => {
    for (const title of ['offline 1', 'offline 2', 'offline 3']) await app.notes.insert({ title, n: 1 });
  });
  await untilApp(a, (app) => app.status()?.pendingUploads === 3);
  expect(await inApp(a, (app) => app.db.sync.status())).toMatchObject({
    state: 'offline',
    connected: false,
    pendingUploads: 3,
  });
  expect(await titles(a)).toEqual(['offline 1', 'offline 2', 'offline 3', 'sold online']);
  expect(await titles(b)).toEqual(['sold online']);

  await a.context().setOffline(false);
  await untilApp(b, (app) => app.live('all').length === 4);
  expect(await titles(b)).toEqual(['offline 1', 'offline 2', 'offline 3', 'sold online']);
  await untilApp(a, (app) => app.status()?.connected === true && app.status()?.pendingUploads === 0);
  const states = await inApp(a, (app) => app.statuses().map((s) => s.state));
  expect(states.indexOf('offline')).toBeGreaterThan(states.indexOf('connected'));
  expect(states.lastIndexOf('connected')).toBeGreaterThan(states.indexOf('offline'));
});

it('shows a refused write in a follower tab and reverts it; stop/start from a follower; a new leader syncs on', async () => {
  const leader = await openDevice('till', 'till-c', 2);
  const follower = await openTab(
    leader.context(),
    harness().origin,
    'till',
    tabErrors,
    await syncQuery('till-c'),
  );
  const other = await openDevice('till', 'till-d', 2);
  expect(await inApp(follower, (app) => app.role())).toBe('follower');
  await syncStore(follower, 2);
  await untilApp(follower, (app) => app.status()?.state === 'connected');

  const id = await inApp(follower, (app) => app.notes.insert({ title: 'ticket', n: 2 }));
  await untilApp(other, (app) => app.live('all').some((d) => d.title === 'ticket'));
  await inApp(follower, (app, docId) => app.notes.update(docId, { group: 'vip' }), id);
  await untilApp(follower, (app) => app.refused().length === 1);
  expect(await inApp(follower, (app) => app.refused())).toEqual([
    expect.objectContaining({ collection: 'notes', doc: id, code: 'field_denied' }),
  ]);
  await vi.waitFor(
    async () =>
      expect(await inApp(follower, (app, docId) => app.notes.get(docId), id)).not.toHaveProperty('group'),
    { timeout: 10_000, interval: 20 },
  );
  await untilApp(follower, (app) => app.live('all')[0]?.group === undefined);
  expect(await inApp(leader, (app) => app.db.refusedWrites())).toEqual(
    await inApp(follower, (app) => app.refused()),
  );
  expect(await inApp(other, (app) => app.live('all').map((d) => [d.title, d.group]))).toEqual([
    ['ticket', undefined],
  ]);

  await inApp(follower, (app) => app.db.sync.stop());
  await untilApp(follower, (app) => app.status()?.state === 'stopped');
  await inApp(leader, (app) => app.notes.insert({ title: 'while stopped', n: 2 }));
  expect(await inApp(leader, (app) => app.db.sync.status())).toMatchObject({ state: 'stopped' });
  expect(await titles(other)).toEqual(['ticket']);
  await inApp(follower, (app) => app.db.sync.start());
  await untilApp(other, (app) => app.live('all').some((d) => d.title === 'while stopped'));
  await untilApp(follower, (app) => app.status()?.state === 'connected');

  await leader.close();
  await untilApp(follower, (app) => app.role() === 'leader');
  await inApp(follower, (app) => app.notes.insert({ title: 'after takeover', n: 2 }));
  await untilApp(other, (app) => app.live('all').some((d) => d.title === 'after takeover'));
  await inApp(other, (app) => app.notes.insert({ title: 'from the other till', n: 2 }));
  await untilApp(follower, (app) => app.live('all').some((d) => d.title === 'from the other till'));
  await untilApp(follower, (app) => app.status()?.connected === true && app.status()?.pendingUploads === 0);
});

it('loses no write after a failed transaction ran beside a committed one (the two devices agree on 4)', async () => {
  const a = await openDevice('rewind', 'till-e', 3);
  const b = await openDevice('rewind', 'till-f', 3);
  const id = await inApp(a, async (app) => {
    const note = await app.notes.insert({ title: '1', n: 3 });
    const first = app.db.transaction(async (tx) => {
      await tx.collection('notes').update(note, { title: '2' });
      await tx.collection('notes').update(note, { title: '3' });
    });
    const second = app.db.transaction(async (tx) => {
      await tx.collection('notes').update('no-such-note', { title: 'x' });
    });
    await first;
    await second.catch(() => undefined);
    return note;
  });
  await untilApp(b, (app, note) => app.live('all').some((d) => d.id === note && d.title === '3'), id);
  await inApp(a, (app, note) => app.notes.update(note, { title: '4' }), id);
  await untilApp(b, (app, note) => app.live('all').some((d) => d.id === note && d.title === '4'), id);
  await untilApp(a, (app) => app.status()?.pendingUploads === 0);
  expect(await titles(a)).toEqual(['4']);
  expect(await titles(b)).toEqual(['4']);
});

it('keeps both edits when two offline devices change different paths of one object', async () => {
  const a = await openDevice('paths', 'till-g', 4);
  const b = await openDevice('paths', 'till-h', 4);
  const id = await inApp(a, (app) =>
    app.notes.insert({ title: 'Ada', n: 4, place: { city: 'Lyon', zip: '69001' } }),
  );
  await untilApp(b, (app, note) => app.live('all').some((d) => d.id === note), id);
  await a.context().setOffline(true);
  await b.context().setOffline(true);
  await untilApp(a, (app) => app.status()?.state === 'offline');
  await untilApp(b, (app) => app.status()?.state === 'offline');
  await inApp(a, (app, note) => app.notes.update(note, { 'place.city': 'Paris' }), id);
  await inApp(b, (app, note) => app.notes.update(note, { 'place.zip': '75001' }), id);
  await a.context().setOffline(false);
  await b.context().setOffline(false);
  for (const page of [a, b])
    await untilApp(
      page,
      (app) => app.live('all')[0]?.place?.city === 'Paris' && app.live('all')[0]?.place?.zip === '75001',
    );
  expect(
    await inApp(a, (app) => app.failure(() => app.notes.update('x', { 'place.country': 'FR' } as never))),
  ).toMatchObject({
    code: 'validation_failed',
  });
});

it('without sync options, db.sync is stopped and start() rejects with sync_not_configured', async () => {
  const page = await appReady(await harness().newPage(`${APP_PAGE}?db=local`));
  expect(await inApp(page, (app) => app.db.sync.status())).toMatchObject({
    state: 'stopped',
    connected: false,
  });
  expect(await inApp(page, (app) => app.failure(() => app.db.sync.start()))).toMatchObject({
    code: 'sync_not_configured',
    name: 'SyncNotConfiguredError',
    isLoamError: true,
  });
  expect(await inApp(page, (app) => app.failure(() => app.db.subscribe('notes')))).toMatchObject({
    code: 'sync_not_configured',
  });
});
