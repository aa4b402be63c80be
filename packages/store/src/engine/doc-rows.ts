/**
 * A document's row: its columns (one per scalar leaf, for queries), `_live`, `_v`, and its merge state in `_state`
 * (encodings and layouts in `state-codec.ts`: the engine's lean rows store each value once, in its column; the
 * relay's stores also keep the materialized document in `_doc`). List and text fields live in Yjs rows
 * (`yjs-rows.ts`), added when the engine reads a document.
 */

import {
  type CollectionDef,
  createDocState,
  type DocState,
  isLive,
  type MaterializedDoc,
  materialize,
  mergeDocState,
  type PackedDocState,
  type PlainV2Scan,
  readDocSnapshot,
  unpackDocState,
} from '@loam/core';
import { quoteIdentifier, toSqlValue } from '../query/sql-compiler';
import type { SqlExecutor, SqlRow, SqlValue } from '../storage/driver';
import { type InsertShape, insertRows, whereIn } from '../storage/multi-row';
import { type DocCache, docKey } from './doc-cache';
import {
  type ColumnSql,
  decode,
  decodeRowState,
  encode,
  encodeDocState,
  encodeLeanState,
  encodeScannedLeanState,
  type LeanColumns,
} from './state-codec';
import { columnPaths, docTable } from './tables';
import { crdtValue, loadYjs, removeYjs, type StoredDoc, saveAllYjs } from './yjs-rows';

export {
  type ColumnSql,
  decodeDocState,
  decodeRowState,
  encodeDocState,
  encodeLeanState,
} from './state-codec';

/** Decodes a `_doc` blob. */
export function decodeDoc(bytes: Uint8Array): MaterializedDoc {
  return decode(bytes) as MaterializedDoc;
}

/** Prepared SQL for one collection. */
export interface CollectionSql extends LeanColumns {
  readonly name: string;
  readonly def: CollectionDef;
  readonly table: string;
  readonly selectState: string;
  /** `_state` and every column, to select for `decodeRowState` and `rowDoc`. */
  readonly stateColumns: string;
  readonly upsert: string;
  /** Sets a row's version alone (`_v`, then `id`): a change to list or text fields only. */
  readonly bumpVersion: string;
  /** Names of the list and text fields (stored in loam_yjs). */
  readonly crdtFields: readonly string[];
}

/**
 * Builds the statements of a collection. `physical`: the table's column names in order (see `tableColumns`), so
 * that column ordinals are stable across migrations; by default the schema's order (a table just created).
 */
export function collectionSql(name: string, def: CollectionDef, physical?: readonly string[]): CollectionSql {
  const table = quoteIdentifier(docTable(name));
  const leaves = columnPaths(def);
  const byPath = new Map(leaves.map((l) => [l.path, l]));
  const ordered = physical
    ? physical.filter((p) => byPath.has(p)).map((p) => byPath.get(p) as ColumnSql)
    : [];
  for (const leaf of leaves) if (!ordered.includes(leaf)) ordered.push(leaf);
  const columns: ColumnSql[] = ordered.map(({ path, def }) => ({ path, def }));
  const names = ['id', '_live', '_v', '_state', '_doc', ...columns.map((c) => quoteIdentifier(c.path))];
  const updates = names.slice(1).map((n) => `${n} = excluded.${n}`);
  const stateColumns = ['_state', ...columns.map((c) => quoteIdentifier(c.path))].join(', ');
  return {
    name,
    def,
    table,
    selectState: `SELECT ${stateColumns} FROM ${table} WHERE id = ?`,
    stateColumns,
    upsert: `INSERT INTO ${table} (${names.join(', ')}) VALUES (${names.map(() => '?').join(', ')}) ON CONFLICT (id) DO UPDATE SET ${updates.join(', ')}`,
    bumpVersion: `UPDATE ${table} SET _v = ? WHERE id = ?`,
    crdtFields: Object.entries(def.fields)
      .filter(([, f]) => f.kind === 'list' || f.kind === 'text')
      .map(([field]) => field),
    columns,
    columnIndex: new Map(columns.map((c, i) => [c.path, i])),
  };
}

/** The document a row holds (selected with `id` and `stateColumns`; live rows only), list and text fields aside. */
export function rowDoc(c: CollectionSql, row: SqlRow): MaterializedDoc {
  const doc = materialize(c.def, row.id as string, decodeRowState(c, row, false)) as MaterializedDoc;
  for (const field of c.crdtFields) delete doc[field];
  return doc;
}

/** A live document's value in column `col`, as `materialize` then `toSqlValue` would give it (without the copy). */
function columnValue(col: ColumnSql, state: DocState): SqlValue {
  if (col.def.kind === 'counter')
    return state.counters[col.path.slice(col.path.lastIndexOf('.') + 1)]?.value ?? 0;
  return toSqlValue(state.regs[col.path]?.v);
}

