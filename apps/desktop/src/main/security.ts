/**
 * The shell's security decisions, as plain data and predicates that the Electron wiring applies:
 * window preferences, the Content-Security-Policy, and which navigations, new windows and permission
 * requests are allowed. The renderer is the POS app and nothing else: it runs sandboxed without Node, may only
 * stay on its own origin, and may reach the network only at its relay.
 */
import { originOf } from './origin';

/** Preferences of every renderer the shell creates; the subset of Electron's `WebPreferences` it sets. */
export interface SecureWebPreferences {
  readonly preload: string;
  readonly contextIsolation: true;
  readonly sandbox: true;
  readonly nodeIntegration: false;
  readonly nodeIntegrationInWorker: false;
  readonly nodeIntegrationInSubFrames: false;
  readonly webSecurity: true;
  readonly allowRunningInsecureContent: false;
  readonly webviewTag: false;
  readonly experimentalFeatures: false;
  readonly navigateOnDragDrop: false;
  readonly safeDialogs: true;
  readonly spellcheck: false;
  readonly devTools: boolean;
}

/** The main window's options; the subset of Electron's `BrowserWindowConstructorOptions` the shell sets. */
export interface MainWindowOptions {
  readonly title: string;
  readonly width: number;
  readonly height: number;
  readonly minWidth: number;
  readonly minHeight: number;
  readonly show: false;
  readonly backgroundColor: string;
  readonly autoHideMenuBar: boolean;
  readonly kiosk: boolean;
  readonly fullscreen: boolean;
  readonly webPreferences: SecureWebPreferences;
}

/**
 * The renderer's preferences. Electron's `remote` module no longer exists (removed in Electron 14) and
 * `@electron/remote` is not a dependency, so there is nothing to switch off for it. Developer tools are
 * closed in kiosk mode, where a cashier must not reach them.
 */
export function secureWebPreferences(options: { preload: string; kiosk: boolean }): SecureWebPreferences {
  return {
    preload: options.preload,
    contextIsolation: true,
    sandbox: true,
    nodeIntegration: false,
    nodeIntegrationInWorker: false,
    nodeIntegrationInSubFrames: false,
    webSecurity: true,
    allowRunningInsecureContent: false,
    webviewTag: false,
    experimentalFeatures: false,
    navigateOnDragDrop: false,
    safeDialogs: true,
    spellcheck: false,
    devTools: !options.kiosk,
  };
}

/**
 * The main window: 1280×800 (the till layout the POS app is designed for), hidden until its first paint;
 * in kiosk mode locked fullscreen with no menu bar.
 */
export function mainWindowOptions(options: { preload: string; kiosk: boolean }): MainWindowOptions {
  return {
    title: 'Loam POS',
    width: 1280,
    height: 800,
    minWidth: 768,
    minHeight: 600,
    show: false,
    backgroundColor: '#ffffff',
    autoHideMenuBar: true,
    kiosk: options.kiosk,
    fullscreen: options.kiosk,
    webPreferences: secureWebPreferences(options),
  };
}

/**
 * Privileges of the `loam:` scheme: standard (real origin, relative URLs), secure (secure context, so OPFS
 * and service workers are available), with fetch, CORS, streaming and service workers, and a code cache.
 */
export const APP_SCHEME_PRIVILEGES = {
  standard: true,
  secure: true,
  supportFetchAPI: true,
  corsEnabled: true,
  stream: true,
  allowServiceWorkers: true,
  codeCache: true,
} as const;

function twinOrigins(url: string): string[] {
  const origin = originOf(url);
  if (origin === null) return [];
  const twin = origin.replace(/^(https?|wss?):/, (scheme: string) => {
    const map: Record<string, string> = {
      'http:': 'ws:',
      'https:': 'wss:',
      'ws:': 'http:',
      'wss:': 'https:',
    };
    return map[scheme] ?? scheme;
  });
  return twin === origin ? [origin] : [origin, twin];
}

