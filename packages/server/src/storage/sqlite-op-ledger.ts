/**
 * The SQLite store's ledger of op ids: `loam_server_ops` (op id → content digest, batch time; the dedupe table,
 * compacted) and `loam_server_seqs` (replica → highest accepted sequence number, never compacted). See invariants
 * 2 and 6 of `server-store.ts`.
 */
import { type Op, parseOpId } from '@loam/core';
import type { SqlExecutor } from '@loam/store';
import { opDigest, sameDigest } from './op-digest';

/** What the ledger knows of a batch's op ids. */
export interface LedgerCheck {
  /** The digest of each op id of the batch (the first op carrying it). */
  readonly digests: ReadonlyMap<string, Uint8Array>;
  /** Ids already recorded with the same content: duplicates. */
  readonly known: ReadonlySet<string>;
  /** Ops whose id is recorded with other content, in batch order. */
  readonly conflicts: readonly Op[];
}

/** Looks up every op id of a batch. */
export async function checkOpIds(sql: SqlExecutor, ops: readonly Op[]): Promise<LedgerCheck> {
  const digests = new Map<string, Uint8Array>();
  const known = new Set<string>();
  const conflicts: Op[] = [];
  for (const op of ops) {
    if (digests.has(op.id)) continue;
    const digest = opDigest(op);
    digests.set(op.id, digest);
    const row = await sql.get<{ hash: Uint8Array | null }>('SELECT hash FROM loam_server_ops WHERE id = ?', [
      op.id,
    ]);
    if (!row) continue;
    if (sameDigest(row.hash, digest)) known.add(op.id);
    else conflicts.push(op);
  }
  return { digests, known, conflicts };
}

/** Records newly accepted ops (with their digests) and raises their replicas' highest sequence numbers. */
export async function recordOpIds(
  sql: SqlExecutor,
  fresh: readonly Op[],
  digests: ReadonlyMap<string, Uint8Array>,
  now: number,
): Promise<void> {
  if (fresh.length === 0) return;
  await sql.batch(
    'INSERT INTO loam_server_ops (id, at, hash) VALUES (?, ?, ?)',
    fresh.map((op) => [op.id, now, digests.get(op.id) ?? opDigest(op)]),
  );
  const highest = new Map<string, number>();
  for (const op of fresh) {
    const { replica, seq } = parseOpId(op.id);
    highest.set(replica, Math.max(highest.get(replica) ?? 0, seq));
  }
  await sql.batch(
    'INSERT INTO loam_server_seqs (replica, seq) VALUES (?, ?) ON CONFLICT (replica) DO UPDATE SET seq = max(seq, excluded.seq)',
    [...highest],
  );
}

/** The highest accepted sequence number of `replica` (0 when none). */
export async function highestSeq(sql: SqlExecutor, replica: string): Promise<number> {
  const row = await sql.get<{ seq: number }>('SELECT seq FROM loam_server_seqs WHERE replica = ?', [replica]);
  return Number(row?.seq ?? 0);
}
