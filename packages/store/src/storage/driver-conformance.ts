/**
 * (Over 450 lines: it is the StorageDriver contract written as one list of cases, which every implementation runs
 * in full; split up, a new case could be left out of a runner.)
 *
 * The storage conformance suite: every {@link StorageDriver} must pass every case.
 *
 * Framework-agnostic on purpose: the same cases run under vitest in Node (`storage-better-sqlite3.test.ts`) and
 * inside a dedicated Worker in Chromium (`storage-wa-sqlite.browser.test.ts`). A case throws
 * {@link ConformanceFailure} (or any error) to fail.
 */
import { StorageError } from '../errors';
import type { SqlValue, StorageDriver } from './driver';

/** What a case gets: a fresh, empty database, and a way to close and open that same database again. */
export interface ConformanceContext {
  /** The database, freshly opened and empty. Replaced by {@link reopen}. */
  readonly driver: StorageDriver;
  /** Closes `driver` and opens the same database again (same name or file), returning the new driver. */
  reopen(): Promise<StorageDriver>;
}

/** One conformance case. `run` rejects when the driver breaks the contract. */
export interface ConformanceCase {
  readonly name: string;
  run(context: ConformanceContext): Promise<void>;
}

/** A broken contract, with what was expected and what was found. */
export class ConformanceFailure extends Error {
  override readonly name = 'ConformanceFailure';
}

/**
 * Opens a resource with `open`, hands `run` the current instance and a way to close it and open it again (as a
 * restart would), and closes every instance it opened afterwards, whatever the outcome. Shared by the conformance
 * suites of every storage interface (drivers here, the relay's store in `@loam/server`).
 */
export async function withReopening<T extends { close(): Promise<void> }>(
  open: () => Promise<T>,
  run: (handle: { current(): T; reopen(): Promise<T> }) => Promise<void>,
): Promise<void> {
  const opened: T[] = [await open()];
  const current = () => opened[opened.length - 1] as T;
  try {
    await run({
      current,
      async reopen() {
        await current().close();
        const next = await open();
        opened.push(next);
        return next;
      },
    });
  } finally {
    for (const instance of opened) await instance.close();
  }
}

/**
 * Runs one case against the database `open` opens (each call of `open` must open the same database).
 * Every driver the case opened is closed afterwards, whatever the outcome.
 */
export function runConformanceCase(
  testCase: ConformanceCase,
  open: () => Promise<StorageDriver>,
): Promise<void> {
  return withReopening(open, (handle) =>
    testCase.run({
      get driver() {
        return handle.current();
      },
      reopen: handle.reopen,
    }),
  );
}

/** Fails with `message` unless `condition` holds. */
export function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new ConformanceFailure(message);
}

/** Fails unless `actual` deeply equals `expected` (bigints, Uint8Arrays, arrays and plain objects compared by value). */
export function checkEqual(actual: unknown, expected: unknown, what: string): void {
  if (!deepEqual(actual, expected)) {
    throw new ConformanceFailure(`${what}: expected ${show(expected)}, got ${show(actual)}`);
  }
}

/** Fails unless `promise` rejects with a `StorageError` whose `code` is `code`; returns that error. */
export async function checkRejects(
  promise: Promise<unknown>,
  code: string,
  what: string,
): Promise<StorageError> {
  try {
    await promise;
  } catch (error) {
    if (!(error instanceof StorageError)) {
      throw new ConformanceFailure(`${what}: expected a StorageError with code ${code}, got ${show(error)}`);
    }
    if (error.code !== code) {
      throw new ConformanceFailure(`${what}: expected code ${code}, got ${error.code} (${error.message})`);
    }
    return error;
  }
  throw new ConformanceFailure(`${what}: expected a rejection with code ${code}, but it resolved`);
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (a instanceof Uint8Array && b instanceof Uint8Array) {
    return a.length === b.length && a.every((byte, i) => byte === b[i]);
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((item, i) => deepEqual(item, b[i]));
  }
  if (isPlainObject(a) && isPlainObject(b)) {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((k) => deepEqual(a[k], b[k]));
  }
  return false;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array)
  );
}

