/**
 * The default {@link ServerStore}: one SQLite file through better-sqlite3, created on first start, committed with
 * `synchronous=FULL` (every batch is fsynced before `applyBatch` resolves).
 *
 * Documents use the client engine's layout (`@loam/store`'s `prepareTables`): one `loam_doc_<collection>` table
 * with `id`, `_live`, `_v` (here: the server's change counter), `_state`, `_doc` and one column per scalar leaf,
 * Yjs fields in `loam_yjs`; so subscription filters compile to SQL with the engine's own compiler. Added here:
 * ```
 * loam_server_ops       op id → content digest, batch time: the dedupe table
 * loam_server_batches   version → batch time: which versions compaction may fold away
 * loam_server_replicas  replica id → user: a replica belongs to one user
 * loam_server_seqs      replica id → highest sequence number of its accepted ops (never compacted)
 * loam_meta             replica, clock, seq (next server op), version, horizon (plus the engine's schema keys)
 * ```
 * One relay process owns the file; the driver serialises every call, so batches never interleave.
 */
import {
  applyOp,
  createDocState,
  createReplicaId,
  type DocState,
  type Filter,
  getCollection,
  isReplicaId,
  type MaterializedDoc,
  mergeDocState,
  type Op,
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
import type {
  ApplyBatchRequest,
  BatchResult,
  DocChange,
  FindPage,
  ScreenRefusal,
  ServerMeta,
  ServerStore,
  StoredDoc,
} from './server-store';
import { checkOpIds, highestSeq, recordOpIds } from './sqlite-op-ledger';

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

/** A deep copy of a document state (Yjs documents included) that shares nothing mutable with `state`. */
export function cloneDocState(state: DocState): DocState {
  const copy = createDocState();
  mergeDocState(copy, state);
  copy.epoch = state.epoch;
  copy.created = state.created;
  copy.deleted = state.deleted;
  return copy;
}

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
      let replica = m.get('replica');
      if (!isReplicaId(replica)) {
        replica = createReplicaId();
        await tx.run(SAVE_META, ['replica', replica as string]);
      }
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

  let closed = false;
  const guard = () => {
    if (closed) throw new ServerStorageError('The server store is closed');
  };

  return {
    info: { backend: 'sqlite', durability: options.filename === ':memory:' ? 'process-crash' : 'power-loss' },

    async meta() {
      guard();
      return meta;
    },

    async applyBatch(request: ApplyBatchRequest): Promise<BatchResult> {
      guard();
      const now = request.now ?? Date.now();
      const accepted: string[] = [];
      const duplicates: string[] = [];
      const refused: { op: Op; refusal: ScreenRefusal }[] = [];
      const conflicts: Op[] = [];
      const result = await driver.transaction(async (tx) => {
        const version = meta.version + 1;
        const seen = new Set<string>();
        const { digests, known, conflicts: reused } = await checkOpIds(tx, request.ops);
        conflicts.push(...reused);
        if (conflicts.length > 0) {
          for (const op of request.ops) {
            if (!known.has(op.id)) continue;
            accepted.push(op.id);
            duplicates.push(op.id);
          }
          return { version: meta.version, changes: [] as DocChange[] };
        }
        const docs = new Map<
          string,
          { c: CollectionSql; id: string; before: DocState | undefined; current: DocState; dirty: boolean }
        >();
        const fresh: Op[] = [];
        for (const op of request.ops) {
          if (seen.has(op.id) || known.has(op.id)) {
            accepted.push(op.id);
            duplicates.push(op.id);
            continue;
          }
          seen.add(op.id);
          const c = coll(op.collection);
          const key = `${op.collection}\u0000${op.doc}`;
          let entry = docs.get(key);
          if (!entry) {
            const row = await tx.get<Row>(`SELECT id, _v, _live, _state FROM ${c.table} WHERE id = ?`, [
              op.doc,
            ]);
            const before = row ? (await toStored(tx, c, row)).state : undefined;
            entry = {
              c,
              id: op.doc,
              before,
              current: before ? cloneDocState(before) : createDocState(),
              dirty: false,
            };
            docs.set(key, entry);
          }
          const trial = cloneDocState(entry.current);
          const changed = applyOp(c.def, trial, op);
          const refusal = request.screen
            ? request.screen(op, entry.current, cloneDocState(trial), changed)
            : null;
          if (refusal) {
            seen.delete(op.id);
            refused.push({ op, refusal });
            continue;
          }
          accepted.push(op.id);
          fresh.push(op);
          if (changed) {
            entry.current = trial;
            entry.dirty = true;
          }
        }
        const changes: DocChange[] = [];
        for (const e of docs.values()) {
          if (!e.dirty) continue;
          await tx.run(e.c.upsert, rowParams(e.c, e.id, e.current, version));
          if (e.c.crdtFields.length > 0) await saveYjs(tx, e.c, e.id, e.current, true);
          changes.push({ collection: e.c.name, id: e.id, before: e.before, after: e.current });
        }
        await recordOpIds(tx, fresh, digests, now);
        if (changes.length > 0) {
          await tx.run('INSERT INTO loam_server_batches (version, at) VALUES (?, ?)', [version, now]);
          await tx.run(SAVE_META, ['version', version]);
        }
        if (request.clock !== undefined) await tx.run(SAVE_META, ['clock', request.clock]);
        if (request.nextSeq !== undefined) await tx.run(SAVE_META, ['seq', request.nextSeq]);
        return { version: changes.length > 0 ? version : meta.version, changes };
      });
      meta = {
        ...meta,
        version: result.version,
        ...(request.clock !== undefined ? { clock: request.clock } : {}),
        ...(request.nextSeq !== undefined ? { nextSeq: request.nextSeq } : {}),
      };
      return { version: result.version, accepted, duplicates, refused, changes: result.changes, conflicts };
    },

    async getDoc(collection, id) {
      guard();
      const c = coll(collection);
      const row = await driver.get<Row>(`SELECT id, _v, _live, _state FROM ${c.table} WHERE id = ?`, [id]);
      return row ? toStored(driver, c, row) : undefined;
    },

    async changedSince(collection, cursor) {
      guard();
      const c = coll(collection);
      const rows = await driver.all<Row>(
        `SELECT id, _v, _live, _state FROM ${c.table} WHERE _v > ? ORDER BY _v, id`,
        [cursor],
      );
      const out: StoredDoc[] = [];
      for (const row of rows) out.push(await toStored(driver, c, row));
      return out;
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
      return driver.transaction(async (tx) => {
        const row = await tx.get<{ user: string }>(
          'SELECT user FROM loam_server_replicas WHERE replica = ?',
          [replica],
        );
        if (row) return row.user === user;
        await tx.run('INSERT INTO loam_server_replicas (replica, user) VALUES (?, ?)', [replica, user]);
        return true;
      });
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
        await tx.run('DELETE FROM loam_server_ops WHERE at < ?', [cutoff]);
        if (folded <= meta.horizon) return meta.horizon;
        for (const c of collections.values()) {
          await tx.run(`DELETE FROM ${c.table} WHERE _live = 0 AND _v <= ?`, [folded]);
        }
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
      await driver.close();
    },
  };
}
