/**
 * How one document's merge state lives in its row: `_state` holds the register and counter metadata (MessagePack),
 * `loam_yjs` the Yjs state of its list and text fields, `_doc` the materialized document (MessagePack, so dates stay
 * dates), and one column per scalar leaf for queries.
 */

import { type CollectionDef, type DocState, type MaterializedDoc, materialize } from '@loam/core';
import { Decoder, Encoder } from '@msgpack/msgpack';
import * as Y from 'yjs';
import { quoteIdentifier, toSqlValue } from '../query/sql-compiler';
import type { SqlExecutor, SqlValue } from '../storage/driver';
import { columnPaths, docTable } from './tables';

const encoder = new Encoder();
const decoder = new Decoder();
const encode = (value: unknown) => encoder.encode(value);
const decode = (bytes: Uint8Array) => decoder.decode(bytes);

/** Encodes a document's register and counter metadata (Yjs states are stored apart). */
export function encodeDocState(state: DocState): Uint8Array {
  return encode([state.epoch, state.created, state.deleted, state.regs, state.counters]);
}

/** Decodes `_state`; Yjs documents are attached separately by `loadDocState`. */
export function decodeDocState(bytes: Uint8Array): DocState {
  const [epoch, created, deleted, regs, counters] = decode(bytes) as [
    number,
    boolean,
    boolean,
    DocState['regs'],
    DocState['counters'],
  ];
  return { epoch, created, deleted, regs, counters, crdts: {} };
}

/** Decodes a `_doc` blob. */
export function decodeDoc(bytes: Uint8Array): MaterializedDoc {
  return decode(bytes) as MaterializedDoc;
}

/** Prepared SQL for one collection. */
export interface CollectionSql {
  readonly name: string;
  readonly def: CollectionDef;
  readonly table: string;
  readonly selectState: string;
  readonly upsert: string;
  /** Names of the list and text fields (stored in loam_yjs). */
  readonly crdtFields: readonly string[];
  readonly columns: readonly { path: string }[];
}

/** Builds the statements of a collection. */
export function collectionSql(name: string, def: CollectionDef): CollectionSql {
  const table = quoteIdentifier(docTable(name));
  const columns = columnPaths(def);
  const names = ['id', '_live', '_v', '_state', '_doc', ...columns.map((c) => quoteIdentifier(c.path))];
  const updates = names.slice(1).map((n) => `${n} = excluded.${n}`);
  return {
    name,
    def,
    table,
    selectState: `SELECT _state FROM ${table} WHERE id = ?`,
    upsert: `INSERT INTO ${table} (${names.join(', ')}) VALUES (${names.map(() => '?').join(', ')}) ON CONFLICT (id) DO UPDATE SET ${updates.join(', ')}`,
    crdtFields: Object.entries(def.fields)
      .filter(([, f]) => f.kind === 'list' || f.kind === 'text')
      .map(([field]) => field),
    columns,
  };
}

function leafValue(doc: MaterializedDoc | undefined, path: string): unknown {
  let value: unknown = doc;
  for (const part of path.split('.')) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

/** The parameters of `upsert` for a document's state. */
export function rowParams(c: CollectionSql, id: string, state: DocState, version: number): SqlValue[] {
  const doc = materialize(c.def, id, state);
  const params: SqlValue[] = [id, doc ? 1 : 0, version, encodeDocState(state), doc ? encode(doc) : null];
  for (const { path } of c.columns) params.push(doc ? toSqlValue(leafValue(doc, path)) : null);
  return params;
}

/** Loads a document's merge state with its Yjs fields, or undefined when no op ever touched it. */
export async function loadDocState(
  sql: SqlExecutor,
  c: CollectionSql,
  id: string,
): Promise<DocState | undefined> {
  const row = await sql.get<{ _state: Uint8Array }>(c.selectState, [id]);
  if (!row) return undefined;
  const state = decodeDocState(row._state);
  if (c.crdtFields.length > 0) {
    const rows = await sql.all<{ field: string; state: Uint8Array }>(
      'SELECT field, state FROM loam_yjs WHERE collection = ? AND doc = ?',
      [c.name, id],
    );
    for (const r of rows) {
      const doc = new Y.Doc({ guid: r.field });
      Y.applyUpdate(doc, r.state);
      state.crdts[r.field] = doc;
    }
  }
  return state;
}

const UPSERT_YJS = 'INSERT OR REPLACE INTO loam_yjs (collection, doc, field, state) VALUES (?, ?, ?, ?)';
const DELETE_YJS = 'DELETE FROM loam_yjs WHERE collection = ? AND doc = ? AND field = ?';

/**
 * Saves the Yjs state of a document's list and text fields: those in `fields`, or every one when `all` (after a
 * create, a delete or a new state), dropping the rows of fields the state no longer has.
 */
export async function saveYjs(
  sql: SqlExecutor,
  c: CollectionSql,
  id: string,
  state: DocState,
  fields: ReadonlySet<string>,
  all: boolean,
): Promise<void> {
  for (const field of c.crdtFields) {
    const doc = state.crdts[field];
    if (doc && (all || fields.has(field)))
      await sql.run(UPSERT_YJS, [c.name, id, field, Y.encodeStateAsUpdate(doc)]);
    else if (!doc && all) await sql.run(DELETE_YJS, [c.name, id, field]);
  }
}

/** Writes a document's row (at row version `version`) and the Yjs state of every list and text field. */
export async function saveDoc(
  sql: SqlExecutor,
  c: CollectionSql,
  id: string,
  state: DocState,
  version: number,
) {
  await sql.run(c.upsert, rowParams(c, id, state, version));
  if (c.crdtFields.length > 0) await saveYjs(sql, c, id, state, new Set(), true);
}

/** Removes a document from the device: its row and its Yjs state (no op is written). True when it was there. */
export async function removeDoc(sql: SqlExecutor, c: CollectionSql, id: string): Promise<boolean> {
  const removed = await sql.run(`DELETE FROM ${c.table} WHERE id = ?`, [id]);
  await sql.run('DELETE FROM loam_yjs WHERE collection = ? AND doc = ?', [c.name, id]);
  return removed.changes > 0;
}
