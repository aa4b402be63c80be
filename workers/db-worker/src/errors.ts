/**
 * Every error raised by `@loam/db-worker`, and the plain-data form in which any Loam error crosses a worker or
 * tab boundary.
 *
 * Each class extends `LoamError` and carries a stable string `code`. Errors thrown inside the worker (or in the
 * leader tab's worker, for a follower tab) travel as {@link SerializedError} and are rebuilt on the other side by
 * {@link rebuildError} into an instance of the class their `code` names, with the same `message` (and `problems`
 * for validation errors, `sqliteCode` for storage errors).
 */
import {
  AlreadyExistsError,
  ClockError,
  ClockSkewError,
  CoreErrorCode,
  IdError,
  LoamError,
  NotFoundError,
  OpDecodeError,
  OpError,
  type Problem,
  QueryError,
  RulesError,
  SchemaError,
  ValidationError,
} from '@loam/core';
import { rebuildStoreError, StoreErrorCode } from '@loam/store';
import { SyncClientError, SyncClientErrorCode } from '@loam/sync';

/** Stable codes of the errors `@loam/db-worker` raises. */
export const DbWorkerErrorCode = {
  /** A call arrived before `open` finished, or after `close`. */
  notOpen: 'database_not_open',
  /** The database could not be opened in time (another worker kept the OPFS files). */
  openFailed: 'database_open_failed',
  /** A transaction was left idle too long (its tab went away or its callback stalled) and was rolled back. */
  transactionExpired: 'transaction_expired',
  /** A transaction id that is unknown to this worker (already finished, or started on another leader). */
  transactionUnknown: 'transaction_unknown',
  /** Something that is not a Loam error was thrown (a bug): the message says what. */
  internal: 'internal_error',
  /** A sync call (`start`, `subscribe`...) on a database whose leader tab was opened without `sync` options. */
  syncNotConfigured: 'sync_not_configured',
  /** A peer call (`db.peers.connect`) on a database whose leader tab was opened without `peers` options. */
  peersNotConfigured: 'peers_not_configured',
} as const;
export type DbWorkerErrorCode = (typeof DbWorkerErrorCode)[keyof typeof DbWorkerErrorCode];

/** A failure of the worker itself (not of the engine or storage below it). */
export class DbWorkerError extends LoamError {
  constructor(code: DbWorkerErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/**
 * A sync call on a database opened without sync: the tab running the database worker (the leader) was opened
 * without `sync: { url, getToken }`. Open every tab of the app with the same `sync` options.
 */
export class SyncNotConfiguredError extends DbWorkerError {
  constructor() {
    super(
      DbWorkerErrorCode.syncNotConfigured,
      'Sync is not configured for this database: open it with openDatabase({ ..., sync: { url, getToken } }) in every tab (the tab running the database worker provides it)',
    );
  }
}

/**
 * A peer call on a database opened without peers: the tab running the database worker (the leader) was opened
 * without `peers: { rules }` (or without `sync`, which certifies the device for peering).
 */
export class PeersNotConfiguredError extends DbWorkerError {
  constructor() {
    super(
      DbWorkerErrorCode.peersNotConfigured,
      'Peers are not configured for this database: open it with openDatabase({ ..., sync, peers: { rules } }) in every tab (the tab running the database worker provides it)',
    );
  }
}

/** A Loam error as plain, structured-cloneable data. */
export interface SerializedError {
  readonly name: string;
  readonly code: string;
  readonly message: string;
  /** Present for `validation_failed`: every problem the validator found. */
  readonly problems?: readonly Problem[];
  /** Present for storage errors that SQLite raised. */
  readonly sqliteCode?: number;
}

/**
 * The plain-data form of any thrown value. Loam errors keep their name, code, message, `problems` and
 * `sqliteCode`; anything else becomes `internal_error` carrying the original name and message.
 */
export function serializeError(error: unknown): SerializedError {
  if (error instanceof LoamError) {
    const out: { -readonly [K in keyof SerializedError]: SerializedError[K] } = {
      name: error.name,
      code: error.code,
      message: error.message,
    };
    if (error instanceof ValidationError) out.problems = error.problems.map((p) => ({ ...p }));
    const sqliteCode = (error as { sqliteCode?: unknown }).sqliteCode;
    if (typeof sqliteCode === 'number') out.sqliteCode = sqliteCode;
    return out;
  }
  if (error instanceof Error) {
    return { name: error.name, code: DbWorkerErrorCode.internal, message: error.message };
  }
  return { name: 'Error', code: DbWorkerErrorCode.internal, message: String(error) };
}

type LoamErrorClass = abstract new (...args: never[]) => LoamError;

const classByCode: ReadonlyMap<string, LoamErrorClass> = new Map<string, LoamErrorClass>([
  [CoreErrorCode.schemaInvalid, SchemaError],
  [CoreErrorCode.validationFailed, ValidationError],
  [CoreErrorCode.clockSkew, ClockSkewError],
  [CoreErrorCode.clockInvalid, ClockError],
  [CoreErrorCode.idInvalid, IdError],
  [CoreErrorCode.opDecode, OpDecodeError],
  [CoreErrorCode.opInvalid, OpError],
  [CoreErrorCode.queryInvalid, QueryError],
  [CoreErrorCode.rulesInvalid, RulesError],
  ['not_found', NotFoundError],
  ['already_exists', AlreadyExistsError],
  ...Object.values(SyncClientErrorCode).map((code) => [code, SyncClientError] as const),
  ...Object.values(DbWorkerErrorCode).map((code) => [code, DbWorkerError] as const),
  [DbWorkerErrorCode.syncNotConfigured, SyncNotConfiguredError],
  [DbWorkerErrorCode.peersNotConfigured, PeersNotConfiguredError],
]);

const storeCodes: ReadonlySet<string> = new Set(Object.values(StoreErrorCode));

/**
 * Rebuilds an error from its plain-data form: an instance of the class its `code` names (`ValidationError` with
 * its `problems`, `StorageError` with its `sqliteCode`, `NotFoundError`, ...), with the original `message` and
 * `name`. A code this side does not know yields a plain `LoamError` that still carries the code, so callers can
 * always switch on `error.code`.
 */
export function rebuildError(data: SerializedError): LoamError {
  if (storeCodes.has(data.code)) {
    return rebuildStoreError(
      data.sqliteCode === undefined
        ? { name: data.name, code: data.code, message: data.message }
        : { name: data.name, code: data.code, message: data.message, sqliteCode: data.sqliteCode },
    );
  }
  const error = new LoamError(data.code, data.message);
  const cls = classByCode.get(data.code);
  if (cls) Object.setPrototypeOf(error, cls.prototype);
  error.name = data.name;
  if (data.problems) Object.defineProperty(error, 'problems', { value: data.problems, enumerable: true });
  return error;
}

/** Type guard for {@link SerializedError} received from another context. */
export function isSerializedError(value: unknown): value is SerializedError {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.code === 'string' && typeof v.message === 'string' && typeof v.name === 'string';
}
