/**
 * (Over 450 lines: one transaction's write path, whose parts (intents to ops, merge states, prefetch, write-through,
 * the serial queue) share the transaction's private state; kept in one closure so that none of it is passed around.)
 *
 * The in-memory side of one write transaction: turns write intents into ops with the engine's writer, keeps the
 * merge state of every document it touched, and writes changed rows through to SQLite before any read of the
 * transaction, before it commits, and once {@link FLUSH_FROM} documents changed (rows of one collection in multi-row
 * upserts). A document without list or text fields is dropped from memory once its row is written (the row holds
 * all of its state, and is read back if the transaction writes it again): a bulk write keeps a bounded number of
 * states, not one per document.
 *
 * Invariants:
 * 1. **One at a time.** Calls on the context run in the order they were made, even when the caller does not await
 *    them, so two writes of one document never read the same state.
 * 2. **Reads see earlier writes.** `get` and `find` first write every changed row through.
 * 3. **Nothing after the end.** Once the transaction finished (committed or rolled back), every call throws.
 * 4. **One op per field edit run.** A transaction's edits of one list or text field (one document, one
 *    incarnation) become one `yjs` op carrying their merged update, in the place and with the id of the first:
 *    ops of different fields or documents commute, so the order of the others does not matter.
 * 5. **O(edit) saves.** An edit of list or text fields alone appends its update to the Yjs log (`yjs-rows.ts`) and
 *    bumps the row's version; the row itself is rewritten only when a register, a counter or the incarnation
 *    changed.
 */
import {
  applyOp,
  bindWrites,
  createDocState,
  type DocId,
  EMPTY_UPDATE,
  intentTarget,
  LoamError,
  type Op,
  QueryError,
  type WriteIntent,
  writeIntent,
  type YjsOp,
} from '@loam/core';
import * as Y from 'yjs';
import { StorageError } from '../errors';
import type { SqlValue, StorageTransaction } from '../storage/driver';
import { docKey } from './doc-cache';
import {
  attachCrdts,
  type CollectionSql,
  keepDoc,
  loadStoredDocs,
  rowParams,
  takeDoc,
  upsertRows,
} from './doc-rows';
import type { Doc, EngineWrites } from './engine';
import type { EngineCore } from './engine-core';
import { type GoneDoc, noteGone } from './peer-log';
import { findDocs, readDoc } from './queries';
import { appendYjs, type StoredDoc, saveAllYjs } from './yjs-rows';

interface Touched {
  readonly id: string;
  doc: StoredDoc;
  /** Updates of list and text fields since the last write-through, by field (made at the first). */
  yjs?: Map<string, Uint8Array[]>;
  /** A register or counter changed: the row is rewritten. */
  row: boolean;
  /** A create or delete happened: the row and every list and text field are written whole. */
  all: boolean;
}

/**
 * Updates merged per `Y.mergeUpdates` call: it re-sorts its inputs at every struct, so merging thousands at once is
 * quadratic; a tree of small merges is not.
 */
const MERGE_FAN_IN = 16;

/** Writes of one call from which the states of their documents are loaded together first (`prefetch`)... */
const PREFETCH_FROM = 8;
/** ...by windows of this many writes. */
const PREFETCH_WINDOW = 2048;
/** Changed documents from which their rows are written through before the next write. */
const FLUSH_FROM = 2048;

/** Per collection, per document id. */
type ByDoc<T> = Map<CollectionSql, Map<string, T>>;

function docsOf<T>(all: ByDoc<T>, c: CollectionSql): Map<string, T> {
  let docs = all.get(c);
  if (!docs) {
    docs = new Map();
    all.set(c, docs);
  }
  return docs;
}

/** Merges a list of updates once (the op and the Yjs log of one field often merge the same list). */
const merged = new WeakMap<Uint8Array[], { count: number; bytes: Uint8Array }>();
function mergeOnce(updates: Uint8Array[]): Uint8Array {
  if (updates.length === 1) return updates[0] as Uint8Array;
  const known = merged.get(updates);
  if (known?.count === updates.length) return known.bytes;
  let level = updates;
  while (level.length > 1) {
    const next: Uint8Array[] = [];
    for (let i = 0; i < level.length; i += MERGE_FAN_IN)
      next.push(Y.mergeUpdates(level.slice(i, i + MERGE_FAN_IN)));
    level = next;
  }
  const bytes = level[0] as Uint8Array;
  merged.set(updates, { count: updates.length, bytes });
  return bytes;
}

