/**
 * What one session's user sees: its subscriptions, authorised under the user's claims (the subscription's filter
 * ANDed with the role's read filter), the redacted snapshots it may receive, and the `docs` frame each commit makes
 * for it.
 *
 * Invariants:
 * 1. **Only readable data leaves.** Every snapshot is `redactDocState` of the stored state with the user's readable
 *    fields; a document is in a view only when it matches a subscription's filter AND the role's read filter;
 *    subscriptions that filter on unreadable fields are refused (`subscription_denied`).
 * 2. **Shared work.** Snapshots are cached per state, readable-field set and format, and fan-out frames per commit
 *    and view, so sessions with the same view encode a commit once.
 * 3. **Readable formats only.** A session's snapshots are in the newest format its client announced in `hello`
 *    (`snapshots`; format 1 when it announced none), never newer: a client sharing a view with a newer one still
 *    gets frames it can decode (the format is part of the view's key).
 */
import {
  type Access,
  type Claims,
  createAccess,
  type DocState,
  encodeDocSnapshot,
  evaluateFilter,
  type Filter,
  grantsField,
  type Rules,
  redactDocState,
  type Schema,
  SNAPSHOT_VERSIONS,
  type SnapshotVersion,
} from '@loam/core';
import { collectionSql, columnOf, compileFilter } from '@loam/store/sql';
import { type DocSnapshotFrame, encodeMessage, type Subscription } from '@loam/sync';
import type { Commit, CommittedChange } from './relay';

/** A subscription the session serves. */
export interface ActiveSub {
  readonly id: string;
  readonly collection: string;
  readonly userFilter: Filter | undefined;
  /** The user's filter ANDed with the role's read filter. */
  filter: Filter;
  /** Takes part in fan-out (from the moment its initial set is read). */
  active: boolean;
}

/** A document leaving a view. */
export type Removal = { readonly collection: string; readonly id: string };

/** A `docs` frame of one commit, ready to send, and how many entries it carries. */
export interface FanOutFrame {
  readonly frame: Uint8Array;
  readonly entries: number;
}

const snapshotCache = new WeakMap<DocState, Map<string, Uint8Array>>();
const frameCache = new WeakMap<Commit, Map<string, FanOutFrame | null>>();

function fieldsKey(access: Access): string {
  return access.readableFields === '*' ? '*' : access.readableFields.join('\u0000');
}

/**
 * The snapshot format to send a client that announced `announced` (`hello.snapshots`): the newest this relay writes
 * that is not newer; 1 when it announced none.
 */
export function snapshotFormat(announced: number | undefined): SnapshotVersion {
  let format: SnapshotVersion = 1;
  for (const v of SNAPSHOT_VERSIONS) if (announced !== undefined && v <= announced) format = v;
  return format;
}

/** The redacted snapshot of a state for one access, in format `version` (cached per state, field set and format). */
export function snapshotOf(state: DocState, access: Access, version: SnapshotVersion): Uint8Array {
  const key = `${version}\n${fieldsKey(access)}`;
  let perState = snapshotCache.get(state);
  if (!perState) {
    perState = new Map();
    snapshotCache.set(state, perState);
  }
  let bytes = perState.get(key);
  if (!bytes) {
    const fields = access.readableFields;
    bytes = encodeDocSnapshot(
      redactDocState(state, (path) => grantsField(fields, path)),
      version,
    );
    perState.set(key, bytes);
  }
  return bytes;
}

/** The views of one session. */
export interface SessionViews {
  readonly subs: Map<string, ActiveSub>;
  /** The user's access to a collection under the current claims. */
  access(collection: string): Access;
  /** The snapshot of `state` a document of `collection` is sent as. */
  snapshot(collection: string, state: DocState): Uint8Array;
  /** Authorises a subscription under the current claims: the active sub, or why it is refused. */
  authorize(sub: Subscription): ActiveSub | { readonly denied: string };
  /** The subscriptions or claims changed: fan-out frames must be rebuilt. */
  invalidate(): void;
  /** The `docs` frame a commit makes for this view with `cursor`, or null when it changes nothing here. */
  fanOut(commit: Commit, cursor: number): FanOutFrame | null;
  /**
   * Takes new claims: re-authorises every subscription (those now refused are dropped and listed in `denied`) and
   * resolves, for each collection that had one, what must be sent so the device holds the new view: documents that
   * joined it (`replace` mode for every document when the readable fields changed) and documents that left it.
   */
  recompute(
    claims: Claims,
    docsOf: (collection: string, filter: Filter) => Promise<{ id: string; state: DocState }[]>,
  ): Promise<{
    readonly denied: readonly { readonly id: string; readonly reason: string }[];
    readonly changes: readonly { readonly docs: DocSnapshotFrame[]; readonly removed: Removal[] }[];
  }>;
}

/**
 * Creates the views of a session whose user has `claims` and whose client reads snapshots up to format `snapshots`
 * (`hello.snapshots`).
 */
