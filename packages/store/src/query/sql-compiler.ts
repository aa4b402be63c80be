/**
 * Compiles the query AST of `@loam/core` to SQLite SQL with positional parameters, agreeing exactly with the
 * JavaScript evaluator (`evaluateFilter`/`runQuery`), which `sql-compiler.test.ts` checks against real SQLite.
 *
 * Table layout it assumes (one table per collection):
 * - `id TEXT PRIMARY KEY`, never NULL;
 * - one column per queryable scalar field path, declared WITHOUT a type, so that it has no affinity and SQLite
 *   compares its values with the type order NULL < numbers < TEXT and never converts between them;
 * - values stored as {@link toSqlValue} converts them: booleans 0/1, dates integer epoch ms, missing as NULL;
 * - the database encoding is UTF-8 (SQLite's default), so the BINARY collation is code-point order.
 *
 * How agreement is kept (see INTERNALS.md):
 * 1. `not` is pushed down to the leaves at compile time (De Morgan), and every leaf has a positive and a
 *    negated form, each of which is TRUE exactly when the JavaScript semantics say true. A leaf may yield NULL
 *    where the answer is false: under AND/OR without NOT that never turns a false into a true, and the WHERE
 *    clause only keeps TRUE rows, so three-valued logic never leaks.
 * 2. `id` has TEXT affinity, which would turn a numeric operand into text: comparisons of `id` with numbers are
 *    decided at compile time from the type order instead (ids are strings).
 * 3. Leaves stay index-friendly: `col = ?`, `col IN (...)`, range comparisons, and `prefix` as a range
 *    `col >= ? AND col < ?` whose upper bound is the prefix with its last code point incremented.
 */
import { type Filter, type Query, QueryError, type Scalar, type SortKey } from '@loam/core';

/** A value bound to a `?` parameter. */
export type QueryParam = null | number | string;

/** A piece of SQL and the values of its `?` parameters, in order. */
export interface SqlFragment {
  readonly sql: string;
  readonly params: QueryParam[];
}

/** Maps a field path (`price`, `address.city`, `id`) to the quoted identifier of its column. May throw `QueryError` for fields that have no column. */
export type ColumnOf = (path: string) => string;

/** Where a query runs: the collection's table (unquoted name) and its column mapping. */
export interface SqlTarget {
  readonly table: string;
  readonly column: ColumnOf;
  /** The SELECT list, raw SQL; `*` when absent. */
  readonly select?: string;
}

/** Quotes an SQL identifier (`"a""b"`). */
export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * Converts a document value or operand to the value SQLite stores: booleans 0/1, `Date` epoch ms (null when
 * invalid), `undefined` and `NaN` null; numbers and strings unchanged. Throws `QueryError` for anything else
 * (arrays, objects): those have no column.
 */
export function toSqlValue(value: unknown): QueryParam {
  if (value === null || value === undefined) return null;
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (typeof value === 'number') return Number.isNaN(value) ? null : value;
  if (typeof value === 'string') return value;
  if (value instanceof Date) {
    const ms = value.getTime();
    return Number.isNaN(ms) ? null : ms;
  }
  throw new QueryError(`Cannot store ${Array.isArray(value) ? 'an array' : typeof value} in a query column`);
}

/**
 * The least string greater than every string starting with `prefix`, in code-point order: the prefix without
 * its trailing U+10FFFF characters, last code point incremented (skipping surrogates). `null` when none exists.
 */
export function prefixUpperBound(prefix: string): string | null {
  const points = Array.from(prefix, (ch) => ch.codePointAt(0) ?? 0);
  while (points.length > 0 && points[points.length - 1] === 0x10ffff) points.pop();
  const last = points.pop();
  if (last === undefined) return null;
  points.push(last + 1 === 0xd800 ? 0xe000 : last + 1);
  return String.fromCodePoint(...points);
}

const FLIPPED = { lt: 'gte', lte: 'gt', gt: 'lte', gte: 'lt' } as const;
const SQL_OP = { lt: '<', lte: '<=', gt: '>', gte: '>=' } as const;

class Compiler {
  readonly params: QueryParam[] = [];
  constructor(private readonly column: ColumnOf) {}

  private bind(value: QueryParam): string {
    this.params.push(value);
    return '?';
  }

  /** Compiles `filter`, or its negation when `negated`, to an expression that is TRUE exactly when it holds. */
  compile(filter: Filter, negated: boolean): string {
    switch (filter.op) {
      case 'true':
      case 'false':
        return (filter.op === 'true') !== negated ? '1' : '0';
      case 'not':
        return this.compile(filter.filter, !negated);
      case 'and':
      case 'or': {
        const conjunction = (filter.op === 'and') !== negated;
        const parts = filter.filters.map((f) => this.compile(f, negated));
        if (parts.length === 0) return conjunction ? '1' : '0';
        if (parts.length === 1) return parts[0] as string;
        return `(${parts.join(conjunction ? ' AND ' : ' OR ')})`;
      }
      case 'exists': {
        const c = this.column(filter.field);
        return filter.value !== negated ? `${c} IS NOT NULL` : `${c} IS NULL`;
      }
      case 'eq':
      case 'ne':
        return this.equality(filter.field, filter.value, (filter.op === 'eq') !== negated);
      case 'lt':
      case 'lte':
      case 'gt':
      case 'gte':
        return this.ordered(filter.field, filter.op, filter.value, negated);
      case 'in':
      case 'nin':
        return this.membership(filter.field, filter.values, (filter.op === 'in') !== negated);
      case 'prefix':
        return this.prefix(filter.field, filter.value, negated);
      case 'contains': {
        const c = this.column(filter.field);
        return negated
          ? `(typeof(${c}) <> 'text' OR instr(${c}, ${this.bind(filter.value)}) = 0)`
          : `(typeof(${c}) = 'text' AND instr(${c}, ${this.bind(filter.value)}) > 0)`;
      }
    }
  }