/** One transaction's context. */
export interface WriteContext {
  readonly writes: EngineWrites;
  /** Collections with a changed document. */
  readonly touched: ReadonlySet<string>;
  /** Live documents the transaction deleted, as they were just before (the peer log keeps them). */
  readonly gone: readonly GoneDoc[];
  /**
   * Runs independent units of writes in order (each unit all or nothing), including units appended to `units` while
   * they run. A unit whose first write the writer refuses ({@link refusedAlone}) has changed nothing: the error is its
   * outcome and the others go on. A unit refused after its first write rejects with {@link UnitRefused} (its earlier
   * writes are in memory: the transaction must roll back and run again without it); any other error rejects too.
   */
  writeEach(units: readonly (readonly WriteIntent[])[]): Promise<WriteOutcome[]>;
  /** Waits for calls in flight, writes changed rows through and ends the context; resolves with its ops. */
  finish(): Promise<Op[]>;
  /** Ends the context without writing anything more (the transaction rolls back). */
  abandon(): void;
}

/** Intents that edit a list or text field in place. */
const CRDT_EDITS: ReadonlySet<string> = new Set(['textInsert', 'textDelete', 'listInsert', 'listDelete']);

/** What one unit of {@link WriteContext.writeEach} came to: its documents' ids, or why it was refused. */
export type WriteOutcome = { readonly ids: DocId[] } | { readonly error: unknown };

/** A unit of {@link WriteContext.writeEach} refused after it changed the transaction's state. */
export class UnitRefused extends Error {
  constructor(
    readonly index: number,
    readonly reason: unknown,
  ) {
    super('A unit of writes was refused part-way');
  }
}

/** An error of one write alone (the writer refused it before it changed anything), not of its transaction. */
export function refusedAlone(error: unknown): boolean {
  return error instanceof LoamError && !(error instanceof StorageError);
}

