/**
 * (Over 400 lines: about half is the typed public surface, `Collection`, `Transaction`, `Database` and their
 * options with their TSDoc, kept beside `openDatabase`, which implements exactly that surface.)
 *
 * The UI-side API of a Loam database: typed collections, live queries and transactions, served by the worker of
 * this origin's leader tab.
 *
 * Invariants:
 * 1. **Refused before sent.** A document or patch that breaks the schema rejects with `ValidationError` (code
 *    `validation_failed`, every problem listed) on the UI thread; the worker validates again before storing.
 * 2. **Every write is idempotent.** Each write and transaction carries a fresh `requestId`; when the leader tab
 *    closes mid-call, the call is resent to the next leader with the same id, so it lands exactly once.
 * 3. **Transactions are atomic.** All writes of `db.transaction(fn)` commit together or not at all. If the
 *    leader changes before the commit is known, `fn` runs again on the new leader under the same `requestId`
 *    (and does not run again if the first attempt committed): `fn` must have no effects outside `tx`.
 * 4. **Live queries hand the UI whole results.** A listener receives the full current array each time the result
 *    changes (rebuilt from the worker's change events; unchanged documents keep their identity), and keeps doing
 *    so across leader changes. Every `watch*` returns its unsubscribe function.
 * 5. **Sync is part of the database.** `db.sync`, `db.subscribe` and the refused-writes log work in every tab;
 *    the leader tab's worker runs the sync client (see `sync.ts`).
 * 6. **`can` answers at once.** The permissions the relay sent are known (or known to be absent) before
 *    `openDatabase` resolves, and followed afterwards in every tab (see `permissions.ts`).
 *
 * Longer than 400 lines because it is the package's public surface: the documented types of the database, its
 * collections and transactions read best beside the one function that builds them.
 */
import {
  bindCollectionWrites,
  type CollectionName,
  checkIntent,
  type DocId,
  type DocOf,
  type FieldNameOfKind,
  type Filter,
  getCollection,
  type ListItemOf,
  LoamError,
  type NewDocOf,
  type NumericPath,
  type PatchOf,
  type Permissions,
  type QueryOptions,
  type QueryPath,
  q,
  type Schema,
  type WriteIntent,
  writeIntent,
} from '@loam/core';
import {
  type BeginResult,
  type DbRequest,
  rebuildError,
  type StorageReport,
  type TxOp,
  type WatchEvent,
  type WatchSpec,
} from '@loam/db-worker';
import {
  type AggregateRow,
  type AggregateSpec,
  applyLiveEvent,
  type Doc,
  type RefusedWrite,
  type SqlRow,
  type SqlValue,
} from '@loam/store';
import { type Connection, openConnection, type Role } from './connection';
import type { LockManagerLike } from './leader-election';
import { createPeersApi, type PeersControls, type PeersOptions, startPeerDialer } from './peers';
import { canWrite, type WriteCheck } from './permissions';
import { createSyncApi, type SyncControls, type SyncOptions, type SyncSubscription } from './sync';

export type { AggregateCall, AggregateFn, AggregateRow, SqlRow, SqlValue } from '@loam/store';

/** The function every subscription returns: stops it. Idempotent. */
export type Unsubscribe = () => void;

/**
 * An aggregate over one collection: output name → function (and field, except for `count`), grouped by fields,
 * over the documents matching `filter` (an `AggregateSpec` of `@loam/store` without its collection). `F` are the
 * fields it may name, `N` the numeric ones (`sum`, `avg`).
 */
export type AggregateOptions<F extends string = string, N extends string = F> = Omit<
  AggregateSpec<string, F, N>,
  'collection'
>;

/** The {@link AggregateOptions} of collection `C` of schema `S`. */
export type AggregateOptionsOf<S extends Schema, C extends CollectionName<S>> = AggregateOptions<
  QueryPath<S, C>,
  NumericPath<S, C>
>;

