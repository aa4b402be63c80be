/**
 * Live queries: re-evaluated after each commit that touched their collection, listener called only on change.
 *
 * Each query remembers the ids and row versions (`_v`) of its last result. Re-evaluation first reads just
 * `id, _v`; when nothing differs no event is sent; otherwise only the documents that are new or whose version
 * changed are read and sent, with the new order of ids. Both reads happen in one storage transaction, so they see
 * the same snapshot. Evaluations are serialised and coalesced: commits made while a round runs schedule one more.
 */

import { type DocId, type Query, validateQuery } from '@loam/core';
import { encode } from '@msgpack/msgpack';
import type { SqlExecutor, SqlRow, SqlValue, StorageDriver } from '../storage/driver';
import { type CollectionSql, rowDoc } from './doc-rows';
import type { AggregateSpec, Doc, LiveQueryEvent, LiveQuerySpec } from './engine';
import { idsForIn } from './queries';

/** What the live-query registry needs from the engine. */
export interface LiveQueryDeps {
  readonly driver: StorageDriver;
  collection(name: string): CollectionSql;
  findSql(c: CollectionSql, query: Query, select: string): { sql: string; params: SqlValue[] };
  aggregateSql(c: CollectionSql, spec: AggregateSpec): { sql: string; params: SqlValue[] };
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
  /** Last result: ids with versions (find), or encoded rows. */
  last: { ids: string[]; versions: number[] } | { rows: Uint8Array } | undefined;
}

/** The live queries of one engine. */
export interface LiveQueries {
  watch(spec: LiveQuerySpec, listener: (event: LiveQueryEvent) => void): () => void;
  /** Marks the queries over `collections` (and every SQL query) for re-evaluation. */
  refresh(collections: readonly string[]): void;
  close(): void;
}

const CHUNK = 512;

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Creates the registry. */
export function createLiveQueries(deps: LiveQueryDeps): LiveQueries {
  const entries = new Set<Entry>();
  let scheduled = false;
  let running = false;
  let closed = false;

  const evaluateFind = async (
    sql: SqlExecutor,
    entry: Entry,
    input: Query,
  ): Promise<LiveQueryEvent | undefined> => {
    const query = validateQuery(input);
    const c = deps.collection(query.collection);
    const last = entry.last && 'ids' in entry.last ? entry.last : undefined;
    if (!last) {
      const { sql: text, params } = deps.findSql(c, query, `id, _v, ${c.stateColumns}`);
      const rows = await sql.all<{ id: string; _v: number }>(text, params);
      entry.last = { ids: rows.map((r) => r.id), versions: rows.map((r) => r._v) };
      const docs = rows.map((r) => rowDoc(c, r));
      await deps.attach(sql, c, docs);
      return { kind: 'docs', reset: true, docs };
    }
    const { sql: text, params } = deps.findSql(c, query, 'id, _v');
    const rows = await sql.all<{ id: string; _v: number }>(text, params);
    const previous = new Map(last.ids.map((id, i) => [id, last.versions[i]]));
    const changed = rows.filter((r) => previous.get(r.id) !== r._v).map((r) => r.id);
    if (
      changed.length === 0 &&
      rows.length === last.ids.length &&
      rows.every((r, i) => r.id === last.ids[i])
    ) {
      return undefined;
    }
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
    entry.last = { ids: rows.map((r) => r.id), versions: rows.map((r) => r._v) };
    return { kind: 'docs', reset: false, order: rows.map((r) => r.id as DocId), upserts };
  };

  const evaluateRows = async (entry: Entry, rows: SqlRow[]): Promise<LiveQueryEvent | undefined> => {
    const bytes = encode(rows);
    if (entry.last && 'rows' in entry.last && sameBytes(entry.last.rows, bytes)) return undefined;
    entry.last = { rows: bytes };
    return { kind: 'rows', rows };
  };

  const evaluate = async (entry: Entry): Promise<LiveQueryEvent | undefined> => {
    const { spec } = entry;
    switch (spec.kind) {
      case 'find': {
        let event: LiveQueryEvent | undefined;
        await deps.driver.transaction(async (sql) => {
          event = await evaluateFind(sql, entry, spec.query);
        });
        return event;
      }
      case 'aggregate': {
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
          let event: LiveQueryEvent | undefined;
          try {
            event = await evaluate(entry);
          } catch (error) {
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
      const entry: Entry = { spec, listener, collection, active: true, dirty: true, last: undefined };
      entries.add(entry);
      schedule();
      return () => {
        entry.active = false;
        entries.delete(entry);
      };
    },
    refresh(collections) {
      for (const entry of entries) {
        if (entry.collection === undefined || collections.includes(entry.collection)) entry.dirty = true;
      }
      schedule();
    },
    close() {
      closed = true;
      entries.clear();
    },
  };
}
