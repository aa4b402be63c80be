/**
 * The query language: one JSON-serialisable AST shared by the client (live queries), the server (rules,
 * subscriptions) and the SQL compiler of `@loam/store`. This file is the contract; `evaluate.ts` is the
 * reference implementation and the SQL compiler must agree with it on every input (a differential test
 * enforces it against real SQLite).
 *
 * ## Values
 * A document field value is normalised before it is compared:
 * - `undefined`, `null`, a missing field, `NaN` and an invalid `Date` are all **null**;
 * - booleans are the **numbers** 0 and 1 (SQLite stores them so);
 * - a `Date` is the **number** of its epoch milliseconds (SQLite stores dates so);
 * - finite numbers are numbers (±Infinity too, they sort at the ends); strings are strings;
 * - anything else (arrays, objects, byte arrays) is **opaque**: never equal to, less or greater than
 *   anything, not a string, but not null (`exists` is true for it). Opaque values never reach SQL: only
 *   scalar field paths are columns.
 *
 * Filter operands are JSON scalars (`null`, boolean, finite number, string); `Date` operands are converted
 * to epoch milliseconds by the builder and by {@link validateQuery}, so an AST always survives `JSON.stringify`.
 *
 * ## Order (SQLite's order for values in columns without type affinity)
 * null < numbers (booleans and dates included) < strings. Numbers compare numerically (`-0` equals `0`).
 * Strings compare by Unicode code point, which is SQLite's BINARY collation on UTF-8 bytes, and differs from
 * JavaScript's `<` (UTF-16 code units) for astral characters against U+E000–U+FFFF. Strings are assumed
 * well-formed (no lone surrogates: schema validation and {@link validateQuery} reject them).
 *
 * ## Filter semantics (two-valued: every filter is true or false, never unknown)
 * - `eq`/`ne` are null-safe (SQL `IS`/`IS NOT`): `eq(f, null)` matches a missing field; `ne(f, 1)` matches a
 *   document without `f`. `ne` is exactly `not(eq)`; on an opaque value `eq` is false and `ne` true.
 * - `lt`/`lte`/`gt`/`gte` are false when either side is null (or the field opaque); otherwise they follow the
 *   order above, so `gt(f, 5)` is true for every string value of `f`.
 * - `in` is true when some listed value is `eq` to the field (so `null` in the list matches missing fields);
 *   `nin` is exactly `not(in)`. `in(f, [])` is false.
 * - `exists(f, true)` is true when the field is not null (opaque values exist); `exists(f, false)` is its negation.
 * - `prefix`/`contains` are case-sensitive and only true for string field values; the empty string is a prefix
 *   of, and contained in, every string.
 * - `and([])` is true, `or([])` is false, `not(x)` is exactly the negation of `x`; `true`/`false` are constants.
 *
 * ## Fields
 * A field is a dotted path into nested plain objects (`address.city`). Only own properties of plain objects are
 * followed: a path through a missing key, a scalar, an array or a `Date` yields null. `id` is the document's id.
 *
 * ## Queries
 * Filter, then sort by each key in turn (asc puts null first, desc puts null last; opaque values sort after
 * strings), ties always broken by `id` ascending (code-point order), then skip `offset`, then keep `limit`.
 */

/** The value of a comparison operand in the AST. Dates are stored as epoch milliseconds. */
export type Scalar = null | boolean | number | string;

/** A value the builder accepts as an operand: a {@link Scalar}, or a `Date` (converted to epoch ms). */
export type ScalarInput = Scalar | Date;

/** Comparison operators taking one value. */
export type CompareOp = 'eq' | 'ne' | 'lt' | 'lte' | 'gt' | 'gte';
/** Membership operators taking a list of values. */
export type MembershipOp = 'in' | 'nin';
/** String operators taking a string. */
export type StringOp = 'prefix' | 'contains';

/**
 * `field op value`, see the module documentation for null handling and cross-type order. The type parameter of this
 * and every filter node is the set of field paths it may name: `string` for filters from the network, the paths of
 * a collection (`QueryPath` of `@loam/core`) where a typed API takes them.
 */
export interface CompareFilter<F extends string = string> {
  readonly op: CompareOp;
  readonly field: F;
  readonly value: Scalar;
}

/** Null-safe membership: `in` matches when the field `eq`s some value; `nin` is its exact negation. */
export interface MembershipFilter<F extends string = string> {
  readonly op: MembershipOp;
  readonly field: F;
  readonly values: readonly Scalar[];
}

/** `exists(f, true)` is true when `f` is not null; `exists(f, false)` when it is. */
export interface ExistsFilter<F extends string = string> {
  readonly op: 'exists';
  readonly field: F;
  readonly value: boolean;
}

/** Case-sensitive string test; false for every non-string field value. */
export interface StringFilter<F extends string = string> {
  readonly op: StringOp;
  readonly field: F;
  readonly value: string;
}

/** Conjunction (`and`, true when empty) or disjunction (`or`, false when empty). */
export interface LogicFilter<F extends string = string> {
  readonly op: 'and' | 'or';
  readonly filters: readonly Filter<F>[];
}

/** Exact negation. */
export interface NotFilter<F extends string = string> {
  readonly op: 'not';
  readonly filter: Filter<F>;
}

/** The constants, useful in rules (`read: true`) and as neutral elements. */
export interface ConstFilter {
  readonly op: 'true' | 'false';
}

/** A filter: a JSON-serialisable boolean expression over one document, naming fields among `F`. */
export type Filter<F extends string = string> =
  | CompareFilter<F>
  | MembershipFilter<F>
  | ExistsFilter<F>
  | StringFilter<F>
  | LogicFilter<F>
  | NotFilter<F>
  | ConstFilter;

/** Every filter operator. */
export const FilterOp = {
  eq: 'eq',
  ne: 'ne',
  lt: 'lt',
  lte: 'lte',
  gt: 'gt',
  gte: 'gte',
  in: 'in',
  nin: 'nin',
  exists: 'exists',
  prefix: 'prefix',
  contains: 'contains',
  and: 'and',
  or: 'or',
  not: 'not',
  true: 'true',
  false: 'false',
} as const;
export type FilterOp = (typeof FilterOp)[keyof typeof FilterOp];

/** Sort direction. */
export type SortDir = 'asc' | 'desc';

/** One sort key. Later keys break ties of earlier ones; `id` ascending breaks the remaining ties. */
export interface SortKey<F extends string = string> {
  readonly field: F;
  readonly dir: SortDir;
}

/**
 * A query over collection `C`: filter, sort, then `offset`, then `limit` (both non-negative integers), naming
 * fields among `F`.
 */
export interface Query<C extends string = string, F extends string = string> {
  readonly collection: C;
  readonly filter?: Filter<F>;
  readonly sort?: readonly SortKey<F>[];
  readonly limit?: number;
  readonly offset?: number;
}

/** A document as the evaluator sees it: a plain object; `id` is a string for stored documents. */
export type QueryDoc = { readonly [field: string]: unknown };

/** Bounds enforced by {@link validateQuery} so that input from the network stays cheap to check and compile. */
export const QueryLimits = {
  /** Deepest nesting of `and`/`or`/`not`. */
  maxDepth: 32,
  /** Filter nodes plus `in`/`nin` values, over the whole filter. */
  maxNodes: 5000,
  /** Sort keys. */
  maxSortKeys: 16,
  /** Characters in a field path. */
  maxFieldLength: 512,
} as const;