/** The {@link QueryOptions} (filter, sort, limit, offset) of collection `C` of schema `S`. */
export type QueryOptionsOf<S extends Schema, C extends CollectionName<S>> = QueryOptions<QueryPath<S, C>>;

/**
 * Writes and reads of one collection; inside a transaction they are part of it. Each write is a `@loam/core` write
 * intent, checked against the schema here (`validation_failed` before anything is sent) and again by the worker.
 */
export interface CollectionWrites<S extends Schema, C extends CollectionName<S>> {
  /** Inserts a document (its id is generated as a UUIDv7 unless given); resolves with its id. */
  insert(doc: NewDocOf<S, C>): Promise<DocId>;
  /** Inserts several documents in one transaction; resolves with their ids in order. */
  insertMany(docs: readonly NewDocOf<S, C>[]): Promise<DocId[]>;
  /**
   * Creates document `id` from `doc` when none exists, else sets the fields `doc` carries (required fields are then
   * required only for the create). Resolves with `id`.
   */
  upsert(id: string, doc: NewDocOf<S, C>): Promise<DocId>;
  /**
   * Sets the fields in `patch`; `undefined` clears an optional field. A key may be a dotted path into an object
   * field (`{ 'address.city': 'Paris' }`): only that path is written, so another device's concurrent edit of
   * `address.zip` is kept too. Rejects `not_found` for a missing document.
   */
  update(id: string, patch: PatchOf<S, C>): Promise<void>;
  delete(id: string): Promise<void>;
  /** Adds `by` (an integer, default 1, may be negative) to a counter; concurrent increments all count. */
  increment(id: string, field: FieldNameOfKind<S, C, 'counter'>, by?: number): Promise<void>;
  /** Inserts `items` into list field `field` before position `index`; concurrent inserts are all kept. */
  listInsert<F extends FieldNameOfKind<S, C, 'list'>>(
    id: string,
    field: F,
    index: number,
    items: readonly ListItemOf<S, C, F>[],
  ): Promise<void>;
  /** Deletes `count` items of list field `field` from `index`. */
  listDelete(id: string, field: FieldNameOfKind<S, C, 'list'>, index: number, count: number): Promise<void>;
  /** Inserts `text` into text field `field` at `index` (UTF-16 code units). */
  textInsert(id: string, field: FieldNameOfKind<S, C, 'text'>, index: number, text: string): Promise<void>;
  /** Deletes `count` code units of text field `field` from `index`. */
  textDelete(id: string, field: FieldNameOfKind<S, C, 'text'>, index: number, count: number): Promise<void>;
  /** The document, or `undefined` when it does not exist. */
  get(id: string): Promise<DocOf<S, C> | undefined>;
  /**
   * Documents matching `options` (filter, sort, limit, offset); see `q` of `@loam/core` for filters. Filters and
   * sort keys may name `id` and the scalar fields of the collection (`QueryPath`), nothing else.
   */
  find(options?: QueryOptionsOf<S, C>): Promise<DocOf<S, C>[]>;
}

/** A collection of a database. */
export interface Collection<S extends Schema, C extends CollectionName<S>> extends CollectionWrites<S, C> {
  readonly name: C;
  /** Aggregates (count, sum, avg, min, max, group by) over the collection: one row per group. */
  aggregate<const A extends AggregateOptionsOf<S, C>>(options: A): Promise<AggregateRow<A>[]>;
  /**
   * A live query: `listener` receives the full result now and after every committed change to it (from any tab
   * or, later, from sync). `onError` receives errors of the query itself (default: logged).
   */
  watch(
    options: QueryOptionsOf<S, C>,
    listener: (docs: DocOf<S, C>[]) => void,
    onError?: (error: LoamError) => void,
  ): Unsubscribe;
  /** A live aggregate: `listener` receives the rows now and after every change to them. */
  watchAggregate<const A extends AggregateOptionsOf<S, C>>(
    options: A,
    listener: (rows: AggregateRow<A>[]) => void,
    onError?: (error: LoamError) => void,
  ): Unsubscribe;
}

