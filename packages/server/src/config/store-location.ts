/**
 * Where the relay keeps its data: `store` in the configuration file, overridden by `LOAM_STORE` (the CLI's
 * `--store`), is either a `postgres://` URL (several relay nodes may share it) or a SQLite file; without it,
 * `storagePath` / `LOAM_STORAGE_PATH` name the SQLite file as before.
 */
import { resolve } from 'node:path';
import { ConfigError } from '../errors';

/** True for the URLs that name a PostgreSQL database rather than a SQLite file. */
export function isPostgresUrl(value: string): boolean {
  return /^postgres(ql)?:\/\//i.test(value);
}

/** The schema names a store URL may carry (`?schema=`): they also name its notification channel. */
export const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,47}$/;

function checkDatabaseUrl(value: string, key: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(key, 'expected postgres://user[:password]@host[:port]/database[?schema=name]');
  }
  const schema = url.searchParams.get('schema');
  if (schema !== null && !SCHEMA_NAME.test(schema))
    throw new ConfigError(key, `schema "${schema}": expected lowercase letters, digits and _ (at most 48)`);
  return value;
}

/**
 * The SQLite file and, for PostgreSQL, the database URL the file's keys and the environment name. `path` resolves
 * a path of the file against its directory.
 */
export function storeLocation(
  file: { readonly store?: unknown; readonly storagePath?: unknown },
  env: Readonly<Record<string, string | undefined>>,
  path: (p: string) => string,
  defaultPath: string,
): { storagePath: string; databaseUrl?: string } {
  const fromEnv = env.LOAM_STORE || undefined;
  const key = fromEnv ? 'LOAM_STORE' : 'store';
  const store = fromEnv ?? file.store;
  if (store !== undefined && (typeof store !== 'string' || store === ''))
    throw new ConfigError(key, 'expected a postgres:// URL or the path of a SQLite file');
  if (store !== undefined && isPostgresUrl(store)) {
    const storagePath = env.LOAM_STORAGE_PATH ? resolve(env.LOAM_STORAGE_PATH) : path(defaultPath);
    return { storagePath, databaseUrl: checkDatabaseUrl(store, key) };
  }
  if (store !== undefined) return { storagePath: fromEnv ? resolve(store) : path(store) };
  if (env.LOAM_STORAGE_PATH) return { storagePath: resolve(env.LOAM_STORAGE_PATH) };
  const configured = file.storagePath ?? defaultPath;
  if (typeof configured !== 'string' || configured === '')
    throw new ConfigError('storagePath', 'expected the path of a SQLite file');
  return { storagePath: path(configured) };
}
