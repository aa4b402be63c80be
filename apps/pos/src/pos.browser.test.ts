/**
 * The till in real Chromium, as a shop would use it: a build of the app served like `npm start` serves it, the
 * relay in-process, and each terminal in its own browser context (its own device: storage, service worker,
 * network switch).
 */
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LoamServer } from '@loam/server';
import { type Browser, chromium, type Locator, type Page } from 'playwright-core';
import type { PreviewServer } from 'vite';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { chromiumArgs, chromiumPath, repositoryRoot } from '../../../test/browser/harness';
import { demoProducts } from './node/demo-shop';
import { seedShop } from './node/seed';
import {
  buildPosApp,
  type DevSecrets,
  loadDevSecrets,
  servePosApp,
  startShopRelay,
} from './node/shop-server';

/** Console errors a till prints while its relay or app server is unreachable. */
const EXPECTED_ERRORS = [
  /WebSocket connection to .* failed/,
  /Failed to load resource: net::ERR_(CONNECTION_REFUSED|INTERNET_DISCONNECTED)/,
];

let dir: string;
let secrets: DevSecrets;
let relay: LoamServer;
let relayPort: number;
let app: PreviewServer | undefined;
let appPort: number;
let outDir: string;
let browser: Browser;
const errors: string[] = [];

async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

const appOrigin = () => `http://127.0.0.1:${appPort}`;

async function startRelay(port: number): Promise<LoamServer> {
  return await startShopRelay({ port, baseDir: dir, secrets, appOrigins: [appOrigin()] });
}

async function startApp(): Promise<PreviewServer> {
  return await servePosApp({
    port: appPort,
    outDir,
    syncUrl: `ws://127.0.0.1:${relayPort}/sync`,
    secrets,
  });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'loam-pos-browser-'));
  secrets = loadDevSecrets(join(dir, 'secrets.json'));
  appPort = await freePort();
  relay = await startRelay(0);
  relayPort = relay.port;
  await seedShop({ url: relay.url, serviceToken: secrets.serviceToken });
  outDir = join(dir, 'dist');
  await buildPosApp(outDir);
  app = await startApp();
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

