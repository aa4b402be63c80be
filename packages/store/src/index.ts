/**
 * `@loam/store`: Loam's local engine over SQLite: the engine (writes, queries, live queries, the sync port), the
 * storage driver contract and the wa-sqlite driver (OPFS, IndexedDB, memory). Browser-safe.
 *
 * Other entry points: `@loam/store/node` adds the better-sqlite3 driver (Node, Electron's main process; install
 * `better-sqlite3` beside it), `@loam/store/sql` is the engine's SQL layout for server-side stores that keep
 * documents the same way (the relay's), `@loam/store/testing` holds the driver conformance suite.
 */

export type {
  AggregateCall,
  AggregateFn,
  AggregateRow,
  AggregateSpec,
  AggregateSpecOf,
  CommitInfo,
  Doc,
  Engine,
  EngineWrites,
  LiveQueryEvent,
  LiveQuerySpec,
  RefusedWrite,
  TransactionOptions,
} from './engine/engine';
export { applyLiveEvent } from './engine/live-result';
export { type EngineOptions, openEngine } from './engine/open-engine';
export { rebuildStoreError, type SerializedStoreError, StorageError, StoreErrorCode } from './errors';
export type {
  RunResult,
  SqlExecutor,
  SqlParams,
  SqlRow,
  SqlValue,
  StorageBackend,
  StorageDriver,
  StorageDriverInfo,
  StorageDriverStats,
  StorageDurability,
  StorageTransaction,
} from './storage/driver';
export {
  createWaSqliteStorage,
  defaultPragmas,
  detectWaSqliteVfs,
  type WaSqliteStorageOptions,
  WaSqliteVfs,
} from './storage/storage-wa-sqlite';
