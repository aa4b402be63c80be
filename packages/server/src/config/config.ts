/**
 * The relay's configuration: a JSON file, overridden by environment variables, checked key by key.
 *
 * Every problem is a `ConfigError` naming the dotted key at fault and what is wrong with it; unknown keys are
 * errors too (a typo must not silently fall back to a default). Relative paths in the file are resolved against
 * the file's directory. See `README.md` in this package for the reference of keys and variables. One file on
 * purpose (it is over 400 lines for that reason): one checker per key, in the order of the reference table (the
 * store location is apart, in `store-location.ts`).
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import {
  type PeerRules,
  parseSchema,
  type Rules,
  type Schema,
  validatePeerRules,
  validateRules,
} from '@loam/core';
import { ConfigError } from '../errors';
import { LIMIT_DEFAULTS, type LimitsConfig, parseLimits } from '../limits/limits';
import { storeLocation } from './store-location';

/** A public key for JWT verification. */
export interface PublicKeyConfig {
  /** The `kid` tokens name it by; absent: used for tokens without `kid` of its algorithm. */
  readonly kid?: string;
  readonly alg: AsymmetricAlgorithm;
  /** SPKI PEM text. */
  readonly pem: string;
}

/** The asymmetric JWS algorithms accepted for public keys. */
export const ASYMMETRIC_ALGORITHMS = ['RS256', 'ES256', 'EdDSA'] as const;
/** One of {@link ASYMMETRIC_ALGORITHMS}. */
export type AsymmetricAlgorithm = (typeof ASYMMETRIC_ALGORITHMS)[number];

/** How tokens are verified. Algorithms are pinned to those of the configured keys. */
export interface AuthConfig {
  /** Shared HS256 secret (development). At least 32 bytes. */
  readonly hs256Secret?: string;
  readonly publicKeys: readonly PublicKeyConfig[];
  /** A JSON Web Key Set (each key must name its `alg`). */
  readonly jwks?: { readonly keys: readonly Record<string, unknown>[] };
  /** Required `iss` claim. */
  readonly issuer?: string;
  /** Required `aud` claim. */
  readonly audience?: string;
  /** Whether a client may connect without a token (its user id is then `anon:<replica>`). */
  readonly anonymous: boolean;
}

export type { LimitsConfig } from '../limits/limits';

/** A webhook: every committed change to `collection` is POSTed to `url`, signed with `secret`. */
export interface WebhookConfig {
  readonly collection: string;
  readonly url: string;
  readonly secret: string;
  /** Attempts before a delivery is dropped (exponential backoff between them). */
  readonly maxAttempts: number;
}

/** A complete, checked configuration. */
export interface ServerConfig {
  readonly port: number;
  readonly host: string;
  /** SQLite file of the server's data (created on first start with its directory); unused with `databaseUrl`. */
  readonly storagePath: string;
  /**
   * A `postgres://` URL: the data lives in that PostgreSQL database (shared by every relay node pointed at it);
   * `?schema=name` picks a schema other than `public`.
   */
  readonly databaseUrl?: string;
  readonly schema: Schema;
  readonly rules: Rules;
  /**
   * Which devices may peer (signal to each other through the relay, see each other in their rosters); absent:
   * none. Beside the rules file rather than in it, whose top-level keys are collection names.
   */
  readonly peers?: PeerRules;
  readonly auth: AuthConfig;
  /** `Origin`s allowed to open a WebSocket (`*` for any); requests without `Origin` are always allowed. */
  readonly allowedOrigins: readonly string[];
  /** Bearer token of the HTTP API; absent: the API is off. */
  readonly serviceToken?: string;
  readonly limits: LimitsConfig;
  /** Tombstones and dedupe entries older than this are folded away; older cursors get a client reset. */
  readonly historyHorizonMs: number;
  /** Largest accepted lead of a client timestamp over the server clock. */
  readonly maxClockDriftMs: number;
  /** Interval of WebSocket pings; a connection that misses one is closed. */
  readonly keepAliveMs: number;
  readonly webhooks: readonly WebhookConfig[];
  readonly devices: DevicesConfig;
}