function leafValue(doc: MaterializedDoc | undefined, path: string): unknown {
  let value: unknown = doc;
  for (const part of path.split('.')) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

/**
 * The parameters of `upsert` for a document's state. `crdtsInDoc` true: the relay's layout (layout 2 `_state`,
 * `_doc` with list and text fields). False: the engine's lean layout (see the top of this file).
 */
export function rowParams(
  c: CollectionSql,
  id: string,
  state: DocState,
  version: number,
  crdtsInDoc = true,
): SqlValue[] {
  if (!crdtsInDoc) {
    const params: SqlValue[] = [id, 0, version, null, null];
    const live = isLive(state);
    for (const col of c.columns) params.push(live ? columnValue(col, state) : null);
    params[1] = live ? 1 : 0;
    params[3] = encodeLeanState(c, state, params, 5);
    return params;
  }
  const doc = materialize(c.def, id, state);
  const params: SqlValue[] = [id, doc ? 1 : 0, version, encodeDocState(state), doc ? encode(doc) : null];
  for (const { path } of c.columns) params.push(doc ? toSqlValue(leafValue(doc, path)) : null);
  return params;
}

/** Loads a document's merge state with its Yjs fields, or undefined when no op ever touched it. */
export async function loadStoredDoc(
  sql: SqlExecutor,
  c: CollectionSql,
  id: string,
): Promise<StoredDoc | undefined> {
  const row = await sql.get(c.selectState, [id]);
  if (!row) return undefined;
  const state = decodeRowState(c, row);
  return { state, logs: c.crdtFields.length > 0 ? await loadYjs(sql, c.name, id, state) : new Map() };
}

/** A document to change inside a transaction: taken from the cache (see `doc-cache.ts`) or loaded. */
export async function takeDoc(
  cache: DocCache,
  sql: SqlExecutor,
  c: CollectionSql,
  id: string,
): Promise<StoredDoc | undefined> {
  return (c.crdtFields.length > 0 ? cache.take(docKey(c.name, id)) : undefined) ?? loadStoredDoc(sql, c, id);
}

/** Puts a document back in the cache once its transaction is about to commit (kept only with list or text fields). */
export function keepDoc(cache: DocCache, c: CollectionSql, id: string, doc: StoredDoc): void {
  if (c.crdtFields.length > 0) cache.put(docKey(c.name, id), doc);
}

/**
 * Adds the list and text fields of collection `c` to documents read from rows, from `stateOf` (the transaction's
 * own states) or else the cache, loading (and caching) what is missing. Call it inside a storage transaction.
 */
export async function attachCrdts(
  cache: DocCache,
  sql: SqlExecutor,
  c: CollectionSql,
  docs: readonly MaterializedDoc[],
  stateOf?: (id: string) => DocState | undefined,
): Promise<void> {
  if (c.crdtFields.length === 0) return;
  for (const doc of docs) {
    let state = stateOf?.(doc.id);
    if (!state) {
      const key = docKey(c.name, doc.id);
      let stored = cache.peek(key);
      if (!stored) {
        stored = await loadStoredDoc(sql, c, doc.id);
        if (stored) cache.put(key, stored);
      }
      state = stored?.state;
    }
    for (const field of c.crdtFields) {
      const kind = c.def.fields[field]?.kind as 'list' | 'text';
      doc[field] = state ? crdtValue(kind, state, field) : kind === 'text' ? '' : [];
    }
  }
}

/** Writes a document's row (at row version `version`, engine layout) and the whole state of its Yjs fields. */
export async function saveDoc(
  sql: SqlExecutor,
  c: CollectionSql,
  id: string,
  doc: StoredDoc,
  version: number,
) {
  await sql.run(c.upsert, rowParams(c, id, doc.state, version, false));
  if (c.crdtFields.length > 0) await saveAllYjs(sql, c.name, id, c.crdtFields, doc);
}

/** Removes a document from the device: its row and its Yjs rows (no op is written). True when it was there. */
export async function removeDoc(sql: SqlExecutor, c: CollectionSql, id: string): Promise<boolean> {
  const removed = await sql.run(`DELETE FROM ${c.table} WHERE id = ?`, [id]);
  if (c.crdtFields.length > 0) await removeYjs(sql, c.name, id);
  return removed.changes > 0;
}

const upsertShapes = new WeakMap<CollectionSql, InsertShape>();

/** `upsert` as a multi-row statement: the rows `rowParams` gives (`c`'s width each), one after the other. */
function upsertShape(c: CollectionSql): InsertShape {
  let shape = upsertShapes.get(c);
  if (!shape) {
    const names = [
      'id',
      '_live',
      '_v',
      '_state',
      '_doc',
      ...c.columns.map((col) => quoteIdentifier(col.path)),
    ];
    shape = {
      head: `INSERT INTO ${c.table} (${names.join(', ')}) VALUES`,
      width: names.length,
      tail: `ON CONFLICT (id) DO UPDATE SET ${names
        .slice(1)
        .map((n) => `${n} = excluded.${n}`)
        .join(', ')}`,
    };
    upsertShapes.set(c, shape);
  }
  return shape;
}

/** Writes rows of `c` (`rowParams` of each, one after the other in `values`) with multi-row upserts. */
export function upsertRows(sql: SqlExecutor, c: CollectionSql, values: readonly SqlValue[]): Promise<number> {
  return insertRows(sql, upsertShape(c), values);
}

/**
 * Loads the merge states of documents `ids` of `c` in a few queries (`whereIn`) and Yjs fields per document found:
 * what `loadStoredDoc` gives for each, `undefined` for a document no op ever touched.
 */
export async function loadStoredDocs(
  sql: SqlExecutor,
  c: CollectionSql,
  ids: readonly string[],
): Promise<Map<string, StoredDoc | undefined>> {
  const out = new Map<string, StoredDoc | undefined>();
  const rows = await whereIn(sql, `SELECT id, ${c.stateColumns} FROM ${c.table} WHERE id`, ids);
  const found = new Map(rows.map((row) => [row.id as string, row]));
  for (const id of ids) {
    const row = found.get(id);
    if (!row) {
      out.set(id, undefined);
      continue;
    }
    const state = decodeRowState(c, row);
    out.set(id, { state, logs: c.crdtFields.length > 0 ? await loadYjs(sql, c.name, id, state) : new Map() });
  }
  return out;
}

/** Per collection: its counter columns, as `[ordinal, counter name]` (see `columnValue`). */
const counterColumnsOf = new WeakMap<CollectionSql, [number, string][]>();

function counterColumns(c: CollectionSql): [number, string][] {
  let list = counterColumnsOf.get(c);
  if (!list) {
    list = [];
    for (const [j, col] of c.columns.entries())
      if (col.def.kind === 'counter') list.push([j, col.path.slice(col.path.lastIndexOf('.') + 1)]);
    counterColumnsOf.set(c, list);
  }
  return list;
}

/** Each register's column ordinal (-1: none) of the snapshot `snapshotRowParams` is writing. */
let regColumns = new Int32Array(64);
/** The collection, paths and column ordinals of the registers `snapshotRowParams` last looked up, by position. */
let shapeOf: CollectionSql | undefined;
const shapePaths: (string | undefined)[] = [];
const shapeColumns = new Int32Array(64);

/**
 * `rowParams(c, id, state, version, false)` for the state `mergeDocState` gives when a device holding nothing of a
 * document joins a format-2 snapshot into it, written straight from the snapshot's bytes as `scanPlainV2` read them
 * (its `_state` by hand: see `encodeScannedLeanState`). Only for a snapshot `isFreshWritable` accepts: else unpack it
 * and merge. Falls back to that general path itself for a value the hand-written `_state` cannot hold (a json leaf).
 */
export function snapshotRowParams(
  c: CollectionSql,
  id: string,
  scan: PlainV2Scan,
  version: number,
): SqlValue[] {
  const live = scan.created;
  const width = 5 + c.columns.length;
  const params: SqlValue[] = new Array(width);
  params[0] = id;
  params[1] = live ? 1 : 0;
  params[2] = version;
  for (let j = 4; j < width; j++) params[j] = null;
  const { regCount, regPaths, regValues } = scan;
  if (regColumns.length < regCount) regColumns = new Int32Array(2 * regCount);
  // Snapshots of one collection come one after the other with the same paths in the same order (the scan gives
  // each path as the same string every time): their columns are looked up once.
  if (shapeOf !== c) {
    shapeOf = c;
    shapePaths.length = 0;
  }
  for (let k = 0; k < regCount; k++) {
    const path = regPaths[k] as string;
    let j: number;
    if (shapePaths[k] === path) j = shapeColumns[k] as number;
    else {
      j = c.columnIndex.get(path) ?? -1;
      if (k < shapeColumns.length) {
        shapePaths[k] = path;
        shapeColumns[k] = j;
      }
    }
    regColumns[k] = j;
    if (live && j !== -1 && (c.columns[j] as ColumnSql).def.kind !== 'counter')
      params[5 + j] = toSqlValue(regValues[k]);
  }
  if (live) {
    const { counterFields, counterValues } = scan;
    for (const [j, name] of counterColumns(c)) {
      let value = 0;
      for (let k = 0; k < scan.counterCount; k++)
        if (counterFields[k] === name) value = counterValues[k] as number;
      params[5 + j] = value;
    }
  }
  const state = encodeScannedLeanState(c, scan, regColumns, params, 5);
  if (state) {
    params[3] = state;
    return params;
  }
  const joined = createDocState();
  mergeDocState(joined, unpackDocState(readDocSnapshot(scan.bytes) as PackedDocState));
  return rowParams(c, id, joined, version, false);
}

/**
 * True when `snapshotRowParams` may write a scanned snapshot for a document the device holds nothing of: joined into
 * an empty state it changes it (an epoch, a create, a field) and it is not a tombstone (a scanned snapshot carries
 * no list or text field).
 */
export function isFreshWritable(scan: PlainV2Scan): boolean {
  return !scan.deleted && (scan.epoch > 0 || scan.created || scan.regCount > 0 || scan.counterCount > 0);
}
