/**
 * Which sessions a commit may concern, without looking at every session: sessions are indexed by the collections
 * of their subscriptions and, where a subscription's filter requires a top-level field to equal a string (`eq`,
 * `in`, or one of those ANDed with anything, e.g. `storeId` = the user's shop), by that field's value. A commit
 * then reaches the sessions subscribed to one of its documents' values before or after the commit, plus those
 * whose filters give no such key. With 1,000 terminals in 100 shops, a sale reaches its shop's 10 terminals
 * instead of 1,000 sessions each deciding it changes nothing for them.
 *
 * Invariants:
 * 1. **A superset.** A session left out of a commit has no subscription that the commit's documents match before
 *    or after it (an `eq` on a string holds only for that exact string, see `@loam/core`'s `evaluate.ts`), so its
 *    `docs` frame for it would be empty. The session filters what it is given as before (`views.ts`).
 * 2. **Set before the views change.** A session hands its subscriptions over whenever they change (`undefined`
 *    while they are being recomputed: it then hears of every commit), before the first commit they could match.
 */
import type { Filter } from '@loam/core';
import type { Commit } from './relay';

/** The part of a subscription the index reads. */
export interface IndexedSub {
  readonly collection: string;
  readonly filter: Filter;
}

/** The index of live views (see the module documentation). */
export interface FanOutIndex<S> {
  /** Replaces what `session` listens to: its subscriptions, or `undefined` for every commit. */
  set(session: S, subs: Iterable<IndexedSub> | undefined): void;
  delete(session: S): void;
  /** The sessions `commit` may concern. */
  sessionsOf(commit: Commit): Set<S>;
}

/** The string values a filter requires a top-level field to equal, if it requires that. */
export function equalityKey(
  filter: Filter,
): { readonly field: string; readonly values: readonly string[] } | undefined {
  switch (filter.op) {
    case 'eq':
      if (typeof filter.value === 'string' && !filter.field.includes('.'))
        return { field: filter.field, values: [filter.value] };
      return undefined;
    case 'in':
      if (!filter.field.includes('.') && filter.values.every((v) => typeof v === 'string'))
        return { field: filter.field, values: filter.values as string[] };
      return undefined;
    case 'and':
      for (const f of filter.filters) {
        const key = equalityKey(f);
        if (key) return key;
      }
      return undefined;
    default:
      return undefined;
  }
}

/** Creates an empty index. */
export function createFanOutIndex<S>(): FanOutIndex<S> {
  const everything = new Set<S>();
  const byCollection = new Map<string, Set<S>>();
  /** collection → field → value → sessions */
  const byValue = new Map<string, Map<string, Map<string, Set<S>>>>();
  /** Every set a session was added to, to take it out again. */
  const entries = new Map<S, Set<S>[]>();

  const add = (session: S, set: Set<S>) => {
    set.add(session);
    entries.get(session)!.push(set);
  };
  const remove = (session: S) => {
    for (const set of entries.get(session) ?? []) set.delete(session);
    entries.delete(session);
  };
  const slot = <K, V>(map: Map<K, V>, key: K, make: () => V): V => {
    let v = map.get(key);
    if (v === undefined) {
      v = make();
      map.set(key, v);
    }
    return v;
  };

  return {
    set(session, subs) {
      remove(session);
      entries.set(session, []);
      if (subs === undefined) return add(session, everything);
      for (const sub of subs) {
        const key = equalityKey(sub.filter);
        if (!key) {
          add(
            session,
            slot(byCollection, sub.collection, () => new Set()),
          );
          continue;
        }
        const fields = slot(byValue, sub.collection, () => new Map<string, Map<string, Set<S>>>());
        const values = slot(fields, key.field, () => new Map<string, Set<S>>());
        for (const value of key.values)
          add(
            session,
            slot(values, value, () => new Set()),
          );
      }
    },
    delete: remove,
    sessionsOf(commit) {
      const out = new Set<S>(everything);
      for (const change of commit.changes) {
        for (const s of byCollection.get(change.collection) ?? []) out.add(s);
        const fields = byValue.get(change.collection);
        if (!fields) continue;
        for (const [field, values] of fields) {
          for (const doc of [change.beforeDoc, change.afterDoc]) {
            const value =
              doc && Object.hasOwn(doc, field) ? (doc as Record<string, unknown>)[field] : undefined;
            if (typeof value !== 'string') continue;
            for (const s of values.get(value) ?? []) out.add(s);
          }
        }
      }
      return out;
    },
  };
}
