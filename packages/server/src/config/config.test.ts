import { describe, expect, it } from 'vitest';
import { ConfigError } from '../errors';
import { testRules, testSchema } from '../testing/fixtures';
import { parseConfig } from './config';

const files: Record<string, string> = {
  '/cfg/schema.json': JSON.stringify(testSchema),
  '/cfg/rules.json': JSON.stringify(testRules),
};
const readFile = (path: string) => {
  const text = files[path];
  if (text === undefined) throw new Error('ENOENT: no such file');
  return text;
};
const base = {
  schemaFile: 'schema.json',
  rulesFile: 'rules.json',
  auth: { hs256Secret: 'x'.repeat(32), issuer: 'https://i', audience: 'a' },
};
const parse = (input: unknown, env: Record<string, string> = {}) =>
  parseConfig(input, { baseDir: '/cfg', env, readFile });

function keyOf(input: unknown, env: Record<string, string> = {}): string {
  try {
    parse(input, env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).code).toBe('config_invalid');
    return (error as ConfigError).key;
  }
  throw new Error('expected a ConfigError');
}

describe('configuration', () => {
  it('reads the peers rules, and names the key of a bad one', () => {
    expect(parse(base).peers).toBeUndefined();
    expect(parse({ ...base, peers: { sameClaims: ['storeId'] } }).peers).toEqual({ sameClaims: ['storeId'] });
    expect(keyOf({ ...base, peers: { sameClaims: 'storeId' } })).toBe('peers');
    expect(keyOf({ ...base, peers: { sameClaims: [], anyone: true } })).toBe('peers');
  });

  it('fills defaults and resolves paths against the file', () => {
    const config = parse(base);
    expect(config).toMatchObject({
      port: 8787,
      host: '127.0.0.1',
      storagePath: '/cfg/.loam-data/server.db',
      allowedOrigins: [],
      auth: { anonymous: false, issuer: 'https://i', audience: 'a' },
    });
    expect(config.schema.collections.orders).toBeDefined();
  });

  it('lets LOAM_* variables override the file', () => {
    const config = parse(base, {
      LOAM_PORT: '9000',
      LOAM_ANONYMOUS: 'true',
      LOAM_ALLOWED_ORIGINS: 'https://a.b, https://c.d',
    });
    expect(config).toMatchObject({
      port: 9000,
      auth: { anonymous: true },
      allowedOrigins: ['https://a.b', 'https://c.d'],
    });
  });

  it("accepts an app's custom-scheme origin (the desktop shell's loam://pos)", () => {
    expect(
      parse({ ...base, allowedOrigins: ['loam://pos', 'http://127.0.0.1:4173'] }).allowedOrigins,
    ).toEqual(['loam://pos', 'http://127.0.0.1:4173']);
    expect(keyOf({ ...base, allowedOrigins: ['loam://pos/index.html'] })).toBe('allowedOrigins[0]');
    expect(keyOf({ ...base, allowedOrigins: ['pos'] })).toBe('allowedOrigins[0]');
  });

  it('names the key at fault', () => {
    expect(keyOf({ ...base, prot: 1 })).toBe('prot');
    expect(keyOf({ ...base, port: 'eighty' })).toBe('port');
    expect(keyOf({ ...base, schemaFile: 'missing.json' })).toBe('schemaFile');
    expect(keyOf({ ...base, limits: { frameBytes: -1 } })).toBe('limits.frameBytes');
    expect(keyOf({ ...base, auth: { ...base.auth, hs256Secret: 'short' } })).toBe('auth.hs256Secret');
    expect(keyOf({ ...base, auth: { hs256Secret: 'x'.repeat(32), audience: 'a' } })).toBe('auth.issuer');
    expect(
      keyOf({ ...base, auth: { publicKeys: [{ alg: 'HS512', pem: 'x' }], issuer: 'i', audience: 'a' } }),
    ).toBe('auth.publicKeys[0].alg');
    expect(keyOf({ ...base, auth: {} })).toBe('auth');
    expect(keyOf({ ...base, allowedOrigins: ['https://a.b/path'] })).toBe('allowedOrigins[0]');
    expect(
      keyOf({ ...base, webhooks: [{ collection: 'nope', url: 'http://x', secret: 's'.repeat(16) }] }),
    ).toBe('webhooks[0].collection');
    expect(keyOf(base, { LOAM_PORT: 'x' })).toBe('LOAM_PORT');
  });

  it('takes the store from `store` or LOAM_STORE: a postgres:// URL, or a SQLite file', () => {
    const url = 'postgres://loam:secret@db.internal:5432/loam?schema=shop_1';
    expect(parse({ ...base, store: url }).databaseUrl).toBe(url);
    expect(parse(base, { LOAM_STORE: 'postgresql://db/loam' }).databaseUrl).toBe('postgresql://db/loam');
    expect(parse({ ...base, store: 'data/relay.db' })).toMatchObject({ storagePath: '/cfg/data/relay.db' });
    expect(parse({ ...base, store: url }, { LOAM_STORE: '/srv/relay.db' })).toMatchObject({
      storagePath: '/srv/relay.db',
    });
    expect(parse({ ...base, store: url }, { LOAM_STORE: '/srv/relay.db' }).databaseUrl).toBeUndefined();
    expect(keyOf({ ...base, store: 'postgres://db/loam?schema=Bad-Name' })).toBe('store');
    expect(keyOf(base, { LOAM_STORE: 'postgres://db/loam?schema=x;drop' })).toBe('LOAM_STORE');
    const hook = { collection: 'orders', url: 'http://x', secret: 's'.repeat(16) };
    expect(keyOf({ ...base, webhooks: [hook, hook] })).toBe('webhooks[1].url');
  });
});
