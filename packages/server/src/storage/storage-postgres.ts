/**
 * The {@link ServerStore} for several relay nodes: one PostgreSQL database (or one schema of it) shared by every
 * node, through the `postgres` client.
 *
 * ```
 * loam_doc_<collection>   documents (see storage-postgres-sql.ts)
 * loam_server_counter     the version counter (one row; taken last by each transaction)
 * loam_server_ops         op id → content digest, batch time: the dedupe table (never compacted)
 * loam_server_seqs        replica id → highest sequence number of its accepted ops (never compacted)
 * loam_server_reissues    (content digest, id) of a write answered as a conflict → renumbering due?, id applied under
 * loam_server_batches     version → batch time, source (compaction, the commit feed)
 * loam_server_changes     version, document → materialized document before it (the commit feed; kept 1 h)
 * loam_server_replicas    replica id → user (server replicas are bound to SERVER_USER)
 * loam_server_nodes       one row per opening: its replica id, clock and next op sequence
 * loam_server_lanes, loam_server_deliveries   the webhook queue (storage-postgres-deliveries.ts)
 * loam_server_meta        horizon, the app schema; loam_server_migrations: applied migrations
 * ```
 * Writes go through the group committer (`storage-postgres-batch.ts`), the commit feed reads every node's commits
 * back (`storage-postgres-feed.ts`), migrations run on open (`storage-postgres-migrations.ts`). Each opening is a
 * node with its own replica id (invariant of `ServerMeta.replica`), registered so no device can claim it; the
 * server clock a node starts from is the greatest any node saved. Compaction runs on one node at a time (a
 * session advisory lock) and touches no document (tombstones and op ids stay: invariant 4 of `server-store.ts`).
 */
import {
  createReplicaId,
  type Filter,
  type Query,
  type ReplicaId,
  type Timestamp,
  validateQuery,
} from '@loam/core';
import { decodeDoc, quoteIdentifier } from '@loam/store/sql';
import postgres, { type Sql } from 'postgres';
import { ServerStorageError } from '../errors';
import { createStoreStats } from '../metrics/histogram';
import { guardPostgresClient } from './postgres-client-guard';
import { SERVER_USER, type ServerStore, type StoredDoc } from './server-store';
import { createGroupCommitter, stateOfRow } from './storage-postgres-batch';
import { createPostgresDeliveryQueue } from './storage-postgres-deliveries';
import { createPostgresFeed } from './storage-postgres-feed';
import { LOCK_COMPACT, MIGRATIONS, migrate } from './storage-postgres-migrations';
import {
  type PostgresServerStore,
  type PostgresServerStoreOptions,
  parsePostgresUrl,
} from './storage-postgres-options';
import { compilePgFilter, compilePgQuery, type PgCollection, pgCollection } from './storage-postgres-sql';
import { createWorkInFlight } from './work-in-flight';

export {
  type PostgresServerStore,
  type PostgresServerStoreOptions,
  parsePostgresUrl,
} from './storage-postgres-options';

type Row = Parameters<typeof stateOfRow>[1];

