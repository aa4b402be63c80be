/**
 * The engine's cache of hot documents' merge states (their `Y.Doc`s above all), so a keystroke on a long text does
 * not reload and re-decode the whole document. Only documents of collections with list or text fields are kept.
 *
 * Invariants:
 * 1. **Only committed states.** A transaction that loads a document `take`s it out of the cache: while it runs,
 *    nobody else can see the state it edits in place. It puts the state back just before it commits; if it rolls
 *    back, the state is simply not put back (and if the commit itself fails after that, the engine clears the
 *    cache). Readers `peek` only inside a storage transaction, when no write is open.
 * 2. **Bounded.** At most `limit` documents, and at most `maxBytes` of their stored Yjs bytes (folded states plus
 *    logs, a proxy for the memory their `Y.Doc`s take), least recently used dropped first.
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

function weightOf(doc: StoredDoc): number {
  let bytes = 0;
  for (const log of doc.logs.values()) bytes += log.base + log.logged;
  return bytes;
}

/** Creates a cache of at most `limit` documents and `maxBytes` of their Yjs state (invariant 2). */
export function createDocCache(limit: number, maxBytes: number): DocCache {
  const docs = new Map<string, { doc: StoredDoc; bytes: number }>();
  let total = 0;
  const remove = (key: string) => {
    const entry = docs.get(key);
    if (!entry) return undefined;
    docs.delete(key);
    total -= entry.bytes;
    return entry.doc;
  };
  return {
    take: remove,
    peek: (key) => docs.get(key)?.doc,
    put(key, doc) {
      remove(key);
      const bytes = weightOf(doc);
      docs.set(key, { doc, bytes });
      total += bytes;
      while (docs.size > limit || (total > maxBytes && docs.size > 1))
        remove(docs.keys().next().value as string);
    },
    delete(key) {
      remove(key);
    },
    clear() {
      docs.clear();
      total = 0;
    },
  };
}
