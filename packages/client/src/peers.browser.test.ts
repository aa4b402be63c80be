/**
 * `db.peers` in real Chromium: two devices (browser contexts) of one group peer over WebRTC through the relay's
 * signaling; the leader tab owns the links, a follower tab sees the list, and a leader change re-establishes them;
 * with the relay gone, writes still flow and forged ones are refused with their author.
 */
import { startTestRelay, type TestRelay } from '@loam/server/testing';
import type { Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { useBrowserHarness } from '../../../test/browser/harness';
import { inPageGlobal, pageGlobalReady, untilPageGlobal } from '../../../test/browser/page-globals';
import type { PeerApp } from '../test-pages/peer-app';
import { peerRules } from '../test-pages/peer-rules';
import { schema } from '../test-pages/schema';

const harness = useBrowserHarness({
  preBundle: ['simple-peer/simplepeer.min.js'],
  allowConsoleErrors: [/WebSocket connection to .* failed/],
});
const tabErrors: string[] = [];
let relay: TestRelay | undefined;

beforeAll(async () => {
  relay = await startTestRelay(schema, peerRules, { peers: { sameClaims: ['shop'] } });
});
afterAll(() => relay?.close());
afterEach(() => {
  expect(tabErrors.splice(0), 'errors reported by extra tabs').toEqual([]);
});

const inPeer = <T, A = null>(page: Page, fn: (app: PeerApp, arg: A) => T | Promise<T>, arg?: A) =>
  inPageGlobal(page, 'peerApp', fn, arg);
async function untilPeer<A = null>(page: Page, predicate: (app: PeerApp, arg: A) => boolean, arg?: A) {
  try {
    await untilPageGlobal(page, 'peerApp', predicate, arg, 45_000);
  } catch (error) {
    const state = await inPeer(page, (app) => ({
      role: app.role(),
      restarts: app.restarts(),
      peers: app.peers(),
      status: app.status(),
    }));
    throw new Error(`${(error as Error).message}\nthe page's peers: ${JSON.stringify(state)}`);
  }
}

/** The test page's address for `user` (a device of shop 7) against the running relay. */
async function peerAppPath(user: string): Promise<string> {
  const r = relay as TestRelay;
  const token = await r.tokenFor(user, { claims: { shop: 7 } });
  return `/packages/client/test-pages/peer-app.html?db=peers&sync=${encodeURIComponent(r.server.wsUrl)}&token=${token}`;
}

/** Opens a device (a fresh browser context) for `user`. */
const openDevice = async (user: string) =>
  pageGlobalReady(await harness().newPage(await peerAppPath(user)), 'peerApp');

/** Opens another tab of the device of `page` (same context: same database, locks and key). */
async function openTab(page: Page, user: string): Promise<Page> {
  const tab = await page.context().newPage();
  tab.on('console', (m) => {
    if (m.type() === 'error' && !/WebSocket connection/.test(m.text())) tabErrors.push(m.text());
  });
  tab.on('pageerror', (e) => tabErrors.push(e.stack ?? e.message));
  await tab.goto(`${harness().origin}${await peerAppPath(user)}`);
  return await pageGlobalReady(tab, 'peerApp');
}

const liveWith = (app: PeerApp, user: string) =>
  app.peers().some((p) => p.user === user && p.state === 'live') && app.status()?.peers === 1;

it('peers through the relay, follows a leader change, and keeps syncing and judging with the relay gone', async () => {
  const a = await openDevice('clerk-a');
  const b1 = await openDevice('clerk-b');
  await untilPeer(a, liveWith, 'clerk-b');
  await untilPeer(b1, liveWith, 'clerk-a');
  expect(await inPeer(b1, (app) => app.role())).toBe('leader');

  const b2 = await openTab(b1, 'clerk-b');
  expect(await inPeer(b2, (app) => app.role())).toBe('follower');
  await untilPeer(b2, (app) => app.peers().some((p) => p.user === 'clerk-a' && p.state === 'live'));
  expect(await inPeer(b2, (app) => app.connectStray())).toBe('not_leader');
  expect((await inPeer(b2, (app) => app.list())).map((p) => [p.user, p.state])).toEqual([
    ['clerk-a', 'live'],
  ]);

  const [first] = await inPeer(a, (app) => app.peers());
  await b1.close();
  await untilPeer(b2, (app) => app.role() === 'leader');
  // A new link, from the new leader's worker (A's newest connection to B is a later one).
  await untilPeer(a, (app, id) => app.peers().some((p) => p.id > id && p.state === 'live'), first?.id ?? 0);
  await untilPeer(b2, liveWith, 'clerk-a');
  await untilPeer(a, liveWith, 'clerk-b');

  await relay?.close();
  relay = undefined;
  await untilPeer(a, (app) => app.status()?.connected === false);
  await inPeer(a, (app) => app.insert('from a, relay gone'));
  await untilPeer(b2, (app) => app.titles().includes('from a, relay gone'));
  await inPeer(b2, (app) => app.insert('from b, relay gone'));
  await untilPeer(a, (app) => app.titles().includes('from b, relay gone'));

  await inPeer(a, (app) => app.insert('forged', 'managers'));
  await untilPeer(b2, (app) => app.peers().some((p) => p.txsRefused === 1));
  const refused = await inPeer(b2, (app) => app.refused());
  expect(refused).toHaveLength(1);
  expect(refused[0]).toMatchObject({ collection: 'notes', code: 'field_denied' });
  expect(refused[0]?.author).toMatch(/^clerk-a \(/);
  expect(await inPeer(b2, (app) => app.titles())).not.toContain('forged');
  const [peer] = await inPeer(b2, (app) => app.peers());
  // Counted since this tab's worker took over: the note applied, the forged one refused, the note sent.
  expect(peer).toMatchObject({ user: 'clerk-a', state: 'live', opsReceived: 1, txsRefused: 1, opsSent: 1 });
  expect(peer?.lastSeen).toBeGreaterThan(Date.now() - 60_000);
});