export function createSessionViews(
  schema: Schema,
  rules: Rules,
  initialClaims: Claims,
  snapshots: SnapshotVersion = 1,
): SessionViews {
  const subs = new Map<string, ActiveSub>();
  let claims = initialClaims;
  let accessOf = new Map<string, Access>();
  let viewKey: string | undefined;

  const access = (collection: string): Access => {
    let a = accessOf.get(collection);
    if (!a) {
      a = createAccess(rules, claims, collection);
      accessOf.set(collection, a);
    }
    return a;
  };

  const authorize = (sub: Subscription): ActiveSub | { readonly denied: string } => {
    const { collection, filter } = sub.query;
    if (!Object.hasOwn(schema.collections, collection))
      return { denied: `Unknown collection "${collection}"` };
    const decision = access(collection).authorizeQuery({ collection, ...(filter ? { filter } : {}) });
    if (!decision.ok) return { denied: `${decision.code}: ${decision.reason}` };
    const full = decision.query.filter ?? { op: 'true' };
    try {
      compileFilter(full, columnOf(collectionSql(collection, schema.collections[collection]!)));
    } catch (error) {
      return { denied: (error as Error).message };
    }
    return { id: sub.id, collection, userFilter: filter, filter: full, active: false };
  };

  const computeViewKey = () => {
    const parts: string[] = [];
    for (const s of [...subs.values()].filter((x) => x.active)) {
      parts.push(`${s.collection}|${JSON.stringify(s.filter)}|${fieldsKey(access(s.collection))}`);
    }
    return `${snapshots}\n${parts.sort().join('\n')}`;
  };

  const isIn = (change: CommittedChange, mine: ActiveSub[], which: 'before' | 'after') => {
    const doc = which === 'after' ? change.afterDoc : change.beforeDoc;
    return doc !== undefined && mine.some((s) => evaluateFilter(s.filter, doc));
  };

  const buildFanOut = (commit: Commit, active: ActiveSub[], cursor: number): FanOutFrame | null => {
    const docs: DocSnapshotFrame[] = [];
    const removed: Removal[] = [];
    for (const change of commit.changes) {
      const mine = active.filter((s) => s.collection === change.collection);
      if (mine.length === 0) continue;
      const snapshot = () => ({
        collection: change.collection,
        id: change.id,
        state: snapshotOf(change.after, access(change.collection), snapshots),
        mode: 'merge' as const,
      });
      if (isIn(change, mine, 'after')) docs.push(snapshot());
      else if (isIn(change, mine, 'before')) {
        if (change.after.deleted) docs.push(snapshot());
        else removed.push({ collection: change.collection, id: change.id });
      }
    }
    if (docs.length === 0 && removed.length === 0) return null;
    return {
      frame: encodeMessage({ t: 'docs', cursor, docs, removed }),
      entries: docs.length + removed.length,
    };
  };

  return {
    subs,
    access,
    snapshot: (collection, state) => snapshotOf(state, access(collection), snapshots),
    authorize,
    invalidate() {
      viewKey = undefined;
    },
    fanOut(commit, cursor) {
      const active = [...subs.values()].filter((s) => s.active);
      if (active.length === 0) return null;
      if (viewKey === undefined) viewKey = computeViewKey();
      const key = `${cursor}\n${viewKey}`;
      let perCommit = frameCache.get(commit);
      if (!perCommit) {
        perCommit = new Map();
        frameCache.set(commit, perCommit);
      }
      let frame = perCommit.get(key);
      if (frame === undefined) {
        frame = buildFanOut(commit, active, cursor);
        perCommit.set(key, frame);
      }
      return frame;
    },
    async recompute(next, docsOf) {
      const oldSubs = new Map([...subs.values()].map((s) => [s.id, { ...s }]));
      const oldAccess = accessOf;
      claims = next;
      accessOf = new Map();
      const denied: { id: string; reason: string }[] = [];
      for (const [id, s] of subs) {
        const again = authorize({
          id,
          query: { collection: s.collection, ...(s.userFilter ? { filter: s.userFilter } : {}) },
        });
        if ('denied' in again) {
          subs.delete(id);
          denied.push({ id, reason: again.denied });
        } else s.filter = again.filter;
      }
      viewKey = undefined;
      const out: { docs: DocSnapshotFrame[]; removed: Removal[] }[] = [];
      for (const collection of new Set([...oldSubs.values()].map((s) => s.collection))) {
        const before = new Set<string>();
        for (const s of oldSubs.values()) {
          if (s.collection !== collection || !s.active) continue;
          for (const d of await docsOf(collection, s.filter)) before.add(d.id);
        }
        const after = new Map<string, DocState>();
        for (const s of subs.values()) {
          if (s.collection !== collection || !s.active) continue;
          for (const d of await docsOf(collection, s.filter)) after.set(d.id, d.state);
        }
        const a = access(collection);
        const old = oldAccess.get(collection);
        const fieldsChanged = !old || fieldsKey(old) !== fieldsKey(a);
        const docs: DocSnapshotFrame[] = [];
        for (const [id, state] of after) {
          if (fieldsChanged)
            docs.push({ collection, id, state: snapshotOf(state, a, snapshots), mode: 'replace' });
          else if (!before.has(id))
            docs.push({ collection, id, state: snapshotOf(state, a, snapshots), mode: 'merge' });
        }
        const removed = [...before].filter((id) => !after.has(id)).map((id) => ({ collection, id }));
        out.push({ docs, removed });
      }
      return { denied, changes: out };
    },
  };
}
