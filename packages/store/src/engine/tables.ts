/**
 * The SQLite layout of a local database, and its additive migration on open.
 *
 * ```
 * loam_meta      key → value: replica id, HLC, next op sequence, row version, schema (JSON)
 * loam_outbox    local ops not yet acknowledged by the server (see `outbox.ts`, created by the engine, not here)
 * loam_yjs       Yjs state of each list and text field of each document (folded)
 * loam_yjs_log   Yjs updates appended since the fold (see `yjs-rows.ts`, created by the engine, not here)
 * loam_requests  ids of committed transactions with their results (idempotent retries)
 * loam_refused   the refused-writes log: ops the server refused, with its code and reason
 * loam_sync      sync state (cursor, subscriptions), MessagePack values
 * loam_doc_<c>   one row per document of collection <c>: id, _live, _v (row version), _state (merge metadata),
 *                _doc (the materialized document: the relay's stores; NULL in the engine's lean rows, see
 *                `doc-rows.ts`) and one column per scalar leaf (the queryable fields)
 * <c>            a view of loam_doc_<c>'s live rows and scalar columns, for read-only SQL
 * ```
 * Scalar columns are declared without a type, so SQLite applies no affinity and compares values exactly as the
 * query AST's JavaScript evaluator does (see `../query/INTERNALS.md`).
 */
import {
  type CollectionDef,
  type FieldDef,
  leafPaths,
  parseSchema,
  type Schema,
  SchemaError,
} from '@loam/core';
import { quoteIdentifier } from '../query/sql-compiler';
import type { SqlExecutor, SqlValue } from '../storage/driver';

/** The scalar leaves of a collection that get a column (json leaves do not). */
export function columnPaths(col: CollectionDef): { path: string; def: FieldDef }[] {
  return leafPaths(col).filter((leaf) => leaf.def.kind !== 'json');
}

/** The table holding collection `name`. */
export function docTable(name: string): string {
  return `loam_doc_${name}`;
}

const BASE_DDL = `
CREATE TABLE IF NOT EXISTS loam_meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
DROP TABLE IF EXISTS loam_seen;
CREATE TABLE IF NOT EXISTS loam_yjs (
  collection TEXT NOT NULL, doc TEXT NOT NULL, field TEXT NOT NULL, state BLOB NOT NULL,
  PRIMARY KEY (collection, doc, field)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS loam_requests (id TEXT PRIMARY KEY, result BLOB, at INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS loam_refused (
  op TEXT PRIMARY KEY, collection TEXT NOT NULL, doc TEXT NOT NULL, code TEXT NOT NULL, reason TEXT NOT NULL, at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS loam_sync (key TEXT PRIMARY KEY, value BLOB) WITHOUT ROWID;
`;

function indexName(collection: string, path: string): string {
  return `loam_idx_${collection}_${path.replaceAll('.', '_')}`;
}

function viewSql(name: string, col: CollectionDef): string {
  const cols = ['id', ...columnPaths(col).map((c) => quoteIdentifier(c.path))].join(', ');
  return `CREATE VIEW ${quoteIdentifier(name)} AS SELECT ${cols} FROM ${quoteIdentifier(docTable(name))} WHERE _live = 1`;
}

function createCollectionSql(name: string, col: CollectionDef): string[] {
  const table = quoteIdentifier(docTable(name));
  const columns = columnPaths(col).map((c) => `${quoteIdentifier(c.path)}`);
  const out = [
    `CREATE TABLE ${table} (id TEXT PRIMARY KEY NOT NULL, _live INTEGER NOT NULL, _v INTEGER NOT NULL, _state BLOB NOT NULL, _doc BLOB${columns.map((c) => `, ${c}`).join('')})`,
    viewSql(name, col),
  ];
  for (const c of columnPaths(col)) {
    if (c.def.indexed) {
      out.push(
        `CREATE INDEX ${quoteIdentifier(indexName(name, c.path))} ON ${table} (${quoteIdentifier(c.path)}) WHERE _live = 1`,
      );
    }
  }
  return out;
}

function describeField(def: FieldDef): string {
  return `${def.optional ? 'optional ' : ''}${def.kind}${def.kind === 'ref' ? `(${def.collection})` : ''}`;
}

/**
 * The statements that migrate `previous` to `next`, or a `SchemaError` naming the first change that is not
 * additive. Additive: a new collection; a new optional field (or counter, list, text); a new or dropped index;
 * a required field becoming optional; a new or changed default.
 */
