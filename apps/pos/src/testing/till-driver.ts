/**
 * Driving a till in Chromium from a Node test (Playwright): waiting for what the cashier would see, selling
 * through the screens, reading the orders list and the sync bar. Shared by the POS browser tests; not part of the
 * app.
 */
import { createServer } from 'node:net';
import type { Locator, Page } from 'playwright-core';
import { expect } from 'vitest';

/** A free loopback TCP port (for a relay or app server that must restart on the same address). */
export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** Polls `probe` until it returns a truthy value (or throws the last failure after `timeout` ms). */
export async function until<T>(what: string, probe: () => Promise<T>, timeout = 20_000): Promise<T> {
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

/** The text of `locator` as the DOM has it (`''` when it has none). */
export const text = async (locator: Locator) => (await locator.textContent()) ?? '';

/** A product's tile (`Add <name>, <price>, <stock>`). */
export const tile = (page: Page, name: string) =>
  page.getByRole('button', { name: new RegExp(`^Add ${name},`) });
export const syncState = (page: Page) => text(page.getByTestId('sync-state'));
export const pending = (page: Page) => text(page.getByTestId('pending-uploads'));
export const TICKET = /T\d+-[0-9A-Z]{4}-\d{4}/;

/** How a test pays: cash handed over, card, or the exact amount in cash. */
export type Pay = { readonly cash: string } | 'card' | 'exact';

/**
 * Sells `items` on `page`: adds them, pays (cash handed over, card, or the exact amount in cash), checks the
 * receipt and starts a new sale. Resolves with the ticket number.
 */
export async function sell(
  page: Page,
  items: readonly string[],
  options: { note?: string; pay?: Pay } = {},
): Promise<string> {
  for (const name of items) await tile(page, name).click();
  if (options.note) await page.getByLabel('Order note').fill(options.note);
  await page.getByRole('button', { name: /^Charge / }).click();
  const dialog = page.getByTestId('payment-dialog');
  const pay = options.pay ?? 'exact';
  if (pay === 'card') {
    await dialog.getByRole('button', { name: 'Card' }).click();
    await dialog.getByRole('button', { name: 'Card payment approved' }).click();
  } else {
    if (pay !== 'exact') await dialog.getByLabel(/Cash received/).fill(pay.cash);
    await dialog.getByRole('button', { name: 'Complete cash sale' }).click();
  }
  const receipt = page.getByTestId('receipt-dialog');
  await receipt.waitFor();
  const number = await text(receipt.getByTestId('receipt-number'));
  expect(number).toMatch(TICKET);
  await receipt.getByRole('button', { name: 'New sale' }).click();
  await until('the sale message', async () =>
    (await text(page.getByTestId('sale-message'))).includes(number),
  );
  return number;
}

export async function showView(page: Page, name: 'Sell' | 'Orders' | 'Day report'): Promise<void> {
  await page.getByRole('tab', { name }).click();
}

/** The ticket numbers the till's "Orders" view lists, sorted. */
export async function orderNumbersOn(page: Page): Promise<string[]> {
  await showView(page, 'Orders');
  await page.locator('.history[data-ready=true]').waitFor();
  const numbers = await page.locator('.order-number').allInnerTexts();
  await showView(page, 'Sell');
  return numbers.sort();
}

/** The other tills the sync bar lists, as `<name> <state>` (e.g. `Till 2 connected`), sorted. */
export async function peersShown(page: Page): Promise<string[]> {
  const items = await page.getByTestId('peer').allInnerTexts();
  return items.map((t) => t.replace(/\s+/g, ' ').trim()).sort();
}

/** Waits until the sync bar shows `count` other tills, every one connected. */
export async function untilPeersConnected(page: Page, count: number, timeout = 45_000): Promise<void> {
  await until(
    `${count} connected till(s)`,
    async () => {
      const shown = await peersShown(page);
      if (shown.length !== count || !shown.every((s) => s.endsWith(' connected')))
        throw new Error(`the sync bar shows ${JSON.stringify(shown)}`);
      return true;
    },
    timeout,
  );
}
