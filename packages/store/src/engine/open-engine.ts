/**
 * The engine over a storage driver. See `engine.ts` for the contract.
 *
 * A write transaction keeps the documents it touched in memory (merge state plus Yjs docs) and writes each change
 * through to SQLite at once, inside the driver's transaction, so reads in the same transaction see it. The HLC,
 * the next op sequence number and the row version are saved with every transaction. Op sequence numbers and row
 * versions are taken inside the driver's transaction (which holds the database: one at a time) and never given
 * back: a transaction that rolls back leaves a gap, never a number another op will carry again.
 */

import {
  applyOp,
  checkOpShape,
  createClock,
  createDocState,
  createReplicaId,
  createWriter,
  type DocId,
  type DocState,
  decodeOps,
  encodeOps,
  getCollection,
  isReplicaId,
  mergeDocState,
  type Op,
  type Query,
  QueryError,
  type ReplicaId,
  type Schema,
  type Timestamp,
  validateFilter,
  validateQuery,
  type Writer,
} from '@loam/core';
import { decode, encode } from '@msgpack/msgpack';
import * as Y from 'yjs';
import { compileFilter, compileOrderBy, quoteIdentifier } from '../query/sql-compiler';
import type { SqlExecutor, SqlRow, SqlValue, StorageDriver, StorageTransaction } from '../storage/driver';
import { type CollectionSql, collectionSql, decodeDoc, loadDocState, rowParams } from './doc-rows';
import type {
  AggregateSpec,
  CommitInfo,
  Doc,
  Engine,
  EngineWrites,
  RefusedWrite,
  TransactionOptions,
} from './engine';
import { createLiveQueries } from './live-queries';
import { prepareTables } from './tables';

/** Options of `openEngine`. */
export interface EngineOptions {
  readonly driver: StorageDriver;
  readonly schema: Schema;
  /** Wall clock for the HLC (tests inject one). */
  readonly now?: () => number;
  /** Clock skew bound for remote ops, ms (default 60 000). */
  readonly maxDriftMs?: number;
}

const INSERT_OUTBOX = 'INSERT INTO loam_outbox (ops, count) VALUES (?, ?)';
const INSERT_SEEN = 'INSERT OR IGNORE INTO loam_seen (id) VALUES (?)';
const OUTBOX_CHUNK = 200;
const UPSERT_YJS = 'INSERT OR REPLACE INTO loam_yjs (collection, doc, field, state) VALUES (?, ?, ?, ?)';
const DELETE_YJS = 'DELETE FROM loam_yjs WHERE collection = ? AND doc = ? AND field = ?';
const SAVE_META =
  "INSERT OR REPLACE INTO loam_meta (key, value) VALUES ('clock', ?), ('seq', ?), ('version', ?)";
const REQUEST_TTL_MS = 7 * 24 * 3600 * 1000;

/** A read query's SQL, with the `_live` guard and the collection's column mapping. */
function selectSql(
  c: CollectionSql,
  select: string,
  filter: Query['filter'],
  tail = '',
): { sql: string; params: SqlValue[] } {
  const where = filter === undefined ? undefined : compileFilter(filter, columnOf(c));
  return {
    sql: `SELECT ${select} FROM ${c.table} WHERE _live = 1${where && where.sql !== '1' ? ` AND (${where.sql})` : ''}${tail}`,
    params: [...(where?.params ?? [])],
  };
}

/** Maps a field path to its column; throws `QueryError` for fields that have no column. */
export function columnOf(c: CollectionSql): (path: string) => string {
  const known = new Set(c.columns.map((col) => col.path));
  return (path) => {
    if (path === 'id' || known.has(path)) return quoteIdentifier(path);
    throw new QueryError(
      `Field "${path}" of ${c.name} cannot be queried (json, list and text fields have no column)`,
    );
  };
}

/** The SQL of a find query: live rows, filter, sort (ties by id), offset, limit. */
export function findSql(c: CollectionSql, query: Query, select: string): { sql: string; params: SqlValue[] } {
  let tail = ` ORDER BY ${compileOrderBy(query.sort ?? [], columnOf(c))}`;
  const extra: SqlValue[] = [];
  if (query.limit !== undefined || query.offset !== undefined) {
    tail += ' LIMIT ? OFFSET ?';
    extra.push(query.limit ?? -1, query.offset ?? 0);
  }
  const base = selectSql(c, select, query.filter, tail);
  return { sql: base.sql, params: [...base.params, ...extra] };
}

