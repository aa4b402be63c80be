import { describe, expect, it } from 'vitest';
import { APP_ORIGIN } from './origin';
import {
  contentSecurityPolicy,
  decideWindowOpen,
  isAllowedNavigation,
  isPermissionAllowed,
  mainWindowOptions,
  secureWebPreferences,
  withContentSecurityPolicy,
} from './security';

function directives(csp: string): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const part of csp.split(';')) {
    const [name, ...values] = part.trim().split(/\s+/);
    if (name) map.set(name, values);
  }
  return map;
}

describe('window options', () => {
  const options = mainWindowOptions({ preload: '/app/dist/preload.cjs', kiosk: false });

  it('isolate the renderer: sandboxed, no Node, web security on', () => {
    const prefs = options.webPreferences;
    expect(prefs.contextIsolation).toBe(true);
    expect(prefs.sandbox).toBe(true);
    expect(prefs.nodeIntegration).toBe(false);
    expect(prefs.nodeIntegrationInWorker).toBe(false);
    expect(prefs.nodeIntegrationInSubFrames).toBe(false);
    expect(prefs.webSecurity).toBe(true);
    expect(prefs.allowRunningInsecureContent).toBe(false);
    expect(prefs.webviewTag).toBe(false);
    expect(prefs.experimentalFeatures).toBe(false);
    expect(prefs.navigateOnDragDrop).toBe(false);
    expect(prefs.preload).toBe('/app/dist/preload.cjs');
  });

  it('set no switch that loosens isolation (remote module, blink features, in-memory partition)', () => {
    const prefs = options.webPreferences as unknown as Record<string, unknown>;
    expect(prefs.enableRemoteModule).toBeUndefined();
    expect(prefs.enableBlinkFeatures).toBeUndefined();
    expect(prefs.partition).toBeUndefined();
    expect(prefs.additionalArguments).toBeUndefined();
  });

  it('open a hidden 1280×800 window, and lock kiosk mode into fullscreen without developer tools', () => {
    expect(options).toMatchObject({ width: 1280, height: 800, show: false, kiosk: false, fullscreen: false });
    expect(options.webPreferences.devTools).toBe(true);
    const kiosk = mainWindowOptions({ preload: '/p.cjs', kiosk: true });
    expect(kiosk).toMatchObject({ kiosk: true, fullscreen: true });
    expect(kiosk.webPreferences.devTools).toBe(false);
    expect(kiosk.webPreferences.sandbox).toBe(true);
  });
});

describe('content security policy', () => {
  const csp = contentSecurityPolicy({ relayUrl: 'wss://relay.shop.example:8443/sync' });
  const d = directives(csp);

  it('refuses everything by default and lets the app run its own scripts, workers and WebAssembly', () => {
    expect(d.get('default-src')).toEqual(["'none'"]);
    expect(d.get('script-src')).toEqual(["'self'", "'wasm-unsafe-eval'"]);
    expect(d.get('worker-src')).toEqual(["'self'"]);
    expect(csp).not.toContain("'unsafe-eval'");
    expect(d.get('script-src')).not.toContain("'unsafe-inline'");
    expect(d.get('object-src')).toEqual(["'none'"]);
    expect(d.get('frame-ancestors')).toEqual(["'none'"]);
    expect(d.get('base-uri')).toEqual(["'none'"]);
  });

  it('connects only to the app itself and the relay (its WebSocket and HTTP origin)', () => {
    expect(d.get('connect-src')).toEqual([
      "'self'",
      'wss://relay.shop.example:8443',
      'https://relay.shop.example:8443',
    ]);
    const local = directives(contentSecurityPolicy({ relayUrl: 'http://127.0.0.1:8787' }));
    expect(local.get('connect-src')).toEqual(["'self'", 'http://127.0.0.1:8787', 'ws://127.0.0.1:8787']);
  });

  it("adds the terminal's sign-in endpoint origin, and nothing else of it, when one is configured", () => {
    const withSession = directives(
      contentSecurityPolicy({
        relayUrl: 'wss://relay.shop.example:8443',
        sessionUrl: 'https://id.shop.example/pos/session',
      }),
    );
    expect(withSession.get('connect-src')).toEqual([
      "'self'",
      'wss://relay.shop.example:8443',
      'https://relay.shop.example:8443',
      'https://id.shop.example',
    ]);
  });

  it('has no wildcard or scheme-wide source anywhere', () => {
    for (const [name, values] of d) {
      for (const v of values) {
        expect(v, `${name} ${v}`).not.toMatch(/\*|^(https?|wss?):$/);
      }
    }
  });

  it('adds the dev server for hot reload only when loading from it', () => {
    const dev = directives(
      contentSecurityPolicy({ relayUrl: 'ws://127.0.0.1:8787/', devServerUrl: 'http://localhost:5173/' }),
    );
    expect(dev.get('connect-src')).toEqual([
      "'self'",
      'ws://127.0.0.1:8787',
      'http://127.0.0.1:8787',
      'http://localhost:5173',
      'ws://localhost:5173',
    ]);
    expect(d.get('connect-src')).not.toContain('ws://localhost:5173');
  });

  it('replaces a policy sent by a dev server, whatever the header case, keeping other headers', () => {
    const headers = withContentSecurityPolicy(
      { 'content-security-policy': ['default-src *'], 'Content-Type': 'text/html' },
      csp,
    );
    expect(headers).toEqual({ 'Content-Type': ['text/html'], 'Content-Security-Policy': [csp] });
    expect(withContentSecurityPolicy(undefined, csp)).toEqual({ 'Content-Security-Policy': [csp] });
  });
});

