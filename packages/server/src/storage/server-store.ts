/**
 * The relay's storage contract: materialized documents, the op-id dedupe table and the server's own metadata.
 *
 * The relay never speaks SQL; it talks to a {@link ServerStore}. Implementations: `storage-sqlite.ts` (one
 * better-sqlite3 file, the default) and `storage-postgres.ts` (one PostgreSQL database shared by several relay
 * nodes). Every implementation passes the cases of `server-store-conformance.ts`.
 *
 * Invariants every implementation keeps:
 * 1. **Atomic, durable batches.** `applyBatch` commits everything it accepted in one transaction, or nothing;
 *    when its promise resolves the batch is durable (SQLite: `synchronous=FULL`), so the relay may acknowledge it.
 * 2. **Exactly once, and one content per id.** An op id is recorded with the batch that accepted it, with a digest
 *    of the op's content (`opDigest`). A later batch carrying the same id with the same content reports it in
 *    `duplicates` (and `accepted`) without screening or applying it again; with other content it is a *conflict*
 *    (the device's database was restored from an older copy and reused the id): then nothing of the batch is
 *    applied and the conflicting ops are reported in `conflicts`, never in `accepted`. Refused ops are not recorded,
 *    so a re-sent refused op is screened again. The content (without id) of a conflicting op is remembered with
 *    the id it is then first accepted under: the same write under a third id is an echo (`echoes`), accepted and
 *    not applied, so a write renumbered by two copies of one database counts once (`batch-plan.ts`).
 * 3. **One change counter.** Every batch that changes at least one document gets the next version; each changed
 *    document's row version becomes that version. Versions only grow, so "documents changed since cursor `c`"
 *    is "row version > `c`". Deleted documents stay as tombstones (with their row version and incarnation).
 * 4. **History horizon.** `compact` forgets which versions batches older than a cutoff had and raises `horizon` to
 *    the last version it folded away: a client cursor in `(0, horizon)` can no longer resume and must be reset.
 *    It keeps what a late op is judged by, however old: tombstones (a delete's state is only its incarnation),
 *    so a create of a deleted incarnation sent long after the delete still loses to it, and op ids with their
 *    digests, so an op sent again from a database restored from an old copy is still a duplicate (or, with other
 *    content, a conflict) and never applied twice.
 * 5. **Screening inside the transaction.** The `screen` callback sees each new op with the document's state just
 *    before it and the state it would produce, in batch order, with the batch's own earlier accepted ops
 *    applied; a refused op leaves no trace. Implementations that allow several writers (PostgreSQL) lock the
 *    documents of the batch before screening.
 * 6. **One commit feed, in version order.** Every committed version reaches `commits` listeners exactly once, in
 *    version order, with no version skipped — whichever process committed it. A listener that cannot be given
 *    a version (its changes were folded away while it lagged) is told so by a `gap` event instead.
 * 7. **Durable webhook deliveries.** The deliveries `setOutbox` renders for a version are stored in the same
 *    transaction as the version; `deliveries.deliverNext` hands the oldest due delivery of a lane to one caller at
 *    a time across every process sharing the store, and deletes it only once delivered or given up.
 * 8. **Each replica's highest sequence number** among the ops it accepted is kept (`replicaSeq`), so a device
 *    restored from an older copy learns how far its op ids went. It says nothing of which lower ids were
 *    accepted (refused ops and rolled-back transactions leave gaps): only the op ids of invariant 2 do.
 */
import type { DocState, Filter, MaterializedDoc, Op, Query, ReplicaId, Timestamp } from '@loam/core';
import type { Histogram } from '../metrics/histogram';

/** One document as stored: its merge state (Yjs fields included) and its row version. */
export interface StoredDoc {
  readonly collection: string;
  readonly id: string;
  /** The version of the batch that last changed it. */
  readonly version: number;
  /** False for tombstones (deleted) and for documents that were never created. */
  readonly live: boolean;
  readonly state: DocState;
}

/** A document changed by a batch: its state before the batch (undefined if no op had touched it) and after. */
export interface DocChange {
  readonly collection: string;
  readonly id: string;
  readonly before: DocState | undefined;
  readonly after: DocState;
}

/** Why `screen` refused an op: a stable code and a readable reason. */
export interface ScreenRefusal {
  readonly code: string;
  readonly reason: string;
}

/**
 * Decides, inside the batch's transaction, whether a new op may apply. `before` is the document's state just
 * before the op (a fresh empty state if none), `after` the state the op would produce (a copy: mutating it has no
 * effect), `changed` whether they differ. Returns null to accept. Must be synchronous and must not throw.
 */
export type Screen = (op: Op, before: DocState, after: DocState, changed: boolean) => ScreenRefusal | null;