function show(value: unknown): string {
  if (typeof value === 'bigint') return `${value}n`;
  if (value instanceof Uint8Array) {
    const head = Array.from(value.subarray(0, 16), (b) => b.toString(16).padStart(2, '0')).join('');
    return `Uint8Array(${value.length})[${head}${value.length > 16 ? '…' : ''}]`;
  }
  if (value instanceof Error) return `${value.name}: ${value.message}`;
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
  if (Array.isArray(value)) return `[${value.map(show).join(', ')}]`;
  if (isPlainObject(value)) {
    return `{ ${Object.entries(value)
      .map(([k, v]) => `${k}: ${show(v)}`)
      .join(', ')} }`;
  }
  return String(value);
}

async function count(driver: StorageDriver, table: string): Promise<number> {
  const row = await driver.get<{ n: number }>(`SELECT count(*) AS n FROM ${table}`);
  return row?.n ?? -1;
}

function deferred<T = void>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

const ROUND_TRIP: readonly { value: SqlValue; type: string; label: string }[] = [
  { value: null, type: 'null', label: 'NULL' },
  { value: 0, type: 'integer', label: 'zero' },
  { value: -1, type: 'integer', label: 'negative integer' },
  { value: 2 ** 31, type: 'integer', label: '2^31 (beyond int32)' },
  { value: Number.MAX_SAFE_INTEGER, type: 'integer', label: 'MAX_SAFE_INTEGER' },
  { value: Number.MIN_SAFE_INTEGER, type: 'integer', label: 'MIN_SAFE_INTEGER' },
  { value: 1.5, type: 'real', label: 'fraction' },
  { value: -1e-300, type: 'real', label: 'tiny negative real' },
  { value: 1.7976931348623157e308, type: 'real', label: 'largest double' },
  { value: 2n ** 62n, type: 'integer', label: '2^62 as bigint' },
  { value: 2n ** 63n - 1n, type: 'integer', label: 'int64 max' },
  { value: -(2n ** 63n), type: 'integer', label: 'int64 min' },
  { value: '', type: 'text', label: 'empty string' },
  { value: 'héllo wörld — 🌱 中文 עברית', type: 'text', label: 'unicode' },
  { value: 'x'.repeat(1 << 20), type: 'text', label: '1 MiB string' },
  { value: new Uint8Array(0), type: 'blob', label: 'empty blob' },
  { value: Uint8Array.from({ length: 256 }, (_, i) => i), type: 'blob', label: 'every byte value' },
  {
    value: Uint8Array.from({ length: 1 << 20 }, (_, i) => (i * 7) & 0xff),
    type: 'blob',
    label: '1 MiB blob',
  },
];

