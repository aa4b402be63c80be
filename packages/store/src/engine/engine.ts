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
 * 5. **Downloads merge by the conflict rules** of `@loam/core` (through `syncStore`, the port `@loam/sync` owns).
 * 6. **Op ids are never reused.** Sequence numbers and row versions are taken inside the storage transaction, under
 *    its lock, and never given back: a transaction that rolls back leaves a gap.
 */
import type {
  DocId,
  MaterializedDoc,
  Op,
  Query,
  ReplicaId,
  Schema,
  WriteIntent,
  WriteMethods,
} from '@loam/core';
import type { RefusedWrite, SyncStore } from '@loam/sync';
import type { SqlRow, SqlValue, StorageDriverInfo } from '../storage/driver';

export type { RefusedWrite } from '@loam/sync';

/** A document as read back: `{ id, ...fields }`. */
export type Doc = MaterializedDoc;

/**
 * Writes and reads available inside a transaction (and, one call per transaction, on the engine itself). Every
 * write is a {@link WriteIntent} of `@loam/core`: `write` takes one; `insert`, `upsert`, `update` (fields, or dotted
 * paths into object fields such as `'address.city'`), `increment`, `delete`, `listInsert`, `listDelete`,
 * `textInsert` and `textDelete` build one with the arguments of `writeIntent` (which documents each). Every write
 * resolves with the id of the document it wrote once it is part of the transaction.
 */
export interface EngineWrites extends WriteMethods<Promise<DocId>> {
  /** Runs one write intent; resolves with the id of the document it wrote (made here for an insert without one). */
  write(intent: WriteIntent): Promise<DocId>;
  /** Runs intents in order; resolves with their documents' ids. */
  writeAll(intents: readonly WriteIntent[]): Promise<DocId[]>;
  /** Inserts many documents (the fast path for bulk loads: rows are written in batches). */
  insertMany(collection: string, docs: readonly Record<string, unknown>[]): Promise<DocId[]>;
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

/** What one committed transaction changed (for live queries and the outbox's listeners). */
export interface CommitInfo {
  /** Collections with at least one changed document. */
  readonly collections: readonly string[];
  /** True for local writes, false for downloads. */
  readonly local: boolean;
  /** The local ops the transaction produced. */
  readonly ops: readonly Op[];
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
  /** Number of local ops not yet acknowledged by the server. */
  pendingCount(): Promise<number>;
  /** The refused-writes log, newest first (live SQL queries over `loam_refused` update after each refusal). */
  refusedWrites(): Promise<RefusedWrite[]>;
  /** What sync reads and writes in this database (outbox, downloads, cursor): hand it to `createSyncClient`. */
  readonly syncStore: SyncStore;
  /** Waits for running work, stops live queries and closes the storage driver. */
  close(): Promise<void>;
}
