/**
 * `@loam/db-worker`: the dedicated worker that owns a Loam database in the browser (the leader tab starts it),
 * hosting the engine and the sync client, and the wire formats shared with `@loam/client`: requests, the follower channel protocol and error transfer.
 */
export * from './channel-protocol';
export * from './channel-server';
export * from './db-worker-api';
export * from './error-transfer';
export * from './errors';
export * from './protocol';
export * from './request-handler';
export * from './sync-host';

/**
 * Starts the database worker as a module worker. Only the leader tab of a database starts one (see
 * `@loam/client`); then call `open` on its Comlink remote.
 */
export function createDbWorker(name = 'loam-db'): Worker {
  return new Worker(new URL('./db-worker.ts', import.meta.url), { type: 'module', name });
}
