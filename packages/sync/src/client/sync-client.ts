/**
 * The client side of sync: keeps one replica's engine in step with the relay, over any {@link Transport}. It runs
 * where the engine runs (the browser's dedicated worker, Node, Electron's main process).
 *
 * ```
 *             getToken()          hello{cursor, subs}          welcome
 *  stopped ─start─▶ connecting ─────open──────────────▶ ─────────────▶ connected ──push/ack, docs, synced──┐
 *     ▲                 ▲  │                                                │  ▲                           │
 *     │                 │  └── fatal error (auth_invalid, schema_mismatch) ─┼──┼──────────────▶ failed    │
 *   stop()        backoff timer ◀─── close / ping timeout / bad frame ◀─────┘  └───────────────────────────┘
 *                       ▲
 *                    online ◀── offline (no connection attempts while the device is offline)
 * ```
 *
 * Invariants:
 * 1. **Nothing is dropped before it is durable.** An op leaves the outbox only through `engine.acknowledge` after
 *    the server's `ack` named it, or through `engine.recordRefusals` after the server refused it (the refusal is
 *    logged and announced to `onRefused`; the compensating `docs` frame that follows reverts the document).
 * 2. **One ordered pipeline.** Every server frame, upload round and subscription change runs in one serial queue,
 *    in arrival order: a refusal is recorded before the compensating snapshot is applied, and a `docs` frame's
 *    documents, removals and cursor are stored in one engine transaction. A `synced` frame's cursor (the point the
 *    server says the session is complete through) is stored too, never moving the cursor back; a `welcome` with
 *    `reset` clears it (the server's history no longer matches it).
 * 3. **Bounded uploads.** At most `maxInFlight` unacknowledged `push` batches are outstanding per connection, each
 *    of at most `maxBatchOps` ops and about `maxBatchBytes` bytes. Ops of a lost connection are sent again on the
 *    next one (the server drops ops it already has).
 * 4. **Subscriptions survive restarts.** They are persisted (sync setting `subscriptions`) before they are sent.
 *    `hello` carries those whose first full set arrived once (the server resumes them from the cursor); the others
 *    are sent as `subscribe` after `welcome`, so their whole set streams in even when the cursor is not 0. Ending one removes from the device the documents no remaining subscription
 *    covers, judged locally (removal, not deletion: no op is written).
 * 5. **Retries are bounded and spread.** Reconnects wait a full-jitter exponential backoff; nothing is attempted
 *    while the device reports itself offline; fatal server errors stop retrying until `start()` is called again.
 * 6. **Expected trouble is a value.** Going offline, losing the server, refusals and server errors show up in
 *    `status()`/`onStatus` and `onRefused`, never as thrown errors or rejected promises.
 */
import { decodeDocSnapshot, encodeOps, type Filter, type Op, validateFilter } from '@loam/core';
import { ProtocolError, SyncClientError, SyncClientErrorCode } from '../errors';
import type { DownloadedDoc, RefusedWrite, SyncStore } from '../port/sync-store';
import { decodeServerMessage, encodeMessage } from '../protocol/codec';
import {
  type ClientMessage,
  PROTOCOL_VERSION,
  type ServerMessage,
  type SubscriptionQuery,
} from '../protocol/messages';
import type { Transport, TransportFactory } from '../transport/transport';
import { createWebSocketTransportFactory, type WebSocketConstructor } from '../transport/transport-websocket';
import { type BackoffOptions, createBackoff } from './backoff';
import {
  parseStoredSubscriptions,
  type StoredSubscription,
  SUBSCRIPTIONS_META_KEY,
  subscriptionId,
  uncoveredFilter,
} from './subscriptions';

/** Where the client is in its life cycle (see the module diagram). */
export type SyncState = 'stopped' | 'offline' | 'connecting' | 'connected' | 'failed';

/** A problem the client ran into, as a value (it also travels across the worker boundary as is). */
export interface SyncIssue {
  /** Stable code: one of `SyncClientErrorCode`, or the server's error code (`auth_invalid`, `limit_exceeded`...). */
  readonly code: string;
  readonly message: string;
  /** True when the client stopped retrying because of it (state `failed`); `start()` tries again. */
  readonly fatal: boolean;
  /** When it happened (ms since epoch, from the injected clock). */
  readonly at: number;
}

