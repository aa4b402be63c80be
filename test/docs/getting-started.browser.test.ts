/**
 * The README's "Getting started" run as written: the relay started from its `loam/` files (the schema written by
 * its script), the app served by a plain Vite dev server over the example folder (as `npm run dev` would serve an
 * existing Vite + React app), in Chromium. The example files are the README's blocks (`readme.test.ts` checks).
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type LoamServer, loadConfig, startServer } from '@loam/server';
import { type Browser, chromium } from 'playwright-core';
import { createServer, type ViteDevServer } from 'vite';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { chromiumArgs, chromiumPath, repositoryRoot } from '../browser/harness';

const example = fileURLToPath(new URL('./examples/getting-started', import.meta.url));
const serviceToken = 'getting-started-service-token-0123456789';
let project: string;
let relay: LoamServer;
let vite: ViteDevServer;
let browser: Browser;

beforeAll(async () => {
  project = mkdtempSync(join(tmpdir(), 'loam-getting-started-'));
  cpSync(join(example, 'loam'), join(project, 'loam'), { recursive: true });
  const tsx = join(repositoryRoot, 'node_modules/.bin/tsx');
  const written = spawnSync(tsx, [join(example, 'scripts/write-schema.ts')], {
    cwd: project,
    encoding: 'utf8',
  });
  expect(written.stderr).toBe('');
  relay = await startServer({
    config: loadConfig(join(project, 'loam/loam-server.json'), {
      LOAM_PORT: '0',
      LOAM_ALLOWED_ORIGINS: '*',
      LOAM_SERVICE_TOKEN: serviceToken,
    }),
  });
  process.env.VITE_LOAM_RELAY = relay.wsUrl;
  vite = await createServer({
    root: example,
    cacheDir: join(project, '.vite'),
    logLevel: 'error',
    clearScreen: false,
    server: { host: '127.0.0.1', port: 0, hmr: false, watch: null, fs: { allow: [repositoryRoot] } },
  });
  await vite.listen();
  browser = await chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    args: [...chromiumArgs],
  });
});

afterAll(async () => {
  await browser?.close();
  await vite?.close();
  await relay?.close();
  delete process.env.VITE_LOAM_RELAY;
  if (project) rmSync(project, { recursive: true, force: true });
});

it('shows a live list that a write through the relay reaches', async () => {
  const page = await (await browser.newContext()).newPage();
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(error.stack ?? error.message));
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(message.text());
  });
  await page.goto(vite.resolvedUrls?.local[0] ?? '');
  await page.getByRole('list').waitFor({ state: 'attached', timeout: 30_000 });
  expect(await page.getByRole('listitem').count()).toBe(0);

  for (const title of ['Water the plants', 'Buy bread']) {
    const response = await fetch(`${relay.url}/v1/collections/todos/docs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${serviceToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ title }),
    });
    expect(response.status).toBe(201);
  }
  await page.getByText('Water the plants').waitFor({ timeout: 20_000 });
  expect(await page.getByRole('listitem').allTextContents()).toEqual(['Buy bread', 'Water the plants']);
  expect(problems).toEqual([]);
});
