/**
 * The engine's cache of hot documents' merge states (their `Y.Doc`s above all), so a keystroke on a long text does
 * not reload and re-decode the whole document. Only documents of collections with list or text fields are kept.
 *
 * Invariants:
 * 1. **Only committed states.** A transaction that loads a document `take`s it out of the cache: while it runs,
 *    nobody else can see the state it edits in place. It puts the state back just before it commits; if it rolls
 *    back, the state is simply not put back (and if the commit itself fails after that, the engine clears the
 *    cache). Readers `peek` only inside a storage transaction, when no write is open.
 * 2. **Bounded.** At most `limit` documents, least recently used dropped first.
 */
import type { StoredDoc } from './yjs-rows';

/** Hot documents by `collection\0id`. */
export interface DocCache {
  /** Removes and returns a document: the caller owns it until it puts it back. */
  take(key: string): StoredDoc | undefined;
  /** The document, left in the cache (read it synchronously, inside a storage transaction). */
  peek(key: string): StoredDoc | undefined;
  /** Keeps a committed document (most recently used). */
  put(key: string, doc: StoredDoc): void;
  delete(key: string): void;
  clear(): void;
}

/** The cache key of a document. */
export function docKey(collection: string, id: string): string {
  return `${collection}\u0000${id}`;
}

/** Creates a cache of at most `limit` documents. */
export function createDocCache(limit: number): DocCache {
  const docs = new Map<string, StoredDoc>();
  return {
    take(key) {
      const doc = docs.get(key);
      if (doc) docs.delete(key);
      return doc;
    },
    peek: (key) => docs.get(key),
    put(key, doc) {
      docs.delete(key);
      docs.set(key, doc);
      if (docs.size > limit) docs.delete(docs.keys().next().value as string);
    },
    delete(key) {
      docs.delete(key);
    },
    clear() {
      docs.clear();
    },
  };
}