/** Download progress of a subscription's first full set. */
export interface DownloadProgress {
  readonly sub: string;
  readonly sent: number;
  readonly total: number;
}

/** What the UI shows about sync. A plain, structured-cloneable value; a new object on every change. */
export interface SyncStatus {
  readonly state: SyncState;
  /** True between the server's `welcome` and the end of that connection. */
  readonly connected: boolean;
  /** Local ops not yet acknowledged by the server. */
  readonly pendingUploads: number;
  /** Last time a frame from the server was applied (welcome, ack, docs, synced); null before the first. */
  readonly lastSyncedAt: number | null;
  /** Progress of the subscription whose first full set is streaming in, or null. */
  readonly downloading: DownloadProgress | null;
  /** The latest problem; cleared when a connection is welcomed. */
  readonly lastError: SyncIssue | null;
}

/** How a subscription's `ready` settles (always resolves, never rejects). */
export type SubscriptionOutcome =
  /** The server sent the subscription's first full set (now, or in an earlier run of the app). */
  | { readonly status: 'synced' }
  /** The server refused the subscription (e.g. `subscription_denied`); it is no longer kept. */
  | { readonly status: 'denied'; readonly code: string; readonly message: string }
  /** The subscription was ended before it synced. */
  | { readonly status: 'unsubscribed' };

/** A subscription as the app holds it. Handles of equal queries share one subscription (same `id`). */
export interface SubscriptionHandle {
  /** Stable id derived from the query: the same on every run of the app. */
  readonly id: string;
  readonly query: SubscriptionQuery;
  /** Settles once the first full set arrived, the server refused the subscription, or it was ended. */
  readonly ready: Promise<SubscriptionOutcome>;
  /**
   * Ends the subscription (for every handle of it), persists that, tells the server when connected, and removes
   * from the device the documents no remaining subscription covers. Idempotent.
   */
  unsubscribe(): Promise<void>;
}

/** A persisted subscription, as listed by `subscriptions()`. */
export interface SubscriptionInfo {
  readonly id: string;
  readonly query: SubscriptionQuery;
  /** The server confirmed its first full set at least once. */
  readonly synced: boolean;
}

/** Timer functions (inject a manual scheduler in tests). */
export interface Timers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** Whether the device has a network, and changes of it. */
export interface Connectivity {
  isOnline(): boolean;
  /** Called with the new value when the device goes on- or offline. Returns the unsubscribe function. */
  onChange(listener: (online: boolean) => void): () => void;
}

/** Options of {@link createSyncClient}. */
export interface SyncClientOptions {
  /** The local database, through the port sync owns (`engine.syncStore` of `@loam/store`). */
  readonly store: SyncStore;
  /** `ws://`/`wss://` address of the relay (used when no `transportFactory` is given). */
  readonly url?: string;
  /** WebSocket implementation for `url` (default: the global one; pass `ws`'s on Node < 22). */
  readonly WebSocket?: WebSocketConstructor;
  /** Opens a connection; overrides `url`. */
  readonly transportFactory?: TransportFactory;
  /** The app's token source, called before every connection and on `refreshToken()`; null signs in anonymously. */
  readonly getToken: () => Promise<string | null>;
  /** Wall clock, ms (default `Date.now`). */
  readonly now?: () => number;
  /** Floats in [0, 1) for the backoff jitter (default `Math.random`). */
  readonly random?: () => number;
  readonly backoff?: BackoffOptions;
  /** Default: the global `setTimeout`/`clearTimeout`. */
  readonly timers?: Timers;
  /** Default: {@link createGlobalConnectivity} (`navigator.onLine` and the `online`/`offline` events). */
  readonly connectivity?: Connectivity;
  /** Largest number of ops in one `push` (default 500). */
  readonly maxBatchOps?: number;
  /** Approximate largest encoded size of one `push`, bytes (default 512 KiB); a single larger op goes alone. */
  readonly maxBatchBytes?: number;
  /** Largest number of unacknowledged `push` batches per connection (default 4). */
  readonly maxInFlight?: number;
  /** Quiet time after which the client pings the server, ms (default 15 000). */
  readonly pingIntervalMs?: number;
  /** How long the client waits for any frame after a ping before dropping the connection, ms (default 10 000). */
  readonly pingTimeoutMs?: number;
}

