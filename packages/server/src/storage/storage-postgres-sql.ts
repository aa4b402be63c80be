/**
 * The PostgreSQL layout of documents and the query AST compiled to PostgreSQL, agreeing with `@loam/core`'s
 * evaluator (`evaluateFilter`/`runQuery`) exactly as `@loam/store`'s SQLite compiler does
 * (`storage-postgres-sql.test.ts` checks it on random data against the evaluator).
 *
 * One table per collection, `loam_doc_<collection>`:
 * ```
 * id        text COLLATE "C" PRIMARY KEY     (document ids hold no control characters)
 * "$live"   boolean    "$v" bigint (the version that last changed it)
 * "$state"  bytea      register and counter metadata (`encodeDocState`)
 * "$doc"    bytea      the materialized document (MessagePack), NULL when not live
 * "<leaf>"  bytea (string, ref: UTF-8) | double precision (number, date ms, boolean 0/1, counter)
 * "$y:<f>"  bytea      Yjs state of list/text field f
 * ```
 * Internal columns start with `$`, which field names cannot, so no field collides with them.
 *
 * How agreement with the evaluator is kept, beyond the SQLite compiler's rules (see its INTERNALS.md):
 * 1. **Typed columns.** SQLite columns have no type; here each leaf column has its field's type, so a value of
 *    another type than the column's can only be an operand. Comparisons across types are decided at compile time
 *    from the evaluator's type order NULL < numbers < strings.
 * 2. **Strings are UTF-8 bytes.** `bytea` compares bytewise, which for UTF-8 is code-point order, and holds any
 *    string (PostgreSQL `text` cannot hold U+0000). `id` is `text COLLATE "C"`: the same order.
 * 3. **Order.** `ORDER BY` names `NULLS FIRST` ascending and `NULLS LAST` descending (SQLite's and the evaluator's
 *    order), then `id`.
 */
import {
  type CollectionDef,
  type DocState,
  type FieldDef,
  type Filter,
  type Query,
  QueryError,
  type Scalar,
  type SortKey,
} from '@loam/core';
import {
  type CollectionSql,
  collectionSql,
  columnPaths,
  docTable,
  prefixUpperBound,
  quoteIdentifier,
  rowParams,
  toSqlValue,
} from '@loam/store/sql';
import * as Y from 'yjs';

/** How a column stores its values. */
export type PgColumnType = 'text' | 'bytes' | 'num';

/** A queryable column. */
export interface PgColumn {
  readonly path: string;
  readonly sql: string;
  readonly type: PgColumnType;
}

/** The layout of one collection. */
export interface PgCollection {
  readonly name: string;
  readonly def: CollectionDef;
  /** The quoted table name. */
  readonly table: string;
  readonly leaves: readonly PgColumn[];
  readonly crdtFields: readonly string[];
  /** The SELECT list that reads a document's state (id, "$v", "$live", "$state", Yjs columns) of `alias`. */
  stateColumns(alias?: string): string;
  /** The engine's row encoding (`rowParams`): the same `$state`, `$doc` and leaf values as SQLite stores. */
  readonly rows: CollectionSql;
  /** The column of a field path (`id` included); throws `QueryError` for fields without a column. */
  column(path: string): PgColumn;
}

/** The quoted name of list/text field `field`'s Yjs column. */
export function crdtColumn(field: string): string {
  return quoteIdentifier(`$y:${field}`);
}

function leafType(def: FieldDef): PgColumnType {
  return def.kind === 'string' || def.kind === 'ref' ? 'bytes' : 'num';
}

/** The layout of collection `name`; throws when a name is too long for PostgreSQL (63 bytes). */
export function pgCollection(name: string, def: CollectionDef): PgCollection {
  const tableName = docTable(name);
  if (Buffer.byteLength(tableName) > 63)
    throw new QueryError(`Collection name "${name}" is too long for PostgreSQL (at most 54 characters)`);
  const leaves = columnPaths(def).map(({ path, def: field }) => {
    if (Buffer.byteLength(path) > 63)
      throw new QueryError(`Field path "${name}.${path}" is too long for a PostgreSQL column (63 bytes)`);
    return { path, sql: quoteIdentifier(path), type: leafType(field) };
  });
  const crdtFields = Object.entries(def.fields)
    .filter(([, f]) => f.kind === 'list' || f.kind === 'text')
    .map(([field]) => field);
  const byPath = new Map<string, PgColumn>(leaves.map((l) => [l.path, l]));
  byPath.set('id', { path: 'id', sql: 'id', type: 'text' });
  return {
    name,
    def,
    table: quoteIdentifier(tableName),
    leaves,
    crdtFields,
    stateColumns: (alias) =>
      ['id', '"$v"', '"$live"', '"$state"', ...crdtFields.map(crdtColumn)]
        .map((col) => (alias ? `${alias}.${col}` : col))
        .join(', '),
    rows: collectionSql(name, def),
    column(path) {
      const c = byPath.get(path);
      if (!c)
        throw new QueryError(
          `Field "${path}" of ${name} cannot be queried (json, list and text fields have no column)`,
        );
      return c;
    },
  };
}

