/**
 * The SQLite store's ledger of op ids: `loam_server_ops` (op id → content digest, batch time; the dedupe table,
 * never compacted), `loam_server_seqs` (replica → highest accepted sequence number, never compacted) and
 * `loam_server_reissues` (content digest and id of a write answered as a conflict → whether its renumbering is
 * still due, and the id it was applied under).
 * See invariants 2 and 8 of `server-store.ts`.
 */
import type { SqlExecutor } from '@loam/store';
import { type BatchPlan, type FreshOp, highestSeqs, type Reissue, reissueOf } from './batch-plan';

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

/** The pending renumberings of a content (see `PlanSource.reissued`). */
export async function reissuedAs(sql: SqlExecutor, content: Uint8Array, opId: string): Promise<Reissue> {
  return reissueOf(
    await sql.all<{ origin: string; id: string | null; pending: number }>(
      'SELECT origin, id, pending FROM loam_server_reissues WHERE content = ?',
      [content],
    ),
    opId,
  );
}

/** Remembers a batch's conflicts as pending renumberings, and settles those it applied or echoed. */
export async function recordReissues(sql: SqlExecutor, plan: BatchPlan): Promise<void> {
  if (plan.reissues.length > 0)
    await sql.batch(
      `INSERT INTO loam_server_reissues (content, origin, id, pending) VALUES (?, ?, NULL, 1)
       ON CONFLICT (content, origin) DO UPDATE SET pending = pending + 1`,
      plan.reissues.map(({ content, origin }) => [content, origin]),
    );
  if (plan.settled.length > 0)
    await sql.batch(
      'UPDATE loam_server_reissues SET id = coalesce(id, ?), pending = 0 WHERE content = ? AND pending > 0',
      plan.settled.map(({ content, id }) => [id, content]),
    );
  if (plan.echoed.length > 0)
    await sql.batch(
      'INSERT OR IGNORE INTO loam_server_reissues (content, origin, id, pending) VALUES (?, ?, ?, 0)',
      plan.echoed.map(({ content, id }) => [content, id, id]),
    );
}
