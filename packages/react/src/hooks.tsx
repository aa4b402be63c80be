/**
 * React bindings of a Loam database: a provider and hooks typed by the app's schema.
 *
 * ```tsx
 * const { LoamProvider, useQuery } = createLoamHooks(schema);
 * function Orders() {
 *   const orders = useQuery('orders', { sort: [q.desc('createdAt')] });
 *   if (orders.status === 'loading') return <p>Loading…</p>;
 *   if (orders.status === 'error') return <p>{orders.error.message}</p>;
 *   return <ul>{orders.data.map((o) => <li key={o.id}>{o.number}</li>)}</ul>;
 * }
 * ```
 *
 * Invariants:
 * 1. **Built on `useSyncExternalStore`**: a component re-renders when, and only when, the result it reads
 *    changed; every component of one render sees the same result of a query (no tearing).
 * 2. **One worker subscription per query.** Queries are keyed by a stable hash of what they ask (collection and
 *    options, however the objects were built); all components asking the same query of the same database share
 *    one live query in the worker, which stops when the last of them unmounts (see `live-store.ts`).
 * 3. **Loading, ready and error are distinct.** A live result says `loading` until the first result arrived;
 *    an empty result is `ready` with `[]` (or `null` for a missing document).
 */
import type {
  AggregateOptions,
  AggregateOptionsOf,
  AggregateRow,
  Database,
  PeerView,
  QueryOptionsOf,
  RefusedWrite,
  SqlRow,
  SyncStatus,
  WriteCheck,
} from '@loam/client';
import { type CollectionName, type DocOf, type QueryOptions, q, type Schema } from '@loam/core';
import { createContext, type ReactNode, useCallback, useContext, useMemo, useSyncExternalStore } from 'react';
import { ProviderMissingError } from './errors';
import { createLiveStore, type LiveResult, type LiveSource, type LiveStore } from './live-store';
import { stableKey } from './stable-key';

/** The provider and hooks of one schema (see {@link createLoamHooks}). */
export interface LoamHooks<S extends Schema> {
  /** Makes `db` the database of every hook below it. */
  LoamProvider(props: { readonly db: Database<S>; readonly children?: ReactNode }): ReactNode;
  /** The database of the nearest {@link LoamHooks.LoamProvider}; throws `react_provider_missing` without one. */
  useDatabase(): Database<S>;
  /**
   * The live result of a query: `loading`, then `ready` with every matching document (a new array each time the
   * result changes; unchanged documents keep their identity), or `error` (e.g. `query_invalid`).
   */
  useQuery<C extends CollectionName<S>>(
    collection: C,
    options?: QueryOptionsOf<S, C>,
  ): LiveResult<DocOf<S, C>[]>;
  /**
   * One live document: `ready` with the document, or with `null` when it does not exist (distinct from
   * `loading`). An `id` of `undefined` is `ready` with `null` at once, without a query.
   */
  useDoc<C extends CollectionName<S>>(collection: C, id: string | undefined): LiveResult<DocOf<S, C> | null>;
  /**
   * A live aggregate (count, sum, avg, min, max, group by): one row per group, updated after every change. Rows
   * are typed by the query (`AggregateRow` of `@loam/client`): its groups and aggregates, nothing else.
   */
  useAggregate<C extends CollectionName<S>, const A extends AggregateOptionsOf<S, C>>(
    collection: C,
    options: A,
  ): LiveResult<AggregateRow<A>[]>;
  /** The sync status, updated on every change; `undefined` only until the worker first answered. */
  useSyncStatus(): SyncStatus | undefined;
  /**
   * The refused-writes log, newest first: writes the server turned down (and that were undone), and transactions
   * peers sent that were not applied (with their `author`).
   */
  useRefusedWrites(): LiveResult<RefusedWrite[]>;
  /**
   * The devices this one syncs with directly (`db.peers`): one entry per peer with its state, last seen and ops
   * exchanged, updated on every change; `undefined` only until the worker first answered.
   */
  usePeers(): PeerView[] | undefined;
  /**
   * Whether the relay's rules for the current token allow a write (see `Database.can`), re-evaluated when the
   * relay sends new rules. `true` while no rules are known.
   */
  useCan<C extends CollectionName<S>>(collection: C, check: WriteCheck<S, C>): boolean;
}

/** A document of any collection (the hooks are re-typed per schema by `createLoamHooks`). */
type AnyDoc = DocOf<Schema, string>;

const READY_NULL: LiveResult<null> = Object.freeze({ status: 'ready', data: null, error: undefined });
const stores = new WeakMap<object, LiveStore>();

