/**
 * The shared Chromium harness for `*.browser.test.ts` files (Node-side tests that drive a real browser).
 *
 * It serves a root folder (the repository by default) with a Vite dev server on a free loopback port, so pages
 * and workers can load any `.ts` file of the workspace by URL path and bare imports (`@loam/core`, `comlink`,
 * `wa-sqlite`) resolve as in an app. It launches Debian's Chromium through playwright-core (never a downloaded
 * browser), hands out pages in fresh browser contexts (fresh storage: OPFS, IndexedDB), and turns any console
 * error or uncaught page error into a test failure.
 *
 * Invariants:
 * 1. Every page is in its own context: no storage, cookies or workers shared between two `newPage()` calls.
 *    By default a context is Playwright's off-the-record kind, whose OPFS and IndexedDB live in memory and whose
 *    OPFS writes cost several times what a user's on-disk profile does; `storage: 'disk'` gives each page an
 *    on-disk profile of its own instead (a temporary folder, removed on close), for benchmarks of storage.
 * 2. Errors are never dropped: `console.error` and uncaught errors from a page (and its dedicated workers) are
 *    recorded, and {@link useBrowserHarness} fails the test in which they happened.
 * 3. `close()` (or the `afterAll` of {@link useBrowserHarness}) stops Chromium and the server even when tests
 *    failed; nothing keeps running afterwards.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { build, createServer, preview } from 'vite';
import { afterAll, afterEach, beforeAll } from 'vitest';

/** The repository root: the default root the harness serves. */
export const repositoryRoot = fileURLToPath(new URL('../..', import.meta.url));

/** Chromium's command-line flags: headless-friendly, no calls to Google services from a closed network. */
export const chromiumArgs = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
] as const;

/** Options of {@link startBrowserHarness}. */
export interface BrowserHarnessOptions {
  /** Folder served at `/`. Default: the repository root, so `/packages/store/src/...` loads workspace files. */
  readonly root?: string;
  /** Console errors whose text matches one of these are expected and not reported. */
  readonly allowConsoleErrors?: readonly RegExp[];
  /**
   * CommonJS dependencies to convert for the browser before the first page loads (e.g. `react`,
   * `react-dom/client`, `react/jsx-dev-runtime`; `dexie`, whose ES entry wraps its UMD build, always is).
   * Nothing else is pre-bundled, so no page reloads mid-test.
   */
  readonly preBundle?: readonly string[];
  /**
   * `memory` (default): each page in an off-the-record context (storage in memory). `disk`: each page in its own
   * on-disk profile, as a user's browser keeps OPFS and IndexedDB (one Chromium process per page).
   */
  readonly storage?: 'memory' | 'disk';
  /**
   * Serve a production build of these HTML pages (paths relative to `root`, bundled by `vite build` as an app ships,
   * workers and wasm included) with a static server, instead of the dev server's one-module-per-file graph.
   */
  readonly build?: readonly string[];
}

/** A server of the pages: the dev server, or a static server of a build. */
interface PageServer {
  close(): Promise<void>;
}

/** Builds `pages` of `root` as an app ships (the POS app's settings: ES workers, es2022) into `outDir`. */
async function buildPages(root: string, pages: readonly string[], outDir: string): Promise<void> {
  await build({
    root,
    configFile: false,
    logLevel: 'error',
    clearScreen: false,
    optimizeDeps: { exclude: ['wa-sqlite'] },
    worker: { format: 'es' },
    build: {
      outDir,
      emptyOutDir: true,
      target: 'es2022',
      chunkSizeWarningLimit: 4096,
      rollupOptions: { input: Object.fromEntries(pages.map((page, i) => [`page${i}`, join(root, page)])) },
    },
  });
}

async function startPageServer(options: BrowserHarnessOptions, port: number): Promise<PageServer> {
  const root = options.root ?? repositoryRoot;
  if (options.build) {
    const outDir = mkdtempSync(join(repositoryRoot, 'node_modules', '.loam-pages-'));
    try {
      await buildPages(root, options.build, outDir);
      const server = await preview({
        root: outDir,
        configFile: false,
        logLevel: 'error',
        build: { outDir },
        preview: { host: '127.0.0.1', port, strictPort: true },
      });
      return {
        async close() {
          try {
            await server.close();
          } finally {
            rmSync(outDir, { recursive: true, force: true });
          }
        },
      };
    } catch (error) {
      rmSync(outDir, { recursive: true, force: true });
      throw error;
    }
  }
  const server = await createServer({
    root,
    configFile: false,
    logLevel: 'error',
    clearScreen: false,
    appType: 'mpa',
    server: {
      host: '127.0.0.1',
      port,
      strictPort: true,
      hmr: false,
      watch: null,
      fs: { allow: [repositoryRoot] },
    },
    optimizeDeps: { noDiscovery: true, include: ['dexie', ...(options.preBundle ?? [])] },
  });
  try {
    await server.listen();
  } catch (error) {
    await server.close();
    throw error;
  }
  return server;
}

/** A handle on a worker started in a page with {@link BrowserHarness.startWorker}. */
export interface WorkerHandle {
  /** Calls `method(...args)` on the object the worker exposed with Comlink; arguments and result are cloned. */
  call<T = unknown>(method: string, ...args: unknown[]): Promise<T>;
  /** Terminates the worker at once (no cleanup runs inside it), like a crash. */
  terminate(): Promise<void>;
}

