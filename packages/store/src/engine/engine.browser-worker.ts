/**
 * Worker entry for `engine.bench.ts`: the engine on wa-sqlite (the VFS the driver picks: OPFS
 * AccessHandlePoolVFS in Chromium) against raw wa-sqlite prepared statements on the same VFS, pragmas and WAL write
 * gathering, in one dedicated worker. Not part of the package's API.
 */
import * as Comlink from 'comlink';
import * as SQLite from 'wa-sqlite';
import { createWaSqliteStorage, defaultPragmas } from '../storage/storage-wa-sqlite';
import { bufferWalWrites, type SyncFileVfs } from '../storage/wal-write-buffer';
import {
  product,
  RAW_INSERT,
  RAW_PRODUCTS_DDL,
  rawRow,
  bulkSchema as schema,
  timedDriver,
  type WriteSplit,
} from './bulk-data';
import { downloadedDocs, relayPages, syncRow, syncSchema } from './initial-sync-data';
import { openEngine } from './open-engine';

/** A timing taken inside the worker. */
export interface Timing {
  readonly ms: number;
  readonly operations: number;
  readonly backend: string;
  /** Initial sync: the longest a group of frames took (how long the progress shown can stand still). */
  readonly longestPageMs?: number;
  /** Bulk insert: time in statements inside the transaction and in its COMMIT (the rest of `ms` is JS). */
  readonly split?: WriteSplit;
}

/** Documents per page of an initial sync: the relay's `docs` frame size. */
const SYNC_PAGE = 256;
/** Frames the sync client applies together when they queue up (its `MAX_GROUP_DOCS` is 8,192). */
const SYNC_GROUP = 32;

/**
 * Raw wa-sqlite on the VFS and pragmas the driver uses, with the driver's WAL write gathering
 * (`wal-write-buffer.ts`), so that the baselines get every storage-level gain Loam gets. `run` steps a statement
 * and writes what the VFS gathered, as the driver does at the end of each call.
 */
async function openRaw(name: string, tablesSql: string) {
  const { default: factory } = await import('wa-sqlite/dist/wa-sqlite.mjs');
  const { AccessHandlePoolVFS } = await import('wa-sqlite/src/examples/AccessHandlePoolVFS.js');
  const sqlite3 = SQLite.Factory(await factory());
  const vfs = new AccessHandlePoolVFS(`/loam-raw/${name}`);
  await vfs.isReady;
  const gathered = bufferWalWrites(vfs as unknown as SyncFileVfs);
  sqlite3.vfs_register(vfs as unknown as SQLiteVFS, false);
  const db = await sqlite3.open_v2(
    'raw.sqlite3',
    SQLite.SQLITE_OPEN_CREATE | SQLite.SQLITE_OPEN_READWRITE,
    vfs.name,
  );
  const exec = async (sql: string) => {
    await sqlite3.exec(db, sql);
    gathered.flush();
  };
  for (const pragma of defaultPragmas.AccessHandlePoolVFS) await exec(pragma);
  await exec(tablesSql);
  return { sqlite3, db, exec, flush: () => gathered.flush() };
}

async function rawDatabase(name: string) {
  const { sqlite3, db, exec, flush } = await openRaw(name, RAW_PRODUCTS_DDL);
  const str = sqlite3.str_new(db, RAW_INSERT);
  const prepared = await sqlite3.prepare_v2(db, sqlite3.str_value(str));
  if (!prepared) throw new Error('prepare failed');
  const insert = async (i: number) => {
    sqlite3.bind_collection(prepared.stmt, rawRow(i));
    await sqlite3.step(prepared.stmt);
    await sqlite3.reset(prepared.stmt);
    flush();
  };
  return {
    exec,
    insert,
    close: async () => {
      await sqlite3.finalize(prepared.stmt);
      sqlite3.str_finish(str);
      await sqlite3.close(db);
    },
  };
}