const SQL_TYPE: Record<PgColumnType, string> = { text: 'text', bytes: 'bytea', num: 'double precision' };

/** Idempotent statements that create the collection's table or add what a newer (additive) schema added. */
export function collectionDdl(c: PgCollection): string[] {
  const out = [
    `CREATE TABLE IF NOT EXISTS ${c.table} (id text COLLATE "C" PRIMARY KEY, "$live" boolean NOT NULL, "$v" bigint NOT NULL, "$state" bytea NOT NULL, "$doc" bytea)`,
    `CREATE INDEX IF NOT EXISTS ${quoteIdentifier(`${docTable(c.name)}$v`)} ON ${c.table} ("$v")`,
  ];
  for (const leaf of c.leaves)
    out.push(`ALTER TABLE ${c.table} ADD COLUMN IF NOT EXISTS ${leaf.sql} ${SQL_TYPE[leaf.type]}`);
  for (const field of c.crdtFields)
    out.push(`ALTER TABLE ${c.table} ADD COLUMN IF NOT EXISTS ${crdtColumn(field)} bytea`);
  for (const { path, def } of columnPaths(c.def)) {
    const index = quoteIdentifier(`${docTable(c.name)}$${path}`.slice(0, 63));
    out.push(
      def.indexed
        ? `CREATE INDEX IF NOT EXISTS ${index} ON ${c.table} (${quoteIdentifier(path)}) WHERE "$live"`
        : `DROP INDEX IF EXISTS ${index}`,
    );
  }
  return out;
}

/** A value as a column of type `type` stores it (null when the value has another type). */
export function pgValue(value: unknown, type: PgColumnType): string | number | Buffer | null {
  const v = toSqlValue(value);
  if (v === null) return null;
  if (type === 'num') return typeof v === 'number' ? v : null;
  if (typeof v !== 'string') return null;
  return type === 'bytes' ? Buffer.from(v, 'utf8') : v;
}

/**
 * A `bytea[]` parameter written as PostgreSQL's array literal (`{"\\x0a1b",NULL}`), for a `$n::bytea[]`
 * placeholder. The client library turns each element of an array it is given into hex text and then escapes it
 * with a regular expression: for the documents of a group, a measurable share of a relay node's CPU.
 */
export function byteaArray(values: readonly (Uint8Array | null | undefined)[]): string {
  let out = '{';
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (i > 0) out += ',';
    out += v ? `"\\\\x${Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex')}"` : 'NULL';
  }
  return `${out}}`;
}

/** An array parameter: its values and the PostgreSQL type of its elements. */
export interface PgArray {
  readonly type: 'text' | 'boolean' | 'bytea' | 'double precision';
  readonly values: readonly unknown[];
}

/**
 * The upsert of documents' rows: one array parameter per column (`$1` … in `arrays` order), each row's version
 * given by the SQL expression `version`. Values are the engine's row encoding (`rowParams`).
 */
export function upsertDocsSql(
  c: PgCollection,
  docs: readonly { readonly id: string; readonly state: DocState }[],
  version: string,
): { text: string; arrays: PgArray[] } {
  const rows = docs.map((d) => rowParams(c.rows, d.id, d.state, 0));
  const bytes = (values: readonly unknown[]) => values.map((v) => (v as Uint8Array | null) ?? null);
  const columns: [string, PgArray][] = [
    ['id', { type: 'text', values: rows.map((r) => r[0]) }],
    ['"$live"', { type: 'boolean', values: rows.map((r) => r[1] === 1) }],
    ['"$state"', { type: 'bytea', values: bytes(rows.map((r) => r[3])) }],
    ['"$doc"', { type: 'bytea', values: bytes(rows.map((r) => r[4])) }],
    ...c.leaves.map((leaf, i): [string, PgArray] => [
      leaf.sql,
      {
        type: leaf.type === 'num' ? 'double precision' : 'bytea',
        values: rows.map((r) => pgValue(r[5 + i], leaf.type)),
      },
    ]),
    ...c.crdtFields.map((field): [string, PgArray] => [
      crdtColumn(field),
      {
        type: 'bytea',
        values: docs.map((d) => {
          const y = d.state.crdts[field];
          return y ? Y.encodeStateAsUpdate(y) : null;
        }),
      },
    ]),
  ];
  const names = columns.map((_, i) => `c${i}`);
  const targets = columns.map(([col]) => col);
  const updates = ['"$v"', ...targets.slice(1)].map((col) => `${col} = excluded.${col}`);
  const unnest = columns.map(([, a], i) => `$${i + 1}::${a.type}[]`).join(', ');
  return {
    text: `INSERT INTO ${c.table} ("$v", ${targets.join(', ')}) SELECT ${version}, ${names.join(', ')} FROM unnest(${unnest}) AS u(${names.join(', ')}) ON CONFLICT (id) DO UPDATE SET ${updates.join(', ')}`,
    arrays: columns.map(([, a]) => a),
  };
}