  private equality(field: string, value: Scalar, positive: boolean): string {
    const c = this.column(field);
    const v = toSqlValue(value);
    if (v === null) return positive ? `${c} IS NULL` : `${c} IS NOT NULL`;
    if (field === 'id' && typeof v !== 'string') return positive ? '0' : '1';
    return positive ? `${c} = ${this.bind(v)}` : `${c} IS NOT ${this.bind(v)}`;
  }

  private ordered(field: string, op: keyof typeof FLIPPED, value: Scalar, negated: boolean): string {
    const c = this.column(field);
    const v = toSqlValue(value);
    if (v === null) return negated ? '1' : '0';
    if (field === 'id' && typeof v !== 'string') {
      const stringAbove = op === 'gt' || op === 'gte';
      if (stringAbove) return negated ? `${c} IS NULL` : `${c} IS NOT NULL`;
      return negated ? '1' : '0';
    }
    if (!negated) return `${c} ${SQL_OP[op]} ${this.bind(v)}`;
    return `(${c} IS NULL OR ${c} ${SQL_OP[FLIPPED[op]]} ${this.bind(v)})`;
  }

  private membership(field: string, values: readonly Scalar[], positive: boolean): string {
    const c = this.column(field);
    let hasNull = false;
    const seen = new Set<QueryParam>();
    for (const value of values) {
      const v = toSqlValue(value);
      if (v === null) hasNull = true;
      else if (field !== 'id' || typeof v === 'string') seen.add(v);
    }
    const list = [...seen];
    const inList = () =>
      list.length === 1
        ? `= ${this.bind(list[0] ?? null)}`
        : `IN (${list.map((v) => this.bind(v)).join(', ')})`;
    const notInList = () =>
      list.length === 1
        ? `<> ${this.bind(list[0] ?? null)}`
        : `NOT IN (${list.map((v) => this.bind(v)).join(', ')})`;
    if (positive) {
      if (list.length === 0) return hasNull ? `${c} IS NULL` : '0';
      return hasNull ? `(${c} IS NULL OR ${c} ${inList()})` : `${c} ${inList()}`;
    }
    if (list.length === 0) return hasNull ? `${c} IS NOT NULL` : '1';
    return hasNull ? `(${c} IS NOT NULL AND ${c} ${notInList()})` : `(${c} IS NULL OR ${c} ${notInList()})`;
  }

  private prefix(field: string, prefix: string, negated: boolean): string {
    const c = this.column(field);
    if (prefix === '') return negated ? `typeof(${c}) <> 'text'` : `typeof(${c}) = 'text'`;
    const upper = prefixUpperBound(prefix);
    if (upper === null) {
      return negated
        ? `(typeof(${c}) <> 'text' OR ${c} < ${this.bind(prefix)})`
        : `(typeof(${c}) = 'text' AND ${c} >= ${this.bind(prefix)})`;
    }
    return negated
      ? `(${c} IS NULL OR ${c} < ${this.bind(prefix)} OR ${c} >= ${this.bind(upper)})`
      : `(${c} >= ${this.bind(prefix)} AND ${c} < ${this.bind(upper)})`;
  }
}

/**
 * Compiles a valid filter to a boolean SQL expression for a WHERE clause. The expression is TRUE exactly for
 * the rows whose documents `evaluateFilter` accepts (it may be NULL rather than FALSE for the others).
 */
export function compileFilter(filter: Filter, column: ColumnOf): SqlFragment {
  const compiler = new Compiler(column);
  const sql = compiler.compile(filter, false);
  return { sql, params: compiler.params };
}

/**
 * The ORDER BY list (without the keywords) for sort keys: each key's column ASC/DESC, then `id` ASC. SQLite
 * puts NULL first in ASC and last in DESC, numbers before text, text in BINARY order: `runQuery`'s order.
 */
export function compileOrderBy(sort: readonly SortKey[], column: ColumnOf): string {
  const keys = sort.map((key) => `${column(key.field)} ${key.dir === 'asc' ? 'ASC' : 'DESC'}`);
  keys.push(`${column('id')} ASC`);
  return keys.join(', ');
}

/**
 * Compiles a valid query to one SELECT statement over `target.table` returning the rows `runQuery` returns,
 * in the same order: WHERE filter, ORDER BY keys then id, LIMIT/OFFSET (as parameters).
 * `query.collection` is not consulted: the caller chose the table.
 */
export function compileQuery(query: Query, target: SqlTarget): SqlFragment {
  const compiler = new Compiler(target.column);
  let sql = `SELECT ${target.select ?? '*'} FROM ${quoteIdentifier(target.table)}`;
  if (query.filter !== undefined) {
    const where = compiler.compile(query.filter, false);
    if (where !== '1') sql += ` WHERE ${where}`;
  }
  sql += ` ORDER BY ${compileOrderBy(query.sort ?? [], target.column)}`;
  if (query.limit !== undefined || query.offset !== undefined) {
    compiler.params.push(query.limit ?? -1, query.offset ?? 0);
    sql += ' LIMIT ? OFFSET ?';
  }
  return { sql, params: compiler.params };
}
