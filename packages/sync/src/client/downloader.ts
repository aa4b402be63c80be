/**
 * Downloads: `docs` and `synced` frames into the local database, the cursor, and client resets.
 *
 * Invariants:
 * 1. **Atomic frames.** A `docs` frame's documents, removals and cursor are stored in one local transaction
 *    (consecutive frames waiting in the queue share one, see `docsMany`, in their order).
 *    `synced` stores its cursor too, never moving the cursor back.
 * 2. **A client reset replaces.** When the relay's `welcome` says `reset` (the cursor is older than its history),
 *    nothing moves the cursor until every subscription's fresh set arrived; each fresh set is taken in `replace`
 *    mode, also the sets of subscriptions sent after `welcome` (the relay sends those as `merge`; merged, a stale
 *    local copy, e.g. an earlier incarnation of a document whose tombstone the relay folded away, would survive
 *    the reset); then, in one transaction, every local
 *    document those subscriptions cover that the fresh sets did not carry is replaced by this device's own pending
 *    writes alone (gone, unless they created it), and the cursor is stored. A reset cut short starts again on the
 *    next connection, from the old cursor.
 * 3. **A full set replaces what its subscription covers.** Outside a reset, a subscription whose whole set the relay
 *    was asked for (a new or renewed subscription) ends, on `synced`, by dropping the local documents it covers that
 *    neither its set nor any frame received meanwhile carried and no other up-to-date subscription covers (this
 *    device's own pending writes are replayed, so they stay): a document deleted or changed on the relay while the
 *    device was not subscribed does not linger. Up to date: synced once and no set of its own still coming; two
 *    renewed subscriptions covering the same document would otherwise each keep it for the other.
 */
import { type DownloadedDoc, docKey, type SyncStore } from '../port/sync-store';
import type { ServerMessage } from '../protocol/messages';
import type { StatusStore } from './status';
import type { SubscriptionRegistry } from './subscription-registry';

interface Reset {
  readonly received: Set<string>;
  /** Subscriptions whose fresh set has not arrived yet. */
  readonly waiting: Set<string>;
  cursor: number;
}

/** The downloader of one client. */
export interface Downloader {
  /**
   * A welcome: starts a client reset when `reset`, waiting for the sets of subscriptions `subs` (`cursor` is the
   * relay's, stored at once when there is nothing to wait for).
   */
  welcome(reset: boolean, subs: Iterable<string>, cursor: number): Promise<void>;
  /** A subscription whose whole set the relay was asked for after the welcome. */
  expect(sub: string): void;
  /** A subscription that will send no set (ended, refused). */
  forget(sub: string): Promise<void>;
  docs(message: Extract<ServerMessage, { t: 'docs' }>): Promise<void>;
  /**
   * Consecutive `docs` frames, applied in as few transactions as their order allows (one, unless a frame removes
   * documents: its removals apply before the next frame's documents): a long download waiting in the queue pays
   * one commit per group instead of one per frame.
   */
  docsMany(messages: readonly Extract<ServerMessage, { t: 'docs' }>[]): Promise<void>;
  synced(message: Extract<ServerMessage, { t: 'synced' }>): Promise<void>;
  /** The connection ended: a reset in progress is abandoned (the next welcome starts it again). */
  end(): void;
}

/** Creates the downloader. */
export function createDownloader(
  store: SyncStore,
  registry: SubscriptionRegistry,
  status: StatusStore,
  now: () => number,
): Downloader {
  let reset: Reset | null = null;
  /** Full sets in progress outside a reset: subscription → keys of the documents received since it was asked. */
  const sets = new Map<string, Set<string>>();

  const finishIfDone = async () => {
    if (!reset || reset.waiting.size > 0) return;
    const { received, cursor } = reset;
    reset = null;
    await store.finishReset(await registry.coverage(), received, cursor);
  };

  const docsMany = async (messages: readonly Extract<ServerMessage, { t: 'docs' }>[]) => {
    const map = await registry.all();
    const r = reset;
    let docs: DownloadedDoc[] = [];
    let removed: { readonly collection: string; readonly id: string }[] = [];
    let cursor = 0;
    let frames = 0;
    let progress: { sub: string; sent: number; total: number } | undefined;
    const apply = async () => {
      await store.applyDownload({ docs, removed, ...(cursor > 0 && !r ? { cursor } : {}) });
      status.set({ lastSyncedAt: now(), ...(progress ? { downloading: progress } : {}) });
      docs = [];
      removed = [];
      progress = undefined;
      frames = 0;
    };
    for (const message of messages) {
      const relevant = message.sub === undefined || map.has(message.sub);
      // A fresh set of a reset replaces, whether its subscription went in `hello` or after `welcome`.
      const fresh = r !== null && message.sub !== undefined && r.waiting.has(message.sub);
      const frameDocs: DownloadedDoc[] = relevant
        ? message.docs.map((d) => ({
            collection: d.collection,
            id: d.id,
            state: d.state,
            mode: fresh ? 'replace' : d.mode,
          }))
        : [];
      for (const received of sets.values())
        for (const d of frameDocs) received.add(docKey(d.collection, d.id));
      if (r) {
        for (const d of frameDocs) r.received.add(docKey(d.collection, d.id));
        r.cursor = Math.max(r.cursor, message.cursor);
      }
      for (const d of frameDocs) docs.push(d);
      frames++;
      cursor = Math.max(cursor, message.cursor);
      if (relevant && message.sub !== undefined && message.progress)
        progress = { sub: message.sub, ...message.progress };
      if (message.removed.length > 0) {
        // Removals apply after their frame's documents: later frames' documents go in the next transaction.
        removed = [...message.removed];
        await apply();
      }
    }
    if (frames > 0) await apply();
  };

  return {
    async welcome(isReset, subs, cursor) {
      reset = isReset ? { received: new Set(), waiting: new Set(subs), cursor } : null;
      await finishIfDone();
    },
    expect(sub) {
      if (reset) reset.waiting.add(sub);
      else sets.set(sub, new Set());
    },
    async forget(sub) {
      sets.delete(sub);
      if (status.current().downloading?.sub === sub) status.set({ downloading: null });
      if (!reset?.waiting.delete(sub)) return;
      await finishIfDone();
    },
    docs: (message) => docsMany([message]),
    docsMany,
    async synced(message) {
      if (reset) reset.cursor = Math.max(reset.cursor, message.cursor);
      else if (message.cursor > 0 && (await store.cursor()) < message.cursor)
        await store.setCursor(message.cursor);
      const received = sets.get(message.sub);
      sets.delete(message.sub);
      if (received && !reset) {
        const all = await registry.all();
        const coverage = all.get(message.sub)?.stored.query;
        // Only a subscription the device is up to date with vouches for a document: one whose own set is still
        // coming (or was never sent) may cover a document the relay deleted, and would keep it forever.
        const others = [...all.values()]
          .map((s) => s.stored)
          .filter((s) => s.id !== message.sub && s.synced && !s.denied && !sets.has(s.id));
        if (coverage)
          await store.finishSet(
            { collection: coverage.collection, filter: coverage.filter ?? { op: 'true' } },
            received,
            others.map((s) => ({ collection: s.query.collection, filter: s.query.filter ?? { op: 'true' } })),
          );
      }
      await registry.markSynced(message.sub);
      if (status.current().downloading?.sub === message.sub) status.set({ downloading: null });
      if (reset?.waiting.delete(message.sub)) await finishIfDone();
    },
    end() {
      reset = null;
      sets.clear();
    },
  };
}
