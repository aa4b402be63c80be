/**
 * Node-side helpers for browser tests and benchmarks that drive `app.html`: open it in a tab and run functions
 * against its `globalThis.app`. Not part of the package's API.
 */
import type { BrowserContext, Page } from 'playwright-core';
import { inPageGlobal, pageGlobalReady, untilPageGlobal } from '../../../test/browser/page-globals';
import type { App } from './app';

/** URL path of the test page. */
export const APP_PAGE = '/packages/client/test-pages/app.html';

/** Runs `fn(app, arg)` in the page and returns its result (see `inPageGlobal`). */
export function inApp<T, A = null>(
  page: Page,
  fn: (app: App, arg: A) => T | Promise<T>,
  arg?: A,
): Promise<T> {
  return inPageGlobal(page, 'app', fn, arg);
}

/** Waits until `predicate(app, arg)` is true in the page (polling), or fails after `timeoutMs`. */
export function untilApp<A = null>(
  page: Page,
  predicate: (app: App, arg: A) => boolean,
  arg?: A,
  timeoutMs = 20_000,
): Promise<void> {
  return untilPageGlobal(page, 'app', predicate, arg, timeoutMs);
}

/** Waits until the page's database is open (`globalThis.app` exists). */
export function appReady(page: Page): Promise<Page> {
  return pageGlobalReady(page, 'app');
}

/**
 * Opens the test page for database `db` in a new tab of `context` (tabs of one context share OPFS, locks and
 * channels), recording the tab's console errors and uncaught errors into `errors`. `query` adds page parameters
 * (e.g. `&sync=...&token=...`).
 */
export async function openTab(
  context: BrowserContext,
  origin: string,
  db: string,
  errors: string[],
  query = '',
): Promise<Page> {
  const page = await context.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console.error: ${m.text()}`);
  });
  page.on('pageerror', (e) => errors.push(`uncaught: ${e.stack ?? e.message}`));
  await page.goto(`${origin}${APP_PAGE}?db=${db}${query}`);
  return await appReady(page);
}
