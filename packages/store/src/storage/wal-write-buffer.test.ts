/**
 * The WAL write gathering (`wal-write-buffer.ts`) on real SQLite (wa-sqlite's synchronous build) over its memory VFS,
 * whose file methods are those AccessHandlePoolVFS implements on OPFS.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import * as SQLite from 'wa-sqlite';
import SQLiteESMFactory from 'wa-sqlite/dist/wa-sqlite.mjs';
import { MemoryVFS } from 'wa-sqlite/src/examples/MemoryVFS.js';
import { bufferWalWrites, type SyncFileVfs } from './wal-write-buffer';

const wasmBinary = readFileSync(createRequire(import.meta.url).resolve('wa-sqlite/dist/wa-sqlite.wasm'));

/** A database in WAL mode on a memory VFS with gathered WAL writes; `failWal` makes the file's WAL writes fail. */
async function open() {
  const sqlite3 = SQLite.Factory(await SQLiteESMFactory({ wasmBinary }));
  const vfs = new MemoryVFS() as unknown as SyncFileVfs & { name: string };
  const wal = new Set<number>();
  const state = { failWal: false, walWrites: 0 };
  const { xOpen, xWrite } = { xOpen: vfs.xOpen.bind(vfs), xWrite: vfs.xWrite.bind(vfs) };
  vfs.xOpen = (name, fileId, flags, out) => {
    if (flags & SQLite.SQLITE_OPEN_WAL) wal.add(fileId);
    return xOpen(name, fileId, flags, out);
  };
  vfs.xWrite = (fileId, data, offset) => {
    if (!wal.has(fileId)) return xWrite(fileId, data, offset);
    state.walWrites++;
    return state.failWal ? SQLite.SQLITE_IOERR_WRITE : xWrite(fileId, data, offset);
  };
  const buffer = bufferWalWrites(vfs);
  sqlite3.vfs_register(vfs as unknown as SQLiteVFS, false);
  const db = await sqlite3.open_v2(
    'wal.db',
    SQLite.SQLITE_OPEN_CREATE | SQLite.SQLITE_OPEN_READWRITE,
    vfs.name,
  );
  const run = async (sql: string) => {
    const rows: unknown[][] = [];
    try {
      await sqlite3.exec(db, sql, (row) => {
        rows.push(row);
      });
    } finally {
      expect(buffer.flush()).toBe(SQLite.SQLITE_OK);
    }
    return rows;
  };
  await run('PRAGMA locking_mode=exclusive');
  expect(await run('PRAGMA journal_mode=WAL')).toEqual([['wal']]);
  await run('CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)');
  return { run, state, close: () => sqlite3.close(db) };
}

describe('gathered WAL writes', () => {
  it('write a commit of several pages to the file at once, and read back what it wrote', async () => {
    const db = await open();
    const body = 'x'.repeat(3000);
    db.state.walWrites = 0;
    await db.run(
      `BEGIN; ${[1, 2, 3, 4].map((i) => `INSERT INTO t VALUES (${i}, '${body}');`).join(' ')} COMMIT;`,
    );
    expect(db.state.walWrites).toBe(1);
    expect(await db.run('SELECT id, length(body) FROM t ORDER BY id')).toEqual([
      [1, 3000],
      [2, 3000],
      [3, 3000],
      [4, 3000],
    ]);
    await db.close();
  });

  it('fail the commit when its write fails, changing nothing, and commit again once writes work', async () => {
    const db = await open();
    await db.run("INSERT INTO t VALUES (1, 'kept')");
    db.state.failWal = true;
    await expect(db.run("BEGIN; INSERT INTO t VALUES (2, 'lost'); COMMIT;")).rejects.toThrow();
    db.state.failWal = false;
    await db.run('ROLLBACK').catch(() => undefined);
    expect(await db.run('SELECT id, body FROM t ORDER BY id')).toEqual([[1, 'kept']]);
    await db.run("INSERT INTO t VALUES (3, 'later')");
    expect(await db.run('SELECT id FROM t ORDER BY id')).toEqual([[1], [3]]);
    await db.close();
  });
});
