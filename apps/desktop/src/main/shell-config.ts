/**
 * How the shell is started: flags on the command line, or environment variables (a flag wins over its
 * variable). Unknown arguments are ignored, because Chromium and the OS add their own.
 *
 * | flag                | variable                | meaning                                                     |
 * | ------------------- | ----------------------- | ----------------------------------------------------------- |
 * | `--kiosk`           | `LOAM_DESKTOP_KIOSK=1`  | locked fullscreen, no menu, no developer tools              |
 * | `--url=URL`         | `LOAM_DESKTOP_URL`      | load the POS app from a dev server instead of the bundle    |
 * | `--relay-url=URL`   | `LOAM_RELAY_URL`        | the relay, overriding the terminal configuration file      |
 * | `--data-dir=PATH`   | `LOAM_DESKTOP_DATA_DIR` | user-data folder (a second terminal on one machine)         |
 */
import { isAbsolute, resolve } from 'node:path';
import { ShellConfigError } from '../errors';

/** Where the window's page comes from. */
export type AppSource =
  /** The built POS app, served from `dir` under the `loam://pos/` scheme. */
  | { readonly kind: 'bundle'; readonly dir: string }
  /** A development server, e.g. the one `npm start` runs; `url` is http(s). */
  | { readonly kind: 'url'; readonly url: string };

/** The shell's start-up settings. */
export interface ShellConfig {
  readonly kiosk: boolean;
  readonly source: AppSource;
  /** Relay URL that overrides the terminal configuration file, if given. */
  readonly relayUrl: string | undefined;
  /** Absolute user-data folder that overrides the platform default, if given. */
  readonly dataDir: string | undefined;
}

/** What {@link parseShellConfig} needs besides the arguments. */
export interface ShellConfigContext {
  /** The folder of the bundled POS app (`dist/pos` beside the main bundle). */
  readonly bundleDir: string;
  /** Directory that a relative `--data-dir` resolves against. */
  readonly cwd: string;
}

type Env = Readonly<Record<string, string | undefined>>;

const VALUE_FLAGS = ['--url', '--relay-url', '--data-dir'] as const;
type ValueFlag = (typeof VALUE_FLAGS)[number];

function isValueFlag(name: string): name is ValueFlag {
  return (VALUE_FLAGS as readonly string[]).includes(name);
}

function parseBoolean(value: string, source: string): boolean {
  const v = value.trim().toLowerCase();
  if (v === '1' || v === 'true' || v === 'yes' || v === '') return true;
  if (v === '0' || v === 'false' || v === 'no') return false;
  throw new ShellConfigError(source, `expected true or false, got "${value}"`);
}

function parseUrl(value: string, source: string, protocols: readonly string[]): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ShellConfigError(source, `"${value}" is not a URL`);
  }
  if (!protocols.includes(url.protocol)) {
    throw new ShellConfigError(
      source,
      `"${value}" must start with ${protocols.map((p) => `${p}//`).join(', ')}`,
    );
  }
  if (url.username !== '' || url.password !== '') {
    throw new ShellConfigError(source, 'credentials do not belong in the URL');
  }
  return url.href;
}

/** Protocols a relay URL may use: the relay serves WebSocket and HTTP on one port. */
export const RELAY_PROTOCOLS = ['ws:', 'wss:', 'http:', 'https:'] as const;

/**
 * Checks a relay URL and returns it normalised. Throws {@link ShellConfigError} naming `source` when it is not
 * a ws(s) or http(s) URL, or carries credentials.
 */
export function parseRelayUrl(value: string, source: string): string {
  return parseUrl(value, source, RELAY_PROTOCOLS);
}

/**
 * Reads the shell's settings from `argv` (the arguments after the executable and, unpackaged, the script) and
 * `env`. Flags take `--flag=value` or `--flag value`. Throws {@link ShellConfigError} naming the flag or
 * variable when a value is unusable; nothing is guessed.
 */
export function parseShellConfig(
  argv: readonly string[],
  env: Env,
  context: ShellConfigContext,
): ShellConfig {
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    const eq = arg.indexOf('=');
    const name = eq === -1 ? arg : arg.slice(0, eq);
    if (name === '--kiosk') {
      flags.set(name, eq === -1 ? 'true' : arg.slice(eq + 1));
    } else if (isValueFlag(name)) {
      if (eq !== -1) {
        flags.set(name, arg.slice(eq + 1));
      } else {
        const next = argv[i + 1];
        if (next === undefined || next.startsWith('--')) {
          throw new ShellConfigError(name, `a value is required, e.g. ${name}=…`);
        }
        flags.set(name, next);
        i++;
      }
    }
  }

  const pick = (flag: string, variable: string): { value: string; source: string } | undefined => {
    const fromFlag = flags.get(flag);
    if (fromFlag !== undefined) return { value: fromFlag, source: flag };
    const fromEnv = env[variable];
    if (fromEnv !== undefined && fromEnv !== '') return { value: fromEnv, source: variable };
    return undefined;
  };

  const kioskSetting = pick('--kiosk', 'LOAM_DESKTOP_KIOSK');
  const kiosk = kioskSetting === undefined ? false : parseBoolean(kioskSetting.value, kioskSetting.source);

  const urlSetting = pick('--url', 'LOAM_DESKTOP_URL');
  const source: AppSource =
    urlSetting === undefined
      ? { kind: 'bundle', dir: context.bundleDir }
      : { kind: 'url', url: parseUrl(urlSetting.value, urlSetting.source, ['http:', 'https:']) };

  const relaySetting = pick('--relay-url', 'LOAM_RELAY_URL');
  const relayUrl =
    relaySetting === undefined ? undefined : parseRelayUrl(relaySetting.value, relaySetting.source);

  const dataSetting = pick('--data-dir', 'LOAM_DESKTOP_DATA_DIR');
  let dataDir: string | undefined;
  if (dataSetting !== undefined) {
    if (dataSetting.value.trim() === '') throw new ShellConfigError(dataSetting.source, 'the path is empty');
    dataDir = isAbsolute(dataSetting.value) ? dataSetting.value : resolve(context.cwd, dataSetting.value);
  }

  return { kiosk, source, relayUrl, dataDir };
}

/** Where the shell keeps its data. Both are set explicitly with `app.setPath` before the app is ready. */
export interface DataPaths {
  /** `userData`: the terminal configuration file lives here. */
  readonly userData: string;
  /**
   * `sessionData`: Chromium's storage for the app's origin (OPFS under `File System/`, IndexedDB, the
   * service worker cache). The same folder as `userData`, so one folder holds all of a terminal's data.
   */
  readonly sessionData: string;
}

/** The product's folder name under the platform's application-data folder. */
export const PRODUCT_DIR_NAME = 'Loam POS';

/**
 * The user-data and session-data folders: `dataDir` when given, else `Loam POS` under the platform's
 * application-data folder (`~/.config` on Linux, `%APPDATA%` on Windows).
 */
export function resolveDataPaths(dataDir: string | undefined, appDataDir: string): DataPaths {
  const userData = dataDir ?? resolve(appDataDir, PRODUCT_DIR_NAME);
  return { userData, sessionData: userData };
}
