/**
 * Shared fixtures of the server's tests and benchmarks: a schema, rules covering every rule kind, signing keys,
 * token minting and a server on 127.0.0.1 with a free port and a temporary database.
 *
 * Rules of `orders`:
 * - `manager` (claim `role: manager`): reads and writes everything, may insert and delete.
 * - `clerk` (claim `role: clerk`): reads orders of their `storeId` claim; writes orders they own (`owner` = `sub`),
 *   so they cannot hand an order to someone else; may insert, may not delete; never reads `margin`; may write
 *   `pin` without reading it; may not write `status`.
 * - `viewer` (claim `role: viewer`): reads everything, may update but neither insert nor delete.
 * - no role (anonymous users): nothing.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  asReplicaId,
  defineSchema,
  f,
  type PeerRules,
  type ReplicaId,
  type Rules,
  type Schema,
  validateRules,
} from '@loam/core';
import { createMemoryReplica } from '@loam/core/testing';
import { exportSPKI, generateKeyPair, SignJWT } from 'jose';
import { CONFIG_DEFAULTS, parseConfig, type ServerConfig } from '../config/config';
import { type LoamServer, type StartServerOptions, startServer } from '../server';

export * from './postgres';

/** The test schema. */
export const testSchema = defineSchema({
  version: 1,
  collections: {
    orders: {
      fields: {
        storeId: f.string({ indexed: true }),
        owner: f.string(),
        total: f.number(),
        note: f.string({ optional: true }),
        status: f.string({ optional: true }),
        margin: f.number({ optional: true }),
        pin: f.string({ optional: true }),
        placedAt: f.date({ optional: true }),
        qty: f.counter(),
        lines: f.list(),
      },
    },
    notes: {
      fields: {
        text: f.string(),
        place: f.object({ city: f.string(), zip: f.string({ optional: true }) }, { optional: true }),
      },
    },
  },
});

/** The test rules (see the module documentation). */
export const testRules: Rules = validateRules({
  orders: {
    roles: [
      {
        name: 'manager',
        applyWhen: { op: 'eq', field: 'role', value: 'manager' },
        read: true,
        write: true,
        insert: true,
        delete: true,
      },
      {
        name: 'viewer',
        applyWhen: { op: 'eq', field: 'role', value: 'viewer' },
        read: true,
        write: true,
        insert: false,
        delete: false,
      },
      {
        name: 'clerk',
        applyWhen: { op: 'eq', field: 'role', value: 'clerk' },
        read: { op: 'eq', field: 'storeId', value: '%%user.storeId' },
        write: { op: 'eq', field: 'owner', value: '%%user.sub' },
        insert: true,
        delete: false,
        fields: {
          read: ['storeId', 'owner', 'total', 'note', 'status', 'placedAt', 'qty', 'lines'],
          write: ['storeId', 'owner', 'total', 'note', 'margin', 'pin', 'placedAt', 'qty', 'lines'],
        },
      },
    ],
  },
  notes: { roles: [{ name: 'anyone', read: true, write: true, insert: true, delete: true }] },
});

/** Issuer every test token carries. */
export const ISSUER = 'https://auth.loam.test';
/** Audience every test token carries. */
export const AUDIENCE = 'loam-test';
/** The development HS256 secret. */
export const HS256_SECRET = 'a-development-secret-of-at-least-32-chars!';
/** The HTTP API's service token. */
export const SERVICE_TOKEN = 'service-token-for-tests-0123456789abcdef';

/** Signing keys: an RS256 pair with kid `rs1`. */
export interface TestKeys {
  readonly privateKey: CryptoKey;
  readonly publicPem: string;
}

let keys: Promise<TestKeys> | undefined;
/** The RS256 test key pair (generated once per process). */
export function testKeys(): Promise<TestKeys> {
  keys ??= (async () => {
    const pair = await generateKeyPair('RS256', { extractable: true });
    return { privateKey: pair.privateKey, publicPem: await exportSPKI(pair.publicKey) };
  })();
  return keys;
}

/** Options of {@link mintToken}. */
export interface MintOptions {
  readonly alg?: 'HS256' | 'RS256';
  readonly kid?: string;
  /** Seconds from now (negative: expired). Default 3600. */
  readonly expiresIn?: number;
  readonly issuer?: string;
  readonly audience?: string;
}

/** Signs a token for `claims` (which must include `sub`). */
export async function mintToken(claims: Record<string, unknown>, options: MintOptions = {}): Promise<string> {
  const alg = options.alg ?? 'RS256';
  const now = Math.floor(Date.now() / 1000);
  const jwt = new SignJWT(claims)
    .setProtectedHeader({ alg, ...(alg === 'RS256' ? { kid: options.kid ?? 'rs1' } : {}) })
    .setIssuedAt(now - 5)
    .setExpirationTime(now + (options.expiresIn ?? 3600))
    .setIssuer(options.issuer ?? ISSUER)
    .setAudience(options.audience ?? AUDIENCE);
  const key = alg === 'HS256' ? new TextEncoder().encode(HS256_SECRET) : (await testKeys()).privateKey;
  return jwt.sign(key);
}

