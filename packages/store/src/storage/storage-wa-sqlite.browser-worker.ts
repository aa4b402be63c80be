/**
 * Worker entry for `storage-wa-sqlite.browser.test.ts` and `vfs.bench.ts`: runs the storage conformance cases
 * and the VFS measurements inside a dedicated worker (where OPFS sync access handles exist), driven from Node
 * through the browser harness. Not part of the package's API.
 */
import * as Comlink from 'comlink';
import * as SQLite from 'wa-sqlite';
import { StorageError } from '../errors';
import type { StorageDriverInfo } from './driver';
import { driverConformanceCases, runConformanceCase } from './driver-conformance';
import { createWaSqliteStorage, detectWaSqliteVfs, type WaSqliteVfs } from './storage-wa-sqlite';

/** Outcome of one case, as plain data. */
export type CaseOutcome = { readonly ok: true } | { readonly ok: false; readonly message: string };

/** A timing taken inside the worker. */
export interface Measurement {
  readonly ms: number;
  readonly operations: number;
  readonly info: StorageDriverInfo;
}

const api = {
  ping: () => 'pong',
  caseNames: () => driverConformanceCases.map((c) => c.name),
  detectVfs: () => detectWaSqliteVfs() ?? null,

  async runCase(caseName: string, vfs: WaSqliteVfs, name: string): Promise<CaseOutcome> {
    const testCase = driverConformanceCases.find((c) => c.name === caseName);
    if (!testCase) return { ok: false, message: `No conformance case named "${caseName}"` };
    try {
      await runConformanceCase(testCase, () => createWaSqliteStorage({ name, vfs }));
      return { ok: true };
    } catch (error) {
      return { ok: false, message: error instanceof Error ? (error.stack ?? error.message) : String(error) };
    }
  },

  async open(name: string, vfs: WaSqliteVfs | 'auto', pragmas?: string[]) {
    const driver = await createWaSqliteStorage(pragmas ? { name, vfs, pragmas } : { name, vfs });
    const info = driver.info;
    await driver.close();
    return info;
  },

  async openWithoutSyncAccessHandles(name: string) {
    const scope = globalThis as { FileSystemSyncAccessHandle?: unknown };
    const saved = scope.FileSystemSyncAccessHandle;
    delete scope.FileSystemSyncAccessHandle;
    try {
      const driver = await createWaSqliteStorage({ name });
      await driver.exec('CREATE TABLE t (x); INSERT INTO t VALUES (1)');
      const info = driver.info;
      await driver.close();
      return info;
    } finally {
      scope.FileSystemSyncAccessHandle = saved;
    }
  },

  async openTwice(name: string, vfs: WaSqliteVfs) {
    const first = await createWaSqliteStorage({ name, vfs });
    try {
      const second = await createWaSqliteStorage({ name, vfs });
      await second.close();
      return { code: null };
    } catch (error) {
      return { code: error instanceof StorageError ? error.code : String(error) };
    } finally {
      await first.close();
    }
  },

  async countRows(name: string, vfs: WaSqliteVfs): Promise<number> {
    const driver = await createWaSqliteStorage({ name, vfs });
    try {
      return Number((await driver.get('SELECT count(*) AS n FROM docs'))?.n);
    } finally {
      await driver.close();
    }
  },

  /** `rows` inserts of ~100-byte rows in one transaction through the driver's `batch`. */
  async bulkInsert(name: string, vfs: WaSqliteVfs, rows: number, pragmas?: string[]): Promise<Measurement> {
    const driver = await createWaSqliteStorage(pragmas ? { name, vfs, pragmas } : { name, vfs });
    try {
      await driver.exec('CREATE TABLE docs (id TEXT PRIMARY KEY, n INTEGER, body TEXT)');
      const params = Array.from({ length: rows }, (_, i) => [`doc-${i}`, i, `body ${i} ${'x'.repeat(80)}`]);
      const start = performance.now();
      await driver.batch('INSERT INTO docs VALUES (?, ?, ?)', params);
      return { ms: performance.now() - start, operations: rows, info: driver.info };
    } finally {
      await driver.close();
    }
  },

  /** `count` autocommit single-row inserts, one transaction each, through the driver's `run`. */
  async smallTransactions(
    name: string,
    vfs: WaSqliteVfs,
    count: number,
    pragmas?: string[],
  ): Promise<Measurement> {
    const driver = await createWaSqliteStorage(pragmas ? { name, vfs, pragmas } : { name, vfs });
    try {
      await driver.exec('CREATE TABLE docs (id TEXT PRIMARY KEY, n INTEGER, body TEXT)');
      const start = performance.now();
      for (let i = 0; i < count; i++) {
        await driver.run('INSERT INTO docs VALUES (?, ?, ?)', [`doc-${i}`, i, `body ${i}`]);
      }
      return { ms: performance.now() - start, operations: count, info: driver.info };
    } finally {
      await driver.close();
    }
  },

  /** Raw wa-sqlite baseline: the same bulk insert with the bare API (no driver), on AccessHandlePoolVFS. */
  async rawBulkInsert(
    name: string,
    rows: number,
    pragmas: string[],
  ): Promise<{ ms: number; operations: number }> {
    const { default: factory } = await import('wa-sqlite/dist/wa-sqlite.mjs');
    const { AccessHandlePoolVFS } = await import('wa-sqlite/src/examples/AccessHandlePoolVFS.js');
    const sqlite3 = SQLite.Factory(await factory());
    const vfs = new AccessHandlePoolVFS(`/loam-raw/${name}`);
    await vfs.isReady;
    sqlite3.vfs_register(vfs as unknown as SQLiteVFS, false);
    const db = await sqlite3.open_v2(
      'raw.sqlite3',
      SQLite.SQLITE_OPEN_CREATE | SQLite.SQLITE_OPEN_READWRITE,
      vfs.name,
    );
    try {
      for (const pragma of pragmas) await sqlite3.exec(db, pragma);
      await sqlite3.exec(db, 'CREATE TABLE docs (id TEXT PRIMARY KEY, n INTEGER, body TEXT)');
      const str = sqlite3.str_new(db, 'INSERT INTO docs VALUES (?, ?, ?)');
      const prepared = await sqlite3.prepare_v2(db, sqlite3.str_value(str));
      if (!prepared) throw new Error('prepare failed');
      const start = performance.now();
      await sqlite3.exec(db, 'BEGIN');
      for (let i = 0; i < rows; i++) {
        sqlite3.bind_collection(prepared.stmt, [`doc-${i}`, i, `body ${i} ${'x'.repeat(80)}`]);
        await sqlite3.step(prepared.stmt);
        await sqlite3.reset(prepared.stmt);
      }
      await sqlite3.exec(db, 'COMMIT');
      const ms = performance.now() - start;
      await sqlite3.finalize(prepared.stmt);
      sqlite3.str_finish(str);
      return { ms, operations: rows };
    } finally {
      await sqlite3.close(db);
      await vfs.close();
    }
  },
};

/** The API this worker exposes over Comlink. */
export type StorageWorkerApi = typeof api;

Comlink.expose(api);
