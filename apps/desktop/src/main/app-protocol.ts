/**
 * Serves the built POS app from the bundle under `loam://pos/`. Only files inside the app folder are served;
 * a page request (`Accept: text/html`) for a path without an extension that names no file gets `index.html`
 * (the app's client-side routes), while a `fetch` of such a path (an API the bundle does not have) gets 404.
 * Every response carries the Content-Security-Policy.
 */
import { readFile as fsReadFile } from 'node:fs/promises';
import { extname, resolve, sep } from 'node:path';
import { APP_HOST, APP_SCHEME } from './origin';

const MIME_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.webmanifest': 'application/manifest+json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.woff': 'font/woff',
  '.txt': 'text/plain; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
};

/** The MIME type the app protocol sends for a file name; `application/octet-stream` when unknown. */
export function mimeTypeOf(path: string): string {
  return MIME_TYPES[extname(path).toLowerCase()] ?? 'application/octet-stream';
}

/** What {@link createAppRequestHandler} needs. */
export interface AppRequestHandlerOptions {
  /** Absolute folder holding the built POS app (its `index.html`). */
  readonly appDir: string;
  /** The Content-Security-Policy header value. */
  readonly csp: string;
  /** Reads a file; rejects with a Node error (`ENOENT`, `EISDIR`) when there is none. Defaults to `fs`. */
  readonly readFile?: (path: string) => Promise<Uint8Array<ArrayBuffer>>;
}

function errorCode(error: unknown): unknown {
  return typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
}

/**
 * A handler for `protocol.handle('loam', …)`: `GET`/`HEAD` of `loam://pos/<path>` → the file, `404` for
 * anything missing or outside the app folder (`..`, encoded or not), `405` for other methods.
 */
export function createAppRequestHandler(
  options: AppRequestHandlerOptions,
): (request: Request) => Promise<Response> {
  const root = resolve(options.appDir);
  const read = options.readFile ?? ((path: string) => fsReadFile(path));
  const headers = (contentType: string): Record<string, string> => ({
    'content-type': contentType,
    'content-security-policy': options.csp,
    'x-content-type-options': 'nosniff',
  });
  const plain = (status: number, text: string) =>
    new Response(text, { status, headers: headers('text/plain; charset=utf-8') });

  const readIfFile = async (path: string): Promise<Uint8Array<ArrayBuffer> | undefined> => {
    try {
      return await read(path);
    } catch (error) {
      const code = errorCode(error);
      if (code === 'ENOENT' || code === 'EISDIR' || code === 'ENOTDIR') return undefined;
      throw error;
    }
  };

  return async (request) => {
    if (request.method !== 'GET' && request.method !== 'HEAD') return plain(405, 'Method not allowed');
    const url = new URL(request.url);
    if (url.protocol !== `${APP_SCHEME}:` || url.host !== APP_HOST) return plain(404, 'Not found');
    let pathname: string;
    try {
      pathname = decodeURIComponent(url.pathname);
    } catch {
      return plain(400, 'Bad path');
    }
    if (pathname.includes('\0')) return plain(400, 'Bad path');
    const relative = pathname.endsWith('/') ? `${pathname}index.html` : pathname;
    const file = resolve(root, `.${relative.startsWith('/') ? '' : '/'}${relative}`);
    if (!file.startsWith(root + sep)) return plain(404, 'Not found');

    let served = file;
    let body = await readIfFile(file);
    if (
      body === undefined &&
      extname(file) === '' &&
      (request.headers.get('accept') ?? '').includes('text/html')
    ) {
      served = resolve(root, 'index.html');
      body = await readIfFile(served);
    }
    if (body === undefined) return plain(404, 'Not found');
    return new Response(request.method === 'HEAD' ? null : body, {
      status: 200,
      headers: headers(mimeTypeOf(served)),
    });
  };
}
