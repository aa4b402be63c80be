/**
 * Versioned migrations of the PostgreSQL store, applied on start.
 *
 * Loam's own tables change only through {@link MIGRATIONS}, an append-only list: each entry runs once, in order,
 * and is recorded in `loam_server_migrations`. The documents' tables follow the app schema instead: each start
 * checks that the schema changed only additively since the stored one (as the SQLite store does) and creates what
 * is missing. Everything runs in one transaction under an advisory lock, so relay nodes starting together migrate
 * once; a database migrated by a newer Loam than this one is refused with a `server_storage` error.
 */
import { parseSchema, type Schema, schemaToJson } from '@loam/core';
import { migrationSql } from '@loam/store/sql';
import type { Sql } from 'postgres';
import { ServerStorageError } from '../errors';
import { collectionDdl, pgCollection } from './storage-postgres-sql';

/** One migration of Loam's own tables. */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

/** Every migration, oldest first. Append only: never edit an entry that shipped. */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'relay tables',
    sql: `
CREATE TABLE loam_server_meta (key text PRIMARY KEY, value text NOT NULL);
CREATE TABLE loam_server_counter (one boolean PRIMARY KEY DEFAULT true CHECK (one), version bigint NOT NULL);
INSERT INTO loam_server_counter (version) VALUES (0);
CREATE TABLE loam_server_ops (id text COLLATE "C" PRIMARY KEY, at bigint NOT NULL);
CREATE INDEX loam_server_ops_at ON loam_server_ops (at);
CREATE TABLE loam_server_batches (version bigint PRIMARY KEY, at bigint NOT NULL, source text NOT NULL);
CREATE INDEX loam_server_batches_at ON loam_server_batches (at);
CREATE TABLE loam_server_changes (
  version bigint NOT NULL, collection text NOT NULL, id text COLLATE "C" NOT NULL, before bytea,
  PRIMARY KEY (version, collection, id)
);
CREATE TABLE loam_server_replicas (replica text PRIMARY KEY, "user" text NOT NULL);
CREATE TABLE loam_server_nodes (
  replica text PRIMARY KEY, clock text COLLATE "C", seq bigint NOT NULL DEFAULT 1, started_at bigint NOT NULL
);
CREATE TABLE loam_server_lanes (lane text PRIMARY KEY);
CREATE TABLE loam_server_deliveries (
  id bigserial PRIMARY KEY, lane text NOT NULL, uid uuid NOT NULL, version bigint NOT NULL, body text NOT NULL,
  attempts integer NOT NULL DEFAULT 0, due_at bigint NOT NULL
);
CREATE INDEX loam_server_deliveries_lane ON loam_server_deliveries (lane, id);
`,
  },
  {
    version: 2,
    name: 'op content digests and highest sequence per replica',
    sql: `
ALTER TABLE loam_server_ops ADD COLUMN hash bytea;
CREATE TABLE loam_server_seqs (replica text PRIMARY KEY, seq bigint NOT NULL);
INSERT INTO loam_server_seqs (replica, seq)
  SELECT left(id, 16), max(substr(id, 18)::bigint) FROM loam_server_ops GROUP BY 1;
`,
  },
  {
    version: 3,
    name: 'writes answered as conflicts, with the id they were renumbered to',
    sql: `
CREATE TABLE loam_server_reissues (
  content bytea NOT NULL, origin text COLLATE "C" NOT NULL, id text COLLATE "C", pending integer NOT NULL,
  PRIMARY KEY (content, origin)
);
`,
  },
];

/** Second key of the advisory locks the store takes (the first is the schema's hash). */
export const LOCK_MIGRATE = 1;
export const LOCK_COMPACT = 2;

/**
 * Brings the database's tables to {@link MIGRATIONS} and to the app `schema`. Throws `ServerStorageError` when the
 * database is newer than this code or the schema changed in a way that is not additive.
 */
export async function migrate(
  sql: Sql,
  schema: Schema,
  migrations: readonly Migration[] = MIGRATIONS,
): Promise<void> {
  await sql.begin(async (tx) => {
    await tx.unsafe('SELECT pg_advisory_xact_lock(hashtext(current_schema()), $1)', [LOCK_MIGRATE]);
    await tx.unsafe(
      'CREATE TABLE IF NOT EXISTS loam_server_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())',
    );
    const [row] = await tx.unsafe<{ v: number | null }[]>(
      'SELECT max(version) AS v FROM loam_server_migrations',
    );
    const applied = row?.v ?? 0;
    const known = migrations.at(-1)?.version ?? 0;
    if (applied > known)
      throw new ServerStorageError(
        `The database was migrated to version ${applied} by a newer Loam relay; this relay knows versions up to ${known}. Run the newer relay, or restore a backup taken before the upgrade.`,
      );
    for (const m of migrations) {
      if (m.version <= applied) continue;
      await tx.unsafe(m.sql);
      await tx.unsafe('INSERT INTO loam_server_migrations (version, name) VALUES ($1, $2)', [
        m.version,
        m.name,
      ]);
    }
    const [stored] = await tx.unsafe<{ value: string }[]>(
      "SELECT value FROM loam_server_meta WHERE key = 'schema'",
    );
    const json = schemaToJson(schema);
    if (stored?.value === json) return;
    if (stored) {
      try {
        migrationSql(parseSchema(JSON.parse(stored.value)), schema);
      } catch (cause) {
        throw new ServerStorageError(
          `The schema cannot replace the stored one: ${(cause as Error).message}`,
          {
            cause,
          },
        );
      }
    }
    for (const [name, def] of Object.entries(schema.collections))
      for (const statement of collectionDdl(pgCollection(name, def))) await tx.unsafe(statement);
    await tx.unsafe(
      "INSERT INTO loam_server_meta (key, value) VALUES ('schema', $1) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
      [json],
    );
  });
}