/** What a transaction callback receives. */
export interface Transaction<S extends Schema> {
  collection<C extends CollectionName<S>>(name: C): CollectionWrites<S, C>;
}

/** Options of {@link Database.transaction}. */
export interface TransactionOptions {
  /** Id of this transaction for idempotent retries (default: a fresh UUID). Reusing an id that committed returns its recorded result. */
  readonly requestId?: string;
}

/** An open database. */
export interface Database<S extends Schema> {
  readonly name: string;
  readonly schema: S;
  /** Where the data lives: `opfs`, or `indexeddb` where the browser lacks OPFS sync access handles. */
  readonly storage: StorageReport;
  /** Whether this tab owns the database worker (`leader`) or reaches another tab's (`follower`). */
  readonly role: Role;
  collection<C extends CollectionName<S>>(name: C): Collection<S, C>;
  /**
   * Runs `fn` as one atomic transaction and resolves with its result (which must be structured-cloneable). If
   * `fn` rejects, nothing it wrote is kept and the call rejects with the same error. Do not await other calls
   * on `db` inside `fn` (they wait for the transaction to end): use `tx`.
   */
  transaction<T>(fn: (tx: Transaction<S>) => Promise<T>, options?: TransactionOptions): Promise<T>;
  /** Read-only SQL over the collection views (one view per collection, named like it). */
  sql(sql: string, params?: readonly SqlValue[]): Promise<SqlRow[]>;
  /** A live read-only SQL query, re-run after every commit; `listener` receives the rows when they change. */
  watchSql(
    sql: string,
    params: readonly SqlValue[],
    listener: (rows: SqlRow[]) => void,
    onError?: (error: LoamError) => void,
  ): Unsubscribe;
  /**
   * Sync with the relay, run by the leader tab's worker and reachable from every tab (see `sync.ts`). Present
   * without `sync` options too: its status is then `stopped` and `start()` rejects with `sync_not_configured`.
   */
  readonly sync: SyncControls;
  /**
   * The devices this one syncs with directly (WebRTC), served by the leader tab's worker (see `peers.ts`). Present
   * without `peers` options too: the list is then empty and `connect` rejects with `peers_not_configured`.
   */
  readonly peers: PeersControls;
  /**
   * Subscribes this device to the documents of `collection` matching `filter` (and the user's read permission):
   * the relay sends them, then every change that enters, changes or leaves that view. Resolves once the
   * subscription is persisted (it survives reloads); its `ready` settles when the first full set arrived. Rejects
   * with `sync_not_configured` without sync, `subscription_invalid` for an unknown collection, `query_invalid` for
   * a malformed filter.
   */
  subscribe<C extends CollectionName<S>>(
    collection: C,
    filter?: Filter<QueryPath<S, C>>,
  ): Promise<SyncSubscription>;
  /**
   * The refused-writes log, newest first: writes the server refused (the documents were reverted) and transactions
   * a peer sent that this device refused (with their `author`; one that waits for a document is not in it).
   */
  refusedWrites(): Promise<RefusedWrite[]>;
  /**
   * A live refused-writes log: `listener` receives the whole log (newest first) now and after each new refusal,
   * in every tab. Returns the unsubscribe function.
   */
  watchRefusedWrites(
    listener: (rows: RefusedWrite[]) => void,
    onError?: (error: LoamError) => void,
  ): Unsubscribe;
  /**
   * Whether the relay would accept `check` (an insert, an update by a patch, or a delete), judged on this device
   * with the permissions the relay sent for the current token and the relay's own rules code: for hiding actions
   * the user may not take. The relay still checks every write. `true` while no permissions are known (the relay
   * never sent any, or the database does not sync). See `permissions.ts`.
   */
  can<C extends CollectionName<S>>(collection: C, check: WriteCheck<S, C>): boolean;
  /**
   * The permissions the relay last sent for the token (kept across restarts, so known offline), or `null` while
   * none are known. A new object each time new ones arrive.
   */
  readonly permissions: Permissions | null;
  /** Called each time new permissions arrive (in every tab). Returns the unsubscribe function. */
  onPermissionsChange(listener: () => void): Unsubscribe;
  /** Called when this tab's role or its leader changes. Returns the unsubscribe function. */
  onLeaderChange(listener: () => void): Unsubscribe;
  /**
   * Called with the reason each time this (leader) tab replaced its worker because it died or stopped answering;
   * calls in flight were replayed on the new one. Returns the unsubscribe function.
   */
  onWorkerRestart(listener: (reason: string) => void): Unsubscribe;
  /** Stops this tab's live queries; in the leader tab, closes the worker (another tab takes over). */
  close(): Promise<void>;
}

