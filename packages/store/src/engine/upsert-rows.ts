/**
 * Many rows of one collection written with its upsert in few statements: a multi-row `VALUES` list per statement, so
 * a download of thousands of documents costs tens of statement runs, not thousands (each run is a call into SQLite,
 * an async one in the browser).
 */
import type { SqlExecutor, SqlValue } from '../storage/driver';
import type { CollectionSql } from './doc-rows';

/** Rows per multi-row upsert of a download (fewer statement runs: each costs a call into SQLite). */
const UPSERT_ROWS = 64;
/** SQLite's bound on parameters per statement (since 3.32). */
const MAX_PARAMS = 32_766;
const multiUpserts = new WeakMap<CollectionSql, Map<number, string>>();

/** `c.upsert` for `n` rows in one statement (their ids must differ: a row is not upserted twice in one statement). */
function multiUpsert(c: CollectionSql, n: number): string {
  let byCount = multiUpserts.get(c);
  if (!byCount) {
    byCount = new Map();
    multiUpserts.set(c, byCount);
  }
  let text = byCount.get(n);
  if (!text) {
    const values = c.upsert.indexOf(' VALUES (');
    const conflict = c.upsert.indexOf(') ON CONFLICT');
    const one = c.upsert.slice(values + ' VALUES '.length, conflict + 1);
    text = `${c.upsert.slice(0, values)} VALUES ${Array(n).fill(one).join(', ')}${c.upsert.slice(conflict + 1)}`;
    byCount.set(n, text);
  }
  return text;
}

/** Writes rows of distinct documents with `c.upsert`, many rows per statement. */
export async function upsertRows(
  sql: SqlExecutor,
  c: CollectionSql,
  rows: readonly SqlValue[][],
): Promise<void> {
  const per = Math.max(1, Math.min(UPSERT_ROWS, Math.floor(MAX_PARAMS / (5 + c.columns.length))));
  let i = 0;
  if (rows.length >= per) {
    const text = multiUpsert(c, per);
    const params: SqlValue[] = [];
    for (; i + per <= rows.length; i += per) {
      params.length = 0;
      for (let j = i; j < i + per; j++) for (const value of rows[j] as SqlValue[]) params.push(value);
      await sql.run(text, params);
    }
  }
  if (i < rows.length) await sql.batch(c.upsert, rows.slice(i));
}
