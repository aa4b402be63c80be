/**
 * What the service worker keeps for offline start, and which cached file answers a request. Pure: shared by the
 * service worker and the build step that writes its manifest.
 *
 * Invariants:
 * 1. The manifest lists every file of one build (app shell, chunks, the database worker, wasm, icons); its
 *    `version` changes whenever any of them does, so a new build installs a new cache and drops the old one.
 * 2. Only same-origin GETs of listed files are answered from the cache; navigations get the cached `index.html`
 *    (the app routes by query string). Everything else (the dev sign-in endpoint, the relay) goes to the network.
 */

/** The list the build writes into the service worker. */
export interface PrecacheManifest {
  /** Changes with the content of any listed file. */
  readonly version: string;
  /** URL paths, each starting with `/`. */
  readonly files: readonly string[];
}

/** The name of the Cache Storage cache of a manifest version. */
export function cacheName(version: string): string {
  return `loam-pos-${version}`;
}

/** Whether `name` is a cache of this app (of any version). */
export function isAppCache(name: string): boolean {
  return name.startsWith('loam-pos-');
}

/** Which request the service worker answers, as far as the cache is concerned. */
export interface RequestInfo {
  readonly method: string;
  readonly url: string;
  readonly mode: string;
}

/**
 * The cached path that answers `request`, or `undefined` to let it go to the network. `scope` is the service
 * worker's origin + base path (`http://127.0.0.1:4173/`).
 */
export function cachedPathFor(
  request: RequestInfo,
  manifest: PrecacheManifest,
  scope: string,
): string | undefined {
  if (request.method !== 'GET') return undefined;
  const url = new URL(request.url);
  const base = new URL(scope);
  if (url.origin !== base.origin || !url.pathname.startsWith(base.pathname)) return undefined;
  if (request.mode === 'navigate') return manifest.files.includes('/index.html') ? '/index.html' : undefined;
  return manifest.files.includes(url.pathname) ? url.pathname : undefined;
}
