/**
 * The outbox: this replica's local ops not yet acknowledged, one row per committed transaction (`encodeOps` of its
 * ops, in commit order; deflated when large, see `DEFLATED`), with an index of the documents each transaction wrote.
 *
 * ```
 * loam_outbox       seq (commit order) → ops, count
 * loam_outbox_docs  (collection, doc, tx) : which pending transactions wrote a document
 * ```
 * Invariant: a document has a row in `loam_outbox_docs` for a transaction exactly when that transaction still has
 * a pending op on it. So "the pending ops of one document" reads only the transactions that wrote it, never the
 * whole outbox (a replace-mode download of every document after a client reset stays linear).
 *
 * The index has no second index by transaction: whoever rewrites a transaction has decoded its ops, so it knows the
 * documents' rows to delete, and a bulk transaction writes each document's key once instead of twice. Its rows are
 * written with multi-row INSERTs (`multi-row.ts`).
 */
import { decodeOps, encodeOps, type Op } from '@loam/core';
import type { SqlExecutor } from '../storage/driver';
import { type InsertShape, insertRows, whereIn } from '../storage/multi-row';

const CHUNK = 200;
const INSERT_TX = 'INSERT INTO loam_outbox (ops, count) VALUES (?, ?) RETURNING seq';
/** Index rows of one collection and transaction (shared), a document id each. */
const INSERT_DOCS: InsertShape = {
  head: 'INSERT OR IGNORE INTO loam_outbox_docs (collection, tx, doc) SELECT ?, ?, column1 FROM (VALUES',
  width: 1,
  tail: ')',
};
const DELETE_DOCS = 'DELETE FROM loam_outbox_docs WHERE collection = ? AND tx = ? AND doc';

/**
 * The outbox's tables (created on open; the document index is filled in for databases made before it existed, and
 * loses the index by transaction databases made before it was dropped had).
 */
export const OUTBOX_DDL = `
CREATE TABLE IF NOT EXISTS loam_outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, ops BLOB NOT NULL, count INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS loam_outbox_docs (
  collection TEXT NOT NULL, doc TEXT NOT NULL, tx INTEGER NOT NULL, PRIMARY KEY (collection, doc, tx)
) WITHOUT ROWID;
DROP INDEX IF EXISTS loam_outbox_docs_tx;
`;

/**
 * First byte of a row stored deflated (`encodeOps` rows start with their format version, 1). Only large rows are
 * deflated: a bulk transaction's ops repeat the replica, collection and timestamp prefixes op after op, and every
 * byte not written is a page not written at commit; a small transaction is not worth the round trip.
 */
const DEFLATED = 0xfe;
const DEFLATE_FROM_BYTES = 16 * 1024;

/** `bytes` through a compression stream, written to it directly (no `Blob` copy of a large row). */
async function pipe(
  bytes: Uint8Array,
  through: CompressionStream | DecompressionStream,
): Promise<Uint8Array> {
  const writer = through.writable.getWriter();
  const written = writer.write(bytes as Uint8Array<ArrayBuffer>).then(() => writer.close());
  const [out] = await Promise.all([new Response(through.readable).arrayBuffer(), written]);
  return new Uint8Array(out);
}

/** A transaction's ops as stored in its row: `encodeOps`, deflated when large. */
async function encodeRow(ops: readonly Op[]): Promise<Uint8Array> {
  const bytes = encodeOps(ops);
  if (bytes.length < DEFLATE_FROM_BYTES) return bytes;
  const packed = await pipe(bytes, new CompressionStream('deflate'));
  if (packed.length + 1 >= bytes.length) return bytes;
  const out = new Uint8Array(packed.length + 1);
  out[0] = DEFLATED;
  out.set(packed, 1);
  return out;
}

async function decodeRow(stored: Uint8Array): Promise<Op[]> {
  const bytes =
    stored[0] === DEFLATED ? await pipe(stored.subarray(1), new DecompressionStream('deflate')) : stored;
  return decodeOps(bytes, { maxOps: Number.MAX_SAFE_INTEGER, maxBytes: bytes.length });
}

/** The documents `ops` write, by collection. */
function docsOf(ops: readonly Op[]): Map<string, Set<string>> {
  const docs = new Map<string, Set<string>>();
  for (const op of ops) {
    let ids = docs.get(op.collection);
    if (!ids) {
      ids = new Set();
      docs.set(op.collection, ids);
    }
    ids.add(op.doc);
  }
  return docs;
}

/** The documents of `docs` that `except` lacks. */
function without(docs: Map<string, Set<string>>, except: Map<string, Set<string>>): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [collection, ids] of docs) {
    const skip = except.get(collection);
    const left = skip ? [...ids].filter((id) => !skip.has(id)) : [...ids];
    if (left.length > 0) out.set(collection, left);
  }
  return out;
}

/** Writes the index rows of transaction `tx` for `docs`. */
async function indexRows(sql: SqlExecutor, docs: Map<string, Iterable<string>>, tx: number): Promise<void> {
  for (const [collection, ids] of docs) await insertRows(sql, INSERT_DOCS, [...ids], [collection, tx]);
}

