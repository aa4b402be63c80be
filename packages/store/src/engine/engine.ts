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
 * 7. **Keystrokes cost O(edit).** Writes made on the engine without waiting for each other (not inside
 *    `transaction`) commit together while no other engine call comes between them; a transaction's edits of one
 *    list or text field travel as one op. Hot documents' Yjs states stay in memory and a Yjs edit stores its update
 *    alone (`yjs-rows.ts`).
 */
import type {
  CollectionName,
  DocId,
  DocOf,
  FieldNameOfKind,
  Filter,
  ListItemOf,
  MaterializedDoc,
  NewDocOf,
  NumericPath,
  Op,
  PatchOf,
  Query,
  QueryPath,
  ReplicaId,
  Schema,
  WriteIntent,
} from '@loam/core';
import type { RefusedWrite, SyncStore } from '@loam/sync';
import type { SqlRow, SqlValue, StorageDriverInfo } from '../storage/driver';

export type { RefusedWrite } from '@loam/sync';

/** A document as read back: `{ id, ...fields }`. */
export type Doc = MaterializedDoc;

/**
 * Writes and reads available inside a transaction (and on the engine itself, where each write is atomic on its own:
 * writes made one after another without waiting may commit together in one storage transaction, in call order, each
 * resolving or failing alone: invariant 7 above), typed by schema `S`: collection names, document and patch fields
 * and their value types, counter, list and text fields, query paths. Every write is a {@link WriteIntent} of
 * `@loam/core`: `write` takes one; `insert`, `upsert`, `update` (fields, or dotted paths into object fields such as
 * `'address.city'`), `increment`, `delete`, `listInsert`, `listDelete`, `textInsert` and `textDelete` build one with
 * the arguments of `writeIntent` (which documents each). Every write resolves with the id of the document it wrote
 * once it is part of the transaction. A write the schema refuses at run time (an open schema, or data from outside)
 * rejects with `validation_failed` and stores nothing.
 */
export interface EngineWrites<S extends Schema = Schema> {
  /** Runs one write intent; resolves with the id of the document it wrote (made here for an insert without one). */
  write(intent: WriteIntent<S>): Promise<DocId>;
  /** Runs intents in order; resolves with their documents' ids. */
  writeAll(intents: readonly WriteIntent<S>[]): Promise<DocId[]>;
  /** Inserts a document (its id is a new UUIDv7 unless `doc.id` is given). */
  insert<C extends CollectionName<S>>(collection: C, doc: NewDocOf<S, C>): Promise<DocId>;
  /** Creates document `id` from `doc` when none is live, else sets the fields `doc` carries. */
  upsert<C extends CollectionName<S>>(collection: C, id: string, doc: NewDocOf<S, C>): Promise<DocId>;
  /** Sets the fields (or dotted object paths) of `patch`; `undefined` clears an optional field. */
  update<C extends CollectionName<S>>(collection: C, id: string, patch: PatchOf<S, C>): Promise<DocId>;
  /** Adds `by` (an integer, default 1, may be negative) to a counter field. */
  increment<C extends CollectionName<S>>(
    collection: C,
    id: string,
    field: FieldNameOfKind<S, C, 'counter'>,
    by?: number,
  ): Promise<DocId>;
  /** Deletes the document. */
  delete<C extends CollectionName<S>>(collection: C, id: string): Promise<DocId>;
  /** Inserts `items` into list field `field` before position `index`. */
  listInsert<C extends CollectionName<S>, F extends FieldNameOfKind<S, C, 'list'>>(
    collection: C,
    id: string,
    field: F,
    index: number,
    items: readonly ListItemOf<S, C, F>[],
  ): Promise<DocId>;
  /** Deletes `count` items of list field `field` from `index`. */
  listDelete<C extends CollectionName<S>>(
    collection: C,
    id: string,
    field: FieldNameOfKind<S, C, 'list'>,
    index: number,
    count: number,
  ): Promise<DocId>;
  /** Inserts `text` into text field `field` at `index` (UTF-16 code units). */
  textInsert<C extends CollectionName<S>>(
    collection: C,
    id: string,
    field: FieldNameOfKind<S, C, 'text'>,
    index: number,
    text: string,
  ): Promise<DocId>;
  /** Deletes `count` code units of text field `field` from `index`. */
  textDelete<C extends CollectionName<S>>(
    collection: C,
    id: string,
    field: FieldNameOfKind<S, C, 'text'>,
    index: number,
    count: number,
  ): Promise<DocId>;
  /** Inserts many documents (the fast path for bulk loads: rows are written in batches). */
  insertMany<C extends CollectionName<S>>(collection: C, docs: readonly NewDocOf<S, C>[]): Promise<DocId[]>;
  /** The document, or undefined when it does not exist. Sees the transaction's own earlier writes. */
  get<C extends CollectionName<S>>(collection: C, id: string): Promise<DocOf<S, C> | undefined>;
  /**
   * Documents matching a query (filter, sort, limit, offset; see `q.query` of `@loam/core`), naming only fields a
   * query may use (`QueryPath`). Sees the transaction's own earlier writes.
   */
  find<C extends CollectionName<S>>(query: Query<C, QueryPath<S, C>>): Promise<DocOf<S, C>[]>;
}

/** Aggregate functions over one field (or rows, for `count`). */
export type AggregateFn = 'count' | 'sum' | 'avg' | 'min' | 'max';

