/**
 * The shared view store behind the hooks: one entry per (database, query key), holding the query's latest result
 * and the one subscription that feeds it.
 *
 * Invariants:
 * 1. **One subscription per query.** However many components ask the same key, the source is started once; it
 *    is stopped when the last of them unsubscribed and no new one came back within the same task (so React's
 *    StrictMode mount → unmount → mount does not restart it).
 * 2. **Snapshots are stable.** `snapshot(key)` returns the same object until the result changes, as
 *    `useSyncExternalStore` requires; a key nobody subscribed to yet reads as {@link LOADING}.
 * 3. **Loading is not empty.** An entry is `loading` until its source delivered a first value, `ready` with that
 *    value after, and `error` when the source reported one.
 */
import type { LoamError } from '@loam/core';

/** The state of a live result: not known yet, known (possibly empty), or failed. */
export type LiveResult<T> =
  | { readonly status: 'loading'; readonly data: undefined; readonly error: undefined }
  | { readonly status: 'ready'; readonly data: T; readonly error: undefined }
  | { readonly status: 'error'; readonly data: undefined; readonly error: LoamError };

/** The result before the first value arrived. */
export const LOADING: LiveResult<never> = Object.freeze({
  status: 'loading',
  data: undefined,
  error: undefined,
});

/** Where a live result comes from: starts feeding `emit` (and `fail`), returns the function that stops it. */
export type LiveSource<T> = (emit: (value: T) => void, fail: (error: LoamError) => void) => () => void;

interface Entry {
  result: LiveResult<unknown>;
  readonly listeners: Set<() => void>;
  stop: () => void;
}

/** The live results of one database, shared by every component rendering them. */
export interface LiveStore {
  /** The current result of `key` (stable until it changes). */
  snapshot(key: string): LiveResult<unknown>;
  /** Listens to `key`, starting `source` if nobody listened yet. Returns the function that stops listening. */
  subscribe(key: string, source: LiveSource<unknown>, onChange: () => void): () => void;
  /** Keys with a running source (for tests and debugging). */
  activeKeys(): string[];
}

/** Creates an empty store. */
export function createLiveStore(): LiveStore {
  const entries = new Map<string, Entry>();

  function release(key: string, entry: Entry): void {
    queueMicrotask(() => {
      if (entry.listeners.size > 0 || entries.get(key) !== entry) return;
      entries.delete(key);
      entry.stop();
    });
  }

  return {
    snapshot: (key) => entries.get(key)?.result ?? LOADING,
    subscribe(key, source, onChange) {
      let entry = entries.get(key);
      if (!entry) {
        const created: Entry = { result: LOADING, listeners: new Set(), stop: () => undefined };
        const publish = (result: LiveResult<unknown>) => {
          if (entries.get(key) !== created) return;
          created.result = result;
          for (const listener of [...created.listeners]) listener();
        };
        entries.set(key, created);
        created.stop = source(
          (data) => publish({ status: 'ready', data, error: undefined }),
          (error) => publish({ status: 'error', data: undefined, error }),
        );
        entry = created;
      }
      const current = entry;
      const listener = () => onChange();
      current.listeners.add(listener);
      return () => {
        if (!current.listeners.delete(listener)) return;
        if (current.listeners.size === 0) release(key, current);
      };
    },
    activeKeys: () => [...entries.keys()],
  };
}
