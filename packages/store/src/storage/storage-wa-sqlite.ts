/**
 * The storage driver for the browser: SQLite compiled to WebAssembly (wa-sqlite), run in a dedicated worker.
 *
 * VFS (where the bytes live), chosen by `vfs: 'auto'` (the default):
 * - `AccessHandlePoolVFS` when `FileSystemSyncAccessHandle` exists (OPFS in a worker): the synchronous build,
 *   a pool of access handles opened once and held for the driver's life, so exactly one driver per origin and
 *   database may be open at a time (a second one fails with `storage_busy`). Chosen over
 *   `OriginPrivateFileSystemVFS` with the measurements in `INTERNALS.md`.
 * - `IDBBatchAtomicVFS` otherwise (no OPFS sync access handles, e.g. Safari private browsing): the Asyncify
 *   build, one IndexedDB transaction per SQLite commit.
 * - `OriginPrivateFileSystemVFS` and `MemoryVFS` only when asked for (`MemoryVFS` also runs in Node, given
 *   `wasmBinary`).
 *
 * Durability: with OPFS, a commit is written through the sync access handle (straight to the file, not a JS
 * buffer) before its promise resolves, so it survives the worker being terminated or the tab closing; the
 * journal settings in `INTERNALS.md` decide whether it also survives power loss. With IndexedDB, a commit
 * resolves after IndexedDB reports its transaction complete (Chromium's default durability: survives a tab or
 * browser crash).
 */
import * as SQLite from 'wa-sqlite';
import { StorageError, StoreErrorCode } from '../errors';
import type {
  RunResult,
  SqlParams,
  SqlRow,
  SqlValue,
  StorageBackend,
  StorageDriver,
  StorageDurability,
} from './driver';
import { checkpointWhenIdle } from './idle-checkpoint';
import { createSerializedDriver, type SqlConnection } from './serialized-driver';
import { invalidParameter, sqliteError, whyUnbindable, wrongParameterCount } from './sql-values';
import { bufferWalWrites, type SyncFileVfs } from './wal-write-buffer';

/** The wa-sqlite VFSs this driver can run on. */
export const WaSqliteVfs = {
  accessHandlePool: 'AccessHandlePoolVFS',
  originPrivateFileSystem: 'OriginPrivateFileSystemVFS',
  indexedDb: 'IDBBatchAtomicVFS',
  memory: 'MemoryVFS',
} as const;
export type WaSqliteVfs = (typeof WaSqliteVfs)[keyof typeof WaSqliteVfs];

/** Options of {@link createWaSqliteStorage}. */
export interface WaSqliteStorageOptions {
  /** Database name: an OPFS directory or IndexedDB database is derived from it. Letters, digits, `-`, `_`, `.`. */
  readonly name: string;
  /** `auto` (default): the OPFS VFS when sync access handles exist, else IndexedDB. */
  readonly vfs?: WaSqliteVfs | 'auto';
  /**
   * Pragmas run right after opening, replacing the VFS's defaults (see {@link defaultPragmas}). The driver
   * reports the journal and locking modes actually in effect afterwards.
   */
  readonly pragmas?: readonly string[];
  /** Compiled statements kept per connection (least recently used are finalised first). Default 256. */
  readonly statementCacheSize?: number;
  /** The `.wasm` bytes, for environments where wa-sqlite cannot fetch them itself (Node). */
  readonly wasmBinary?: ArrayBuffer | Uint8Array;
}

/**
 * The pragmas each VFS opens with by default.
 * Every persistent VFS keeps temporary tables and statement journals in memory (`temp_store=MEMORY`).
 * - AccessHandlePoolVFS: `locking_mode=exclusive` then `journal_mode=WAL` (the WAL index lives in heap memory,
 *   no shared memory needed), `synchronous=NORMAL`.
 * - OriginPrivateFileSystemVFS: `locking_mode=exclusive` (keeps the access handle and the Web Lock between
 *   transactions instead of reacquiring both per transaction); rollback journal.
 * - IDBBatchAtomicVFS: its batch-atomic writes need the rollback journal in memory.
 */
export const defaultPragmas: Readonly<Record<WaSqliteVfs, readonly string[]>> = {
  AccessHandlePoolVFS: [
    'PRAGMA temp_store=MEMORY',
    'PRAGMA locking_mode=exclusive',
    'PRAGMA journal_mode=WAL',
    'PRAGMA synchronous=NORMAL',
    'PRAGMA cache_size=-65536',
  ],
  OriginPrivateFileSystemVFS: ['PRAGMA temp_store=MEMORY', 'PRAGMA locking_mode=exclusive'],
  IDBBatchAtomicVFS: ['PRAGMA temp_store=MEMORY', 'PRAGMA journal_mode=MEMORY'],
  MemoryVFS: [],
};