/** The client side of sync for one engine; see the module documentation for its invariants. */
export interface SyncClient {
  /** Starts connecting (and retrying). Also clears a `failed` state to try again. Idempotent. */
  start(): void;
  /** Closes the connection, stops retrying and resolves once in-flight local work finished. Subscriptions stay. */
  stop(): Promise<void>;
  /**
   * Subscribes to the documents of `collection` matching `filter` (and the user's read permission). Persisted at
   * once; sent now when connected, else on the next connection. Throws `subscription_invalid` for a collection
   * the schema lacks and `query_invalid` for a malformed filter.
   */
  subscribe(collection: string, filter?: Filter): SubscriptionHandle;
  /** The persisted subscriptions. */
  subscriptions(): Promise<SubscriptionInfo[]>;
  /** Fetches a token from `getToken` and, on a live connection, sends it (`auth`); new claims recompute views. */
  refreshToken(): Promise<void>;
  /** The current status. */
  status(): SyncStatus;
  /** Called with each new status. Returns the unsubscribe function. */
  onStatus(listener: (status: SyncStatus) => void): () => void;
  /** Called for each write the server refused (already recorded in `engine.refusedWrites()`). */
  onRefused(listener: (refused: RefusedWrite) => void): () => void;
}

/** Server error codes after which retrying cannot help: the client stops until `start()` is called again. */
export const FATAL_SERVER_CODES: ReadonlySet<string> = new Set([
  'auth_invalid',
  'auth_required',
  'replica_mismatch',
  'schema_mismatch',
  'protocol_version',
  'origin_denied',
]);

const AUTH_EXPIRED = 'auth_expired';

interface Connection {
  readonly transport: Transport;
  welcomed: boolean;
  /** The subscription ids the `hello` carried (null before it was sent). */
  helloSubs: Set<string> | null;
  nextBatch: number;
  readonly inFlight: Map<number, readonly string[]>;
  readonly inFlightOps: Set<string>;
  /** Ops the server acked a batch without naming: not sent again on this connection. */
  readonly unanswered: Set<string>;
  idleTimer: unknown;
  pingTimer: unknown;
  /** A more precise issue than "connection lost" was already recorded for this connection. */
  explained: boolean;
}

interface LiveSubscription {
  stored: StoredSubscription;
  readonly waiters: ((outcome: SubscriptionOutcome) => void)[];
}

/**
 * The runtime's connectivity: `navigator.onLine` plus the `online`/`offline` events of `globalThis`. Chromium
 * updates `navigator.onLine` in dedicated workers without firing those events there, so where `navigator.onLine`
 * exists it is also checked every `pollMs`; listeners hear each change once. Without `navigator.onLine` (Node) the
 * device counts as always online.
 */
export function createGlobalConnectivity(pollMs = 250): Connectivity {
  const g = globalThis as {
    navigator?: { onLine?: unknown };
    addEventListener?: (type: string, listener: () => void) => void;
    removeEventListener?: (type: string, listener: () => void) => void;
  };
  const isOnline = () => g.navigator?.onLine !== false;
  return {
    isOnline,
    onChange(listener) {
      let last = isOnline();
      const check = () => {
        const value = isOnline();
        if (value === last) return;
        last = value;
        listener(value);
      };
      const cleanups: (() => void)[] = [];
      if (typeof g.addEventListener === 'function') {
        g.addEventListener('online', check);
        g.addEventListener('offline', check);
        cleanups.push(() => {
          g.removeEventListener?.('online', check);
          g.removeEventListener?.('offline', check);
        });
      }
      if (typeof g.navigator?.onLine === 'boolean') {
        const interval = setInterval(check, pollMs);
        cleanups.push(() => clearInterval(interval));
      }
      return () => {
        for (const c of cleanups) c();
      };
    },
  };
}

const defaultTimers: Timers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/**
 * Creates the sync client of `options.engine`. It does nothing until `start()`. Throws `sync_config_invalid` when
 * there is neither a `transportFactory` nor a `url` with a WebSocket implementation.
 */