/** A batch to apply. */
export interface ApplyBatchRequest {
  /** Ops, already decoded and shape-checked (`checkOpShape`) against the store's schema. */
  readonly ops: readonly Op[];
  readonly screen?: Screen;
  /** The server clock's latest timestamp, saved with the batch (so the clock never goes back after a restart). */
  readonly clock?: Timestamp;
  /** The server's next op sequence number (for backend writes), saved with the batch. */
  readonly nextSeq?: number;
  /** Wall time of the batch, Unix ms (recorded for compaction); default `Date.now()`. */
  readonly now?: number;
  /** Who wrote the batch, passed on to the commit feed; default `device`. */
  readonly source?: CommitSource;
}

/** `device` for pushes, `backend` for HTTP API writes. */
export type CommitSource = 'device' | 'backend';

/** What a batch did. */
export interface BatchResult {
  /** The version of this batch, or the unchanged current version when it changed no document. */
  readonly version: number;
  /** Op ids applied now or known before (the client may drop them), in batch order. */
  readonly accepted: readonly string[];
  /** The subset of `accepted` that was already known before this batch. */
  readonly duplicates: readonly string[];
  /** Ops `screen` refused, with the refusal, in batch order. */
  readonly refused: readonly { readonly op: Op; readonly refusal: ScreenRefusal }[];
  /** Documents whose state changed, with before and after states. */
  readonly changes: readonly DocChange[];
  /**
   * Ops whose id the store already holds with other content, in batch order. When there is any, nothing of the
   * batch was applied (`changes` is empty; `accepted` holds only same-content duplicates).
   */
  readonly conflicts: readonly Op[];
  /**
   * Ops (in `accepted` and `duplicates`) carrying a write the store already accepted under another id: a device
   * renumbered it after a conflict, as an older copy of its database had done before (invariant 2). Not applied;
   * the device must be sent the authoritative state of their documents.
   */
  readonly echoes: readonly Op[];
}

/** The server's own metadata. */
export interface ServerMeta {
  /**
   * The server's replica id (backend writes are stamped with it); created on first start. A store shared by
   * several processes (`info.shared`) gives each opening its own replica id, so no two processes ever issue the
   * same op id, timestamp or Yjs client id.
   */
  readonly replica: ReplicaId;
  /** The last timestamp the server clock issued or received, if any. */
  readonly clock: Timestamp | undefined;
  /** The next sequence number of the server's own ops. */
  readonly nextSeq: number;
  /** The current version (the newest cursor). */
  readonly version: number;
  /** Cursors in `(0, horizon)` cannot resume (see invariant 4). */
  readonly horizon: number;
}

/** A page of a collection's documents, in id order. */
export interface FindPage {
  /** Only documents whose id is greater than this one. */
  readonly afterId?: string;
  readonly limit: number;
}

/**
 * The user every server replica is bound to (`claimReplica`), so no device can take a server's op ids. No token
 * can name it: `anon:` user ids are the anonymous `anon:<replica id>` only, and `-` is not in replica ids.
 */
export const SERVER_USER = 'anon:loam-server';

/** A document changed by a committed version, as the commit feed delivers it. */
export interface CommittedDocChange {
  readonly collection: string;
  readonly id: string;
  /** The materialized document before the version (undefined: it did not exist, or was deleted). */
  readonly beforeDoc: MaterializedDoc | undefined;
  /** The stored state after the version (a later version's state when read back after it; merging is idempotent). */
  readonly after: DocState;
}

/** A committed version. */
export interface StoreCommit {
  readonly version: number;
  /** Wall time of the commit (Unix ms, the committing process's clock). */
  readonly at: number;
  readonly source: CommitSource;
  readonly changes: readonly CommittedDocChange[];
}

/** What commit listeners receive (invariant 6). */
export type CommitFeedEvent =
  | { readonly t: 'commit'; readonly commit: StoreCommit }
  /** Versions `(after, next)` can no longer be delivered; the listener's views must be rebuilt from the store. */
  | { readonly t: 'gap'; readonly after: number; readonly next: number };

/** Committed versions, in version order (invariant 6). */
export interface CommitFeed {
  /** The newest version delivered to listeners. */
  position(): number;
  /**
   * Catches up with the database now (rather than at the next notification) until `version` was delivered.
   * Resolves early, without error, when no process committed `version` (the caller compares `position()`).
   */
  reach(version: number): Promise<void>;
  /** Registers a listener (called synchronously, in version order); returns unsubscribe. */
  subscribe(listener: (event: CommitFeedEvent) => void): () => void;
}

/** One webhook delivery rendered for a version: its lane (one per webhook) and its body. */
export interface OutboxEntry {
  readonly lane: string;
  readonly body: string;
}

/**
 * Renders the deliveries of a version inside its transaction. Must be synchronous, pure and must not throw;
 * `changes` carry the stored state after the version. The version itself is not known yet (a store may take it
 * last): each queued delivery carries it (`QueuedDelivery.version`).
 */