interface EmscriptenModule {
  HEAPU8: Uint8Array;
  UTF8ToString(ptr: number): string;
  _sqlite3_malloc(bytes: number): number;
  _sqlite3_bind_blob(stmt: number, index: number, ptr: number, bytes: number, destructor: number): number;
  _getSqliteFree(): number;
}

interface VfsInstance extends SQLiteVFS {
  readonly name: string;
  close?(): Promise<void> | void;
  /** Writes what the VFS gathered (see `wal-write-buffer.ts`); returns SQLite's result code. */
  flushWrites?(): number;
}

interface CachedStatement {
  readonly stmt: number;
  readonly parameterCount: number;
  readonly reader: boolean;
}

const SAFE_INT32_MAX = 0x7fffffff;
const SAFE_INT32_MIN = -0x80000000;

/**
 * The VFS `auto` picks here: OPFS when this context has `FileSystemSyncAccessHandle` (a dedicated worker in a
 * browser that supports it), else IndexedDB, else `undefined` (no persistent browser storage: Node, or a
 * browser with both disabled).
 */
export function detectWaSqliteVfs(): WaSqliteVfs | undefined {
  const scope = globalThis as { FileSystemSyncAccessHandle?: unknown; indexedDB?: unknown };
  const storage = (globalThis as { navigator?: { storage?: { getDirectory?: unknown } } }).navigator?.storage;
  if (typeof scope.FileSystemSyncAccessHandle === 'function' && typeof storage?.getDirectory === 'function') {
    return WaSqliteVfs.accessHandlePool;
  }
  if (typeof scope.indexedDB === 'object' && scope.indexedDB !== null) return WaSqliteVfs.indexedDb;
  return undefined;
}

/**
 * Opens (creating if needed) the database `name` on the chosen VFS.
 * Rejects with `storage_unavailable` when no suitable storage exists, `storage_busy` when another worker or tab
 * holds the OPFS database, `storage_io` when the VFS cannot open its files.
 */