/** A configuration for tests: 127.0.0.1, a free port, HS256 and RS256 (kid `rs1`), the test schema and rules. */
export async function testConfig(
  storagePath: string,
  overrides: Partial<ServerConfig> = {},
): Promise<ServerConfig> {
  return {
    port: 0,
    host: '127.0.0.1',
    storagePath,
    schema: testSchema,
    rules: testRules,
    auth: {
      hs256Secret: HS256_SECRET,
      publicKeys: [{ kid: 'rs1', alg: 'RS256', pem: (await testKeys()).publicPem }],
      issuer: ISSUER,
      audience: AUDIENCE,
      anonymous: true,
    },
    allowedOrigins: ['https://app.loam.test'],
    serviceToken: SERVICE_TOKEN,
    limits: { ...CONFIG_DEFAULTS.limits, frameBytes: 256 * 1024, opsPerBatch: 500 },
    historyHorizonMs: CONFIG_DEFAULTS.historyHorizonMs,
    maxClockDriftMs: 60_000,
    keepAliveMs: 30_000,
    webhooks: [],
    devices: { keyFile: `${storagePath}.relay.key`, certificateMs: 7 * 86_400_000 },
    ...overrides,
  };
}

/** A temporary directory removed by `cleanup`. */
export function tempDir(prefix: string): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Starts a server on a fresh database in `dir`. */
export async function startTestServer(
  dir: string,
  overrides: Partial<ServerConfig> = {},
  options: Omit<StartServerOptions, 'config'> = {},
): Promise<LoamServer> {
  return startServer({ ...options, config: await testConfig(join(dir, 'server.db'), overrides) });
}

/** A relay started by {@link startTestRelay}. */
export interface TestRelay {
  readonly server: LoamServer;
  /** An HS256 token for user `user` (`sub`), with extra `claims`, valid for `expiresIn` seconds (default 3600). */
  tokenFor(user: string, options?: { claims?: Record<string, unknown>; expiresIn?: number }): Promise<string>;
  /** The relay's device key file (tests mint certificates with it, e.g. expired ones). */
  readonly keyFile: string;
  /** Stops the relay and removes its folder. */
  close(): Promise<void>;
}

/**
 * A relay for other packages' tests (`@loam/server/testing`): 127.0.0.1, a free port, any Origin, HS256 tokens
 * only, and the given schema and rules written to a temporary folder and read back as the CLI reads its files;
 * `options.peers` are the `peers` rules (absent: no device may peer).
 */
export async function startTestRelay(
  schema: Schema,
  rules: Rules,
  options: {
    readonly peers?: PeerRules;
    /** How long device certificates last (default: the configured days); short ones test renewal. */
    readonly certificateMs?: number;
  } = {},
): Promise<TestRelay> {
  const { dir, cleanup } = tempDir('loam-test-relay-');
  writeFileSync(join(dir, 'schema.json'), JSON.stringify(schema));
  writeFileSync(join(dir, 'rules.json'), JSON.stringify(rules));
  const parsed = parseConfig(
    {
      port: 0,
      host: '127.0.0.1',
      storagePath: './server.db',
      schemaFile: './schema.json',
      rulesFile: './rules.json',
      ...(options.peers ? { peers: options.peers } : {}),
      allowedOrigins: ['*'],
      auth: { hs256Secret: HS256_SECRET, issuer: ISSUER, audience: AUDIENCE, anonymous: false },
    },
    { baseDir: dir, env: {} },
  );
  const config =
    options.certificateMs === undefined
      ? parsed
      : { ...parsed, devices: { ...parsed.devices, certificateMs: options.certificateMs } };
  const server = await startServer({ config });
  return {
    server,
    keyFile: config.devices.keyFile,
    tokenFor: (user, options = {}) =>
      mintToken(
        { ...options.claims, sub: user },
        { alg: 'HS256', ...(options.expiresIn === undefined ? {} : { expiresIn: options.expiresIn }) },
      ),
    async close() {
      await server.close();
      cleanup();
    },
  };
}

let replicaCounter = 0;
/** A new in-memory device with a unique replica id. */
export function testDevice(now?: () => number) {
  replicaCounter++;
  const replica: ReplicaId = asReplicaId(
    `t${(process.pid % 2_000_000_000).toString(36).padStart(6, '0')}${replicaCounter.toString(36).padStart(9, '0')}`,
  );
  return createMemoryReplica({ schema: testSchema, replica, ...(now ? { now } : {}) });
}