/** A running dev server plus Chromium. */
export interface BrowserHarness {
  /** `http://127.0.0.1:<port>`, the origin every page is loaded from. */
  readonly origin: string;
  readonly browser: Browser;
  /** Opens `path` (default `/test/browser/index.html`, a blank page) in a fresh context and waits for load. */
  newPage(path?: string): Promise<Page>;
  /**
   * Starts the module worker at `modulePath` (a URL path such as `/packages/x/src/y-worker.ts`) in `page`.
   * The worker must `Comlink.expose` an object with a `ping()` method; resolves once it answered.
   */
  startWorker(page: Page, modulePath: string): Promise<WorkerHandle>;
  /** Errors recorded since the last call, and forgets them. */
  takeErrors(): string[];
  /** Closes every context, Chromium and the dev server. Idempotent. */
  close(): Promise<void>;
}

/** Path of Chromium: `LOAM_CHROMIUM` when set (CI sets it), else Debian's `/usr/bin/chromium`. */
export function chromiumPath(): string {
  return process.env.LOAM_CHROMIUM || '/usr/bin/chromium';
}

/** Starts the dev server and Chromium. Prefer {@link useBrowserHarness} inside vitest files. */
export async function startBrowserHarness(options: BrowserHarnessOptions = {}): Promise<BrowserHarness> {
  const allowed = options.allowConsoleErrors ?? [];
  const errors: string[] = [];
  const contexts = new Set<BrowserContext>();
  const port = await freePort();
  const server = await startPageServer(options, port);
  const profiles: string[] = [];
  let browser: Browser | undefined;
  try {
    browser = await chromium.launch({
      executablePath: chromiumPath(),
      headless: true,
      args: [...chromiumArgs],
    });
  } catch (error) {
    await server.close();
    throw error;
  }
  const origin = `http://127.0.0.1:${port}`;
  let workerCount = 0;
  let closing: Promise<void> | undefined;

  function record(source: string, text: string): void {
    if (!allowed.some((pattern) => pattern.test(text))) errors.push(`${source}: ${text}`);
  }

  const harness: BrowserHarness = {
    origin,
    browser,
    async newPage(path = '/test/browser/index.html') {
      let context: BrowserContext;
      if (options.storage === 'disk') {
        const profile = mkdtempSync(join(tmpdir(), 'loam-profile-'));
        profiles.push(profile);
        context = await chromium.launchPersistentContext(profile, {
          executablePath: chromiumPath(),
          headless: true,
          args: [...chromiumArgs],
        });
      } else context = await browser.newContext();
      contexts.add(context);
      context.on('close', () => contexts.delete(context));
      const page = context.pages()[0] ?? (await context.newPage());
      page.on('console', (message) => {
        if (message.type() === 'error') record(`console.error on ${page.url()}`, message.text());
      });
      page.on('pageerror', (error) =>
        record(`uncaught error on ${page.url()}`, error.stack ?? error.message),
      );
      page.on('crash', () => record('page', `crashed: ${page.url()}`));
      await page.goto(new URL(path, origin).href);
      return page;
    },
    async startWorker(page, modulePath) {
      const id = `worker-${++workerCount}`;
      await loadWorkerClient(page);
      await page.evaluate(
        ([workerId, url]) =>
          (globalThis as unknown as PageGlobals).__loamWorkerClient.startWorker(workerId, url),
        [id, modulePath] as const,
      );
      return {
        call: <T>(method: string, ...args: unknown[]) =>
          page.evaluate(
            ([workerId, name, rest]) =>
              (globalThis as unknown as PageGlobals).__loamWorkerClient.callWorker(workerId, name, rest),
            [id, method, args] as const,
          ) as Promise<T>,
        terminate: () =>
          page.evaluate(
            (workerId) => (globalThis as unknown as PageGlobals).__loamWorkerClient.terminateWorker(workerId),
            id,
          ),
      };
    },
    takeErrors() {
      return errors.splice(0, errors.length);
    },
    close() {
      closing ??= (async () => {
        try {
          for (const context of [...contexts]) await context.close().catch(() => undefined);
          await browser.close();
        } finally {
          await server.close();
          for (const profile of profiles) rmSync(profile, { recursive: true, force: true });
        }
      })();
      return closing;
    },
  };
  return harness;
}

/**
 * Registers vitest hooks for one test file: starts the harness before the file's tests, fails each test during
 * which a page reported an error, and closes everything after the file. Returns a getter for the harness.
 */
export function useBrowserHarness(options: BrowserHarnessOptions = {}): () => BrowserHarness {
  let harness: BrowserHarness | undefined;
  beforeAll(async () => {
    harness = await startBrowserHarness(options);
  });
  afterEach(() => {
    const errors = harness?.takeErrors() ?? [];
    if (errors.length > 0)
      throw new Error(`The browser reported errors during this test:\n${errors.join('\n')}`);
  });
  afterAll(async () => {
    await harness?.close();
  });
  return () => {
    if (!harness) throw new Error('The browser harness is not running: call it inside a test or hook');
    return harness;
  };
}

type WorkerClient = typeof import('./worker-client');

/** What `loadWorkerClient` installs in a page (functions run by `page.evaluate` cannot close over Node values). */
interface PageGlobals {
  __loamWorkerClient: WorkerClient;
}

/**
 * Loads `worker-client.ts` into `page` once, through a module script tag: functions passed to `page.evaluate`
 * must not contain `import()`, which vitest would rewrite before Playwright serialises them.
 */
async function loadWorkerClient(page: Page): Promise<void> {
  const loaded = await page.evaluate(() => '__loamWorkerClient' in globalThis);
  if (loaded) return;
  await page.addScriptTag({
    type: 'module',
    content:
      "import * as client from '/test/browser/worker-client.ts'; globalThis.__loamWorkerClient = client;",
  });
  await page.waitForFunction(() => '__loamWorkerClient' in globalThis);
}

async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const probe = createNetServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}
