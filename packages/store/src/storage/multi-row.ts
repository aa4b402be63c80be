/**
 * Multi-row statements over any {@link SqlExecutor}: many rows per statement instead of one statement per row.
 *
 * A statement run costs a fixed amount beyond its rows (a call into the driver, a step, a reset, and in the browser
 * a round of async wasm calls): for a bulk write of small rows it is most of the cost. Rows go in statements of a
 * power-of-two count (at most {@link MAX_ROWS}, and at most {@link MAX_PARAMS} values each), so one statement shape
 * needs at most a handful of texts whatever the row count, and the driver's statement cache keeps them compiled.
 *
 * A multi-row statement is atomic like any statement: when a row fails, none of that statement's rows is written
 * and the error is the driver's (`StorageError`); the caller's transaction decides about the rest.
 */
import type { SqlExecutor, SqlRow, SqlValue } from './driver';

/** Most rows one INSERT carries. */
export const MAX_ROWS = 256;
/** Most values bound to one statement (SQLite's historical limit of variables, which every build accepts). */
export const MAX_PARAMS = 999;

/**
 * The shape of a multi-row INSERT: `head (?, …), (?, …) tail`. Values shared by every row (`insertRows`'s `shared`)
 * are the `?`s of `head`, e.g. `INSERT INTO t (a, b) SELECT ?, column1 FROM (VALUES` with `tail` `)`. (Parameters
 * stay anonymous: better-sqlite3 binds numbered ones by name.)
 */
export interface InsertShape {
  /** Everything before the rows, ending with `VALUES`, e.g. `INSERT INTO t (a, b) VALUES`. */
  readonly head: string;
  /** Values per row. */
  readonly width: number;
  /** Anything after the rows (an `ON CONFLICT` clause), or nothing. */
  readonly tail?: string;
}

const insertTexts = new WeakMap<InsertShape, Map<number, string>>();
const texts = new Map<string, string>();

function cachedText(key: string, make: () => string): string {
  let text = texts.get(key);
  if (text === undefined) {
    text = make();
    texts.set(key, text);
  }
  return text;
}

const placeholders = (count: number) => Array.from({ length: count }, () => '?').join(', ');

/** The largest power of two at most `max`, and at most `limit / width` (at least 1). */
function chunkRows(width: number, max: number, limit = MAX_PARAMS): number {
  let rows = max;
  while (rows > 1 && rows * width > limit) rows >>= 1;
  return rows;
}

/** Calls `run(at, count)` over `total` items in power-of-two runs of at most `first` items, largest first. */
async function inChunks(total: number, first: number, run: (at: number, count: number) => Promise<void>) {
  let at = 0;
  for (let count = first; at < total; count >>= 1)
    for (; total - at >= count; at += count) await run(at, count);
}

function insertText(shape: InsertShape, rows: number): string {
  let byRows = insertTexts.get(shape);
  if (!byRows) {
    byRows = new Map();
    insertTexts.set(shape, byRows);
  }
  let text = byRows.get(rows);
  if (text === undefined) {
    const { head, width, tail } = shape;
    const row = `(${placeholders(width)})`;
    text = `${head} ${Array.from({ length: rows }, () => row).join(', ')}${tail ? ` ${tail}` : ''}`;
    byRows.set(rows, text);
  }
  return text;
}

/**
 * Inserts the rows held in `values` (row after row, `shape.width` values each) in as few statements as the limits
 * allow, binding `shared` once per statement, before the rows (see {@link InsertShape}). Returns SQLite's count of rows changed.
 */
export async function insertRows(
  sql: SqlExecutor,
  shape: InsertShape,
  values: readonly SqlValue[],
  shared: readonly SqlValue[] = [],
): Promise<number> {
  const { width } = shape;
  if (values.length % width !== 0)
    throw new RangeError(`insertRows: ${values.length} values are not rows of ${width}`);
  let changes = 0;
  const rows = chunkRows(width, MAX_ROWS, MAX_PARAMS - shared.length);
  await inChunks(values.length / width, rows, async (at, count) => {
    const own = values.slice(at * width, (at + count) * width);
    const params = shared.length === 0 ? own : [...shared, ...own];
    changes += (await sql.run(insertText(shape, count), params)).changes;
  });
  return changes;
}

/**
 * Runs `head IN (?, …)` over `keys` in as few statements as the limits allow, binding `leading` before each
 * statement's keys (e.g. `head` = `SELECT id, x FROM t WHERE id`, or `DELETE FROM t WHERE a = ? AND b`), and returns
 * the rows of every statement, one after the other.
 */
export async function whereIn<R extends SqlRow = SqlRow>(
  sql: SqlExecutor,
  head: string,
  keys: readonly SqlValue[],
  leading: readonly SqlValue[] = [],
): Promise<R[]> {
  const out: R[] = [];
  await inChunks(keys.length, chunkRows(1, 512, MAX_PARAMS - leading.length), async (at, count) => {
    const text = cachedText(`W${count}\u0000${head}`, () => `${head} IN (${placeholders(count)})`);
    const params =
      leading.length === 0 ? keys.slice(at, at + count) : [...leading, ...keys.slice(at, at + count)];
    for (const row of await sql.all<R>(text, params)) out.push(row);
  });
  return out;
}
