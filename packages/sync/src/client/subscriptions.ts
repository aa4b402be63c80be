/**
 * Subscriptions as the client keeps them: stable ids derived from the query, the persisted form (the `subscriptions`
 * sync setting, so they survive restarts), and the filter that selects the documents a subscription alone covers.
 */
import type { Filter } from '@loam/core';
import { validateFilter } from '@loam/core';
import type { Subscription, SubscriptionQuery } from '../protocol/messages';

/** The sync setting (engine meta key) holding the subscriptions. */
export const SUBSCRIPTIONS_META_KEY = 'subscriptions';

/** Why the relay refused a subscription. */
export interface SubscriptionDenial {
  readonly code: string;
  readonly message: string;
}

/**
 * A subscription as persisted: its query, whether the relay has ever confirmed its first full set, and, when the
 * relay refused it, why (a refused subscription is kept, not sent again until it is subscribed to again).
 */
export interface StoredSubscription extends Subscription {
  readonly synced: boolean;
  readonly denied?: SubscriptionDenial;
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/**
 * The id of the subscription to `query`: equal queries (same collection, same filter tree, whatever the key order)
 * get the same id on every run, so subscribing again after a restart finds the persisted subscription.
 */
export function subscriptionId(query: SubscriptionQuery): string {
  const text = canonical(query);
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193) >>> 0;
    h2 = Math.imul(h2 ^ c, 0x5bd1e995) >>> 0;
  }
  return `${query.collection}~${h1.toString(36)}${h2.toString(36)}`;
}

/** Parses the persisted setting, keeping the well-formed entries and dropping the rest. */
export function parseStoredSubscriptions(value: unknown): StoredSubscription[] {
  if (!Array.isArray(value)) return [];
  const out: StoredSubscription[] = [];
  for (const entry of value) {
    if (entry === null || typeof entry !== 'object') continue;
    const { id, query, synced, denied } = entry as Record<string, unknown>;
    if (typeof id !== 'string' || query === null || typeof query !== 'object') continue;
    const { collection, filter } = query as Record<string, unknown>;
    if (typeof collection !== 'string') continue;
    let parsed: Filter | undefined;
    try {
      parsed = filter === undefined ? undefined : validateFilter(filter);
    } catch {
      continue;
    }
    const denial = denied as Partial<SubscriptionDenial> | undefined;
    out.push({
      id,
      query: { collection, ...(parsed ? { filter: parsed } : {}) },
      synced: synced === true,
      ...(typeof denial?.code === 'string' && typeof denial.message === 'string'
        ? { denied: { code: denial.code, message: denial.message } }
        : {}),
    });
  }
  return out;
}

/** Parses a persisted list of queries (the subscriptions whose documents are still leaving the device). */
export function parseStoredQueries(value: unknown): SubscriptionQuery[] {
  if (!Array.isArray(value)) return [];
  return parseStoredSubscriptions(value.map((query, i) => ({ id: String(i), query }))).map((s) => s.query);
}

/**
 * The filter matching the documents of `collection` that `leaving` covers and none of `remaining` covers (the
 * documents to remove from the device when `leaving` ends). `remaining` may hold queries of other collections.
 */
export function uncoveredFilter(leaving: SubscriptionQuery, remaining: readonly SubscriptionQuery[]): Filter {
  const own: Filter = leaving.filter ?? { op: 'true' };
  const others = remaining.filter((s) => s.collection === leaving.collection);
  if (others.length === 0) return own;
  return {
    op: 'and',
    filters: [
      own,
      { op: 'not', filter: { op: 'or', filters: others.map((s) => s.filter ?? { op: 'true' }) } },
    ],
  };
}
