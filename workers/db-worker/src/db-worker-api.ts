/**
 * What the database worker exposes over Comlink to the leader tab, and, once open, serves to follower tabs over
 * the database's BroadcastChannel.
 *
 * Invariants:
 * 1. **One owner.** The worker is started only by the leader tab (Web Lock), so it is the only one opening the
 *    OPFS files. Opening retries with backoff while the previous leader's worker still holds them
 *    (`storage_busy`), up to `openTimeoutMs`.
 * 2. **Errors keep their code.** Everything thrown to a caller is a `LoamError` rebuilt on the other side from its
 *    `code` (see `errors.ts`, `error-transfer.ts`).
 * 3. **Followers are served only after `open` resolved**, and the announcement tells them where the data lives.
 * 4. **Sync runs beside the engine.** With `sync` options (and the opening tab's `getToken`), `open` creates the
 *    sync client before serving anyone, and starts it unless `autoStart` is false; `close` stops it before the
 *    engine closes. Its calls and status reach every tab (see `sync-host.ts`).
 * 5. **Peers run beside sync.** With `peers` options too, the engine opens with the device's key pair (`openKeys`)
 *    and signs every local transaction; the peer engine (`peer-host.ts`) takes the link ports the leader tab
 *    hands to `attachPeer`, and the sync client's status counts its live peers.
 */
import type { Schema } from '@loam/core';
import type { Engine, StorageDriver, StorageDriverInfo } from '@loam/store';
import { createSyncClient, type SigningKeys, type SyncClient, type SyncClientOptions } from '@loam/sync';
import { tabLockName } from './channel-protocol';
import { type ChannelPort, type ChannelServer, serveChannel } from './channel-server';
import { DbWorkerError, DbWorkerErrorCode, SyncNotConfiguredError } from './errors';
import { createPeerHost, type PeerHost } from './peer-host';
import {
  type DbRequest,
  DEFAULT_CACHE_MIB,
  type DeviceIdentity,
  type OpenRequest,
  type StorageReport,
  type WatchEvent,
  type WatchSpec,
} from './protocol';
import { createRequestHandler, type RequestHandler } from './request-handler';
import { createSyncHost, type SyncHost } from './sync-host';

/** The app's token source, as the opening tab hands it to the worker (a Comlink proxy from a tab). */
export type GetToken = () => Promise<string | null>;

/** How the worker opens storage and the engine; injected so the same API runs in Node tests. */
export interface DbWorkerDeps {
  /**
   * Opens the SQLite database `name` (in a browser worker: wa-sqlite on OPFS, IndexedDB fallback) with a page
   * cache of `cacheMiB`.
   */
  readonly openDriver: (name: string, cacheMiB: number) => Promise<StorageDriver>;
  readonly openEngine: (options: {
    driver: StorageDriver;
    schema: Schema;
    keys?: SigningKeys;
  }) => Promise<Engine>;
  /**
   * The device's key pair for database `name`, made on first use (in the browser: `createIndexedDbKeyStore`).
   * Needed only by databases opened with `peers`; without it they reject with `peers_not_configured`.
   */
  readonly openKeys?: (name: string) => Promise<SigningKeys>;
  /** Opens the follower channel (default: `new BroadcastChannel(name)`). */
  readonly openChannel?: (name: string) => ChannelPort & { close(): void };
  /** Calls `gone` when the tab holding Web Lock `lock` has closed (default: `navigator.locks` when present). */
  readonly whenLockFree?: (lock: string, gone: () => void) => void;
  /** Transaction idle timeout (ms). */
  readonly transactionIdleMs?: number;
  /** Creates the sync client (default: `createSyncClient` of `@loam/sync`, over the global `WebSocket`). */
  readonly createSyncClient?: (
    options: Pick<SyncClientOptions, 'store' | 'url' | 'getToken' | 'peers'> & { readonly url: string },
  ) => SyncClient;
}

