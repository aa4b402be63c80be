/**
 * The requests a database worker serves, as plain structured-cloneable data. The leader tab sends them over
 * Comlink, follower tabs over a BroadcastChannel (see `channel-protocol.ts`); both reach the same
 * {@link DbRequestHandler}.
 *
 * Invariants:
 * 1. **Writes are idempotent.** Writes are `@loam/core` write intents, carried as they are. Every `write` and
 *    `begin` carries a `requestId` chosen by the caller. A request
 *    whose id already committed is not applied again: it resolves with the result recorded the first time. A
 *    caller that lost a reply (its leader tab closed) resends the same request, with the same id, to the next
 *    leader.
 * 2. **A transaction is a session.** `begin` opens one engine transaction and resolves once it holds the
 *    database (or at once with `{ committed: true }` when its `requestId` already committed); `tx` calls run
 *    inside it in order; `commit` records the caller's result and commits; `rollback`, an error thrown by the
 *    session's callback, or {@link TRANSACTION_IDLE_MS} without a call undoes all of it.
 * 3. **Reads are side-effect free** and may be resent freely.
 */
import type { Filter, Permissions, Query, Rules, Schema, WriteIntent } from '@loam/core';
import type { AggregateSpec, LiveQueryEvent, LiveQuerySpec, SqlValue } from '@loam/store';
import type { PeerInfo, RosterPeer, SyncStatus } from '@loam/sync';

/** A transaction with no call for this long is rolled back (its tab probably went away). */
export const TRANSACTION_IDLE_MS = 10_000;

/** One read; `get` and `find` inside a transaction see its own earlier writes. */
export type ReadOp =
  | { readonly kind: 'get'; readonly collection: string; readonly id: string }
  | { readonly kind: 'find'; readonly query: Query }
  | { readonly kind: 'aggregate'; readonly spec: AggregateSpec }
  | { readonly kind: 'sql'; readonly sql: string; readonly params?: readonly SqlValue[] };

/** Operations allowed inside a transaction session: a write intent of `@loam/core`, or a read. */
export type TxOp = WriteIntent | Extract<ReadOp, { kind: 'get' | 'find' }>;

/**
 * A call on the sync client hosted beside the engine (see `sync-host.ts`). Every one may be resent to a new leader:
 * `subscribe` is idempotent (the id derives from the query), `ready` settles from the persisted subscriptions when
 * the worker did not see the `subscribe`, and `start`, `stop`, `unsubscribe` are idempotent.
 */
export type SyncOp =
  | { readonly kind: 'start' | 'stop' | 'refreshToken' | 'status' }
  | { readonly kind: 'subscribe'; readonly collection: string; readonly filter?: Filter }
  | { readonly kind: 'ready' | 'unsubscribe'; readonly id: string }
  /** Sends one signaling message to peer `to` through the relay; resolves false when not connected. */
  | { readonly kind: 'signal'; readonly to: string; readonly data: string }
  /** Announces this device's LAN signaling addresses (`host:port`) to its peers' rosters (again after reconnects). */
  | { readonly kind: 'announce'; readonly addresses: readonly string[] };

/** Every request a worker serves (live queries apart: they are subscriptions, see `DbWorkerApi.watch`). */
export type DbRequest =
  /** Write intents run as one transaction; resolves with their documents' ids, in order. */
  | { readonly type: 'write'; readonly requestId: string; readonly intents: readonly WriteIntent[] }
  | { readonly type: 'read'; readonly op: ReadOp }
  | { readonly type: 'sync'; readonly op: SyncOp }
  | { readonly type: 'begin'; readonly requestId: string }
  | { readonly type: 'tx'; readonly txId: string; readonly op: TxOp }
  | { readonly type: 'commit'; readonly txId: string; readonly result: unknown }
  | { readonly type: 'rollback'; readonly txId: string };

/** What `begin` resolves with. */
export type BeginResult =
  | { readonly committed: false; readonly txId: string }
  /** The `requestId` had already committed: nothing ran; `result` is what its commit recorded. */
  | { readonly committed: true; readonly result: unknown };

/** Serves requests; rejects with Loam errors (which the transports serialise). */
export type DbRequestHandler = (request: DbRequest) => Promise<unknown>;

