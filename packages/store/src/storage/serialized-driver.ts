/**
 * The part of every driver that does not depend on the SQLite binding: call serialisation, transactions,
 * savepoints, batches, closed-state checks. Drivers supply a {@link SqlConnection} and get a full
 * {@link StorageDriver} from {@link createSerializedDriver}.
 */
import { StorageError, StoreErrorCode } from '../errors';
import type {
  RunResult,
  SqlExecutor,
  SqlParams,
  SqlRow,
  StorageDriver,
  StorageDriverInfo,
  StorageDriverStats,
  StorageTransaction,
} from './driver';

/**
 * One SQLite connection as a driver binds it. Methods are never called concurrently (the serialised driver
 * guarantees one call at a time) and must throw `StorageError` on failure. A method may return synchronously.
 */
export interface SqlConnection {
  exec(sql: string): Promise<void> | void;
  run(sql: string, params: SqlParams): Promise<RunResult> | RunResult;
  all(sql: string, params: SqlParams): Promise<SqlRow[]> | SqlRow[];
  get(sql: string, params: SqlParams): Promise<SqlRow | undefined> | SqlRow | undefined;
  /** Runs `sql` once per row in the current transaction state; no BEGIN/COMMIT of its own. */
  batch(sql: string, rows: readonly SqlParams[]): Promise<RunResult> | RunResult;
  /** True while a transaction is open on the connection (SQLite's autocommit is off). */
  inTransaction(): boolean;
  stats(): StorageDriverStats;
  close(): Promise<void> | void;
}

const NO_PARAMS: SqlParams = [];

/** A FIFO queue that runs one task at a time. `run` settles like the task. */
function createSerialQueue() {
  let tail: Promise<unknown> = Promise.resolve();
  return {
    run<T>(task: () => Promise<T> | T): Promise<T> {
      const result = tail.then(task);
      tail = result.then(
        () => undefined,
        () => undefined,
      );
      return result;
    },
    idle(): Promise<unknown> {
      return tail;
    },
  };
}

/**
 * Wraps `connection` into a {@link StorageDriver} that keeps the invariants stated in `driver.ts`.
 * `info` is reported as is.
 */
export function createSerializedDriver(connection: SqlConnection, info: StorageDriverInfo): StorageDriver {
  const queue = createSerialQueue();
  let closing: Promise<void> | undefined;

  const enqueue = <T>(task: () => Promise<T> | T): Promise<T> =>
    closing
      ? Promise.reject(
          new StorageError(StoreErrorCode.closed, 'The database is closed: open it again to use it'),
        )
      : queue.run(task);

  async function inTransaction<T>(begin: string, body: () => Promise<T>): Promise<T> {
    await connection.exec(begin);
    let result: T;
    try {
      result = await body();
    } catch (error) {
      if (connection.inTransaction()) await rollbackQuietly(connection, 'ROLLBACK');
      throw error;
    }
    if (!connection.inTransaction()) {
      throw new StorageError(
        StoreErrorCode.sql,
        'SQLite rolled the transaction back after an error inside it, so nothing was committed',
      );
    }
    try {
      await connection.exec('COMMIT');
    } catch (error) {
      if (connection.inTransaction()) await rollbackQuietly(connection, 'ROLLBACK');
      throw error;
    }
    return result;
  }

  const driver: StorageDriver = {
    info,
    exec: (sql) => enqueue(() => connection.exec(sql)),
    run: (sql, params = NO_PARAMS) => enqueue(() => connection.run(sql, params)),
    all: <R extends SqlRow = SqlRow>(sql: string, params: SqlParams = NO_PARAMS) =>
      enqueue(() => connection.all(sql, params) as Promise<R[]> | R[]),
    get: <R extends SqlRow = SqlRow>(sql: string, params: SqlParams = NO_PARAMS) =>
      enqueue(() => connection.get(sql, params) as Promise<R | undefined> | R | undefined),
    batch: (sql, rows) =>
      enqueue(() => inTransaction('BEGIN IMMEDIATE', async () => await connection.batch(sql, rows))),
    transaction: <T>(fn: (tx: StorageTransaction) => Promise<T>) =>
      enqueue(() => inTransaction('BEGIN IMMEDIATE', () => runInScope(connection, fn, 0))),
    stats: () => connection.stats(),
    close() {
      closing ??= queue.run(() => connection.close());
      return closing;
    },
  };
  return driver;
}

async function rollbackQuietly(connection: SqlConnection, sql: string): Promise<void> {
  try {
    await connection.exec(sql);
  } catch {
    // The original error is the one worth reporting; a failed rollback leaves SQLite to roll back on close.
  }
}

/** Runs `fn` with a transaction handle at savepoint `depth` (0 = the outer transaction) and retires the handle. */
async function runInScope<T>(
  connection: SqlConnection,
  fn: (tx: StorageTransaction) => Promise<T>,
  depth: number,
): Promise<T> {
  const queue = createSerialQueue();
  let finished = false;
  const enqueue = <R>(task: () => Promise<R> | R): Promise<R> =>
    finished
      ? Promise.reject(
          new StorageError(
            StoreErrorCode.transactionFinished,
            'This transaction has already committed or rolled back: run the call inside the transaction callback, or on the database',
          ),
        )
      : queue.run(task);

  const executor: SqlExecutor = {
    exec: (sql) => enqueue(() => connection.exec(sql)),
    run: (sql, params = NO_PARAMS) => enqueue(() => connection.run(sql, params)),
    all: <R extends SqlRow = SqlRow>(sql: string, params: SqlParams = NO_PARAMS) =>
      enqueue(() => connection.all(sql, params) as Promise<R[]> | R[]),
    get: <R extends SqlRow = SqlRow>(sql: string, params: SqlParams = NO_PARAMS) =>
      enqueue(() => connection.get(sql, params) as Promise<R | undefined> | R | undefined),
    batch: (sql, rows) => enqueue(() => connection.batch(sql, rows)),
  };
  const tx: StorageTransaction = {
    ...executor,
    transaction: <N>(inner: (tx: StorageTransaction) => Promise<N>) =>
      enqueue(() => runSavepoint(connection, inner, depth + 1)),
  };
  try {
    return await fn(tx);
  } finally {
    await queue.idle();
    finished = true;
  }
}

async function runSavepoint<T>(
  connection: SqlConnection,
  fn: (tx: StorageTransaction) => Promise<T>,
  depth: number,
): Promise<T> {
  const name = `loam_sp_${depth}`;
  await connection.exec(`SAVEPOINT ${name}`);
  let result: T;
  try {
    result = await runInScope(connection, fn, depth);
  } catch (error) {
    if (connection.inTransaction()) {
      await rollbackQuietly(connection, `ROLLBACK TO ${name}`);
      await rollbackQuietly(connection, `RELEASE ${name}`);
    }
    throw error;
  }
  await connection.exec(`RELEASE ${name}`);
  return result;
}
