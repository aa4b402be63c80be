/**
 * Helpers every driver shares to keep {@link SqlValue} binding rules and error mapping identical.
 */
import { StorageError, StoreErrorCode } from '../errors';
import type { SqlValue } from './driver';

const MAX_INT64 = 0x7fffffffffffffffn;
const MIN_INT64 = -0x8000000000000000n;

/** SQLite's primary result codes by name, for backends that report names instead of numbers. */
const PRIMARY_CODES: Readonly<Record<string, number>> = {
  SQLITE_ERROR: 1,
  SQLITE_INTERNAL: 2,
  SQLITE_PERM: 3,
  SQLITE_ABORT: 4,
  SQLITE_BUSY: 5,
  SQLITE_LOCKED: 6,
  SQLITE_NOMEM: 7,
  SQLITE_READONLY: 8,
  SQLITE_INTERRUPT: 9,
  SQLITE_IOERR: 10,
  SQLITE_CORRUPT: 11,
  SQLITE_NOTFOUND: 12,
  SQLITE_FULL: 13,
  SQLITE_CANTOPEN: 14,
  SQLITE_PROTOCOL: 15,
  SQLITE_EMPTY: 16,
  SQLITE_SCHEMA: 17,
  SQLITE_TOOBIG: 18,
  SQLITE_CONSTRAINT: 19,
  SQLITE_MISMATCH: 20,
  SQLITE_MISUSE: 21,
  SQLITE_NOLFS: 22,
  SQLITE_AUTH: 23,
  SQLITE_FORMAT: 24,
  SQLITE_RANGE: 25,
  SQLITE_NOTADB: 26,
};

/** The extended constraint codes apps most often switch on. */
const EXTENDED_CODES: Readonly<Record<string, number>> = {
  SQLITE_CONSTRAINT_CHECK: 275,
  SQLITE_CONSTRAINT_FOREIGNKEY: 787,
  SQLITE_CONSTRAINT_NOTNULL: 1299,
  SQLITE_CONSTRAINT_PRIMARYKEY: 1555,
  SQLITE_CONSTRAINT_UNIQUE: 2067,
};

/** SQLite's numeric result code for a name such as `SQLITE_CONSTRAINT_UNIQUE`, or `undefined`. */
export function sqliteCodeFromName(name: string): number | undefined {
  const extended = EXTENDED_CODES[name];
  if (extended !== undefined) return extended;
  const primary = /^SQLITE_[A-Z]+/.exec(name)?.[0];
  return primary === undefined ? undefined : PRIMARY_CODES[primary];
}

/** The store error code for a SQLite result code (primary or extended). */
export function storeCodeForSqlite(sqliteCode: number): StoreErrorCode {
  switch (sqliteCode & 0xff) {
    case 19:
      return StoreErrorCode.constraint;
    case 5:
    case 6:
      return StoreErrorCode.busy;
    case 13:
      return StoreErrorCode.full;
    case 11:
    case 26:
      return StoreErrorCode.corrupt;
    case 10:
    case 14:
    case 22:
      return StoreErrorCode.io;
    case 25:
      return StoreErrorCode.invalidValue;
    default:
      return StoreErrorCode.sql;
  }
}

/** A `StorageError` for a failure SQLite reported with `sqliteCode`. */
export function sqliteError(sqliteCode: number, message: string, sql: string | undefined, cause: unknown) {
  return new StorageError(storeCodeForSqlite(sqliteCode), message, { sqliteCode, sql, cause });
}

/** Why `value` cannot be bound, or `undefined` when it can. */
export function whyUnbindable(value: unknown): string | undefined {
  switch (typeof value) {
    case 'number':
      return Number.isNaN(value) ? 'NaN (SQLite would store NULL)' : undefined;
    case 'bigint':
      return value > MAX_INT64 || value < MIN_INT64
        ? `${value}n is outside the 64-bit integer range`
        : undefined;
    case 'string':
      return value.includes('\u0000')
        ? 'a string containing U+0000 (SQLite text would be cut there)'
        : undefined;
    default:
      if (value === null || value instanceof Uint8Array) return undefined;
      return value === undefined ? 'undefined (use null)' : `a value of type ${describe(value)}`;
  }
}

/** The `invalid_value` error for parameter `index` (0-based) of `sql`. */
export function invalidParameter(index: number, reason: string, sql: string): StorageError {
  return new StorageError(StoreErrorCode.invalidValue, `Parameter ${index + 1} cannot be bound: ${reason}`, {
    sql,
  });
}

/** The `invalid_value` error for a parameter count that does not match the statement. */
export function wrongParameterCount(expected: number, got: number, sql: string): StorageError {
  return new StorageError(
    StoreErrorCode.invalidValue,
    `The statement takes ${expected} parameter${expected === 1 ? '' : 's'} but ${got} ${got === 1 ? 'was' : 'were'} given`,
    { sql },
  );
}

/** Converts an INTEGER read as `bigint` to the {@link SqlValue} contract: `number` when it is safe. */
export function normalizeInteger(value: bigint): number | bigint {
  return value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= BigInt(Number.MIN_SAFE_INTEGER)
    ? Number(value)
    : value;
}

/** Type guard for {@link SqlValue}. */
export function isSqlValue(value: unknown): value is SqlValue {
  return whyUnbindable(value) === undefined;
}

function describe(value: unknown): string {
  if (typeof value !== 'object') return typeof value;
  return value?.constructor?.name ?? 'object';
}