export async function createWaSqliteStorage(options: WaSqliteStorageOptions): Promise<StorageDriver> {
  if (!/^[\w.-]+$/.test(options.name)) {
    throw new StorageError(
      StoreErrorCode.invalidValue,
      `Database name "${options.name}" may only contain letters, digits, "-", "_" and "."`,
    );
  }
  const requested = options.vfs ?? 'auto';
  const vfsName = requested === 'auto' ? detectWaSqliteVfs() : requested;
  if (vfsName === undefined) {
    throw new StorageError(
      StoreErrorCode.unavailable,
      'Neither OPFS sync access handles nor IndexedDB are available here: open the database in a dedicated worker of a browser with storage enabled, or use the memory VFS',
    );
  }

  const asyncBuild = vfsName === WaSqliteVfs.originPrivateFileSystem || vfsName === WaSqliteVfs.indexedDb;
  // The VFS (OPFS access handles, IndexedDB) opens while the wasm module loads: neither needs the other, and both
  // are on the cold-open path.
  const opening = createVfs(vfsName, options.name);
  opening.catch(() => undefined); // handled: awaited below, or released if the module fails to load
  let module: EmscriptenModule;
  try {
    const factory = asyncBuild
      ? (await import('wa-sqlite/dist/wa-sqlite-async.mjs')).default
      : (await import('wa-sqlite/dist/wa-sqlite.mjs')).default;
    module = await factory(options.wasmBinary ? { wasmBinary: options.wasmBinary } : {});
  } catch (error) {
    await (await opening.catch(() => undefined))?.close?.();
    throw error;
  }
  const sqlite3 = SQLite.Factory(module);

  const vfs = await opening;
  let db: number;
  try {
    sqlite3.vfs_register(vfs, false);
    db = await sqlite3.open_v2(
      vfsName === WaSqliteVfs.originPrivateFileSystem ? `/loam/${options.name}.sqlite3` : 'loam.sqlite3',
      SQLite.SQLITE_OPEN_CREATE | SQLite.SQLITE_OPEN_READWRITE,
      vfs.name,
    );
  } catch (error) {
    await vfs.close?.();
    throw toStorageError(error, undefined);
  }

  const cacheSize = options.statementCacheSize ?? 256;
  const cache = new Map<string, CachedStatement>();
  let prepared = 0;

  async function compile(sql: string): Promise<CachedStatement> {
    const str = sqlite3.str_new(db, sql);
    try {
      const result = await sqlite3.prepare_v2(db, sqlite3.str_value(str));
      if (!result) throw new StorageError(StoreErrorCode.sql, 'The SQL contains no statement', { sql });
      if (!/^[\s;]*$/.test(module.UTF8ToString(result.sql))) {
        await sqlite3.finalize(result.stmt);
        throw new StorageError(
          StoreErrorCode.sql,
          'The SQL contains more than one statement: use exec() for scripts, or run each statement on its own',
          { sql },
        );
      }
      prepared++;
      return {
        stmt: result.stmt,
        parameterCount: sqlite3.bind_parameter_count(result.stmt),
        reader: sqlite3.column_count(result.stmt) > 0,
      };
    } finally {
      sqlite3.str_finish(str);
    }
  }

  async function statement(sql: string): Promise<CachedStatement> {
    const hit = cache.get(sql);
    if (hit) {
      cache.delete(sql);
      cache.set(sql, hit);
      return hit;
    }
    let entry: CachedStatement;
    try {
      entry = await compile(sql);
    } catch (error) {
      throw toStorageError(error, sql);
    }
    cache.set(sql, entry);
    if (cache.size > cacheSize) {
      const [oldest, evicted] = cache.entries().next().value ?? [];
      if (oldest !== undefined && evicted) {
        cache.delete(oldest);
        await sqlite3.finalize(evicted.stmt);
      }
    }
    return entry;
  }

  function bind(entry: CachedStatement, params: SqlParams, sql: string): void {
    if (params.length !== entry.parameterCount) {
      throw wrongParameterCount(entry.parameterCount, params.length, sql);
    }
    const { stmt } = entry;
    for (let i = 0; i < params.length; i++) {
      const value = params[i];
      const index = i + 1;
      if (typeof value === 'number') {
        if (Number.isSafeInteger(value)) {
          if (value <= SAFE_INT32_MAX && value >= SAFE_INT32_MIN) sqlite3.bind_int(stmt, index, value);
          else sqlite3.bind_int64(stmt, index, BigInt(value));
        } else if (Number.isNaN(value)) {
          throw invalidParameter(i, whyUnbindable(value) ?? 'NaN', sql);
        } else {
          sqlite3.bind_double(stmt, index, value);
        }
      } else if (typeof value === 'string' && !value.includes('\u0000')) {
        sqlite3.bind_text(stmt, index, value);
      } else if (value === null) {
        sqlite3.bind_null(stmt, index);
      } else if (value instanceof Uint8Array && value.byteLength > 0) {
        sqlite3.bind_blob(stmt, index, value);
      } else if (value instanceof Uint8Array) {
        bindEmptyBlob(stmt, index);
      } else {
        const why = whyUnbindable(value);
        if (why !== undefined) throw invalidParameter(i, why, sql);
        sqlite3.bind_int64(stmt, index, value as bigint);
      }
    }
  }

  function bindEmptyBlob(stmt: number, index: number): void {
    const ptr = module._sqlite3_malloc(1);
    const rc = module._sqlite3_bind_blob(stmt, index, ptr, 0, module._getSqliteFree());
    if (rc !== SQLite.SQLITE_OK) throw sqliteError(rc, 'Binding an empty blob failed', undefined, undefined);
  }

  /** Every call ends with the bytes it wrote in the file (invariant 2 of `wal-write-buffer.ts`). */
  function flushWrites(sql: string): void {
    const rc = vfs.flushWrites?.() ?? SQLite.SQLITE_OK;
    if (rc !== SQLite.SQLITE_OK) throw sqliteError(rc, 'Writing to the database file failed', sql, undefined);
  }

  function readRow(stmt: number, names: readonly string[]): SqlRow {
    const row: SqlRow = {};
    for (let i = 0; i < names.length; i++) {
      const value = sqlite3.column(stmt, i) as SqlValue;
      row[names[i]!] = value instanceof Uint8Array ? value.slice() : value;
    }
    return row;
  }

  async function execute<T>(
    sql: string,
    params: SqlParams,
    body: (entry: CachedStatement) => Promise<T>,
  ): Promise<T> {
    const entry = await statement(sql);
    try {
      bind(entry, params, sql);
      return await body(entry);
    } catch (error) {
      throw toStorageError(error, sql);
    } finally {
      try {
        await sqlite3.reset(entry.stmt);
      } catch {
        // reset() repeats the error step() already reported.
      }
      flushWrites(sql);
    }
  }

  async function stepToEnd(entry: CachedStatement): Promise<RunResult> {
    while ((await sqlite3.step(entry.stmt)) === SQLite.SQLITE_ROW) {}
    return { changes: entry.reader ? 0 : sqlite3.changes(db) };
  }

  const connection: SqlConnection = {
    async exec(sql) {
      try {
        await sqlite3.exec(db, sql);
      } catch (error) {
        throw toStorageError(error, sql);
      } finally {
        flushWrites(sql);
      }
    },
    run: (sql, params) => execute(sql, params, stepToEnd),
    all: (sql, params) =>
      execute(sql, params, async ({ stmt }) => {
        const rows: SqlRow[] = [];
        let names: string[] | undefined;
        while ((await sqlite3.step(stmt)) === SQLite.SQLITE_ROW) {
          names ??= sqlite3.column_names(stmt);
          rows.push(readRow(stmt, names));
        }
        return rows;
      }),
    get: (sql, params) =>
      execute(sql, params, async ({ stmt }) =>
        (await sqlite3.step(stmt)) === SQLite.SQLITE_ROW
          ? readRow(stmt, sqlite3.column_names(stmt))
          : undefined,
      ),
    async batch(sql, rows) {
      let changes = 0;
      for (const params of rows) changes += (await execute(sql, params, stepToEnd)).changes;
      return { changes };
    },
    inTransaction: () => sqlite3.get_autocommit(db) === 0,
    stats: () => ({ statementsPrepared: prepared, statementsCached: cache.size }),
    async close() {
      for (const { stmt } of cache.values()) await sqlite3.finalize(stmt);
      cache.clear();
      try {
        await sqlite3.close(db);
      } finally {
        await vfs.close?.();
      }
    },
  };

  try {
    for (const pragma of options.pragmas ?? defaultPragmas[vfsName]) await connection.exec(pragma);
  } catch (error) {
    await connection.close();
    throw error;
  }
  const journalMode = String((await connection.get('PRAGMA journal_mode', []))?.journal_mode);
  const lockingMode = String((await connection.get('PRAGMA locking_mode', []))?.locking_mode);
  const synchronous = Number((await connection.get('PRAGMA synchronous', []))?.synchronous);
  const driver = createSerializedDriver(connection, {
    backend: `wa-sqlite/${vfsName}` satisfies StorageBackend,
    persistent: vfsName !== WaSqliteVfs.memory,
    durability: durabilityOf(vfsName, journalMode, synchronous),
    journalMode,
    lockingMode,
    sqliteVersion: sqlite3.libversion(),
  });
  return journalMode === 'wal' ? checkpointWhenIdle(driver) : driver;
}