async function indexDocs(sql: SqlExecutor, tx: number, ops: readonly Op[]): Promise<void> {
  await indexRows(sql, docsOf(ops), tx);
}

/** Creates the tables, and indexes the transactions of an outbox written before the document index existed. */
export async function prepareOutbox(sql: SqlExecutor): Promise<void> {
  await sql.exec(OUTBOX_DDL);
  const indexed = await sql.get('SELECT 1 AS x FROM loam_outbox_docs LIMIT 1');
  if (indexed) return;
  for await (const row of transactions(sql)) await indexDocs(sql, row.seq, row.ops);
}

async function* transactions(sql: SqlExecutor): AsyncGenerator<{ seq: number; ops: Op[] }> {
  let after = 0;
  for (;;) {
    const rows = await sql.all<{ seq: number; ops: Uint8Array }>(
      'SELECT seq, ops FROM loam_outbox WHERE seq > ? ORDER BY seq LIMIT ?',
      [after, CHUNK],
    );
    for (const row of rows) yield { seq: row.seq, ops: await decodeRow(row.ops) };
    if (rows.length < CHUNK) return;
    after = (rows[rows.length - 1] as { seq: number }).seq;
  }
}

/** Appends one committed transaction's ops. */
export async function appendToOutbox(sql: SqlExecutor, ops: readonly Op[]): Promise<void> {
  const row = await sql.get<{ seq: number }>(INSERT_TX, [await encodeRow(ops), ops.length]);
  await indexDocs(sql, (row as { seq: number }).seq, ops);
}

/** Pending ops, oldest first: every one, or at least `limit` when given (whole transactions). */
export async function outboxOps(sql: SqlExecutor, limit = Number.POSITIVE_INFINITY): Promise<Op[]> {
  const out: Op[] = [];
  if (limit <= 0) return out;
  for await (const row of transactions(sql)) {
    out.push(...row.ops);
    if (out.length >= limit) break;
  }
  return out;
}

/** How many ops are pending. */
export async function outboxCount(sql: SqlExecutor): Promise<number> {
  const row = await sql.get<{ n: number }>('SELECT total(count) AS n FROM loam_outbox');
  return row?.n ?? 0;
}

/** The pending ops of one document, in commit order. */
export async function pendingOpsOf(sql: SqlExecutor, collection: string, doc: string): Promise<Op[]> {
  const rows = await sql.all<{ ops: Uint8Array }>(
    'SELECT o.ops FROM loam_outbox_docs d JOIN loam_outbox o ON o.seq = d.tx WHERE d.collection = ? AND d.doc = ? ORDER BY o.seq',
    [collection, doc],
  );
  const out: Op[] = [];
  for (const row of rows)
    for (const op of await decodeRow(row.ops))
      if (op.collection === collection && op.doc === doc) out.push(op);
  return out;
}

/** The ids of the documents of `collection` that have pending ops. */
export async function pendingDocsOf(sql: SqlExecutor, collection: string): Promise<Set<string>> {
  const rows = await sql.all<{ doc: string }>(
    'SELECT DISTINCT doc FROM loam_outbox_docs WHERE collection = ?',
    [collection],
  );
  return new Set(rows.map((r) => r.doc));
}

/**
 * Rewrites the pending transactions holding any op `change` maps to something else: `change` returns the op to
 * keep (itself or a replacement) or `undefined` to drop it. Stops once every op of `targets` was seen.
 */
async function rewrite(sql: SqlExecutor, targets: ReadonlySet<string>, change: (op: Op) => Op | undefined) {
  const wanted = new Set(targets);
  for await (const row of transactions(sql)) {
    if (wanted.size === 0) break;
    if (!row.ops.some((op) => wanted.has(op.id))) continue;
    const kept: Op[] = [];
    for (const op of row.ops) {
      wanted.delete(op.id);
      const next = change(op);
      if (next) kept.push(next);
    }
    const before = docsOf(row.ops);
    const after = docsOf(kept);
    for (const [collection, ids] of without(before, after))
      await whereIn(sql, DELETE_DOCS, ids, [collection, row.seq]);
    await indexRows(sql, without(after, before), row.seq);
    if (kept.length === 0) {
      await sql.run('DELETE FROM loam_outbox WHERE seq = ?', [row.seq]);
      continue;
    }
    await sql.run('UPDATE loam_outbox SET ops = ?, count = ? WHERE seq = ?', [
      await encodeRow(kept),
      kept.length,
      row.seq,
    ]);
  }
}

/** Removes ops from the outbox (acknowledged or refused), rewriting the transactions they were part of. */
export async function dropFromOutbox(sql: SqlExecutor, opIds: readonly string[]): Promise<void> {
  if (opIds.length === 0) return;
  const drop = new Set(opIds);
  await rewrite(sql, drop, (op) => (drop.has(op.id) ? undefined : op));
}

/** Replaces pending ops by others of the same document (new ids), in place; `replacement` maps by old id. */
export async function replaceInOutbox(sql: SqlExecutor, replacement: ReadonlyMap<string, Op>): Promise<void> {
  await rewrite(sql, new Set(replacement.keys()), (op) => replacement.get(op.id) ?? op);
}
