/**
 * Two tills of one store in real Chromium (two browser contexts: separate storage, separate WebRTC stacks) peer
 * through the relay's signaling, then the relay process goes away: sales, stock and refusals keep flowing between
 * the tills over their WebRTC link, checked by each till with the relay's rules; when the relay returns, every
 * sale reaches it exactly once. A link cut in the middle of a burst of sales loses none of them.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LoamServer } from '@loam/server';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import type { PreviewServer } from 'vite';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { chromiumArgs, chromiumPath } from '../../../test/browser/harness';
import { demoProducts, demoStore } from './node/demo-shop';
import { seedShop } from './node/seed';
import {
  buildPosApp,
  type DevSecrets,
  loadDevSecrets,
  servePosApp,
  startShopRelay,
} from './node/shop-server';
import {
  freePort,
  orderNumbersOn,
  peersShown,
  pending,
  sell,
  syncState,
  text,
  tile,
  until,
  untilPeersConnected,
} from './testing/till-driver';

/** Console errors a till prints while its relay is unreachable. */
const EXPECTED_ERRORS = [
  /WebSocket connection to .* failed/,
  /Failed to load resource: net::ERR_(CONNECTION_REFUSED|INTERNET_DISCONNECTED)/,
];

let dir: string;
let secrets: DevSecrets;
let relay: LoamServer | undefined;
let relayPort: number;
let app: PreviewServer | undefined;
let appPort: number;
let browser: Browser;
const errors: string[] = [];

async function startRelay(): Promise<LoamServer> {
  return await startShopRelay({
    port: relayPort,
    baseDir: dir,
    secrets,
    appOrigins: [`http://127.0.0.1:${appPort}`],
  });
}

async function stopRelay(): Promise<void> {
  await relay?.close();
  relay = undefined;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'loam-pos-peers-'));
  secrets = loadDevSecrets(join(dir, 'secrets.json'));
  appPort = await freePort();
  relayPort = await freePort();
  relay = await startRelay();
  await seedShop({ url: relay.url, serviceToken: secrets.serviceToken });
  const outDir = join(dir, 'dist');
  await buildPosApp(outDir);
  app = await servePosApp({ port: appPort, outDir, syncUrl: `ws://127.0.0.1:${relayPort}/sync`, secrets });
  browser = await chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    args: [...chromiumArgs],
  });
});

afterAll(async () => {
  await browser?.close();
  await app?.close();
  await relay?.close();
  rmSync(dir, { recursive: true, force: true });
});

afterEach(() => {
  const seen = errors.splice(0);
  if (seen.length > 0) throw new Error(`The till reported errors:\n${seen.join('\n')}`);
});

/** Opens till `n` in `context` (a device), recording its unexpected console errors, once it shows the catalog. */
async function openTill(context: BrowserContext, n: number): Promise<Page> {
  const page = await context.newPage();
  const record = (message: string) => {
    if (!EXPECTED_ERRORS.some((pattern) => pattern.test(message))) errors.push(`till ${n}: ${message}`);
  };
  page.on('console', (message) => {
    if (message.type() === 'error') record(message.text());
  });
  page.on('pageerror', (error) => record(error.stack ?? error.message));
  await page.goto(`http://127.0.0.1:${appPort}/?terminal=${n}`);
  await tile(page, 'Butter croissant').waitFor();
  return page;
}

