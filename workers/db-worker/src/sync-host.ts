/**
 * The sync client of the leader's worker, served to every tab: runs the {@link SyncOp}s of `protocol.ts` against
 * it and streams its status. A worker opened without sync options hosts no client and answers as "stopped".
 *
 * Invariants:
 * 1. **One client per leadership.** The client runs beside the engine in the leader's worker; a new leader's
 *    worker starts its own from what the previous one persisted in the engine (cursor, subscriptions).
 * 2. **`subscribe` answers only once the subscription is persisted**, so a `ready` or `unsubscribe` resent to the
 *    next leader finds it.
 * 3. **`ready` always resolves.** For a subscription this worker did not see being made (it was made on a
 *    previous leader), it settles from the persisted subscriptions: `synced` if it synced once, `denied` if the
 *    relay refused it, else when it does; `unsubscribed` when it is no longer kept.
 * 4. **A peer's offer is not lost to a slow tab.** Signals that arrive while no tab watches the signaling (the
 *    leader tab's dialer is still starting) are kept for {@link SIGNAL_HOLD_MS} (at most {@link SIGNAL_HOLD_COUNT})
 *    and handed to the first watcher, so a peer that offered at once need not wait for its attempt to time out.
 * 5. **Without sync**, `status` is {@link STOPPED_SYNC_STATUS}, `stop` does nothing, and every other call
 *    rejects with `sync_not_configured`.
 */
import type { Permissions, ReplicaId } from '@loam/core';
import {
  INITIAL_SYNC_STATUS,
  type RosterPeer,
  type SubscriptionHandle,
  type SubscriptionOutcome,
  type SyncClient,
  type SyncStatus,
} from '@loam/sync';
import { SyncNotConfiguredError } from './errors';
import type { SyncOp } from './protocol';

/** The status of a database that does not sync (or whose sync client never started). */
export const STOPPED_SYNC_STATUS: SyncStatus = INITIAL_SYNC_STATUS;

/** A worker's sync client, as the request handler and the live subscriptions reach it. */
export interface SyncHost {
  /** Runs one sync call; resolves with its result (`status` → {@link SyncStatus}, `subscribe` → the id...). */
  handle(op: SyncOp): Promise<unknown>;
  /** Calls `listener` with the current status now, then with each new one. Returns the unsubscribe function. */
  watchStatus(listener: (status: SyncStatus) => void): () => void;
  /**
   * Calls `listener` with the permissions the relay last sent (persisted; `null` when none, or without sync), then
   * with each new value. Returns the unsubscribe function.
   */
  watchPermissions(listener: (permissions: Permissions | null) => void): () => void;
  /**
   * Calls `listener` with this replica and the relay's roster now and with each new roster, and with each signal
   * a peer sent through the relay (nothing without sync). Returns the unsubscribe function.
   */
  watchSignaling(listener: (event: SignalingEvent) => void): () => void;
  /** Stops the sync client (before the engine closes). Idempotent. */
  close(): Promise<void>;
}

/** What {@link SyncHost.watchSignaling} reports. */
export type SignalingEvent =
  | { readonly kind: 'roster'; readonly self: string; readonly peers: readonly RosterPeer[] }
  | { readonly kind: 'signal'; readonly from: string; readonly data: string };

/** How long a signal waits for a watcher, ms (SDP and ICE go stale; the link layer retries after that). */
export const SIGNAL_HOLD_MS = 10_000;
/** How many signals wait for a watcher at most (the oldest are dropped). */
export const SIGNAL_HOLD_COUNT = 200;

const UNSUBSCRIBED: SubscriptionOutcome = { status: 'unsubscribed' };

/** Hosts `client` of replica `self` (or, when `client` is undefined, a database without sync). */
export function createSyncHost(client: SyncClient | undefined, self = ''): SyncHost {
  const handles = new Map<string, SubscriptionHandle>();
  let closing: Promise<void> | undefined;
  const signalWatchers = new Set<(event: SignalingEvent) => void>();
  let held: { readonly at: number; readonly event: SignalingEvent }[] = [];

  if (!client) {
    return {
      async handle(op) {
        if (op.kind === 'status') return STOPPED_SYNC_STATUS;
        if (op.kind === 'stop') return null;
        throw new SyncNotConfiguredError();
      },
      watchStatus(listener) {
        listener(STOPPED_SYNC_STATUS);
        return () => undefined;
      },
      watchPermissions(listener) {
        listener(null);
        return () => undefined;
      },
      watchSignaling: () => () => undefined,
      close: async () => undefined,
    };
  }

  client.peers.onSignal((from, data) => {
    const event: SignalingEvent = { kind: 'signal', from, data };
    if (signalWatchers.size > 0) {
      for (const l of [...signalWatchers]) l(event);
      return;
    }
    const now = Date.now();
    held = held.filter((h) => now - h.at < SIGNAL_HOLD_MS).slice(-(SIGNAL_HOLD_COUNT - 1));
    held.push({ at: now, event });
  });

  async function persisted(id: string) {
    return (await client?.subscriptions())?.find((s) => s.id === id);
  }

  /** How `ready` settles for a subscription this worker did not see being made (made on a previous leader). */
  async function outcomeOf(id: string): Promise<SubscriptionOutcome> {
    const info = await persisted(id);
    if (!info || !client) return UNSUBSCRIBED;
    if (info.denied) return { status: 'denied', ...info.denied };
    if (info.synced) return { status: 'synced' };
    const handle = client.subscribe(info.query.collection, info.query.filter);
    handles.set(id, handle);
    return handle.ready;
  }

  return {
    async handle(op) {
      switch (op.kind) {
        case 'start':
          client.start();
          return null;
        case 'stop':
          await client.stop();
          return null;
        case 'refreshToken':
          await client.refreshToken();
          return null;
        case 'status':
          return client.status();
        case 'subscribe': {
          const handle = client.subscribe(op.collection, op.filter);
          handles.set(handle.id, handle);
          await handle.saved;
          return handle.id;
        }
        case 'ready': {
          const handle = handles.get(op.id);
          return handle ? await handle.ready : await outcomeOf(op.id);
        }
        case 'unsubscribe':
          handles.delete(op.id);
          await client.unsubscribe(op.id);
          return null;
        case 'signal':
          return client.peers.signal(op.to as ReplicaId, op.data);
        case 'announce':
          client.peers.announce(op.addresses);
          return null;
      }
    },
    watchStatus(listener) {
      listener(client.status());
      return client.onStatus(listener);
    },
    watchPermissions(listener) {
      let active = true;
      let newer = false;
      const stop = client.onPermissions((permissions) => {
        newer = true;
        if (active) listener(permissions);
      });
      client.permissions().then(
        (stored) => {
          if (active && !newer) listener(stored);
        },
        () => {
          if (active && !newer) listener(null);
        },
      );
      return () => {
        active = false;
        stop();
      };
    },
    watchSignaling(listener) {
      const roster = (peers: readonly RosterPeer[]) => listener({ kind: 'roster', self, peers });
      roster(client.peers.roster());
      const stopRoster = client.peers.onRoster(roster);
      const now = Date.now();
      const waiting = held.filter((h) => now - h.at < SIGNAL_HOLD_MS);
      held = [];
      for (const h of waiting) listener(h.event);
      signalWatchers.add(listener);
      return () => {
        stopRoster();
        signalWatchers.delete(listener);
      };
    },
    close() {
      closing ??= client.stop();
      return closing;
    },
  };
}
