import type { Rules } from '@loam/core';
import type { LoamServer } from '@loam/server';
import { startTestRelay, type TestRelay } from '@loam/server/testing';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { useBrowserHarness, type WorkerHandle } from '../../../../test/browser/harness';
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

async function openDevice(name: string): Promise<{ page: Page; device: WorkerHandle }> {
  const page = await browser().newPage();
  const device = await browser().startWorker(page, '/packages/sync/test-pages/sync-device-worker.ts');
  await device.call('open', server.wsUrl, name, await tokenFor(name), 1);
  return { page, device };
}

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