export type OutboxRenderer = (commit: {
  readonly source: CommitSource;
  readonly changes: readonly { readonly collection: string; readonly id: string; readonly after: DocState }[];
}) => readonly OutboxEntry[];

/** A queued delivery handed to a deliverer. */
export interface QueuedDelivery {
  /** Stable id of the delivery (the same on every attempt, in every process). */
  readonly id: string;
  readonly lane: string;
  readonly version: number;
  readonly body: string;
  /** Attempts already made before this one. */
  readonly attempts: number;
}

/** What the deliverer decided: done (delivered or given up), or try again at `retryAt` (Unix ms). */
export type DeliveryOutcome = { readonly done: true } | { readonly done: false; readonly retryAt: number };

/** The durable webhook queue (invariant 7). */
export interface DeliveryQueue {
  /**
   * Hands the oldest delivery of `lane` to `attempt` if it is due at `now` and no other process holds the lane,
   * then records the outcome. Resolves `busy` (another process holds the lane), `idle` (nothing queued),
   * `{ dueAt }` (the head waits for a retry) or `attempted`.
   */
  deliverNext(
    lane: string,
    now: number,
    attempt: (delivery: QueuedDelivery) => Promise<DeliveryOutcome>,
  ): Promise<'busy' | 'idle' | 'attempted' | { readonly dueAt: number }>;
  /** How many deliveries wait in each of `lanes`. */
  pending(lanes: readonly string[]): Promise<number>;
}

/** Figures of the store for `/metrics`. */
export interface StoreStats {
  /** Seconds per database transaction (batches, reads of the commit feed). */
  readonly dbLatency: Histogram;
  /** Ops per committed transaction (a group of pushes in PostgreSQL, one push in SQLite). */
  readonly batchOps: Histogram;
  /** Pushes per committed transaction. */
  readonly batchRequests: Histogram;
}

/** The relay's storage. See the module documentation for the invariants. */
export interface ServerStore {
  /**
   * A short name of the backend (`sqlite`, `postgres`), whether a resolved `applyBatch` survives power loss, and
   * whether several processes may share the database at once.
   */
  readonly info: {
    readonly backend: string;
    readonly durability: 'process-crash' | 'power-loss';
    readonly shared: boolean;
  };
  meta(): Promise<ServerMeta>;
  /** Applies a batch atomically (see invariants 1, 2, 3, 5). */
  applyBatch(request: ApplyBatchRequest): Promise<BatchResult>;
  /** One document's stored state, tombstones included; undefined when no op ever touched it. */
  getDoc(collection: string, id: string): Promise<StoredDoc | undefined>;
  /**
   * Documents (tombstones included) with a row version greater than `cursor`, by version then id. With `filter`,
   * a live document only when it matches (filtered as `findDocs` does); every one that is not live is kept.
   */
  changedSince(collection: string, cursor: number, filter?: Filter): Promise<StoredDoc[]>;
  /** The ids of the live documents with a row version greater than `cursor`, by version then id; nothing decoded. */
  changedIdsSince(collection: string, cursor: number): Promise<string[]>;
  /**
   * How many documents (tombstones included) `changedSince(collection, cursor)` would return, counting at most
   * `limit` (the answer is then `limit`): reads the version index only, nothing is decoded.
   */
  countChangedSince(collection: string, cursor: number, limit?: number): Promise<number>;
  /** Live documents matching `filter` (all when absent), in id order, a page at a time. */
  findDocs(collection: string, filter: Filter | undefined, page: FindPage): Promise<StoredDoc[]>;
  /** How many live documents match `filter`. */
  countDocs(collection: string, filter: Filter | undefined): Promise<number>;
  /** The materialized documents a query returns (filter, sort, limit, offset), as the client engine would. */
  queryDocs(query: Query): Promise<MaterializedDoc[]>;
  /**
   * Binds `replica` to `user` on first use; returns false when it is already bound to another user (a replica
   * id belongs to one user forever, so nobody can pre-empt another's op ids).
   */
  claimReplica(replica: ReplicaId, user: string): Promise<boolean>;
  /** The highest sequence number of `replica`'s ops the store accepted (0 when none); kept through compaction. */
  replicaSeq(replica: ReplicaId): Promise<number>;
  /**
   * Folds away the versions of batches older than `cutoff` (Unix ms; see invariant 4); returns the horizon.
   * Processes sharing the store compact one at a time; the others return the current horizon.
   */
  compact(cutoff: number): Promise<number>;
  /** Committed versions, from every process sharing the store (invariant 6). */
  readonly commits: CommitFeed;
  /** Sets how each version's webhook deliveries are rendered (none until set); call before the first batch. */
  setOutbox(render: OutboxRenderer): void;
  readonly deliveries: DeliveryQueue;
  /** Round-trips to the database; resolves its latency in ms, rejects with `server_storage` when unreachable. */
  ping(): Promise<number>;
  readonly stats: StoreStats;
  /** Closes the store; idempotent. */
  close(): Promise<void>;
}
