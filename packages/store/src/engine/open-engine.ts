/**
 * Opens the engine over a storage driver and wires its parts. See `engine.ts` for the contract.
 *
 * ```
 *  openEngine ── engine-core (clock, writer, row versions, commit listeners)
 *     ├ write-context.ts   one transaction: intents → ops (writer) → merge state → rows, written through
 *     ├ outbox.ts          the ops not yet acknowledged, indexed by document
 *     ├ sync-store.ts      the SyncStore port @loam/sync uses (downloads, refusals, cursor)
 *     ├ queries.ts         find, aggregate and read-only SQL
 *     └ live-queries.ts    re-evaluated after each commit
 * ```
 *
 * A write transaction keeps the documents it touched in memory (merge state plus Yjs docs) and writes each change
 * through to SQLite inside the driver's transaction, so reads in the same transaction see it. Hot documents with
 * list or text fields stay in memory between transactions (`doc-cache.ts`), so a keystroke does not reload them.
 *
 * Writes made on the engine (`write`, `insert`... and `writeAll`, not inside `transaction`) are grouped: a write
 * joins the group of the write before it while that group's storage transaction has not finished its writes and no
 * other engine call came in between, so the order of calls is kept. A group commits as one storage transaction (a
 * keystroke burst costs one commit, and one op per edited field); each write (a `writeAll` as a whole) still
 * resolves, or rejects with its own error, alone: one the writer refuses (validation, not found...) does not fail
 * the others (a `writeAll` refused part-way rolls the group back, which then runs again without it). The HLC, the next op
 * sequence number and the row version are saved with every transaction that wrote. Op sequence numbers and row
 * versions are taken inside the driver's transaction (which holds the database: one at a time) and never given
 * back: a transaction that rolls back leaves a gap, never a number another op will carry again.
 */

import {
  bindWrites,
  createClock,
  createReplicaId,
  createWriter,
  type DocId,
  encodeOps,
  getCollection,
  isReplicaId,
  type ReplicaId,
  type Schema,
  type Timestamp,
  type WriteIntent,
  writeIntent,
} from '@loam/core';
import { type SigningKeys, signTransaction } from '@loam/sync';
import { decode, encode } from '@msgpack/msgpack';
import { StorageError, StoreErrorCode } from '../errors';
import type { SqlExecutor, SqlRow, StorageDriver } from '../storage/driver';
import { createDocCache } from './doc-cache';
import { attachCrdts, type CollectionSql, collectionSql } from './doc-rows';
import type { CommitInfo, Doc, Engine, EngineWrites, RefusedWrite, TransactionOptions } from './engine';
import type { EngineCore } from './engine-core';
import { createLiveQueries } from './live-queries';
import { appendToOutbox, outboxCount, prepareOutbox } from './outbox';
import { logOwnTransaction, preparePeerLog } from './peer-log';
import { aggregateSql, findDocs, findSql, readDoc, readOnlySql } from './queries';
import { createEngineSyncStore } from './sync-store';
import { prepareTables, tableColumns } from './tables';
import { createWriteContext, UnitRefused, type WriteContext, type WriteOutcome } from './write-context';
import { YJS_LOG_DDL } from './yjs-rows';

/** Options of `openEngine`. */
export interface EngineOptions<S extends Schema = Schema> {
  readonly driver: StorageDriver;
  /** The collections; the engine is typed by it (`defineSchema` keeps its literal types). */
  readonly schema: S;
  /** Wall clock for the HLC (tests inject one). */
  readonly now?: () => number;
  /** Clock skew bound for timestamps seen in downloads, ms (default 60 000): farther ahead, they do not move the clock. */
  readonly maxDriftMs?: number;
  /**
   * This device's key pair (a `KeyStore`'s `deviceKeys()`): each local transaction is then signed in the storage
   * transaction that writes it and kept in the peer log, so peers can check it offline.
   */
  readonly keys?: SigningKeys;
}

const SAVE_META =
  "INSERT OR REPLACE INTO loam_meta (key, value) VALUES ('clock', ?), ('seq', ?), ('version', ?)";
const REQUEST_TTL_MS = 7 * 24 * 3600 * 1000;
/** Documents with list or text fields kept in memory between transactions, and their Yjs bytes at most. */
const DOC_CACHE_LIMIT = 128;
const DOC_CACHE_BYTES = 16 * 1024 * 1024;
/** Most writes one storage transaction groups (a larger `writeAll` runs alone). */
const MAX_GROUP = 4096;

/** Writes committing together: their units (which may grow while they run) and their callers. */
interface Group {
  readonly units: (readonly WriteIntent[])[];
  readonly waiting: { resolve(ids: DocId[]): void; reject(error: unknown): void }[];
  size: number;
}

