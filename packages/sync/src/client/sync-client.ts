/**
 * The client side of sync: keeps one replica's local database in step with the relay, over any {@link Transport},
 * through the {@link SyncStore} port. It runs where the database runs (the browser's dedicated worker, Node,
 * Electron's main process).
 *
 * ```
 *                 attempt: getToken(), open, hello        welcome
 *  stopped ─start─▶ connecting ───────────────────────────────────▶ connected
 *     ▲               ▲   │ link closed, ping timeout, bad frame        │
 *   stop()            │   └──────────────▶ waiting (backoff) ◀──────────┘
 *   (from any)        └────── timer ──────────┘
 *                 offline ◀── device offline (from connecting, waiting, connected) ── online ─▶ connecting
 *                 failed  ◀── fatal error (auth_invalid, schema_mismatch...) ── start() ─▶ connecting
 * ```
 * This file states the contract; `lifecycle.ts` implements it (the life cycle is one value of a `Lifecycle`
 * union there), with the parts beside it: `link.ts` (one connection
 * and its keep-alive), `frame-handlers.ts` (hello and what each frame does), `uploader.ts`, `downloader.ts`,
 * `subscription-registry.ts`, `permissions.ts`, `connectivity.ts`, `backoff.ts`, `status.ts`.
 *
 * Invariants:
 * 1. **Nothing is dropped before it is durable** (see `uploader.ts`).
 * 2. **One ordered pipeline.** Every relay frame, upload round and subscription change runs in one serial queue,
 *    in arrival order (see `task-queue.ts`).
 * 3. **Subscriptions survive restarts; unsubscribing never loses a write; a refusal is remembered** (see
 *    `subscription-registry.ts`). `hello` carries those whose first full set arrived once; the others are sent as
 *    `subscribe` after `welcome`, so their whole set streams in even when the cursor is not 0.
 * 4. **Retries are bounded and spread.** Reconnects wait a full-jitter exponential backoff; nothing is attempted
 *    while the device reports itself offline; fatal relay errors stop retrying until `start()` is called again.
 * 5. **Expected trouble is a value.** Going offline, losing the relay, refusals, relay errors and a database
 *    restored from an older copy show up in `status()`/`onStatus` and `onRefused`. A local failure of a call the
 *    app made (`subscribe`, `unsubscribe`, `subscriptions`) rejects that call; a local failure while applying a
 *    frame is reported (`apply_failed`) and the connection is retried.
 */
import type { Filter, Permissions } from '@loam/core';
import type { Peers } from '../peers/peers';
import type { RefusedWrite, SyncStore } from '../port/sync-store';
import type { SubscriptionQuery } from '../protocol/messages';
import type { TransportFactory } from '../transport/transport';
import type { WebSocketConstructor } from '../transport/transport-websocket';
import type { BackoffOptions } from './backoff';
import type { Connectivity } from './connectivity';
import type { Timers } from './link';
import type { RelaySignaling } from './peer-signaling';
import type { SyncStatus } from './status';
import type { SubscriptionOutcome } from './subscription-registry';
import type { SubscriptionDenial } from './subscriptions';

export type { Connectivity } from './connectivity';
export { createGlobalConnectivity } from './connectivity';
export type { Timers } from './link';
export type { RelaySignaling } from './peer-signaling';
export {
  type DownloadProgress,
  INITIAL_SYNC_STATUS,
  type SyncIssue,
  type SyncState,
  type SyncStatus,
} from './status';
export type { SubscriptionOutcome } from './subscription-registry';

/** A subscription as the app holds it. Handles of equal queries share one subscription (same `id`). */
export interface SubscriptionHandle {
  /** Stable id derived from the query: the same on every run of the app. */
  readonly id: string;
  readonly query: SubscriptionQuery;
  /** Resolves once the subscription is saved on the device; rejects when it could not be (a storage failure). */
  readonly saved: Promise<void>;
  /**
   * Settles once the first full set arrived, the relay refused the subscription, or it was ended. Rejects only
   * when the subscription could not be saved.
   */
  readonly ready: Promise<SubscriptionOutcome>;
  /**
   * Ends the subscription (for every handle of it), persists that, tells the relay when connected, and removes
   * from the device the documents no remaining subscription covers (those with writes not yet acknowledged stay
   * until they are). Idempotent. Rejects when the local database failed.
   */
  unsubscribe(): Promise<void>;
}

/** A persisted subscription, as listed by `subscriptions()`. */
export interface SubscriptionInfo {
  readonly id: string;
  readonly query: SubscriptionQuery;
  /** The relay confirmed its first full set at least once. */
  readonly synced: boolean;
  /** Present when the relay refused it: why. It is not sent again until subscribed to again. */
  readonly denied?: SubscriptionDenial;
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
  /** Quiet time after which the client pings the relay, ms (default 15 000). */
  readonly pingIntervalMs?: number;
  /** How long the client waits for any frame after a ping before dropping the connection, ms (default 10 000). */
  readonly pingTimeoutMs?: number;
  /** This replica's peer connections (`createPeers`): the status counts them. */
  readonly peers?: Pick<Peers, 'connectedCount' | 'onChange'>;
}

/** The client side of sync for one local database; see the module documentation for its invariants. */
export interface SyncClient {
  /** Starts connecting (and retrying). Also clears a `failed` state to try again. Idempotent. */
  start(): void;
  /** Closes the connection, stops retrying and resolves once in-flight local work finished. Subscriptions stay. */
  stop(): Promise<void>;
  /**
   * Subscribes to the documents of `collection` matching `filter` (and the user's read permission). Persisted at
   * once; sent now when connected, else on the next connection. Subscribing again to a refused query retries it.
   * Throws `subscription_invalid` for a collection the schema lacks and `query_invalid` for a malformed filter.
   */
  subscribe(collection: string, filter?: Filter): SubscriptionHandle;
  /** The persisted subscriptions, refused ones included. Rejects when the local database failed. */
  subscriptions(): Promise<SubscriptionInfo[]>;
  /** Ends subscription `id` (what `SubscriptionHandle.unsubscribe` does), whoever made it. Idempotent. */
  unsubscribe(id: string): Promise<void>;
  /** Fetches a token from `getToken` and, on a live connection, sends it (`auth`); new claims recompute views. */
  refreshToken(): Promise<void>;
  /** The current status. */
  status(): SyncStatus;
  /** Called with each new status. Returns the unsubscribe function. */
  onStatus(listener: (status: SyncStatus) => void): () => void;
  /** Called for each write the relay refused (already recorded in the refused-writes log). */
  onRefused(listener: (refused: RefusedWrite) => void): () => void;
  /** The permissions the relay last sent for the token (persisted across restarts); null before the first. */
  permissions(): Promise<Permissions | null>;
  /** Called with the permissions each time the relay sends them (already persisted). Returns the unsubscribe function. */
  onPermissions(listener: (permissions: Permissions) => void): () => void;
  /** Signaling to peers through the relay, and the relay's roster of them (see `peer-signaling.ts`). */
  readonly peers: RelaySignaling;
}
