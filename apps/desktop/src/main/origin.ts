/**
 * The app's own origin. In production the POS app is served from the bundle under a privileged custom scheme,
 * `loam://pos/`; its storage (OPFS, IndexedDB, the service worker) is keyed by that origin, so the scheme and
 * host must never change between releases or terminals lose their local data.
 */

/** The custom scheme the bundled POS app is served from. */
export const APP_SCHEME = 'loam';
/** The host under {@link APP_SCHEME}; the only one the protocol handler serves. */
export const APP_HOST = 'pos';
/** The bundled app's origin. */
export const APP_ORIGIN = `${APP_SCHEME}://${APP_HOST}`;

const NETWORK_SCHEMES = new Set(['http:', 'https:', 'ws:', 'wss:']);

/**
 * The origin (`scheme://host[:port]`) of a URL, as Chromium computes it for http(s), ws(s) and the app's
 * standard custom scheme; `null` for anything else (`file:`, `data:`, `about:`, unparseable text), which never
 * matches an allowed origin. Node's `URL` reports `"null"` for custom schemes, hence this helper.
 */
export function originOf(url: string): string | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return null;
  }
  if (NETWORK_SCHEMES.has(parsed.protocol)) return parsed.origin;
  if (parsed.protocol === `${APP_SCHEME}:` && parsed.host !== '') {
    return `${parsed.protocol}//${parsed.host.toLowerCase()}`;
  }
  return null;
}
