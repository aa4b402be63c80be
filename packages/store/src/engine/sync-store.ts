/**
 * The engine's side of `@loam/sync`'s port ({@link SyncStore}): the outbox, downloads, refusals, the cursor and
 * sync's settings, each call one storage transaction (see the port's invariants).
 *
 * `loam_sync` holds sync's state: the cursor under the reserved key `cursor`, and whatever sync saves with
 * `writeState` (subscriptions...) under its own keys, MessagePack-encoded.
 */
import {
  applyOp,
  ClockSkewError,
  createDocState,
  createOpId,
  type DocState,
  type LatestTimestampTracker,
  latestTimestamp,
  mergeDocState,
  type Op,
  type PlainV2Scan,
  parseOpId,
  scanPlainV2,
  type Timestamp,
  trackLatestTimestamp,
} from '@loam/core';
import type { Coverage, Download, DownloadedDoc, RefusedWrite, SyncStore } from '@loam/sync';
import { decode, encode } from '@msgpack/msgpack';
import type { SqlExecutor, SqlValue, StorageTransaction } from '../storage/driver';
import { docKey } from './doc-cache';
import {
  type CollectionSql,
  keepDoc,
  removeDoc,
  rowParams,
  saveDoc,
  snapshotRowParams,
  takeDoc,
  upsertRows,
} from './doc-rows';
import { docStateOf, heldStates, type Joining, joinRows, readState } from './download-join';
import type { EngineCore } from './engine-core';
import {
  dropFromOutbox,
  outboxCount,
  outboxOps,
  pendingDocsOf,
  pendingOpsOf,
  replaceInOutbox,
} from './outbox';
import { createPeerLogPort, insertRefusals, pruneOwnLog } from './peer-log';
import { selectSql } from './queries';
import { appendYjs, type StoredDoc } from './yjs-rows';

const CURSOR_KEY = 'cursor';
const PUT_SYNC = 'INSERT OR REPLACE INTO loam_sync (key, value) VALUES (?, ?)';

function checkKey(key: string): void {
  if (key === CURSOR_KEY) throw new RangeError(`"${CURSOR_KEY}" is reserved: use cursor()/setCursor()`);
}

async function readSync(sql: SqlExecutor, key: string): Promise<unknown> {
  const row = await sql.get<{ value: Uint8Array }>('SELECT value FROM loam_sync WHERE key = ?', [key]);
  return row ? decode(row.value) : undefined;
}

/** The ids of the live documents of a coverage. */
async function coveredIds(sql: SqlExecutor, c: CollectionSql, coverage: Coverage): Promise<string[]> {
  const { sql: text, params } = selectSql(c, 'id', coverage.filter);
  return (await sql.all<{ id: string }>(text, params)).map((r) => r.id);
}

