/**
 * `@loam/sync/node`: the public API of `@loam/sync` plus what only runs in Node and Electron's main process
 * (the device key store kept in a file).
 */
export * from './index';
export { createFileKeyStore } from './peers/key-store-file';
