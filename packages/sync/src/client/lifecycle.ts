/**
 * `createSyncClient`: the sync client's life cycle as one explicit state (see the diagram in `sync-client.ts`),
 * wiring the link, the session handlers, the uploader, the downloader, the subscription registry and the permissions
 * keeper.
 */
import { compareTimestamps, validateFilter } from '@loam/core';
import { SyncClientError, SyncClientErrorCode } from '../errors';
import type { RefusedWrite } from '../port/sync-store';
import type { ServerMessage, SubscriptionQuery } from '../protocol/messages';
import type { TransportFactory } from '../transport/transport';
import { createWebSocketTransportFactory } from '../transport/transport-websocket';
import { createBackoff } from './backoff';
import { createGlobalConnectivity } from './connectivity';
import { createDownloader } from './downloader';
import { createForwarder } from './forwarder';
import { createSessionHandlers } from './frame-handlers';
import { type Link, type LinkEvents, openLink, type Timers } from './link';
import { createPeerSignaling } from './peer-signaling';
import { createPermissionsKeeper } from './permissions';
import { createStatusStore, type SyncState, type SyncStatus } from './status';
import { createSubscriptionRegistry, type SubscriptionOutcome } from './subscription-registry';
import { subscriptionId } from './subscriptions';
import type { SyncClient, SyncClientOptions } from './sync-client';
import { createTaskQueue } from './task-queue';
import { createUploader } from './uploader';

/** Where the client is: one value, never a set of flags. */
type Lifecycle =
  | { readonly kind: 'stopped' }
  /** Running; the device reports itself offline: no attempt until it is back. */
  | { readonly kind: 'offline' }
  /** Running; a backoff timer runs before the next attempt. */
  | { readonly kind: 'waiting'; readonly timer: unknown }
  /** Running; fetching a token (no link yet), or a link is open and `welcome` has not come. */
  | { readonly kind: 'connecting'; readonly link: Link | null }
  | { readonly kind: 'connected'; readonly link: Link }
  /** A fatal relay error: no attempt until `start()`. */
  | { readonly kind: 'failed' };

/**
 * Documents at most in one group of `docs` frames applied together (one local transaction, unless removals split
 * it). On OPFS a commit costs far more than the rows it writes (100k documents in Chromium, measured: groups of
 * 2,048 took 26 s, of 8,192 19 s); a group of 8,192 holds the database worker for about a second.
 */
const MAX_GROUP_DOCS = 8192;

const PUBLIC_STATE: { readonly [K in Lifecycle['kind']]: SyncState } = {
  stopped: 'stopped',
  offline: 'offline',
  waiting: 'connecting',
  connecting: 'connecting',
  connected: 'connected',
  failed: 'failed',
};

const defaultTimers: Timers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function transportFactoryOf(options: SyncClientOptions): TransportFactory {
  if (options.transportFactory) return options.transportFactory;
  if (options.url !== undefined)
    return createWebSocketTransportFactory({
      url: options.url,
      ...(options.WebSocket ? { WebSocket: options.WebSocket } : {}),
    });
  throw new SyncClientError(
    SyncClientErrorCode.configInvalid,
    'createSyncClient needs a `url` or a `transportFactory`',
  );
}

/**
 * Creates the sync client of `options.store`. It does nothing until `start()`. Throws `sync_config_invalid` when
 * there is neither a `transportFactory` nor a `url` with a WebSocket implementation.
 */