/** Creates the sync store of an open engine (`devicePublicKey`: its device key's, when it signs). */
export function createEngineSyncStore(core: EngineCore, devicePublicKey?: Uint8Array): SyncStore {
  const { driver, writer } = core;
  /**
   * Whether rows are written one statement each: native SQLite runs a prepared statement per row faster than
   * multi-row statements (100k rows of a download: 0.22 s against 0.29 s); in wasm each statement costs a round of
   * async calls, which multi-row statements share.
   */
  const rowByRow = driver.info.backend === 'better-sqlite3';

  /** Runs `fn` in a transaction; announces the collections it reports as changed once it committed. */
  const change = async <T>(
    fn: (sql: StorageTransaction, touched: Set<string>) => Promise<T>,
    announce = false,
  ): Promise<T> => {
    const touched = new Set<string>();
    let result: T;
    try {
      result = await driver.transaction((sql) => fn(sql, touched));
    } catch (error) {
      // Documents are put back in the cache as they are saved: after a rollback some may hold its changes.
      core.docs.clear();
      throw error;
    }
    if (touched.size > 0 || announce) core.notify({ collections: [...touched], local: false, ops: [] });
    return result;
  };

  /** Replaces a document's state by `base` with this replica's pending ops of it replayed on top. */
  const replaceWith = async (
    sql: SqlExecutor,
    c: CollectionSql,
    id: string,
    base: DocState,
    version: number,
  ) => {
    const pending = await pendingOpsOf(sql, c.name, id);
    for (const op of pending) applyOp(c.def, base, op);
    core.docs.delete(docKey(c.name, id));
    if (pending.length === 0 && !base.created && !base.deleted && base.epoch === 0)
      return removeDoc(sql, c, id);
    await saveDoc(sql, c, id, { state: base, logs: new Map() }, version);
    return true;
  };

  /**
   * Joins a downloaded state into a document's. Lists and texts in the same incarnation append only what was new to
   * this replica (O(change), see `yjs-rows.ts`); the row is rewritten. False when nothing changed.
   */
  const mergeInto = async (
    sql: SqlExecutor,
    c: CollectionSql,
    id: string,
    incoming: DocState,
    version: number,
  ) => {
    const stored: StoredDoc = (await takeDoc(core.docs, sql, c, id)) ?? {
      state: createDocState(),
      logs: new Map(),
    };
    const { state } = stored;
    const { epoch, deleted } = state;
    const news = new Map<string, Uint8Array>();
    if (!mergeDocState(state, incoming, (field, update) => news.set(field, update))) {
      keepDoc(core.docs, c, id, stored);
      return false;
    }
    if (state.epoch !== epoch || state.deleted !== deleted) await saveDoc(sql, c, id, stored, version);
    else {
      await sql.run(c.upsert, rowParams(c, id, state, version, false));
      for (const [field, update] of news)
        if (state.crdts[field]) await appendYjs(sql, c.name, id, field, stored, update);
    }
    keepDoc(core.docs, c, id, stored);
    return true;
  };

  /** Writes rows of `c` (`rowParams` of each), a statement each or multi-row (see `rowByRow`). */
  const writeRows = (sql: SqlExecutor, c: CollectionSql, rows: SqlValue[][]) =>
    rowByRow ? sql.batch(c.upsert, rows) : upsertRows(sql, c, rows.flat());

  /**
   * Joins downloaded states into documents without list or text fields, many at a time: their current states read
   * together (`heldStates`), their rows written together. Returns how many documents changed. A format-2 snapshot of a
   * document this device holds no row of (so no state and no pending op: a pending op's document has a row) is
   * written from its bytes (`snapshotRowParams`: the row `mergeDocState` into an empty state would give), unless the
   * download carries that document twice. When no id comes twice, the rows of documents held nowhere (from format
   * 2 or joined into nothing) are written as they are made, a few hundred at a time, so that they die young.
   */
  const mergeRows = async (
    sql: SqlExecutor,
    c: CollectionSql,
    docs: readonly DownloadedDoc[],
    version: number,
    seen: LatestTimestampTracker,
  ) => {
    const held = await heldStates(sql, c, docs);
    const join: Joining = { ...held, changed: new Set(), fresh: new Map(), seen, version };
    let written = 0;
    for (let at = 0; at < docs.length; ) {
      const rows: SqlValue[][] = [];
      at = joinRows(c, docs, at, join, rows);
      written += rows.length;
      if (rows.length > 0) await writeRows(sql, c, rows);
    }
    const { fresh, changed, states } = join;
    const rows: SqlValue[][] = [];
    for (const [id, bytes] of fresh)
      rows.push(snapshotRowParams(c, id, scanPlainV2(bytes) as PlainV2Scan, version));
    for (const id of changed) rows.push(rowParams(c, id, states.get(id) as DocState, version, false));
    written += rows.length;
    if (rows.length > 0) await writeRows(sql, c, rows);
    return written;
  };

  /**
   * Moves the clock past the timestamps of a download (`latest`: the greatest of them), so a write made after seeing
   * a value orders after it even when the writer's clock is behind; a timestamp beyond the skew bound does not move
   * it.
   */
  const observe = (latest: Timestamp | undefined, download: Download) => {
    const receive = (t: Timestamp) => {
      try {
        core.clock.receive(t);
        return true;
      } catch (error) {
        if (!(error instanceof ClockSkewError)) throw error;
        return false;
      }
    };
    // The greatest timestamp moves the clock as far as every one would, unless it is beyond the bound: then each.
    if (latest === undefined || receive(latest)) return;
    for (const { state } of download.docs) {
      const t = latestTimestamp(readState(state));
      if (t !== undefined) receive(t);
    }
  };

  /** Applies a download inside a storage transaction (see `applyDownload`); returns how many documents changed. */
  const download = async (sql: StorageTransaction, touched: Set<string>, changes: Download) => {
    const version = core.takeVersion();
    const seen = trackLatestTimestamp();
    let changed = 0;
    let dropped = false;
    /** Merges into documents without list or text fields, applied together (see `mergeRows`). */
    let rows: { c: CollectionSql; docs: DownloadedDoc[] } | undefined;
    const flushRows = async () => {
      if (!rows) return;
      const n = await mergeRows(sql, rows.c, rows.docs, version, seen);
      if (n > 0) touched.add(rows.c.name);
      changed += n;
      rows = undefined;
    };
    for (const doc of changes.docs) {
      const { collection, id, mode } = doc;
      const c = core.collection(collection);
      if (mode === 'merge' && c.crdtFields.length === 0) {
        if (rows?.c !== c) await flushRows();
        rows ??= { c, docs: [] };
        rows.docs.push(doc);
        continue;
      }
      await flushRows();
      const read = readState(doc.state);
      seen.see(read);
      const incoming = docStateOf(read);
      if (mode === 'replace') {
        await replaceWith(sql, c, id, incoming, version);
        dropped = true;
      } else if (!(await mergeInto(sql, c, id, incoming, version))) continue;
      touched.add(collection);
      changed++;
    }
    await flushRows();
    for (const { collection, id } of changes.removed) {
      const c = core.collection(collection);
      core.docs.delete(docKey(collection, id));
      if (await removeDoc(sql, c, id)) {
        touched.add(collection);
        changed++;
        dropped = true;
      }
    }
    if (dropped) core.renewYjsClient();
    if (changes.cursor !== undefined) await sql.run(PUT_SYNC, [CURSOR_KEY, encode(changes.cursor)]);
    observe(seen.latest(), changes);
    if (touched.size > 0) await core.saveMeta(sql);
    return changed;
  };

  /** Drops own peer-log entries whose ops all left the outbox. */
  const pruneOwn = async (sql: SqlExecutor) => {
    const [first] = await outboxOps(sql, 1);
    await pruneOwnLog(sql, core.replica, first ? parseOpId(first.id).seq : undefined);
  };

  return {
    ...createPeerLogPort(core),
    replica: core.replica,
    schema: core.schema,
    ...(devicePublicKey ? { devicePublicKey } : {}),

    async pendingOps(limit) {
      return (await outboxOps(driver, limit)).slice(0, limit);
    },
    pendingCount: () => outboxCount(driver),
    onPending(listener) {
      return core.onCommit((info) => {
        if (info.local && info.ops.length > 0) listener();
      });
    },
    async acknowledge(opIds) {
      if (opIds.length)
        await driver.transaction(async (sql) => {
          await dropFromOutbox(sql, opIds);
          await pruneOwn(sql);
        });
    },
    async recordRefusals(refusals: readonly RefusedWrite[], correction?: Download) {
      if (refusals.length === 0 && !correction) return;
      await change(async (sql, touched) => {
        await dropFromOutbox(
          sql,
          refusals.map((r) => r.op),
        );
        await insertRefusals(sql, refusals);
        await pruneOwn(sql);
        if (correction) await download(sql, touched, correction);
      }, true);
    },
    nextSeq: async () => writer.nextSeq(),
    async skipSequence(next) {
      await driver.transaction(async (sql) => {
        if (next <= writer.nextSeq()) return;
        writer.skipTo(next);
        await core.saveMeta(sql);
      });
    },
    async renumber(opIds) {
      const wanted = new Set(opIds);
      return change(async (sql, touched) => {
        const renamed = new Map<string, Op>();
        for (const op of await outboxOps(sql)) {
          if (!wanted.has(op.id)) continue;
          renamed.set(op.id, { ...op, id: createOpId(core.replica, writer.takeSeq()) });
        }
        if (renamed.size === 0) return new Map<string, string>();
        const version = core.takeVersion();
        for (const [oldId, op] of renamed) {
          if (op.kind !== 'increment') continue;
          const c = core.collection(op.collection);
          const stored = await takeDoc(core.docs, sql, c, op.doc);
          if (!stored) continue;
          const inc = stored.state.counters[op.field]?.incs[oldId];
          if (inc && inc[0] === (op.ts as Timestamp) && inc[1] === op.by) {
            const counter = stored.state.counters[op.field] as DocState['counters'][string];
            delete counter.incs[oldId];
            counter.incs[op.id] = inc;
            await sql.run(c.upsert, rowParams(c, op.doc, stored.state, version, false));
            touched.add(c.name);
          }
          keepDoc(core.docs, c, op.doc, stored);
        }
        await replaceInOutbox(sql, renamed);
        await core.saveMeta(sql);
        return new Map([...renamed].map(([oldId, op]) => [oldId, op.id as string]));
      });
    },

    applyDownload(changes: Download) {
      return change((sql, touched) => download(sql, touched, changes));
    },

    removeDocs(coverage) {
      return change(async (sql, touched) => {
        const c = core.collection(coverage.collection);
        const pending = await pendingDocsOf(sql, c.name);
        const kept: string[] = [];
        for (const id of await coveredIds(sql, c, coverage)) {
          if (pending.has(id)) kept.push(id);
          else {
            core.docs.delete(docKey(c.name, id));
            if (await removeDoc(sql, c, id)) touched.add(c.name);
          }
        }
        if (touched.size > 0) core.renewYjsClient();
        return kept;
      });
    },

    finishReset(covered, received, cursor) {
      return change(async (sql, touched) => {
        const version = core.takeVersion();
        let changed = 0;
        const done = new Set<string>();
        for (const coverage of covered) {
          const c = core.collection(coverage.collection);
          for (const id of await coveredIds(sql, c, coverage)) {
            const key = `${c.name}\u0000${id}`;
            if (received.has(key) || done.has(key)) continue;
            done.add(key);
            await replaceWith(sql, c, id, createDocState(), version);
            touched.add(c.name);
            changed++;
          }
        }
        await sql.run(PUT_SYNC, [CURSOR_KEY, encode(cursor)]);
        if (changed > 0) {
          core.renewYjsClient();
          await core.saveMeta(sql);
        }
        return changed;
      });
    },

    finishSet(coverage, received, keep) {
      return change(async (sql, touched) => {
        const c = core.collection(coverage.collection);
        const kept = new Set<string>();
        for (const other of keep)
          if (other.collection === c.name) for (const id of await coveredIds(sql, c, other)) kept.add(id);
        const gone = (await coveredIds(sql, c, coverage)).filter(
          (id) => !kept.has(id) && !received.has(`${c.name}\u0000${id}`),
        );
        if (gone.length === 0) return 0;
        const version = core.takeVersion();
        for (const id of gone) await replaceWith(sql, c, id, createDocState(), version);
        core.renewYjsClient();
        touched.add(c.name);
        await core.saveMeta(sql);
        return gone.length;
      });
    },

    async cursor() {
      const value = await readSync(driver, CURSOR_KEY);
      return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : 0;
    },
    async setCursor(cursor) {
      await driver.run(PUT_SYNC, [CURSOR_KEY, encode(cursor)]);
    },
    async readState(key) {
      checkKey(key);
      return readSync(driver, key);
    },
    async writeState(key, value) {
      checkKey(key);
      await driver.run(PUT_SYNC, [key, encode(value)]);
    },
  };
}
