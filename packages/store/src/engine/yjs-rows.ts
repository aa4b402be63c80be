/**
 * How the engine stores list and text fields (Yjs documents): incrementally, so a keystroke costs O(edit).
 *
 * ```
 * loam_yjs      (collection, doc, field) → state            the folded Yjs state (the relay's store shares this table)
 * loam_yjs_log  (collection, doc, field, seq) → bytes       Yjs updates appended since that fold, in order
 * ```
 * Invariants:
 * 1. A field's Yjs document is its folded state with every logged update applied (Yjs merges them in any order;
 *    they are applied in `seq` order).
 * 2. A save appends only the update it made. Once a field's log holds more bytes than
 *    `max(FOLD_MIN_BYTES, size of its folded state)`, that save folds instead: the whole state is written again and
 *    the log dropped. The state is re-encoded once per as many bytes of edits as it holds, so storage per edit stays
 *    proportional to the edit (amortised) and a field's rows never hold more than about twice its state.
 * 3. What is known of a field's rows (`FieldLog`) travels with its loaded state, so a save needs no read.
 */
import { type DocState, YJS_ROOT } from '@loam/core';
import * as Y from 'yjs';
import type { SqlExecutor } from '../storage/driver';

/** Below this many logged bytes a field is never folded. */
export const FOLD_MIN_BYTES = 16 * 1024;

/** The log table (created by the engine on open; the relay's store does not use it). */
export const YJS_LOG_DDL = `
CREATE TABLE IF NOT EXISTS loam_yjs_log (
  collection TEXT NOT NULL, doc TEXT NOT NULL, field TEXT NOT NULL, seq INTEGER NOT NULL, bytes BLOB NOT NULL,
  PRIMARY KEY (collection, doc, field, seq)
) WITHOUT ROWID;
`;

/** What is stored of one field: bytes of its folded state, bytes logged since, and the next log `seq`. */
export interface FieldLog {
  base: number;
  logged: number;
  next: number;
}

/** A document's merge state as loaded, with what is known of its Yjs rows. */
export interface StoredDoc {
  state: DocState;
  readonly logs: Map<string, FieldLog>;
}

const SELECT_STATES = 'SELECT field, state FROM loam_yjs WHERE collection = ? AND doc = ?';
const SELECT_LOG =
  'SELECT field, seq, bytes FROM loam_yjs_log WHERE collection = ? AND doc = ? ORDER BY field, seq';
const UPSERT_STATE = 'INSERT OR REPLACE INTO loam_yjs (collection, doc, field, state) VALUES (?, ?, ?, ?)';
const DELETE_STATE = 'DELETE FROM loam_yjs WHERE collection = ? AND doc = ? AND field = ?';
const APPEND = 'INSERT INTO loam_yjs_log (collection, doc, field, seq, bytes) VALUES (?, ?, ?, ?, ?)';
const DROP_LOG = 'DELETE FROM loam_yjs_log WHERE collection = ? AND doc = ? AND field = ?';

/** Loads the Yjs documents of a document's list and text fields into `state`; returns what is stored of each. */
export async function loadYjs(
  sql: SqlExecutor,
  collection: string,
  id: string,
  state: DocState,
): Promise<Map<string, FieldLog>> {
  const logs = new Map<string, FieldLog>();
  const fieldDoc = (field: string) => {
    let doc = state.crdts[field];
    if (!doc) {
      doc = new Y.Doc({ guid: field });
      state.crdts[field] = doc;
      logs.set(field, { base: 0, logged: 0, next: 1 });
    }
    return doc;
  };
  for (const r of await sql.all<{ field: string; state: Uint8Array }>(SELECT_STATES, [collection, id])) {
    Y.applyUpdate(fieldDoc(r.field), r.state);
    (logs.get(r.field) as FieldLog).base = r.state.length;
  }
  const rows = await sql.all<{ field: string; seq: number; bytes: Uint8Array }>(SELECT_LOG, [collection, id]);
  for (const r of rows) {
    const doc = fieldDoc(r.field);
    Y.applyUpdate(doc, r.bytes);
    const log = logs.get(r.field) as FieldLog;
    log.logged += r.bytes.length;
    log.next = r.seq + 1;
  }
  return logs;
}

async function fold(sql: SqlExecutor, collection: string, id: string, field: string, stored: StoredDoc) {
  const doc = stored.state.crdts[field];
  await sql.run(DROP_LOG, [collection, id, field]);
  if (!doc) {
    await sql.run(DELETE_STATE, [collection, id, field]);
    stored.logs.delete(field);
    return;
  }
  const bytes = Y.encodeStateAsUpdate(doc);
  await sql.run(UPSERT_STATE, [collection, id, field, bytes]);
  stored.logs.set(field, { base: bytes.length, logged: 0, next: 1 });
}

/** Saves one field's new update: appended to its log, or folded into its state past the threshold (invariant 2). */
export async function appendYjs(
  sql: SqlExecutor,
  collection: string,
  id: string,
  field: string,
  stored: StoredDoc,
  update: Uint8Array,
): Promise<void> {
  const log = stored.logs.get(field) ?? { base: 0, logged: 0, next: 1 };
  if (log.logged + update.length > Math.max(FOLD_MIN_BYTES, log.base))
    return fold(sql, collection, id, field, stored);
  await sql.run(APPEND, [collection, id, field, log.next, update]);
  stored.logs.set(field, { base: log.base, logged: log.logged + update.length, next: log.next + 1 });
}

/** Writes every list and text field's whole state (after a create, a delete or a replaced state). */
export async function saveAllYjs(
  sql: SqlExecutor,
  collection: string,
  id: string,
  fields: readonly string[],
  stored: StoredDoc,
): Promise<void> {
  for (const field of fields) await fold(sql, collection, id, field, stored);
}

/** Removes a document's Yjs rows. */
export async function removeYjs(sql: SqlExecutor, collection: string, id: string): Promise<void> {
  await sql.run('DELETE FROM loam_yjs WHERE collection = ? AND doc = ?', [collection, id]);
  await sql.run('DELETE FROM loam_yjs_log WHERE collection = ? AND doc = ?', [collection, id]);
}

/** The app's value of a list or text field of `state`. */
export function crdtValue(kind: 'list' | 'text', state: DocState, field: string): unknown {
  const doc = state.crdts[field];
  if (kind === 'text') return doc ? doc.getText(YJS_ROOT).toString() : '';
  return doc ? doc.getArray(YJS_ROOT).toJSON() : [];
}
