/**
 * The in-memory side of one write transaction: turns write intents into ops with the engine's writer, keeps the
 * merge state of every document it touched, and writes changed rows through to SQLite before any read of the
 * transaction and before it commits (rows of one collection in one batch).
 *
 * Invariants:
 * 1. **One at a time.** Calls on the context run in the order they were made, even when the caller does not await
 *    them, so two writes of one document never read the same state.
 * 2. **Reads see earlier writes.** `get` and `find` first write every changed row through.
 * 3. **Nothing after the end.** Once the transaction finished (committed or rolled back), every call throws.
 */
import {
  applyOp,
  bindWrites,
  createDocState,
  type DocId,
  type DocState,
  intentTarget,
  type Op,
  QueryError,
  type WriteIntent,
  writeIntent,
} from '@loam/core';
import type { StorageTransaction } from '../storage/driver';
import { type CollectionSql, loadDocState, rowParams, saveYjs } from './doc-rows';
import type { EngineWrites } from './engine';
import type { EngineCore } from './engine-core';
import { findDocs, readDoc } from './queries';

interface Touched {
  readonly c: CollectionSql;
  readonly id: string;
  state: DocState;
  /** List and text fields edited. */
  readonly yjs: Set<string>;
  /** A create or delete happened: every list and text field is written (or dropped). */
  all: boolean;
}

/** One transaction's context. */
export interface WriteContext {
  readonly writes: EngineWrites;
  /** Collections with a changed document. */
  readonly touched: ReadonlySet<string>;
  /** Waits for calls in flight, writes changed rows through and ends the context; resolves with its ops. */
  finish(): Promise<Op[]>;
  /** Ends the context without writing anything more (the transaction rolls back). */
  abandon(): void;
}

/** Creates the context of a transaction running on `sql`, whose rows get version `version`. */
export function createWriteContext(core: EngineCore, sql: StorageTransaction, version: number): WriteContext {
  const states = new Map<string, DocState | undefined>();
  const dirty = new Map<string, Touched>();
  const ops: Op[] = [];
  const touched = new Set<string>();
  let ended = false;
  let chain: Promise<unknown> = Promise.resolve();
  const key = (c: CollectionSql, id: string) => `${c.name}\u0000${id}`;

  const serial = <T>(task: () => Promise<T>): Promise<T> => {
    if (ended) return Promise.reject(new QueryError('This transaction has already finished'));
    const run = chain.then(() => {
      if (ended) throw new QueryError('This transaction has already finished');
      return task();
    });
    chain = run.catch(() => undefined);
    return run;
  };

  const stateOf = async (c: CollectionSql, id: string): Promise<DocState | undefined> => {
    const k = key(c, id);
    if (states.has(k)) return states.get(k);
    const state = await loadDocState(sql, c, id);
    states.set(k, state);
    return state;
  };

  const flush = async () => {
    if (dirty.size === 0) return;
    const byCollection = new Map<CollectionSql, Touched[]>();
    for (const t of dirty.values()) {
      const list = byCollection.get(t.c);
      if (list) list.push(t);
      else byCollection.set(t.c, [t]);
    }
    dirty.clear();
    for (const [c, docs] of byCollection) {
      await sql.batch(
        c.upsert,
        docs.map((t) => rowParams(c, t.id, t.state, version)),
      );
      if (c.crdtFields.length > 0) for (const t of docs) await saveYjs(sql, c, t.id, t.state, t.yjs, t.all);
    }
  };

  const write = (intent: WriteIntent) =>
    serial(async () => {
      const c = core.collection(intent.collection);
      const target = intentTarget(intent);
      const state = target === undefined ? undefined : await stateOf(c, target);
      const { id, ops: produced } = core.writer.write(intent, state);
      if (produced.length === 0) return id;
      const st = state ?? createDocState();
      for (const op of produced) applyOp(c.def, st, op);
      const k = key(c, id);
      states.set(k, st);
      const entry = dirty.get(k) ?? { c, id, state: st, yjs: new Set<string>(), all: false };
      entry.state = st;
      for (const op of produced) {
        if (op.kind === 'yjs') entry.yjs.add(op.field);
        else if (op.kind === 'create' || op.kind === 'delete') entry.all = true;
      }
      dirty.set(k, entry);
      touched.add(c.name);
      ops.push(...produced);
      return id;
    });

  const writeAll = async (intents: readonly WriteIntent[]) => {
    const ids: DocId[] = [];
    for (const intent of intents) ids.push(await write(intent));
    return ids;
  };

  const writes: EngineWrites = {
    ...bindWrites(write),
    write,
    writeAll,
    insertMany: (collection, docs) => writeAll(docs.map((doc) => writeIntent.insert(collection, doc))),
    get: (collection, id) =>
      serial(async () => {
        await flush();
        return readDoc(sql, core.collection(collection), id);
      }),
    find: (query) =>
      serial(async () => {
        await flush();
        return findDocs(sql, core.collection, query);
      }),
  };

  return {
    writes,
    touched,
    async finish() {
      await serial(flush);
      ended = true;
      return ops;
    },
    abandon() {
      ended = true;
    },
  };
}
