/**
 * The dedicated worker entry: opens the database on wa-sqlite (OPFS, or IndexedDB where OPFS sync access handles
 * are missing) with the engine of `@loam/store`, syncs it with the relay over the worker's own `WebSocket` when asked,
 * with the device key pair in IndexedDB when it syncs with peers, and exposes {@link DbWorkerApi} to the leader tab
 * over Comlink.
 * Start it with `createDbWorker()` from `@loam/db-worker`.
 */

import { createWaSqliteStorage, defaultPragmas, detectWaSqliteVfs, openEngine } from '@loam/store';
import { createIndexedDbKeyStore } from '@loam/sync';
import * as Comlink from 'comlink';
import { createDbWorkerApi, type DbWorkerApi } from './db-worker-api';
import { registerErrorTransfer } from './error-transfer';

registerErrorTransfer();

const api = createDbWorkerApi({
  openDriver: (name, cacheMiB) => {
    const vfs = detectWaSqliteVfs();
    if (!vfs) return createWaSqliteStorage({ name });
    return createWaSqliteStorage({
      name,
      vfs,
      pragmas: [...defaultPragmas[vfs], `PRAGMA cache_size=-${Math.round(cacheMiB * 1024)}`],
    });
  },
  openEngine: (options) => openEngine(options),
  openKeys: (name) => createIndexedDbKeyStore(name).deviceKeys(),
});

type Releasable = { [Comlink.releaseProxy]?: () => void };

const proxies = new Map<number, Releasable>();
let tokenSource: Releasable | undefined;

const exposed: DbWorkerApi = {
  ...api,
  open(request, getToken) {
    tokenSource = getToken as Releasable | undefined;
    return api.open(request, getToken);
  },
  async close() {
    await api.close();
    tokenSource?.[Comlink.releaseProxy]?.();
    tokenSource = undefined;
  },
  async watch(spec, listener) {
    const id = await api.watch(spec, listener);
    proxies.set(id, listener as { [Comlink.releaseProxy]?: () => void });
    return id;
  },
  unwatch(id) {
    api.unwatch(id);
    proxies.get(id)?.[Comlink.releaseProxy]?.();
    proxies.delete(id);
  },
};

Comlink.expose(exposed);
