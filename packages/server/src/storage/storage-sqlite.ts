/**
 * The default {@link ServerStore}: one SQLite file through better-sqlite3, created on first start, committed with
 * `synchronous=FULL` (every batch is fsynced before `applyBatch` resolves).
 *
 * Documents use the client engine's layout (`@loam/store`'s `prepareTables`): one `loam_doc_<collection>` table
 * with `id`, `_live`, `_v` (here: the server's change counter), `_state`, `_doc` and one column per scalar leaf,
 * Yjs fields in `loam_yjs`; so subscription filters compile to SQL with the engine's own compiler. Added here:
 * ```
 * loam_server_ops       op id → content digest, batch time: the dedupe table (never compacted)
 * loam_server_batches   version → batch time: which versions compaction may fold away
 * loam_server_replicas  replica id → user: a replica belongs to one user (written with its first batch at the latest,
 *                       see `sqlite-replica-claims.ts`)
 * loam_server_seqs      replica id → highest sequence number of its accepted ops (never compacted)
 * loam_server_reissues  (content digest, id) of a write answered as a conflict → renumbering due?, id applied under
 * loam_meta             replica, clock, seq (next server op), version, horizon (plus the engine's schema keys)
 * ```
 * One relay process owns the file; the driver serialises every call, so batches never interleave.
 */
import {
  createReplicaId,
  type DocState,
  type Filter,
  getCollection,
  isReplicaId,
  type MaterializedDoc,
  materialize,
  type Query,
  type ReplicaId,
  type Schema,
  type Timestamp,
  validateQuery,
} from '@loam/core';
import type { SqlExecutor, SqlValue, StorageDriver } from '@loam/store';
import { createBetterSqlite3Storage } from '@loam/store/node';
import {
  type CollectionSql,
  collectionSql,
  columnOf,
  compileFilter,
  decodeDoc,
  decodeDocState,
  findSql,
  prepareTables,
  quoteIdentifier,
  rowParams,
} from '@loam/store/sql';
import * as Y from 'yjs';
import { ServerStorageError } from '../errors';
import { createStoreStats } from '../metrics/histogram';
import { planBatch } from './batch-plan';
import { createCommitEmitter } from './commit-feed';
import {
  type ApplyBatchRequest,
  type BatchResult,
  type DocChange,
  type FindPage,
  type OutboxRenderer,
  SERVER_USER,
  type ServerMeta,
  type ServerStore,
  type StoredDoc,
} from './server-store';
import { highestSeq, recordedDigest, recordOpIds, recordReissues, reissuedAs } from './sqlite-op-ledger';
import { createReplicaClaims } from './sqlite-replica-claims';
import { createSqliteDeliveryQueue, SQLITE_DELIVERIES_DDL } from './storage-sqlite-deliveries';

/** Options of {@link createSqliteServerStore}. */
export interface SqliteServerStoreOptions {
  /** Path of the database file (parent directories must exist), or `:memory:` for tests. */
  readonly filename: string;
  readonly schema: Schema;
}

const SERVER_DDL = `
CREATE TABLE IF NOT EXISTS loam_server_ops (id TEXT PRIMARY KEY, at INTEGER NOT NULL, hash BLOB) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS loam_server_ops_at ON loam_server_ops (at);
CREATE TABLE IF NOT EXISTS loam_server_batches (version INTEGER PRIMARY KEY, at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS loam_server_replicas (replica TEXT PRIMARY KEY, user TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS loam_server_seqs (replica TEXT PRIMARY KEY, seq INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS loam_server_reissues (
  content BLOB NOT NULL, origin TEXT NOT NULL, id TEXT, pending INTEGER NOT NULL, PRIMARY KEY (content, origin)
) WITHOUT ROWID;
`;

/** Columns added after the first release of this layout: table → column → definition. */
const ADDED_COLUMNS: readonly [string, string, string][] = [['loam_server_ops', 'hash', 'BLOB']];