/**
 * One aggregate: `count` of the rows (or of the non-null values of `field`), `sum` or `avg` of a number or counter
 * field (`N`), `min` or `max` of any field a query may name (`F`).
 */
export type AggregateCall<F extends string = string, N extends string = F> =
  | { readonly fn: 'count'; readonly field?: F }
  | { readonly fn: 'sum' | 'avg'; readonly field: N }
  | { readonly fn: 'min' | 'max'; readonly field: F };

/**
 * An aggregate query over collection `C`: `SELECT group keys, fn(field) AS name ... WHERE filter GROUP BY keys`,
 * naming fields among `F` (numeric ones among `N` for `sum` and `avg`).
 */
export interface AggregateSpec<C extends string = string, F extends string = string, N extends string = F> {
  readonly collection: C;
  readonly filter?: Filter<F>;
  /** Field paths to group by, in order. */
  readonly groupBy?: readonly F[];
  /** Output name (letters, digits and `_`) → aggregate. */
  readonly aggregates: { readonly [name: string]: AggregateCall<F, N> };
}

/** An {@link AggregateSpec} over collection `C` of schema `S`. */
export type AggregateSpecOf<S extends Schema, C extends CollectionName<S>> = AggregateSpec<
  C,
  QueryPath<S, C>,
  NumericPath<S, C>
>;

/**
 * A row of an aggregate query `A`: one column per group key (its value) and per aggregate (`count` and `sum` a
 * number; `avg` a number, or null over no row; `min` and `max` the stored value, or null).
 */
export type AggregateRow<
  A extends { readonly groupBy?: readonly string[]; readonly aggregates: AggregateSpec['aggregates'] },
> = {
  readonly [G in A['groupBy'] extends readonly (infer K extends string)[] ? K : never]: SqlValue;
} & {
  readonly [N in keyof A['aggregates']]: A['aggregates'][N]['fn'] extends 'count' | 'sum'
    ? number
    : A['aggregates'][N]['fn'] extends 'avg'
      ? number | null
      : SqlValue;
};

/** What a live query watches. */
export type LiveQuerySpec<S extends Schema = Schema, C extends CollectionName<S> = CollectionName<S>> =
  | { readonly kind: 'find'; readonly query: Query<C, QueryPath<S, C>> }
  | { readonly kind: 'aggregate'; readonly spec: AggregateSpecOf<S, C> }
  /** Read-only SQL over the collection views (one view per collection, named like it). Re-run after every commit. */
  | { readonly kind: 'sql'; readonly sql: string; readonly params?: readonly SqlValue[] };

/**
 * What a live query's listener receives (`D`: the documents of a `find`). The first event is always a full result
 * (`reset`); later ones describe what changed. `order` lists every id of the new result in order, and is absent
 * when the order did not change (the same ids in the same places); `upserts` holds the documents that are new or
 * changed; ids absent from `order` left the result.
 */
export type LiveQueryEvent<D = Doc> =
  | { readonly kind: 'docs'; readonly reset: true; readonly docs: D[] }
  | { readonly kind: 'docs'; readonly reset: false; readonly order?: DocId[]; readonly upserts: D[] }
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

/**
 * One replica's local database, typed by its schema `S` (`openEngine({ schema })` infers it). `Engine` alone is the
 * engine of a schema only known at run time (the database worker's): any collection and field, checked when the
 * call runs. A typed engine is not assignable to it (its writes would no longer be checked); code that handles
 * engines of several schemas takes `Engine<S>` for its own `S`.
 */
export interface Engine<S extends Schema = Schema> extends EngineWrites<S> {
  readonly replica: ReplicaId;
  readonly schema: S;
  /** Which SQLite backend and durability the data has (e.g. OPFS vs IndexedDB fallback). */
  readonly storage: StorageDriverInfo;
  /** Runs `fn` as one atomic write transaction (see the invariants); its result must be structured-cloneable. */
  transaction<T>(fn: (tx: EngineWrites<S>) => Promise<T>, options?: TransactionOptions): Promise<T>;
  /** Aggregates (count, sum, avg, min, max, group by); one row per group. */
  aggregate<C extends CollectionName<S>, const A extends AggregateSpecOf<S, C>>(
    spec: A & { readonly collection: C },
  ): Promise<AggregateRow<A>[]>;
  /** Read-only SQL over the collection views; anything it writes is rolled back. */
  sql(sql: string, params?: readonly SqlValue[]): Promise<SqlRow[]>;
  /**
   * Starts a live query; the listener gets the first result, then changes (documents of collection `C` for a
   * `find`, rows for an aggregate or SQL). Returns the unsubscribe function.
   */
  watch<C extends CollectionName<S>>(
    spec: LiveQuerySpec<S, C>,
    listener: (event: LiveQueryEvent<DocOf<S, C>>) => void,
  ): () => void;
  /** Number of local ops not yet acknowledged by the server. */
  pendingCount(): Promise<number>;
  /** The refused-writes log, newest first (live SQL queries over `loam_refused` update after each refusal). */
  refusedWrites(): Promise<RefusedWrite[]>;
  /** What sync reads and writes in this database (outbox, downloads, cursor): hand it to `createSyncClient`. */
  readonly syncStore: SyncStore;
  /** Waits for running work, stops live queries and closes the storage driver. */
  close(): Promise<void>;
}