const NAME_RE = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/** The SQL of an aggregate query; throws `QueryError` when malformed. */
export function aggregateSql(c: CollectionSql, spec: AggregateSpec): { sql: string; params: SqlValue[] } {
  const column = columnOf(c);
  const groupBy = spec.groupBy ?? [];
  const select: string[] = groupBy.map((path) => `${column(path)} AS ${quoteIdentifier(path)}`);
  const entries = Object.entries(spec.aggregates ?? {});
  if (entries.length === 0 && groupBy.length === 0)
    throw new QueryError('An aggregate needs at least one aggregate or group');
  for (const [name, agg] of entries) {
    if (!NAME_RE.test(name)) throw new QueryError(`Aggregate name "${name}" must be letters, digits and _`);
    if (!['count', 'sum', 'avg', 'min', 'max'].includes(agg.fn))
      throw new QueryError(`Unknown aggregate "${agg.fn}"`);
    if (agg.fn !== 'count' && agg.field === undefined)
      throw new QueryError(`Aggregate "${name}" (${agg.fn}) needs a field`);
    const arg = agg.field === undefined ? '*' : column(agg.field);
    select.push(`${agg.fn === 'sum' ? 'total' : agg.fn}(${arg}) AS ${quoteIdentifier(name)}`);
  }
  const filter = spec.filter === undefined ? undefined : validateFilter(spec.filter);
  const groups = groupBy.map(column).join(', ');
  const tail = groups ? ` GROUP BY ${groups} ORDER BY ${groups}` : '';
  return selectSql(c, select.join(', '), filter, tail);
}