async function addMissingColumns(tx: SqlExecutor): Promise<void> {
  for (const [table, column, definition] of ADDED_COLUMNS) {
    const columns = await tx.all<{ name: string }>(`SELECT name FROM pragma_table_info('${table}')`);
    if (!columns.some((c) => c.name === column))
      await tx.exec(`ALTER TABLE ${table} ADD COLUMN ${column} ${definition}`);
  }
}
const UPSERT_YJS = 'INSERT OR REPLACE INTO loam_yjs (collection, doc, field, state) VALUES (?, ?, ?, ?)';
const DELETE_YJS = 'DELETE FROM loam_yjs WHERE collection = ? AND doc = ? AND field = ?';
const SAVE_META = 'INSERT OR REPLACE INTO loam_meta (key, value) VALUES (?, ?)';

type Row = {
  id: string;
  _v: number | bigint;
  _live: number | bigint;
  _state: Uint8Array;
};

/** Opens (creating or migrating) the relay's SQLite database. Rejects with `server_storage` when unusable. */
export async function createSqliteServerStore(options: SqliteServerStoreOptions): Promise<ServerStore> {
  const { schema } = options;
  let driver: StorageDriver;
  try {
    driver = await createBetterSqlite3Storage({ filename: options.filename, synchronous: 'full' });
  } catch (cause) {
    throw new ServerStorageError(
      `Cannot open the server database ${options.filename}: ${(cause as Error).message}`,
      { cause },
    );
  }
  const collections = new Map<string, CollectionSql>();
  for (const [name, def] of Object.entries(schema.collections))
    collections.set(name, collectionSql(name, def));
  const coll = (name: string): CollectionSql => {
    const c = collections.get(name);
    if (!c) getCollection(schema, name);
    return c as CollectionSql;
  };

  let meta: ServerMeta;
  try {
    meta = await driver.transaction(async (tx) => {
      const m = await prepareTables(tx, schema);
      await tx.exec(SERVER_DDL);
      await addMissingColumns(tx);
      for (const c of collections.values()) {
        await tx.exec(
          `CREATE INDEX IF NOT EXISTS ${quoteIdentifier(`loam_server_v_${c.name}`)} ON ${c.table} (_v)`,
        );
      }
      await tx.exec(SQLITE_DELIVERIES_DDL);
      let replica = m.get('replica');
      if (!isReplicaId(replica)) {
        replica = createReplicaId();
        await tx.run(SAVE_META, ['replica', replica as string]);
      }
      await tx.run('INSERT OR IGNORE INTO loam_server_replicas (replica, user) VALUES (?, ?)', [
        replica as string,
        SERVER_USER,
      ]);
      const clock = m.get('clock');
      return {
        replica: replica as ReplicaId,
        clock: typeof clock === 'string' ? (clock as Timestamp) : undefined,
        nextSeq: Number(m.get('seq') ?? 1),
        version: Number(m.get('version') ?? 0),
        horizon: Number(m.get('horizon') ?? 0),
      };
    });
  } catch (cause) {
    await driver.close();
    throw new ServerStorageError(
      `Cannot prepare the server database ${options.filename}: ${(cause as Error).message}`,
      { cause },
    );
  }

  const loadYjs = async (sql: SqlExecutor, c: CollectionSql, id: string, state: DocState) => {
    if (c.crdtFields.length === 0) return;
    const rows = await sql.all<{ field: string; state: Uint8Array }>(
      'SELECT field, state FROM loam_yjs WHERE collection = ? AND doc = ?',
      [c.name, id],
    );
    for (const r of rows) {
      const doc = new Y.Doc({ guid: r.field });
      Y.applyUpdate(doc, r.state);
      state.crdts[r.field] = doc;
    }
  };

  const toStored = async (sql: SqlExecutor, c: CollectionSql, row: Row): Promise<StoredDoc> => {
    const state = decodeDocState(row._state);
    await loadYjs(sql, c, row.id, state);
    return { collection: c.name, id: row.id, version: Number(row._v), live: Number(row._live) === 1, state };
  };

  const whereOf = (c: CollectionSql, filter: Filter | undefined) => {
    const where = filter === undefined ? undefined : compileFilter(filter, columnOf(c));
    return {
      sql: where && where.sql !== '1' ? ` AND (${where.sql})` : '',
      params: [...(where?.params ?? [])] as SqlValue[],
    };
  };

  const saveYjs = async (sql: SqlExecutor, c: CollectionSql, id: string, state: DocState, reset: boolean) => {
    for (const field of c.crdtFields) {
      const doc = state.crdts[field];
      if (doc) await sql.run(UPSERT_YJS, [c.name, id, field, Y.encodeStateAsUpdate(doc)]);
      else if (reset) await sql.run(DELETE_YJS, [c.name, id, field]);
    }
  };

  const claims = createReplicaClaims(driver);
  let closed = false;
  const guard = () => {
    if (closed) throw new ServerStorageError('The server store is closed');
  };
  const emitter = createCommitEmitter(meta.version);
  const queue = createSqliteDeliveryQueue(driver);
  const stats = createStoreStats();
  let outbox: OutboxRenderer | undefined;

  return {
    info: {
      backend: 'sqlite',
      durability: options.filename === ':memory:' ? 'process-crash' : 'power-loss',
      shared: false,
    },
    commits: emitter.feed,
    deliveries: queue,
    stats,
    setOutbox(render) {
      outbox = render;
    },
    async ping() {
      guard();
      const started = performance.now();
      await driver.get('SELECT 1 AS one');
      return performance.now() - started;
    },

    async meta() {
      guard();
      return meta;
    },

    async applyBatch(request: ApplyBatchRequest): Promise<BatchResult> {
      guard();
      const now = request.now ?? Date.now();
      const started = performance.now();
      let claimed: () => void = () => undefined;
      const result = await driver.transaction(async (tx) => {
        claimed = await claims.writeTo(tx);
        const row = await tx.get<{ value: number | bigint }>(
          "SELECT value FROM loam_meta WHERE key = 'version'",
        );
        const current = Number(row?.value ?? 0);
        const version = current + 1;
        const plan = await planBatch(request, {
          def: (name) => coll(name).def,
          recorded: (id) => recordedDigest(tx, id),
          reissued: (content, opId) => reissuedAs(tx, content, opId),
          load: async (collection, id) => {
            const c = coll(collection);
            const found = await tx.get<Row>(`SELECT id, _v, _live, _state FROM ${c.table} WHERE id = ?`, [
              id,
            ]);
            return found ? (await toStored(tx, c, found)).state : undefined;
          },
        });
        const changes: DocChange[] = [];
        for (const e of plan.docs) {
          if (!e.dirty) continue;
          const c = coll(e.collection);
          await tx.run(c.upsert, rowParams(c, e.id, e.current, version));
          if (c.crdtFields.length > 0) await saveYjs(tx, c, e.id, e.current, true);
          changes.push({ collection: c.name, id: e.id, before: e.before, after: e.current });
        }
        await recordOpIds(tx, plan.fresh, now);
        await recordReissues(tx, plan);
        if (changes.length > 0) {
          await tx.run('INSERT INTO loam_server_batches (version, at) VALUES (?, ?)', [version, now]);
          await tx.run(SAVE_META, ['version', version]);
          const entries = outbox?.({ source: request.source ?? 'device', changes }) ?? [];
          if (entries.length > 0) await queue.enqueue(tx, version, entries, now);
        }
        if (request.clock !== undefined) await tx.run(SAVE_META, ['clock', request.clock]);
        if (request.nextSeq !== undefined) await tx.run(SAVE_META, ['seq', request.nextSeq]);
        return { version: changes.length > 0 ? version : current, changes, plan };
      });
      claimed();
      stats.dbLatency.observe((performance.now() - started) / 1000);
      stats.batchOps.observe(request.ops.length);
      stats.batchRequests.observe(1);
      meta = {
        ...meta,
        version: Math.max(meta.version, result.version),
        ...(request.clock !== undefined ? { clock: request.clock } : {}),
        ...(request.nextSeq !== undefined ? { nextSeq: request.nextSeq } : {}),
      };
      if (result.changes.length > 0) {
        emitter.offer({
          version: result.version,
          at: now,
          source: request.source ?? 'device',
          changes: result.changes.map((c) => ({
            collection: c.collection,
            id: c.id,
            beforeDoc: c.before ? materialize(coll(c.collection).def, c.id, c.before) : undefined,
            after: c.after,
          })),
        });
      }
      const { plan } = result;
      return {
        version: result.version,
        accepted: plan.accepted,
        duplicates: plan.duplicates,
        refused: plan.refused,
        changes: result.changes,
        conflicts: plan.conflicts,
        echoes: plan.echoes,
      };
    },

    async getDoc(collection, id) {
      guard();
      const c = coll(collection);
      const row = await driver.get<Row>(`SELECT id, _v, _live, _state FROM ${c.table} WHERE id = ?`, [id]);
      return row ? toStored(driver, c, row) : undefined;
    },

    async changedSince(collection, cursor, filter) {
      guard();
      const c = coll(collection);
      const where = whereOf(c, filter);
      const rows = await driver.all<Row>(
        `SELECT id, _v, _live, _state FROM ${c.table} WHERE _v > ?${where.sql ? ` AND (_live = 0 OR (1${where.sql}))` : ''} ORDER BY _v, id`,
        [cursor, ...where.params],
      );
      const out: StoredDoc[] = [];
      for (const row of rows) out.push(await toStored(driver, c, row));
      return out;
    },

    async changedIdsSince(collection, cursor) {
      guard();
      const c = coll(collection);
      const rows = await driver.all<{ id: string }>(
        `SELECT id FROM ${c.table} WHERE _v > ? AND _live = 1 ORDER BY _v, id`,
        [cursor],
      );
      return rows.map((r) => r.id);
    },

    async countChangedSince(collection, cursor, limit) {
      guard();
      const c = coll(collection);
      const row = await driver.get<{ n: number | bigint }>(
        `SELECT count(*) AS n FROM (SELECT 1 FROM ${c.table} WHERE _v > ? LIMIT ?)`,
        [cursor, limit ?? -1],
      );
      return Number(row?.n ?? 0);
    },

    async findDocs(collection, filter, page: FindPage) {
      guard();
      const c = coll(collection);
      const where = whereOf(c, filter);
      const after = page.afterId === undefined ? '' : ' AND id > ?';
      const rows = await driver.all<Row>(
        `SELECT id, _v, _live, _state FROM ${c.table} WHERE _live = 1${where.sql}${after} ORDER BY id LIMIT ?`,
        [...where.params, ...(page.afterId === undefined ? [] : [page.afterId]), page.limit],
      );
      const out: StoredDoc[] = [];
      for (const row of rows) out.push(await toStored(driver, c, row));
      return out;
    },

    async countDocs(collection, filter) {
      guard();
      const c = coll(collection);
      const where = whereOf(c, filter);
      const row = await driver.get<{ n: number | bigint }>(
        `SELECT count(*) AS n FROM ${c.table} WHERE _live = 1${where.sql}`,
        where.params,
      );
      return Number(row?.n ?? 0);
    },

    async queryDocs(input: Query): Promise<MaterializedDoc[]> {
      guard();
      const query = validateQuery(input);
      const { sql, params } = findSql(coll(query.collection), query, '_doc');
      return (await driver.all<{ _doc: Uint8Array }>(sql, params)).map((r) => decodeDoc(r._doc));
    },

    async claimReplica(replica, user) {
      guard();
      return claims.claim(replica, user);
    },

    async replicaSeq(replica) {
      guard();
      return highestSeq(driver, replica);
    },

    async compact(cutoff) {
      guard();
      const horizon = await driver.transaction(async (tx) => {
        const row = await tx.get<{ v: number | bigint | null }>(
          'SELECT max(version) AS v FROM loam_server_batches WHERE at < ?',
          [cutoff],
        );
        const folded = Number(row?.v ?? 0);
        if (folded <= meta.horizon) return meta.horizon;
        await tx.run('DELETE FROM loam_server_batches WHERE version <= ?', [folded]);
        await tx.run(SAVE_META, ['horizon', folded]);
        return folded;
      });
      meta = { ...meta, horizon };
      return horizon;
    },

    async close() {
      if (closed) return;
      closed = true;
      await claims.close();
      await driver.close();
    },
  };
}