export function createSyncClient(options: SyncClientOptions): SyncClient {
  const { store, getToken } = options;
  const now = options.now ?? Date.now;
  const timers = options.timers ?? defaultTimers;
  const connectivity = options.connectivity ?? createGlobalConnectivity();
  const backoff = createBackoff(options.backoff, options.random);
  const factory = transportFactoryOf(options);
  const keepAlive = {
    timers,
    pingIntervalMs: options.pingIntervalMs ?? 15_000,
    pingTimeoutMs: options.pingTimeoutMs ?? 10_000,
  };
  const status = createStatusStore(now);
  const refusedListeners = new Set<(refused: RefusedWrite) => void>();
  const queue = createTaskQueue();
  const registry = createSubscriptionRegistry(store);
  const permissions = createPermissionsKeeper(store);

  let life: Lifecycle = { kind: 'stopped' };
  let reconnectAtOnce = false;
  let unhook: (() => void)[] = [];
  let pumpQueued = false;

  const linkOf = (l: Lifecycle) => (l.kind === 'connecting' || l.kind === 'connected' ? l.link : null);
  const connectedLink = () => (life.kind === 'connected' ? life.link : null);

  function enter(next: Lifecycle, patch: Partial<SyncStatus> = {}): void {
    if (life.kind === 'waiting' && life !== next) timers.clearTimeout(life.timer);
    life = next;
    status.set({ state: PUBLIC_STATE[next.kind], connected: next.kind === 'connected', ...patch });
  }

  /** Runs a task no caller waits for: a local failure is reported and the connection retried. */
  function background(task: () => Promise<void>): void {
    queue.run(task).catch((error: unknown) => {
      status.issue(SyncClientErrorCode.applyFailed, describe(error));
      linkOf(life)?.close(true);
    });
  }

  const uploader = createUploader(
    store,
    {
      maxBatchOps: Math.max(1, options.maxBatchOps ?? 500),
      maxBatchBytes: Math.max(1, options.maxBatchBytes ?? 512 * 1024),
      maxInFlight: Math.max(1, options.maxInFlight ?? 4),
    },
    connectedLink,
    now,
  );
  const downloader = createDownloader(store, registry, status, now);
  const forwarder = createForwarder(store, connectedLink, now);
  const countPeers = () => status.set({ peers: options.peers?.connectedCount() ?? 0 });
  countPeers();

  /** Sends the outbox and learned transactions, older stamp first, as far as the send windows allow. */
  const pump = async () => {
    status.set({ pendingUploads: await store.pendingCount() });
    for (;;) {
      const own = await uploader.next();
      const learned = await forwarder.next();
      if (learned === undefined || (own !== undefined && compareTimestamps(own, learned) < 0)) {
        status.set({ pendingUploads: await uploader.pump(learned) });
        if (learned === undefined || (await uploader.next()) === own) return;
      } else if (!(await forwarder.pump(own))) return;
    }
  };
  const peers = createPeerSignaling(connectedLink);
  const session = createSessionHandlers({
    store,
    registry,
    uploader,
    forwarder,
    downloader,
    permissions,
    peers,
    status,
    now,
    lifecycle: {
      isCurrent: (link) => linkOf(life) === link,
      welcomed(link) {
        backoff.reset();
        enter({ kind: 'connected', link }, { lastSyncedAt: now(), lastError: null });
      },
      failed(link, issue) {
        enter({ kind: 'failed' }, { lastError: issue });
        link.close(true);
      },
      reconnectAtOnce() {
        reconnectAtOnce = true;
      },
      refreshToken,
      pump,
      refused(writes) {
        for (const r of writes) for (const l of [...refusedListeners]) l(r);
      },
    },
  });

  function schedulePump(): void {
    if (pumpQueued) return;
    pumpQueued = true;
    background(async () => {
      pumpQueued = false;
      await pump();
    });
  }

  /** Waits before the next attempt (or goes offline). */
  function retryLater(): void {
    if (life.kind === 'stopped' || life.kind === 'failed') return;
    if (!connectivity.isOnline()) {
      enter({ kind: 'offline' });
      return;
    }
    const delay = reconnectAtOnce ? 0 : backoff.next();
    reconnectAtOnce = false;
    const timer = timers.setTimeout(() => {
      if (life.kind === 'waiting' && life.timer === timer) void attempt();
    }, delay);
    enter({ kind: 'waiting', timer });
  }

  /**
   * The `docs` frames received since the last other frame, while their task waits in the queue: they are applied
   * together when it runs (frames keep their order against every other frame; see the downloader's `docsMany`).
   */
  let docsGroup:
    | { readonly link: Link; readonly frames: Extract<ServerMessage, { t: 'docs' }>[]; docs: number }
    | undefined;

  function linkEvents(token: string | null): LinkEvents {
    return {
      opened(link) {
        if (linkOf(life) === link) background(() => session.hello(link, token));
      },
      received(link, message: ServerMessage) {
        if (linkOf(life) !== link) return;
        if (message.t !== 'docs') {
          docsGroup = undefined;
          background(() => session.handle(link, message));
          return;
        }
        if (docsGroup?.link === link && docsGroup.docs + message.docs.length <= MAX_GROUP_DOCS) {
          docsGroup.frames.push(message);
          docsGroup.docs += message.docs.length;
          return;
        }
        const group = { link, frames: [message], docs: message.docs.length };
        docsGroup = group;
        background(() => {
          if (docsGroup === group) docsGroup = undefined;
          return session.handleDocs(link, group.frames);
        });
      },
      failed(link, code, message) {
        if (linkOf(life) === link) status.issue(code, message);
      },
      closed(link, detail, explained) {
        if (linkOf(life) !== link) return;
        downloader.end();
        if (!explained)
          status.issue(
            SyncClientErrorCode.connectionLost,
            link.welcomed ? `Connection lost (${detail})` : `Could not connect to the server (${detail})`,
          );
        status.set({ downloading: null });
        retryLater();
      },
    };
  }

  /** One connection attempt: a token, a transport, a link (its `hello` follows once it opens). */
  async function attempt(): Promise<void> {
    if (!connectivity.isOnline()) return enter({ kind: 'offline' });
    const attempting: Lifecycle = { kind: 'connecting', link: null };
    enter(attempting);
    let token: string | null;
    try {
      token = await getToken();
    } catch (error) {
      if (life !== attempting) return;
      status.issue(SyncClientErrorCode.tokenUnavailable, `getToken failed: ${describe(error)}`);
      return retryLater();
    }
    if (life !== attempting) return;
    if (!connectivity.isOnline()) return enter({ kind: 'offline' });
    let link: Link;
    try {
      link = openLink(factory(), keepAlive, linkEvents(token));
    } catch (error) {
      status.issue(SyncClientErrorCode.connectionLost, describe(error));
      return retryLater();
    }
    enter({ kind: 'connecting', link });
  }

  function onConnectivity(online: boolean): void {
    if (life.kind === 'stopped' || life.kind === 'failed') return;
    if (online) {
      if (life.kind === 'offline' || life.kind === 'waiting') {
        backoff.reset();
        void attempt();
      }
      return;
    }
    const link = linkOf(life);
    enter({ kind: 'offline' });
    link?.close(true);
  }

  async function refreshToken(): Promise<void> {
    let token: string | null;
    try {
      token = await getToken();
    } catch (error) {
      status.issue(SyncClientErrorCode.tokenUnavailable, `getToken failed: ${describe(error)}`);
      return;
    }
    const link = connectedLink();
    if (token !== null && link) link.send({ t: 'auth', token });
  }

  function unsubscribe(id: string): Promise<void> {
    return queue.run(async () => {
      const sub = await registry.remove(id);
      if (!sub) return;
      connectedLink()?.send({ t: 'unsubscribe', id });
      await downloader.forget(id);
    });
  }

  return {
    start() {
      if (life.kind !== 'stopped' && life.kind !== 'failed') return;
      if (life.kind === 'stopped')
        unhook = [
          ...(options.peers ? [options.peers.onChange(countPeers)] : []),
          store.onPending(schedulePump),
          store.onPeerLog(schedulePump),
          connectivity.onChange(onConnectivity),
        ];
      backoff.reset();
      reconnectAtOnce = false;
      schedulePump();
      void attempt();
    },

    async stop() {
      for (const u of unhook.splice(0)) u();
      const link = linkOf(life);
      enter({ kind: 'stopped' }, { downloading: null });
      link?.close(true);
      await queue.idle();
    },

    subscribe(collection, filter) {
      if (!Object.hasOwn(store.schema.collections, collection)) {
        throw new SyncClientError(
          SyncClientErrorCode.subscriptionInvalid,
          `Cannot subscribe to "${collection}": the schema has no such collection`,
        );
      }
      const checked = filter === undefined ? undefined : validateFilter(filter);
      const query: SubscriptionQuery = { collection, ...(checked ? { filter: checked } : {}) };
      const id = subscriptionId(query);
      let settle: (outcome: SubscriptionOutcome) => void = () => undefined;
      let fail: (error: unknown) => void = () => undefined;
      const ready = new Promise<SubscriptionOutcome>((resolve, reject) => {
        settle = resolve;
        fail = reject;
      });
      const saved = queue.run(async () => {
        const { sub, send } = await registry.add(query);
        const link = connectedLink();
        if (send && link) {
          link.send({ t: 'subscribe', sub: { id, query } });
          downloader.expect(id);
        }
        registry.wait(sub, settle);
      });
      saved.catch(fail);
      ready.catch(() => undefined);
      saved.catch(() => undefined);
      return {
        id,
        query,
        saved,
        ready,
        unsubscribe: () => unsubscribe(id),
      };
    },

    unsubscribe,

    subscriptions() {
      return queue.run(async () =>
        [...(await registry.all()).values()].map(({ stored }) => ({
          id: stored.id,
          query: stored.query,
          synced: stored.synced,
          ...(stored.denied ? { denied: stored.denied } : {}),
        })),
      );
    },

    refreshToken,
    status: () => status.current(),
    onStatus: (listener) => status.subscribe(listener),
    onRefused(listener) {
      refusedListeners.add(listener);
      return () => {
        refusedListeners.delete(listener);
      };
    },
    permissions: () => permissions.get(),
    onPermissions: (listener) => permissions.onChange(listener),
    peers: {
      signal: peers.signal,
      announce: peers.announce,
      roster: peers.roster,
      onRoster: peers.onRoster,
      onSignal: peers.onSignal,
      onUnreachable: peers.onUnreachable,
    },
  };
}
