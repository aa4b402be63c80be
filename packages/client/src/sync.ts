/**
 * Sync as the UI sees it: `db.sync` (start, stop, token refresh, status), `db.subscribe` (query-based sync) and
 * the refused-writes log. The sync client runs in the leader tab's worker, beside the engine; every tab reaches it
 * through the same route as its other calls (Comlink in the leader, the database channel in followers).
 *
 * Invariants:
 * 1. **One sync client per origin and database**, in the leader's worker. It uses the `getToken` of the tab that
 *    leads; when another tab takes over, its worker starts its own client, with that tab's `getToken`, from the
 *    cursor and subscriptions the previous one persisted in the database.
 * 2. **Listeners follow the leader.** `onStatus` (and `watchRefusedWrites`) receive the current value first, then
 *    every change, in every tab and across leader changes; a value equal to the last one delivered is skipped.
 * 3. **Expected trouble is a value.** Going offline, a lost server and refused writes show up in the status and
 *    the refused-writes log; only misuse rejects (`sync_not_configured`, `subscription_invalid`, `query_invalid`).
 * 4. **A subscription's `ready` resolves** (`synced`, `denied` or `unsubscribed`), also when the leader changes
 *    before it settles; it rejects only with `database_closed` when this tab closed the database first.
 */
import type { Filter } from '@loam/core';
import type { SyncOp, WatchEvent } from '@loam/db-worker';
import type { SubscriptionOutcome, SyncStatus } from '@loam/sync';
import type { Connection } from './connection';

export type { RefusedWrite } from '@loam/store';
export type { DownloadProgress, SubscriptionOutcome, SyncIssue, SyncState, SyncStatus } from '@loam/sync';

/** The `sync` option of `openDatabase`: where the relay is and how to sign in to it. */
export interface SyncOptions {
  /** `ws://`/`wss://` address of the relay. */
  readonly url: string;
  /**
   * The app's token source (a JWT the relay verifies), called on the UI thread of the leader tab before every
   * connection and on `db.sync.refreshToken()`; `null` signs in anonymously. A rejection counts as "no token
   * yet": sync retries with backoff and reports `token_unavailable` in the status.
   */
  readonly getToken: () => Promise<string | null>;
  /** Start syncing as soon as the database is open (default true); else call `db.sync.start()`. */
  readonly autoStart?: boolean;
}

/** `db.sync`: controls and status of the database's sync client. */
export interface SyncControls {
  /**
   * Starts syncing (and retrying; also retries after a `failed` state). Idempotent. Rejects with
   * `SyncNotConfiguredError` (`sync_not_configured`) when the database was opened without `sync` options.
   */
  start(): Promise<void>;
  /** Closes the connection and stops retrying; local writes keep queueing. Subscriptions stay. Idempotent. */
  stop(): Promise<void>;
  /** Fetches a fresh token from `getToken` and hands it to the live connection (new claims recompute views). */
  refreshToken(): Promise<void>;
  /** The current status; `state: 'stopped'` for a database without sync. */
  status(): Promise<SyncStatus>;
  /** `listener` receives the current status, then each new one. Returns the unsubscribe function. */
  onStatus(listener: (status: SyncStatus) => void): () => void;
}

/** A subscription of `db.subscribe`. Subscriptions are persisted: they survive reloads until unsubscribed. */
export interface SyncSubscription {
  /** Stable id derived from the query: equal queries share one subscription. */
  readonly id: string;
  /** Settles once the first full set arrived (now or in an earlier run), the server refused it, or it was ended. */
  readonly ready: Promise<SubscriptionOutcome>;
  /**
   * Ends the subscription (for every holder of the same query) and removes from this device the documents no
   * remaining subscription covers (removal, not deletion). Idempotent.
   */
  unsubscribe(): Promise<void>;
}

/** The sync calls of a database, over one tab's connection. */
export interface SyncApi {
  readonly sync: SyncControls;
  subscribe(collection: string, filter?: Filter): Promise<SyncSubscription>;
}

/** Builds `db.sync` and `db.subscribe` over `connection`. */
export function createSyncApi(connection: Pick<Connection, 'request' | 'subscribe'>): SyncApi {
  const call = (op: SyncOp) => connection.request({ type: 'sync', op });
  const run = async (op: SyncOp) => {
    await call(op);
  };

  return {
    sync: {
      start: () => run({ kind: 'start' }),
      stop: () => run({ kind: 'stop' }),
      refreshToken: () => run({ kind: 'refreshToken' }),
      async status() {
        return (await call({ kind: 'status' })) as SyncStatus;
      },
      onStatus(listener) {
        let last: string | undefined;
        return connection.subscribe({ kind: 'syncStatus' }, (event: WatchEvent) => {
          if (event.kind !== 'syncStatus') return;
          const text = JSON.stringify(event.status);
          if (text === last) return;
          last = text;
          listener(event.status);
        });
      },
    },
    async subscribe(collection, filter) {
      const id = (await call(
        filter === undefined ? { kind: 'subscribe', collection } : { kind: 'subscribe', collection, filter },
      )) as string;
      const ready = call({ kind: 'ready', id }) as Promise<SubscriptionOutcome>;
      ready.catch(() => undefined);
      return { id, ready, unsubscribe: () => run({ kind: 'unsubscribe', id }) };
    },
  };
}
