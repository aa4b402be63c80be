/**
 * The storage driver for Node and Electron's main process, over better-sqlite3 (native SQLite, synchronous).
 *
 * Files open in WAL mode with `synchronous=NORMAL` by default: a commit is atomic and survives a crash of the
 * process, and readers never block the writer; the last commits before a power loss or OS crash may be lost
 * (the WAL is fsynced at checkpoints, not at every commit). `synchronous: 'full'` fsyncs the WAL on every commit
 * and reports `power-loss` durability, at the cost of one fsync per transaction. `:memory:` databases live and
 * die with the driver.
 */
import Database from 'better-sqlite3';
import { StorageError, StoreErrorCode } from '../errors';
import type { SqlParams, SqlRow, SqlValue, StorageDriver } from './driver';
import { createSerializedDriver, type SqlConnection } from './serialized-driver';
import {
  invalidParameter,
  normalizeInteger,
  sqliteCodeFromName,
  sqliteError,
  whyUnbindable,
} from './sql-values';

/**
 * Safe integers are bound as BigInt (better-sqlite3 binds a number as a REAL); the small ones every row carries
 * (flags, versions, counts) are made once, not once per parameter.
 */
const SMALL_BIGINTS: readonly bigint[] = Array.from({ length: 1024 }, (_, i) => BigInt(i));

/** Options of {@link createBetterSqlite3Storage}. */
export interface BetterSqlite3StorageOptions {
  /** Path of the database file, or `:memory:`. The file is created if missing. */
  readonly filename: string;
  /** `normal` (default): crash-safe, fast. `full`: also power-loss-safe, one fsync per commit. */
  readonly synchronous?: 'normal' | 'full';
  /** Compiled statements kept per connection (least recently used are finalised first). Default 256. */
  readonly statementCacheSize?: number;
  /** How long a write waits for another connection's lock before failing with `storage_busy`. Default 5000. */
  readonly busyTimeoutMs?: number;
}

type Statement = Database.Statement<unknown[], Record<string, unknown>>;

/**
 * Opens (creating if needed) a SQLite database with better-sqlite3.
 * Rejects with `storage_io` when the file cannot be opened and `storage_corrupt` when it is not a database.
 */
export async function createBetterSqlite3Storage(
  options: BetterSqlite3StorageOptions,
): Promise<StorageDriver> {
  const memory = options.filename === ':memory:' || options.filename === '';
  const cacheSize = options.statementCacheSize ?? 256;
  let db: Database.Database;
  try {
    db = new Database(options.filename, { timeout: options.busyTimeoutMs ?? 5000 });
    db.defaultSafeIntegers(true);
    if (!memory) {
      db.pragma('journal_mode = WAL');
      db.pragma(`synchronous = ${options.synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
    }
    db.pragma('foreign_keys = ON');
  } catch (error) {
    throw toStorageError(error, undefined);
  }

  const cache = new Map<string, Statement>();
  let prepared = 0;

  function statement(sql: string): Statement {
    const hit = cache.get(sql);
    if (hit) {
      cache.delete(sql);
      cache.set(sql, hit);
      return hit;
    }
    let stmt: Statement;
    try {
      stmt = db.prepare(sql);
    } catch (error) {
      throw toStorageError(error, sql);
    }
    prepared++;
    cache.set(sql, stmt);
    if (cache.size > cacheSize) {
      const oldest = cache.keys().next().value;
      if (oldest !== undefined) cache.delete(oldest);
    }
    return stmt;
  }

  function bindable(sql: string, params: SqlParams): unknown[] {
    const out = new Array<unknown>(params.length);
    for (let i = 0; i < params.length; i++) {
      const value = params[i];
      if (typeof value === 'number' && Number.isSafeInteger(value)) {
        out[i] = value >= 0 && value < SMALL_BIGINTS.length ? SMALL_BIGINTS[value] : BigInt(value);
        continue;
      }
      const why = whyUnbindable(value);
      if (why !== undefined) throw invalidParameter(i, why, sql);
      out[i] = value;
    }
    return out;
  }

  function call<T>(sql: string, fn: () => T): T {
    try {
      return fn();
    } catch (error) {
      throw toStorageError(error, sql);
    }
  }

  const connection: SqlConnection = {
    exec(sql) {
      call(sql, () => db.exec(sql));
    },
    run(sql, params) {
      const stmt = statement(sql);
      const args = bindable(sql, params);
      if (stmt.reader) {
        call(sql, () => stmt.all(...args));
        return { changes: 0 };
      }
      return { changes: Number(call(sql, () => stmt.run(...args)).changes) };
    },
    all(sql, params) {
      const stmt = statement(sql);
      const args = bindable(sql, params);
      if (!stmt.reader) {
        call(sql, () => stmt.run(...args));
        return [];
      }
      const rows = call(sql, () => stmt.all(...args));
      for (const row of rows) normalizeRow(row);
      return rows as SqlRow[];
    },
    get(sql, params) {
      const stmt = statement(sql);
      const args = bindable(sql, params);
      if (!stmt.reader) {
        call(sql, () => stmt.run(...args));
        return undefined;
      }
      const row = call(sql, () => stmt.get(...args));
      return row === undefined ? undefined : (normalizeRow(row) as SqlRow);
    },
    batch(sql, rows) {
      const stmt = statement(sql);
      return call(sql, () => {
        let changes = 0;
        for (const params of rows) changes += Number(stmt.run(...bindable(sql, params)).changes);
        return { changes };
      });
    },
    inTransaction: () => db.open && db.inTransaction,
    stats: () => ({ statementsPrepared: prepared, statementsCached: cache.size }),
    close() {
      cache.clear();
      if (db.open) db.close();
    },
  };

  const journalMode = String(db.pragma('journal_mode', { simple: true }));
  const lockingMode = String(db.pragma('locking_mode', { simple: true }));
  const sqliteVersion = String(db.prepare('select sqlite_version()').pluck().get());
  return createSerializedDriver(connection, {
    backend: 'better-sqlite3',
    persistent: !memory,
    durability: memory ? 'memory' : options.synchronous === 'full' ? 'power-loss' : 'process-crash',
    journalMode,
    lockingMode,
    sqliteVersion,
  });
}

function normalizeRow(row: Record<string, unknown>): Record<string, SqlValue> {
  for (const key in row) {
    const value = row[key];
    if (typeof value === 'bigint') row[key] = normalizeInteger(value);
    else if (value instanceof Uint8Array) row[key] = new Uint8Array(value);
  }
  return row as Record<string, SqlValue>;
}

function toStorageError(error: unknown, sql: string | undefined): StorageError {
  if (error instanceof StorageError) return error;
  if (error instanceof Database.SqliteError) {
    const code = sqliteCodeFromName(error.code) ?? 1;
    return sqliteError(code, error.message, sql, error);
  }
  if (error instanceof RangeError || error instanceof TypeError) {
    const code = /more than one statement/.test(error.message)
      ? StoreErrorCode.sql
      : StoreErrorCode.invalidValue;
    return new StorageError(code, error.message, { sql, cause: error });
  }
  const message = error instanceof Error ? error.message : String(error);
  return new StorageError(StoreErrorCode.io, message, { sql, cause: error });
}
