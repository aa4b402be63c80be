/**
 * The desktop shell's LAN peering end to end, without the Electron binary: two tills (two Chromium contexts), each
 * a real database (`@loam/client`) whose `window.loamDesktop` is the real preload API over the real IPC router and
 * peer service (run here in Node, as main would, one per till). The relay only certifies the tills at sign-in and
 * is stopped before the shell starts peering: the tills find each other by mDNS, prove their certified keys over
 * LAN signaling (each signature made by the page's database worker), and sync sales over WebRTC links handed to
 * `db.peers.connect`; a reloaded till (main, and its LAN sessions, live on) links again and still gets sales. With
 * mDNS off (multicast blocked), they find each other through the relay's roster instead: each announces main's
 * LAN address, and main dials the other's, pinned to the key its roster certificate names.
 */
import { startTestRelay, type TestRelay } from '@loam/server/testing';
import type { Page } from 'playwright-core';
import { afterAll, afterEach, expect, it } from 'vitest';
import { useBrowserHarness } from '../../../../../test/browser/harness';
import { inPageGlobal, pageGlobalReady, untilPageGlobal } from '../../../../../test/browser/page-globals';
import type { ShellPeerPage } from '../../../test-pages/shell-peer-page';
import { shellShopRules, shellShopSchema } from '../../../test-pages/shell-shop';
import type { LanPeerEvent } from '../../shared/contract';
import { createIpcRouter } from '../ipc';
import { createPeerService, type PeerService, type PeerServiceOptions } from './peer-service';

const browser = useBrowserHarness({
  preBundle: ['simple-peer/simplepeer.min.js'],
  allowConsoleErrors: [/WebSocket connection to .* failed/],
});
const services: PeerService[] = [];
let relay: TestRelay | undefined;
const startRelay = async () => {
  relay = await startTestRelay(shellShopSchema, shellShopRules, { peers: { sameClaims: ['shop'] } });
};
const stopRelay = async () => {
  await relay?.close();
  relay = undefined;
};
afterEach(stopRelay);
afterAll(async () => {
  for (const s of services) await s.stop();
});

const inTill = <T, A = null>(page: Page, fn: (till: ShellPeerPage, arg: A) => T | Promise<T>, arg?: A) =>
  inPageGlobal(page, '__shellPeerPage', fn, arg);
async function untilTill<A = null>(page: Page, predicate: (till: ShellPeerPage, arg: A) => boolean, arg?: A) {
  try {
    await untilPageGlobal(page, '__shellPeerPage', predicate, arg, 30_000);
  } catch (error) {
    const state = await inTill(page, async (t) => ({
      lan: t.lanEvents(),
      sessions: await t.lanPeers(),
      peers: t.peers(),
      sales: t.sales(),
    }));
    throw new Error(`${(error as Error).message}\nthe till: ${JSON.stringify(state)}`);
  }
}

/** A till inside an emulated shell: main's router and peer service run in this process. */
async function till(user: string, lan?: PeerServiceOptions['lan']): Promise<Page> {
  const r = relay as TestRelay;
  const token = await r.tokenFor(user, { claims: { shop: 7 } });
  const page = await browser().newPage();
  let events = Promise.resolve();
  const service = createPeerService({
    ...(lan ? { lan } : {}),
    emit: (event: LanPeerEvent) => {
      events = events.then(() =>
        page
          .evaluate(
            (e) =>
              (globalThis as unknown as { __loamDesktopEvent?(e: unknown): void }).__loamDesktopEvent?.(e),
            event,
          )
          .catch(() => undefined),
      );
    },
  });
  services.push(service);
  const router = createIpcRouter({
    appOrigin: browser().origin,
    handlers: {
      info: () => ({ version: '0', platform: 'linux', kiosk: false }),
      terminalConfig: () => ({ relayUrl: r.server.wsUrl, terminalId: user }),
      peers: service,
    },
  });
  await page.exposeBinding('loamDesktopInvoke', (source, channel: string, args: unknown[]) =>
    router.handle(channel, { url: source.frame.url() }, args),
  );
  const query = `db=till&sync=${encodeURIComponent(r.server.wsUrl)}&token=${token}`;
  await page.goto(`${browser().origin}/apps/desktop/test-pages/shell-peer-page.html?${query}`);
  return await pageGlobalReady(page, '__shellPeerPage');
}

