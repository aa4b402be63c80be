/**
 * Live queries: re-evaluated after each commit that touched their collection, listener called only on change.
 *
 * Each query remembers the ids, row versions (`_v`) and sort keys of its last result. Re-evaluation first reads
 * just `id, _v` (and the sort keys); when nothing differs no event is sent; otherwise only the documents that are
 * new or whose version changed are read and sent, with the new order of ids. Both reads happen in one storage
 * transaction, so they see the same snapshot. Evaluations are serialised and coalesced: commits made while a round
 * runs schedule one more.
 *
 * When the commits since the last evaluation name the documents they changed (local writes do), a find query
 * first looks at those documents alone: a changed document that neither was nor is in the result changes nothing;
 * one that was and still is there with the same sort keys keeps its place and is sent as an upsert, with no
 * `order` (unchanged). Anything else (a document entering, leaving or moving, an OFFSET, too many
 * changed documents, commits that did not say what they changed) re-reads the whole result as above. A write in a
 * collection of 100k documents thus costs a live query of 1,000 rows one indexed lookup, not a 1,000-row read.
 *
 * A grouped aggregate (`groupBy`) has temporary triggers on its collection's table record the group keys of every
 * row inserted, updated (before and after) or deleted, whatever wrote it (local writes, downloads, peers, resets).
 * Its re-evaluation reads and clears those keys in the same transaction and recomputes only those groups, in SQL, so
 * the figures are exactly what a whole re-run gives; when a group appears or disappears, or more than
 * `MAX_GROUPS` changed, it re-runs whole. A commit that changed no row of it costs one read of an empty table. The
 * triggers and their table are dropped when the query is stopped (and vanish with the connection).
 */

import { type DocId, type Query, validateQuery } from '@loam/core';
import { encode } from '@msgpack/msgpack';
import type { SqlExecutor, SqlRow, SqlValue, StorageDriver } from '../storage/driver';
import { type CollectionSql, rowDoc } from './doc-rows';
import type { AggregateSpec, Doc, LiveQueryEvent, LiveQuerySpec } from './engine';
import { columnOf, idsForIn, selectSql } from './queries';

/** What the live-query registry needs from the engine. */
export interface LiveQueryDeps {
  readonly driver: StorageDriver;
  collection(name: string): CollectionSql;
  findSql(c: CollectionSql, query: Query, select: string): { sql: string; params: SqlValue[] };
  aggregateSql(
    c: CollectionSql,
    spec: AggregateSpec,
    groups?: readonly (readonly SqlValue[])[],
  ): { sql: string; params: SqlValue[] };
  runReadOnly(sql: string, params?: readonly SqlValue[]): Promise<SqlRow[]>;
  /** Adds list and text fields to documents read from rows (inside the evaluation's transaction). */
  attach(sql: SqlExecutor, c: CollectionSql, docs: Doc[]): Promise<void>;
}

interface Entry {
  readonly spec: LiveQuerySpec;
  readonly listener: (event: LiveQueryEvent) => void;
  /** The collection it reads, or undefined for raw SQL (re-run after every commit). */
  readonly collection: string | undefined;
  active: boolean;
  dirty: boolean;
  /** Documents of its collection changed since its last evaluation, or `all` when unknown. */
  changed: Set<string> | 'all';
  /** Last result: ids with versions and sort keys (find), or rows and their encoding. */
  last: FindResult | RowsResult | undefined;
  /** A grouped aggregate's temporary table of changed group keys, once its triggers exist. */
  groups?: string;
}

/** An aggregate's or SQL query's last rows, and their encoding (to tell whether a re-run changed anything). */
interface RowsResult {
  readonly rows: Uint8Array;
  readonly decoded: SqlRow[];
}

/** A find query's last result: ids in order, their row versions and sort keys, and each id's position. */
interface FindResult {
  readonly ids: string[];
  readonly versions: number[];
  readonly keys: SqlValue[][];
  readonly at: Map<string, number>;
}

/** The live queries of one engine. */
export interface LiveQueries {
  watch(spec: LiveQuerySpec, listener: (event: LiveQueryEvent) => void): () => void;
  /**
   * Marks the queries over `collections` (and every SQL query) for re-evaluation. `docs`, when given, gives every
   * document the commit changed (by collection), called at most once and only when a query looks at them; without
   * it any document may have changed.
   */
  refresh(collections: readonly string[], docs?: () => ReadonlyMap<string, ReadonlySet<string>>): void;
  close(): void;
}

