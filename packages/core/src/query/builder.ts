import type {
  CompareFilter,
  CompareOp,
  ConstFilter,
  ExistsFilter,
  Filter,
  LogicFilter,
  MembershipFilter,
  MembershipOp,
  NotFilter,
  Query,
  ScalarInput,
  SortKey,
  StringFilter,
  StringOp,
} from './ast';
import { validateFilter, validateQuery } from './validate';

function compare(op: CompareOp) {
  return <F extends string>(field: F, value: ScalarInput): CompareFilter<F> =>
    validateFilter({ op, field, value }) as CompareFilter<F>;
}

function membership(op: MembershipOp) {
  return <F extends string>(field: F, values: readonly ScalarInput[]): MembershipFilter<F> =>
    validateFilter({ op, field, values }) as MembershipFilter<F>;
}

function text(op: StringOp) {
  return <F extends string>(field: F, value: string): StringFilter<F> =>
    validateFilter({ op, field, value }) as StringFilter<F>;
}

/**
 * Everything a query may hold besides its collection; see {@link Query}. `F` is the set of field paths the filter and
 * the sort keys may name: a typed API (`@loam/client`'s `find`, `@loam/store`'s engine) sets it to the paths of the
 * collection, so a misspelt or unqueryable field is a compile error.
 */
export interface QueryOptions<F extends string = string> {
  readonly filter?: Filter<F>;
  readonly sort?: readonly SortKey<F>[];
  readonly limit?: number;
  readonly offset?: number;
}

/**
 * Builders for filters and queries, for humans: `q.and(q.eq('storeId', 101), q.gt('price', 3))`.
 *
 * Every builder returns a plain AST node (see `ast.ts` for the semantics). Leaf builders check their operands
 * and throw `QueryError` on bad ones (NaN, invalid Date, empty path segment...); `Date` operands become epoch
 * milliseconds. `q.query` validates the whole query. Field names keep their literal types (`q.eq('price', 3)` is a
 * `CompareFilter<'price'>`), so where a typed API takes the filter, the schema checks them.
 */
export const q = {
  /** Null-safe equality: `q.eq('note', null)` matches documents without a note. */
  eq: compare('eq'),
  /** Exactly `not(eq)`: also matches documents where the field is missing. */
  ne: compare('ne'),
  /** Less than; false when the field is null. */
  lt: compare('lt'),
  /** Less than or equal; false when the field is null. */
  lte: compare('lte'),
  /** Greater than; false when the field is null. Every string is greater than every number. */
  gt: compare('gt'),
  /** Greater than or equal; false when the field is null. */
  gte: compare('gte'),
  /** Null-safe membership; `q.in(f, [])` matches nothing. */
  in: membership('in'),
  /** Exactly `not(in)`. */
  nin: membership('nin'),
  /** `exists(f)` is true when `f` is not null/missing; `exists(f, false)` when it is. */
  exists: <F extends string>(field: F, value = true): ExistsFilter<F> =>
    validateFilter({ op: 'exists', field, value }) as ExistsFilter<F>,
  /** Case-sensitive: the field is a string starting with `value`. */
  prefix: text('prefix'),
  /** Case-sensitive: the field is a string containing `value`. */
  contains: text('contains'),
  /** All of the filters (true when none are given). */
  and: <F extends string = never>(...filters: Filter<F>[]): LogicFilter<F> => ({ op: 'and', filters }),
  /** Any of the filters (false when none are given). */
  or: <F extends string = never>(...filters: Filter<F>[]): LogicFilter<F> => ({ op: 'or', filters }),
  /** The exact negation of `filter`. */
  not: <F extends string>(filter: Filter<F>): NotFilter<F> => ({ op: 'not', filter }),
  /** Matches every document. */
  true: (): ConstFilter => ({ op: 'true' }),
  /** Matches no document. */
  false: (): ConstFilter => ({ op: 'false' }),
  /** Ascending sort key: null first, then numbers, then strings. */
  asc: <F extends string>(field: F): SortKey<F> => ({ field, dir: 'asc' }),
  /** Descending sort key: strings first, then numbers, then null. */
  desc: <F extends string>(field: F): SortKey<F> => ({ field, dir: 'desc' }),
  /** A validated query; throws `QueryError` if any part is malformed. */
  query: <C extends string, F extends string = never>(
    collection: C,
    options: QueryOptions<F> = {},
  ): Query<C, F> => validateQuery({ collection, ...options }) as Query<C, F>,
} as const;
