/**
 * The listener side of a store's commit feed (invariant 6 of `server-store.ts`): versions handed to `offer` in any
 * order leave in version order, each once, none skipped; a version that can never come is announced by `gap`.
 */
import type { DocState, MaterializedDoc } from '@loam/core';
import type { CommitFeed, CommitFeedEvent, CommittedDocChange, StoreCommit } from './server-store';

/** Memoizes a computation. */
export function once<T>(compute: () => T): () => T {
  let done = false;
  let value: T;
  return () => {
    if (!done) {
      value = compute();
      done = true;
    }
    return value;
  };
}

/**
 * A change whose states are decoded on first use: a node decodes only what its sessions and webhooks look at
 * (a document's Yjs fields and the change log's before image cost real time to decode).
 */
export function lazyChange(
  collection: string,
  id: string,
  before: () => MaterializedDoc | undefined,
  after: () => DocState,
): CommittedDocChange {
  return {
    collection,
    id,
    get beforeDoc() {
      return before();
    },
    get after() {
      return after();
    },
  };
}

/** A {@link CommitFeed} with the producer's side. */
export interface CommitEmitter {
  readonly feed: CommitFeed;
  /** Hands over a committed version; it is delivered once every version before it was. Older ones are ignored. */
  offer(commit: StoreCommit): void;
  /** Versions up to `next - 1` are lost: tells listeners, then continues from `next - 1`. */
  gap(next: number): void;
  /** The versions in `(after, upTo]` offered and not delivered yet (waiting for an earlier one). */
  held(after: number, upTo: number): number[];
}

/**
 * Creates an emitter whose feed starts after version `position`; `reach` implements `CommitFeed.reach` (default:
 * resolves at once, for stores whose feed is never behind their own commits).
 */
export function createCommitEmitter(
  position: number,
  reach: (version: number) => Promise<void> = async () => undefined,
): CommitEmitter {
  const listeners = new Set<(event: CommitFeedEvent) => void>();
  const waiting = new Map<number, StoreCommit>();
  let at = position;
  const dispatch = (event: CommitFeedEvent) => {
    for (const listener of listeners) listener(event);
  };
  const flush = () => {
    for (let next = waiting.get(at + 1); next; next = waiting.get(at + 1)) {
      waiting.delete(next.version);
      at = next.version;
      dispatch({ t: 'commit', commit: next });
    }
  };
  return {
    feed: {
      position: () => at,
      reach,
      subscribe(listener) {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
    },
    offer(commit) {
      if (commit.version <= at) return;
      waiting.set(commit.version, commit);
      flush();
    },
    gap(next) {
      if (next - 1 <= at) return;
      const after = at;
      at = next - 1;
      for (const v of [...waiting.keys()]) if (v <= at) waiting.delete(v);
      dispatch({ t: 'gap', after, next });
      flush();
    },
    held(after, upTo) {
      const out: number[] = [];
      for (const v of waiting.keys()) if (v > after && v <= upTo) out.push(v);
      return out;
    },
  };
}
