/**
 * Every error raised by `@loam/store`.
 *
 * Each class extends `LoamError` and carries a stable string `code` (part of the public contract: apps switch on
 * it, and errors that cross the worker boundary are rebuilt from it with {@link rebuildStoreError}) and a message
 * a user can act on.
 */
import { LoamError } from '@loam/core';

/** Stable codes of the errors `@loam/store` raises. */
export const StoreErrorCode = {
  /** SQL that SQLite rejected: syntax, unknown table or column, type mismatch, misuse. */
  sql: 'sql_error',
  /** A UNIQUE, NOT NULL, CHECK, PRIMARY KEY or FOREIGN KEY constraint refused a write. */
  constraint: 'sql_constraint',
  /** A value that cannot be bound as a SQL parameter, or the wrong number of parameters. */
  invalidValue: 'invalid_value',
  /** The database is locked by another connection or tab. */
  busy: 'storage_busy',
  /** The device or the browser's storage quota is full. */
  full: 'storage_full',
  /** The database file is damaged or is not a SQLite database. */
  corrupt: 'storage_corrupt',
  /** Reading, writing or opening the underlying file failed. */
  io: 'storage_io',
  /** The requested storage backend does not exist in this environment. */
  unavailable: 'storage_unavailable',
  /** The driver was closed; no call can run on it any more. */
  closed: 'storage_closed',
  /** A transaction handle was used after its transaction committed or rolled back. */
  transactionFinished: 'transaction_finished',
} as const;
export type StoreErrorCode = (typeof StoreErrorCode)[keyof typeof StoreErrorCode];

/**
 * A failure reported by SQLite or by the storage backend under it.
 *
 * `sqliteCode` is SQLite's (possibly extended) numeric result code when SQLite produced the error, else
 * `undefined`; `sql` is the statement that failed, when there was one.
 */
export class StorageError extends LoamError {
  readonly sqliteCode: number | undefined;
  readonly sql: string | undefined;
  constructor(
    code: StoreErrorCode,
    message: string,
    details: { sqliteCode?: number | undefined; sql?: string | undefined; cause?: unknown } = {},
  ) {
    super(code, details.sql === undefined ? message : `${message} (in: ${abbreviate(details.sql)})`, {
      cause: details.cause,
    });
    this.sqliteCode = details.sqliteCode;
    this.sql = details.sql;
  }
}

/** The error's fields in plain data, for crossing a worker boundary (`postMessage`, Comlink). */
export interface SerializedStoreError {
  readonly name: string;
  readonly code: string;
  readonly message: string;
  readonly sqliteCode?: number;
}

/** Rebuilds a `StorageError` (same `code`, message and `sqliteCode`) from its serialized form. */
export function rebuildStoreError(data: SerializedStoreError): StorageError {
  const code = Object.values(StoreErrorCode).find((c) => c === data.code) ?? StoreErrorCode.sql;
  return new StorageError(code, data.message, { sqliteCode: data.sqliteCode });
}

function abbreviate(sql: string): string {
  const flat = sql.replace(/\s+/g, ' ').trim();
  return flat.length > 200 ? `${flat.slice(0, 200)}…` : flat;
}
