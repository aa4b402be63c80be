/**
 * The SQL of reads: find queries, aggregates and read-only SQL over the collection views, compiled by
 * `../query/sql-compiler.ts` against a collection's columns (only live rows are ever read).
 */
import { type Query, QueryError, validateFilter, validateQuery } from '@loam/core';
import { compileFilter, compileOrderBy, quoteIdentifier } from '../query/sql-compiler';
import type { SqlExecutor, SqlRow, SqlValue, StorageDriver } from '../storage/driver';
import { type CollectionSql, rowDoc } from './doc-rows';
import type { AggregateSpec, Doc } from './engine';

/** A read query's SQL, with the `_live` guard and the collection's column mapping. */
export function selectSql(
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

/**
 * `ids` padded (with its last id, harmless in `IN (...)`) to one of a few lengths (powers of two from 8 up to 512),
 * so that reads by id list use a handful of statements the driver keeps prepared instead of one per length.
 */
export function idsForIn(ids: readonly string[]): string[] {
  let n = 8;
  while (n < ids.length) n *= 2;
  const out = ids.slice();
  const last = ids[ids.length - 1];
  if (last !== undefined) while (out.length < n) out.push(last);
  return out;
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

/**
 * The SQL of an aggregate query; throws `QueryError` when malformed. With `groups` (values of the `groupBy` columns,
 * in order, one array per group), only those groups are computed: the rows of the others are left out.
 */
export function aggregateSql(
  c: CollectionSql,
  spec: AggregateSpec,
  groups?: readonly (readonly SqlValue[])[],
): { sql: string; params: SqlValue[] } {
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
  const columns = groupBy.map(column);
  const byGroups = columns.join(', ');
  const tail = byGroups ? ` GROUP BY ${byGroups} ORDER BY ${byGroups}` : '';
  if (!groups) return selectSql(c, select.join(', '), filter, tail);
  if (groups.length === 0 || groups.some((g) => g.length !== columns.length))
    throw new QueryError('Each group restricting an aggregate needs one value per groupBy field');
  const base = selectSql(c, select.join(', '), filter);
  const one = `(${columns.map((col) => `${col} IS ?`).join(' AND ')})`;
  return {
    sql: `${base.sql} AND (${groups.map(() => one).join(' OR ')})${tail}`,
    params: [...base.params, ...groups.flat()],
  };
}

const ROLLBACK = Symbol('rollback');
const READ_RE = /^\s*(select|with|values)\b/i;

/** Runs one read statement with writes forbidden (`query_only`) and rolled back whatever happens. */
export async function readOnlySql(
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

/**
 * Adds the list and text fields of collection `c` to documents read from rows (the engine keeps them in their
 * Yjs rows, see `doc-rows.ts`).
 */
export type AttachCrdts = (c: CollectionSql, docs: Doc[]) => Promise<void>;

/** A live document by id, or undefined. */
export async function readDoc(
  sql: SqlExecutor,
  c: CollectionSql,
  id: string,
  attach: AttachCrdts,
): Promise<Doc | undefined> {
  const row = await sql.get(`SELECT id, ${c.stateColumns} FROM ${c.table} WHERE id = ? AND _live = 1`, [id]);
  if (!row) return undefined;
  const doc = rowDoc(c, row);
  await attach(c, [doc]);
  return doc;
}

/** The documents a find query returns (validated first; throws `QueryError`). */
export async function findDocs(
  sql: SqlExecutor,
  collection: (name: string) => CollectionSql,
  input: Query,
  attach: AttachCrdts,
): Promise<Doc[]> {
  const query = validateQuery(input);
  const c = collection(query.collection);
  const { sql: text, params } = findSql(c, query, `id, ${c.stateColumns}`);
  const docs = (await sql.all(text, params)).map((r) => rowDoc(c, r));
  await attach(c, docs);
  return docs;
}
