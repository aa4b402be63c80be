/**
 * What opens a PostgreSQL store (`storage-postgres.ts`): its options, its URL (the schema rides in `?schema=`) and
 * the store's handle, a {@link ServerStore} with a view of its database work in flight.
 */
import type { Schema } from '@loam/core';
import type { Timers } from '@loam/sync';
import { SCHEMA_NAME } from '../config/store-location';
import { ServerStorageError } from '../errors';
import type { ServerStore } from './server-store';
import type { Migration } from './storage-postgres-migrations';

/** Options of {@link createPostgresServerStore}. */
export interface PostgresServerStoreOptions {
  /** `postgres://user[:password]@host[:port]/database[?schema=name]` (schema default `public`, created if absent). */
  readonly url: string;
  readonly schema: Schema;
  /** Connections of this node's pool (the LISTEN connection comes on top); default 6. */
  readonly poolSize?: number;
  /** How long a group of pushes waits for more after its first; default 2 ms. */
  readonly groupWindowMs?: number;
  /** Most ops in one group transaction; default 5000. */
  readonly maxGroupOps?: number;
  /** How often the commit feed polls besides LISTEN; default 500 ms. */
  readonly pollMs?: number;
  /** How long the change log keeps a version for lagging nodes; default 1 hour. */
  readonly changeRetentionMs?: number;
  /** The migrations this code knows (tests pass more or fewer); default `MIGRATIONS`. */
  readonly migrations?: readonly Migration[];
  /** Timers of the group window and the poll (a test's virtual clock); default the global ones. */
  readonly timers?: Timers;
}

/** A PostgreSQL store, with a view of its database work in flight (see `work-in-flight.ts`). */
export interface PostgresServerStore extends ServerStore {
  /** Whether a query, group transaction or commit-feed read of this store is in flight. */
  busy(): boolean;
  /** Resolves once none is. */
  settled(): Promise<void>;
  /** Commits the group waiting for its window now (`close` does too), rather than when its timer fires. */
  flush(): void;
}

/** The URL without its `schema` parameter, the schema, and the URL with its password hidden (for messages). */
export function parsePostgresUrl(url: string): {
  readonly url: string;
  readonly schema: string;
  readonly safe: string;
} {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ServerStorageError('Not a PostgreSQL URL: expected postgres://user@host:port/database');
  }
  const schema = parsed.searchParams.get('schema') ?? 'public';
  if (!SCHEMA_NAME.test(schema))
    throw new ServerStorageError(`Schema "${schema}": expected lowercase letters, digits and _ (at most 48)`);
  parsed.searchParams.delete('schema');
  const safe = new URL(parsed.href);
  if (safe.password) safe.password = '***';
  return { url: parsed.href, schema, safe: safe.href };
}