/** A piece of SQL with `$n` placeholders and the values bound to them. */
export interface PgFragment {
  readonly sql: string;
  readonly params: unknown[];
}

const FLIPPED = { lt: 'gte', lte: 'gt', gt: 'lte', gte: 'lt' } as const;
const SQL_OP = { lt: '<', lte: '<=', gt: '>', gte: '>=' } as const;
/** The evaluator's type order: numbers sort below strings. */
const RANK: Record<PgColumnType, number> = { num: 1, bytes: 2, text: 2 };
const rankOf = (v: number | string) => (typeof v === 'number' ? 1 : 2);

class PgCompiler {
  constructor(
    private readonly c: PgCollection,
    readonly params: unknown[],
  ) {}

  private bind(value: number | string, col: PgColumn): string {
    this.params.push(col.type === 'bytes' ? Buffer.from(value as string, 'utf8') : value);
    return `$${this.params.length}::${SQL_TYPE[col.type]}`;
  }

  /**
   * The column as compared with `value`: `text` cannot hold U+0000, so `id` (which never contains it) is compared
   * as UTF-8 bytes with an operand that does: the same order, without the index.
   */
  private side(col: PgColumn, value: number | string): PgColumn {
    if (col.type !== 'text' || typeof value !== 'string' || !value.includes('\u0000')) return col;
    return { path: col.path, sql: `convert_to(${col.sql}, 'UTF8')`, type: 'bytes' };
  }

  compile(filter: Filter, negated: boolean): string {
    switch (filter.op) {
      case 'true':
      case 'false':
        return (filter.op === 'true') !== negated ? 'TRUE' : 'FALSE';
      case 'not':
        return this.compile(filter.filter, !negated);
      case 'and':
      case 'or': {
        const conjunction = (filter.op === 'and') !== negated;
        const parts = filter.filters.map((f) => this.compile(f, negated));
        if (parts.length === 0) return conjunction ? 'TRUE' : 'FALSE';
        if (parts.length === 1) return parts[0] as string;
        return `(${parts.join(conjunction ? ' AND ' : ' OR ')})`;
      }
      case 'exists': {
        const col = this.c.column(filter.field);
        return filter.value !== negated ? `${col.sql} IS NOT NULL` : `${col.sql} IS NULL`;
      }
      case 'eq':
      case 'ne':
        return this.equality(this.c.column(filter.field), filter.value, (filter.op === 'eq') !== negated);
      case 'lt':
      case 'lte':
      case 'gt':
      case 'gte':
        return this.ordered(this.c.column(filter.field), filter.op, filter.value, negated);
      case 'in':
      case 'nin':
        return this.membership(this.c.column(filter.field), filter.values, (filter.op === 'in') !== negated);
      case 'prefix':
        return this.prefix(this.c.column(filter.field), filter.value, negated);
      case 'contains': {
        const col = this.side(this.c.column(filter.field), filter.value);
        if (col.type === 'num') return negated ? 'TRUE' : 'FALSE';
        const needle = this.bind(filter.value, col);
        return negated
          ? `(${col.sql} IS NULL OR position(${needle} in ${col.sql}) = 0)`
          : `(${col.sql} IS NOT NULL AND position(${needle} in ${col.sql}) > 0)`;
      }
    }
  }

  private equality(column: PgColumn, value: Scalar, positive: boolean): string {
    const v = toSqlValue(value);
    if (v === null) return positive ? `${column.sql} IS NULL` : `${column.sql} IS NOT NULL`;
    const col = this.side(column, v);
    if (rankOf(v) !== RANK[col.type]) return positive ? 'FALSE' : 'TRUE';
    const p = this.bind(v, col);
    return positive ? `${col.sql} = ${p}` : `${col.sql} IS DISTINCT FROM ${p}`;
  }