const api = {
  ping: () => 'pong',

  /**
   * A fresh device taking `count` documents from the relay as the sync client does when frames arrive faster than
   * it applies them: frames of 256 snapshots grouped by 32 (8,192 documents) into one `applyDownload`.
   */
  async loamInitialSync(name: string, count: number): Promise<Timing> {
    const pages = relayPages(count, SYNC_PAGE);
    const engine = await openEngine({ driver: await createWaSqliteStorage({ name }), schema: syncSchema });
    try {
      let longestPageMs = 0;
      const start = performance.now();
      for (let g = 0; g < pages.length; g += SYNC_GROUP) {
        const pageStart = performance.now();
        const docs = pages.slice(g, g + SYNC_GROUP).flatMap(downloadedDocs);
        await engine.syncStore.applyDownload({ docs, removed: [] });
        longestPageMs = Math.max(longestPageMs, performance.now() - pageStart);
      }
      const ms = performance.now() - start;
      const [counted] = await engine.aggregate({
        collection: 'products',
        aggregates: { n: { fn: 'count' } },
      });
      if (counted?.n !== count) throw new Error(`the device holds ${counted?.n} documents, not ${count}`);
      return { ms, operations: count, backend: engine.storage.backend, longestPageMs };
    } finally {
      await engine.close();
    }
  },

  /** The same rows with raw wa-sqlite: one prepared INSERT per document (a column per field) in one transaction. */
  async rawInitialSync(name: string, count: number): Promise<Timing> {
    const { sqlite3, db, exec, flush } = await openRaw(
      name,
      'CREATE TABLE products (id TEXT PRIMARY KEY, name TEXT, price REAL, category TEXT, active INTEGER, stock INTEGER); CREATE INDEX products_category ON products (category)',
    );
    const str = sqlite3.str_new(db, 'INSERT INTO products VALUES (?, ?, ?, ?, ?, ?)');
    const prepared = await sqlite3.prepare_v2(db, sqlite3.str_value(str));
    if (!prepared) throw new Error('prepare failed');
    const rows = Array.from({ length: count }, (_, i) => syncRow(i));
    try {
      const start = performance.now();
      await exec('BEGIN');
      for (const r of rows) {
        sqlite3.bind_collection(prepared.stmt, [
          r.id,
          r.name,
          r.price,
          r.category,
          r.active ? 1 : 0,
          r.stock,
        ]);
        await sqlite3.step(prepared.stmt);
        await sqlite3.reset(prepared.stmt);
        flush();
      }
      await exec('COMMIT');
      return {
        ms: performance.now() - start,
        operations: count,
        backend: 'raw wa-sqlite AccessHandlePoolVFS',
      };
    } finally {
      await sqlite3.finalize(prepared.stmt);
      sqlite3.str_finish(str);
      await sqlite3.close(db);
    }
  },

  /** `count` documents in one transaction through `insertMany`. */
  async loamBulk(name: string, count: number): Promise<Timing> {
    const { driver, split } = timedDriver(await createWaSqliteStorage({ name }));
    const engine = await openEngine({ driver, schema });
    try {
      const docs = Array.from({ length: count }, (_, i) => product(i));
      Object.assign(split, { sqlMs: 0, commitMs: 0 });
      const start = performance.now();
      await engine.insertMany('products', docs);
      return { ms: performance.now() - start, operations: count, backend: engine.storage.backend, split };
    } finally {
      await engine.close();
    }
  },

  /** The same rows with raw wa-sqlite: one prepared INSERT per document inside BEGIN … COMMIT. */
  async rawBulk(name: string, count: number): Promise<Timing> {
    const raw = await rawDatabase(name);
    try {
      const start = performance.now();
      await raw.exec('BEGIN');
      for (let i = 0; i < count; i++) await raw.insert(i);
      const commit = performance.now();
      await raw.exec('COMMIT');
      const end = performance.now();
      return {
        ms: end - start,
        operations: count,
        backend: 'raw wa-sqlite AccessHandlePoolVFS',
        split: { sqlMs: commit - start, commitMs: end - commit },
      };
    } finally {
      await raw.close();
    }
  },

  /** `count` autocommit inserts, one transaction each. */
  async loamSmall(name: string, count: number): Promise<Timing> {
    const engine = await openEngine({ driver: await createWaSqliteStorage({ name }), schema });
    try {
      const start = performance.now();
      for (let i = 0; i < count; i++) await engine.insert('products', product(i));
      return { ms: performance.now() - start, operations: count, backend: engine.storage.backend };
    } finally {
      await engine.close();
    }
  },

  async rawSmall(name: string, count: number): Promise<Timing> {
    const raw = await rawDatabase(name);
    try {
      const start = performance.now();
      for (let i = 0; i < count; i++) await raw.insert(i);
      return {
        ms: performance.now() - start,
        operations: count,
        backend: 'raw wa-sqlite AccessHandlePoolVFS',
      };
    } finally {
      await raw.close();
    }
  },
};

Comlink.expose(api);
