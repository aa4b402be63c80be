/**
 * The relay's storage contract: materialized documents, the op-id dedupe table and the server's own metadata.
 *
 * The relay never speaks SQL; it talks to a {@link ServerStore}. Implementations: `storage-sqlite.ts` (one
 * better-sqlite3 file, the default) and, later, PostgreSQL for several relay nodes. Every implementation passes
 * the cases of `server-store-conformance.ts`.
 *
 * Invariants every implementation keeps:
 * 1. **Atomic, durable batches.** `applyBatch` commits everything it accepted in one transaction, or nothing;
 *    when its promise resolves the batch is durable (SQLite: `synchronous=FULL`), so the relay may acknowledge it.
 * 2. **Exactly once, and one content per id.** An op id is recorded with the batch that accepted it, with a digest
 *    of the op's content (`opDigest`). A later batch carrying the same id with the same content reports it in
 *    `duplicates` (and `accepted`) without screening or applying it again; with other content it is a *conflict*
 *    (the device's database was restored from an older copy and reused the id): then nothing of the batch is
 *    applied and the conflicting ops are reported in `conflicts`, never in `accepted`. Refused ops are not recorded,
 *    so a re-sent refused op is screened again.
 * 3. **One change counter.** Every batch that changes at least one document gets the next version; each changed
 *    document's row version becomes that version. Versions only grow, so "documents changed since cursor `c`"
 *    is "row version > `c`". Deleted documents stay as tombstones (with their row version) until compaction.
 * 4. **History horizon.** `compact` purges tombstones and dedupe entries older than a cutoff and raises
 *    `horizon` to the last version it folded away: a client cursor in `(0, horizon)` can no longer resume and
 *    must be reset.
 * 5. **Screening inside the transaction.** The `screen` callback sees each new op with the document's state just
 *    before it and the state it would produce, in batch order, with the batch's own earlier accepted ops
 *    applied; a refused op leaves no trace. Implementations that allow several writers (PostgreSQL) lock the
 *    documents of the batch before screening.
 * 6. **Each replica's highest sequence number** among the ops it accepted is kept (`replicaSeq`), compaction or
 *    not, so a device restored from an older copy learns how far its op ids went.
 */
import type { DocState, Filter, MaterializedDoc, Op, Query, ReplicaId, Timestamp } from '@loam/core';

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
}

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
}

/** The server's own metadata. */
export interface ServerMeta {
  /** The server's replica id (backend writes are stamped with it); created on first start. */
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

/** The relay's storage. See the module documentation for the invariants. */
export interface ServerStore {
  /** A short name of the backend (`sqlite`, `postgres`) and whether a resolved `applyBatch` survives power loss. */
  readonly info: { readonly backend: string; readonly durability: 'process-crash' | 'power-loss' };
  meta(): Promise<ServerMeta>;
  /** Applies a batch atomically (see invariants 1, 2, 3, 5). */
  applyBatch(request: ApplyBatchRequest): Promise<BatchResult>;
  /** One document's stored state, tombstones included; undefined when no op ever touched it. */
  getDoc(collection: string, id: string): Promise<StoredDoc | undefined>;
  /** Documents (tombstones included) with a row version greater than `cursor`, by version then id. */
  changedSince(collection: string, cursor: number): Promise<StoredDoc[]>;
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
  /** Folds away tombstones and dedupe entries of batches older than `cutoff` (Unix ms); returns the horizon. */
  compact(cutoff: number): Promise<number>;
  /** Closes the store; idempotent. */
  close(): Promise<void>;
}