  private ordered(column: PgColumn, op: keyof typeof FLIPPED, value: Scalar, negated: boolean): string {
    const v = toSqlValue(value);
    if (v === null) return negated ? 'TRUE' : 'FALSE';
    const col = this.side(column, v);
    const below = op === 'lt' || op === 'lte';
    if (rankOf(v) !== RANK[col.type]) {
      const holdsForEveryValue = below === rankOf(v) > RANK[col.type];
      if (holdsForEveryValue) return negated ? `${col.sql} IS NULL` : `${col.sql} IS NOT NULL`;
      return negated ? 'TRUE' : 'FALSE';
    }
    if (!negated) return `${col.sql} ${SQL_OP[op]} ${this.bind(v, col)}`;
    return `(${col.sql} IS NULL OR ${col.sql} ${SQL_OP[FLIPPED[op]]} ${this.bind(v, col)})`;
  }

  private membership(col: PgColumn, values: readonly Scalar[], positive: boolean): string {
    let hasNull = false;
    const list: (number | string)[] = [];
    for (const value of values) {
      const v = toSqlValue(value);
      if (v === null) hasNull = true;
      else if (this.side(col, v) !== col) continue;
      else if (rankOf(v) === RANK[col.type] && !list.includes(v)) list.push(v);
    }
    const any = () => `${col.sql} IN (${list.map((v) => this.bind(v, col)).join(', ')})`;
    if (positive) {
      if (list.length === 0) return hasNull ? `${col.sql} IS NULL` : 'FALSE';
      return hasNull ? `(${col.sql} IS NULL OR ${any()})` : any();
    }
    if (list.length === 0) return hasNull ? `${col.sql} IS NOT NULL` : 'TRUE';
    return hasNull ? `(${col.sql} IS NOT NULL AND NOT ${any()})` : `(${col.sql} IS NULL OR NOT ${any()})`;
  }

  private prefix(column: PgColumn, prefix: string, negated: boolean): string {
    const col = this.side(column, prefix);
    if (col.type === 'num') return negated ? 'TRUE' : 'FALSE';
    if (prefix === '') return negated ? `${col.sql} IS NULL` : `${col.sql} IS NOT NULL`;
    const upper = prefixUpperBound(prefix);
    const low = this.bind(prefix, col);
    if (upper === null)
      return negated ? `(${col.sql} IS NULL OR ${col.sql} < ${low})` : `${col.sql} >= ${low}`;
    const high = this.bind(upper, col);
    return negated
      ? `(${col.sql} IS NULL OR ${col.sql} < ${low} OR ${col.sql} >= ${high})`
      : `(${col.sql} >= ${low} AND ${col.sql} < ${high})`;
  }
}

/**
 * A valid filter as a boolean expression, TRUE exactly for the rows whose documents `evaluateFilter` accepts.
 * Its placeholders continue after `params` (which it extends).
 */
export function compilePgFilter(filter: Filter, c: PgCollection, params: unknown[] = []): PgFragment {
  const sql = new PgCompiler(c, params).compile(filter, false);
  return { sql, params };
}

/** The ORDER BY list for sort keys, then `id`: the evaluator's order (NULL first ascending, last descending). */
export function pgOrderBy(sort: readonly SortKey[], c: PgCollection): string {
  const keys = sort.map((key) => {
    const col = c.column(key.field).sql;
    return key.dir === 'asc' ? `${col} ASC NULLS FIRST` : `${col} DESC NULLS LAST`;
  });
  keys.push('id ASC');
  return keys.join(', ');
}

/** A valid query over the live documents of `c`: filter, sort then id, offset, limit, selecting `select`. */
export function compilePgQuery(query: Query, c: PgCollection, select: string): PgFragment {
  const params: unknown[] = [];
  const where = query.filter === undefined ? 'TRUE' : new PgCompiler(c, params).compile(query.filter, false);
  let sql = `SELECT ${select} FROM ${c.table} WHERE "$live" AND ${where} ORDER BY ${pgOrderBy(query.sort ?? [], c)}`;
  if (query.limit !== undefined) {
    params.push(query.limit);
    sql += ` LIMIT $${params.length}::bigint`;
  }
  if (query.offset !== undefined) {
    params.push(query.offset);
    sql += ` OFFSET $${params.length}::bigint`;
  }
  return { sql, params };
}