/** What the Content-Security-Policy depends on. */
export interface CspOptions {
  /** The relay URL; its origin (as ws(s) and as http(s), one server on one port) is the only remote target. */
  readonly relayUrl: string;
  /** Set when the app is loaded from a dev server: its WebSocket origin is allowed for hot reload. */
  readonly devServerUrl?: string | undefined;
  /** The terminal's sign-in endpoint, if configured: its origin is allowed too. */
  readonly sessionUrl?: string | undefined;
}

/**
 * The Content-Security-Policy sent with every app response. Everything is refused by default; the app may load
 * its own scripts, workers, styles, images, fonts and manifest, compile WebAssembly (`'wasm-unsafe-eval'`, for
 * wa-sqlite) but not evaluate strings, and connect only to itself and its relay. No plugins, no frames, no
 * `<base>`, not framable.
 */
export function contentSecurityPolicy(options: CspOptions): string {
  const connect = new Set(["'self'", ...twinOrigins(options.relayUrl)]);
  if (options.devServerUrl !== undefined) {
    for (const origin of twinOrigins(options.devServerUrl)) connect.add(origin);
  }
  if (options.sessionUrl !== undefined) connect.add(new URL(options.sessionUrl).origin);
  const directives: [string, ...string[]][] = [
    ['default-src', "'none'"],
    ['script-src', "'self'", "'wasm-unsafe-eval'"],
    ['worker-src', "'self'"],
    ['connect-src', ...connect],
    ['style-src', "'self'", "'unsafe-inline'"],
    ['img-src', "'self'", 'data:', 'blob:'],
    ['font-src', "'self'", 'data:'],
    ['manifest-src', "'self'"],
    ['object-src', "'none'"],
    ['frame-src', "'none'"],
    ['base-uri', "'none'"],
    ['form-action', "'self'"],
    ['frame-ancestors', "'none'"],
  ];
  return directives.map((d) => d.join(' ')).join('; ');
}

/**
 * Response headers with the CSP set, replacing any policy the server sent (whatever its header's case).
 * Used on dev-server responses, which the shell does not serve itself.
 */
export function withContentSecurityPolicy(
  headers: Readonly<Record<string, string | string[]>> | undefined,
  csp: string,
): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (name.toLowerCase() === 'content-security-policy') continue;
    out[name] = Array.isArray(value) ? value : [value];
  }
  out['Content-Security-Policy'] = [csp];
  return out;
}

/** Whether a frame may navigate to `url`: only within the app's own origin. */
export function isAllowedNavigation(url: string, appOrigin: string): boolean {
  return originOf(url) === appOrigin;
}

/** Electron's answer to `setWindowOpenHandler`. */
export type WindowOpenDecision =
  | { readonly action: 'deny' }
  | {
      readonly action: 'allow';
      readonly overrideBrowserWindowOptions: {
        readonly autoHideMenuBar: true;
        readonly webPreferences: SecureWebPreferences;
      };
    };

/**
 * `window.open` and target=_blank links: a page of the app's own origin (a receipt to print, say) opens in a
 * window with the same secure preferences; anything else is refused and nothing opens.
 */
export function decideWindowOpen(
  url: string,
  appOrigin: string,
  webPreferences: SecureWebPreferences,
): WindowOpenDecision {
  if (!isAllowedNavigation(url, appOrigin)) return { action: 'deny' };
  return { action: 'allow', overrideBrowserWindowOptions: { autoHideMenuBar: true, webPreferences } };
}

/**
 * Permissions the POS app may have: going fullscreen and writing to the clipboard (copying an order number).
 * Camera, microphone, location, notifications, MIDI, HID/serial/USB, opening external apps and the rest are
 * refused.
 */
export const ALLOWED_PERMISSIONS: ReadonlySet<string> = new Set(['fullscreen', 'clipboard-sanitized-write']);

/**
 * Whether a permission request (or check) is granted: only a permission in {@link ALLOWED_PERMISSIONS},
 * asked for by a page of the app's own origin.
 */
export function isPermissionAllowed(permission: string, requestingUrl: string, appOrigin: string): boolean {
  return ALLOWED_PERMISSIONS.has(permission) && originOf(requestingUrl) === appOrigin;
}