/** Opens (creating or migrating) the local database on `driver`. */
export async function openEngine(options: EngineOptions): Promise<Engine> {
  const { driver, schema } = options;
  const meta = await driver.transaction(async (tx) => {
    const m = await prepareTables(tx, schema);
    if (!isReplicaId(m.get('replica'))) {
      const replica = createReplicaId();
      await tx.run("INSERT INTO loam_meta (key, value) VALUES ('replica', ?)", [replica]);
      m.set('replica', replica);
    }
    await tx.run('DELETE FROM loam_requests WHERE at < ?', [Date.now() - REQUEST_TTL_MS]);
    return m;
  });

  const replica = meta.get('replica') as ReplicaId;
  const lastTs = meta.get('clock');
  const clock = createClock({
    replica,
    ...(options.now ? { now: options.now } : {}),
    ...(options.maxDriftMs !== undefined ? { maxDriftMs: options.maxDriftMs } : {}),
    ...(typeof lastTs === 'string' ? { last: lastTs as Timestamp } : {}),
  });
  const writer: Writer = createWriter({ schema, clock, nextSeq: Number(meta.get('seq') ?? 1) });
  let version = Number(meta.get('version') ?? 0);
  const collections = new Map<string, CollectionSql>();
  for (const [name, def] of Object.entries(schema.collections))
    collections.set(name, collectionSql(name, def));
  const coll = (name: string): CollectionSql => {
    const c = collections.get(name);
    if (!c) getCollection(schema, name);
    return c as CollectionSql;
  };

  const commitListeners = new Set<(info: CommitInfo) => void>();
  let closed = false;

  /** The in-memory side of one write transaction. */
  const createContext = (sql: StorageTransaction, txVersion: number) => {
    const states = new Map<string, DocState | undefined>();
    const ops: Op[] = [];
    const touched = new Set<string>();
    const key = (c: CollectionSql, id: string) => `${c.name}\u0000${id}`;

    const stateOf = async (c: CollectionSql, id: string): Promise<DocState | undefined> => {
      const k = key(c, id);
      if (states.has(k)) return states.get(k);
      const state = await loadDocState(sql, c, id);
      states.set(k, state);
      return state;
    };

    /** Applies local ops to the state and writes row, ops and Yjs state through to SQLite. */
    const commitLocal = async (c: CollectionSql, id: string, state: DocState | undefined, newOps: Op[]) => {
      if (newOps.length === 0) return;
      const st = state ?? createDocState();
      for (const op of newOps) applyOp(c.def, st, op);
      states.set(key(c, id), st);
      touched.add(c.name);
      ops.push(...newOps);
      await sql.run(c.upsert, rowParams(c, id, st, txVersion));
      await saveYjs(sql, c, id, st, newOps);
    };

    /** Loads a document's state, lets the writer turn one intent into ops, and commits them. */
    const edit = async (collection: string, id: string, intent: (state: DocState | undefined) => Op[]) => {
      const c = coll(collection);
      const state = await stateOf(c, id);
      await commitLocal(c, id, state, intent(state));
    };

    const writes: EngineWrites = {
      async insert(collection, doc) {
        const c = coll(collection);
        const given = doc.id;
        const state = typeof given === 'string' ? await stateOf(c, given) : undefined;
        const { id, ops: newOps } = writer.insert(collection, state, doc);
        await commitLocal(c, id, state, newOps);
        return id;
      },
      async insertMany(collection, docs) {
        const c = coll(collection);
        const rows: SqlValue[][] = [];
        const ids: DocId[] = [];
        for (const doc of docs) {
          const given = doc.id;
          const state = typeof given === 'string' ? await stateOf(c, given) : undefined;
          const { id, ops: newOps } = writer.insert(collection, state, doc);
          const st = state ?? createDocState();
          for (const op of newOps) applyOp(c.def, st, op);
          states.set(key(c, id), st);
          ops.push(...newOps);
          rows.push(rowParams(c, id, st, txVersion));
          if (c.crdtFields.length > 0) await saveYjs(sql, c, id, st, newOps);
          ids.push(id);
        }
        if (rows.length) {
          touched.add(c.name);
          await sql.batch(c.upsert, rows);
        }
        return ids;
      },
      update: (collection, id, patch) =>
        edit(collection, id, (st) => writer.update(collection, st, id as DocId, patch)),
      increment: (collection, id, field, by) =>
        edit(collection, id, (st) => writer.increment(collection, st, id as DocId, field, by)),
      delete: (collection, id) => edit(collection, id, (st) => writer.delete(collection, st, id as DocId)),
      listInsert: (collection, id, field, index, items) =>
        edit(collection, id, (st) => writer.listInsert(collection, st, id as DocId, field, index, items)),
      listDelete: (collection, id, field, index, count) =>
        edit(collection, id, (st) => writer.listDelete(collection, st, id as DocId, field, index, count)),
      textInsert: (collection, id, field, index, text) =>
        edit(collection, id, (st) => writer.textInsert(collection, st, id as DocId, field, index, text)),
      textDelete: (collection, id, field, index, count) =>
        edit(collection, id, (st) => writer.textDelete(collection, st, id as DocId, field, index, count)),
      get: (collection, id) => getDoc(sql, coll(collection), id),
      find: (query) => findDocs(sql, query),
    };
    return { writes, ops, touched, stateOf, states, key };
  };

  const getDoc = async (sql: SqlExecutor, c: CollectionSql, id: string): Promise<Doc | undefined> => {
    const row = await sql.get<{ _doc: Uint8Array }>(
      `SELECT _doc FROM ${c.table} WHERE id = ? AND _live = 1`,
      [id],
    );
    return row ? decodeDoc(row._doc) : undefined;
  };

  const findDocs = async (sql: SqlExecutor, input: Query): Promise<Doc[]> => {
    const query = validateQuery(input);
    const { sql: text, params } = findSql(coll(query.collection), query, '_doc');
    return (await sql.all<{ _doc: Uint8Array }>(text, params)).map((r) => decodeDoc(r._doc));
  };

  const notify = (info: CommitInfo) => {
    for (const listener of commitListeners) listener(info);
    live.refresh(info.collections);
  };

  const saveMeta = (sql: SqlExecutor, txVersion: number) =>
    sql.run(SAVE_META, [clock.last(), writer.nextSeq(), txVersion]);

  const transaction = async <T>(
    fn: (tx: EngineWrites) => Promise<T>,
    options?: TransactionOptions,
  ): Promise<T> => {
    if (closed) throw new QueryError('The database is closed');
    let replayed = false;
    let ctx: ReturnType<typeof createContext> | undefined;
    const result = await driver.transaction(async (sql) => {
      if (options?.requestId !== undefined) {
        const done = await sql.get<{ result: Uint8Array | null }>(
          'SELECT result FROM loam_requests WHERE id = ?',
          [options.requestId],
        );
        if (done) {
          replayed = true;
          return (done.result ? decode(done.result) : undefined) as T;
        }
      }
      const txVersion = ++version;
      ctx = createContext(sql, txVersion);
      const value = await fn(ctx.writes);
      if (options?.requestId !== undefined) {
        await sql.run('INSERT INTO loam_requests (id, result, at) VALUES (?, ?, ?)', [
          options.requestId,
          value === undefined ? null : encode(value),
          Date.now(),
        ]);
      }
      if (ctx.ops.length > 0) {
        await sql.run(INSERT_OUTBOX, [encodeOps(ctx.ops), ctx.ops.length]);
        await saveMeta(sql, txVersion);
      }
      return value;
    });
    if (!replayed && ctx && ctx.ops.length > 0)
      notify({ collections: [...ctx.touched], local: true, ops: ctx.ops });
    return result;
  };

  const live = createLiveQueries({
    driver,
    collection: (name) => coll(name),
    findSql,
    aggregateSql,
    runReadOnly: (text, params) => readOnlySql(driver, text, params),
  });

  const autocommit =
    <A extends unknown[], R>(method: (tx: EngineWrites, ...args: A) => Promise<R>) =>
    (...args: A) =>
      transaction((tx) => method(tx, ...args));

  const engine: Engine = {
    replica,
    schema,
    storage: driver.info,
    transaction,
    insert: autocommit((tx, collection: string, doc: Record<string, unknown>) => tx.insert(collection, doc)),
    insertMany: autocommit((tx, collection: string, docs: readonly Record<string, unknown>[]) =>
      tx.insertMany(collection, docs),
    ),
    update: autocommit((tx, c: string, id: string, patch: Record<string, unknown>) =>
      tx.update(c, id, patch),
    ),
    increment: autocommit((tx, c: string, id: string, field: string, by: number) =>
      tx.increment(c, id, field, by),
    ),
    delete: autocommit((tx, c: string, id: string) => tx.delete(c, id)),
    listInsert: autocommit(
      (tx, c: string, id: string, f: string, i: number, items: Parameters<EngineWrites['listInsert']>[4]) =>
        tx.listInsert(c, id, f, i, items),
    ),
    listDelete: autocommit((tx, c: string, id: string, f: string, i: number, n: number) =>
      tx.listDelete(c, id, f, i, n),
    ),
    textInsert: autocommit((tx, c: string, id: string, f: string, i: number, t: string) =>
      tx.textInsert(c, id, f, i, t),
    ),
    textDelete: autocommit((tx, c: string, id: string, f: string, i: number, n: number) =>
      tx.textDelete(c, id, f, i, n),
    ),
    get: (collection, id) => getDoc(driver, coll(collection), id),
    find: (query) => findDocs(driver, query),
    async aggregate(spec) {
      const { sql, params } = aggregateSql(coll(spec.collection), spec);
      return driver.all(sql, params);
    },
    sql: (text, params) => readOnlySql(driver, text, params),
    watch: (spec, listener) => live.watch(spec, listener),

    async applyRemote(input) {
      if (input.length === 0) return 0;
      for (const op of input) checkOpShape(getCollection(schema, op.collection), op);
      let latest: Timestamp | undefined;
      for (const op of input) if (!latest || op.ts > latest) latest = op.ts;
      if (latest) clock.receive(latest);
      const applied: Op[] = [];
      const touched = new Set<string>();
      await driver.transaction(async (sql) => {
        const txVersion = ++version;
        const ctx = createContext(sql, txVersion);
        const dirty = new Map<string, { c: CollectionSql; id: string; state: DocState; ops: Op[] }>();
        for (const op of input) {
          const inserted = await sql.run(INSERT_SEEN, [op.id]);
          if (inserted.changes === 0) continue;
          const c = coll(op.collection);
          const state = (await ctx.stateOf(c, op.doc)) ?? createDocState();
          ctx.states.set(ctx.key(c, op.doc), state);
          if (!applyOp(c.def, state, op)) continue;
          applied.push(op);
          const k = ctx.key(c, op.doc);
          const entry = dirty.get(k) ?? { c, id: op.doc, state, ops: [] };
          entry.ops.push(op);
          dirty.set(k, entry);
        }
        for (const { c, id, state, ops } of dirty.values()) {
          await sql.run(c.upsert, rowParams(c, id, state, txVersion));
          await saveYjs(sql, c, id, state, ops);
          touched.add(c.name);
        }
        await saveMeta(sql, txVersion);
      });
      if (applied.length > 0) notify({ collections: [...touched], local: false, ops: applied });
      return applied.length;
    },

    async pendingOps(limit) {
      return (await outboxOps(driver, limit)).slice(0, limit);
    },
    async pendingCount() {
      const row = await driver.get<{ n: number }>('SELECT total(count) AS n FROM loam_outbox');
      return row?.n ?? 0;
    },
    async acknowledge(opIds) {
      if (opIds.length) await driver.transaction((sql) => dropFromOutbox(sql, opIds));
    },
    getState: (collection, id) => loadDocState(driver, coll(collection), id),

    async applyDownload(download) {
      let changed = 0;
      const touched = new Set<string>();
      await driver.transaction(async (sql) => {
        const txVersion = ++version;
        for (const { collection, id, state: incoming, mode } of download.docs) {
          const c = coll(collection);
          let state: DocState;
          let ops: Op[] = [];
          if (mode === 'replace') {
            state = incoming;
            ops = (await outboxOps(sql)).filter((op) => op.collection === collection && op.doc === id);
            for (const op of ops) applyOp(c.def, state, op);
          } else {
            state = (await loadDocState(sql, c, id)) ?? createDocState();
            if (!mergeDocState(state, incoming)) continue;
          }
          await sql.run(c.upsert, rowParams(c, id, state, txVersion));
          await saveAllYjs(sql, c, id, state);
          touched.add(collection);
          changed++;
        }
        for (const { collection, id } of download.removed) {
          const c = coll(collection);
          const removed = await sql.run(`DELETE FROM ${c.table} WHERE id = ?`, [id]);
          await sql.run('DELETE FROM loam_yjs WHERE collection = ? AND doc = ?', [collection, id]);
          if (removed.changes > 0) {
            touched.add(collection);
            changed++;
          }
        }
        if (download.cursor !== undefined) {
          await sql.run('INSERT OR REPLACE INTO loam_sync (key, value) VALUES (?, ?)', [
            'cursor',
            encode(download.cursor),
          ]);
        }
        if (touched.size > 0) await saveMeta(sql, txVersion);
      });
      if (touched.size > 0) notify({ collections: [...touched], local: false, ops: [] });
      return changed;
    },

    async recordRefusals(refusals) {
      if (refusals.length === 0) return;
      const at = Date.now();
      await driver.transaction(async (sql) => {
        await dropFromOutbox(
          sql,
          refusals.map((r) => r.op),
        );
        for (const r of refusals) {
          await sql.run(
            'INSERT OR REPLACE INTO loam_refused (op, collection, doc, code, reason, at) VALUES (?, ?, ?, ?, ?, ?)',
            [r.op, r.collection, r.doc, r.code, r.reason, at],
          );
        }
      });
      notify({ collections: [], local: false, ops: [] });
    },

    async refusedWrites() {
      return driver.all<RefusedWrite & SqlRow>(
        'SELECT op, collection, doc, code, reason, at FROM loam_refused ORDER BY at DESC, op',
      );
    },

    async getMeta(key) {
      const row = await driver.get<{ value: Uint8Array }>('SELECT value FROM loam_sync WHERE key = ?', [key]);
      return row ? decode(row.value) : undefined;
    },

    async setMeta(key, value) {
      await driver.run('INSERT OR REPLACE INTO loam_sync (key, value) VALUES (?, ?)', [key, encode(value)]);
    },

    onCommit(listener) {
      commitListeners.add(listener);
      return () => commitListeners.delete(listener);
    },
    async close() {
      if (closed) return;
      closed = true;
      live.close();
      commitListeners.clear();
      await driver.close();
    },
  };
  return engine;
}

