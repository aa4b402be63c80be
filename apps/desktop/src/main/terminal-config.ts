/**
 * The terminal configuration file, `terminal.json` in the user-data folder, written by whoever sets up the
 * till:
 *
 * ```json
 * { "relayUrl": "wss://relay.example.com", "terminalId": "till-1" }
 * ```
 *
 * `sessionUrl` (the shop's sign-in endpoint) and `relayKey` (the relay's certificate key that LAN peering trusts)
 * are optional too.
 *
 * Both keys are optional. The shell only reads this file: a missing file means defaults, and a broken one
 * stops the shell with an error naming the file, which is left exactly as it was.
 */
import { join } from 'node:path';
import { DesktopErrorCode, ShellConfigError, TerminalConfigError } from '../errors';
import type { TerminalConfig } from '../shared/contract';
import { parseRelayUrl } from './shell-config';

/** The file's name inside the user-data folder. */
export const TERMINAL_CONFIG_FILE = 'terminal.json';

/** The relay `npm start` runs locally: `@loam/server`'s default host and port. */
export const DEFAULT_RELAY_URL = 'ws://127.0.0.1:8787/';

const TERMINAL_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const KEYS = new Set(['relayUrl', 'terminalId', 'sessionUrl', 'relayKey']);
/** 32 bytes in base64url without padding. */
const RELAY_KEY = /^[A-Za-z0-9_-]{43}$/;

/** The path of the terminal configuration file in `userDataDir`. */
export function terminalConfigPath(userDataDir: string): string {
  return join(userDataDir, TERMINAL_CONFIG_FILE);
}

/**
 * A terminal id made from the machine's host name: letters, digits, `.`, `_` and `-`, at most 64 characters;
 * `terminal` when nothing usable is left.
 */
export function defaultTerminalId(hostname: string): string {
  const cleaned = hostname
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '')
    .slice(0, 64);
  return TERMINAL_ID.test(cleaned) ? cleaned : 'terminal';
}

/** What {@link loadTerminalConfig} needs. */
export interface LoadTerminalConfigOptions {
  /** Absolute path of the file. */
  readonly file: string;
  /** Reads a UTF-8 file; throws a Node error with `code: 'ENOENT'` when it does not exist. */
  readonly readFile: (path: string) => string;
  /** Used for keys the file leaves out. */
  readonly defaults: TerminalConfig;
  /** A relay URL from `--relay-url` or `LOAM_RELAY_URL`; wins over the file. */
  readonly relayUrlOverride?: string | undefined;
}

function errorCode(error: unknown): unknown {
  return typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
}

/**
 * Reads the terminal configuration. Missing file → `defaults` (with the override applied). A file that is not
 * JSON, not an object, has an unknown key or a bad value → {@link TerminalConfigError} (`terminal_config_invalid`)
 * naming the file and the key; an unreadable one → `terminal_config_unreadable`. Never writes.
 */
export function loadTerminalConfig(options: LoadTerminalConfigOptions): TerminalConfig {
  const { file, defaults } = options;
  const invalid = (message: string, cause?: unknown) =>
    new TerminalConfigError(
      DesktopErrorCode.terminalConfigInvalid,
      file,
      `${message}. Fix or remove the file; the shell does not change it.`,
      cause === undefined ? undefined : { cause },
    );

  let text: string | undefined;
  try {
    text = options.readFile(file);
  } catch (error) {
    if (errorCode(error) !== 'ENOENT') {
      throw new TerminalConfigError(
        DesktopErrorCode.terminalConfigUnreadable,
        file,
        `cannot be read (${error instanceof Error ? error.message : String(error)})`,
        { cause: error },
      );
    }
  }

  let relayUrl = defaults.relayUrl;
  let terminalId = defaults.terminalId;
  let sessionUrl: string | undefined;
  let relayKey: string | undefined;
  if (text !== undefined) {
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (error) {
      throw invalid(`is not valid JSON (${error instanceof Error ? error.message : String(error)})`, error);
    }
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      throw invalid('must hold a JSON object such as {"relayUrl": "wss://…", "terminalId": "till-1"}');
    }
    const record = raw as Record<string, unknown>;
    for (const key of Object.keys(record)) {
      if (!KEYS.has(key))
        throw invalid(`has an unknown key "${key}" (known: relayUrl, terminalId, sessionUrl, relayKey)`);
    }
    if (record.relayUrl !== undefined) {
      if (typeof record.relayUrl !== 'string') throw invalid('"relayUrl" must be a string');
      try {
        relayUrl = parseRelayUrl(record.relayUrl, '"relayUrl"');
      } catch (error) {
        if (error instanceof ShellConfigError) throw invalid(error.message, error);
        throw error;
      }
    }
    if (record.terminalId !== undefined) {
      if (typeof record.terminalId !== 'string' || !TERMINAL_ID.test(record.terminalId)) {
        throw invalid(
          '"terminalId" must be 1–64 letters, digits, ".", "_" or "-", starting with a letter or digit',
        );
      }
      terminalId = record.terminalId;
    }
    if (record.sessionUrl !== undefined) {
      const url =
        typeof record.sessionUrl === 'string' && URL.canParse(record.sessionUrl)
          ? new URL(record.sessionUrl)
          : undefined;
      if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.username || url.password) {
        throw invalid('"sessionUrl" must be an http(s) URL without credentials');
      }
      sessionUrl = url.href;
    }
    if (record.relayKey !== undefined) {
      if (typeof record.relayKey !== 'string' || !RELAY_KEY.test(record.relayKey))
        throw invalid('"relayKey" must be the relay\'s 32-byte key in base64url (GET /v1/devices/relay-key)');
      relayKey = record.relayKey;
    }
  }
  return {
    relayUrl: options.relayUrlOverride ?? relayUrl,
    terminalId,
    ...(sessionUrl ? { sessionUrl } : {}),
    ...(relayKey ? { relayKey } : {}),
  };
}
