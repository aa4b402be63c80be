/**
 * The PostgreSQL store's ledger of op ids, one group transaction at a time (invariants 2 and 8 of
 * `server-store.ts`): `loam_server_ops` (op id → content digest, batch time; the dedupe table, never compacted) and
 * `loam_server_seqs` (replica → highest accepted sequence number, never compacted).
 *
 * Before planning, the group inserts every op id it carries with the digest of its first op (`insert`, in the
 * group's first flight, under the documents' locks): an id not inserted was recorded by an earlier transaction,
 * whose digest `readHeld` then reads. Planning asks `recorded`. Afterwards `settle` deletes the ids no batch
 * accepted, gives an accepted op whose digest differs from the inserted one (an earlier op with its id was refused)
 * its own, and raises the replicas' sequence numbers, in replica order. Beside them, `loam_server_reissues`
 * (read in the first flight for the group's op contents) keeps the renumberings of writes answered as conflicts
 * (`batch-plan.ts`).
 */
import type { Op } from '@loam/core';
import type { TransactionSql } from 'postgres';
import {
  type BatchPlan,
  type Digest,
  type FreshOp,
  highestSeqs,
  type Reissue,
  reissueOf,
} from './batch-plan';
import { type OpDigests, opDigests, sameDigest } from './op-digest';
import type { ApplyBatchRequest } from './server-store';
import { byteaArray } from './storage-postgres-sql';

const INSERT_OPS = `INSERT INTO loam_server_ops (id, at, hash)
  SELECT * FROM unnest($1::text[], $2::bigint[], $3::bytea[]) ON CONFLICT DO NOTHING RETURNING id`;
const READ_HELD = 'SELECT id, hash FROM loam_server_ops WHERE id = ANY($1::text[])';
const DROP_OPS = 'DELETE FROM loam_server_ops WHERE id = ANY($1::text[])';
const REHASH_OPS = `UPDATE loam_server_ops o SET hash = u.hash FROM unnest($1::text[], $2::bytea[]) AS u(id, hash)
  WHERE o.id = u.id`;
const RAISE_SEQS = `INSERT INTO loam_server_seqs (replica, seq) SELECT * FROM unnest($1::text[], $2::bigint[])
  ON CONFLICT (replica) DO UPDATE SET seq = excluded.seq WHERE loam_server_seqs.seq < excluded.seq`;
const READ_REISSUES =
  'SELECT content, origin, id, pending FROM loam_server_reissues WHERE content = ANY($1::bytea[])';
const INSERT_ECHOES = `INSERT INTO loam_server_reissues (content, origin, id, pending)
  SELECT content, id, id, 0 FROM unnest($1::bytea[], $2::text[]) AS u(content, id) ON CONFLICT DO NOTHING`;
const INSERT_REISSUES = `INSERT INTO loam_server_reissues (content, origin, pending)
  SELECT *, 1 FROM unnest($1::bytea[], $2::text[]) ON CONFLICT (content, origin)
  DO UPDATE SET pending = loam_server_reissues.pending + 1`;
const SETTLE_REISSUES = `UPDATE loam_server_reissues r SET id = coalesce(r.id, u.id), pending = 0
  FROM unnest($1::bytea[], $2::text[]) AS u(content, id) WHERE r.content = u.content AND r.pending > 0`;
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

/** A group's op ids, from insertion (before planning) to settlement (after). */
export interface GroupLedger {
  /**
   * Inserts the ids nobody recorded yet, returning the inserted ones. Not sent until awaited: queue it in the
   * group's first flight, after the document locks.
   */
  insert(tx: TransactionSql): PromiseLike<readonly { id: string }[]>;
  /** Notes what `insert` returned, and reads the digests of the ids it found recorded (if any). */
  readHeld(tx: TransactionSql, inserted: readonly { id: string }[]): Promise<void>;
  /** For `planBatch`: the digest recorded with an id, by an earlier transaction or an earlier batch of the group. */
  recorded(id: string): Digest;
  /** For `planBatch`: an op's digests, computed once per group. */
  digests(op: Op): OpDigests;
  /** What is remembered of the group's op contents as conflicting writes; queue it in the first flight. */
  readReissues(tx: TransactionSql): PromiseLike<void>;
  /** For `planBatch`: the pending renumberings of a content. */
  reissued(content: Uint8Array, opId: string): Reissue;
  /** Notes what a batch of the group accepted (its fresh ops), remembered (conflicts) and settled (renumberings). */
  accept(plan: Pick<BatchPlan, 'fresh' | 'reissues' | 'settled' | 'echoed'>): void;
  /** The statements that settle the group's ids; send them before the counter is taken. */
  settle(tx: TransactionSql): Promise<unknown>[];
}