/** What `open` needs. */
export interface OpenRequest {
  /** Database name (letters, digits, `-`, `_`, `.`). */
  readonly name: string;
  readonly schema: Schema;
  /** Name of the BroadcastChannel follower tabs talk on; the worker serves it once the database is open. */
  readonly channel: string;
  /** Id of this leadership (unique per worker start): follower requests are addressed to it. */
  readonly leaderId: string;
  /** Give up opening after this long (the previous leader's worker may hold the OPFS files for a moment). */
  readonly openTimeoutMs?: number;
  /** SQLite page cache, in MiB (default {@link DEFAULT_CACHE_MIB}); allocated only as pages are read. */
  readonly cacheMiB?: number;
  /** Sync with a relay; the token source travels beside the request (a function cannot be cloned). */
  readonly sync?: SyncConfig;
  /** Sync with peers too (needs `sync`: the relay certifies the device key peers check). */
  readonly peers?: PeersConfig;
}

/** How the worker syncs with peers. */
export interface PeersConfig {
  /**
   * The relay's rules (the same file, parsed as the relay parses it): received transactions are judged by them,
   * and a peer whose certificate names other rules is refused.
   */
  readonly rules: Rules;
}

/**
 * This device as its peers check it, for a signaling layer the app runs (the desktop shell's LAN signaling): its
 * replica and public key, its device certificate as the relay signed it, the relay's public key (which the
 * certificate was checked against when it was saved) and the newest signed revocation list it holds. All public.
 */
export interface DeviceIdentity {
  readonly replica: string;
  /** The device's Ed25519 public key (32 raw bytes). */
  readonly publicKey: Uint8Array;
  /** The certificate's signed bytes and the relay's signature of them. */
  readonly certificate: { readonly bytes: Uint8Array; readonly signature: Uint8Array };
  /** The relay's Ed25519 public key. */
  readonly relayKey: Uint8Array;
  readonly revocations?: { readonly list: Uint8Array; readonly signature: Uint8Array };
}

/**
 * One peer as the app sees it: the newest connection to that replica (its state, refusal and last frame) with the
 * ops exchanged over every connection to it since the worker started. `id` is the newest connection's.
 */
export type PeerView = PeerInfo & { readonly id: number };

/** Where and whether the worker syncs (the app's `getToken` is passed to `open` on its own). */
export interface SyncConfig {
  /** `ws://`/`wss://` address of the relay. */
  readonly url: string;
  /** Start syncing as soon as the database is open (default true). */
  readonly autoStart?: boolean;
}

/**
 * The worker's default SQLite page cache. SQLite's own default (2 MiB) makes every live query over scattered rows
 * re-read its pages from OPFS: measured with 20k notes in Chromium, a 1,000-row indexed query took ~500 ms with
 * 2 MiB and ~10 ms with a cache holding the table.
 */
export const DEFAULT_CACHE_MIB = 64;

/** Where the data lives, as the API reports it. */
export interface StorageReport {
  /** `opfs` normally; `indexeddb` when the browser lacks OPFS sync access handles; `memory` in tests. */
  readonly kind: 'opfs' | 'indexeddb' | 'memory' | 'file';
  /** The SQLite backend behind it, e.g. `wa-sqlite/AccessHandlePoolVFS`. */
  readonly backend: string;
  readonly persistent: boolean;
}

/**
 * What a subscription watches, as sent to the worker: a live query, the sync status, or the permissions the relay
 * sent for the session's token.
 */
export type WatchSpec =
  | LiveQuerySpec
  | { readonly kind: 'syncStatus' }
  | { readonly kind: 'permissions' }
  /** The peers (see {@link PeerView}); empty without peers. */
  | { readonly kind: 'peers' }
  /** Signaling through the relay: this replica and the relay's roster first, then each roster and signal. */
  | { readonly kind: 'peerSignaling' };

/**
 * What a subscription's listener receives: live query events; for `syncStatus` the whole status each time it
 * changes; for `permissions` the relay's permissions (`null` while none are known, or without sync); for `peers`
 * the whole list each time it changes; for `peerSignaling` a `roster` (this replica and the relay's roster: first,
 * then each new one) and each `signal` from a peer. The first event of each of these is the current value.
 */
export type WatchEvent =
  | LiveQueryEvent
  | { readonly kind: 'syncStatus'; readonly status: SyncStatus }
  | { readonly kind: 'permissions'; readonly permissions: Permissions | null }
  | { readonly kind: 'peers'; readonly peers: readonly PeerView[] }
  | { readonly kind: 'roster'; readonly self: string; readonly peers: readonly RosterPeer[] }
  | { readonly kind: 'signal'; readonly from: string; readonly data: string };
