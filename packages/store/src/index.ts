/**
 * `@loam/store`: Loam's local engine over SQLite — storage drivers, the SQL layout, queries and live queries.
 * Browser-safe; the better-sqlite3 driver for Node and Electron's main process is in `@loam/store/node`.
 */

export {
  type CollectionSql,
  collectionSql,
  decodeDoc,
  decodeDocState,
  encodeDocState,
  loadDocState,
  rowParams,
} from './engine/doc-rows';
export * from './engine/engine';
export * from './engine/live-result';
export { type EngineOptions, openEngine } from './engine/open-engine';
export { aggregateSql, columnOf, findSql } from './engine/queries';
export { columnPaths, docTable, migrationSql, prepareTables } from './engine/tables';
export * from './errors';
export * from './query/sql-compiler';
export * from './storage/driver';
export * from './storage/driver-conformance';
export * from './storage/storage-wa-sqlite';