/** Every conformance case, in a stable order. */
export const driverConformanceCases: readonly ConformanceCase[] = [
  {
    name: 'reports what it runs on',
    async run({ driver }) {
      const { info } = driver;
      check(info.backend.length > 0, 'info.backend is empty');
      check(/^3\.\d+\.\d+$/.test(info.sqliteVersion), `sqliteVersion looks wrong: ${info.sqliteVersion}`);
      const live = await driver.get<{ v: string }>('SELECT sqlite_version() AS v');
      checkEqual(live?.v, info.sqliteVersion, 'sqlite_version()');
      const mode = await driver.get<{ journal_mode: string }>('PRAGMA journal_mode');
      checkEqual(mode?.journal_mode, info.journalMode, 'journal_mode');
      check(info.persistent === (info.durability !== 'memory'), 'persistent and durability disagree');
    },
  },
  {
    name: 'round-trips every value type through a parameter and a column',
    async run({ driver }) {
      await driver.exec('CREATE TABLE v (id INTEGER PRIMARY KEY, x)');
      for (const [i, { value, label }] of ROUND_TRIP.entries()) {
        await driver.run('INSERT INTO v (id, x) VALUES (?, ?)', [i, value]);
        const row = await driver.get('SELECT x FROM v WHERE id = ?', [i]);
        checkEqual(row?.x, value, `${label} read back`);
        const echoed = await driver.get('SELECT ? AS x', [value]);
        checkEqual(echoed?.x, value, `${label} echoed`);
      }
      const types = await driver.all<{ t: string }>('SELECT typeof(x) AS t FROM v ORDER BY id');
      checkEqual(
        types.map((r) => r.t),
        ROUND_TRIP.map((r) => r.type),
        'SQLite storage classes',
      );
      const blob = await driver.get('SELECT x FROM v WHERE id = ?', [ROUND_TRIP.length - 1]);
      check(
        blob?.x instanceof Uint8Array && blob.x.constructor === Uint8Array,
        'a BLOB reads as a plain Uint8Array',
      );
    },
  },
  {
    name: 'integers read back as number when safe and bigint beyond',
    async run({ driver }) {
      const row = await driver.get(
        'SELECT 9007199254740991 AS safe, 9007199254740992 AS big, 2.0 * 3 AS real',
      );
      checkEqual(row, { safe: Number.MAX_SAFE_INTEGER, big: 2n ** 53n, real: 6 }, 'row');
      check(typeof row?.safe === 'number', 'a safe integer is a number');
    },
  },
  {
    name: 'refuses values it cannot store, and stores nothing',
    async run({ driver }) {
      await driver.exec('CREATE TABLE v (x)');
      const bad: readonly [unknown, string][] = [
        [undefined, 'undefined'],
        [Number.NaN, 'NaN'],
        [true, 'boolean'],
        [{ a: 1 }, 'object'],
        [2n ** 64n, 'bigint beyond int64'],
        [new Date(0), 'Date'],
        ['a\u0000b', 'string with U+0000 (wa-sqlite would truncate it)'],
      ];
      for (const [value, label] of bad) {
        await checkRejects(
          driver.run('INSERT INTO v VALUES (?)', [value as SqlValue]),
          'invalid_value',
          `binding ${label}`,
        );
      }
      await checkRejects(
        driver.batch('INSERT INTO v VALUES (?)', [[1], [2], [undefined as unknown as SqlValue]]),
        'invalid_value',
        'a batch with one bad row',
      );
      checkEqual(await count(driver, 'v'), 0, 'rows after refused writes');
    },
  },
  {
    name: 'a wrong number of parameters is invalid_value',
    async run({ driver }) {
      await driver.exec('CREATE TABLE v (a, b)');
      await checkRejects(driver.run('INSERT INTO v VALUES (?, ?)', [1]), 'invalid_value', 'too few');
      await checkRejects(driver.run('INSERT INTO v VALUES (?, ?)', [1, 2, 3]), 'invalid_value', 'too many');
      await driver.run('INSERT INTO v VALUES (?, ?)', [1, 2]);
      await checkRejects(
        driver.run('INSERT INTO v VALUES (?, ?)', [3]),
        'invalid_value',
        'too few after a success',
      );
      checkEqual(await driver.all('SELECT a, b FROM v'), [{ a: 1, b: 2 }], 'rows');
    },
  },
  {
    name: 'SQL errors are typed StorageErrors with SQLite codes',
    async run({ driver }) {
      const syntax = await checkRejects(driver.run('SELEC 1'), 'sql_error', 'syntax error');
      checkEqual(syntax.sqliteCode, 1, 'syntax error sqliteCode');
      check(/syntax/.test(syntax.message), `message names the problem: ${syntax.message}`);
      await checkRejects(driver.all('SELECT * FROM missing'), 'sql_error', 'unknown table');
      await driver.exec('CREATE TABLE u (k TEXT PRIMARY KEY NOT NULL)');
      await driver.run('INSERT INTO u VALUES (?)', ['a']);
      const dup = await checkRejects(
        driver.run('INSERT INTO u VALUES (?)', ['a']),
        'sql_constraint',
        'duplicate',
      );
      checkEqual((dup.sqliteCode ?? 0) & 0xff, 19, 'constraint primary code');
      await checkRejects(driver.run('INSERT INTO u VALUES (?)', [null]), 'sql_constraint', 'NOT NULL');
      await checkRejects(driver.exec('CREATE TABLE u (k)'), 'sql_error', 'exec of a bad script');
      await checkRejects(
        driver.run('INSERT INTO u VALUES (?); DELETE FROM u', ['b']),
        'sql_error',
        'run with two statements',
      );
      checkEqual(await driver.all('SELECT k FROM u'), [{ k: 'a' }], 'rows after failed statements');
    },
  },
  {
    name: 'all, get and exec return what SQLite returns',
    async run({ driver }) {
      await driver.exec(`
        CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT);
        INSERT INTO t (id, name) VALUES (1, 'a'), (2, 'b'), (3, 'c');
      `);
      checkEqual(
        await driver.all('SELECT id, name AS label FROM t WHERE id >= ? ORDER BY id DESC', [2]),
        [
          { id: 3, label: 'c' },
          { id: 2, label: 'b' },
        ],
        'all',
      );
      checkEqual(await driver.get('SELECT name FROM t WHERE id = ?', [9]), undefined, 'get with no row');
      checkEqual(await driver.all('SELECT name FROM t WHERE id = ?', [9]), [], 'all with no row');
      checkEqual(
        await driver.run('UPDATE t SET name = ? WHERE id <= ?', ['z', 2]),
        { changes: 2 },
        'run changes',
      );
      checkEqual(await driver.run('SELECT * FROM t'), { changes: 0 }, 'run of a query');
    },
  },
  {
    name: 'a transaction commits all its writes and returns its result',
    async run({ driver }) {
      await driver.exec('CREATE TABLE t (k TEXT PRIMARY KEY, v)');
      const result = await driver.transaction(async (tx) => {
        await tx.run('INSERT INTO t VALUES (?, ?)', ['a', 1]);
        await tx.batch('INSERT INTO t VALUES (?, ?)', [
          ['b', 2],
          ['c', 3],
        ]);
        const inside = await tx.get<{ n: number }>('SELECT count(*) AS n FROM t');
        return inside?.n;
      });
      checkEqual(result, 3, 'transaction result');
      checkEqual(await count(driver, 't'), 3, 'rows after commit');
    },
  },
  {
    name: 'a throw inside a transaction leaves nothing behind',
    async run({ driver }) {
      await driver.exec('CREATE TABLE t (k TEXT PRIMARY KEY, v)');
      await driver.run('INSERT INTO t VALUES (?, ?)', ['keep', 0]);
      const boom = new Error('boom');
      let caught: unknown;
      try {
        await driver.transaction(async (tx) => {
          await tx.run('INSERT INTO t VALUES (?, ?)', ['a', 1]);
          await tx.run('UPDATE t SET v = 99 WHERE k = ?', ['keep']);
          await tx.exec('CREATE TABLE extra (x)');
          throw boom;
        });
      } catch (error) {
        caught = error;
      }
      check(caught === boom, `the transaction rejects with the thrown error, got ${show(caught)}`);
      checkEqual(await driver.all('SELECT k, v FROM t'), [{ k: 'keep', v: 0 }], 'rows after rollback');
      checkEqual(
        await driver.all("SELECT name FROM sqlite_master WHERE name = 'extra'"),
        [],
        'schema change after rollback',
      );
    },
  },
  {
    name: 'an uncaught SQL error inside a transaction rolls it back',
    async run({ driver }) {
      await driver.exec('CREATE TABLE t (k TEXT PRIMARY KEY)');
      await checkRejects(
        driver.transaction(async (tx) => {
          await tx.run('INSERT INTO t VALUES (?)', ['a']);
          await tx.run('INSERT INTO t VALUES (?)', ['a']);
        }),
        'sql_constraint',
        'the transaction',
      );
      checkEqual(await count(driver, 't'), 0, 'rows after rollback');
      await driver.run('INSERT INTO t VALUES (?)', ['b']);
      checkEqual(await count(driver, 't'), 1, 'the driver works after the rollback');
    },
  },
  {
    name: 'a nested transaction that throws undoes only its own writes',
    async run({ driver }) {
      await driver.exec('CREATE TABLE t (k TEXT PRIMARY KEY)');
      await driver.transaction(async (tx) => {
        await tx.run('INSERT INTO t VALUES (?)', ['outer']);
        try {
          await tx.transaction(async (inner) => {
            await inner.run('INSERT INTO t VALUES (?)', ['inner']);
            throw new Error('inner fails');
          });
        } catch {
          await tx.run('INSERT INTO t VALUES (?)', ['after']);
        }
        await tx.transaction(async (inner) => {
          await inner.run('INSERT INTO t VALUES (?)', ['nested-ok']);
        });
      });
      checkEqual(
        await driver.all('SELECT k FROM t ORDER BY k'),
        [{ k: 'after' }, { k: 'nested-ok' }, { k: 'outer' }],
        'rows',
      );
    },
  },
  {
    name: 'a transaction handle cannot be used after the transaction',
    async run({ driver }) {
      await driver.exec('CREATE TABLE t (x)');
      let leaked: { run: (sql: string, params: SqlValue[]) => Promise<unknown> } | undefined;
      await driver.transaction(async (tx) => {
        leaked = tx;
      });
      check(leaked, 'the callback ran');
      await checkRejects(leaked.run('INSERT INTO t VALUES (?)', [1]), 'transaction_finished', 'late call');
      checkEqual(await count(driver, 't'), 0, 'rows');
    },
  },
  {
    name: 'batch inserts many rows in one transaction',
    async run({ driver }) {
      await driver.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, data BLOB)');
      const rows = Array.from({ length: 10_000 }, (_, i) => [i, `row ${i}`, new Uint8Array([i & 0xff])]);
      checkEqual(
        await driver.batch('INSERT INTO t VALUES (?, ?, ?)', rows),
        { changes: 10_000 },
        'batch result',
      );
      checkEqual(await count(driver, 't'), 10_000, 'rows');
      checkEqual(
        await driver.get('SELECT id, name, data FROM t WHERE id = ?', [4242]),
        { id: 4242, name: 'row 4242', data: new Uint8Array([4242 & 0xff]) },
        'a row',
      );
    },
  },
  {
    name: 'batch is all or nothing',
    async run({ driver }) {
      await driver.exec('CREATE TABLE t (id INTEGER PRIMARY KEY)');
      const rows = Array.from({ length: 1000 }, (_, i) => [i === 700 ? 3 : i]);
      await checkRejects(
        driver.batch('INSERT INTO t VALUES (?)', rows),
        'sql_constraint',
        'duplicate key in row 700',
      );
      checkEqual(await count(driver, 't'), 0, 'rows after the failed batch');
    },
  },
  {
    name: 'prepared statements are compiled once and reused',
    async run({ driver }) {
      await driver.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v)');
      const before = driver.stats().statementsPrepared;
      for (let i = 0; i < 500; i++) await driver.run('INSERT INTO t VALUES (?, ?)', [i, i * 2]);
      for (let i = 0; i < 500; i++) {
        const row = await driver.get<{ v: number }>('SELECT v FROM t WHERE id = ?', [i]);
        if (row?.v !== i * 2)
          throw new ConformanceFailure(`row ${i}: expected ${i * 2}, got ${show(row?.v)}`);
      }
      const compiled = driver.stats().statementsPrepared - before;
      check(compiled <= 3, `1000 executions of 2 statements compiled ${compiled} statements`);
      await checkRejects(
        driver.run('INSERT INTO t VALUES (?, ?)', [1, 0]),
        'sql_constraint',
        'reused, failing',
      );
      await driver.run('INSERT INTO t VALUES (?, ?)', [1000, 7]);
      checkEqual(await count(driver, 't'), 501, 'the statement works after failing');
      await driver.exec('ALTER TABLE t ADD COLUMN w');
      checkEqual(
        await driver.get('SELECT * FROM t WHERE id = ?', [1000]),
        { id: 1000, v: 7, w: null },
        'after ALTER',
      );
    },
  },
  {
    name: 'a call made while a transaction is open runs after it, outside it',
    async run({ driver }) {
      await driver.exec('CREATE TABLE t (k TEXT)');
      const gate = deferred();
      const entered = deferred();
      const tx = driver.transaction(async (t) => {
        await t.run('INSERT INTO t VALUES (?)', ['tx']);
        entered.resolve();
        await gate.promise;
        throw new Error('roll back');
      });
      await entered.promise;
      const outside = driver.run('INSERT INTO t VALUES (?)', ['outside']);
      gate.resolve();
      let rolledBack = false;
      await tx.catch(() => {
        rolledBack = true;
      });
      await outside;
      check(rolledBack, 'the transaction rejected');
      checkEqual(await driver.all('SELECT k FROM t'), [{ k: 'outside' }], 'rows');
    },
  },
  {
    name: 'overlapping calls run one at a time in call order',
    async run({ driver }) {
      await driver.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER)');
      await driver.run('INSERT INTO t VALUES (1, 0)');
      const calls: Promise<unknown>[] = [];
      const seen: number[] = [];
      for (let i = 0; i < 50; i++) {
        calls.push(driver.run('UPDATE t SET v = v + 1 WHERE id = 1'));
        calls.push(
          driver.transaction(async (tx) => {
            const row = await tx.get<{ v: number }>('SELECT v FROM t WHERE id = 1');
            await tx.run('UPDATE t SET v = ? WHERE id = 1', [(row?.v ?? 0) + 1]);
          }),
        );
        calls.push(
          driver.get<{ v: number }>('SELECT v FROM t WHERE id = 1').then((r) => seen.push(r?.v ?? -1)),
        );
      }
      await Promise.all(calls);
      checkEqual(await driver.get('SELECT v FROM t WHERE id = 1'), { v: 100 }, 'final value');
      checkEqual(
        seen,
        Array.from({ length: 50 }, (_, i) => 2 * (i + 1)),
        'values read between writes',
      );
    },
  },
  {
    name: 'committed data survives close and reopen (persistent drivers only)',
    async run(context) {
      const { driver } = context;
      await driver.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)');
      await driver.batch(
        'INSERT INTO t VALUES (?, ?)',
        Array.from({ length: 1000 }, (_, i) => [i, `v${i}`]),
      );
      await driver.transaction(async (tx) => {
        await tx.run('UPDATE t SET v = ? WHERE id = ?', ['changed', 7]);
      });
      await driver
        .transaction(async (tx) => {
          await tx.run('DELETE FROM t');
          throw new Error('not committed');
        })
        .catch(() => undefined);
      const persistent = driver.info.persistent;
      const reopened = await context.reopen();
      if (!persistent) {
        checkEqual(
          await reopened.all("SELECT name FROM sqlite_master WHERE name = 't'"),
          [],
          'a memory database starts empty',
        );
        return;
      }
      checkEqual(await count(reopened, 't'), 1000, 'rows after reopen');
      checkEqual(await reopened.get('SELECT v FROM t WHERE id = 7'), { v: 'changed' }, 'committed update');
      checkEqual(reopened.info.backend, driver.info.backend, 'backend after reopen');
    },
  },
  {
    name: 'close is idempotent and later calls reject with storage_closed',
    async run({ driver }) {
      await driver.exec('CREATE TABLE t (x)');
      const pending = driver.run('INSERT INTO t VALUES (1)');
      await Promise.all([driver.close(), driver.close()]);
      checkEqual(await pending, { changes: 1 }, 'a call queued before close');
      await checkRejects(driver.all('SELECT * FROM t'), 'storage_closed', 'a call after close');
      await checkRejects(
        driver.transaction(async () => undefined),
        'storage_closed',
        'a transaction after close',
      );
      await driver.close();
    },
  },
];
