/**
 * Opens the {@link ServerStore} a location names: a `postgres://` (or `postgresql://`) URL opens the PostgreSQL
 * store, anything else is a SQLite file (its directory created) or `:memory:`. The CLI, the server and the
 * real-stack fuzzer (`--store postgres`) open stores through here.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Schema } from '@loam/core';
import { isPostgresUrl } from '../config/store-location';
import type { ServerStore } from './server-store';
import { createPostgresServerStore, type PostgresServerStoreOptions } from './storage-postgres';
import { createSqliteServerStore } from './storage-sqlite';

/** Options of {@link openServerStore}. */
export interface OpenStoreOptions {
  readonly schema: Schema;
  /** Tuning of the PostgreSQL store (ignored for SQLite). */
  readonly postgres?: Omit<PostgresServerStoreOptions, 'url' | 'schema'>;
}

/** Opens the store at `location` (a `postgres://` URL, a SQLite file path or `:memory:`). */
export function openServerStore(location: string, options: OpenStoreOptions): Promise<ServerStore> {
  if (isPostgresUrl(location))
    return createPostgresServerStore({ ...options.postgres, url: location, schema: options.schema });
  if (location !== ':memory:') mkdirSync(dirname(location), { recursive: true });
  return createSqliteServerStore({ filename: location, schema: options.schema });
}
