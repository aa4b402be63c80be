/**
 * The PostgreSQL store's durable webhook queue (invariant 7 of `server-store.ts`):
 * ```
 * loam_server_lanes        one row per lane: the lock a deliverer holds (FOR UPDATE SKIP LOCKED)
 * loam_server_deliveries   id (order) → lane, uid, version, body, attempts, due_at
 * ```
 * A deliverer locks its lane's row, skipping it if another node holds it, and keeps the lock while it attempts the
 * lane's oldest delivery; the outcome (row deleted, or attempts and due time raised) commits with the lock's
 * release. A node that dies mid-attempt loses its connection, which rolls back and frees the lane for the next.
 */
import { randomUUID } from 'node:crypto';
import type { PendingQuery, Row, Sql, TransactionSql } from 'postgres';
import type { DeliveryQueue, OutboxEntry } from './server-store';
import { VERSION } from './storage-postgres-batch';

type HeadRow = { id: string; uid: string; version: string; body: string; attempts: number; due_at: string };

/** The queue, plus the enqueue step the group committer runs inside a version's transaction. */
export interface PostgresDeliveryQueue extends DeliveryQueue {
  /** Queues deliveries of the version the transaction `tx` takes (it updated the counter before). */
  enqueue(tx: TransactionSql, entries: readonly OutboxEntry[], now: number): PendingQuery<Row[]>;
}

/** Creates the queue of a PostgreSQL store. */
export function createPostgresDeliveryQueue(sql: Sql): PostgresDeliveryQueue {
  const known = new Set<string>();
  return {
    enqueue(tx, entries, now) {
      return tx.unsafe(
        `INSERT INTO loam_server_deliveries (lane, uid, version, body, due_at)
         SELECT lane, uid::uuid, ${VERSION}, body, $3::bigint FROM unnest($1::text[], $2::text[], $4::text[]) AS u(lane, uid, body)`,
        [entries.map((e) => e.lane), entries.map(() => randomUUID()), now, entries.map((e) => e.body)],
      );
    },

    async deliverNext(lane, now, attempt) {
      if (!known.has(lane)) {
        await sql.unsafe('INSERT INTO loam_server_lanes (lane) VALUES ($1) ON CONFLICT DO NOTHING', [lane]);
        known.add(lane);
      }
      return sql.begin(async (tx) => {
        const locked = await tx.unsafe(
          'SELECT lane FROM loam_server_lanes WHERE lane = $1 FOR UPDATE SKIP LOCKED',
          [lane],
        );
        if (locked.length === 0) return 'busy' as const;
        const [head] = await tx.unsafe<HeadRow[]>(
          'SELECT id, uid, version, body, attempts, due_at FROM loam_server_deliveries WHERE lane = $1 ORDER BY id LIMIT 1',
          [lane],
        );
        if (!head) return 'idle' as const;
        if (Number(head.due_at) > now) return { dueAt: Number(head.due_at) };
        const outcome = await attempt({
          id: head.uid,
          lane,
          version: Number(head.version),
          body: head.body,
          attempts: head.attempts,
        });
        if (outcome.done) await tx.unsafe('DELETE FROM loam_server_deliveries WHERE id = $1', [head.id]);
        else
          await tx.unsafe(
            'UPDATE loam_server_deliveries SET attempts = attempts + 1, due_at = $2 WHERE id = $1',
            [head.id, outcome.retryAt],
          );
        return 'attempted' as const;
      });
    },

    async pending(lanes) {
      if (lanes.length === 0) return 0;
      const [row] = await sql.unsafe<{ n: string }[]>(
        'SELECT count(*) AS n FROM loam_server_deliveries WHERE lane = ANY($1::text[])',
        [[...lanes]],
      );
      return Number(row?.n ?? 0);
    },
  };
}