/** The worker's API. Callbacks given to `watch` are Comlink proxies when called from a tab. */
export interface DbWorkerApi {
  /** Answers `'pong'` once the worker's module has loaded. */
  ping(): string;
  /**
   * Opens storage and engine (retrying while the files are busy), starts sync when `request.sync` is given (with
   * `getToken`, the opening tab's token source), then serves followers. Resolves where the data lives.
   */
  open(request: OpenRequest, getToken?: GetToken): Promise<StorageReport>;
  /** Serves one request of the leader tab (see `protocol.ts`); never resent, so single writes are not recorded. */
  request(request: DbRequest): Promise<unknown>;
  /**
   * Serves one request of the leader tab that may be resent to another worker if this one dies: writes are
   * recorded under their `requestId`, as followers' are.
   */
  requestRecorded(request: DbRequest): Promise<unknown>;
  /**
   * Starts a live query, or a sync status subscription; resolves with its id for `unwatch`. The listener's first
   * event is a reset (for sync status: the current status).
   */
  watch(spec: WatchSpec, listener: (event: WatchEvent) => unknown): Promise<number>;
  /** Stops live query `id`. Idempotent. */
  unwatch(id: number): void;
  /**
   * Runs the peer protocol over `port`, the worker's end of a link whose socket end another thread drives (a
   * WebRTC link of `@loam/sync/webrtc`). Throws `peers_not_configured` without `peers` options.
   */
  attachPeer(port: MessagePort): void;
  /**
   * This device as peers check it (certificate, relay key, revocations), for a signaling layer the app runs;
   * undefined until the relay certified the device. Throws `peers_not_configured` without `peers` options.
   */
  peerIdentity(): Promise<DeviceIdentity | undefined>;
  /**
   * Signs a LAN signaling digest (exactly 32 bytes) with the device key, under a label no other signature uses
   * (`lan-proof.ts` of `@loam/sync`); `lan_proof_invalid` for another size, `peers_not_configured` without peers.
   */
  signLanProof(digest: Uint8Array): Promise<Uint8Array>;
  /** Stops serving followers and sync, rolls back open transactions and closes the engine and storage. Idempotent. */
  close(): Promise<void>;
}

/** The API's report of a driver's backend. */
export function storageReport(info: StorageDriverInfo): StorageReport {
  const kind =
    info.backend === 'wa-sqlite/IDBBatchAtomicVFS'
      ? 'indexeddb'
      : info.backend === 'wa-sqlite/MemoryVFS'
        ? 'memory'
        : info.backend === 'better-sqlite3'
          ? 'file'
          : 'opfs';
  return { kind, backend: info.backend, persistent: info.persistent };
}

