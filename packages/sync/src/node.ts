/**
 * `@loam/sync/node`: the public API of `@loam/sync` plus what only runs in Node and Electron's main process
 * (the device key store kept in a file). Importing it makes signing use `node:crypto`'s synchronous Ed25519
 * (`ed25519-node.ts`: the same bytes, without a WebCrypto thread-pool job per signature).
 */
import { nodeEd25519 } from './peers/ed25519-node';
import { useEd25519Engine } from './peers/keys';

useEd25519Engine(nodeEd25519);

export * from './index';
export { nodeEd25519 } from './peers/ed25519-node';
export { createFileKeyStore } from './peers/key-store-file';
