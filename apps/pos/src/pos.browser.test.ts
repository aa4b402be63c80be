/**
 * The till in real Chromium, as a shop would use it: a build of the app served like `npm start` serves it, the
 * relay in-process, and each device in its own browser context (its own storage, service worker, network switch).
 * Tests run in order and share the devices: A and B are two devices both running till 1, C runs till 2.
 */
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LoamServer } from '@loam/server';
import { type Browser, chromium, type Page } from 'playwright-core';
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
import { dayOf } from './shop/report';
import {
  freePort,
  orderNumbersOn,
  pending,
  sell,
  showView,
  syncState,
  text,
  tile,
  until,
  untilPeersConnected,
} from './testing/till-driver';

/** Console errors a till prints while its relay or app server is unreachable. */
const EXPECTED_ERRORS = [
  /WebSocket connection to .* failed/,
  /Failed to load resource: net::ERR_(CONNECTION_REFUSED|INTERNET_DISCONNECTED)/,
  /Failed to load resource: the server responded with a status of 400/,
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
const shots = join(repositoryRoot, 'test-results');

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
  mkdirSync(shots, { recursive: true });
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

/** Opens `path` in a fresh device (browser context), recording its unexpected console errors. */
async function openDevice(
  name: string,
  path: string,
  viewport = { width: 1280, height: 800 },
): Promise<Page> {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  const record = (text: string) => {
    if (!EXPECTED_ERRORS.some((pattern) => pattern.test(text))) errors.push(`${name}: ${text}`);
  };
  page.on('console', (message) => {
    if (message.type() === 'error') record(message.text());
  });
  page.on('pageerror', (error) => record(error.stack ?? error.message));
  await page.goto(`${appOrigin()}${path}`);
  return page;
}

/** Opens till `n` on a fresh device and waits until it shows the catalog. */
async function openTill(n: number, name = `till ${n}`): Promise<Page> {
  const page = await openDevice(name, `/?terminal=${n}`);
  await tile(page, 'Butter croissant').waitFor();
  return page;
}

const app$ = (page: Page) => page.locator('#root');

async function backOffice<T>(method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${relay.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${secrets.serviceToken}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  expect(response.ok).toBe(true);
  return (await response.json()) as T;
}

interface OrderDoc {
  number: string;
  storeId: string;
  terminal: string;
  total: number;
  note: string;
  payment?: string;
  kind?: string;
  createdAt: string;
  lines: unknown[];
}
interface LineDoc {
  productId: string;
  name: string;
  quantity: number;
  amount: number;
  terminal: string;
  createdAt: string;
}
const storeDocs = async <T>(collection: string) =>
  (
    await backOffice<{ docs: T[] }>('POST', `/v1/collections/${collection}/query`, {
      filter: { op: 'eq', field: 'storeId', value: 'store-1' },
    })
  ).docs;
const product = async (id: string) =>
  (await backOffice<{ doc: { price: number; stock: number } }>('GET', `/v1/collections/products/docs/${id}`))
    .doc;

async function until1Online(...pages: Page[]): Promise<void> {
  for (const page of pages) await until('online', async () => (await syncState(page)) === 'Online');
}

const croissantStart = demoProducts.find((p) => p.id === 'prod-croissant')?.stock ?? 0;

describe('the POS app', () => {
  let a: Page;
  let b: Page;
  let c: Page;

  it('names an unknown till instead of opening till 1', async () => {
    for (const value of ['abc', '0', '100', '-1']) {
      const page = await openDevice(`?terminal=${value}`, `/?terminal=${value}`);
      const message = page.getByTestId('boot-message');
      await message.waitFor();
      expect(await text(message)).toContain(`There is no till “${value}”`);
      expect(await page.getByRole('link', { name: 'Till 1' }).count()).toBe(1);
      await page.context().close();
    }
  });

  it('two devices on till 1 and one on till 2 sell offline; ticket numbers never repeat, every sale counts', async () => {
    a = await openTill(1, 'till 1 (device A)');
    b = await openTill(1, 'till 1 (device B)');
    c = await openTill(2, 'till 2 (device C)');
    await until1Online(a, b, c);
    for (const till of [a, b, c]) await untilPeersConnected(till, 2);

    for (const till of [a, b, c]) await till.context().setOffline(true);
    for (const till of [a, b, c]) await until('offline', async () => (await syncState(till)) === 'Offline');

    const first = await sell(a, ['Butter croissant', 'Butter croissant'], { pay: { cash: '5' } });
    const second = await sell(b, ['Butter croissant', 'Caffè latte'], { note: 'gift wrap', pay: 'card' });
    const third = await sell(c, ['Butter croissant'], { pay: 'exact' });
    expect(first.slice(0, 3)).toBe('T1-');
    expect(second.slice(0, 3)).toBe('T1-');
    expect(first.endsWith('-0001') && second.endsWith('-0001')).toBe(true);
    expect(new Set([first, second, third]).size).toBe(3);
    expect(await text(a.getByTestId('sale-message'))).toContain('change €2.10');
    expect(await pending(a)).toMatch(/^\d+ changes waiting to upload$/);
    // The tills' links to each other (WebRTC, signaled through the relay while it was reachable) outlive the
    // network switch: each till sees the others' offline sales before the relay does.
    await until("the other tills' sales over the peer links", async () =>
      (await text(tile(a, 'Butter croissant'))).includes(`${croissantStart - 4} in stock`),
    );
    expect(await orderNumbersOn(a)).toEqual([first, second, third].sort());
    expect(await storeDocs('orders')).toEqual([]);

    for (const till of [a, b, c]) await till.context().setOffline(false);
    for (const till of [a, b, c]) {
      await until('every order on the till', async () => (await orderNumbersOn(till)).length === 3);
      expect(await orderNumbersOn(till)).toEqual([first, second, third].sort());
      await until('the stock of every sale', async () =>
        (await text(tile(till, 'Butter croissant'))).includes(`${croissantStart - 4} in stock`),
      );
      await until('uploads acknowledged', async () => (await pending(till)) === 'All changes uploaded');
    }

    const orders = await storeDocs<OrderDoc>('orders');
    expect(orders.map((o) => o.number).sort()).toEqual([first, second, third].sort());
    expect(orders.find((o) => o.number === second)).toMatchObject({
      total: 145 + 340,
      note: 'gift wrap',
      payment: 'card',
    });
    expect((await product('prod-croissant')).stock).toBe(croissantStart - 4);
  });

  it('hides "Change price" from a cashier; a forced change is refused, shown in the dialog and in plain words', async () => {
    await a.getByRole('button', { name: 'Details of Butter croissant' }).click();
    const dialog = a.getByTestId('product-dialog');
    expect(await text(dialog.getByTestId('price-locked'))).toBe('Prices are set by the back office.');
    expect(await dialog.getByRole('button', { name: 'Change price' }).count()).toBe(0);

    await a.evaluate(() =>
      (
        globalThis as unknown as {
          loamPos: { db: { collection(c: string): { update(id: string, p: object): Promise<void> } } };
        }
      ).loamPos.db
        .collection('products')
        .update('prod-croissant', { price: 99 }),
    );
    await until('the refusal in the dialog', async () =>
      (await text(dialog.getByTestId('price-message'))).startsWith(
        'The server refused a change to this product',
      ),
    );
    expect(await text(dialog.getByTestId('price-message'))).toContain(
      "Only the back office can change a product's price. The price is back to €1.45.",
    );
    expect(await text(dialog.getByTestId('dialog-price'))).toBe('€1.45');
    await dialog.getByRole('button', { name: 'Close' }).click();

    const refused = a.getByTestId('refused-writes');
    const shown = (
      await refused.locator('li').first().locator('.refused-head, .refused-reason').allTextContents()
    ).join(' ');
    expect(shown).toContain('New price for Butter croissant');
    expect(shown).toContain("Only the back office can change a product's price. It was undone on this till.");
    expect(shown).not.toMatch(/field_denied|Role/);
    await refused.getByText('Details').click();
    expect(await text(refused.locator('details'))).toContain('field_denied');
    expect(await text(tile(a, 'Butter croissant'))).toContain('€1.45');
    expect((await product('prod-croissant')).price).toBe(145);
  });

  it('sells from the keyboard: search, add, more, pay cash with change', async () => {
    await c.keyboard.press('/');
    await c.keyboard.type('latte');
    await c.keyboard.press('Enter');
    await c.keyboard.press('+');
    await c.keyboard.press('+');
    await c.keyboard.press('-');
    await expect(text(c.getByRole('status', { name: 'Caffè latte quantity' }))).resolves.toBe('2');
    await c.keyboard.press('Control+Enter');
    await c.getByTestId('payment-dialog').waitFor();
    expect(await text(c.getByTestId('pay-total'))).toBe('€6.80');
    await c.keyboard.type('10');
    expect(await text(c.getByTestId('change-due'))).toBe('Change due€3.20');
    await c.keyboard.press('Enter');
    const receipt = c.getByTestId('receipt-dialog');
    await receipt.waitFor();
    expect(await text(receipt.getByTestId('receipt-change'))).toBe('€3.20');
    await c.keyboard.press('Enter');
    await until('the keyboard sale', async () =>
      /Sale T2-[0-9A-Z]{4}-0002 recorded · €6\.80 · change €3\.20/.test(
        await text(c.getByTestId('sale-message')),
      ),
    );
    expect(await c.getByTestId('receipt-dialog').count()).toBe(0);
    expect(await c.getByText('Tap a product or type its name').isVisible()).toBe(true);
  });

  it('prints a receipt alone, and voids a sale with a new order that reverses it', async () => {
    await showView(a, 'Orders');
    const sale = a.locator('[data-testid=order][data-kind=sale]', { hasText: /T1-/ }).first();
    const saleNumber = await text(sale.locator('.order-number'));
    await sale.locator('summary').click();
    await sale.getByRole('button', { name: 'Receipt' }).click();
    const receipt = a.getByTestId('receipt-dialog');
    await receipt.waitFor();
    await a.emulateMedia({ media: 'print' });
    expect(await a.locator('#root').isVisible()).toBe(false);
    expect(await a.locator('#print-root [data-testid=receipt]').isVisible()).toBe(true);
    expect(await text(a.locator('#print-root [data-testid=receipt-number]'))).toBe(saleNumber);
    await a.screenshot({ path: join(shots, 'pos-receipt-print.png') });
    await a.emulateMedia({ media: 'screen' });
    await receipt.getByRole('button', { name: 'Close' }).click();

    const total = await text(sale.locator('.order-total'));
    await sale.getByRole('button', { name: 'Void sale' }).click();
    await sale.getByRole('button', { name: `Void ${saleNumber}` }).click();
    await receipt.waitFor();
    expect(await text(receipt.getByTestId('receipt'))).toContain(`VOID of ${saleNumber}`);
    expect(await text(receipt.getByTestId('receipt-total'))).toBe(`-${total}`);
    await receipt.getByRole('button', { name: 'Close' }).click();
    await until('the sale marked voided', async () => (await sale.locator('.tag-voided').count()) === 1);
    expect(await sale.getByRole('button', { name: 'Void sale' }).count()).toBe(0);
    await until('the void on the relay', async () =>
      (await storeDocs<OrderDoc>('orders')).some(
        (o) => o.kind === 'void' && o.total === -Math.round(Number.parseFloat(total.slice(1)) * 100),
      ),
    );
    await until('uploads acknowledged', async () => (await pending(a)) === 'All changes uploaded');
    await showView(a, 'Sell');
  });

  it("shows the day's report per till and per store, equal to what the relay's HTTP API holds", async () => {
    for (const till of [a, b, c])
      await until('uploads acknowledged', async () => (await pending(till)) === 'All changes uploaded');
    const day = dayOf(Date.now());
    const inDay = (at: string) => new Date(at) >= day.start && new Date(at) < day.end;
    const orders = (await storeDocs<OrderDoc>('orders')).filter((o) => inDay(o.createdAt));
    const lines = (await storeDocs<LineDoc>('orderLines')).filter((l) => inDay(l.createdAt));
    const euros = (cents: number) => `${cents < 0 ? '-' : ''}€${(Math.abs(cents) / 100).toFixed(2)}`;

    for (const scope of ['This till', 'Whole store'] as const) {
      const mine = (o: { terminal: string }) => scope === 'Whole store' || o.terminal === '1';
      const scoped = orders.filter(mine);
      const net = scoped.reduce((sum, o) => sum + o.total, 0);
      await showView(a, 'Day report');
      await a.getByRole('button', { name: scope }).click();
      const report = app$(a).getByTestId('day-report');
      await until(
        `the ${scope} report to add up`,
        async () => (await text(report.getByTestId('report-net'))) === euros(net),
      );
      expect(await text(report.getByTestId('report-sales'))).toBe(
        String(scoped.filter((o) => o.kind !== 'void').length),
      );
      expect(await text(report.getByTestId('report-voids'))).toBe(
        String(scoped.filter((o) => o.kind === 'void').length),
      );
      for (const method of ['cash', 'card']) {
        const paid = scoped.filter((o) => o.payment === method);
        const row = report.locator(`[data-testid=report-payments] tr[data-method=${method}]`);
        if (paid.length === 0) expect(await row.count()).toBe(0);
        else
          expect((await row.locator('td').allInnerTexts()).join(' | ')).toBe(
            `${paid.filter((o) => o.kind !== 'void').length} | ${euros(paid.reduce((s, o) => s + o.total, 0))}`,
          );
      }
      const sold = new Map<string, { quantity: number; amount: number }>();
      for (const l of lines.filter(mine)) {
        const s = sold.get(l.productId) ?? { quantity: 0, amount: 0 };
        sold.set(l.productId, { quantity: s.quantity + l.quantity, amount: s.amount + l.amount });
      }
      const shown = await report
        .locator('[data-testid=report-items] tbody tr')
        .evaluateAll((rows) =>
          rows.map((r) => [
            r.getAttribute('data-product'),
            ...[...r.querySelectorAll('td')].map((td) => td.textContent),
          ]),
        );
      expect(new Map(shown.map(([id, qty, amount]) => [id, `${qty} ${amount}`]))).toEqual(
        new Map(
          [...sold]
            .filter(([, s]) => s.quantity !== 0)
            .map(([id, s]) => [id, `${s.quantity} ${euros(s.amount)}`]),
        ),
      );
    }
    await a.screenshot({ path: join(shots, 'pos-day-report.png') });
    await a.emulateMedia({ media: 'print' });
    expect(await a.locator('#print-root [data-testid=day-report]').isVisible()).toBe(true);
    await a.emulateMedia({ media: 'screen' });
    await showView(a, 'Sell');
  });

  it('reaches every product tile at 1280×800 and 1024×768, nothing hidden behind the footer', async () => {
    for (const [width, height] of [
      [1280, 800],
      [1024, 768],
    ] as const) {
      await c.setViewportSize({ width, height });
      await c.getByRole('searchbox', { name: 'Search products' }).fill('');
      const tiles = c.locator('.grid button.tile-add');
      expect(await tiles.count()).toBe(demoProducts.length);
      for (let i = 0; i < demoProducts.length; i++) await tiles.nth(i).click({ trial: true, timeout: 5_000 });
      const footer = await c.locator('.shortcuts').boundingBox();
      const panel = await c.locator('.panel').boundingBox();
      expect(panel && footer && panel.y + panel.height <= footer.y + 0.5).toBe(true);
      await c.locator('.panel').evaluate((el) => el.scrollTo(0, 0));
      await c.screenshot({ path: join(shots, `pos-till-${width}x${height}.png`) });
    }
  });

  it('is installable; with the relay and the app server down a reload opens it, still knowing when it last synced', async () => {
    await until('the service worker to control the page', () =>
      a.evaluate(() => navigator.serviceWorker.controller !== null),
    );
    const cdp = await a.context().newCDPSession(a);
    const { installabilityErrors } = await cdp.send('Page.getInstallabilityErrors');
    expect(installabilityErrors.filter((e) => e.errorId !== 'in-incognito')).toEqual([]);
    await cdp.detach();

    await app?.close();
    app = undefined;
    await relay.close();

    await a.reload();
    await tile(a, 'Still water 50 cl').waitFor();
    await until('offline while the relay is down', async () => (await syncState(a)) === 'Offline');
    expect(await text(a.getByTestId('sync-detail'))).toBe('Cannot reach the server: retrying');
    expect(await text(a.getByTestId('last-synced'))).toMatch(/^Last synced \d\d:\d\d:\d\d$/);
    const offlineSale = await sell(a, ['Still water 50 cl'], { note: 'paid cash' });
    expect(offlineSale).toMatch(/^T1-[0-9A-Z]{4}-0003$/);
    expect(await pending(a)).toMatch(/changes waiting to upload$/);

    relay = await startRelay(relayPort);
    await until(
      'the offline sale uploaded',
      async () => (await pending(a)) === 'All changes uploaded',
      30_000,
    );
    expect((await storeDocs<OrderDoc>('orders')).map((o) => o.number)).toContain(offlineSale);
    await until('the other till to see it', async () => (await orderNumbersOn(c)).includes(offlineSale));
    app = await startApp();
  });

  it('saves screenshots of the main screen mid-sale', async () => {
    for (const [width, height] of [
      [1280, 800],
      [1024, 768],
    ] as const) {
      await a.setViewportSize({ width, height });
      for (const name of [
        'Butter croissant',
        'Butter croissant',
        'Cappuccino',
        'Lemon tart',
        'Fresh orange juice',
      ])
        await tile(a, name).click();
      await a.getByLabel('Order note').fill('Table 4, oat milk');
      await a.getByRole('button', { name: 'Bakery' }).click();
      await expect(text(a.getByTestId('cart-total'))).resolves.toBe('€13.95');
      const path = join(shots, `pos-main-screen-${width}x${height}.png`);
      await a.screenshot({ path });
      expect(statSync(path).size).toBeGreaterThan(10_000);
      await a.getByRole('button', { name: /^Charge / }).click();
      await a
        .getByTestId('payment-dialog')
        .getByLabel(/Cash received/)
        .fill('20');
      await a.screenshot({ path: join(shots, `pos-payment-${width}x${height}.png`) });
      await a.getByRole('button', { name: 'Back to the sale' }).click();
      await a.getByRole('button', { name: 'Clear' }).click();
      await a.getByRole('button', { name: 'All' }).click();
    }
  });
});