const CHUNK = 512;
/** Changed documents above which a find query is re-read whole rather than looked at one by one. */
const MAX_CHANGED = 64;
/** Changed groups above which a grouped aggregate is re-run whole rather than group by group. */
const MAX_GROUPS = 64;

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function sameValue(a: SqlValue | undefined, b: SqlValue | undefined): boolean {
  if (a instanceof Uint8Array && b instanceof Uint8Array) return sameBytes(a, b);
  return a === b;
}

/** The sort key columns of `query` on `c`, aliased `_k0`, `_k1`... (the id, last key, is the row's id). */
function sortSelect(c: CollectionSql, query: Query): string {
  const column = columnOf(c);
  return (query.sort ?? []).map((key, i) => `, ${column(key.field)} AS _k${i}`).join('');
}

function keysOf(row: SqlRow, count: number): SqlValue[] {
  const keys: SqlValue[] = [];
  for (let i = 0; i < count; i++) keys.push(row[`_k${i}`] as SqlValue);
  return keys;
}

function findResult(rows: readonly SqlRow[], keyCount: number): FindResult {
  const ids = rows.map((r) => r.id as string);
  return {
    ids,
    versions: rows.map((r) => r._v as number),
    keys: rows.map((r) => keysOf(r, keyCount)),
    at: new Map(ids.map((id, i) => [id, i])),
  };
}