/** Unacknowledged local ops, oldest first: every one, or at least `limit` when given (whole transactions). */
async function outboxOps(sql: SqlExecutor, limit = Number.POSITIVE_INFINITY): Promise<Op[]> {
  const out: Op[] = [];
  let after = 0;
  while (out.length < limit) {
    const rows = await sql.all<{ seq: number; ops: Uint8Array }>(
      'SELECT seq, ops FROM loam_outbox WHERE seq > ? ORDER BY seq LIMIT ?',
      [after, OUTBOX_CHUNK],
    );
    for (const row of rows)
      out.push(...decodeOps(row.ops, { maxOps: Number.MAX_SAFE_INTEGER, maxBytes: row.ops.length }));
    if (rows.length < OUTBOX_CHUNK) break;
    after = (rows[rows.length - 1] as { seq: number }).seq;
  }
  return out;
}

/** Removes ops from the outbox (acknowledged or refused), rewriting the transactions they were part of. */
async function dropFromOutbox(sql: SqlExecutor, opIds: readonly string[]): Promise<void> {
  const wanted = new Set(opIds);
  let after = 0;
  while (wanted.size > 0) {
    const rows = await sql.all<{ seq: number; ops: Uint8Array }>(
      'SELECT seq, ops FROM loam_outbox WHERE seq > ? ORDER BY seq LIMIT ?',
      [after, OUTBOX_CHUNK],
    );
    for (const row of rows) {
      const ops = decodeOps(row.ops, { maxOps: Number.MAX_SAFE_INTEGER, maxBytes: row.ops.length });
      const kept = ops.filter((op) => !wanted.has(op.id));
      if (kept.length === ops.length) continue;
      for (const op of ops) wanted.delete(op.id);
      if (kept.length === 0) await sql.run('DELETE FROM loam_outbox WHERE seq = ?', [row.seq]);
      else
        await sql.run('UPDATE loam_outbox SET ops = ?, count = ? WHERE seq = ?', [
          encodeOps(kept),
          kept.length,
          row.seq,
        ]);
    }
    if (rows.length < OUTBOX_CHUNK) break;
    after = (rows[rows.length - 1] as { seq: number }).seq;
  }
}