/** The ledger of one group transaction over `requests`. */
export function createGroupLedger(requests: readonly ApplyBatchRequest[]): GroupLedger {
  const at = new Map<string, number>();
  const inserting = new Map<string, Uint8Array>();
  const digests = new Map<Op, OpDigests>();
  for (const request of requests) {
    const now = request.now ?? Date.now();
    for (const op of request.ops) {
      const digest = opDigests(op);
      digests.set(op, digest);
      if (at.has(op.id)) continue;
      at.set(op.id, now);
      inserting.set(op.id, digest.op);
    }
  }
  const inserted = new Set<string>();
  const held = new Map<string, Uint8Array | null>();
  const accepted = new Map<string, Uint8Array>();
  const fresh: FreshOp[] = [];
  const reissues = new Map<string, { origin: string; id: string | null; pending: number }[]>();
  const echoed: { content: Uint8Array; id: string }[] = [];
  const remembered: { content: Uint8Array; origin: string }[] = [];
  const settled: { content: Uint8Array; id: string | null }[] = [];

  return {
    insert(tx) {
      if (at.size === 0) return Promise.resolve([]);
      return tx.unsafe<{ id: string }[]>(
        INSERT_OPS,
        [[...at.keys()], [...at.values()], byteaArray([...inserting.values()])] as never[],
        { prepare: true },
      );
    },
    async readHeld(tx, rows) {
      for (const row of rows) inserted.add(row.id);
      const before = [...at.keys()].filter((id) => !inserted.has(id));
      if (before.length === 0) return;
      for (const row of await tx.unsafe<{ id: string; hash: Buffer | null }[]>(READ_HELD, [before], {
        prepare: true,
      }))
        held.set(row.id, row.hash);
    },
    recorded: (id) => accepted.get(id) ?? (inserted.has(id) ? undefined : (held.get(id) ?? null)),
    digests: (op) => digests.get(op) ?? opDigests(op),
    readReissues(tx) {
      const contents = new Map<string, Uint8Array>();
      for (const { content } of digests.values()) contents.set(hex(content), content);
      if (contents.size === 0) return Promise.resolve();
      return tx
        .unsafe<{ content: Buffer; origin: string; id: string | null; pending: number }[]>(
          READ_REISSUES,
          [byteaArray([...contents.values()])] as never[],
          { prepare: true },
        )
        .then((rows) => {
          for (const row of rows) {
            const key = hex(row.content);
            reissues.set(key, [
              ...(reissues.get(key) ?? []),
              { origin: row.origin, id: row.id, pending: row.pending },
            ]);
          }
        });
    },
    reissued: (content, opId) => reissueOf(reissues.get(hex(content)) ?? [], opId),
    accept(plan) {
      for (const f of plan.fresh) {
        accepted.set(f.op.id, f.digest);
        fresh.push(f);
      }
      for (const r of plan.reissues) {
        remembered.push(r);
        const key = hex(r.content);
        reissues.set(key, [...(reissues.get(key) ?? []), { origin: r.origin, id: null, pending: 1 }]);
      }
      for (const s of plan.settled) {
        settled.push(s);
        const key = hex(s.content);
        reissues.set(
          key,
          (reissues.get(key) ?? []).map((r) => (r.pending > 0 ? { ...r, id: r.id ?? s.id, pending: 0 } : r)),
        );
      }
      for (const e of plan.echoed) {
        echoed.push(e);
        const key = hex(e.content);
        reissues.set(key, [...(reissues.get(key) ?? []), { origin: e.id, id: e.id, pending: 0 }]);
      }
    },
    settle(tx) {
      const statements: Promise<unknown>[] = [];
      const dropped = [...inserted].filter((id) => !accepted.has(id));
      if (dropped.length > 0) statements.push(tx.unsafe(DROP_OPS, [dropped], { prepare: true }));
      const rehashed = fresh.filter((f) => !sameDigest(inserting.get(f.op.id), f.digest));
      if (rehashed.length > 0)
        statements.push(
          tx.unsafe(
            REHASH_OPS,
            [rehashed.map((f) => f.op.id), byteaArray(rehashed.map((f) => f.digest))] as never[],
            { prepare: true },
          ),
        );
      if (remembered.length > 0)
        statements.push(
          tx.unsafe(
            INSERT_REISSUES,
            [byteaArray(remembered.map((r) => r.content)), remembered.map((r) => r.origin)] as never[],
            { prepare: true },
          ),
        );
      if (settled.length > 0)
        statements.push(
          tx.unsafe(
            SETTLE_REISSUES,
            [byteaArray(settled.map((r) => r.content)), settled.map((r) => r.id)] as never[],
            { prepare: true },
          ),
        );
      if (echoed.length > 0)
        statements.push(
          tx.unsafe(
            INSERT_ECHOES,
            [byteaArray(echoed.map((e) => e.content)), echoed.map((e) => e.id)] as never[],
            { prepare: true },
          ),
        );
      const raised = [...highestSeqs(fresh)].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      if (raised.length > 0)
        statements.push(
          tx.unsafe(RAISE_SEQS, [raised.map(([r]) => r), raised.map(([, n]) => n)], { prepare: true }),
        );
      return statements;
    },
  };
}