/** Options of {@link openDatabase}. */
export interface OpenDatabaseOptions<S extends Schema> {
  /** Database name: letters, digits, `-`, `_`, `.`. Tabs of one origin with the same name share the database. */
  readonly name: string;
  readonly schema: S;
  /** Starts the database worker (default: `createDbWorker()` of `@loam/db-worker`). Only the leader tab calls it. */
  readonly worker?: () => Worker;
  /** Web Locks implementation (default: `navigator.locks`). */
  readonly locks?: LockManagerLike;
  /** How long a new leader retries opening files the previous leader's worker still holds. Default 10 s. */
  readonly openTimeoutMs?: number;
  /** SQLite page cache of the worker, in MiB (default 64; memory is taken only as pages are read). */
  readonly cacheMiB?: number;
  /**
   * Sync with a relay. Give the same options in every tab of the app: the leader tab's worker syncs, calling that
   * tab's `getToken`; when another tab takes over, its own options are used.
   */
  readonly sync?: SyncOptions;
  /**
   * Sync with peers too (needs `sync`): while this tab leads, it keeps a WebRTC link to every peer of the relay's
   * roster (signaled through the relay), and its worker checks and applies what they send. Give the same options
   * in every tab.
   */
  readonly peers?: PeersOptions;
  /** Interval of the leader tab's pings to its worker. Default 1 s. */
  readonly heartbeatMs?: number;
  /** A worker that has not answered a ping for this long is terminated and replaced. Default 10 s. */
  readonly workerTimeoutMs?: number;
  /** How long opening, and a call, wait for a first leader tab before `leader_unavailable`. Default 30 s. */
  readonly leaderTimeoutMs?: number;
}

const MAX_TRANSACTION_ATTEMPTS = 5;

const REFUSED_WRITES_SQL =
  'SELECT op, collection, doc, code, reason, at, author FROM loam_refused ORDER BY at DESC, op';

/** A row of the refused-writes log, without `author` when the write was not a peer's. */
function refusedWrite(row: SqlRow): RefusedWrite {
  const { author, ...rest } = row;
  return (typeof author === 'string' ? { ...rest, author } : rest) as unknown as RefusedWrite;
}

function requestId(): string {
  return globalThis.crypto.randomUUID();
}

function sameDocs(a: readonly Doc[], b: readonly Doc[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    const y = b[i];
    if (x !== y && JSON.stringify(x) !== JSON.stringify(y)) return false;
  }
  return true;
}

function reportLiveError(error: LoamError): void {
  console.error(`Loam live query failed (${error.code}): ${error.message}`);
}

function liveError(event: { code: string; message: string }): LoamError {
  return rebuildError({ name: 'LoamError', code: event.code, message: event.message });
}

/**
 * Opens database `name`: joins the tabs' leader election, starts the worker if this tab is leader, and resolves
 * once calls can be served. Rejects with `browser_unsupported` without Web Locks or BroadcastChannel, and with
 * the worker's error (`database_open_failed`, `storage_*`, `schema_*`) when the database cannot be opened.
 */
