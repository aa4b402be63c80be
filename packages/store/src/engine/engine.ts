/**
 * The local engine's contract: one replica's documents in SQLite, written through transactions that record ops,
 * read through queries and live queries.
 *
 * Invariants:
 * 1. **Atomic writes.** A transaction's document changes, its ops (op log) and its outbox entries are written in
 *    one SQLite transaction: after a crash either all of them are there or none.
 * 2. **Refused before stored.** A write that breaks the schema (or targets a missing document...) throws before
 *    anything is written; inside `transaction`, the throw rolls back every earlier write of that transaction.
 * 3. **Idempotent requests.** A transaction given a `requestId` that already committed is not run again: it
 *    resolves with the result recorded the first time. Callers that lost a reply (a leader tab died) retry safely.
 * 4. **Live queries follow commits.** After every committed transaction, local or remote, each live query whose
 *    collection it touched is re-evaluated; its listener is called only when the result changed. Ordered
 *    document results travel as changes (ids in order plus the changed documents), not whole copies.
 * 5. **Remote ops merge by the conflict rules** of `@loam/core`; applying the same op twice does nothing.
 */
import type { DocId, DocState, MaterializedDoc, Op, Query, ReplicaId, Schema, Value } from '@loam/core';
import type { SqlRow, SqlValue, StorageDriverInfo } from '../storage/driver';

/** A document as read back: `{ id, ...fields }`. */
export type Doc = MaterializedDoc;

/** Writes and reads available inside a transaction (and, one call per transaction, on the engine itself). */
export interface EngineWrites {
  /** Inserts a document (id generated as UUIDv7 unless given); resolves with its id. */
  insert(collection: string, doc: Record<string, unknown>): Promise<DocId>;
  /** Inserts many documents in one go (the fast path for bulk loads). */
  insertMany(collection: string, docs: readonly Record<string, unknown>[]): Promise<DocId[]>;
  /** Sets some fields; `undefined`/`null` clears an optional field; list and text fields are replaced. */
  update(collection: string, id: string, patch: Record<string, unknown>): Promise<void>;
  /** Adds `by` (an integer, may be negative) to a counter field. */
  increment(collection: string, id: string, field: string, by: number): Promise<void>;
  delete(collection: string, id: string): Promise<void>;
  listInsert(collection: string, id: string, field: string, index: number, items: Value[]): Promise<void>;
  listDelete(collection: string, id: string, field: string, index: number, count: number): Promise<void>;
  textInsert(collection: string, id: string, field: string, index: number, text: string): Promise<void>;
  textDelete(collection: string, id: string, field: string, index: number, count: number): Promise<void>;
  /** The document, or undefined when it does not exist. Sees the transaction's own earlier writes. */
  get(collection: string, id: string): Promise<Doc | undefined>;
  /** Documents matching a query (filter, sort, limit, offset). Sees the transaction's own earlier writes. */
  find(query: Query): Promise<Doc[]>;
}

/** Aggregate functions over one field (or rows, for `count`). */
export type AggregateFn = 'count' | 'sum' | 'avg' | 'min' | 'max';

/** An aggregate query: `SELECT group keys, fn(field) AS name ... WHERE filter GROUP BY keys`. */
export interface AggregateSpec {
  readonly collection: string;
  readonly filter?: Query['filter'];
  /** Field paths to group by, in order. */
  readonly groupBy?: readonly string[];
  /** Output name → aggregate; `field` is required except for `count`. */
  readonly aggregates: { readonly [name: string]: { readonly fn: AggregateFn; readonly field?: string } };
}

/** What a live query watches. */
export type LiveQuerySpec =
  | { readonly kind: 'find'; readonly query: Query }
  | { readonly kind: 'aggregate'; readonly spec: AggregateSpec }
  /** Read-only SQL over the collection views (one view per collection, named like it). Re-run after every commit. */
  | { readonly kind: 'sql'; readonly sql: string; readonly params?: readonly SqlValue[] };

/**
 * What a live query's listener receives. The first event is always a full result (`reset`); later ones describe
 * what changed. `order` lists every id of the new result in order; `upserts` holds the documents that are new or
 * changed; ids absent from `order` left the result.
 */
export type LiveQueryEvent =
  | { readonly kind: 'docs'; readonly reset: true; readonly docs: Doc[] }
  | { readonly kind: 'docs'; readonly reset: false; readonly order: DocId[]; readonly upserts: Doc[] }
  | { readonly kind: 'rows'; readonly rows: SqlRow[] }
  | { readonly kind: 'error'; readonly code: string; readonly message: string };