/** Saves the Yjs state of every list and text field of a document, dropping the rows of absent ones. */
async function saveAllYjs(sql: SqlExecutor, c: CollectionSql, id: string, state: DocState): Promise<void> {
  for (const field of c.crdtFields) {
    const doc = state.crdts[field];
    if (doc) await sql.run(UPSERT_YJS, [c.name, id, field, Y.encodeStateAsUpdate(doc)]);
    else await sql.run(DELETE_YJS, [c.name, id, field]);
  }
}

/** Saves the Yjs state of the list and text fields `ops` touched (or dropped, after a delete or a new epoch). */
async function saveYjs(
  sql: SqlExecutor,
  c: CollectionSql,
  id: string,
  state: DocState,
  ops: readonly Op[],
): Promise<void> {
  if (c.crdtFields.length === 0) return;
  const reset = ops.some((op) => op.kind === 'delete' || op.kind === 'create');
  const fields = new Set(ops.flatMap((op) => (op.kind === 'yjs' ? [op.field] : [])));
  for (const field of c.crdtFields) {
    const doc = state.crdts[field];
    if (doc && (fields.has(field) || reset))
      await sql.run(UPSERT_YJS, [c.name, id, field, Y.encodeStateAsUpdate(doc)]);
    else if (!doc && reset) await sql.run(DELETE_YJS, [c.name, id, field]);
  }
}

const ROLLBACK = Symbol('rollback');
const READ_RE = /^\s*(select|with|values)\b/i;

/** Runs one read statement with writes forbidden (`query_only`) and rolled back whatever happens. */
async function readOnlySql(
  driver: StorageDriver,
  text: string,
  params: readonly SqlValue[] = [],
): Promise<SqlRow[]> {
  if (!READ_RE.test(text))
    throw new QueryError('Only read statements (SELECT, WITH, VALUES) can run as SQL queries');
  let rows: SqlRow[] = [];
  try {
    await driver.transaction(async (tx) => {
      await tx.exec('PRAGMA query_only = 1');
      try {
        rows = await tx.all(text, params);
      } finally {
        await tx.exec('PRAGMA query_only = 0');
      }
      throw ROLLBACK;
    });
  } catch (outcome) {
    if (outcome !== ROLLBACK) throw outcome;
  }
  return rows;
}
