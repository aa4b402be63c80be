/**
 * Who this terminal is: its store, number, cashier, relay address and token. Fetched from the sign-in endpoint
 * when the network allows, and kept in `localStorage` so the till starts, and keeps selling, without it.
 */
import { parseTerminal } from '../shop/terminal';

/** What `GET /dev/session?terminal=<n>` answers (see `src/node/dev-session-plugin.ts`). */
export interface TerminalSessionResponse {
  readonly token: string;
  /** Token expiry, ms since epoch. */
  readonly expiresAt: number;
  /** `ws://host:port/sync` of the relay. */
  readonly syncUrl: string;
  readonly storeId: string;
  readonly terminal: string;
  readonly cashier: string;
}

/** A terminal's session, plus where it came from. */
export interface TerminalSession extends TerminalSessionResponse {
  /** `network` when just signed in, `saved` when read back from this device because the endpoint was unreachable. */
  readonly source: 'network' | 'saved';
}

/** Where a terminal session is fetched from and kept. */
export interface SessionStore {
  readonly fetch: typeof fetch;
  readonly storage: Pick<Storage, 'getItem' | 'setItem'>;
  /** The sign-in endpoint; default `/dev/session` of the server the app came from (the desktop shell sets one). */
  readonly sessionUrl?: string;
}

const SIGN_IN_TIMEOUT_MS = 4_000;
const TERMINAL_KEY = 'loam-pos:terminal';

function storageKey(terminal: string): string {
  return `loam-pos:session:${terminal}`;
}

function isSession(value: unknown): value is TerminalSessionResponse {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v.token === 'string' &&
    typeof v.expiresAt === 'number' &&
    typeof v.syncUrl === 'string' &&
    typeof v.storeId === 'string' &&
    typeof v.terminal === 'string' &&
    typeof v.cashier === 'string'
  );
}

/** The session saved on this device for `terminal`, if any. */
export function savedSession(terminal: string, store: SessionStore): TerminalSession | undefined {
  try {
    const value: unknown = JSON.parse(store.storage.getItem(storageKey(terminal)) ?? 'null');
    return isSession(value) ? { ...value, source: 'saved' } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Signs `terminal` in (and saves the session), or, when the endpoint cannot be reached, returns the saved
 * session; `undefined` when neither exists (a terminal must be online once to be set up).
 */
export async function signIn(terminal: string, store: SessionStore): Promise<TerminalSession | undefined> {
  try {
    const response = await store.fetch(
      `${store.sessionUrl ?? '/dev/session'}?terminal=${encodeURIComponent(terminal)}`,
      {
        cache: 'no-store',
        signal: AbortSignal.timeout(SIGN_IN_TIMEOUT_MS),
      },
    );
    const body: unknown = response.ok ? await response.json() : undefined;
    if (isSession(body)) {
      store.storage.setItem(storageKey(terminal), JSON.stringify(body));
      return { ...body, source: 'network' };
    }
  } catch {
    // Unreachable sign-in endpoint: the saved session below is the answer.
  }
  return savedSession(terminal, store);
}

/** The till a page is for, or the `?terminal=` value that names no till. */
export type TerminalChoice = { readonly terminal: string } | { readonly invalid: string };

/**
 * The till of this page: `?terminal=<n>` (1 to 99), else the one this device used last, else `1`. A `?terminal=`
 * that is not a till number (`abc`, `0`, `100`, `-1`) is reported as invalid, never replaced by another till.
 */
export function terminalOf(
  location: Pick<Location, 'search'>,
  storage: SessionStore['storage'],
): TerminalChoice {
  const fromUrl = new URLSearchParams(location.search).get('terminal');
  const terminal =
    fromUrl === null ? (parseTerminal(storage.getItem(TERMINAL_KEY)) ?? '1') : parseTerminal(fromUrl);
  if (terminal === undefined) return { invalid: fromUrl ?? '' };
  storage.setItem(TERMINAL_KEY, terminal);
  return { terminal };
}
