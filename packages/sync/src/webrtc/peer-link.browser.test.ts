import type { Page } from 'playwright-core';
import { expect, it, vi } from 'vitest';
import { useBrowserHarness } from '../../../../test/browser/harness';

const browser = useBrowserHarness({ preBundle: ['simple-peer/simplepeer.min.js'] });

type PeerPage = {
  start(initiator: boolean): void;
  signal(message: string): void;
  dropLink(): void;
  links(): number;
  send(prefix: string, count: number, bytes: number): Promise<void>;
  received(): Promise<string[]>;
  receivedBytes(): Promise<number>;
  state(): Promise<string>;
  closes(): Promise<{ code: number; reason: string }[]>;
};
type Globals = { __peerPage: PeerPage };

const call = <K extends keyof PeerPage>(page: Page, method: K, ...args: Parameters<PeerPage[K]>) =>
  page.evaluate(
    ([m, a]) => ((globalThis as unknown as Globals).__peerPage[m] as (...x: unknown[]) => unknown)(...a),
    [method, args] as const,
  ) as Promise<Awaited<ReturnType<PeerPage[K]>>>;

/** Two pages (two browser contexts) whose signals Node carries from one to the other, as the relay would. */
async function twoPeers(): Promise<[Page, Page]> {
  const pages: Page[] = [];
  for (let i = 0; i < 2; i++) {
    const page = await browser().newPage();
    await page.addScriptTag({ type: 'module', content: "import '/packages/sync/test-pages/peer-page.ts';" });
    await page.waitForFunction(() => '__peerPage' in globalThis);
    pages.push(page);
  }
  const [a, b] = pages as [Page, Page];
  for (const [from, to] of [
    [a, b],
    [b, a],
  ] as const) {
    await from.exposeFunction('loamSignal', async (message: string) => {
      if (!to.isClosed()) await call(to, 'signal', message).catch(() => undefined);
    });
  }
  await call(b, 'start', false);
  await call(a, 'start', true);
  return [a, b];
}

const waitFor = <T>(probe: () => Promise<T>, ok: (v: T) => boolean, what: string, timeout = 15_000) =>
  vi.waitFor(
    async () => {
      const v = await probe();
      if (!ok(v)) throw new Error(`still waiting for ${what} (now ${JSON.stringify(v).slice(0, 200)})`);
      return v;
    },
    { timeout, interval: 50 },
  );

it('two pages connect over WebRTC and exchange frames in order through the workers, large ones included', async () => {
  const [a, b] = await twoPeers();
  await waitFor(
    () => call(a, 'state'),
    (s) => s === 'open',
    'the link to open on a',
  );
  await waitFor(
    () => call(b, 'state'),
    (s) => s === 'open',
    'the link to open on b',
  );

  // 40 frames of 256 KiB: 10 MiB, far over the data channel's 64 KiB buffer mark, so backpressure is exercised.
  await call(a, 'send', 'big', 40, 256 * 1024);
  await call(b, 'send', 'small', 500, 10);
  const expected = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);
  await waitFor(
    () => call(b, 'received'),
    (r) => r.length >= 40,
    'the 40 large frames on b',
  );
  expect(await call(b, 'received')).toEqual(expected('big', 40));
  expect(await call(b, 'receivedBytes')).toBe(40 * 256 * 1024);
  await waitFor(
    () => call(a, 'received'),
    (r) => r.length >= 500,
    'the 500 small frames on a',
  );
  expect(await call(a, 'received')).toEqual(expected('small', 500));
  await a.context().close();
  await b.context().close();
});

it('a side whose page is gone is noticed by the other within seconds', async () => {
  const [a, b] = await twoPeers();
  await waitFor(
    () => call(a, 'state'),
    (s) => s === 'open',
    'the link to open',
  );
  await b.context().close();
  await waitFor(
    () => call(a, 'state'),
    (s) => s === 'closed',
    'a to notice that b is gone',
    10_000,
  );
  expect((await call(a, 'closes'))[0]?.code).toBe(1006);
  await a.context().close();
});

it('a dropped data channel is re-established and frames flow again', async () => {
  const [a, b] = await twoPeers();
  await waitFor(
    () => call(b, 'state'),
    (s) => s === 'open',
    'the link to open',
  );
  await call(a, 'send', 'before', 5, 10);
  await waitFor(
    () => call(b, 'received'),
    (r) => r.length === 5,
    'the first frames',
  );

  await call(b, 'dropLink');
  await waitFor(
    () => call(a, 'links'),
    (n) => n === 2,
    'a second link from a',
    20_000,
  );
  await waitFor(
    () => call(b, 'state'),
    (s) => s === 'open',
    'the new link to open on b',
  );
  await call(a, 'send', 'after', 5, 10);
  await waitFor(
    () => call(b, 'received'),
    (r) => r.length === 10,
    'the frames over the new link',
  );
  expect((await call(b, 'received')).slice(5)).toEqual([
    'after-0',
    'after-1',
    'after-2',
    'after-3',
    'after-4',
  ]);
  await a.context().close();
  await b.context().close();
});