export function createSyncClient(options: SyncClientOptions): SyncClient {
  const { store, getToken } = options;
  const now = options.now ?? Date.now;
  const timers = options.timers ?? defaultTimers;
  const connectivity = options.connectivity ?? createGlobalConnectivity();
  const backoff = createBackoff(options.backoff, options.random);
  const maxBatchOps = Math.max(1, options.maxBatchOps ?? 500);
  const maxBatchBytes = Math.max(1, options.maxBatchBytes ?? 512 * 1024);
  const maxInFlight = Math.max(1, options.maxInFlight ?? 4);
  const pingIntervalMs = options.pingIntervalMs ?? 15_000;
  const pingTimeoutMs = options.pingTimeoutMs ?? 10_000;
  let factory: TransportFactory;
  if (options.transportFactory) factory = options.transportFactory;
  else if (options.url !== undefined)
    factory = createWebSocketTransportFactory({
      url: options.url,
      ...(options.WebSocket ? { WebSocket: options.WebSocket } : {}),
    });
  else
    throw new SyncClientError(
      SyncClientErrorCode.configInvalid,
      'createSyncClient needs a `url` or a `transportFactory`',
    );

  const statusListeners = new Set<(status: SyncStatus) => void>();
  const refusedListeners = new Set<(refused: RefusedWrite) => void>();
  let current: SyncStatus = {
    state: 'stopped',
    connected: false,
    pendingUploads: 0,
    lastSyncedAt: null,
    downloading: null,
    lastError: null,
  };

  let running = false;
  let failed = false;
  let conn: Connection | null = null;
  let connecting = false;
  let reconnectTimer: unknown = null;
  let reconnectNow = false;
  let unhook: (() => void)[] = [];

  let subs: Map<string, LiveSubscription> | null = null;

  let tail: Promise<void> = Promise.resolve();
  let pumpQueued = false;

  function setStatus(patch: Partial<SyncStatus>): void {
    let changed = false;
    for (const [k, v] of Object.entries(patch)) {
      if (current[k as keyof SyncStatus] !== v) changed = true;
    }
    if (!changed) return;
    current = { ...current, ...patch };
    for (const l of [...statusListeners]) l(current);
  }

  function issue(code: string, message: string, fatal = false): SyncIssue {
    const value = { code, message, fatal, at: now() };
    setStatus({ lastError: value });
    return value;
  }

  function enqueue(task: () => Promise<void>): Promise<void> {
    const run = tail.then(task).catch((error: unknown) => {
      issue(SyncClientErrorCode.applyFailed, describe(error));
      if (conn) {
        conn.explained = true;
        conn.transport.close();
      }
    });
    tail = run;
    return run;
  }

  async function loadSubs(): Promise<Map<string, LiveSubscription>> {
    if (subs) return subs;
    const stored = parseStoredSubscriptions(await store.readState(SUBSCRIPTIONS_META_KEY));
    subs ??= new Map(stored.map((s) => [s.id, { stored: s, waiters: [] }]));
    return subs;
  }

  async function persistSubs(map: Map<string, LiveSubscription>): Promise<void> {
    await store.writeState(
      SUBSCRIPTIONS_META_KEY,
      [...map.values()].map((s) => s.stored),
    );
  }

  function settle(sub: LiveSubscription, outcome: SubscriptionOutcome): void {
    for (const w of sub.waiters.splice(0)) w(outcome);
  }

  function send(c: Connection, message: ClientMessage): void {
    c.transport.send(encodeMessage(message));
  }

  function clearKeepAlive(c: Connection): void {
    if (c.idleTimer !== null) timers.clearTimeout(c.idleTimer);
    if (c.pingTimer !== null) timers.clearTimeout(c.pingTimer);
    c.idleTimer = null;
    c.pingTimer = null;
  }

  function armKeepAlive(c: Connection): void {
    clearKeepAlive(c);
    c.idleTimer = timers.setTimeout(() => {
      c.idleTimer = null;
      if (conn !== c) return;
      send(c, { t: 'ping' });
      c.pingTimer = timers.setTimeout(() => {
        c.pingTimer = null;
        if (conn !== c) return;
        issue(SyncClientErrorCode.pingTimeout, `The server did not answer a ping within ${pingTimeoutMs} ms`);
        c.explained = true;
        c.transport.close();
      }, pingTimeoutMs);
    }, pingIntervalMs);
  }

  function cancelReconnect(): void {
    if (reconnectTimer !== null) timers.clearTimeout(reconnectTimer);
    reconnectTimer = null;
  }

  function scheduleReconnect(): void {
    if (!running || failed || conn || connecting || reconnectTimer !== null) return;
    if (!connectivity.isOnline()) {
      setStatus({ state: 'offline', connected: false });
      return;
    }
    setStatus({ state: 'connecting', connected: false });
    const delay = reconnectNow ? 0 : backoff.next();
    reconnectNow = false;
    reconnectTimer = timers.setTimeout(() => {
      reconnectTimer = null;
      void connect();
    }, delay);
  }

  async function connect(): Promise<void> {
    if (!running || failed || conn || connecting) return;
    if (!connectivity.isOnline()) {
      setStatus({ state: 'offline', connected: false });
      return;
    }
    connecting = true;
    setStatus({ state: 'connecting', connected: false });
    let token: string | null;
    try {
      token = await getToken();
    } catch (error) {
      connecting = false;
      issue(SyncClientErrorCode.tokenUnavailable, `getToken failed: ${describe(error)}`);
      scheduleReconnect();
      return;
    }
    if (!running || failed || !connectivity.isOnline()) {
      connecting = false;
      if (running && !failed) setStatus({ state: 'offline' });
      return;
    }
    let transport: Transport;
    try {
      transport = factory();
    } catch (error) {
      connecting = false;
      issue(SyncClientErrorCode.connectionLost, describe(error));
      scheduleReconnect();
      return;
    }
    connecting = false;
    const c: Connection = {
      transport,
      welcomed: false,
      helloSubs: null,
      nextBatch: 1,
      inFlight: new Map(),
      inFlightOps: new Set(),
      unanswered: new Set(),
      idleTimer: null,
      pingTimer: null,
      explained: false,
    };
    conn = c;
    let lastTransportError: Error | null = null;
    transport.onError((error) => {
      lastTransportError = error;
    });
    transport.onOpen(() => {
      armKeepAlive(c);
      void enqueue(() => sendHello(c, token));
    });
    transport.onFrame((frame) => {
      if (conn !== c) return;
      armKeepAlive(c);
      let message: ServerMessage;
      try {
        message = decodeServerMessage(frame);
      } catch (error) {
        issue(error instanceof ProtocolError ? error.code : SyncClientErrorCode.applyFailed, describe(error));
        c.explained = true;
        c.transport.close();
        return;
      }
      void enqueue(() => handle(c, message));
    });
    transport.onClose((event) => {
      clearKeepAlive(c);
      if (conn !== c) return;
      conn = null;
      if (!c.explained && running && !failed) {
        const cause = lastTransportError as Error | null;
        const detail = cause?.message ?? `code ${event.code}${event.reason ? `: ${event.reason}` : ''}`;
        issue(
          SyncClientErrorCode.connectionLost,
          c.welcomed ? `Connection lost (${detail})` : `Could not connect to the server (${detail})`,
        );
      }
      setStatus({ connected: false, downloading: null });
      scheduleReconnect();
    });
  }

  async function sendHello(c: Connection, token: string | null): Promise<void> {
    if (conn !== c) return;
    const cursor = await store.cursor();
    const map = await loadSubs();
    if (conn !== c) return;
    const synced = [...map.values()].filter((s) => s.stored.synced);
    c.helloSubs = new Set(synced.map((s) => s.stored.id));
    send(c, {
      t: 'hello',
      protocol: PROTOCOL_VERSION,
      replica: store.replica,
      token,
      schemaVersion: store.schema.version,
      cursor,
      subs: synced.map((s) => ({ id: s.stored.id, query: s.stored.query })),
    });
  }

  async function handle(c: Connection, message: ServerMessage): Promise<void> {
    switch (message.t) {
      case 'welcome': {
        if (conn !== c) return;
        c.welcomed = true;
        backoff.reset();
        if (message.reset) await store.setCursor(0);
        const map = await loadSubs();
        for (const [id, s] of map)
          if (!c.helloSubs?.has(id)) send(c, { t: 'subscribe', sub: { id, query: s.stored.query } });
        for (const id of c.helloSubs ?? []) if (!map.has(id)) send(c, { t: 'unsubscribe', id });
        setStatus({ state: 'connected', connected: true, lastSyncedAt: now(), lastError: null });
        await pump();
        return;
      }
      case 'ack': {
        const batch = c.inFlight.get(message.batch) ?? [];
        if (message.accepted.length > 0) await store.acknowledge(message.accepted);
        if (message.refused.length > 0) {
          const at = now();
          const refused: RefusedWrite[] = message.refused.map((r) => ({ ...r, at }));
          await store.recordRefusals(refused);
          for (const r of refused) for (const l of [...refusedListeners]) l(r);
        }
        const answered = new Set([...message.accepted, ...message.refused.map((r) => r.op)]);
        c.inFlight.delete(message.batch);
        for (const id of batch) {
          c.inFlightOps.delete(id);
          if (!answered.has(id)) c.unanswered.add(id);
        }
        setStatus({ lastSyncedAt: now() });
        await pump();
        return;
      }
      case 'docs': {
        const map = await loadSubs();
        const relevant = message.sub === undefined || map.has(message.sub);
        const docs: DownloadedDoc[] = relevant
          ? message.docs.map((d) => ({
              collection: d.collection,
              id: d.id,
              state: decodeDocSnapshot(d.state),
              mode: d.mode,
            }))
          : [];
        await store.applyDownload({
          docs,
          removed: message.removed,
          ...(message.cursor > 0 ? { cursor: message.cursor } : {}),
        });
        const patch: { lastSyncedAt: number; downloading?: DownloadProgress | null } = {
          lastSyncedAt: now(),
        };
        if (relevant && message.sub !== undefined && message.progress)
          patch.downloading = { sub: message.sub, ...message.progress };
        setStatus(patch);
        return;
      }
      case 'synced': {
        if (message.cursor > 0) {
          if ((await store.cursor()) < message.cursor) await store.setCursor(message.cursor);
        }
        const map = await loadSubs();
        const sub = map.get(message.sub);
        if (sub) {
          if (!sub.stored.synced) {
            sub.stored = { ...sub.stored, synced: true };
            await persistSubs(map);
          }
          settle(sub, { status: 'synced' });
        }
        setStatus({
          lastSyncedAt: now(),
          ...(current.downloading?.sub === message.sub ? { downloading: null } : {}),
        });
        return;
      }
      case 'pong':
        return;
      case 'error':
        await handleError(c, message);
        return;
    }
  }

  async function handleError(c: Connection, message: Extract<ServerMessage, { t: 'error' }>): Promise<void> {
    if (message.sub !== undefined) {
      const map = await loadSubs();
      const sub = map.get(message.sub);
      if (sub) {
        map.delete(message.sub);
        await persistSubs(map);
        settle(sub, { status: 'denied', code: message.code, message: message.message });
      }
      issue(message.code, message.message);
      if (current.downloading?.sub === message.sub) setStatus({ downloading: null });
      if (message.fatal && conn === c) {
        c.explained = true;
        c.transport.close();
      }
      return;
    }
    if (message.code === AUTH_EXPIRED && !message.fatal && conn === c) {
      await refreshToken();
      return;
    }
    const terminal = FATAL_SERVER_CODES.has(message.code);
    if (conn === c) {
      if (message.code === AUTH_EXPIRED) reconnectNow = true;
      if (terminal) {
        failed = true;
        cancelReconnect();
        setStatus({ state: 'failed' });
      }
      issue(message.code, message.message, terminal);
      if (message.fatal || terminal) {
        c.explained = true;
        c.transport.close();
      }
    }
  }

  /** Sends as many outbox ops as the in-flight bound allows, then refreshes the pending count. */
  async function pump(): Promise<void> {
    const c = conn;
    if (c?.welcomed && c.inFlight.size < maxInFlight) {
      const skip = c.inFlightOps.size + c.unanswered.size;
      const room = (maxInFlight - c.inFlight.size) * maxBatchOps;
      const pending = (await store.pendingOps(skip + room)).filter(
        (op) => !c.inFlightOps.has(op.id) && !c.unanswered.has(op.id),
      );
      let i = 0;
      while (i < pending.length && c.inFlight.size < maxInFlight && conn === c) {
        const batch: Op[] = [];
        let bytes = 0;
        while (i < pending.length && batch.length < maxBatchOps) {
          const op = pending[i] as Op;
          const size = encodeOps([op]).length;
          if (batch.length > 0 && bytes + size > maxBatchBytes) break;
          batch.push(op);
          bytes += size;
          i++;
        }
        const number = c.nextBatch++;
        const ids = batch.map((op) => op.id as string);
        c.inFlight.set(number, ids);
        for (const id of ids) c.inFlightOps.add(id);
        send(c, { t: 'push', batch: number, ops: encodeOps(batch) });
      }
    }
    setStatus({ pendingUploads: await store.pendingCount() });
  }

  function schedulePump(): void {
    if (pumpQueued) return;
    pumpQueued = true;
    void enqueue(async () => {
      pumpQueued = false;
      await pump();
    });
  }

  async function refreshToken(): Promise<void> {
    let token: string | null;
    try {
      token = await getToken();
    } catch (error) {
      issue(SyncClientErrorCode.tokenUnavailable, `getToken failed: ${describe(error)}`);
      return;
    }
    if (token !== null && conn?.welcomed) send(conn, { t: 'auth', token });
  }

  function onConnectivity(online: boolean): void {
    if (!running) return;
    if (online) {
      cancelReconnect();
      backoff.reset();
      if (!failed) void connect();
      return;
    }
    cancelReconnect();
    setStatus({ state: failed ? 'failed' : 'offline', connected: false });
    if (conn) {
      conn.explained = true;
      conn.transport.close();
    }
  }

  return {
    start() {
      if (running && !failed) return;
      failed = false;
      if (!running) {
        running = true;
        unhook = [store.onPending(schedulePump), connectivity.onChange(onConnectivity)];
      }
      backoff.reset();
      cancelReconnect();
      schedulePump();
      void connect();
    },

    async stop() {
      running = false;
      failed = false;
      for (const u of unhook.splice(0)) u();
      cancelReconnect();
      const c = conn;
      conn = null;
      if (c) {
        clearKeepAlive(c);
        c.transport.close();
      }
      setStatus({ state: 'stopped', connected: false, downloading: null });
      await tail;
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
      let resolveReady: (outcome: SubscriptionOutcome) => void = () => undefined;
      const ready = new Promise<SubscriptionOutcome>((resolve) => {
        resolveReady = resolve;
      });
      void enqueue(async () => {
        const map = await loadSubs();
        let sub = map.get(id);
        if (!sub) {
          sub = { stored: { id, query, synced: false }, waiters: [] };
          map.set(id, sub);
          await persistSubs(map);
          if (conn?.welcomed) send(conn, { t: 'subscribe', sub: { id, query } });
        }
        if (sub.stored.synced) resolveReady({ status: 'synced' });
        else sub.waiters.push(resolveReady);
      });
      return {
        id,
        query,
        ready,
        unsubscribe: () =>
          enqueue(async () => {
            const map = await loadSubs();
            const sub = map.get(id);
            if (!sub) return;
            map.delete(id);
            await persistSubs(map);
            settle(sub, { status: 'unsubscribed' });
            if (conn?.welcomed) send(conn, { t: 'unsubscribe', id });
            if (current.downloading?.sub === id) setStatus({ downloading: null });
            await store.removeDocs({
              collection: query.collection,
              filter: uncoveredFilter(
                query,
                [...map.values()].map((s) => s.stored.query),
              ),
            });
          }),
      };
    },

    async subscriptions() {
      let list: SubscriptionInfo[] = [];
      await enqueue(async () => {
        list = [...(await loadSubs()).values()].map((s) => ({
          id: s.stored.id,
          query: s.stored.query,
          synced: s.stored.synced,
        }));
      });
      return list;
    },

    refreshToken,

    status: () => current,

    onStatus(listener) {
      statusListeners.add(listener);
      return () => {
        statusListeners.delete(listener);
      };
    },

    onRefused(listener) {
      refusedListeners.add(listener);
      return () => {
        refusedListeners.delete(listener);
      };
    },
  };
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
