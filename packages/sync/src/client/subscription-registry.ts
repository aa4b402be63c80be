/**
 * The client's subscriptions: persisted (sync setting `subscriptions`, so they survive restarts), with the app's
 * waiters on their first full set, the relay's refusals, and the documents still leaving the device.
 *
 * Invariants:
 * 1. **Persisted before sent.** A subscription is saved before it goes to the relay; ending one is saved before
 *    the relay hears of it.
 * 2. **A refusal is remembered.** A subscription the relay refused stays listed with the reason and is not sent
 *    again, until the app subscribes to the same query again (a retry).
 * 3. **Unsubscribing never loses a write.** Ending a subscription removes from the device the documents no
 *    remaining subscription covers, except those this device's pending ops wrote; those stay until their ops are
 *    acknowledged or refused (`sweep` after each upload round), then leave (sync setting `leaving`).
 * Every method runs inside the client's serial queue.
 */
import type { Coverage, SyncStore } from '../port/sync-store';
import type { Subscription, SubscriptionQuery } from '../protocol/messages';
import {
  parseStoredQueries,
  parseStoredSubscriptions,
  type StoredSubscription,
  SUBSCRIPTIONS_META_KEY,
  type SubscriptionDenial,
  subscriptionId,
  uncoveredFilter,
} from './subscriptions';

/** The sync setting holding the queries of ended subscriptions whose documents still have pending writes. */
export const LEAVING_META_KEY = 'leaving';

/** How a subscription's `ready` settles. */
export type SubscriptionOutcome =
  /** The relay sent the subscription's first full set (now, or in an earlier run of the app). */
  | { readonly status: 'synced' }
  /** The relay refused the subscription (e.g. `subscription_denied`); it stays listed, with the reason. */
  | { readonly status: 'denied'; readonly code: string; readonly message: string }
  /** The subscription was ended before it synced. */
  | { readonly status: 'unsubscribed' };

/** One subscription the registry holds. */
export interface RegisteredSubscription {
  stored: StoredSubscription;
  readonly waiters: ((outcome: SubscriptionOutcome) => void)[];
}

/** The registry. */
export interface SubscriptionRegistry {
  /** Every subscription, refused ones included (loaded once from the store). */
  all(): Promise<Map<string, RegisteredSubscription>>;
  /** The subscriptions the relay should serve: not refused. */
  active(): Promise<Subscription[]>;
  /** What the active subscriptions cover. */
  coverage(): Promise<Coverage[]>;
  /**
   * Adds the subscription to `query` (persisted), or clears the refusal of a refused one; `send` is true when the
   * relay should hear of it.
   */
  add(query: SubscriptionQuery): Promise<{ readonly sub: RegisteredSubscription; readonly send: boolean }>;
  /** Ends a subscription (persisted): settles its waiters `unsubscribed`, removes what it alone covered. */
  remove(id: string): Promise<RegisteredSubscription | undefined>;
  /** Records that the relay sent a subscription's first full set; settles its waiters. */
  markSynced(id: string): Promise<void>;
  /** Records the relay's refusal of a subscription; settles its waiters. */
  markDenied(id: string, denial: SubscriptionDenial): Promise<void>;
  /** Settles `waiter` now if the subscription synced or was refused, else when it does. */
  wait(sub: RegisteredSubscription, waiter: (outcome: SubscriptionOutcome) => void): void;
  /** Removes the documents of ended subscriptions whose pending writes have since been acknowledged or refused. */
  sweep(): Promise<void>;
}

/** Creates the registry over `store`. */
export function createSubscriptionRegistry(store: SyncStore): SubscriptionRegistry {
  let subs: Map<string, RegisteredSubscription> | null = null;
  let leaving: SubscriptionQuery[] | null = null;

  const all = async () => {
    if (subs) return subs;
    const stored = parseStoredSubscriptions(await store.readState(SUBSCRIPTIONS_META_KEY));
    subs ??= new Map(stored.map((s) => [s.id, { stored: s, waiters: [] }]));
    return subs;
  };
  const persist = async (map: Map<string, RegisteredSubscription>) =>
    store.writeState(
      SUBSCRIPTIONS_META_KEY,
      [...map.values()].map((s) => s.stored),
    );
  const loadLeaving = async () => {
    leaving ??= parseStoredQueries(await store.readState(LEAVING_META_KEY));
    return leaving;
  };
  const settle = (sub: RegisteredSubscription, outcome: SubscriptionOutcome) => {
    for (const w of sub.waiters.splice(0)) w(outcome);
  };
  const activeQueries = async () =>
    [...(await all()).values()].filter((s) => !s.stored.denied).map((s) => s.stored.query);

  /** Removes what `query` alone covers; resolves with whether documents with pending writes stayed. */
  const removeUncovered = async (query: SubscriptionQuery) => {
    const kept = await store.removeDocs({
      collection: query.collection,
      filter: uncoveredFilter(query, await activeQueries()),
    });
    return kept.length > 0;
  };

  return {
    all,
    async active() {
      return [...(await all()).values()]
        .filter((s) => !s.stored.denied)
        .map((s) => ({ id: s.stored.id, query: s.stored.query }));
    },
    async coverage() {
      return (await activeQueries()).map((query) => ({
        collection: query.collection,
        filter: query.filter ?? { op: 'true' },
      }));
    },
    async add(query) {
      const map = await all();
      const id = subscriptionId(query);
      const found = map.get(id);
      if (found && !found.stored.denied) return { sub: found, send: false };
      const sub: RegisteredSubscription = found ?? { stored: { id, query, synced: false }, waiters: [] };
      sub.stored = { id, query, synced: found?.stored.synced ?? false };
      map.set(id, sub);
      await persist(map);
      return { sub, send: true };
    },
    async remove(id) {
      const map = await all();
      const sub = map.get(id);
      if (!sub) return undefined;
      map.delete(id);
      await persist(map);
      settle(sub, { status: 'unsubscribed' });
      if (await removeUncovered(sub.stored.query)) {
        const list = await loadLeaving();
        list.push(sub.stored.query);
        await store.writeState(LEAVING_META_KEY, list);
      }
      return sub;
    },
    async markSynced(id) {
      const map = await all();
      const sub = map.get(id);
      if (!sub) return;
      if (!sub.stored.synced) {
        sub.stored = { ...sub.stored, synced: true };
        await persist(map);
      }
      settle(sub, { status: 'synced' });
    },
    async markDenied(id, denial) {
      const map = await all();
      const sub = map.get(id);
      if (!sub) return;
      sub.stored = { ...sub.stored, denied: denial };
      await persist(map);
      settle(sub, { status: 'denied', ...denial });
    },
    wait(sub, waiter) {
      const { denied, synced } = sub.stored;
      if (denied) waiter({ status: 'denied', ...denied });
      else if (synced) waiter({ status: 'synced' });
      else sub.waiters.push(waiter);
    },
    async sweep() {
      const list = await loadLeaving();
      if (list.length === 0) return;
      const still: SubscriptionQuery[] = [];
      for (const query of list) if (await removeUncovered(query)) still.push(query);
      if (still.length === list.length) return;
      leaving = still;
      await store.writeState(LEAVING_META_KEY, still);
    },
  };
}