describe('navigation guard', () => {
  it('allows pages of the app origin', () => {
    expect(isAllowedNavigation('loam://pos/', APP_ORIGIN)).toBe(true);
    expect(isAllowedNavigation('loam://pos/orders?id=1#x', APP_ORIGIN)).toBe(true);
    expect(isAllowedNavigation('LOAM://POS/orders', APP_ORIGIN)).toBe(true);
    expect(isAllowedNavigation('http://localhost:5173/cart', 'http://localhost:5173')).toBe(true);
  });

  it.each([
    ['https://evil.example/', APP_ORIGIN],
    ['loam://evil/', APP_ORIGIN],
    ['loam://pos.evil.example/', APP_ORIGIN],
    ['file:///etc/passwd', APP_ORIGIN],
    ['javascript:alert(1)', APP_ORIGIN],
    ['data:text/html,<h1>hi</h1>', APP_ORIGIN],
    ['about:blank', APP_ORIGIN],
    ['not a url', APP_ORIGIN],
    ['http://localhost:5174/', 'http://localhost:5173'],
    ['https://localhost:5173/', 'http://localhost:5173'],
  ])('refuses %s from %s', (url, origin) => {
    expect(isAllowedNavigation(url, origin)).toBe(false);
  });

  it('opens same-origin windows with the secure preferences and refuses every other', () => {
    const prefs = secureWebPreferences({ preload: '/p.cjs', kiosk: true });
    expect(decideWindowOpen('loam://pos/receipt/42', APP_ORIGIN, prefs)).toEqual({
      action: 'allow',
      overrideBrowserWindowOptions: { autoHideMenuBar: true, webPreferences: prefs },
    });
    expect(decideWindowOpen('https://example.com/', APP_ORIGIN, prefs)).toEqual({ action: 'deny' });
    expect(decideWindowOpen('file:///tmp/x.html', APP_ORIGIN, prefs)).toEqual({ action: 'deny' });
  });
});

describe('permission guard', () => {
  it('grants fullscreen and clipboard writes to the app', () => {
    expect(isPermissionAllowed('fullscreen', 'loam://pos/', APP_ORIGIN)).toBe(true);
    expect(isPermissionAllowed('clipboard-sanitized-write', 'loam://pos/sale', APP_ORIGIN)).toBe(true);
  });

  it.each([
    'media',
    'geolocation',
    'notifications',
    'openExternal',
    'midiSysex',
    'clipboard-read',
    'hid',
    'serial',
  ])('refuses %s even to the app', (permission) => {
    expect(isPermissionAllowed(permission, 'loam://pos/', APP_ORIGIN)).toBe(false);
  });

  it('refuses an allowed permission to any other origin', () => {
    expect(isPermissionAllowed('fullscreen', 'https://evil.example/', APP_ORIGIN)).toBe(false);
    expect(isPermissionAllowed('fullscreen', '', APP_ORIGIN)).toBe(false);
  });
});