/** Waits until the relay has certified both tills (a till cannot peer before it met its relay once). */
async function untilCertified(a: Page, b: Page): Promise<void> {
  await expect
    .poll(async () => [await inTill(a, (t) => t.certified()), await inTill(b, (t) => t.certified())], {
      timeout: 20_000,
    })
    .toEqual([true, true]);
}

/** Starts LAN peering on both tills for `store` and waits until each has a live peer sync link. */
async function linkOverLan(a: Page, b: Page, store: string): Promise<void> {
  await inTill(a, (t, s) => t.startLan(s), store);
  await inTill(b, (t, s) => t.startLan(s), store);
  const live = (t: ShellPeerPage) => t.peers().some((p) => p.state === 'live');
  await untilTill(a, live);
  await untilTill(b, live);
}

it('two certified tills find each other on the LAN with the relay gone, sync sales, and re-link after a reload', async () => {
  const store = `store-${process.pid}-${Date.now()}`;
  await startRelay();
  const a = await till('clerk-a');
  const b = await till('clerk-b');
  for (const t of [a, b]) await untilTill(t, () => true);
  await untilCertified(a, b);
  await stopRelay();

  const started = performance.now();
  await linkOverLan(a, b, store);
  console.info(
    `mDNS discovery to a live peer sync link (no relay): ${(performance.now() - started).toFixed(0)} ms`,
  );
  expect((await inTill(a, (t) => t.lanPeers())).map((p) => p.user)).toEqual(['clerk-b']);
  const found = [...(await inTill(a, (t) => t.lanEvents())), ...(await inTill(b, (t) => t.lanEvents()))];
  expect(found).toContainEqual(expect.objectContaining({ t: 'connected', via: 'mdns' }));

  await inTill(a, (t) => t.sell('sale-1'));
  await untilTill(b, (t) => t.sales().includes('sale-1'));
  await inTill(b, (t) => t.sell('sale-2'));
  await untilTill(a, (t) => t.sales().includes('sale-2'));

  await b.reload();
  await pageGlobalReady(b, '__shellPeerPage');
  // The page's live query delivers its first result after the page is ready; no link exists yet, so what it shows
  // was read from the reloaded till's own database.
  await expect.poll(() => inTill(b, (t) => t.sales()), { timeout: 10_000 }).toEqual(['sale-1', 'sale-2']);
  expect(await inTill(b, (t) => t.peers().some((p) => p.state === 'live'))).toBe(false);
  const reloaded = performance.now();
  await inTill(b, (t, s) => t.startLan(s), store);
  await inTill(a, (t) => t.sell('sale-3'));
  await untilTill(b, (t) => t.sales().includes('sale-3'));
  console.info(`reloaded till to a sale over the LAN again: ${(performance.now() - reloaded).toFixed(0)} ms`);
  await inTill(b, (t) => t.sell('sale-4'));
  await untilTill(a, (t) => t.sales().includes('sale-4'));
  expect(await inTill(a, (t) => t.sales())).toEqual(['sale-1', 'sale-2', 'sale-3', 'sale-4']);
});

it("with multicast blocked, two tills find each other through the relay's roster and keep syncing once it is gone", async () => {
  const store = `store-${process.pid}-${Date.now()}-roster`;
  await startRelay();
  const lan = { mdns: false, host: '127.0.0.1', rosterIntervalMs: 250 } as const;
  const a = await till('clerk-c', lan);
  const b = await till('clerk-d', lan);
  await untilCertified(a, b);
  const started = performance.now();
  await linkOverLan(a, b, store);
  console.info(`roster (mDNS off) to a live peer sync link: ${(performance.now() - started).toFixed(0)} ms`);
  const viaRoster = [...(await inTill(a, (t) => t.lanEvents())), ...(await inTill(b, (t) => t.lanEvents()))];
  expect(viaRoster).toContainEqual(expect.objectContaining({ t: 'connected', via: 'roster' }));

  await stopRelay();
  await inTill(a, (t) => t.sell('roster-sale-1'));
  await untilTill(b, (t) => t.sales().includes('roster-sale-1'));
});