/** Polls `probe` until it returns a truthy value (or throws the last failure after `timeout` ms). */
async function until<T>(what: string, probe: () => Promise<T>, timeout = 15_000): Promise<T> {
  const deadline = Date.now() + timeout;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline)
      throw new Error(`Timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Opens terminal `n` in a fresh device (browser context) and waits until it shows the catalog. */
async function openTill(n: number): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  const record = (text: string) => {
    if (!EXPECTED_ERRORS.some((pattern) => pattern.test(text))) errors.push(`till ${n}: ${text}`);
  };
  page.on('console', (message) => {
    if (message.type() === 'error') record(message.text());
  });
  page.on('pageerror', (error) => record(error.stack ?? error.message));
  await page.goto(`${appOrigin()}/?terminal=${n}`);
  await tile(page, 'Butter croissant').waitFor();
  return page;
}

/** The text of `locator` as the DOM has it (`''` when it has none). */
const text = async (locator: Locator) => (await locator.textContent()) ?? '';

const tile = (page: Page, name: string) => page.getByRole('button', { name: new RegExp(`^Add ${name},`) });
const syncState = (page: Page) => text(page.getByTestId('sync-state'));
const pending = (page: Page) => text(page.getByTestId('pending-uploads'));

async function sell(page: Page, items: readonly string[], note = ''): Promise<string> {
  for (const name of items) await tile(page, name).click();
  if (note) await page.getByLabel('Order note').fill(note);
  await page.getByRole('button', { name: /^Charge / }).click();
  const message = page.getByTestId('sale-message');
  await until('the sale to be recorded', async () => /Sale T\d+-\d+ recorded/.test(await text(message)));
  return (/T\d+-\d{4}/.exec(await text(message)) ?? [''])[0];
}

async function backOffice<T>(method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${relay.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${secrets.serviceToken}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  expect(response.ok).toBe(true);
  return (await response.json()) as T;
}

type OrderDoc = { number: string; storeId: string; total: number; note: string; lines: unknown[] };
const storeOrders = async () =>
  (
    await backOffice<{ docs: OrderDoc[] }>('POST', '/v1/collections/orders/query', {
      filter: { op: 'eq', field: 'storeId', value: 'store-1' },
    })
  ).docs;
const product = async (id: string) =>
  (await backOffice<{ doc: { price: number; stock: number } }>('GET', `/v1/collections/products/docs/${id}`))
    .doc;

async function orderNumbersOn(page: Page): Promise<string[]> {
  await page.getByRole('tab', { name: /^Orders/ }).click();
  const numbers = await page.locator('.order-number').allInnerTexts();
  await page.getByRole('tab', { name: 'Catalog' }).click();
  return numbers.sort();
}

const croissantStart = demoProducts.find((p) => p.id === 'prod-croissant')?.stock ?? 0;

describe('the POS app', () => {
  let till1: Page;
  let till2: Page;

  it('two terminals sell the same croissants offline; once back, both sales count everywhere', async () => {
    till1 = await openTill(1);
    till2 = await openTill(2);
    for (const till of [till1, till2])
      await until('online', async () => (await syncState(till)) === 'Online');

    await till1.context().setOffline(true);
    await till2.context().setOffline(true);
    for (const till of [till1, till2])
      await until('offline', async () => (await syncState(till)) === 'Offline');

    const first = await sell(till1, ['Butter croissant', 'Butter croissant']);
    const second = await sell(till2, ['Butter croissant', 'Caffè latte'], 'gift wrap');
    expect(await pending(till1)).toMatch(/waiting to upload/);
    expect(await pending(till2)).toMatch(/waiting to upload/);
    await expect(text(tile(till1, 'Butter croissant'))).resolves.toContain(`${croissantStart - 2} in stock`);
    expect((await storeOrders()).length).toBe(0);

    await till1.context().setOffline(false);
    await till2.context().setOffline(false);
    for (const till of [till1, till2]) {
      await until('both orders on the till', async () => (await orderNumbersOn(till)).length === 2);
      expect(await orderNumbersOn(till)).toEqual([first, second].sort());
      await until('the stock of both sales', async () =>
        (await text(tile(till, 'Butter croissant'))).includes(`${croissantStart - 3} in stock`),
      );
      await until('uploads acknowledged', async () => (await pending(till)) === 'All sales uploaded');
    }

    const orders = await storeOrders();
    expect(orders.map((o) => o.number).sort()).toEqual([first, second].sort());
    expect(orders.find((o) => o.number === second)).toMatchObject({ total: 145 + 340, note: 'gift wrap' });
    expect((await product('prod-croissant')).stock).toBe(croissantStart - 3);

    await till1.getByRole('tab', { name: /^Orders/ }).click();
    await till1.locator('summary', { hasText: second }).click();
    await expect(till1.getByText('Note: gift wrap').isVisible()).resolves.toBe(true);
    await till1.getByRole('tab', { name: 'Catalog' }).click();
  });

  it("refuses a cashier's price change, reverts it on the till and lists it with its reason", async () => {
    await till1.getByRole('button', { name: 'Details of Butter croissant' }).click();
    const dialog = till1.getByTestId('product-dialog');
    await dialog.getByLabel(/New price/).fill('0.99');
    await dialog.getByRole('button', { name: 'Change price' }).click();

    const refused = till1.getByTestId('refused-writes');
    await until('the refusal in the panel', async () => (await text(refused)).includes('Butter croissant'));
    expect(await text(refused)).toMatch(/price/);
    expect(await text(refused)).toMatch(/field_denied/);
    await until(
      'the price to revert',
      async () => (await text(dialog.getByTestId('dialog-price'))) === '€1.45',
    );
    await dialog.getByRole('button', { name: 'Close' }).click();
    expect(await text(tile(till1, 'Butter croissant'))).toContain('€1.45');
    expect((await product('prod-croissant')).price).toBe(145);
  });

  it('is installable, and with the relay and the app server down a reload opens it from the service worker and sells', async () => {
    await until('the service worker to control the page', () =>
      till1.evaluate(() => navigator.serviceWorker.controller !== null),
    );
    const cdp = await till1.context().newCDPSession(till1);
    const { installabilityErrors } = await cdp.send('Page.getInstallabilityErrors');
    expect(installabilityErrors.filter((e) => e.errorId !== 'in-incognito')).toEqual([]);
    await cdp.detach();

    await app?.close();
    app = undefined;
    await relay.close();

    await till1.reload();
    await tile(till1, 'Still water 50 cl').waitFor();
    expect(await syncState(till1)).not.toBe('Online');
    const offlineSale = await sell(till1, ['Still water 50 cl'], 'paid cash');
    expect(offlineSale).toBe('T1-0002');
    expect(await pending(till1)).toMatch(/waiting to upload/);

    relay = await startRelay(relayPort);
    await until(
      'the offline sale uploaded',
      async () => (await pending(till1)) === 'All sales uploaded',
      30_000,
    );
    expect((await storeOrders()).map((o) => o.number)).toContain(offlineSale);
    await until('the other till to see it', async () => (await orderNumbersOn(till2)).includes(offlineSale));
    app = await startApp();
  });

  it('sells from the keyboard: search, add, more, charge', async () => {
    await till2.keyboard.press('/');
    await till2.keyboard.type('latte');
    await till2.keyboard.press('Enter');
    await till2.keyboard.press('+');
    await till2.keyboard.press('+');
    await till2.keyboard.press('-');
    await expect(text(till2.getByRole('status', { name: 'Caffè latte quantity' }))).resolves.toBe('2');
    await till2.keyboard.press('Control+Enter');
    await until('the keyboard sale', async () =>
      /Sale T2-0002 recorded · €6\.80/.test(await text(till2.getByTestId('sale-message'))),
    );
    expect(await till2.getByText('Tap a product or type its name').isVisible()).toBe(true);
  });

  it('saves a screenshot of the main screen mid-sale', async () => {
    const till = till1;
    await sell(till, ['Cappuccino']);
    for (const name of [
      'Butter croissant',
      'Butter croissant',
      'Cappuccino',
      'Lemon tart',
      'Fresh orange juice',
    ])
      await tile(till, name).click();
    await till.getByLabel('Order note').fill('Table 4, oat milk');
    await till.getByRole('button', { name: 'Bakery' }).click();
    await expect(text(till.getByTestId('cart-total'))).resolves.toBe('€13.95');
    mkdirSync(join(repositoryRoot, 'test-results'), { recursive: true });
    const path = join(repositoryRoot, 'test-results', 'pos-main-screen.png');
    await till.screenshot({ path });
    await till.setViewportSize({ width: 820, height: 1180 });
    await till.screenshot({ path: join(repositoryRoot, 'test-results', 'pos-tablet.png') });
    expect(statSync(path).size).toBeGreaterThan(10_000);
  });
});
