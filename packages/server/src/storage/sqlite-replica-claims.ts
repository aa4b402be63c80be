/**
 * Replica claims of the SQLite store (`loam_server_replicas`), written without an fsync of their own.
 *
 * The store commits with `synchronous=FULL` on the event loop, so a claim written in a transaction of its own cost
 * every new replica's hello an fsync, and every other device waited for it (the abuse bench's signed-in attackers,
 * each on a fresh replica, spent a fifth of the relay's busy time there). A new replica's claim is kept in memory
 * and written inside the next batch's transaction, or by one transaction for every claim made meanwhile at most
 * `flushMs` later, or when the store closes.
 *
 * Invariants:
 * 1. **Durable before its replica's first op.** A batch writes the claims made before it in its own transaction,
 *    so a stored op's replica is always bound. A claim lost to a crash before then bound nothing yet: the replica
 *    has no op stored, and its next hello claims it again.
 * 2. **One user per replica, at once.** A claim not yet written answers as a written one does.
 */
import type { SqlExecutor, StorageDriver } from '@loam/store';

const INSERT = 'INSERT OR IGNORE INTO loam_server_replicas (replica, user) VALUES (?, ?)';
const SELECT = 'SELECT user FROM loam_server_replicas WHERE replica = ?';

/** The claims of one SQLite store (see the module documentation). */
export interface ReplicaClaims {
  /** Binds `replica` to `user` on first use; false when it is bound to another user. */
  claim(replica: string, user: string): Promise<boolean>;
  /** Writes the claims not yet written inside `tx`; call what it returns once `tx` committed. */
  writeTo(tx: SqlExecutor): Promise<() => void>;
  /** Writes what is left; call before closing the driver. */
  close(): Promise<void>;
}

/** Claims over `driver` (see the module documentation). */
export function createReplicaClaims(driver: StorageDriver, flushMs = 1000): ReplicaClaims {
  const unwritten = new Map<string, string>();
  let timer: ReturnType<typeof setTimeout> | undefined;

  const writeTo = async (tx: SqlExecutor) => {
    const written = [...unwritten];
    for (const [replica, user] of written) await tx.run(INSERT, [replica, user]);
    return () => {
      for (const [replica, user] of written) if (unwritten.get(replica) === user) unwritten.delete(replica);
    };
  };
  const flush = async () => {
    timer = undefined;
    if (unwritten.size === 0) return;
    (await driver.transaction(writeTo))();
  };
  const schedule = () => {
    timer ??= setTimeout(() => {
      // A failed write keeps the claims: the next batch or the next attempt writes them.
      flush().catch(() => schedule());
    }, flushMs);
    timer.unref?.();
  };

  return {
    async claim(replica, user) {
      const pending = unwritten.get(replica);
      if (pending !== undefined) return pending === user;
      const bound = await driver.get<{ user: string }>(SELECT, [replica]);
      if (bound) return bound.user === user;
      const raced = unwritten.get(replica);
      if (raced !== undefined) return raced === user;
      unwritten.set(replica, user);
      schedule();
      return true;
    },
    writeTo,
    async close() {
      if (timer) clearTimeout(timer);
      await flush();
    },
  };
}
