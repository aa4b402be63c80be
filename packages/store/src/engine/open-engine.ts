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
 * through to SQLite inside the driver's transaction, so reads in the same transaction see it. The HLC, the next op
 * sequence number and the row version are saved with every transaction that wrote. Op sequence numbers and row
 * versions are taken inside the driver's transaction (which holds the database: one at a time) and never given
 * back: a transaction that rolls back leaves a gap, never a number another op will carry again.
 */

import {
  bindWrites,
  createClock,
  createReplicaId,
  createWriter,
  getCollection,
  isReplicaId,
  QueryError,
  type ReplicaId,
  type Schema,
  type Timestamp,
  type WriteIntent,
  writeIntent,
} from '@loam/core';
import { decode, encode } from '@msgpack/msgpack';
import type { SqlExecutor, SqlRow, StorageDriver } from '../storage/driver';
import { type CollectionSql, collectionSql } from './doc-rows';
import type { CommitInfo, Engine, EngineWrites, RefusedWrite, TransactionOptions } from './engine';
import type { EngineCore } from './engine-core';
import { createLiveQueries } from './live-queries';
import { appendToOutbox, outboxCount, prepareOutbox } from './outbox';
import { aggregateSql, findDocs, findSql, readDoc, readOnlySql } from './queries';
import { createEngineSyncStore } from './sync-store';
import { prepareTables } from './tables';
import { createWriteContext, type WriteContext } from './write-context';

/** Options of `openEngine`. */
export interface EngineOptions<S extends Schema = Schema> {
  readonly driver: StorageDriver;
  /** The collections; the engine is typed by it (`defineSchema` keeps its literal types). */
  readonly schema: S;
  /** Wall clock for the HLC (tests inject one). */
  readonly now?: () => number;
  /** Clock skew bound for timestamps seen in downloads, ms (default 60 000): farther ahead, they do not move the clock. */
  readonly maxDriftMs?: number;
}

const SAVE_META =
  "INSERT OR REPLACE INTO loam_meta (key, value) VALUES ('clock', ?), ('seq', ?), ('version', ?)";
const REQUEST_TTL_MS = 7 * 24 * 3600 * 1000;

function randomYjsClientId(): number {
  return globalThis.crypto.getRandomValues(new Uint32Array(1))[0] as number;
}

/**
 * Opens (creating or migrating) the local database on `driver`, typed by `options.schema`: collections, fields,
 * values and query paths the schema lacks are compile errors (and, for data from outside, `validation_failed` or
 * `query_invalid` at run time).
 */
export async function openEngine<const S extends Schema>(options: EngineOptions<S>): Promise<Engine<S>> {
  const { driver, schema } = options;
  const meta = await driver.transaction(async (tx) => {
    const m = await prepareTables(tx, schema);
    await prepareOutbox(tx);
    if (!isReplicaId(m.get('replica'))) {
      const replica = createReplicaId();
      await tx.run("INSERT INTO loam_meta (key, value) VALUES ('replica', ?)", [replica]);
      m.set('replica', replica);
    }
    await tx.run('DELETE FROM loam_requests WHERE at < ?', [Date.now() - REQUEST_TTL_MS]);
    return m;
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
    collections.set(name, collectionSql(name, def));
  const commitListeners = new Set<(info: CommitInfo) => void>();
  let closed = false;

  const core: EngineCore = {
    driver,
    schema,
    replica,
    clock,
    writer,
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
      live.refresh(info.collections);
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
  });

  const transaction = async <T>(
    fn: (tx: EngineWrites) => Promise<T>,
    options?: TransactionOptions,
  ): Promise<T> => {
    if (closed) throw new QueryError('The database is closed');
    let committed: { ctx: WriteContext; ops: readonly unknown[] } | undefined;
    const result = await driver.transaction(async (sql) => {
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
        value = await fn(ctx.writes);
      } catch (error) {
        ctx.abandon();
        throw error;
      }
      const ops = await ctx.finish();
      if (options?.requestId !== undefined) {
        await sql.run('INSERT INTO loam_requests (id, result, at) VALUES (?, ?, ?)', [
          options.requestId,
          value === undefined ? null : encode(value),
          Date.now(),
        ]);
      }
      if (ops.length > 0) {
        await appendToOutbox(sql, ops);
        await core.saveMeta(sql);
      }
      committed = { ctx, ops };
      return value;
    });
    if (committed && committed.ops.length > 0) {
      const { ctx } = committed;
      core.notify({ collections: [...ctx.touched], local: true, ops: committed.ops as CommitInfo['ops'] });
    }
    return result;
  };

  const write = (intent: WriteIntent) => transaction((tx) => tx.write(intent));
  const writeAll = (intents: readonly WriteIntent[]) => transaction((tx) => tx.writeAll(intents));

  const engine: Engine = {
    replica,
    schema,
    storage: driver.info,
    syncStore: createEngineSyncStore(core),
    transaction,
    ...bindWrites(write),
    write,
    writeAll,
    insertMany: (collection, docs) => writeAll(docs.map((doc) => writeIntent.insert(collection, doc))),
    get: (collection, id) => readDoc(driver, core.collection(collection), id),
    find: (query) => findDocs(driver, core.collection, query),
    async aggregate(spec) {
      const { sql, params } = aggregateSql(core.collection(spec.collection), spec);
      return driver.all(sql, params);
    },
    sql: (text, params) => readOnlySql(driver, text, params),
    watch: (spec, listener) => live.watch(spec, listener),
    pendingCount: () => outboxCount(driver),
    async refusedWrites() {
      return driver.all<RefusedWrite & SqlRow>(
        'SELECT op, collection, doc, code, reason, at FROM loam_refused ORDER BY at DESC, op',
      );
    },
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