function storeOf(db: object): LiveStore {
  let store = stores.get(db);
  if (!store) {
    store = createLiveStore();
    stores.set(db, store);
  }
  return store;
}

/** The keys of the queries running for `db` (for tests and debugging). */
export function activeQueryKeys(db: object): string[] {
  return stores.get(db)?.activeKeys() ?? [];
}

const DatabaseContext = createContext<Database<Schema> | undefined>(undefined);
DatabaseContext.displayName = 'LoamDatabase';

function LoamProvider({ db, children }: { readonly db: Database<Schema>; readonly children?: ReactNode }) {
  return <DatabaseContext.Provider value={db}>{children}</DatabaseContext.Provider>;
}

function useDatabase(): Database<Schema> {
  const db = useContext(DatabaseContext);
  if (!db) throw new ProviderMissingError();
  return db;
}

function useLive<T>(key: string | undefined, source: LiveSource<T>): LiveResult<T> {
  const db = useDatabase();
  const store = storeOf(db);
  // The source is a fresh closure each render; the key says what it asks, so the first source of a key is used.
  // biome-ignore lint/correctness/useExhaustiveDependencies: keyed on `key` on purpose (see above)
  const subscribe = useCallback(
    (onChange: () => void) =>
      key === undefined ? () => undefined : store.subscribe(key, source as LiveSource<unknown>, onChange),
    [store, key],
  );
  const snapshot = useCallback(
    () => (key === undefined ? READY_NULL : store.snapshot(key)) as LiveResult<T>,
    [store, key],
  );
  return useSyncExternalStore(subscribe, snapshot, snapshot);
}

function useQuery(collection: string, options: QueryOptions = {}): LiveResult<AnyDoc[]> {
  const db = useDatabase();
  return useLive(`find\u0000${collection}\u0000${stableKey(options)}`, (emit, fail) =>
    db.collection(collection).watch(options, emit, fail),
  );
}

function useDoc(collection: string, id: string | undefined): LiveResult<AnyDoc | null> {
  const db = useDatabase();
  return useLive(id === undefined ? undefined : `doc\u0000${collection}\u0000${id}`, (emit, fail) =>
    db
      .collection(collection)
      .watch({ filter: q.eq('id', id ?? ''), limit: 1 }, (docs) => emit(docs[0] ?? null), fail),
  );
}

function useAggregate(collection: string, options: AggregateOptions): LiveResult<SqlRow[]> {
  const db = useDatabase();
  return useLive(`aggregate\u0000${collection}\u0000${stableKey(options)}`, (emit, fail) =>
    db.collection(collection).watchAggregate(options, emit, fail),
  );
}

function useSyncStatus(): SyncStatus | undefined {
  const db = useDatabase();
  return useLive<SyncStatus>('syncStatus', (emit) => db.sync.onStatus(emit)).data;
}

function useRefusedWrites(): LiveResult<RefusedWrite[]> {
  const db = useDatabase();
  return useLive('refusedWrites', (emit, fail) => db.watchRefusedWrites(emit, fail));
}

function usePeers(): PeerView[] | undefined {
  const db = useDatabase();
  return useLive<PeerView[]>('peers', (emit) => db.peers.onChange(emit)).data;
}

function useCan(collection: string, check: WriteCheck<Schema, string>): boolean {
  const db = useDatabase();
  const subscribe = useCallback((onChange: () => void) => db.onPermissionsChange(onChange), [db]);
  const read = useCallback(() => db.permissions, [db]);
  const permissions = useSyncExternalStore(subscribe, read, read);
  const key = stableKey(check);
  // biome-ignore lint/correctness/useExhaustiveDependencies: `key` stands for `check`; new `permissions` re-evaluate
  return useMemo(() => db.can(collection, check), [db, collection, key, permissions]);
}

const hooks = {
  LoamProvider,
  useDatabase,
  useQuery,
  useDoc,
  useAggregate,
  useSyncStatus,
  useRefusedWrites,
  usePeers,
  useCan,
};

/**
 * The provider and hooks, typed by `schema`: collection names, documents and patches are checked against it. The
 * hooks are the same functions for every schema (one React context): this only gives them the schema's types.
 * Call it once per schema, at module level; below a `LoamProvider`, hooks read its database (an inner provider
 * replaces an outer one).
 */
export function createLoamHooks<const S extends Schema>(_schema: S): LoamHooks<S> {
  return hooks as unknown as LoamHooks<S>;
}
