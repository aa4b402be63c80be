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
  return (field: string, value: ScalarInput): CompareFilter =>
    validateFilter({ op, field, value }) as CompareFilter;
}

function membership(op: MembershipOp) {
  return (field: string, values: readonly ScalarInput[]): MembershipFilter =>
    validateFilter({ op, field, values }) as MembershipFilter;
}

function text(op: StringOp) {
  return (field: string, value: string): StringFilter => validateFilter({ op, field, value }) as StringFilter;
}

/** Everything a query may hold besides its collection; see {@link Query}. */
export interface QueryOptions {
  readonly filter?: Filter;
  readonly sort?: readonly SortKey[];
  readonly limit?: number;
  readonly offset?: number;
}

/**
 * Builders for filters and queries, for humans: `q.and(q.eq('storeId', 101), q.gt('price', 3))`.
 *
 * Every builder returns a plain AST node (see `ast.ts` for the semantics). Leaf builders check their operands
 * and throw `QueryError` on bad ones (NaN, invalid Date, empty path segment...); `Date` operands become epoch
 * milliseconds. `q.query` validates the whole query.
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
  exists: (field: string, value = true): ExistsFilter =>
    validateFilter({ op: 'exists', field, value }) as ExistsFilter,
  /** Case-sensitive: the field is a string starting with `value`. */
  prefix: text('prefix'),
  /** Case-sensitive: the field is a string containing `value`. */
  contains: text('contains'),
  /** All of the filters (true when none are given). */
  and: (...filters: Filter[]): LogicFilter => ({ op: 'and', filters }),
  /** Any of the filters (false when none are given). */
  or: (...filters: Filter[]): LogicFilter => ({ op: 'or', filters }),
  /** The exact negation of `filter`. */
  not: (filter: Filter): NotFilter => ({ op: 'not', filter }),
  /** Matches every document. */
  true: (): ConstFilter => ({ op: 'true' }),
  /** Matches no document. */
  false: (): ConstFilter => ({ op: 'false' }),
  /** Ascending sort key: null first, then numbers, then strings. */
  asc: (field: string): SortKey => ({ field, dir: 'asc' }),
  /** Descending sort key: strings first, then numbers, then null. */
  desc: (field: string): SortKey => ({ field, dir: 'desc' }),
  /** A validated query; throws `QueryError` if any part is malformed. */
  query: (collection: string, options: QueryOptions = {}): Query => validateQuery({ collection, ...options }),
} as const;
