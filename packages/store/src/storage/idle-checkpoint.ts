/**
 * WAL checkpoints off the write path, for the wa-sqlite driver in WAL mode (see `INTERNALS.md`, "Durability").
 */
import type { SqlParams, SqlRow, StorageDriver } from './driver';

/** Quiet time after the last call before the WAL is checkpointed. */
export const CHECKPOINT_IDLE_MS = 250;

/**
 * Wraps `driver` so that, once it has been idle for {@link CHECKPOINT_IDLE_MS} after a write (any `exec`, `run`,
 * `batch` or `transaction`), the WAL is checkpointed into the database and truncated. SQLite's own checkpoint
 * (every 1000 WAL pages) runs inside the commit that crosses the threshold, tens of ms on OPFS: this makes it seldom
 * fall on a write someone waits for, and a database whose tab was closed or killed opens without replaying a long
 * WAL. A checkpoint copies committed pages only: what a commit made durable stays so. The checkpoint goes through
 * the driver's queue like any call, so it never runs inside a transaction.
 */
export function checkpointWhenIdle(driver: StorageDriver, idleMs = CHECKPOINT_IDLE_MS): StorageDriver {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let closed = false;
  const arm = () => {
    if (timer !== undefined) clearTimeout(timer);
    timer = closed
      ? undefined
      : setTimeout(() => {
          timer = undefined;
          // A failed checkpoint leaves the WAL to SQLite's own checkpoints; the next write reports real trouble.
          driver.exec('PRAGMA wal_checkpoint(TRUNCATE)').catch(() => undefined);
        }, idleMs);
  };
  /** A read postpones a pending checkpoint (the driver is not idle yet). */
  const reading = () => {
    if (timer !== undefined) arm();
  };
  const writing = <R>(result: Promise<R>): Promise<R> => {
    result.then(arm, arm);
    return result;
  };
  return {
    info: driver.info,
    exec: (sql) => writing(driver.exec(sql)),
    run: (sql, params) => writing(driver.run(sql, params)),
    batch: (sql, rows) => writing(driver.batch(sql, rows)),
    transaction: (fn) => writing(driver.transaction(fn)),
    all<R extends SqlRow = SqlRow>(sql: string, params?: SqlParams) {
      reading();
      return driver.all<R>(sql, params);
    },
    get<R extends SqlRow = SqlRow>(sql: string, params?: SqlParams) {
      reading();
      return driver.get<R>(sql, params);
    },
    stats: () => driver.stats(),
    close() {
      closed = true;
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      return driver.close();
    },
  };
}
