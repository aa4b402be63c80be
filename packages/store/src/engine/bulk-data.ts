/**
 * The data of the bulk-insert benches (Node, `engine.bench.ts`, and Chromium, `engine.browser-worker.ts`): one
 * collection of small products, as Loam stores them and as the raw baselines' table holds them. Not part of the
 * package's API.
 */
import { defineSchema, f } from '@loam/core';
import type { StorageDriver, StorageTransaction } from '../storage/driver';

export const bulkSchema = defineSchema({
  version: 1,
  collections: {
    products: {
      fields: {
        name: f.string(),
        price: f.number({ indexed: true }),
        category: f.string({ indexed: true }),
        stock: f.counter(),
      },
    },
  },
});

/** Product `i`. */
export const product = (i: number) => ({
  name: `Product ${i}`,
  price: (i % 500) / 4,
  category: `cat-${i % 20}`,
  stock: i % 50,
});

/** The raw baselines' table: a column per field, the same indexes. */
export const RAW_PRODUCTS_DDL =
  'CREATE TABLE products (id TEXT PRIMARY KEY, name, price, category, stock); CREATE INDEX p_price ON products (price); CREATE INDEX p_cat ON products (category)';

/** The raw baselines' insert of product `i` (a random id, as an app would make). */
export const RAW_INSERT = 'INSERT INTO products VALUES (?, ?, ?, ?, ?)';
export const rawRow = (i: number) => {
  const p = product(i);
  return [crypto.randomUUID(), p.name, p.price, p.category, p.stock];
};

/** Where a write's time went: statements inside its transactions, their COMMITs, and the rest (JS) is the remainder. */
export interface WriteSplit {
  sqlMs: number;
  commitMs: number;
}

/** `driver`, timing the statements run inside its transactions and the commits that end them into `split`. */
export function timedDriver(driver: StorageDriver): { driver: StorageDriver; split: WriteSplit } {
  const split: WriteSplit = { sqlMs: 0, commitMs: 0 };
  const timed =
    <A extends unknown[], R>(call: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      const start = performance.now();
      try {
        return await call(...args);
      } finally {
        split.sqlMs += performance.now() - start;
      }
    };
  const wrap = (tx: StorageTransaction): StorageTransaction => ({
    exec: timed((sql) => tx.exec(sql)),
    run: timed((sql, params) => tx.run(sql, params)),
    get: timed((sql, params) => tx.get(sql, params)) as StorageTransaction['get'],
    all: timed((sql, params) => tx.all(sql, params)) as StorageTransaction['all'],
    batch: timed((sql, rows) => tx.batch(sql, rows)),
    transaction: (fn) => tx.transaction((inner) => fn(wrap(inner))),
  });
  return {
    split,
    driver: {
      info: driver.info,
      exec: (sql) => driver.exec(sql),
      run: (sql, params) => driver.run(sql, params),
      get: (sql, params) => driver.get(sql, params),
      all: (sql, params) => driver.all(sql, params),
      batch: (sql, rows) => driver.batch(sql, rows),
      stats: () => driver.stats(),
      close: () => driver.close(),
      async transaction(fn) {
        let end = 0;
        const result = await driver.transaction(async (tx) => {
          const value = await fn(wrap(tx));
          end = performance.now();
          return value;
        });
        split.commitMs += performance.now() - end;
        return result;
      },
    },
  };
}
