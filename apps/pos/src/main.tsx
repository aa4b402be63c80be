/**
 * The POS app's entry: registers the service worker (offline start), signs the terminal in (or reuses its saved
 * session when offline), opens its database with sync, and renders the till.
 */
import type { ReactNode } from 'react';
import { createRoot } from 'react-dom/client';
import { peerOnDesktopLan } from './app/desktop-peering';
import { deviceCode } from './app/device';
import { LoamProvider } from './app/loam';
import { openTerminal, type ShopDatabase } from './app/shop-database';
import { type SessionStore, signIn, type TerminalSession, terminalOf } from './app/terminal-session';
import { parseTerminal } from './shop/terminal';
import { App } from './ui/app';
import './ui/styles.css';

async function registerServiceWorker(): Promise<void> {
  if (!('serviceWorker' in navigator)) return;
  try {
    await navigator.serviceWorker.register('/sw.js', { type: 'module', scope: '/' });
  } catch (error) {
    console.warn(`Offline start unavailable: ${(error as Error).message}`);
  }
}

function BootMessage({ title, children }: { readonly title: string; readonly children: ReactNode }) {
  return (
    <main className="boot" data-testid="boot-message">
      <span className="logo" aria-hidden="true">
        L
      </span>
      <h1>{title}</h1>
      {children}
    </main>
  );
}

function NoSuchTill({ value }: { readonly value: string }) {
  return (
    <BootMessage title={`There is no till “${value}”`}>
      <p>Tills are numbered from 1 to 99. Open this page with the number of the till it runs, for example:</p>
      <ul className="till-links">
        {['1', '2', '3'].map((n) => (
          <li key={n}>
            <a href={`?terminal=${n}`}>Till {n}</a>
          </li>
        ))}
      </ul>
    </BootMessage>
  );
}

/**
 * The developer-console handle of the running till (`loamPos.db` in the browser's console): for trying writes the
 * till's screens do not offer, such as changing a price as a cashier (the server refuses it, as it would any app).
 */
function exposeForConsole(db: ShopDatabase, session: TerminalSession): void {
  (globalThis as { loamPos?: unknown }).loamPos = { db, session };
}

/** Inside the desktop shell: the terminal's id and sign-in endpoint from `window.loamDesktop`. */
async function desktopTerminal(): Promise<{ terminalId: string; sessionUrl?: string } | undefined> {
  const api = (
    globalThis as {
      loamDesktop?: { getTerminalConfig(): Promise<{ terminalId: string; sessionUrl?: string }> };
    }
  ).loamDesktop;
  if (!api) return undefined;
  try {
    return await api.getTerminalConfig();
  } catch {
    return undefined;
  }
}

async function boot(): Promise<void> {
  const element = document.getElementById('root');
  if (!element) throw new Error('index.html lacks #root');
  const root = createRoot(element);
  root.render(<BootMessage title="Opening the till…">Loading this terminal's data.</BootMessage>);
  const worker = registerServiceWorker();
  const desktop = await desktopTerminal();
  const store: SessionStore = {
    fetch: (...args) => fetch(...args),
    storage: localStorage,
    ...(desktop?.sessionUrl ? { sessionUrl: desktop.sessionUrl } : {}),
  };
  const choice = desktop
    ? { terminal: parseTerminal(desktop.terminalId) }
    : terminalOf(location, localStorage);
  const terminal = 'terminal' in choice ? choice.terminal : undefined;
  if (terminal === undefined) {
    root.render(<NoSuchTill value={'invalid' in choice ? choice.invalid : (desktop?.terminalId ?? '')} />);
    return;
  }
  const session = await signIn(terminal, store);
  if (!session) {
    root.render(
      <BootMessage title={`Till ${terminal} is not set up`}>
        <p>
          This terminal has never signed in. Connect it to the shop network once and reload; after that it
          works offline.
        </p>
      </BootMessage>,
    );
    return;
  }
  document.title = `Till ${session.terminal} · Loam POS`;
  try {
    const db = await openTerminal(session, async () => (await signIn(terminal, store))?.token ?? null);
    exposeForConsole(db, session);
    if (desktop) void peerOnDesktopLan(db, session.storeId);
    const seller = {
      storeId: session.storeId,
      terminal: session.terminal,
      cashier: session.cashier,
      device: deviceCode(localStorage),
    };
    root.render(
      <LoamProvider db={db}>
        <App db={db} seller={seller} />
      </LoamProvider>,
    );
  } catch (error) {
    root.render(
      <BootMessage title="The till could not open its data">
        <p>{(error as Error).message}</p>
      </BootMessage>,
    );
  }
  await worker;
}

void boot();
