/**
 * What one session sends down: a subscription's whole set, a resume from a cursor, the fan-out of commits, the
 * authoritative state of refused documents, all as `docs` frames, streamed with flow control.
 *
 * Invariants:
 * 1. **Cursors the device is complete through.** A fan-out frame's cursor is its commit's version when newer than
 *    any cursor sent before, else 0; `synced` carries the version the session is complete through (`watermark`).
 *    The session runs these one at a time (its task queue), so the order holds.
 * 2. **A subscription takes part in fan-out only from the moment its initial set is read.**
 * 3. **Bounded memory.** Long sets go out `DOCS_PER_FRAME` entries a frame, each sent once the previous one left
 *    the process (`Transport.flushed`).
 */
import type { DocState, Filter } from '@loam/core';
import { type DocSnapshotFrame, encodeMessage, type ServerMessage, type Transport } from '@loam/sync';
import type { Metrics } from '../metrics/metrics';
import type { ServerStore } from '../storage/server-store';
import type { Commit } from './relay';
import type { ActiveSub, Removal, SessionViews } from './views';

/** Docs per `docs` frame when streaming a set. */
export const DOCS_PER_FRAME = 256;

/** The downloads of one session. */
export interface SessionDownloads {
  /** The version the session is complete through from now on (before the first initial sets). */
  startAt(version: number): void;
  /** Streams a subscription's whole set, then `synced`. */
  initialSet(sub: ActiveSub, mode: 'merge' | 'replace'): Promise<void>;
  /** Sends what changed since `cursor` in the collections of the session's subscriptions, then `synced` for each. */
  resume(cursor: number, version: number): Promise<void>;
  /** Sends a commit to the device if it changes its view. */
  fanOut(commit: Commit): void;
  /** Sends documents and removals (cursor 0) in frames of at most `DOCS_PER_FRAME`. */
  send(docs: DocSnapshotFrame[], removed: Removal[]): Promise<void>;
  /** All live documents of `collection` matching `filter`. */
  allDocs(collection: string, filter: Filter): Promise<{ id: string; state: DocState }[]>;
}

/** Creates the downloads of a session sending on `transport`; `open` says whether it may still send. */
export function createSessionDownloads(deps: {
  readonly transport: Transport;
  readonly open: () => boolean;
  readonly store: ServerStore;
  readonly views: SessionViews;
  readonly metrics: Metrics;
}): SessionDownloads {
  const { transport, store, views, metrics } = deps;
  let watermark = 0;
  let sentCursor = 0;

  const message = (m: ServerMessage) => {
    if (deps.open()) transport.send(encodeMessage(m));
  };
  const sendAndWait = async (bytes: Uint8Array) => {
    if (!deps.open()) return;
    transport.send(bytes);
    await transport.flushed?.();
  };

  const frames = async (
    docs: DocSnapshotFrame[],
    removed: Removal[],
    extra: { sub?: string; total?: number; sentBefore?: number } = {},
  ) => {
    let i = 0;
    let j = 0;
    while (i < docs.length || j < removed.length) {
      const chunk = docs.slice(i, i + DOCS_PER_FRAME);
      const gone = removed.slice(j, j + DOCS_PER_FRAME - chunk.length);
      i += chunk.length;
      j += gone.length;
      metrics.docsOut(chunk.length + gone.length);
      await sendAndWait(
        encodeMessage({
          t: 'docs',
          cursor: 0,
          docs: chunk,
          removed: gone,
          ...(extra.sub !== undefined ? { sub: extra.sub } : {}),
          ...(extra.total !== undefined
            ? { progress: { sent: (extra.sentBefore ?? 0) + i, total: extra.total } }
            : {}),
        }),
      );
    }
  };

  const allDocs = async (collection: string, filter: Filter) => {
    const out: { id: string; state: DocState }[] = [];
    let afterId: string | undefined;
    for (;;) {
      const page = await store.findDocs(collection, filter, {
        limit: 1000,
        ...(afterId !== undefined ? { afterId } : {}),
      });
      out.push(...page);
      if (page.length < 1000) return out;
      afterId = page[page.length - 1]!.id;
    }
  };

  return {
    startAt(version) {
      watermark = version;
    },

    async initialSet(sub, mode) {
      if (views.subs.get(sub.id) !== sub) return;
      sub.active = true;
      views.invalidate();
      const total = await store.countDocs(sub.collection, sub.filter);
      let sent = 0;
      let afterId: string | undefined;
      for (;;) {
        const page = await store.findDocs(sub.collection, sub.filter, {
          limit: DOCS_PER_FRAME,
          ...(afterId !== undefined ? { afterId } : {}),
        });
        if (!deps.open()) return;
        if (page.length === 0 && sent > 0) break;
        const docs: DocSnapshotFrame[] = page.map((d) => ({
          collection: sub.collection,
          id: d.id,
          state: views.snapshot(sub.collection, d.state),
          mode,
        }));
        await frames(docs, [], { sub: sub.id, total: Math.max(total, sent + docs.length), sentBefore: sent });
        sent += docs.length;
        if (page.length < DOCS_PER_FRAME) break;
        afterId = page[page.length - 1]!.id;
      }
      message({ t: 'synced', sub: sub.id, cursor: watermark });
    },

    async resume(cursor, version) {
      const bySub = [...views.subs.values()];
      for (const s of bySub) s.active = true;
      views.invalidate();
      for (const collection of new Set(bySub.map((s) => s.collection))) {
        const mine = bySub.filter((s) => s.collection === collection);
        const docs: DocSnapshotFrame[] = [];
        const sent = new Set<string>();
        // Read per subscription with its filter in SQL: under a reconnect storm, decoding every document changed
        // in the collection (the other shops' orders too) for each resuming device was most of the relay's work.
        for (const sub of mine)
          for (const row of await store.changedSince(collection, cursor, sub.filter)) {
            if (sent.has(row.id)) continue;
            sent.add(row.id);
            if (row.live || row.state.deleted)
              docs.push({
                collection,
                id: row.id,
                state: views.snapshot(collection, row.state),
                mode: 'merge',
              });
          }
        const removed: Removal[] = [];
        for (const id of await store.changedIdsSince(collection, cursor))
          if (!sent.has(id)) removed.push({ collection, id });
        await frames(docs, removed);
      }
      watermark = Math.max(watermark, version);
      sentCursor = Math.max(sentCursor, version);
      for (const s of bySub) message({ t: 'synced', sub: s.id, cursor: watermark });
    },

    fanOut(commit) {
      const cursor = commit.version > sentCursor ? commit.version : 0;
      const frame = views.fanOut(commit, cursor);
      if (frame && deps.open()) {
        if (commit.version > sentCursor) sentCursor = commit.version;
        metrics.docsOut(frame.entries);
        transport.send(frame.frame);
      }
      watermark = Math.max(watermark, commit.version);
    },

    send: frames,
    allDocs,
  };
}