/** Opens (creating or migrating) the relay's tables in PostgreSQL. Rejects with `server_storage` when unusable. */
export async function createPostgresServerStore(
  options: PostgresServerStoreOptions,
): Promise<PostgresServerStore> {
  const { schema } = options;
  const target = parsePostgresUrl(options.url);
  guardPostgresClient();
  const sql: Sql = postgres(target.url, {
    max: options.poolSize ?? 6,
    onnotice: () => undefined,
    connect_timeout: 10,
    connection: { search_path: target.schema, application_name: `loam-relay:${target.schema}` },
  });
  const collections = new Map<string, PgCollection>();
  const stats = createStoreStats();
  const replica = createReplicaId();
  let position: number;
  let durability: 'power-loss' | 'process-crash';
  try {
    for (const [name, def] of Object.entries(schema.collections))
      collections.set(name, pgCollection(name, def));
    if (target.schema !== 'public')
      await sql.unsafe(`CREATE SCHEMA IF NOT EXISTS ${quoteIdentifier(target.schema)}`).catch((error) => {
        if ((error as { code?: string }).code !== '23505') throw error;
      });
    await migrate(sql, schema, options.migrations ?? MIGRATIONS);
    await sql.begin(async (tx) => {
      await tx.unsafe('INSERT INTO loam_server_nodes (replica, started_at) VALUES ($1, $2)', [
        replica,
        Date.now(),
      ]);
      await tx.unsafe('INSERT INTO loam_server_replicas (replica, "user") VALUES ($1, $2)', [
        replica,
        SERVER_USER,
      ]);
    });
    const [counter] = await sql.unsafe<{ version: string }[]>('SELECT version FROM loam_server_counter');
    position = Number(counter?.version ?? 0);
    const [sync] = await sql.unsafe<{ synchronous_commit: string }[]>('SHOW synchronous_commit');
    durability = sync?.synchronous_commit === 'off' ? 'process-crash' : 'power-loss';
  } catch (cause) {
    await sql.end({ timeout: 1 }).catch(() => undefined);
    if (cause instanceof ServerStorageError) throw cause;
    throw new ServerStorageError(
      `Cannot open the PostgreSQL store at ${target.safe}: ${(cause as Error).message}`,
      {
        cause,
      },
    );
  }

  const coll = (name: string): PgCollection => {
    const c = collections.get(name);
    if (!c) throw new ServerStorageError(`Unknown collection "${name}"`);
    return c;
  };
  const channel = `loam_commits_${target.schema}`;
  const work = createWorkInFlight();
  const timers = options.timers ?? globalThis;
  const deliveries = createPostgresDeliveryQueue(sql);
  const feed = createPostgresFeed({
    sql,
    channel,
    collections,
    position,
    pollMs: options.pollMs ?? 500,
    stats,
    work,
    timers,
  });
  let outbox: Parameters<ServerStore['setOutbox']>[0] | undefined;
  const committer = createGroupCommitter(
    {
      sql,
      schema,
      collections,
      replica,
      channel,
      stats,
      outbox: () => outbox,
      committing: () => feed.committing(),
      enqueueDeliveries: (tx, entries, now) => deliveries.enqueue(tx, entries, now),
      work,
      timers,
    },
    { windowMs: options.groupWindowMs ?? 2, maxOps: options.maxGroupOps ?? 5000 },
  );
  try {
    await feed.start();
  } catch (cause) {
    await sql.end({ timeout: 1 }).catch(() => undefined);
    throw new ServerStorageError(`Cannot LISTEN on ${target.safe}: ${(cause as Error).message}`, { cause });
  }

  let closed = false;
  const guard = () => {
    if (closed) throw new ServerStorageError('The server store is closed');
  };
  const toStored = (c: PgCollection, row: Row): StoredDoc => ({
    collection: c.name,
    id: row.id,
    version: Number(row.$v),
    live: row.$live,
    state: stateOfRow(c, row),
  });
  const read = async <T>(fn: () => Promise<T>): Promise<T> => {
    guard();
    try {
      return await work.track(fn());
    } catch (cause) {
      if (cause instanceof ServerStorageError) throw cause;
      throw new ServerStorageError(`PostgreSQL failed: ${(cause as Error).message}`, { cause });
    }
  };
  const liveWhere = (c: PgCollection, filter: Filter | undefined, params: unknown[]) =>
    filter === undefined ? 'TRUE' : compilePgFilter(filter, c, params).sql;
  const horizon = async (on: Sql = sql) => {
    const [row] = await on.unsafe<{ value: string }[]>(
      "SELECT value FROM loam_server_meta WHERE key = 'horizon'",
    );
    return Number(row?.value ?? 0);
  };

  return {
    info: { backend: 'postgres', durability, shared: true },
    commits: feed.feed,
    deliveries,
    stats,
    busy: work.busy,
    settled: work.settled,
    flush: committer.flush,
    setOutbox(render) {
      outbox = render;
    },

    meta: () =>
      read(async () => {
        const [row] = await sql.unsafe<
          { version: string; horizon: string | null; clock: string | null; seq: string }[]
        >(
          `SELECT (SELECT version FROM loam_server_counter) AS version,
                  (SELECT value FROM loam_server_meta WHERE key = 'horizon') AS horizon,
                  (SELECT max(clock) FROM loam_server_nodes) AS clock,
                  (SELECT seq FROM loam_server_nodes WHERE replica = $1) AS seq`,
          [replica],
        );
        return {
          replica: replica as ReplicaId,
          clock: (row?.clock ?? undefined) as Timestamp | undefined,
          nextSeq: Number(row?.seq ?? 1),
          version: Number(row?.version ?? 0),
          horizon: Number(row?.horizon ?? 0),
        };
      }),

    applyBatch(request) {
      guard();
      return committer.submit(request);
    },

    getDoc: (collection, id) =>
      read(async () => {
        const c = coll(collection);
        const [row] = await sql.unsafe<Row[]>(`SELECT ${c.stateColumns()} FROM ${c.table} WHERE id = $1`, [
          id,
        ]);
        return row ? toStored(c, row) : undefined;
      }),

    changedSince: (collection, cursor, filter) =>
      read(async () => {
        const c = coll(collection);
        const params: unknown[] = [cursor];
        const matching =
          filter === undefined ? '' : ` AND (NOT "$live" OR (${liveWhere(c, filter, params)}))`;
        const rows = await sql.unsafe<Row[]>(
          `SELECT ${c.stateColumns()} FROM ${c.table} WHERE "$v" > $1${matching} ORDER BY "$v", id`,
          params as never[],
        );
        return rows.map((row) => toStored(c, row));
      }),

    changedIdsSince: (collection, cursor) =>
      read(async () => {
        const c = coll(collection);
        const rows = await sql.unsafe<{ id: string }[]>(
          `SELECT id FROM ${c.table} WHERE "$v" > $1 AND "$live" ORDER BY "$v", id`,
          [cursor],
        );
        return rows.map((r) => r.id);
      }),

    countChangedSince: (collection, cursor, limit) =>
      read(async () => {
        const c = coll(collection);
        const [row] = await sql.unsafe<{ n: string }[]>(
          `SELECT count(*) AS n FROM (SELECT 1 FROM ${c.table} WHERE "$v" > $1 LIMIT $2::bigint) AS changed`,
          [cursor, limit ?? null],
        );
        return Number(row?.n ?? 0);
      }),

    findDocs: (collection, filter, page) =>
      read(async () => {
        const c = coll(collection);
        const params: unknown[] = [];
        const where = liveWhere(c, filter, params);
        let after = '';
        if (page.afterId !== undefined) {
          params.push(page.afterId);
          after = ` AND id > $${params.length}::text`;
        }
        params.push(page.limit);
        const rows = await sql.unsafe<Row[]>(
          `SELECT ${c.stateColumns()} FROM ${c.table} WHERE "$live" AND ${where}${after} ORDER BY id LIMIT $${params.length}::bigint`,
          params as never[],
        );
        return rows.map((row) => toStored(c, row));
      }),

    countDocs: (collection, filter) =>
      read(async () => {
        const c = coll(collection);
        const params: unknown[] = [];
        const where = liveWhere(c, filter, params);
        const [row] = await sql.unsafe<{ n: string }[]>(
          `SELECT count(*) AS n FROM ${c.table} WHERE "$live" AND ${where}`,
          params as never[],
        );
        return Number(row?.n ?? 0);
      }),

    queryDocs: (input: Query) =>
      read(async () => {
        const query = validateQuery(input);
        const { sql: text, params } = compilePgQuery(query, coll(query.collection), '"$doc"');
        const rows = await sql.unsafe<{ $doc: Buffer }[]>(text, params as never[]);
        return rows.map((r) => decodeDoc(r.$doc));
      }),

    claimReplica: (claimed, user) =>
      read(async () => {
        for (let attempt = 1; ; attempt++) {
          const rows = await sql.unsafe<{ user: string }[]>(
            `WITH ins AS (INSERT INTO loam_server_replicas (replica, "user") VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING "user")
             SELECT "user" FROM ins UNION ALL SELECT "user" FROM loam_server_replicas WHERE replica = $1`,
            [claimed, user],
          );
          if (rows[0]) return rows[0].user === user;
          if (attempt === 3)
            throw new ServerStorageError(`Replica ${claimed} could not be claimed: try again`);
        }
      }),

    replicaSeq: (of) =>
      read(async () => {
        const [row] = await sql.unsafe<{ seq: string }[]>(
          'SELECT seq FROM loam_server_seqs WHERE replica = $1',
          [of],
        );
        return Number(row?.seq ?? 0);
      }),

    compact: (cutoff) =>
      read(async () => {
        const conn = await sql.reserve();
        try {
          const [lock] = await conn.unsafe<{ ok: boolean }[]>(
            'SELECT pg_try_advisory_lock(hashtext(current_schema()), $1) AS ok',
            [LOCK_COMPACT],
          );
          if (!lock?.ok) return await horizon(conn);
          try {
            return await compactLocked(conn, cutoff);
          } finally {
            await conn.unsafe('SELECT pg_advisory_unlock(hashtext(current_schema()), $1)', [LOCK_COMPACT]);
          }
        } finally {
          conn.release();
        }
      }),

    async ping() {
      guard();
      const started = performance.now();
      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        await Promise.race([
          sql.unsafe('SELECT 1'),
          new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error('no answer within 2 s')), 2000);
          }),
        ]);
      } catch (cause) {
        throw new ServerStorageError(`PostgreSQL is unreachable: ${(cause as Error).message}`, { cause });
      } finally {
        clearTimeout(timer);
      }
      return performance.now() - started;
    },

    async close() {
      if (closed) return;
      closed = true;
      committer.flush();
      await committer.idle();
      await feed.close();
      await sql.end({ timeout: 5 });
    },
  };

  async function compactLocked(conn: Sql, cutoff: number): Promise<number> {
    const [row] = await conn.unsafe<{ v: string | null }[]>(
      'SELECT max(version) AS v FROM loam_server_batches WHERE at < $1',
      [cutoff],
    );
    const folded = Number(row?.v ?? 0);
    await conn.unsafe(
      'DELETE FROM loam_server_changes WHERE version <= (SELECT max(version) FROM loam_server_batches WHERE at < $1)',
      [Math.min(cutoff, Date.now() - (options.changeRetentionMs ?? 3_600_000))],
    );
    const current = await horizon(conn);
    if (folded <= current) return current;
    await conn.unsafe('DELETE FROM loam_server_batches WHERE version <= $1', [folded]);
    await conn.unsafe(
      `INSERT INTO loam_server_meta (key, value) VALUES ('horizon', $1)
       ON CONFLICT (key) DO UPDATE SET value = GREATEST(loam_server_meta.value::bigint, excluded.value::bigint)::text`,
      [String(folded)],
    );
    return horizon(conn);
  }
}
