/**
 * `@loam/store/node`: the public API of `@loam/store` plus the better-sqlite3 storage driver, for Node and
 * Electron's main process. `better-sqlite3` is an optional peer dependency of `@loam/store` (a native build that
 * browser installs must not pull): install it beside `@loam/store` to use this entry point.
 */
export * from './index';
export {
  type BetterSqlite3StorageOptions,
  createBetterSqlite3Storage,
} from './storage/storage-better-sqlite3';
