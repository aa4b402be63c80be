/**
 * What the main process and the preload agree on: the IPC channels, what they answer, and the API the
 * renderer (the POS app) sees as `window.loamDesktop`. Imports nothing, so both bundles can include it.
 */

/** The IPC channels the main process serves; any other channel is refused. */
export const IpcChannel = {
  info: 'loam-desktop:info',
  terminalConfig: 'loam-desktop:terminal-config',
} as const;
export type IpcChannel = (typeof IpcChannel)[keyof typeof IpcChannel];

/** What `loamDesktop.info()` answers. */
export interface DesktopInfo {
  /** The shell's version (the packaged app's version). */
  readonly version: string;
  /** `process.platform` of the terminal, e.g. `linux`, `win32`. */
  readonly platform: string;
  /** Whether the window runs in kiosk (locked fullscreen) mode. */
  readonly kiosk: boolean;
}

/** What `loamDesktop.getTerminalConfig()` answers: the terminal's settings, read by main from user data. */
export interface TerminalConfig {
  /** The relay's WebSocket URL, e.g. `ws://127.0.0.1:8787`; the only remote address the app may connect to. */
  readonly relayUrl: string;
  /** This terminal's name, e.g. `till-1`; shown by the app and used to tell terminals apart. */
  readonly terminalId: string;
  /**
   * The shop's sign-in endpoint (http or https) that issues this terminal's token: the app calls
   * `GET <sessionUrl>?terminal=<terminalId>` and expects the POS session JSON (token, expiry, sync URL, store,
   * cashier). Absent: the app uses the `/dev/session` endpoint of the server it was loaded from (development).
   */
  readonly sessionUrl?: string;
}

/**
 * How an IPC answer travels: Electron keeps only the message of a thrown error, so main sends refusals as
 * values and the preload rebuilds an error carrying the same `code`.
 */
export type IpcResult<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly code: string; readonly message: string };

/** The API exposed to the renderer as `window.loamDesktop`. Present only inside the desktop shell. */
export interface LoamDesktopApi {
  /** The shell's version, platform and kiosk mode. */
  info(): Promise<DesktopInfo>;
  /** The terminal's relay URL and id. */
  getTerminalConfig(): Promise<TerminalConfig>;
}

/** The global name the preload exposes the API under. */
export const DESKTOP_API_NAME = 'loamDesktop';
