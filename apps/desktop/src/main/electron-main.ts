/**
 * The Electron main process: the only module that imports `electron`. It wires the plain modules beside it
 * (tested under Node) to Electron's objects and holds no decisions of its own. Bundled to `dist/main.cjs`,
 * where `__dirname` is `dist/`, beside `preload.cjs` and the POS app in `pos/`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { app, BrowserWindow, dialog, ipcMain, Menu, protocol, session, type WebContents } from 'electron';
import { PEERS_EVENT_CHANNEL, type TerminalConfig } from '../shared/contract';
import { type AppEntry, assertBundlePresent, resolveAppEntry } from './app-entry';
import { createAppRequestHandler } from './app-protocol';
import { createIpcRouter } from './ipc';
import { APP_SCHEME } from './origin';
import { createPeerService } from './peers/peer-service';
import {
  APP_SCHEME_PRIVILEGES,
  decideWindowOpen,
  isAllowedNavigation,
  isPermissionAllowed,
  mainWindowOptions,
  secureWebPreferences,
  withContentSecurityPolicy,
} from './security';
import { parseShellConfig, resolveDataPaths, type ShellConfig } from './shell-config';
import { claimSingleInstance } from './single-instance';
import {
  DEFAULT_RELAY_URL,
  defaultTerminalId,
  loadTerminalConfig,
  terminalConfigPath,
} from './terminal-config';
import { CHROMIUM_SWITCHES, isPermissionCheckAllowed, WEBRTC_IP_HANDLING_POLICY } from './webrtc-policy';

protocol.registerSchemesAsPrivileged([{ scheme: APP_SCHEME, privileges: APP_SCHEME_PRIVILEGES }]);

let mainWindow: BrowserWindow | undefined;

function stop(error: unknown): void {
  const message = error instanceof Error ? error.message : String(error);
  console.error(`Loam POS cannot start: ${message}`);
  dialog.showErrorBox('Loam POS cannot start', message);
  app.exit(1);
}

function guard(contents: WebContents, entry: AppEntry, preload: string, kiosk: boolean): void {
  const refuse = (event: { preventDefault(): void }, url: string) => {
    if (!isAllowedNavigation(url, entry.appOrigin)) {
      event.preventDefault();
      console.warn(`Refused navigation to ${url}`);
    }
  };
  contents.on('will-navigate', (event) => refuse(event, event.url));
  contents.on('will-redirect', (event) => refuse(event, event.url));
  contents.on('will-attach-webview', (event) => event.preventDefault());
  contents.setWebRTCIPHandlingPolicy(WEBRTC_IP_HANDLING_POLICY);
  contents.setWindowOpenHandler(({ url }) =>
    decideWindowOpen(url, entry.appOrigin, secureWebPreferences({ preload, kiosk })),
  );
}

function openWindow(shell: ShellConfig, entry: AppEntry, terminal: TerminalConfig): void {
  const preload = join(__dirname, 'preload.cjs');
  const defaultSession = session.defaultSession;

  if (entry.bundleDir !== undefined) {
    protocol.handle(APP_SCHEME, createAppRequestHandler({ appDir: entry.bundleDir, csp: entry.csp }));
  } else {
    defaultSession.webRequest.onHeadersReceived({ urls: [`${entry.appOrigin}/*`] }, (details, respond) =>
      respond({ responseHeaders: withContentSecurityPolicy(details.responseHeaders, entry.csp) }),
    );
  }
  defaultSession.setPermissionRequestHandler((contents, permission, respond, details) =>
    respond(isPermissionAllowed(permission, details.requestingUrl ?? contents.getURL(), entry.appOrigin)),
  );
  defaultSession.setPermissionCheckHandler((_contents, permission, requestingOrigin) =>
    isPermissionCheckAllowed(permission, requestingOrigin, entry.appOrigin),
  );
  app.on('web-contents-created', (_event, contents) => guard(contents, entry, preload, shell.kiosk));

  const peers = createPeerService({
    emit: (event) => mainWindow?.webContents.send(PEERS_EVENT_CHANNEL, event),
    ...(terminal.relayKey ? { relayKey: terminal.relayKey } : {}),
  });
  app.on('will-quit', () => void peers.stop());
  const router = createIpcRouter({
    appOrigin: entry.appOrigin,
    handlers: {
      info: () => ({ version: app.getVersion(), platform: process.platform, kiosk: shell.kiosk }),
      terminalConfig: () => terminal,
      peers,
    },
  });
  for (const channel of router.channels) {
    ipcMain.handle(channel, (event, ...args: unknown[]) =>
      router.handle(channel, { url: event.senderFrame?.url }, args),
    );
  }

  if (shell.kiosk) Menu.setApplicationMenu(null);
  const window = new BrowserWindow(mainWindowOptions({ preload, kiosk: shell.kiosk }));
  mainWindow = window;
  window.once('ready-to-show', () => window.show());
  window.on('closed', () => {
    mainWindow = undefined;
  });
  window.loadURL(entry.entryUrl).catch(stop);
}

function main(): void {
  let shell: ShellConfig;
  try {
    shell = parseShellConfig(process.argv.slice(app.isPackaged ? 1 : 2), process.env, {
      bundleDir: join(__dirname, 'pos'),
      cwd: process.cwd(),
    });
  } catch (error) {
    stop(error);
    return;
  }
  const paths = resolveDataPaths(shell.dataDir, app.getPath('appData'));
  app.setPath('userData', paths.userData);
  app.setPath('sessionData', paths.sessionData);
  if (!claimSingleInstance(app, () => mainWindow)) return;
  app.enableSandbox();
  for (const [name, value] of CHROMIUM_SWITCHES) app.commandLine.appendSwitch(name, value);
  app.on('window-all-closed', () => app.quit());

  app
    .whenReady()
    .then(() => {
      const terminal = loadTerminalConfig({
        file: terminalConfigPath(paths.userData),
        readFile: (path) => readFileSync(path, 'utf8'),
        defaults: { relayUrl: DEFAULT_RELAY_URL, terminalId: defaultTerminalId(hostname()) },
        relayUrlOverride: shell.relayUrl,
      });
      const entry = resolveAppEntry(shell.source, terminal.relayUrl, terminal.sessionUrl);
      assertBundlePresent(entry, existsSync);
      openWindow(shell, entry, terminal);
    })
    .catch(stop);
}

main();
