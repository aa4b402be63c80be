import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Rules } from '@loam/core';
import { type LoamServer, parseConfig, startServer } from '@loam/server';
import { SignJWT } from 'jose';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { useBrowserHarness, type WorkerHandle } from '../../../../test/browser/harness';
import { deviceSchema } from '../../test-pages/device-schema';
import type { SyncStatus } from './sync-client';

const browser = useBrowserHarness();

const SECRET = 'a-development-secret-of-at-least-32-chars';
const rules: Rules = {
  notes: { roles: [{ name: 'clerk', read: true, write: true, insert: true, delete: true }] },
};

let dir: string;
let server: LoamServer;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'loam-sync-browser-'));
  writeFileSync(join(dir, 'schema.json'), JSON.stringify(deviceSchema));
  writeFileSync(join(dir, 'rules.json'), JSON.stringify(rules));
  server = await startServer({
    config: parseConfig(
      {
        port: 0,
        host: '127.0.0.1',
        storagePath: './server.db',
        schemaFile: './schema.json',
        rulesFile: './rules.json',
        allowedOrigins: ['*'],
        auth: { hs256Secret: SECRET, issuer: 'loam-tests', audience: 'loam-relay', anonymous: false },
      },
      { baseDir: dir, env: {} },
    ),
  });
});

afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

const tokenFor = (user: string) =>
  new SignJWT({})
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(user)
    .setIssuer('loam-tests')
    .setAudience('loam-relay')
    .setExpirationTime('1h')
    .sign(new TextEncoder().encode(SECRET));

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
