/**
 * `@loam/store`: Loam's local engine over SQLite — storage drivers, the SQL layout, queries and live queries.
 * Browser-safe; the better-sqlite3 driver for Node and Electron's main process is in `@loam/store/node`.
 */
export * from './engine/engine';
export * from './engine/live-result';
export { type EngineOptions, openEngine } from './engine/open-engine';
export * from './errors';
export * from './query/sql-compiler';
export * from './storage/driver';
export * from './storage/driver-conformance';
export * from './storage/storage-wa-sqlite';