/** Device certificates for peer sync (see `devices/devices.ts`). */
export interface DevicesConfig {
  /** The relay's Ed25519 key file (made on first start when missing); every node of one cluster shares it. */
  readonly keyFile: string;
  /** How long a device certificate is valid; devices renew it while online. */
  readonly certificateMs: number;
}

/** Defaults of every optional key. */
export const CONFIG_DEFAULTS = {
  port: 8787,
  host: '127.0.0.1',
  storagePath: './.loam-data/server.db',
  limits: LIMIT_DEFAULTS,
  historyHorizonMs: 30 * 24 * 3600 * 1000,
  maxClockDriftMs: 60_000,
  keepAliveMs: 30_000,
  webhookMaxAttempts: 8,
} as const;

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return `${typeof v} ${JSON.stringify(v)?.slice(0, 40)}`;
}
function only(o: Obj, keys: readonly string[], at: string): void {
  for (const k of Object.keys(o)) {
    if (!keys.includes(k)) {
      throw new ConfigError(at ? `${at}.${k}` : k, `unknown key (known: ${keys.join(', ')})`);
    }
  }
}
function str(v: unknown, key: string): string {
  if (typeof v !== 'string' || v.length === 0)
    throw new ConfigError(key, `expected a non-empty string, found ${describe(v)}`);
  return v;
}
function int(v: unknown, key: string, min: number, max: number): number {
  if (!Number.isSafeInteger(v) || (v as number) < min || (v as number) > max)
    throw new ConfigError(key, `expected an integer in ${min}..${max}, found ${describe(v)}`);
  return v as number;
}
function bool(v: unknown, key: string): boolean {
  if (typeof v !== 'boolean') throw new ConfigError(key, `expected true or false, found ${describe(v)}`);
  return v;
}
function list(v: unknown, key: string): unknown[] {
  if (!Array.isArray(v)) throw new ConfigError(key, `expected an array, found ${describe(v)}`);
  return v;
}
function obj(v: unknown, key: string): Obj {
  if (!isObj(v)) throw new ConfigError(key, `expected an object, found ${describe(v)}`);
  return v;
}

/** Where the configuration came from, for resolving relative paths and reading referenced files. */
export interface ConfigSources {
  /** Directory relative paths in the file are resolved against. */
  readonly baseDir: string;
  /** Environment variables (`LOAM_*` override the file). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Reads a referenced file as text; default `fs.readFileSync`. */
  readonly readFile?: (path: string) => string;
}