/** Creates the registry. */
export function createLiveQueries(deps: LiveQueryDeps): LiveQueries {
  const entries = new Set<Entry>();
  let groupWatches = 0;
  let scheduled = false;
  let running = false;
  let closed = false;

  const readDocs = async (sql: SqlExecutor, c: CollectionSql, changed: readonly string[]): Promise<Doc[]> => {
    const upserts: Doc[] = [];
    for (let i = 0; i < changed.length; i += CHUNK) {
      const ids = idsForIn(changed.slice(i, i + CHUNK));
      const docs = await sql.all(
        `SELECT id, ${c.stateColumns} FROM ${c.table} WHERE id IN (${ids.map(() => '?').join(', ')})`,
        ids,
      );
      const decoded = docs.map((d) => rowDoc(c, d));
      await deps.attach(sql, c, decoded);
      upserts.push(...decoded);
    }
    return upserts;
  };

  /**
   * The event for `changed` documents when none of them entered, left or moved in the result; `'whole'` when the
   * result must be re-read whole (see the module documentation).
   */
  const evaluateChanged = async (
    sql: SqlExecutor,
    c: CollectionSql,
    query: Query,
    last: FindResult,
    changed: ReadonlySet<string>,
  ): Promise<LiveQueryEvent | undefined | 'whole'> => {
    // Without an offset nothing lies before a LIMIT window: a document outside it that does not match now
    // cannot move it, and one that stays in place leaves it as it was.
    if (query.offset !== undefined && query.offset !== 0) return 'whole';
    const ids = [...changed];
    const keyCount = query.sort?.length ?? 0;
    const base = selectSql(c, `id, _v${sortSelect(c, query)}`, query.filter);
    const rows = await sql.all(`${base.sql} AND id IN (${ids.map(() => '?').join(', ')})`, [
      ...base.params,
      ...ids,
    ]);
    const matching = new Map(rows.map((r) => [r.id as string, r]));
    const updated: string[] = [];
    for (const id of ids) {
      const was = last.at.get(id);
      const row = matching.get(id);
      if (was === undefined && !row) continue;
      if (was === undefined || !row) return 'whole';
      const keys = keysOf(row, keyCount);
      if (!keys.every((k, i) => sameValue(k, last.keys[was]?.[i]))) return 'whole';
      if (last.versions[was] !== row._v) updated.push(id);
    }
    if (updated.length === 0) return undefined;
    const upserts = await readDocs(sql, c, updated);
    for (const id of updated) last.versions[last.at.get(id) as number] = matching.get(id)?._v as number;
    return { kind: 'docs', reset: false, upserts };
  };

  const evaluateFind = async (
    sql: SqlExecutor,
    entry: Entry,
    input: Query,
    changed: Set<string> | 'all',
  ): Promise<LiveQueryEvent | undefined> => {
    const query = validateQuery(input);
    const c = deps.collection(query.collection);
    const keyCount = query.sort?.length ?? 0;
    const last = entry.last && 'ids' in entry.last ? entry.last : undefined;
    if (!last) {
      const { sql: text, params } = deps.findSql(
        c,
        query,
        `id, _v, ${c.stateColumns}${sortSelect(c, query)}`,
      );
      const rows = await sql.all(text, params);
      entry.last = findResult(rows, keyCount);
      const docs = rows.map((r) => rowDoc(c, r));
      await deps.attach(sql, c, docs);
      return { kind: 'docs', reset: true, docs };
    }
    if (changed !== 'all') {
      const event = await evaluateChanged(sql, c, query, last, changed);
      if (event !== 'whole') return event;
    }
    const { sql: text, params } = deps.findSql(c, query, `id, _v${sortSelect(c, query)}`);
    const rows = await sql.all(text, params);
    const modified = rows
      .filter((r) => {
        const at = last.at.get(r.id as string);
        return at === undefined || last.versions[at] !== r._v;
      })
      .map((r) => r.id as string);
    const sameOrder = rows.length === last.ids.length && rows.every((r, i) => r.id === last.ids[i]);
    entry.last = findResult(rows, keyCount);
    if (modified.length === 0 && sameOrder) return undefined;
    const upserts = await readDocs(sql, c, modified);
    return sameOrder
      ? { kind: 'docs', reset: false, upserts }
      : { kind: 'docs', reset: false, order: rows.map((r) => r.id as DocId), upserts };
  };

  const evaluateRows = async (entry: Entry, rows: SqlRow[]): Promise<LiveQueryEvent | undefined> => {
    const bytes = encode(rows);
    if (entry.last && 'rows' in entry.last && sameBytes(entry.last.rows, bytes)) return undefined;
    entry.last = { rows: bytes, decoded: rows };
    return { kind: 'rows', rows };
  };

  /** Creates the temporary table of changed group keys of `entry` and the triggers that fill it. */
  const watchGroups = async (
    sql: SqlExecutor,
    entry: Entry,
    c: CollectionSql,
    columns: readonly string[],
  ) => {
    const name = `loam_live_groups_${++groupWatches}`;
    const keys = columns.map((_, i) => `k${i}`).join(', ');
    // Keys compared with IS, so that a NULL key is recorded once, as a PRIMARY KEY would not. (A trigger's
    // statements may not name a schema: the table is found by its name, unique to this connection.)
    const record = (row: 'OLD' | 'NEW') =>
      `INSERT INTO ${name} SELECT ${columns.map((col) => `${row}.${col}`).join(', ')} WHERE NOT EXISTS (SELECT 1 FROM ${name} WHERE ${columns.map((col, i) => `k${i} IS ${row}.${col}`).join(' AND ')});`;
    await sql.exec(
      `CREATE TEMP TABLE ${name} (${keys});
       CREATE INDEX temp.${name}_keys ON ${name} (${keys});
       CREATE TEMP TRIGGER ${name}_i AFTER INSERT ON main.${c.table} BEGIN ${record('NEW')} END;
       CREATE TEMP TRIGGER ${name}_u AFTER UPDATE ON main.${c.table} BEGIN ${record('OLD')} ${record('NEW')} END;
       CREATE TEMP TRIGGER ${name}_d AFTER DELETE ON main.${c.table} BEGIN ${record('OLD')} END;`,
    );
    entry.groups = name;
  };

  /** A grouped aggregate's event: its changed groups recomputed, or the whole re-run (module documentation). */
  const evaluateGrouped = async (
    sql: SqlExecutor,
    entry: Entry,
    spec: AggregateSpec,
  ): Promise<LiveQueryEvent | undefined> => {
    const c = deps.collection(spec.collection);
    const paths = spec.groupBy ?? [];
    const whole = async () => {
      const { sql: text, params } = deps.aggregateSql(c, spec);
      return evaluateRows(entry, await sql.all(text, params));
    };
    if (entry.groups === undefined) {
      await watchGroups(sql, entry, c, paths.map(columnOf(c)));
      return whole();
    }
    const changed = await sql.all(`SELECT * FROM temp.${entry.groups}`);
    if (changed.length === 0 && entry.last) return undefined;
    await sql.run(`DELETE FROM temp.${entry.groups}`);
    const last = entry.last && 'decoded' in entry.last ? entry.last.decoded : undefined;
    if (!last || changed.length > MAX_GROUPS) return whole();
    const groups = changed.map((row) => paths.map((_, i) => row[`k${i}`] as SqlValue));
    const { sql: text, params } = deps.aggregateSql(c, spec, groups);
    const fresh = await sql.all(text, params);
    const sameGroup = (row: SqlRow, group: readonly SqlValue[]) =>
      paths.every((path, i) => sameValue(row[path], group[i]));
    const rows = last.slice();
    for (const group of groups) {
      const at = rows.findIndex((row) => sameGroup(row, group));
      const now = fresh.find((row) => sameGroup(row, group));
      if (at === -1 && !now) continue;
      if (at === -1 || !now) return whole();
      rows[at] = now;
    }
    return evaluateRows(entry, rows);
  };

  const evaluate = async (
    entry: Entry,
    changed: Set<string> | 'all',
  ): Promise<LiveQueryEvent | undefined> => {
    const { spec } = entry;
    switch (spec.kind) {
      case 'find': {
        let event: LiveQueryEvent | undefined;
        await deps.driver.transaction(async (sql) => {
          event = await evaluateFind(sql, entry, spec.query, changed);
        });
        return event;
      }
      case 'aggregate': {
        if (spec.spec.groupBy?.length) {
          let event: LiveQueryEvent | undefined;
          await deps.driver.transaction(async (sql) => {
            event = await evaluateGrouped(sql, entry, spec.spec);
          });
          return event;
        }
        const { sql, params } = deps.aggregateSql(deps.collection(spec.spec.collection), spec.spec);
        return evaluateRows(entry, await deps.driver.all(sql, params));
      }
      case 'sql':
        return evaluateRows(entry, await deps.runReadOnly(spec.sql, spec.params ?? []));
    }
  };

  const run = async () => {
    running = true;
    try {
      while (!closed) {
        const due = [...entries].filter((e) => e.dirty && e.active);
        if (due.length === 0) break;
        for (const entry of due) {
          entry.dirty = false;
          const { changed } = entry;
          entry.changed = new Set();
          let event: LiveQueryEvent | undefined;
          try {
            event = await evaluate(entry, changed);
          } catch (error) {
            entry.last = undefined;
            const e = error as { code?: unknown; message?: unknown };
            event = {
              kind: 'error',
              code: typeof e.code === 'string' ? e.code : 'live_query_failed',
              message: String(e.message ?? error),
            };
          }
          if (event && entry.active && !closed) entry.listener(event);
        }
      }
    } finally {
      running = false;
    }
  };

  const schedule = () => {
    if (scheduled || closed) return;
    scheduled = true;
    queueMicrotask(() => {
      scheduled = false;
      if (running) {
        scheduled = true;
        setTimeout(() => {
          scheduled = false;
          schedule();
        }, 0);
        return;
      }
      void run();
    });
  };

  return {
    watch(spec, listener) {
      const collection =
        spec.kind === 'find'
          ? spec.query?.collection
          : spec.kind === 'aggregate'
            ? spec.spec.collection
            : undefined;
      const entry: Entry = {
        spec,
        listener,
        collection,
        active: true,
        dirty: true,
        changed: 'all',
        last: undefined,
      };
      entries.add(entry);
      schedule();
      return () => {
        entry.active = false;
        entries.delete(entry);
        const name = entry.groups;
        if (name === undefined || closed) return;
        deps.driver
          .exec(
            `DROP TRIGGER IF EXISTS temp.${name}_i; DROP TRIGGER IF EXISTS temp.${name}_u;
             DROP TRIGGER IF EXISTS temp.${name}_d; DROP TABLE IF EXISTS temp.${name}`,
          )
          .catch(() => {});
      };
    },
    refresh(collections, docsOf) {
      let docs: ReadonlyMap<string, ReadonlySet<string>> | undefined;
      for (const entry of entries) {
        if (entry.collection !== undefined && !collections.includes(entry.collection)) continue;
        entry.dirty = true;
        if (entry.changed === 'all') continue;
        if (entry.collection !== undefined && docsOf && !docs) docs = docsOf();
        const ids = entry.collection === undefined ? undefined : docs?.get(entry.collection);
        if (!ids || entry.changed.size + ids.size > MAX_CHANGED) entry.changed = 'all';
        else for (const id of ids) entry.changed.add(id);
      }
      schedule();
    },
    close() {
      closed = true;
      entries.clear();
    },
  };
}
