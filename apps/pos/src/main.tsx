/**
 * The POS app's entry: registers the service worker (offline start), signs the terminal in (or reuses its saved
 * session when offline), opens its database with sync, and renders the till.
 */
import { createRoot } from 'react-dom/client';
import { openTerminal } from './app/shop-database';
import { type SessionStore, signIn, terminalOf } from './app/terminal-session';
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

function BootMessage({ title, children }: { readonly title: string; readonly children: string }) {
  return (
    <main className="boot">
      <h1>{title}</h1>
      <p>{children}</p>
    </main>
  );
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
  const terminal = desktop?.terminalId ?? terminalOf(location, localStorage);
  const session = await signIn(terminal, store);
  if (!session) {
    root.render(
      <BootMessage title={`Till ${terminal} is not set up`}>
        This terminal has never signed in. Connect it to the shop network once and reload; after that it works
        offline.
      </BootMessage>,
    );
    return;
  }
  document.title = `Till ${session.terminal} · Loam POS`;
  try {
    const db = await openTerminal(session, async () => (await signIn(terminal, store))?.token ?? null);
    root.render(<App db={db} session={session} />);
  } catch (error) {
    root.render(
      <BootMessage title="The till could not open its data">{(error as Error).message}</BootMessage>,
    );
  }
  await worker;
}

void boot();
