/**
 * The desktop shell's peering end to end, without the Electron binary: two Chromium pages whose
 * `window.loamDesktop` is the real preload API over the real IPC router and peer service (run here in Node, as
 * main would), with no relay anywhere. They find each other by mDNS, prove their keys over LAN signaling, and
 * open a WebRTC data channel whose frames reach each page's worker.
 */
import type { Page } from 'playwright-core';
import { afterAll, expect, it, vi } from 'vitest';
import { useBrowserHarness } from '../../../../../test/browser/harness';
import type { LanPeerEvent } from '../../shared/contract';
import { createIpcRouter } from '../ipc';
import { createPeerService, type PeerService } from './peer-service';

const browser = useBrowserHarness({ preBundle: ['simple-peer/simplepeer.min.js'] });
const services: PeerService[] = [];
afterAll(async () => {
  for (const s of services) await s.stop();
});

type ShellPage = {
  start(replica: string, storeHash: string): Promise<{ port: number; fingerprint: string }>;
  peers(): Promise<{ replica: string }[]>;
  send(prefix: string, count: number): Promise<void>;
  received(): Promise<string[]>;
  state(): Promise<string>;
};
const call = <K extends keyof ShellPage>(page: Page, method: K, ...args: Parameters<ShellPage[K]>) =>
  page.evaluate(
    ([m, a]) =>
      (
        (globalThis as unknown as { __shellPeerPage: ShellPage }).__shellPeerPage[m] as (
          ...x: unknown[]
        ) => unknown
      )(...a),
    [method, args] as const,
  ) as Promise<Awaited<ReturnType<ShellPage[K]>>>;

/** A page inside an emulated shell: main's router and peer service run in this process. */
async function terminal(): Promise<Page> {
  const page = await browser().newPage();
  let events = Promise.resolve();
  const service = createPeerService({
    emit: (event: LanPeerEvent) => {
      events = events.then(() =>
        page
          .evaluate(
            (e) => (globalThis as unknown as { __loamDesktopEvent(e: unknown): void }).__loamDesktopEvent(e),
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
      terminalConfig: () => ({ relayUrl: 'ws://127.0.0.1:1', terminalId: 'till' }),
      peers: service,
    },
  });
  await page.exposeBinding('loamDesktopInvoke', (source, channel: string, args: unknown[]) =>
    router.handle(channel, { url: source.frame.url() }, args),
  );
  await page.addScriptTag({
    type: 'module',
    content: "import '/apps/desktop/test-pages/shell-peer-page.ts';",
  });
  await page.waitForFunction(() => '__shellPeerPage' in globalThis);
  return page;
}

it('two terminals with no relay find each other by mDNS and open a WebRTC link through LAN signaling', async () => {
  const store = `store-${process.pid}-${Date.now()}`;
  const a = await terminal();
  const b = await terminal();
  await call(a, 'start', 'till-a', store);
  await call(b, 'start', 'till-b', store);
  await vi.waitFor(
    async () => {
      expect(await call(a, 'state')).toBe('open');
      expect(await call(b, 'state')).toBe('open');
    },
    { timeout: 30_000, interval: 100 },
  );
  expect(await call(a, 'peers')).toEqual([expect.objectContaining({ replica: 'till-b' })]);
  await call(a, 'send', 'sale', 20);
  await vi.waitFor(async () => expect(await call(b, 'received')).toHaveLength(20), { timeout: 10_000 });
  expect(await call(b, 'received')).toEqual(Array.from({ length: 20 }, (_, i) => `sale-${i}`));
});
