/**
 * Where the window goes and what it may do there, decided once at start-up from the shell configuration and
 * the terminal's relay URL.
 */
import { join } from 'node:path';
import { DesktopError, DesktopErrorCode, ShellConfigError } from '../errors';
import { APP_ORIGIN } from './origin';
import { contentSecurityPolicy } from './security';
import type { AppSource } from './shell-config';

/** The window's entry point and the policy around it. */
export interface AppEntry {
  /** The origin every navigation, IPC sender and permission request must be on. */
  readonly appOrigin: string;
  /** The URL the window loads first. */
  readonly entryUrl: string;
  /** The Content-Security-Policy for the app's responses. */
  readonly csp: string;
  /** The bundled app's folder, when served from the bundle. */
  readonly bundleDir: string | undefined;
}

/**
 * The entry for a source: the bundle loads `loam://pos/` (served from `dir`); a dev server loads its URL, is
 * the app's origin, and may also be reached over WebSocket for hot reload.
 */
export function resolveAppEntry(source: AppSource, relayUrl: string, sessionUrl?: string): AppEntry {
  if (source.kind === 'bundle') {
    return {
      appOrigin: APP_ORIGIN,
      entryUrl: `${APP_ORIGIN}/`,
      csp: contentSecurityPolicy({ relayUrl, sessionUrl }),
      bundleDir: source.dir,
    };
  }
  const url = new URL(source.url);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ShellConfigError('--url', `"${source.url}" must be an http(s) URL`);
  }
  return {
    appOrigin: url.origin,
    entryUrl: url.href,
    csp: contentSecurityPolicy({ relayUrl, devServerUrl: url.href, sessionUrl }),
    bundleDir: undefined,
  };
}

/**
 * Throws `desktop_app_missing` when the entry serves the bundle but the bundle has no `index.html`: the shell
 * was built before the POS app was. A window showing "Not found" would say less.
 */
export function assertBundlePresent(entry: AppEntry, exists: (path: string) => boolean): void {
  if (entry.bundleDir === undefined) return;
  const index = join(entry.bundleDir, 'index.html');
  if (!exists(index)) {
    throw new DesktopError(
      DesktopErrorCode.appMissing,
      `The POS app is not in this build (${index} is missing). Build it with \`npm run build -w @loam/pos\` ` +
        'and then `npm run build -w @loam/desktop`, or start the shell with --url=<dev server URL>.',
    );
  }
}
