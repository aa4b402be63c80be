import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAppRequestHandler } from './app-protocol';

const CSP = "default-src 'none'; script-src 'self'";
let root: string;
let appDir: string;
let handle: (request: Request) => Promise<Response>;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'loam-desktop-protocol-'));
  appDir = join(root, 'pos');
  await mkdir(join(appDir, 'assets'), { recursive: true });
  await writeFile(join(appDir, 'index.html'), '<!doctype html><title>Loam POS</title>');
  await writeFile(join(appDir, 'assets', 'index-abc.js'), 'console.log(1)');
  await writeFile(join(appDir, 'assets', 'wa-sqlite.wasm'), new Uint8Array([0, 97, 115, 109]));
  await writeFile(join(appDir, 'manifest.webmanifest'), '{}');
  await writeFile(join(root, 'secret.txt'), 'not for the renderer');
  handle = createAppRequestHandler({ appDir, csp: CSP });
});
afterAll(() => rm(root, { recursive: true, force: true }));

const get = (url: string, method = 'GET', accept = 'text/html,*/*') =>
  handle(new Request(url, { method, headers: { accept } }));

describe('the loam://pos/ protocol', () => {
  it('serves the app with its CSP and the right content types', async () => {
    const page = await get('loam://pos/');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('content-security-policy')).toBe(CSP);
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    expect(await page.text()).toContain('<title>Loam POS</title>');

    const script = await get('loam://pos/assets/index-abc.js');
    expect(script.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(script.headers.get('content-security-policy')).toBe(CSP);
    const wasm = await get('loam://pos/assets/wa-sqlite.wasm');
    expect(wasm.headers.get('content-type')).toBe('application/wasm');
    expect(new Uint8Array(await wasm.arrayBuffer())).toEqual(new Uint8Array([0, 97, 115, 109]));
    expect((await get('loam://pos/manifest.webmanifest')).headers.get('content-type')).toMatch(
      /^application\/manifest\+json/,
    );
  });

  it('answers page requests for client-side routes with index.html, but a missing asset with 404', async () => {
    const route = await get('loam://pos/orders/42');
    expect(route.status).toBe(200);
    expect(await route.text()).toContain('Loam POS');
    expect((await get('loam://pos/assets/missing.js')).status).toBe(404);
  });

  it('answers a fetch of an endpoint the bundle lacks with 404, not with the page', async () => {
    const session = await get('loam://pos/dev/session?terminal=1', 'GET', '*/*');
    expect(session.status).toBe(404);
    expect(await session.text()).not.toContain('Loam POS');
  });

  it.each([
    'loam://pos/../secret.txt',
    'loam://pos/%2e%2e/secret.txt',
    'loam://pos/..%2fsecret.txt',
    'loam://pos/assets/..%2f..%2fsecret.txt',
    'loam://pos/%2e%2e%5csecret.txt',
  ])('never serves a file outside the app folder: %s', async (url) => {
    const response = await get(url);
    expect(response.status).not.toBe(200);
    expect(await response.text()).not.toContain('not for the renderer');
  });

  it('refuses other hosts, bad encodings and methods other than GET/HEAD', async () => {
    expect((await get('loam://other/index.html')).status).toBe(404);
    expect((await get('loam://pos/%E0%A4%A')).status).toBe(400);
    expect((await get('loam://pos/index.html', 'POST')).status).toBe(405);
    const head = await get('loam://pos/index.html', 'HEAD');
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
  });
});
