/**
 * The SQLite store's ledger of op ids: `loam_server_ops` (op id → content digest, batch time; the dedupe table,
 * never compacted) and `loam_server_seqs` (replica → highest accepted sequence number, never compacted). See invariants
 * 2 and 8 of `server-store.ts`.
 */
import type { SqlExecutor } from '@loam/store';
import { type FreshOp, highestSeqs } from './batch-plan';

/** The digest recorded with an op id (see `PlanSource.recorded`): undefined when the id is not recorded. */
export async function recordedDigest(sql: SqlExecutor, id: string): Promise<Uint8Array | null | undefined> {
  const row = await sql.get<{ hash: Uint8Array | null }>('SELECT hash FROM loam_server_ops WHERE id = ?', [
    id,
  ]);
  return row ? row.hash : undefined;
}

/** Records newly accepted ops (with their digests) and raises their replicas' highest sequence numbers. */
export async function recordOpIds(sql: SqlExecutor, fresh: readonly FreshOp[], now: number): Promise<void> {
  if (fresh.length === 0) return;
  await sql.batch(
    'INSERT INTO loam_server_ops (id, at, hash) VALUES (?, ?, ?)',
    fresh.map(({ op, digest }) => [op.id, now, digest]),
  );
  await sql.batch(
    'INSERT INTO loam_server_seqs (replica, seq) VALUES (?, ?) ON CONFLICT (replica) DO UPDATE SET seq = max(seq, excluded.seq)',
    [...highestSeqs(fresh)],
  );
}

/** The highest accepted sequence number of `replica` (0 when none). */
export async function highestSeq(sql: SqlExecutor, replica: string): Promise<number> {
  const row = await sql.get<{ seq: number }>('SELECT seq FROM loam_server_seqs WHERE replica = ?', [replica]);
  return Number(row?.seq ?? 0);
}
