/**
 * Joining a download's documents without list or text fields into rows, many at a time (`mergeRows` of
 * `sync-store.ts`): the stored states of the documents the device holds, read together, and the loop that joins each
 * downloaded state into them or makes the row of a document held nowhere straight from its snapshot.
 */
import {
  createDocState,
  type DocState,
  isPackedDocState,
  type LatestTimestampTracker,
  mergeDocState,
  type PackedDocState,
  type PlainV2Scan,
  readDocSnapshot,
  scanPlainV2,
  unpackDocState,
} from '@loam/core';
import type { DownloadedDoc } from '@loam/sync';
import type { SqlExecutor, SqlValue } from '../storage/driver';
import {
  type CollectionSql,
  decodeRowState,
  isFreshWritable,
  rowParams,
  snapshotRowParams,
} from './doc-rows';
import { idsForIn } from './queries';

/** Ids per `IN (...)` read (well under SQLite's bound on parameters). */
const READ_CHUNK = 512;
/** Rows of fresh documents written at a time (so that a large download's rows die young). */
const WRITE_CHUNK = 512;

/** A downloaded state, decoded when it came as bytes (see `DownloadedDoc.state`): once per download entry. */
export const readState = (state: DownloadedDoc['state']): DocState | PackedDocState =>
  state instanceof Uint8Array ? readDocSnapshot(state) : state;

/** A downloaded state as a `DocState` (a format-2 snapshot is unpacked: do it once per download entry). */
export const docStateOf = (state: DocState | PackedDocState): DocState =>
  isPackedDocState(state) ? unpackDocState(state) : state;

/** True when `id` sorts the same in JavaScript as in SQLite (UTF-16 code units against UTF-8 bytes). */
function sortsAlike(id: string): boolean {
  for (let i = 0; i < id.length; i++) if (id.charCodeAt(i) >= 0xd800) return false;
  return true;
}

/**
 * The stored states of the documents of `docs` this device holds a row of, read in a few `IN (...)` queries, and
 * whether no id comes twice in `docs` (known when they come in increasing order). A download whose ids all lie in a
 * range of ids the table holds none of (a full set arrives in id order, page after page) costs one probe of that
 * range instead.
 */
export async function heldStates(
  sql: SqlExecutor,
  c: CollectionSql,
  docs: readonly DownloadedDoc[],
): Promise<{ states: Map<string, DocState>; unique: boolean }> {
  const states = new Map<string, DocState>();
  if (docs.length === 0) return { states, unique: true };
  let low = (docs[0] as DownloadedDoc).id;
  let high = low;
  let ranged = true;
  let increasing = true;
  let last = '';
  for (const { id } of docs) {
    if (!sortsAlike(id)) {
      ranged = increasing = false;
      break;
    }
    if (id <= last) increasing = false;
    last = id;
    if (id < low) low = id;
    else if (id > high) high = id;
  }
  if (
    ranged &&
    !(await sql.get(`SELECT 1 AS held FROM ${c.table} WHERE id >= ? AND id <= ? LIMIT 1`, [low, high]))
  )
    return { states, unique: increasing };
  const ids = [...new Set(docs.map((d) => d.id))];
  for (let i = 0; i < ids.length; i += READ_CHUNK) {
    const chunk = idsForIn(ids.slice(i, i + READ_CHUNK));
    const found = await sql.all(
      `SELECT id, ${c.stateColumns} FROM ${c.table} WHERE id IN (${chunk.map(() => '?').join(', ')})`,
      chunk,
    );
    for (const r of found) states.set(r.id as string, decodeRowState(c, r));
  }
  return { states, unique: increasing };
}

/** What `mergeRows` gathers while it joins a download's documents (see `joinRows`). */
export interface Joining {
  /** The states of the documents held or joined so far. */
  readonly states: Map<string, DocState>;
  /** No id comes twice in the download. */
  readonly unique: boolean;
  /** Documents whose state changed, to write at the end. */
  readonly changed: Set<string>;
  /** Fresh documents to write straight from their snapshot's bytes at the end (when an id may come twice). */
  readonly fresh: Map<string, Uint8Array>;
  readonly seen: LatestTimestampTracker;
  readonly version: number;
}

/** The scan of a downloaded state that came as the bytes of a snapshot a fresh row can be written from, if it is one. */
function freshScan(state: DownloadedDoc['state']): PlainV2Scan | undefined {
  if (!(state instanceof Uint8Array)) return undefined;
  const scan = scanPlainV2(state);
  return scan && isFreshWritable(scan) ? scan : undefined;
}

/**
 * Joins `docs` from `at` on (see `mergeRows`), until `WRITE_CHUNK` rows of documents held nowhere are made (in
 * `rows`, to be written at once; only when no id comes twice) or the documents end; returns where it stopped.
 * Synchronous, so that its loop runs on plain locals.
 */
export function joinRows(
  c: CollectionSql,
  docs: readonly DownloadedDoc[],
  at: number,
  join: Joining,
  rows: SqlValue[][],
): number {
  const { states, unique, changed, fresh, seen, version } = join;
  let i = at;
  while (i < docs.length) {
    const doc = docs[i++] as DownloadedDoc;
    const { id } = doc;
    let state = states.get(id);
    if (!state) {
      // Held nowhere: written straight from its snapshot's bytes when it can be, now when it comes only once.
      const scan = freshScan(doc.state);
      if (scan) {
        seen.seeScan(scan);
        if (unique) {
          if (rows.push(snapshotRowParams(c, id, scan, version)) === WRITE_CHUNK) break;
          continue;
        }
        if (!fresh.has(id)) {
          fresh.set(id, doc.state as Uint8Array);
          continue;
        }
      }
    }
    const incoming = readState(doc.state);
    seen.see(incoming);
    if (!state && unique) {
      // Held nowhere and not coming again in this download: its row now, joined into nothing.
      const joined = createDocState();
      if (!mergeDocState(joined, docStateOf(incoming))) continue;
      if (rows.push(rowParams(c, id, joined, version, false)) === WRITE_CHUNK) break;
      continue;
    }
    if (!state) {
      state = createDocState();
      states.set(id, state);
      const first = fresh.get(id);
      if (first) {
        fresh.delete(id);
        mergeDocState(state, docStateOf(readState(first)));
        changed.add(id);
      }
    }
    if (mergeDocState(state, docStateOf(incoming))) changed.add(id);
  }
  return i;
}