/** Options of one transaction. */
export interface TransactionOptions {
  /**
   * A unique id of this request (e.g. a UUID made by the caller). If a transaction with this id already committed,
   * it is not run again and its recorded result is returned.
   */
  readonly requestId?: string;
}

/** What one committed transaction changed (for sync and live queries). */
export interface CommitInfo {
  /** Collections with at least one changed document. */
  readonly collections: readonly string[];
  /** True for local writes, false for remote ops. */
  readonly local: boolean;
  /** The ops the transaction produced or applied. */
  readonly ops: readonly Op[];
}

/** A write the server refused, as recorded in the refused-writes log (`loam_refused`). */
export interface RefusedWrite {
  /** The refused op's id. */
  readonly op: string;
  readonly collection: string;
  readonly doc: string;
  /** Stable code from the server, e.g. `field_denied`. */
  readonly code: string;
  /** The server's reason, for people. */
  readonly reason: string;
  /** When the refusal was recorded (ms since epoch). */
  readonly at: number;
}

/** One document snapshot of a download. */
export interface DownloadedDoc {
  readonly collection: string;
  readonly id: string;
  readonly state: DocState;
  /** `merge`: join into the local state. `replace`: take it as the state, then re-apply this replica's unacknowledged ops. */
  readonly mode: 'merge' | 'replace';
}

/** A batch of changes from the server, applied in one transaction. */
export interface Download {
  readonly docs: readonly DownloadedDoc[];
  /** Documents that left every subscription: removed from this device (not deleted; no op is written). */
  readonly removed: readonly { readonly collection: string; readonly id: string }[];
  /** Sync cursor to store with the changes (under the meta key `cursor`), if any. */
  readonly cursor?: number;
}

/** One replica's local database. */
export interface Engine extends EngineWrites {
  readonly replica: ReplicaId;
  readonly schema: Schema;
  /** Which SQLite backend and durability the data has (e.g. OPFS vs IndexedDB fallback). */
  readonly storage: StorageDriverInfo;
  /** Runs `fn` as one atomic write transaction (see the invariants); its result must be structured-cloneable. */
  transaction<T>(fn: (tx: EngineWrites) => Promise<T>, options?: TransactionOptions): Promise<T>;
  /** Aggregates (count, sum, avg, min, max, group by). */
  aggregate(spec: AggregateSpec): Promise<SqlRow[]>;
  /** Read-only SQL over the collection views; anything it writes is rolled back. */
  sql(sql: string, params?: readonly SqlValue[]): Promise<SqlRow[]>;
  /** Starts a live query; the listener gets the first result, then changes. Returns the unsubscribe function. */
  watch(spec: LiveQuerySpec, listener: (event: LiveQueryEvent) => void): () => void;
  /** Merges ops from the server or a peer (one transaction); resolves with how many were new. */
  applyRemote(ops: readonly Op[]): Promise<number>;
  /** Up to `limit` local ops not yet acknowledged by the server, oldest first. */
  pendingOps(limit: number): Promise<Op[]>;
  /** Number of local ops not yet acknowledged. */
  pendingCount(): Promise<number>;
  /** Drops acknowledged ops from the outbox (never before the server made them durable). */
  acknowledge(opIds: readonly string[]): Promise<void>;
  /** The merge state of a document (for snapshots and peers), or undefined when no op touched it. */
  getState(collection: string, id: string): Promise<DocState | undefined>;
  /** Applies a download from the server (see `Download`); resolves with the number of documents that changed. */
  applyDownload(download: Download): Promise<number>;
  /**
   * Records refused ops: removes them from the outbox and appends them to the refused-writes log. Live SQL queries
   * over `loam_refused` (`SELECT * FROM loam_refused ORDER BY at DESC`) update after it.
   */
  recordRefusals(refusals: readonly Omit<RefusedWrite, 'at'>[]): Promise<void>;
  /** The refused-writes log, newest first. */
  refusedWrites(): Promise<RefusedWrite[]>;
  /** Reads a sync setting saved in the database (cursor, subscriptions...); undefined when absent. */
  getMeta(key: string): Promise<unknown>;
  /** Saves a sync setting (any MessagePack-encodable value) in the database. */
  setMeta(key: string, value: unknown): Promise<void>;
  /** Called after every committed transaction. Returns the unsubscribe function. */
  onCommit(listener: (info: CommitInfo) => void): () => void;
  /** Waits for running work, stops live queries and closes the storage driver. */
  close(): Promise<void>;
}
