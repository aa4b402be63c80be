/**
 * Compaction of the PostgreSQL store (invariant 4 of `server-store.ts`): one node at a time (a session advisory
 * lock; the others return the current horizon), and never waiting for a document lock: a tombstone a group is
 * writing is left for a later run.
 */
import type { Sql } from 'postgres';
import { LOCK_COMPACT } from './storage-postgres-migrations';
import type { PgCollection } from './storage-postgres-sql';

const horizon = async (sql: Sql): Promise<number> => {
  const [row] = await sql.unsafe<{ value: string }[]>(
    "SELECT value FROM loam_server_meta WHERE key = 'horizon'",
  );
  return Number(row?.value ?? 0);
};

/**
 * Folds away tombstones and op ids of batches older than `cutoff` (Unix ms), and change-log entries older than
 * both `cutoff` and `retentionMs`; resolves the horizon.
 */
export async function compactPostgres(
  sql: Sql,
  collections: ReadonlyMap<string, PgCollection>,
  cutoff: number,
  retentionMs: number,
): Promise<number> {
  const conn = await sql.reserve();
  try {
    const [lock] = await conn.unsafe<{ ok: boolean }[]>(
      'SELECT pg_try_advisory_lock(hashtext(current_schema()), $1) AS ok',
      [LOCK_COMPACT],
    );
    if (!lock?.ok) return await horizon(conn);
    try {
      return await compactLocked(conn, collections, cutoff, retentionMs);
    } finally {
      await conn.unsafe('SELECT pg_advisory_unlock(hashtext(current_schema()), $1)', [LOCK_COMPACT]);
    }
  } finally {
    conn.release();
  }
}

async function compactLocked(
  conn: Sql,
  collections: ReadonlyMap<string, PgCollection>,
  cutoff: number,
  retentionMs: number,
): Promise<number> {
  const [row] = await conn.unsafe<{ v: string | null }[]>(
    'SELECT max(version) AS v FROM loam_server_batches WHERE at < $1',
    [cutoff],
  );
  const folded = Number(row?.v ?? 0);
  await conn.unsafe('DELETE FROM loam_server_ops WHERE at < $1', [cutoff]);
  await conn.unsafe(
    'DELETE FROM loam_server_changes WHERE version <= (SELECT max(version) FROM loam_server_batches WHERE at < $1)',
    [Math.min(cutoff, Date.now() - retentionMs)],
  );
  const current = await horizon(conn);
  if (folded <= current) return current;
  for (const c of collections.values()) {
    let after = '';
    for (;;) {
      const [chunk] = await conn.unsafe<{ last: string | null }[]>(
        `WITH cand AS (SELECT id FROM ${c.table} WHERE NOT "$live" AND "$v" <= $1 AND id > $2 ORDER BY id LIMIT 500),
         del AS (DELETE FROM ${c.table} WHERE id IN (SELECT id FROM cand) AND NOT "$live" AND "$v" <= $1
                 AND pg_try_advisory_xact_lock(hashtextextended(current_schema() || ':' || $3 || ':' || id, 0)) RETURNING id)
         SELECT (SELECT max(id) FROM cand) AS last, (SELECT count(*) FROM del) AS n`,
        [folded, after, c.name],
      );
      if (!chunk?.last) break;
      after = chunk.last;
    }
  }
  await conn.unsafe('DELETE FROM loam_server_batches WHERE version <= $1', [folded]);
  await conn.unsafe(
    `INSERT INTO loam_server_meta (key, value) VALUES ('horizon', $1)
     ON CONFLICT (key) DO UPDATE SET value = GREATEST(loam_server_meta.value::bigint, excluded.value::bigint)::text`,
    [String(folded)],
  );
  return horizon(conn);
}
