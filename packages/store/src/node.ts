/**
 * `@loam/store/node`: everything in `@loam/store` plus the better-sqlite3 driver (Node, Electron main process).
 */
export * from './index';
export * from './storage/storage-better-sqlite3';
