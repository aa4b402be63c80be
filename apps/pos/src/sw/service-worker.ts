/**
 * The POS app's service worker: precaches every file of the build at install (the app shell, the database
 * worker and wa-sqlite's wasm included), so that once loaded the app starts with no network at all. Cache first;
 * a new build (new manifest version) installs its own cache, takes over at once and deletes older ones.
 */
import { cachedPathFor, cacheName, isAppCache, type PrecacheManifest } from './precache';

/** The build replaces this string with the manifest as JSON (see `precache-plugin.ts`). */
const manifest = JSON.parse('__LOAM_PRECACHE_MANIFEST__') as PrecacheManifest;

interface ExtendableEvent extends Event {
  waitUntil(promise: Promise<unknown>): void;
}
interface FetchEvent extends ExtendableEvent {
  readonly request: Request;
  respondWith(response: Promise<Response>): void;
}
interface ServiceWorkerScope {
  readonly registration: { readonly scope: string };
  readonly clients: { claim(): Promise<void> };
  skipWaiting(): Promise<void>;
  addEventListener(type: 'install' | 'activate', listener: (event: ExtendableEvent) => void): void;
  addEventListener(type: 'fetch', listener: (event: FetchEvent) => void): void;
}

const worker = globalThis as unknown as ServiceWorkerScope;
const current = cacheName(manifest.version);

worker.addEventListener('install', (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(current);
      await cache.addAll(manifest.files.map((file) => new Request(file, { cache: 'reload' })));
      await worker.skipWaiting();
    })(),
  );
});

worker.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys())
        if (isAppCache(name) && name !== current) await caches.delete(name);
      await worker.clients.claim();
    })(),
  );
});

worker.addEventListener('fetch', (event) => {
  const path = cachedPathFor(event.request, manifest, worker.registration.scope);
  if (path === undefined) return;
  event.respondWith(
    (async () => {
      const cached = await caches.match(path, { cacheName: current });
      return cached ?? (await fetch(event.request));
    })(),
  );
});
