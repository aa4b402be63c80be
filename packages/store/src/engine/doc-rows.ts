/**
 * How one document's merge state lives in its row: `_state` holds the register and counter metadata (MessagePack),
 * `_doc` the materialized document (MessagePack, so dates stay dates), and one column per scalar leaf for queries.
 * List and text fields live in Yjs rows (`yjs-rows.ts`). The engine leaves them out of `_doc` (a keystroke must not
 * rewrite the whole text) and adds them when it reads a document; the relay's stores keep them in `_doc`.
 */

import {
  type CollectionDef,
  type CounterState,
  type DocState,
  type MaterializedDoc,
  materialize,
  type Timestamp,
  type Value,
} from '@loam/core';
import { Decoder, Encoder } from '@msgpack/msgpack';
import { quoteIdentifier, toSqlValue } from '../query/sql-compiler';
import type { SqlExecutor, SqlValue } from '../storage/driver';
import { type DocCache, docKey } from './doc-cache';
import { columnPaths, docTable } from './tables';
import { crdtValue, loadYjs, removeYjs, type StoredDoc, saveAllYjs } from './yjs-rows';

const encoder = new Encoder();
const decoder = new Decoder();
const encode = (value: unknown) => encoder.encode(value);
const decode = (bytes: Uint8Array) => decoder.decode(bytes);

/** Layout tag of `_state` written since timestamps are stored once per document (older rows have no tag). */
const STATE_LAYOUT = 2;

/**
 * Encodes a document's register and counter metadata (Yjs states are stored apart). Each distinct timestamp is
 * written once, in a table the registers, resets and increments point into: the registers a create wrote share one.
 * `[2, epoch, created, deleted, times, [path, value, time]..., [field, base, time | -1, value, [opId, time, by]...]...]`
 */
export function encodeDocState(state: DocState): Uint8Array {
  const times: string[] = [];
  const index = new Map<string, number>();
  const time = (t: string | null) => {
    if (t === null) return -1;
    let i = index.get(t);
    if (i === undefined) {
      i = times.length;
      times.push(t);
      index.set(t, i);
    }
    return i;
  };
  const regs: unknown[] = [];
  for (const [path, r] of Object.entries(state.regs)) regs.push(path, r.v, time(r.t));
  const counters: unknown[] = [];
  for (const [field, c] of Object.entries(state.counters)) {
    const incs: unknown[] = [];
    for (const [id, [t, by]] of Object.entries(c.incs)) incs.push(id, time(t), by);
    counters.push(field, c.base, time(c.t), c.value, incs);
  }
  return encode([STATE_LAYOUT, state.epoch, state.created, state.deleted, times, regs, counters]);
}

/** Decodes `_state` (either layout); Yjs documents are attached separately (`yjs-rows.ts`). */
export function decodeDocState(bytes: Uint8Array): DocState {
  const raw = decode(bytes) as unknown[];
  if (raw.length === 5) {
    const [epoch, created, deleted, regs, counters] = raw as [
      number,
      boolean,
      boolean,
      DocState['regs'],
      DocState['counters'],
    ];
    return { epoch, created, deleted, regs, counters, crdts: {} };
  }
  const [, epoch, created, deleted, times, flatRegs, flatCounters] = raw as [
    number,
    number,
    boolean,
    boolean,
    Timestamp[],
    unknown[],
    unknown[],
  ];
  const at = (i: unknown) => (i === -1 ? null : (times[i as number] as Timestamp));
  const regs: DocState['regs'] = {};
  for (let i = 0; i < flatRegs.length; i += 3)
    regs[flatRegs[i] as string] = { v: flatRegs[i + 1] as Value, t: at(flatRegs[i + 2]) as Timestamp };
  const counters: DocState['counters'] = {};
  for (let i = 0; i < flatCounters.length; i += 5) {
    const flatIncs = flatCounters[i + 4] as unknown[];
    const incs: CounterState['incs'] = {};
    for (let j = 0; j < flatIncs.length; j += 3)
      incs[flatIncs[j] as string] = [at(flatIncs[j + 1]) as Timestamp, flatIncs[j + 2] as number];
    counters[flatCounters[i] as string] = {
      base: flatCounters[i + 1] as number,
      t: at(flatCounters[i + 2]),
      value: flatCounters[i + 3] as number,
      incs,
    };
  }
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
  /** Sets a row's version alone (`_v`, then `id`): a change to list or text fields only. */
  readonly bumpVersion: string;
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
    bumpVersion: `UPDATE ${table} SET _v = ? WHERE id = ?`,
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

/**
 * The parameters of `upsert` for a document's state. `crdtsInDoc` false leaves list and text fields out of `_doc`
 * (the engine's layout: they are read from their Yjs rows).
 */
export function rowParams(
  c: CollectionSql,
  id: string,
  state: DocState,
  version: number,
  crdtsInDoc = true,
): SqlValue[] {
  const lean = !crdtsInDoc && c.crdtFields.length > 0;
  const doc = materialize(c.def, id, lean ? { ...state, crdts: {} } : state);
  if (doc && lean) for (const field of c.crdtFields) delete doc[field];
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
  const row = await sql.get<{ _state: Uint8Array }>(c.selectState, [id]);
  if (!row) return undefined;
  const state = decodeDocState(row._state);
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
