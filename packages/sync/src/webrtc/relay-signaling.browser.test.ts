/**
 * Two tills (two browser contexts) of one store open a WebRTC link through the relay's signaling, then the relay
 * stops: the link, which no longer needs it, keeps carrying frames between the tills' workers.
 */
import type { Rules } from '@loam/core';
import { startTestRelay, type TestRelay } from '@loam/server/testing';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { useBrowserHarness } from '../../../../test/browser/harness';
import { deviceSchema } from '../../test-pages/device-schema';

const browser = useBrowserHarness({
  preBundle: ['simple-peer/simplepeer.min.js'],
  allowConsoleErrors: [/WebSocket connection to .* failed/],
});
const rules: Rules = {
  notes: { roles: [{ name: 'all', read: true, write: true, insert: true, delete: true }] },
};
let relay: TestRelay | undefined;

beforeAll(async () => {
  relay = await startTestRelay(deviceSchema, rules, { peers: { sameClaims: ['storeId'] } });
});
afterAll(() => relay?.close());

type RelayPeerPage = {
  start(url: string, name: string, token: string): Promise<string>;
  relayConnected(): Promise<boolean>;
  send(prefix: string, count: number): Promise<void>;
  received(): Promise<string[]>;
  state(): Promise<string>;
};
const call = <K extends keyof RelayPeerPage>(page: Page, method: K, ...args: Parameters<RelayPeerPage[K]>) =>
  page.evaluate(
    ([m, a]) =>
      (
        (globalThis as unknown as { __relayPeerPage: RelayPeerPage }).__relayPeerPage[m] as (
          ...x: unknown[]
        ) => unknown
      )(...a),
    [method, args] as const,
  ) as Promise<Awaited<ReturnType<RelayPeerPage[K]>>>;

async function till(name: string): Promise<Page> {
  const page = await browser().newPage();
  await page.addScriptTag({
    type: 'module',
    content: "import '/packages/sync/test-pages/relay-signal-page.ts';",
  });
  await page.waitForFunction(() => '__relayPeerPage' in globalThis);
  const r = relay as TestRelay;
  await call(page, 'start', r.server.wsUrl, name, await r.tokenFor(name, { claims: { storeId: 101 } }));
  return page;
}

it('a link signaled through the relay keeps carrying frames after the relay stops', async () => {
  const a = await till('till-1');
  const b = await till('till-2');
  await vi.waitFor(
    async () => {
      expect(await call(a, 'state')).toBe('open');
      expect(await call(b, 'state')).toBe('open');
    },
    { timeout: 30_000, interval: 100 },
  );
  await call(a, 'send', 'online', 3);
  await vi.waitFor(async () => expect(await call(b, 'received')).toHaveLength(3), { timeout: 10_000 });

  await relay?.close();
  relay = undefined;
  await vi.waitFor(async () => expect(await call(a, 'relayConnected')).toBe(false), { timeout: 10_000 });
  await call(a, 'send', 'offline', 3);
  await call(b, 'send', 'back', 2);
  await vi.waitFor(async () => expect(await call(b, 'received')).toHaveLength(6), { timeout: 10_000 });
  expect(await call(b, 'received')).toEqual([
    'online-0',
    'online-1',
    'online-2',
    'offline-0',
    'offline-1',
    'offline-2',
  ]);
  await vi.waitFor(async () => expect(await call(a, 'received')).toEqual(['back-0', 'back-1']), {
    timeout: 10_000,
  });
  expect(await call(a, 'state')).toBe('open');
});
