/**
 * The SQLite store's durable webhook queue (invariant 7 of `server-store.ts`):
 * ```
 * loam_server_deliveries   id (order) → lane, delivery uid, version, body, attempts, due_at
 * ```
 * Rows are written in the transaction of their version and deleted once delivered or given up, so a restart
 * resumes where the last process stopped. One process owns the file; a lane is handed to one caller at a time.
 */
import { randomUUID } from 'node:crypto';
import type { SqlExecutor, StorageDriver } from '@loam/store';
import type { DeliveryQueue, OutboxEntry } from './server-store';

/** The table of the queue (idempotent). */
export const SQLITE_DELIVERIES_DDL = `
CREATE TABLE IF NOT EXISTS loam_server_deliveries (
  id INTEGER PRIMARY KEY AUTOINCREMENT, lane TEXT NOT NULL, uid TEXT NOT NULL, version INTEGER NOT NULL,
  body TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, due_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS loam_server_deliveries_lane ON loam_server_deliveries (lane, id);
`;

/** The queue, plus the enqueue step the store runs inside a batch's transaction. */
export interface SqliteDeliveryQueue extends DeliveryQueue {
  enqueue(tx: SqlExecutor, version: number, entries: readonly OutboxEntry[], now: number): Promise<void>;
}

type HeadRow = {
  id: number | bigint;
  uid: string;
  version: number | bigint;
  body: string;
  attempts: number | bigint;
  due_at: number | bigint;
};

/** Creates the queue over the store's driver. */
export function createSqliteDeliveryQueue(driver: StorageDriver): SqliteDeliveryQueue {
  const busy = new Set<string>();
  return {
    async enqueue(tx, version, entries, now) {
      await tx.batch(
        'INSERT INTO loam_server_deliveries (lane, uid, version, body, due_at) VALUES (?, ?, ?, ?, ?)',
        entries.map((e) => [e.lane, randomUUID(), version, e.body, now]),
      );
    },

    async deliverNext(lane, now, attempt) {
      if (busy.has(lane)) return 'busy';
      const head = await driver.get<HeadRow>(
        'SELECT id, uid, version, body, attempts, due_at FROM loam_server_deliveries WHERE lane = ? ORDER BY id LIMIT 1',
        [lane],
      );
      if (!head) return 'idle';
      if (Number(head.due_at) > now) return { dueAt: Number(head.due_at) };
      busy.add(lane);
      try {
        const outcome = await attempt({
          id: head.uid,
          lane,
          version: Number(head.version),
          body: head.body,
          attempts: Number(head.attempts),
        });
        if (outcome.done) await driver.run('DELETE FROM loam_server_deliveries WHERE id = ?', [head.id]);
        else
          await driver.run(
            'UPDATE loam_server_deliveries SET attempts = attempts + 1, due_at = ? WHERE id = ?',
            [outcome.retryAt, head.id],
          );
      } finally {
        busy.delete(lane);
      }
      return 'attempted';
    },

    async pending(lanes) {
      if (lanes.length === 0) return 0;
      const row = await driver.get<{ n: number | bigint }>(
        `SELECT count(*) AS n FROM loam_server_deliveries WHERE lane IN (${lanes.map(() => '?').join(', ')})`,
        [...lanes],
      );
      return Number(row?.n ?? 0);
    },
  };
}
