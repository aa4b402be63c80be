/**
 * How a committed version looks to the relay's listeners: the store's change with its after image materialized
 * on first use, so a node pays for the documents its sessions and webhooks actually look at.
 */
import { type CollectionDef, type MaterializedDoc, materialize, type Schema } from '@loam/core';
import type { StoreCommit } from '../storage/server-store';
import type { Commit, CommittedChange } from './relay';

/** The listeners' view of a committed version (images computed once, when first read). */
export function commitView(schema: Schema, stored: StoreCommit): Commit {
  const changes: CommittedChange[] = stored.changes.map((c) => {
    let afterDoc: MaterializedDoc | undefined | null = null;
    return {
      collection: c.collection,
      id: c.id,
      get beforeDoc() {
        return c.beforeDoc;
      },
      get after() {
        return c.after;
      },
      get afterDoc() {
        if (afterDoc === null)
          afterDoc = materialize(schema.collections[c.collection] as CollectionDef, c.id, c.after);
        return afterDoc;
      },
    };
  });
  return { version: stored.version, at: stored.at, changes, source: stored.source };
}
