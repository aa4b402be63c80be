/**
 * `@loam/db-worker`: the dedicated worker that owns a Loam database in the browser (the leader tab starts it),
 * hosting the engine and the sync client, and the wire formats it shares with `@loam/client`: requests and watches,
 * the follower channel protocol, and error transfer. Apps use `@loam/client`; this is its other half.
 */
export {
  type ChannelMessage,
  channelName,
  type FromLeader,
  isChannelMessage,
  leaderLockName,
  type ToLeader,
  tabLockName,
} from './channel-protocol';
export {
  type ChannelPort,
  type ChannelServer,
  type ChannelServerOptions,
  serveChannel,
} from './channel-server';
export { createDbWorkerApi, type DbWorkerApi, type DbWorkerDeps, type GetToken } from './db-worker-api';
export { registerErrorTransfer } from './error-transfer';
export {
  DbWorkerError,
  DbWorkerErrorCode,
  PeersNotConfiguredError,
  rebuildError,
  type SerializedError,
  SyncNotConfiguredError,
} from './errors';
export {
  type BeginResult,
  type DbRequest,
  DEFAULT_CACHE_MIB,
  type DeviceIdentity,
  type OpenRequest,
  type PeersConfig,
  type PeerView,
  type ReadOp,
  type StorageReport,
  type SyncConfig,
  type SyncOp,
  TRANSACTION_IDLE_MS,
  type TxOp,
  type WatchEvent,
  type WatchSpec,
} from './protocol';

/**
 * Starts the database worker as a module worker. Only the leader tab of a database starts one (see
 * `@loam/client`); then call `open` on its Comlink remote.
 */
export function createDbWorker(name = 'loam-db'): Worker {
  return new Worker(new URL('./db-worker.ts', import.meta.url), { type: 'module', name });
}
