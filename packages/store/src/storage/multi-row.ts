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
export const MAX_ROWS = 64;
/** Most values bound to one statement (SQLite's historical limit of variables, which every build accepts). */
export const MAX_PARAMS = 999;

/** The shape of a multi-row INSERT: `head (?, …), (?, …) tail`. */
export interface InsertShape {
  /** Everything before the values, ending with `VALUES`, e.g. `INSERT INTO t (a, b) VALUES`. */
  readonly head: string;
  /** Values per row. */
  readonly width: number;
  /** Anything after the values (an `ON CONFLICT` clause), or nothing. */
  readonly tail?: string;
}

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

/**
 * Inserts the rows held in `values` (row after row, `shape.width` values each) in as few statements as the limits
 * allow. Returns SQLite's count of rows changed.
 */
export async function insertRows(
  sql: SqlExecutor,
  shape: InsertShape,
  values: readonly SqlValue[],
): Promise<number> {
  const { width, head, tail } = shape;
  if (values.length % width !== 0)
    throw new RangeError(`insertRows: ${values.length} values are not rows of ${width}`);
  let changes = 0;
  await inChunks(values.length / width, chunkRows(width, MAX_ROWS), async (at, count) => {
    const text = cachedText(`I${count}\u0000${width}\u0000${head}\u0000${tail ?? ''}`, () => {
      const row = `(${placeholders(width)})`;
      return `${head} ${Array.from({ length: count }, () => row).join(', ')}${tail ? ` ${tail}` : ''}`;
    });
    changes += (await sql.run(text, values.slice(at * width, (at + count) * width))).changes;
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