function defaultWhenLockFree(lock: string, gone: () => void): void {
  const locks = (globalThis as { navigator?: { locks?: LockManager } }).navigator?.locks;
  if (!locks) return;
  locks.request(lock, { mode: 'exclusive' }, () => gone()).catch(() => undefined);
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function openWithRetry(
  deps: DbWorkerDeps,
  name: string,
  cacheMiB: number,
  timeoutMs: number,
): Promise<StorageDriver> {
  const deadline = Date.now() + timeoutMs;
  let delay = 20;
  for (;;) {
    try {
      return await deps.openDriver(name, cacheMiB);
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      const retryable = code === 'storage_busy' || code === 'storage_io';
      if (!retryable || Date.now() + delay > deadline) {
        if (!retryable) throw error;
        throw new DbWorkerError(
          DbWorkerErrorCode.openFailed,
          `Could not open database "${name}" within ${timeoutMs} ms: another worker still holds its files (close other windows of this app, then reload)`,
          { cause: error },
        );
      }
      await sleep(delay);
      delay = Math.min(delay * 2, 250);
    }
  }
}

/** Creates the worker's API (the worker entry exposes it with Comlink). */
export function createDbWorkerApi(deps: DbWorkerDeps): DbWorkerApi {
  let engine: Engine | undefined;
  let handler: RequestHandler | undefined;
  let sync: SyncHost | undefined;
  let peerHost: PeerHost | undefined;
  let server: ChannelServer | undefined;
  let channel: (ChannelPort & { close(): void }) | undefined;
  let opening: Promise<StorageReport> | undefined;
  let nextWatch = 0;
  const watches = new Map<number, () => void>();

  const ready = (): { engine: Engine; handler: RequestHandler; sync: SyncHost; peers: PeerHost } => {
    if (!engine || !handler || !sync || !peerHost) {
      throw new DbWorkerError(
        DbWorkerErrorCode.notOpen,
        'The database is not open (open() first, or it was closed)',
      );
    }
    return { engine, handler, sync, peers: peerHost };
  };

  function watchOn(
    opened: Engine,
    host: SyncHost,
    peersOf: PeerHost,
    spec: WatchSpec,
    listener: (event: WatchEvent) => void,
  ): () => void {
    if (spec.kind === 'peers') return peersOf.watchPeers((peers) => listener({ kind: 'peers', peers }));
    if (spec.kind === 'peerSignaling') return host.watchSignaling(listener);
    if (spec.kind === 'syncStatus')
      return host.watchStatus((status) => listener({ kind: 'syncStatus', status }));
    if (spec.kind === 'permissions')
      return host.watchPermissions((permissions) => listener({ kind: 'permissions', permissions }));
    return opened.watch(spec, listener);
  }

  function startSync(
    opened: Engine,
    request: OpenRequest,
    getToken: GetToken | undefined,
    peersOf: PeerHost,
  ): SyncHost {
    if (!request.sync) return createSyncHost(undefined);
    if (!getToken) throw new SyncNotConfiguredError();
    const client = (deps.createSyncClient ?? createSyncClient)({
      store: opened.syncStore,
      url: request.sync.url,
      getToken,
      ...(peersOf.peers ? { peers: peersOf.peers } : {}),
    });
    if (request.sync.autoStart !== false) client.start();
    return createSyncHost(client, opened.replica);
  }

  async function open(request: OpenRequest, getToken: GetToken | undefined): Promise<StorageReport> {
    // The device keys (IndexedDB) load while storage opens: both are on the way to the first result.
    const loadingKeys =
      request.peers && request.sync && deps.openKeys ? deps.openKeys(request.name) : undefined;
    loadingKeys?.catch(() => undefined); // awaited below once storage is open
    const driver = await openWithRetry(
      deps,
      request.name,
      request.cacheMiB ?? DEFAULT_CACHE_MIB,
      request.openTimeoutMs ?? 10_000,
    );
    let opened: Engine;
    let keys: SigningKeys | undefined;
    try {
      if (loadingKeys) keys = await loadingKeys;
      opened = await deps.openEngine({ driver, schema: request.schema, ...(keys ? { keys } : {}) });
    } catch (error) {
      await driver.close();
      throw error;
    }
    const peersOf = createPeerHost(opened.syncStore, keys, request.peers);
    let host: SyncHost;
    try {
      host = startSync(opened, request, getToken, peersOf);
    } catch (error) {
      await opened.close();
      throw error;
    }
    engine = opened;
    sync = host;
    peerHost = peersOf;
    handler = createRequestHandler(opened, {
      ...(deps.transactionIdleMs === undefined ? {} : { idleMs: deps.transactionIdleMs }),
      sync: (op) => host.handle(op),
    });
    const storage = storageReport(opened.storage);
    channel = (deps.openChannel ?? ((name) => new BroadcastChannel(name)))(request.channel);
    const whenLockFree = deps.whenLockFree ?? defaultWhenLockFree;
    const { handle } = handler;
    server = serveChannel({
      channel,
      leaderId: request.leaderId,
      storage,
      handle,
      watch: (spec, listener) => watchOn(opened, host, peersOf, spec, listener),
      watchTab: (tabId, gone) => whenLockFree(tabLockName(request.name, tabId), gone),
    });
    return storage;
  }

  return {
    ping: () => 'pong',
    open(request, getToken) {
      opening ??= open(request, getToken);
      return opening;
    },
    async request(request) {
      return await ready().handler.handleOnce(request);
    },
    async requestRecorded(request) {
      return await ready().handler.handle(request);
    },
    async watch(spec, listener) {
      const id = ++nextWatch;
      const current = ready();
      const unsubscribe = watchOn(current.engine, current.sync, current.peers, spec, (event) => {
        Promise.resolve(listener(event)).catch(() => undefined);
      });
      watches.set(id, unsubscribe);
      return id;
    },
    unwatch(id) {
      watches.get(id)?.();
      watches.delete(id);
    },
    attachPeer(port) {
      ready().peers.attach(port);
    },
    peerIdentity: () => ready().peers.identity(),
    signLanProof: (digest) => ready().peers.signLanProof(digest),
    async close() {
      server?.close();
      channel?.close();
      server = undefined;
      channel = undefined;
      for (const unsubscribe of watches.values()) unsubscribe();
      watches.clear();
      handler?.abortAll();
      handler = undefined;
      peerHost?.close();
      peerHost = undefined;
      const stopping = sync;
      sync = undefined;
      await stopping?.close();
      const closing = engine;
      engine = undefined;
      await closing?.close();
    },
  };
}