async function backOffice<T>(path: string, body?: unknown): Promise<T> {
  const response = await fetch(`http://127.0.0.1:${relayPort}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization: `Bearer ${secrets.serviceToken}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  expect(response.ok).toBe(true);
  return (await response.json()) as T;
}

/** The ticket numbers of the store's orders on the relay, sorted (a number twice is a duplicate). */
const relayOrderNumbers = async () =>
  (
    await backOffice<{ docs: { number: string }[] }>('/v1/collections/orders/query', {
      filter: { op: 'eq', field: 'storeId', value: demoStore.id },
    })
  ).docs
    .map((o) => o.number)
    .sort();
const relayProduct = async (id: string) =>
  (await backOffice<{ doc: { price: number; stock: number } }>(`/v1/collections/products/docs/${id}`)).doc;

/** The till's orders as its database holds them (ticket numbers, sorted), through the console handle. */
const localOrderNumbers = (page: Page) =>
  page.evaluate(async () => {
    const { db } = (
      globalThis as unknown as {
        loamPos: { db: { collection(c: string): { find(): Promise<{ number: string }[]> } } };
      }
    ).loamPos;
    return (await db.collection('orders').find()).map((o) => o.number).sort();
  });

const stockOf = (name: string) => demoProducts.find((p) => p.name === name)?.stock ?? 0;

describe('two tills peering over WebRTC', () => {
  let one: Page;
  let two: Page;
  const sold: string[] = [];

  it('peer through the relay, then keep exchanging sales and stock with the relay stopped', async () => {
    one = await openTill(await browser.newContext({ viewport: { width: 1280, height: 800 } }), 1);
    two = await openTill(await browser.newContext({ viewport: { width: 1280, height: 800 } }), 2);
    await untilPeersConnected(one, 1);
    await untilPeersConnected(two, 1);
    expect(await peersShown(one)).toEqual(['Till 2 connected']);
    expect(await peersShown(two)).toEqual(['Till 1 connected']);

    await stopRelay();
    for (const till of [one, two]) await until('offline', async () => (await syncState(till)) === 'Offline');

    const croissants = stockOf('Butter croissant');
    sold.push(await sell(one, ['Butter croissant', 'Butter croissant']));
    await until('till 1’s sale on till 2', async () =>
      (await orderNumbersOn(two)).includes(sold[0] as string),
    );
    await until('the stock it took on till 2', async () =>
      (await text(tile(two, 'Butter croissant'))).includes(`${croissants - 2} in stock`),
    );
    sold.push(await sell(two, ['Butter croissant']));
    await until('till 2’s sale on till 1', async () =>
      (await orderNumbersOn(one)).includes(sold[1] as string),
    );
    await until('both sales in till 1’s stock', async () =>
      (await text(tile(one, 'Butter croissant'))).includes(`${croissants - 3} in stock`),
    );
    expect(await peersShown(two)).toEqual(['Till 1 connected']);
    expect(await pending(one)).toMatch(/changes waiting to upload$/);
  });

  it('refuses a cashier’s price change forged on the other till, offline, and says so in the same panel', async () => {
    await one.evaluate(() =>
      (
        globalThis as unknown as {
          loamPos: { db: { collection(c: string): { update(id: string, p: object): Promise<void> } } };
        }
      ).loamPos.db
        .collection('products')
        .update('prod-croissant', { price: 99 }),
    );
    const refused = two.getByTestId('refused-writes');
    await refused.waitFor({ timeout: 20_000 });
    const shown = (
      await refused.locator('li').first().locator('.refused-head, .refused-reason').allTextContents()
    ).join(' ');
    expect(shown).toContain('New price for Butter croissant');
    expect(shown).toContain(
      "Only the back office can change a product's price. It came from Till 1 and was not applied on this till.",
    );
    await refused.getByText('Details').click();
    expect(await text(refused.locator('details'))).toContain('field_denied');
    expect(await text(tile(two, 'Butter croissant'))).toContain('€1.45');
    // The link stays up: the refusal is about one transaction, not about the till that sent it.
    sold.push(await sell(one, ['Caffè latte']));
    await until('a later sale on till 2', async () =>
      (await orderNumbersOn(two)).includes(sold[2] as string),
    );
  });

  it('uploads every sale exactly once when the relay returns, and the relay undoes the forged price', async () => {
    relay = await startRelay();
    for (const till of [one, two]) {
      await until('online', async () => (await syncState(till)) === 'Online', 30_000);
      await until(
        'uploads acknowledged',
        async () => (await pending(till)) === 'All changes uploaded',
        30_000,
      );
    }
    expect(await relayOrderNumbers()).toEqual([...sold].sort());
    expect(await relayProduct('prod-croissant')).toEqual(
      expect.objectContaining({ price: 145, stock: stockOf('Butter croissant') - 3 }),
    );
    await until('till 1 to undo the price', async () =>
      (await text(tile(one, 'Butter croissant'))).includes('€1.45'),
    );
    expect(await localOrderNumbers(one)).toEqual([...sold].sort());
    expect(await localOrderNumbers(two)).toEqual([...sold].sort());
  });

  it('loses nothing when the link is cut in the middle of a burst of sales', async () => {
    await untilPeersConnected(one, 1);
    await stopRelay();
    const burst = 30;
    const numbers = Array.from({ length: burst }, (_, i) => `T1-CUT0-${String(i + 1).padStart(4, '0')}`);
    const writing = one.evaluate(
      async ({ numbers, storeId }) => {
        const { db } = (
          globalThis as unknown as {
            loamPos: {
              db: {
                transaction(
                  fn: (tx: {
                    collection(c: string): {
                      insert(doc: object): Promise<string>;
                      increment(id: string, field: string, by: number): Promise<void>;
                    };
                  }) => Promise<void>,
                ): Promise<void>;
              };
            };
          }
        ).loamPos;
        for (const number of numbers) {
          await db.transaction(async (tx) => {
            await tx.collection('orders').insert({
              storeId,
              number,
              cashier: 'burst',
              terminal: '1',
              createdAt: new Date(),
              lines: [],
              total: 250,
              itemCount: 1,
              note: '',
              kind: 'sale',
              payment: 'card',
            });
            await tx.collection('products').increment('prod-water', 'stock', -1);
          });
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      },
      { numbers, storeId: demoStore.id },
    );
    await until('part of the burst on till 2', async () =>
      (await localOrderNumbers(two)).some((n) => n.startsWith('T1-CUT0-')),
    );
    const context = two.context();
    await two.close();
    await writing;

    relay = await startRelay();
    two = await openTill(context, 2);
    await untilPeersConnected(two, 1);
    const all = [...sold, ...numbers].sort();
    await until(
      'every sale of the burst on till 2',
      async () => JSON.stringify(await localOrderNumbers(two)) === JSON.stringify(all),
      30_000,
    );
    expect(await localOrderNumbers(one)).toEqual(all);
    for (const till of [one, two])
      await until(
        'uploads acknowledged',
        async () => (await pending(till)) === 'All changes uploaded',
        30_000,
      );
    expect(await relayOrderNumbers()).toEqual(all);
    const water = `${stockOf('Still water 50 cl') - burst} in stock`;
    for (const till of [one, two])
      await until('the burst in the stock', async () =>
        (await text(tile(till, 'Still water 50 cl'))).includes(water),
      );
    expect((await relayProduct('prod-water')).stock).toBe(stockOf('Still water 50 cl') - burst);
  });
});