function readJsonFile(path: string, key: string, read: (p: string) => string): unknown {
  let text: string;
  try {
    text = read(path);
  } catch (cause) {
    throw new ConfigError(key, `cannot read ${path}: ${(cause as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new ConfigError(key, `${path} is not valid JSON: ${(cause as Error).message}`);
  }
}

function envInt(env: ConfigSources['env'], name: string): number | undefined {
  const raw = env?.[name];
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isSafeInteger(n)) throw new ConfigError(name, `expected an integer, found "${raw}"`);
  return n;
}

function envBool(env: ConfigSources['env'], name: string): boolean | undefined {
  const raw = env?.[name];
  if (raw === undefined || raw === '') return undefined;
  if (raw === 'true' || raw === '1') return true;
  if (raw === 'false' || raw === '0') return false;
  throw new ConfigError(name, `expected true or false, found "${raw}"`);
}

/**
 * Checks a parsed configuration file (plus environment overrides) and loads the files it references (schema,
 * rules, keys, JWKS). Throws `ConfigError` naming the first bad key.
 */
export function parseConfig(input: unknown, sources: ConfigSources): ServerConfig {
  const env = sources.env ?? {};
  const read = sources.readFile ?? ((p: string) => readFileSync(p, 'utf8'));
  const path = (p: string) => resolve(sources.baseDir, p);
  const file = obj(input, '(file)');
  only(
    file,
    [
      '$schema',
      'port',
      'host',
      'store',
      'storagePath',
      'schemaFile',
      'rulesFile',
      'peers',
      'auth',
      'allowedOrigins',
      'serviceToken',
      'limits',
      'historyHorizonMs',
      'maxClockDriftMs',
      'keepAliveMs',
      'webhooks',
      'devices',
    ],
    '',
  );

  const port = envInt(env, 'LOAM_PORT') ?? (file.port === undefined ? CONFIG_DEFAULTS.port : file.port);
  const host = env.LOAM_HOST || (file.host ?? CONFIG_DEFAULTS.host);
  const { storagePath, databaseUrl } = storeLocation(file, env, path, CONFIG_DEFAULTS.storagePath);

  const schemaFile = env.LOAM_SCHEMA_FILE ? resolve(env.LOAM_SCHEMA_FILE) : undefined;
  const schemaKey = schemaFile ? 'LOAM_SCHEMA_FILE' : 'schemaFile';
  const schemaPath = schemaFile ?? path(str(file.schemaFile, 'schemaFile'));
  let schema: Schema;
  try {
    schema = parseSchema(readJsonFile(schemaPath, schemaKey, read));
  } catch (cause) {
    if (cause instanceof ConfigError) throw cause;
    throw new ConfigError(schemaKey, `${schemaPath}: ${(cause as Error).message}`);
  }

  const rulesFile = env.LOAM_RULES_FILE ? resolve(env.LOAM_RULES_FILE) : undefined;
  const rulesKey = rulesFile ? 'LOAM_RULES_FILE' : 'rulesFile';
  const rulesPath = rulesFile ?? path(str(file.rulesFile, 'rulesFile'));
  let rules: Rules;
  try {
    rules = validateRules(readJsonFile(rulesPath, rulesKey, read));
  } catch (cause) {
    if (cause instanceof ConfigError) throw cause;
    throw new ConfigError(rulesKey, `${rulesPath}: ${(cause as Error).message}`);
  }
  for (const name of Object.keys(rules)) {
    if (!Object.hasOwn(schema.collections, name))
      throw new ConfigError(rulesKey, `rules name collection "${name}", which the schema does not declare`);
  }

  let peers: PeerRules | undefined;
  try {
    peers = file.peers === undefined ? undefined : validatePeerRules(file.peers);
  } catch (cause) {
    throw new ConfigError('peers', (cause as Error).message.replace(/^peers\.?\s*:?\s*/, ''));
  }

  const authIn = obj(file.auth ?? {}, 'auth');
  only(authIn, ['hs256Secret', 'publicKeys', 'jwksFile', 'issuer', 'audience', 'anonymous'], 'auth');
  const hs256Secret = env.LOAM_JWT_SECRET || authIn.hs256Secret;
  if (hs256Secret !== undefined) {
    const key = env.LOAM_JWT_SECRET ? 'LOAM_JWT_SECRET' : 'auth.hs256Secret';
    if (str(hs256Secret, key).length < 32)
      throw new ConfigError(key, 'an HS256 secret needs at least 32 characters');
  }
  const publicKeys = list(authIn.publicKeys ?? [], 'auth.publicKeys').map((k, i): PublicKeyConfig => {
    const at = `auth.publicKeys[${i}]`;
    const o = obj(k, at);
    only(o, ['kid', 'alg', 'pem', 'file'], at);
    if (!ASYMMETRIC_ALGORITHMS.includes(o.alg as AsymmetricAlgorithm))
      throw new ConfigError(
        `${at}.alg`,
        `expected one of ${ASYMMETRIC_ALGORITHMS.join(', ')}, found ${describe(o.alg)}`,
      );
    if ((o.pem === undefined) === (o.file === undefined))
      throw new ConfigError(at, 'give exactly one of "pem" (the PEM text) and "file" (a path to it)');
    let pem: string;
    if (o.pem !== undefined) pem = str(o.pem, `${at}.pem`);
    else {
      const p = path(str(o.file, `${at}.file`));
      try {
        pem = read(p);
      } catch (cause) {
        throw new ConfigError(`${at}.file`, `cannot read ${p}: ${(cause as Error).message}`);
      }
    }
    if (!pem.includes('-----BEGIN PUBLIC KEY-----'))
      throw new ConfigError(
        o.pem !== undefined ? `${at}.pem` : `${at}.file`,
        'expected an SPKI PEM public key (-----BEGIN PUBLIC KEY-----)',
      );
    return {
      ...(o.kid !== undefined ? { kid: str(o.kid, `${at}.kid`) } : {}),
      alg: o.alg as AsymmetricAlgorithm,
      pem,
    };
  });
  let jwks: AuthConfig['jwks'];
  if (authIn.jwksFile !== undefined) {
    const p = path(str(authIn.jwksFile, 'auth.jwksFile'));
    const set = obj(readJsonFile(p, 'auth.jwksFile', read), 'auth.jwksFile');
    const keys = list(set.keys, 'auth.jwksFile.keys').map((k, i) => {
      const o = obj(k, `auth.jwksFile.keys[${i}]`);
      if (!ASYMMETRIC_ALGORITHMS.includes(o.alg as AsymmetricAlgorithm))
        throw new ConfigError(
          `auth.jwksFile.keys[${i}].alg`,
          `each key must name its alg (${ASYMMETRIC_ALGORITHMS.join(', ')})`,
        );
      if (o.d !== undefined)
        throw new ConfigError(`auth.jwksFile.keys[${i}]`, 'a private key: give public keys only');
      return o;
    });
    jwks = { keys };
  }
  const issuer = env.LOAM_JWT_ISSUER || authIn.issuer;
  const audience = env.LOAM_JWT_AUDIENCE || authIn.audience;
  const anyKey = hs256Secret !== undefined || publicKeys.length > 0 || jwks !== undefined;
  if (anyKey && issuer === undefined)
    throw new ConfigError('auth.issuer', 'required when tokens are verified');
  if (anyKey && audience === undefined)
    throw new ConfigError('auth.audience', 'required when tokens are verified');
  const anonymous = envBool(env, 'LOAM_ANONYMOUS') ?? bool(authIn.anonymous ?? false, 'auth.anonymous');
  if (!anyKey && !anonymous)
    throw new ConfigError(
      'auth',
      'no way to sign in: configure hs256Secret, publicKeys or jwksFile, or set anonymous to true',
    );

  const origins = env.LOAM_ALLOWED_ORIGINS
    ? env.LOAM_ALLOWED_ORIGINS.split(',')
        .map((o) => o.trim())
        .filter(Boolean)
    : list(file.allowedOrigins ?? [], 'allowedOrigins').map((o, i) => str(o, `allowedOrigins[${i}]`));
  for (const [i, o] of origins.entries()) {
    if (o !== '*' && !/^[a-z][a-z0-9+.-]*:\/\/[^/\s]+$/i.test(o))
      throw new ConfigError(
        `allowedOrigins[${i}]`,
        `expected "*" or scheme://host[:port] without a path, found "${o}"`,
      );
  }

  const serviceToken = env.LOAM_SERVICE_TOKEN || file.serviceToken;
  if (serviceToken !== undefined) {
    const key = env.LOAM_SERVICE_TOKEN ? 'LOAM_SERVICE_TOKEN' : 'serviceToken';
    if (str(serviceToken, key).length < 32)
      throw new ConfigError(key, 'a service token needs at least 32 characters');
  }

  const limits = parseLimits(file.limits ?? {});
  const d = CONFIG_DEFAULTS;

  const hookTargets = new Set<string>();
  const webhooks = list(file.webhooks ?? [], 'webhooks').map((w, i): WebhookConfig => {
    const at = `webhooks[${i}]`;
    const o = obj(w, at);
    only(o, ['collection', 'url', 'secret', 'maxAttempts'], at);
    const collection = str(o.collection, `${at}.collection`);
    if (!Object.hasOwn(schema.collections, collection))
      throw new ConfigError(`${at}.collection`, `the schema has no collection "${collection}"`);
    const url = str(o.url, `${at}.url`);
    if (!/^https?:\/\//.test(url))
      throw new ConfigError(`${at}.url`, `expected an http(s) URL, found "${url}"`);
    if (hookTargets.has(`${collection}\n${url}`))
      throw new ConfigError(`${at}.url`, `another webhook already sends ${collection} to ${url}`);
    hookTargets.add(`${collection}\n${url}`);
    const secret = str(o.secret, `${at}.secret`);
    if (secret.length < 16)
      throw new ConfigError(`${at}.secret`, 'a webhook secret needs at least 16 characters');
    return {
      collection,
      url,
      secret,
      maxAttempts: int(o.maxAttempts ?? d.webhookMaxAttempts, `${at}.maxAttempts`, 1, 20),
    };
  });

  const devicesIn = obj(file.devices ?? {}, 'devices');
  only(devicesIn, ['keyFile', 'certificateDays'], 'devices');
  const keyFile = env.LOAM_RELAY_KEY_FILE
    ? resolve(env.LOAM_RELAY_KEY_FILE)
    : devicesIn.keyFile !== undefined
      ? path(str(devicesIn.keyFile, 'devices.keyFile'))
      : resolve(dirname(storagePath), 'relay.key');
  const devices: DevicesConfig = {
    keyFile,
    certificateMs: int(devicesIn.certificateDays ?? 7, 'devices.certificateDays', 1, 90) * 86_400_000,
  };

  return {
    port: int(port, envInt(env, 'LOAM_PORT') !== undefined ? 'LOAM_PORT' : 'port', 0, 65535),
    host: str(host, env.LOAM_HOST ? 'LOAM_HOST' : 'host'),
    storagePath,
    ...(databaseUrl !== undefined ? { databaseUrl } : {}),
    schema,
    rules,
    ...(peers ? { peers } : {}),
    auth: {
      ...(hs256Secret !== undefined ? { hs256Secret: hs256Secret as string } : {}),
      publicKeys,
      ...(jwks !== undefined ? { jwks } : {}),
      ...(issuer !== undefined ? { issuer: str(issuer, 'auth.issuer') } : {}),
      ...(audience !== undefined ? { audience: str(audience, 'auth.audience') } : {}),
      anonymous,
    },
    allowedOrigins: origins,
    ...(serviceToken !== undefined ? { serviceToken: serviceToken as string } : {}),
    limits,
    historyHorizonMs: int(
      file.historyHorizonMs ?? d.historyHorizonMs,
      'historyHorizonMs',
      60_000,
      10 * 365 * 86_400_000,
    ),
    maxClockDriftMs: int(file.maxClockDriftMs ?? d.maxClockDriftMs, 'maxClockDriftMs', 0, 86_400_000),
    keepAliveMs: int(file.keepAliveMs ?? d.keepAliveMs, 'keepAliveMs', 100, 3_600_000),
    webhooks,
    devices,
  };
}

/** Reads and checks a configuration file (`LOAM_*` environment variables override it). */
export function loadConfig(file: string, env: ConfigSources['env'] = process.env): ServerConfig {
  const absolute = resolve(file);
  return parseConfig(
    readJsonFile(absolute, '(file)', (p) => readFileSync(p, 'utf8')),
    {
      baseDir: dirname(absolute),
      env,
    },
  );
}
