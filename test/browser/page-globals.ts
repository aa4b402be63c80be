/**
 * Driving a test page through an object it exposes on `globalThis` (e.g. the client test page's `app`): run a
 * function against it, or wait until a predicate over it holds. Node side of browser tests.
 */
import type { Page } from 'playwright-core';

/**
 * Runs `fn(globalThis[name], arg)` in the page and returns its result. `fn` is sent as source text: it may use
 * only its parameters and browser globals, never variables of the test file.
 */
export function inPageGlobal<G, T, A = null>(
  page: Page,
  name: string,
  fn: (global: G, arg: A) => T | Promise<T>,
  arg?: A,
): Promise<T> {
  return page.evaluate(
    ([global, source, a]) =>
      new Function(`return (${source})`)()((globalThis as Record<string, unknown>)[global], a),
    [name, fn.toString(), arg ?? null] as const,
  ) as Promise<T>;
}

/** Waits until `predicate(globalThis[name], arg)` is true in the page (polling), or fails after `timeoutMs`. */
export async function untilPageGlobal<G, A = null>(
  page: Page,
  name: string,
  predicate: (global: G, arg: A) => boolean,
  arg?: A,
  timeoutMs = 20_000,
): Promise<void> {
  await page.waitForFunction(
    ([global, source, a]) =>
      new Function(`return (${source})`)()((globalThis as Record<string, unknown>)[global], a),
    [name, predicate.toString(), arg ?? null] as const,
    { timeout: timeoutMs, polling: 20 },
  );
}

/** Waits until the page has set `globalThis[name]` (its set-up finished). */
export async function pageGlobalReady(page: Page, name: string): Promise<Page> {
  await page.waitForFunction((global) => global in globalThis, name, { timeout: 20_000 });
  return page;
}
