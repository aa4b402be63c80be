/**
 * The storage layer's contract: one SQLite database behind an async, serialised SQL interface.
 *
 * The engine (and later the relay server) talks to SQLite only through {@link StorageDriver}. Drivers:
 * `storage-better-sqlite3` (Node, Electron main) and `storage-wa-sqlite` (browser worker: OPFS, IndexedDB or
 * memory). Every driver passes the cases of `driver-conformance.ts`.
 *
 * Invariants every driver keeps:
 * 1. **Serialised.** Calls run one at a time in the order they were made. `transaction` holds the database for
 *    its whole callback: a call made on the driver (not on the `tx`) while a transaction is open waits until the
 *    transaction has finished, so it never lands inside someone else's transaction. Consequently, awaiting a
 *    driver call *inside* a transaction callback deadlocks: use the `tx` handle there.
 * 2. **Atomic transactions.** `transaction(fn)` commits when the promise returned by `fn` resolves and rolls
 *    everything back when it rejects, then rejects with the same error. `batch` on the driver is one transaction.
 * 3. **Nesting is savepoints.** `tx.transaction(fn)` runs `fn` in a SAVEPOINT: if it throws, only its own writes
 *    are undone and the error propagates to the caller, who may catch it and let the outer transaction commit.
 * 4. **Prepared statements are reused.** Statements are compiled once per distinct SQL text and cached per
 *    connection (bounded LRU); `run`/`all`/`get`/`batch` with the same SQL reuse the compiled statement.
 * 5. **Typed errors.** Every failure rejects with a `StorageError` from `../errors.ts` carrying a stable `code`
 *    (`sql_error`, `sql_constraint`, `invalid_value`, ...) and SQLite's numeric `sqliteCode` when it has one.
 *    A failed statement changes nothing; a failed transaction changes nothing.
 * 6. **Committed means what {@link StorageDriverInfo.durability} says.** When a write's promise resolves, the
 *    data is in the database file as far as the backend allows; see each driver's documentation.
 */

/**
 * A value SQLite can store and that can be bound as a parameter.
 *
 * Binding: a `number` that is a safe integer binds as INTEGER, any other number as REAL (`NaN` is refused, since
 * SQLite would silently store NULL); a `bigint` binds as a 64-bit INTEGER (outside the int64 range is refused);
 * a `string` as TEXT (UTF-8); a `Uint8Array` as BLOB; `null` as NULL. Anything else (`undefined`, booleans,
 * objects) is refused with `invalid_value`.
 *
 * Reading: INTEGER comes back as a `number` when it lies within `Number.MAX_SAFE_INTEGER` and as a `bigint`
 * otherwise; REAL as a `number`; TEXT as a `string`; BLOB as a plain `Uint8Array` (a copy the caller owns);
 * NULL as `null`.
 */
export type SqlValue = null | number | bigint | string | Uint8Array;

/** Positional parameters (`?`) of one statement execution. The count must match the statement's exactly. */
export type SqlParams = readonly SqlValue[];

/** One result row: column name (as SQLite reports it, e.g. the `AS` alias) to value. */
export type SqlRow = Record<string, SqlValue>;

/** What a write statement did. */
export interface RunResult {
  /** Rows inserted, updated or deleted by the statement (SQLite's `changes()`). */
  readonly changes: number;
}

/** SQL execution shared by the driver and a transaction handle. */
export interface SqlExecutor {
  /**
   * Runs a script of one or more statements separated by `;`, without parameters and without results
   * (schema creation, pragmas). Not cached: use {@link run} for anything executed more than once.
   */
  exec(sql: string): Promise<void>;
  /** Runs one statement with positional parameters, discarding any rows. */
  run(sql: string, params?: SqlParams): Promise<RunResult>;
  /** Runs one statement and returns every row, in SQLite's order. */
  all<R extends SqlRow = SqlRow>(sql: string, params?: SqlParams): Promise<R[]>;
  /** Runs one statement and returns its first row, or `undefined` when there is none. */
  get<R extends SqlRow = SqlRow>(sql: string, params?: SqlParams): Promise<R | undefined>;
  /**
   * Runs one statement once per parameter row, reusing one compiled statement. On the driver, all rows run inside
   * one transaction: if any row fails, none of them is applied and the call rejects with that row's error. On a
   * transaction handle, the rows are part of that transaction.
   */
  batch(sql: string, rows: readonly SqlParams[]): Promise<RunResult>;
}

/**
 * The handle a transaction callback receives. Valid only until the callback's promise settles; any call after
 * that rejects with `transaction_finished`. Calls on one handle are serialised like calls on the driver.
 */
export interface StorageTransaction extends SqlExecutor {
  /** Runs `fn` in a nested SAVEPOINT: its writes are undone if it throws, and the error is rethrown. */
  transaction<T>(fn: (tx: StorageTransaction) => Promise<T>): Promise<T>;
}

/** Which SQLite backend a driver runs on. */
export type StorageBackend =
  | 'better-sqlite3'
  | 'wa-sqlite/AccessHandlePoolVFS'
  | 'wa-sqlite/OriginPrivateFileSystemVFS'
  | 'wa-sqlite/IDBBatchAtomicVFS'
  | 'wa-sqlite/MemoryVFS';

/** What a committed transaction survives once its promise has resolved. */
export type StorageDurability =
  /** Nothing: the database lives in memory and is gone when the driver closes. */
  | 'memory'
  /** A crash or kill of the process, tab or worker; the last commits may be lost on power loss or OS crash. */
  | 'process-crash'
  /** Power loss or OS crash too (each commit is flushed to the device before it resolves). */
  | 'power-loss';

/** What a driver is running on; reported to the app so it can tell users where their data lives. */
export interface StorageDriverInfo {
  readonly backend: StorageBackend;
  /** Whether data survives `close()` and reopening the same database. */
  readonly persistent: boolean;
  readonly durability: StorageDurability;
  /** SQLite's `journal_mode` in effect (`wal`, `delete`, `memory`, ...). */
  readonly journalMode: string;
  /** SQLite's `locking_mode` in effect (`exclusive` or `normal`). */
  readonly lockingMode: string;
  /** SQLite library version, e.g. `3.44.0`. */
  readonly sqliteVersion: string;
}

/** Counters that show the statement cache working. */
export interface StorageDriverStats {
  /** Statements compiled since open (a cache miss compiles one). */
  readonly statementsPrepared: number;
  /** Compiled statements currently cached. */
  readonly statementsCached: number;
}

/** One open SQLite database. See the module documentation for the invariants every driver keeps. */
export interface StorageDriver extends SqlExecutor {
  readonly info: StorageDriverInfo;
  /**
   * Runs `fn` inside `BEGIN IMMEDIATE … COMMIT`. Resolves with `fn`'s result once committed; if `fn` rejects (or
   * the commit fails) everything it wrote is rolled back and the call rejects with that error.
   */
  transaction<T>(fn: (tx: StorageTransaction) => Promise<T>): Promise<T>;
  stats(): StorageDriverStats;
  /**
   * Waits for queued calls to finish, finalises every statement and closes the database. Idempotent. Any call
   * made after `close()` rejects with `storage_closed`.
   */
  close(): Promise<void>;
}
