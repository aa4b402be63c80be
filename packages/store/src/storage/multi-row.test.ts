import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import type { StorageDriver } from './driver';
import { insertRows, whereIn } from './multi-row';
import { createBetterSqlite3Storage } from './storage-better-sqlite3';
import { createWaSqliteStorage } from './storage-wa-sqlite';

const wasmBinary = readFileSync(createRequire(import.meta.url).resolve('wa-sqlite/dist/wa-sqlite.wasm'));
const WIDE = 20;
const wide = {
  head: `INSERT INTO w (${Array.from({ length: WIDE }, (_, i) => `c${i}`).join(', ')}) VALUES`,
  width: WIDE,
};
const rowOf = (n: number) => Array.from({ length: WIDE }, (_, i) => (i === 0 ? n : `v${n}.${i}`));

const drivers: [string, () => Promise<StorageDriver>][] = [
  ['better-sqlite3', () => createBetterSqlite3Storage({ filename: ':memory:' })],
  ['wa-sqlite', () => createWaSqliteStorage({ name: 'rows', vfs: 'MemoryVFS', wasmBinary })],
];

describe.each(drivers)('multi-row statements on %s', (_, create) => {
  const withTable = async (fn: (driver: StorageDriver) => Promise<void>) => {
    const driver = await create();
    try {
      await driver.exec(
        `CREATE TABLE w (${Array.from({ length: WIDE }, (_, i) => (i === 0 ? 'c0 INTEGER PRIMARY KEY' : `c${i}`)).join(', ')})`,
      );
      await fn(driver);
    } finally {
      await driver.close();
    }
  };

  it('inserts every row, in order, whatever the count (statement limits crossed)', async () => {
    await withTable(async (driver) => {
      let next = 0;
      for (const count of [0, 1, 31, 32, 33, 200]) {
        const rows = Array.from({ length: count }, () => rowOf(next++));
        const changes = await driver.transaction((tx) => insertRows(tx, wide, rows.flat()));
        expect(changes).toBe(count);
      }
      const stored = await driver.all('SELECT * FROM w ORDER BY rowid');
      expect(stored.map((r) => Object.values(r))).toEqual(Array.from({ length: next }, (_, n) => rowOf(n)));
    });
  });

  it('binds shared values once per statement, before the rows', async () => {
    await withTable(async (driver) => {
      const shape = {
        head: 'INSERT INTO w (c1, c2, c0) SELECT ?, ?, column1 FROM (VALUES',
        width: 1,
        tail: ')',
      };
      const keys = Array.from({ length: 1000 }, (_, i) => i);
      expect(await driver.transaction((tx) => insertRows(tx, shape, keys, ['a', 'b']))).toBe(1000);
      const stored = await driver.all('SELECT c0, c1, c2 FROM w ORDER BY c0');
      expect(stored).toEqual(keys.map((c0) => ({ c0, c1: 'a', c2: 'b' })));
    });
  });

  it('refuses values that are not whole rows, and rolls a failing row back with its transaction', async () => {
    await withTable(async (driver) => {
      await expect(insertRows(driver, wide, rowOf(1).slice(1))).rejects.toBeInstanceOf(RangeError);
      await expect(
        driver.transaction((tx) => insertRows(tx, wide, [...rowOf(1), ...rowOf(2), ...rowOf(1)])),
      ).rejects.toMatchObject({ code: 'sql_constraint' });
      expect(await driver.get('SELECT count(*) AS n FROM w')).toEqual({ n: 0 });
    });
  });

  it('selects and deletes by many keys, after the leading parameters', async () => {
    await withTable(async (driver) => {
      await driver.transaction((tx) =>
        insertRows(tx, wide, Array.from({ length: 1500 }, (_, n) => rowOf(n)).flat()),
      );
      const keys = Array.from({ length: 1200 }, (_, i) => i * 2);
      const found = await whereIn<{ c0: number }>(
        driver,
        'SELECT c0 FROM w WHERE c0 > ? AND c0',
        keys,
        [100],
      );
      expect(found.map((r) => r.c0)).toEqual(keys.filter((k) => k > 100 && k < 1500));
      await whereIn(driver, 'DELETE FROM w WHERE c0', keys);
      expect(await driver.get('SELECT count(*) AS n FROM w')).toEqual({ n: 750 });
    });
  });
});