function durabilityOf(vfs: WaSqliteVfs, journalMode: string, synchronous: number): StorageDurability {
  if (vfs === WaSqliteVfs.memory) return 'memory';
  if (vfs === WaSqliteVfs.indexedDb) return 'process-crash';
  const fsyncEveryCommit = journalMode === 'wal' ? synchronous >= 2 : synchronous >= 1;
  return fsyncEveryCommit ? 'power-loss' : 'process-crash';
}

async function createVfs(vfs: WaSqliteVfs, name: string): Promise<VfsInstance> {
  try {
    switch (vfs) {
      case WaSqliteVfs.accessHandlePool: {
        const { AccessHandlePoolVFS } = await import('wa-sqlite/src/examples/AccessHandlePoolVFS.js');
        const instance = new AccessHandlePoolVFS(`/loam-ahp/${name}`);
        await instance.isReady;
        const buffer = bufferWalWrites(instance as unknown as SyncFileVfs);
        return Object.assign(instance as unknown as VfsInstance, { flushWrites: () => buffer.flush() });
      }
      case WaSqliteVfs.originPrivateFileSystem: {
        const { OriginPrivateFileSystemVFS } = await import(
          'wa-sqlite/src/examples/OriginPrivateFileSystemVFS.js'
        );
        return new OriginPrivateFileSystemVFS() as unknown as VfsInstance;
      }
      case WaSqliteVfs.indexedDb: {
        const { IDBBatchAtomicVFS } = await import('wa-sqlite/src/examples/IDBBatchAtomicVFS.js');
        return new IDBBatchAtomicVFS(`loam-${name}`) as unknown as VfsInstance;
      }
      case WaSqliteVfs.memory: {
        const { MemoryVFS } = await import('wa-sqlite/src/examples/MemoryVFS.js');
        return new MemoryVFS() as unknown as VfsInstance;
      }
    }
  } catch (error) {
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    const busy = error instanceof Error && error.name === 'NoModificationAllowedError';
    throw new StorageError(
      busy ? StoreErrorCode.busy : StoreErrorCode.io,
      busy
        ? `Database "${name}" is already open in another worker or tab (${message}): only one may hold it`
        : `Cannot open storage for database "${name}" on ${vfs}: ${message}`,
      { cause: error },
    );
  }
}

function toStorageError(error: unknown, sql: string | undefined): StorageError {
  if (error instanceof StorageError) return error;
  if (error instanceof SQLite.SQLiteError && typeof error.code === 'number') {
    return sqliteError(error.code, error.message, sql, error);
  }
  const message = error instanceof Error ? error.message : String(error);
  return new StorageError(StoreErrorCode.io, message, { sql, cause: error });
}