export async function openDatabase<const S extends Schema>(
  options: OpenDatabaseOptions<S>,
): Promise<Database<S>> {
  const connection: Connection = await openConnection({
    name: options.name,
    schema: options.schema,
    ...(options.worker ? { worker: options.worker } : {}),
    ...(options.locks ? { locks: options.locks } : {}),
    ...(options.openTimeoutMs === undefined ? {} : { openTimeoutMs: options.openTimeoutMs }),
    ...(options.cacheMiB === undefined ? {} : { cacheMiB: options.cacheMiB }),
    ...(options.sync ? { sync: options.sync } : {}),
    ...(options.peers ? { peers: { rules: options.peers.rules } } : {}),
    ...(options.heartbeatMs === undefined ? {} : { heartbeatMs: options.heartbeatMs }),
    ...(options.workerTimeoutMs === undefined ? {} : { workerTimeoutMs: options.workerTimeoutMs }),
    ...(options.leaderTimeoutMs === undefined ? {} : { leaderTimeoutMs: options.leaderTimeoutMs }),
  });
  const { schema } = options;
  const stopDialer =
    options.sync && options.peers && options.peers.dial !== false
      ? startPeerDialer(connection, await import('@loam/sync/webrtc'), options.peers)
      : undefined;

  /**
   * The writes and reads of collection `name`: `runAll` runs checked intents (as one request, or one by one inside a
   * transaction) and resolves with their documents' ids; `read` serves `get` and `find`.
   */
  function writes<C extends CollectionName<S>>(
    name: C,
    runAll: (intents: readonly WriteIntent[]) => Promise<DocId[]>,
    read: (op: Extract<TxOp, { kind: 'get' | 'find' }>) => Promise<unknown>,
  ): CollectionWrites<S, C> {
    getCollection(schema, name);
    const checked = (intents: readonly WriteIntent[]) => {
      for (const intent of intents) checkIntent(schema, intent);
      return runAll(intents);
    };
    const one = async (intent: WriteIntent) => (await checked([intent]))[0] as DocId;
    const methods: Omit<CollectionWrites<S, C>, 'insertMany' | 'get' | 'find'> = bindCollectionWrites(
      name,
      one,
    ) as unknown as Omit<CollectionWrites<S, C>, 'insertMany' | 'get' | 'find'>;
    return {
      ...methods,
      insertMany: (docs) =>
        checked(docs.map((doc) => writeIntent.insert(name, doc as Record<string, unknown>))),
      async get(id) {
        const doc = await read({ kind: 'get', collection: name, id });
        return (doc ?? undefined) as DocOf<S, C> | undefined;
      },
      async find(findOptions = {}) {
        return (await read({ kind: 'find', query: q.query(name, findOptions) })) as DocOf<S, C>[];
      },
    };
  }

  const request = (r: DbRequest) => connection.request(r);

  let permissions: Permissions | null = null;
  const permissionListeners = new Set<() => void>();
  await new Promise<void>((resolve) => {
    connection.subscribe({ kind: 'permissions' }, (event: WatchEvent) => {
      if (event.kind !== 'permissions') return;
      resolve();
      if (JSON.stringify(event.permissions) === JSON.stringify(permissions)) return;
      permissions = event.permissions;
      for (const listener of [...permissionListeners]) listener();
    });
  });

  function watchRows(
    spec: WatchSpec,
    listener: (rows: SqlRow[]) => void,
    onError: (error: LoamError) => void,
  ): Unsubscribe {
    let last: string | undefined;
    return connection.subscribe(spec, (event: WatchEvent) => {
      if (event.kind === 'error') onError(liveError(event));
      else if (event.kind === 'rows') {
        const text = JSON.stringify(event.rows, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));
        if (text === last) return;
        last = text;
        listener(event.rows);
      }
    });
  }

  function collection<C extends CollectionName<S>>(name: C): Collection<S, C> {
    const base = writes(
      name,
      async (intents) => (await request({ type: 'write', requestId: requestId(), intents })) as DocId[],
      (op) => request({ type: 'read', op }),
    );
    return {
      ...base,
      name,
      async aggregate<A extends AggregateOptionsOf<S, C>>(aggregate: A) {
        return (await request({
          type: 'read',
          op: { kind: 'aggregate', spec: { collection: name, ...aggregate } },
        })) as AggregateRow<A>[];
      },
      watch(findOptions, listener, onError = reportLiveError) {
        const query = q.query(name, findOptions);
        let docs: Doc[] = [];
        let delivered = false;
        return connection.subscribe({ kind: 'find', query }, (event: WatchEvent) => {
          if (event.kind === 'error') {
            onError(liveError(event));
            return;
          }
          if (event.kind !== 'docs') return;
          const next = applyLiveEvent(docs, event);
          if (event.reset && delivered && sameDocs(docs, next)) return;
          docs = next;
          delivered = true;
          listener(docs as DocOf<S, C>[]);
        });
      },
      watchAggregate<A extends AggregateOptionsOf<S, C>>(
        aggregate: A,
        listener: (rows: AggregateRow<A>[]) => void,
        onError = reportLiveError,
      ) {
        const spec = { collection: name, ...aggregate };
        return watchRows({ kind: 'aggregate', spec }, (rows) => listener(rows as AggregateRow<A>[]), onError);
      },
    };
  }

  async function transaction<T>(
    fn: (tx: Transaction<S>) => Promise<T>,
    txOptions?: TransactionOptions,
  ): Promise<T> {
    const id = txOptions?.requestId ?? requestId();
    for (let attempt = 1; ; attempt++) {
      const begun = (await request({ type: 'begin', requestId: id })) as BeginResult;
      if (begun.committed) return begun.result as T;
      const { txId } = begun;
      const call = (op: TxOp) => request({ type: 'tx', txId, op });
      const callAll = async (intents: readonly WriteIntent[]) => {
        const ids: DocId[] = [];
        for (const intent of intents) ids.push((await call(intent)) as DocId);
        return ids;
      };
      const tx: Transaction<S> = { collection: (name) => writes(name, callAll, call) };
      const leaderLost = (error: unknown) =>
        error instanceof LoamError &&
        error.code === 'transaction_unknown' &&
        attempt < MAX_TRANSACTION_ATTEMPTS;
      let result: T;
      try {
        result = await fn(tx);
      } catch (error) {
        if (leaderLost(error)) continue;
        await request({ type: 'rollback', txId }).catch(() => undefined);
        throw error;
      }
      try {
        return (await request({ type: 'commit', txId, result })) as T;
      } catch (error) {
        if (leaderLost(error)) continue;
        throw error;
      }
    }
  }

  return {
    name: options.name,
    schema,
    get storage() {
      return connection.storage;
    },
    get role() {
      return connection.role;
    },
    collection,
    transaction,
    async sql(sql, params) {
      return (await request({
        type: 'read',
        op: params === undefined ? { kind: 'sql', sql } : { kind: 'sql', sql, params },
      })) as SqlRow[];
    },
    watchSql(sql, params, listener, onError = reportLiveError) {
      return watchRows({ kind: 'sql', sql, params }, listener, onError);
    },
    ...createSyncApi(connection),
    peers: createPeersApi(connection),
    async refusedWrites() {
      const rows = (await request({
        type: 'read',
        op: { kind: 'sql', sql: REFUSED_WRITES_SQL },
      })) as SqlRow[];
      return rows.map(refusedWrite);
    },
    watchRefusedWrites(listener, onError = reportLiveError) {
      return watchRows(
        { kind: 'sql', sql: REFUSED_WRITES_SQL, params: [] },
        (rows) => listener(rows.map(refusedWrite)),
        onError,
      );
    },
    can: (name, check) => canWrite(schema, permissions, name, check as WriteCheck<Schema, string>),
    get permissions() {
      return permissions;
    },
    onPermissionsChange(listener) {
      permissionListeners.add(listener);
      return () => {
        permissionListeners.delete(listener);
      };
    },
    onLeaderChange: (listener) => connection.onLeaderChange(listener),
    onWorkerRestart: (listener) => connection.onWorkerRestart(listener),
    close() {
      stopDialer?.();
      return connection.close();
    },
  };
}