/** Creates the context of a transaction running on `sql`, whose rows get version `version`. */
export function createWriteContext(core: EngineCore, sql: StorageTransaction, version: number): WriteContext {
  const states: ByDoc<StoredDoc | undefined> = new Map();
  const dirty: ByDoc<Touched> = new Map();
  let dirtyCount = 0;
  const ops: Op[] = [];
  /** The op each list or text field's edit run goes into, with its updates (invariant 4). */
  const runs = new Map<string, { index: number; updates: Uint8Array[] }>();
  /** Indexes of run ops that ended with no update (edits that changed nothing): left out of the transaction. */
  const dropped = new Set<number>();
  const touched = new Set<string>();
  const gone: GoneDoc[] = [];
  let ended = false;
  let chain: Promise<unknown> = Promise.resolve();

  const serial = <T>(task: () => Promise<T>): Promise<T> => {
    if (ended) return Promise.reject(new QueryError('This transaction has already finished'));
    const run = chain.then(() => {
      if (ended) throw new QueryError('This transaction has already finished');
      return task();
    });
    chain = run.catch(() => undefined);
    return run;
  };

  const stateOf = async (c: CollectionSql, id: string): Promise<StoredDoc | undefined> => {
    const known = docsOf(states, c);
    if (known.has(id)) return known.get(id);
    const doc = await takeDoc(core.docs, sql, c, id);
    known.set(id, doc);
    return doc;
  };

  /**
   * Loads the states of the documents `intents` name that this transaction has not seen yet, a few queries per
   * collection instead of one per document (a bulk insert of given ids, a bulk update): `takeDoc` for each, together.
   */
  const prefetch = async (intents: readonly WriteIntent[]) => {
    const wanted = new Map<CollectionSql, Set<string>>();
    for (const intent of intents) {
      const target = intentTarget(intent);
      if (target === undefined || !Object.hasOwn(core.schema.collections, intent.collection)) continue;
      const c = core.collection(intent.collection);
      if (states.get(c)?.has(target)) continue;
      let ids = wanted.get(c);
      if (!ids) {
        ids = new Set();
        wanted.set(c, ids);
      }
      ids.add(target);
    }
    for (const [c, ids] of wanted) {
      const known = docsOf(states, c);
      const load: string[] = [];
      for (const id of ids) {
        const cached = c.crdtFields.length > 0 ? core.docs.take(docKey(c.name, id)) : undefined;
        if (cached) known.set(id, cached);
        else load.push(id);
      }
      if (load.length > 0) for (const [id, doc] of await loadStoredDocs(sql, c, load)) known.set(id, doc);
    }
  };

  const flush = async () => {
    if (dirty.size === 0) return;
    const pending = [...dirty];
    dirty.clear();
    dirtyCount = 0;
    for (const [c, docs] of pending) {
      const rows: SqlValue[] = [];
      const bumped: SqlValue[][] = [];
      for (const t of docs.values()) {
        if (t.row) for (const value of rowParams(c, t.id, t.doc.state, version, false)) rows.push(value);
        else if (!t.all) bumped.push([version, t.id]);
      }
      if (rows.length > 0) await upsertRows(sql, c, rows);
      if (bumped.length > 0) await sql.batch(c.bumpVersion, bumped);
      if (c.crdtFields.length === 0) {
        const known = states.get(c);
        if (known) for (const id of docs.keys()) known.delete(id);
        continue;
      }
      for (const t of docs.values()) {
        if (t.all) await saveAllYjs(sql, c.name, t.id, c.crdtFields, t.doc);
        else if (t.yjs)
          for (const [field, updates] of t.yjs)
            await appendYjs(sql, c.name, t.id, field, t.doc, mergeOnce(updates));
      }
    }
  };

  /** The run (one op) a `yjs` op of this transaction goes into; the first op of a run is the run's op. */
  const runOf = (c: CollectionSql, id: string, op: YjsOp) => {
    const runKey = `${c.name}\u0000${id}\u0000${op.field}\u0000${op.epoch}`;
    let run = runs.get(runKey);
    if (!run) {
      run = { index: ops.length, updates: [] };
      runs.set(runKey, run);
      ops.push(op);
    }
    return run;
  };

  /** Adds an update to its run and to the updates its field writes through next (often the same list). */
  const pushUpdate = (entry: Touched, field: string, run: { updates: Uint8Array[] }, update: Uint8Array) => {
    run.updates.push(update);
    entry.yjs ??= new Map();
    const pending = entry.yjs.get(field);
    if (!pending) entry.yjs.set(field, run.updates.length === 1 ? run.updates : [update]);
    else if (pending !== run.updates) pending.push(update);
  };

  const record = (c: CollectionSql, id: string, entry: Touched, op: Op) => {
    if (op.kind !== 'yjs') {
      if (op.kind === 'create' || op.kind === 'delete') entry.all = true;
      entry.row = true;
      ops.push(op);
      return;
    }
    const run = runOf(c, id, op);
    if (op.update !== EMPTY_UPDATE) pushUpdate(entry, op.field, run, op.update);
  };

  const apply = (c: CollectionSql, intent: WriteIntent, stored: StoredDoc | undefined): DocId => {
    const { id, ops: produced } = core.writer.write(intent, stored?.state);
    if (produced.length === 0) return id;
    const doc = stored ?? { state: createDocState(), logs: new Map() };
    for (const op of produced) {
      noteGone(gone, c, op, doc.state);
      applyOp(c.def, doc.state, op);
    }
    docsOf(states, c).set(id, doc);
    const changed = docsOf(dirty, c);
    let entry = changed.get(id);
    if (entry) entry.doc = doc;
    else {
      entry = { id, doc, row: false, all: false };
      changed.set(id, entry);
      dirtyCount++;
    }
    for (const op of produced) record(c, id, entry, op);
    touched.add(c.name);
    return id;
  };

  /** Runs one write; synchronously when its document is already in memory (the common case in a burst). */
  const writeNow = (intent: WriteIntent): DocId | Promise<DocId> => {
    const c = core.collection(intent.collection);
    const target = intentTarget(intent);
    if (target === undefined) return apply(c, intent, undefined);
    const known = states.get(c);
    if (known?.has(target)) return apply(c, intent, known.get(target));
    return stateOf(c, target).then((stored) => apply(c, intent, stored));
  };

  /**
   * Runs writes in order (prefetching their documents when they are many), adding their documents' ids to `ids`;
   * rejects at the first that fails.
   */
  const writeList = async (intents: readonly WriteIntent[], ids: DocId[] = []) => {
    for (let i = 0; i < intents.length; i++) {
      if (i % PREFETCH_WINDOW === 0 && intents.length >= PREFETCH_FROM)
        await prefetch(intents.slice(i, i + PREFETCH_WINDOW));
      const id = writeNow(intents[i] as WriteIntent);
      ids.push(typeof id === 'string' ? id : await id);
      if (dirtyCount >= FLUSH_FROM) await flush();
    }
    return ids;
  };

  const write = (intent: WriteIntent) => serial(async () => writeNow(intent));

  /**
   * The list or text document a unit edits in place, when it is one such edit of a document already in memory: such
   * edits in a row share one Yjs transaction (`editRun`).
   */
  const inPlaceEdit = (unit: readonly WriteIntent[]) => {
    const intent = unit.length === 1 ? unit[0] : undefined;
    if (!intent || !CRDT_EDITS.has(intent.kind)) return undefined;
    const { collection, id, field } = intent as WriteIntent & { id: string; field: string };
    if (!Object.hasOwn(core.schema.collections, collection)) return undefined;
    const c = core.collection(collection);
    const stored = states.get(c)?.get(id);
    const doc = stored?.state.crdts[field];
    return doc && stored ? { c, id, field, doc, stored } : undefined;
  };

  /**
   * Runs the units from `from` while they edit `edit.doc` in place, inside one Yjs transaction: Yjs encodes one update
   * for all of them when it ends (instead of one per edit, merged afterwards), which goes into their op. Returns the
   * index of the first unit not run.
   */
  const editRun = (
    edit: NonNullable<ReturnType<typeof inPlaceEdit>>,
    units: readonly (readonly WriteIntent[])[],
    from: number,
    outcomes: WriteOutcome[],
  ): number => {
    const { c, id, field, doc, stored } = edit;
    let update: Uint8Array | undefined;
    const onUpdate = (u: Uint8Array) => {
      update = u;
    };
    let i = from;
    doc.on('update', onUpdate);
    try {
      doc.transact(() => {
        for (; i < units.length && inPlaceEdit(units[i] as readonly WriteIntent[])?.doc === doc; i++) {
          try {
            outcomes.push({
              ids: [apply(c, (units[i] as readonly WriteIntent[])[0] as WriteIntent, stored)],
            });
          } catch (error) {
            if (!refusedAlone(error)) throw error;
            outcomes.push({ error });
          }
        }
      });
    } finally {
      doc.off('update', onUpdate);
    }
    const entry = dirty.get(c)?.get(id);
    const run = runs.get(`${c.name}\u0000${id}\u0000${field}\u0000${stored.state.epoch}`);
    if (update && entry && run) pushUpdate(entry, field, run, update);
    return i;
  };

  const attach = (c: CollectionSql, docs: Doc[]) =>
    attachCrdts(core.docs, sql, c, docs, (id) => states.get(c)?.get(id)?.state);

  const writeAll = (intents: readonly WriteIntent[]) => serial(() => writeList(intents));

  const writes: EngineWrites = {
    ...bindWrites(write),
    write,
    writeAll,
    insertMany: (collection, given) => {
      const docs = given.slice();
      return serial(async () => {
        // Intents a window at a time: a bulk insert does not keep one per document until it commits.
        const ids: DocId[] = [];
        for (let i = 0; i < docs.length; i += PREFETCH_WINDOW)
          await writeList(
            docs.slice(i, i + PREFETCH_WINDOW).map((doc) => writeIntent.insert(collection, doc)),
            ids,
          );
        return ids;
      });
    },
    get: (collection, id) =>
      serial(async () => {
        await flush();
        return readDoc(sql, core.collection(collection), id, attach);
      }),
    find: (query) =>
      serial(async () => {
        await flush();
        return findDocs(sql, core.collection, query, attach);
      }),
  };

  return {
    writes,
    touched,
    gone,
    writeEach: (units) =>
      serial(async () => {
        const outcomes: WriteOutcome[] = [];
        for (let i = 0; i < units.length; i++) {
          const unit = units[i] as readonly WriteIntent[];
          const edit = inPlaceEdit(unit);
          if (edit) {
            i = editRun(edit, units, i, outcomes) - 1;
            continue;
          }
          const ids: DocId[] = [];
          try {
            outcomes.push({ ids: await writeList(unit, ids) });
          } catch (error) {
            if (!refusedAlone(error)) throw error;
            if (ids.length > 0) throw new UnitRefused(i, error);
            outcomes.push({ error });
          }
        }
        return outcomes;
      }),
    async finish() {
      await serial(async () => {
        for (const run of runs.values()) {
          const first = ops[run.index] as YjsOp;
          if (run.updates.length === 0) dropped.add(run.index);
          else {
            const update = mergeOnce(run.updates);
            if (update !== first.update) ops[run.index] = { ...first, update };
          }
        }
        await flush();
        for (const [c, docs] of states) {
          if (c.crdtFields.length === 0) continue;
          for (const [id, doc] of docs) if (doc) keepDoc(core.docs, c, id, doc);
        }
      });
      ended = true;
      return dropped.size === 0 ? ops : ops.filter((_, i) => !dropped.has(i));
    },
    abandon() {
      ended = true;
    },
  };
}