export function migrationSql(previous: Schema, next: Schema): string[] {
  const out: string[] = [];
  for (const name of Object.keys(previous.collections)) {
    if (!Object.hasOwn(next.collections, name)) {
      throw new SchemaError(
        `Schema change refused: collection "${name}" was removed (only additive changes migrate)`,
      );
    }
  }
  for (const [name, col] of Object.entries(next.collections)) {
    const before = Object.hasOwn(previous.collections, name) ? previous.collections[name] : undefined;
    if (!before) {
      out.push(...createCollectionSql(name, col));
      continue;
    }
    const oldLeaves = new Map(leafPaths(before).map((l) => [l.path, l.def]));
    const checkFields = (prev: CollectionDef['fields'], cur: CollectionDef['fields'], prefix: string) => {
      for (const [field, def] of Object.entries(prev)) {
        const now = Object.hasOwn(cur, field) ? cur[field] : undefined;
        const path = `${name}.${prefix}${field}`;
        if (!now) throw new SchemaError(`Schema change refused: field "${path}" was removed`);
        if (
          now.kind !== def.kind ||
          (def.kind === 'ref' && now.kind === 'ref' && now.collection !== def.collection)
        ) {
          throw new SchemaError(
            `Schema change refused: field "${path}" changed from ${describeField(def)} to ${describeField(now)}`,
          );
        }
        if (def.optional && !now.optional) {
          throw new SchemaError(
            `Schema change refused: field "${path}" became required (existing documents may lack it)`,
          );
        }
        if (def.kind === 'object' && now.kind === 'object')
          checkFields(def.fields, now.fields, `${prefix}${field}.`);
      }
      for (const [field, def] of Object.entries(cur)) {
        if (Object.hasOwn(prev, field)) continue;
        const alwaysPresent = def.kind === 'counter' || def.kind === 'list' || def.kind === 'text';
        if (!def.optional && !alwaysPresent) {
          throw new SchemaError(
            `Schema change refused: new field "${name}.${prefix}${field}" must be optional (existing documents lack it)`,
          );
        }
      }
    };
    checkFields(before.fields, col.fields, '');
    const table = quoteIdentifier(docTable(name));
    let columnsChanged = false;
    for (const leaf of columnPaths(col)) {
      const old = oldLeaves.get(leaf.path);
      if (!old) {
        out.push(`ALTER TABLE ${table} ADD COLUMN ${quoteIdentifier(leaf.path)}`);
        columnsChanged = true;
      }
      const idx = quoteIdentifier(indexName(name, leaf.path));
      if (leaf.def.indexed && !old?.indexed) {
        out.push(`CREATE INDEX ${idx} ON ${table} (${quoteIdentifier(leaf.path)}) WHERE _live = 1`);
      } else if (!leaf.def.indexed && old?.indexed) {
        out.push(`DROP INDEX ${idx}`);
      }
    }
    if (columnsChanged) out.push(`DROP VIEW ${quoteIdentifier(name)}`, viewSql(name, col));
  }
  return out;
}

/** The column names of collection `name`'s table, in their physical order (additive migrations append). */
export async function tableColumns(sql: SqlExecutor, name: string): Promise<string[]> {
  const rows = await sql.all<{ name: string }>(`SELECT name FROM pragma_table_info(?) ORDER BY cid`, [
    docTable(name),
  ]);
  return rows.map((r) => r.name);
}

/** Reserved collection names: they would collide with Loam's own tables. */
function checkCollectionNames(schema: Schema): void {
  for (const name of Object.keys(schema.collections)) {
    if (name.toLowerCase().startsWith('loam_') || name.toLowerCase().startsWith('sqlite_')) {
      throw new SchemaError(`Collection name "${name}" is reserved (loam_ and sqlite_ prefixes)`);
    }
  }
}

/**
 * Creates Loam's tables on a new database, or migrates an existing one to `schema` (additive changes only).
 * Runs inside the caller's transaction; returns the stored metadata.
 */
export async function prepareTables(sql: SqlExecutor, schema: Schema): Promise<Map<string, unknown>> {
  checkCollectionNames(schema);
  await sql.exec(BASE_DDL);
  const meta = new Map<string, unknown>();
  for (const row of await sql.all<{ key: string; value: SqlValue }>('SELECT key, value FROM loam_meta')) {
    meta.set(row.key, row.value);
  }
  const stored = meta.get('schema');
  const previous: Schema =
    typeof stored === 'string' ? parseSchema(JSON.parse(stored)) : { version: 1, collections: {} };
  for (const statement of migrationSql(previous, schema)) await sql.exec(statement);
  const json = JSON.stringify(schema);
  if (json !== stored) {
    await sql.run('INSERT OR REPLACE INTO loam_meta (key, value) VALUES (?, ?), (?, ?)', [
      'schema',
      json,
      'schema_version',
      schema.version,
    ]);
    meta.set('schema', json);
  }
  return meta;
}
