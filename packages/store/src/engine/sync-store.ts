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
  latestTimestamp,
  mergeDocState,
  type Op,
  type Timestamp,
} from '@loam/core';
import type { Coverage, Download, RefusedWrite, SyncStore } from '@loam/sync';
import { decode, encode } from '@msgpack/msgpack';
import type { SqlExecutor, StorageTransaction } from '../storage/driver';
import { type CollectionSql, loadDocState, removeDoc, saveDoc } from './doc-rows';
import type { EngineCore } from './engine-core';
import {
  dropFromOutbox,
  outboxCount,
  outboxOps,
  pendingDocsOf,
  pendingOpsOf,
  replaceInOutbox,
} from './outbox';
import { selectSql } from './queries';

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

/** Creates the sync store of an open engine. */
export function createEngineSyncStore(core: EngineCore): SyncStore {
  const { driver, writer } = core;

  /** Runs `fn` in a transaction; announces the collections it reports as changed once it committed. */
  const change = async <T>(
    fn: (sql: StorageTransaction, touched: Set<string>) => Promise<T>,
    announce = false,
  ): Promise<T> => {
    const touched = new Set<string>();
    const result = await driver.transaction((sql) => fn(sql, touched));
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
    if (pending.length === 0 && !base.created && !base.deleted && base.epoch === 0)
      return removeDoc(sql, c, id);
    await saveDoc(sql, c, id, base, version);
    return true;
  };

  /**
   * Moves the clock past the timestamps of a download, so a write made after seeing a value orders after it even
   * when the writer's clock is behind; a timestamp beyond the skew bound does not move it.
   */
  const observe = (download: Download) => {
    for (const { state } of download.docs) {
      const latest = latestTimestamp(state);
      if (latest === undefined) continue;
      try {
        core.clock.receive(latest);
      } catch (error) {
        if (!(error instanceof ClockSkewError)) throw error;
      }
    }
  };

  return {
    replica: core.replica,
    schema: core.schema,

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
      if (opIds.length) await driver.transaction((sql) => dropFromOutbox(sql, opIds));
    },
    async recordRefusals(refusals: readonly RefusedWrite[]) {
      if (refusals.length === 0) return;
      await change(async (sql) => {
        await dropFromOutbox(
          sql,
          refusals.map((r) => r.op),
        );
        for (const r of refusals) {
          await sql.run(
            'INSERT OR REPLACE INTO loam_refused (op, collection, doc, code, reason, at) VALUES (?, ?, ?, ?, ?, ?)',
            [r.op, r.collection, r.doc, r.code, r.reason, r.at],
          );
        }
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
          const state = await loadDocState(sql, c, op.doc);
          const inc = state?.counters[op.field]?.incs[oldId];
          if (!state || !inc || inc[0] !== (op.ts as Timestamp) || inc[1] !== op.by) continue;
          const counter = state.counters[op.field] as DocState['counters'][string];
          delete counter.incs[oldId];
          counter.incs[op.id] = inc;
          await saveDoc(sql, c, op.doc, state, version);
          touched.add(c.name);
        }
        await replaceInOutbox(sql, renamed);
        await core.saveMeta(sql);
        return new Map([...renamed].map(([oldId, op]) => [oldId, op.id as string]));
      });
    },

    applyDownload(download: Download) {
      observe(download);
      return change(async (sql, touched) => {
        const version = core.takeVersion();
        let changed = 0;
        let dropped = false;
        for (const { collection, id, state: incoming, mode } of download.docs) {
          const c = core.collection(collection);
          if (mode === 'replace') {
            await replaceWith(sql, c, id, incoming, version);
            dropped = true;
          } else {
            const state = (await loadDocState(sql, c, id)) ?? createDocState();
            if (!mergeDocState(state, incoming)) continue;
            await saveDoc(sql, c, id, state, version);
          }
          touched.add(collection);
          changed++;
        }
        for (const { collection, id } of download.removed) {
          const c = core.collection(collection);
          if (await removeDoc(sql, c, id)) {
            touched.add(collection);
            changed++;
            dropped = true;
          }
        }
        if (dropped) core.renewYjsClient();
        if (download.cursor !== undefined) await sql.run(PUT_SYNC, [CURSOR_KEY, encode(download.cursor)]);
        if (touched.size > 0) await core.saveMeta(sql);
        return changed;
      });
    },

    removeDocs(coverage) {
      return change(async (sql, touched) => {
        const c = core.collection(coverage.collection);
        const pending = await pendingDocsOf(sql, c.name);
        const kept: string[] = [];
        for (const id of await coveredIds(sql, c, coverage)) {
          if (pending.has(id)) kept.push(id);
          else if (await removeDoc(sql, c, id)) touched.add(c.name);
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
