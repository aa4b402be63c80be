/**
 * `@loam/store/sql`: the engine's SQL layout, for stores outside the engine that keep documents the way it does
 * (the relay's SQLite and PostgreSQL stores): one table per collection with a column per scalar leaf, the merge state
 * and the materialized document as MessagePack blobs, and the compiler from `@loam/core` filters to SQL. Apps do not
 * need it: they read and write through the engine.
 */
export {
  type CollectionSql,
  collectionSql,
  decodeDoc,
  decodeDocState,
  encodeDocState,
  rowParams,
} from './engine/doc-rows';
export { aggregateSql, columnOf, findSql } from './engine/queries';
export { columnPaths, docTable, migrationSql, prepareTables } from './engine/tables';
export {
  type ColumnOf,
  compileFilter,
  compileOrderBy,
  compileQuery,
  prefixUpperBound,
  type QueryParam,
  quoteIdentifier,
  type SqlFragment,
  type SqlTarget,
  toSqlValue,
} from './query/sql-compiler';