/** The documents a local commit changed, by collection: every row it wrote belongs to one of its ops. */
function changedDocs(ops: CommitInfo['ops']): Map<string, Set<string>> {
  const docs = new Map<string, Set<string>>();
  for (const op of ops) {
    let ids = docs.get(op.collection);
    if (!ids) {
      ids = new Set();
      docs.set(op.collection, ids);
    }
    ids.add(op.doc);
  }
  return docs;
}

function randomYjsClientId(): number {
  return globalThis.crypto.getRandomValues(new Uint32Array(1))[0] as number;
}

/**
 * Opens (creating or migrating) the local database on `driver`, typed by `options.schema`: collections, fields,
 * values and query paths the schema lacks are compile errors (and, for data from outside, `validation_failed` or
 * `query_invalid` at run time).
 */
export async function openEngine<const S extends Schema>(options: EngineOptions<S>): Promise<Engine<S>> {
  const { driver, schema, keys } = options;
  const { m: meta, physical } = await driver.transaction(async (tx) => {
    const m = await prepareTables(tx, schema);
    await prepareOutbox(tx);
    await tx.exec(YJS_LOG_DDL);
    await preparePeerLog(tx);
    if (!isReplicaId(m.get('replica'))) {
      const replica = createReplicaId();
      await tx.run("INSERT INTO loam_meta (key, value) VALUES ('replica', ?)", [replica]);
      m.set('replica', replica);
    }
    await tx.run('DELETE FROM loam_requests WHERE at < ?', [Date.now() - REQUEST_TTL_MS]);
    const physical = new Map<string, string[]>();
    for (const name of Object.keys(schema.collections)) physical.set(name, await tableColumns(tx, name));
    return { m, physical };
  });

  const replica = meta.get('replica') as ReplicaId;
  const lastTs = meta.get('clock');
  const clock = createClock({
    replica,
    ...(options.now ? { now: options.now } : {}),
    ...(options.maxDriftMs !== undefined ? { maxDriftMs: options.maxDriftMs } : {}),
    ...(typeof lastTs === 'string' ? { last: lastTs as Timestamp } : {}),
  });
  const writer = createWriter({
    schema,
    clock,
    nextSeq: Number(meta.get('seq') ?? 1),
    yjsClientId: randomYjsClientId(),
  });
  let version = Number(meta.get('version') ?? 0);
  const collections = new Map<string, CollectionSql>();
  for (const [name, def] of Object.entries(schema.collections))
    collections.set(name, collectionSql(name, def, physical.get(name)));
  const commitListeners = new Set<(info: CommitInfo) => void>();
  let closed = false;

  const core: EngineCore = {
    driver,
    schema,
    replica,
    clock,
    writer,
    docs: createDocCache(DOC_CACHE_LIMIT, DOC_CACHE_BYTES),
    collection(name) {
      const c = collections.get(name);
      if (!c) getCollection(schema, name);
      return c as CollectionSql;
    },
    renewYjsClient: () => writer.renewYjsClientId(randomYjsClientId()),
    takeVersion: () => ++version,
    saveMeta: (sql: SqlExecutor) => sql.run(SAVE_META, [clock.last(), writer.nextSeq(), version]),
    notify(info) {
      for (const listener of commitListeners) listener(info);
      // The changed documents are gathered only if a live query looks at them (a bulk insert's are many).
      live.refresh(info.collections, info.local ? () => changedDocs(info.ops) : undefined);
    },
    onCommit(listener) {
      commitListeners.add(listener);
      return () => {
        commitListeners.delete(listener);
      };
    },
  };

  const live = createLiveQueries({
    driver,
    collection: (name) => core.collection(name),
    findSql,
    aggregateSql,
    runReadOnly: (text, params) => readOnlySql(driver, text, params),
    attach: (sql, c, docs) => attachCrdts(core.docs, sql, c, docs),
  });

  /** Reads documents of `c`; with list or text fields, in a storage transaction (the cache is read there). */
  const reading = <T>(c: CollectionSql, read: (sql: SqlExecutor) => Promise<T>): Promise<T> =>
    c.crdtFields.length > 0 ? driver.transaction(read) : read(driver);
  const attachFrom = (sql: SqlExecutor) => (c: CollectionSql, docs: Doc[]) =>
    attachCrdts(core.docs, sql, c, docs);

  /** Runs `fn` on a write context in one storage transaction (see the invariants of `engine.ts`). */
  const run = async <T>(fn: (ctx: WriteContext) => Promise<T>, options?: TransactionOptions): Promise<T> => {
    if (closed)
      throw new StorageError(StoreErrorCode.closed, 'The database is closed: open it again to use it');
    let committed: { ctx: WriteContext; ops: readonly unknown[] } | undefined;
    let kept = false;
    let result: T;
    try {
      result = await driver.transaction(async (sql) => {
        if (options?.requestId !== undefined) {
          const done = await sql.get<{ result: Uint8Array | null }>(
            'SELECT result FROM loam_requests WHERE id = ?',
            [options.requestId],
          );
          if (done) return (done.result ? decode(done.result) : undefined) as T;
        }
        const ctx = createWriteContext(core, sql, core.takeVersion());
        let value: T;
        try {
          value = await fn(ctx);
        } catch (error) {
          ctx.abandon();
          throw error;
        }
        const ops = await ctx.finish();
        kept = true;
        if (options?.requestId !== undefined) {
          await sql.run('INSERT INTO loam_requests (id, result, at) VALUES (?, ?, ?)', [
            options.requestId,
            value === undefined ? null : encode(value),
            Date.now(),
          ]);
        }
        if (ops.length > 0) {
          if (keys) {
            const encoded = encodeOps(ops);
            const signature = await signTransaction(keys.privateKey, encoded);
            await logOwnTransaction(sql, replica, ops, encoded, signature, ctx.gone);
          }
          await appendToOutbox(sql, ops);
          await core.saveMeta(sql);
        }
        committed = { ctx, ops };
        return value;
      });
    } catch (error) {
      // The transaction put its documents back in the cache, then did not commit: they may hold its changes.
      if (kept) core.docs.clear();
      throw error;
    }
    if (committed && committed.ops.length > 0) {
      const { ctx } = committed;
      core.notify({ collections: [...ctx.touched], local: true, ops: committed.ops as CommitInfo['ops'] });
    }
    return result;
  };

  const transaction = <T>(fn: (tx: EngineWrites) => Promise<T>, options?: TransactionOptions) =>
    run((ctx) => fn(ctx.writes), options);

  /** The group single writes may still join (see the module documentation). */
  let group: Group | undefined;
  /** An engine call other than a single write: later writes must not commit before it. */
  const ordered =
    <A extends unknown[], R>(call: (...args: A) => R) =>
    (...args: A): R => {
      group = undefined;
      return call(...args);
    };

  const runGroup = async (writes: Group) => {
    let outcomes: WriteOutcome[] = [];
    for (;;) {
      try {
        await run(async (ctx) => {
          outcomes = await ctx.writeEach(writes.units);
          if (group === writes) group = undefined;
        });
        break;
      } catch (error) {
        if (group === writes) group = undefined;
        if (!(error instanceof UnitRefused)) {
          for (const w of writes.waiting) w.reject(error);
          return;
        }
        writes.waiting[error.index]?.reject(error.reason);
        writes.units.splice(error.index, 1);
        writes.waiting.splice(error.index, 1);
      }
    }
    for (const [i, w] of writes.waiting.entries()) {
      const outcome = outcomes[i] as WriteOutcome;
      if ('ids' in outcome) w.resolve(outcome.ids);
      else w.reject(outcome.error);
    }
  };

  /** Queues a unit of writes (all or nothing) into the open group, or a new one. */
  const enqueue = (unit: readonly WriteIntent[]) =>
    new Promise<DocId[]>((resolve, reject) => {
      if (group && group.size + unit.length <= MAX_GROUP) {
        group.units.push(unit);
        group.waiting.push({ resolve, reject });
        group.size += unit.length;
        return;
      }
      group = { units: [unit], waiting: [{ resolve, reject }], size: unit.length };
      void runGroup(group);
    });
  const write = async (intent: WriteIntent) => (await enqueue([intent]))[0] as DocId;
  const writeAll = (intents: readonly WriteIntent[]) => enqueue([...intents]);

  const engine: Engine = {
    replica,
    schema,
    storage: driver.info,
    syncStore: createEngineSyncStore(core, keys?.publicKey),
    transaction: ordered(transaction),
    ...bindWrites(write),
    write,
    writeAll,
    insertMany: (collection, docs) => enqueue(docs.map((doc) => writeIntent.insert(collection, doc))),
    get: ordered((collection: string, id: string) => {
      const c = core.collection(collection);
      return reading(c, (sql) => readDoc(sql, c, id, attachFrom(sql)));
    }),
    find: ordered((query) => {
      const c = core.collection(query.collection);
      return reading(c, (sql) => findDocs(sql, core.collection, query, attachFrom(sql)));
    }),
    aggregate: ordered(async (spec) => {
      const { sql, params } = aggregateSql(core.collection(spec.collection), spec);
      return driver.all(sql, params);
    }),
    sql: ordered((text, params) => readOnlySql(driver, text, params)),
    watch: ordered((spec, listener) => live.watch(spec, listener)),
    pendingCount: ordered(() => outboxCount(driver)),
    refusedWrites: ordered(async () =>
      driver.all<RefusedWrite & SqlRow>(
        'SELECT op, collection, doc, code, reason, at, author FROM loam_refused ORDER BY at DESC, op',
      ),
    ),
    async close() {
      if (closed) return;
      closed = true;
      live.close();
      commitListeners.clear();
      await driver.close();
    },
  };
  // The engine checks every write and query at run time against the schema; its types are the schema's.
  return engine as unknown as Engine<S>;
}
