import { QueryError } from '../errors';
import { type Filter, type Query, QueryLimits, type Scalar, type SortKey } from './ast';
import { isWellFormedString } from './values';

class Budget {
  nodes = 0;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (value instanceof Date) return 'an invalid Date';
  if (typeof value === 'number') return String(value);
  if (typeof value === 'string')
    return `string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  return typeof value;
}

function fail(at: string, message: string): never {
  throw new QueryError(`Invalid query at ${at}: ${message}`);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function checkKeys(node: Record<string, unknown>, allowed: readonly string[], at: string): void {
  for (const key of Object.keys(node)) {
    if (!allowed.includes(key))
      fail(at, `unexpected key ${JSON.stringify(key)} (allowed: ${allowed.join(', ')})`);
  }
}

function checkString(value: unknown, at: string): string {
  if (typeof value !== 'string') fail(at, `expected a string, found ${describe(value)}`);
  if (!isWellFormedString(value)) fail(at, 'strings must be well-formed Unicode (no lone surrogates)');
  return value;
}

/**
 * Checks a dotted field path: non-empty segments, at most `QueryLimits.maxFieldLength` characters.
 * Returns it unchanged or throws {@link QueryError}.
 */
export function validateFieldPath(value: unknown, at = 'field'): string {
  const path = checkString(value, at);
  if (path.length === 0 || path.length > QueryLimits.maxFieldLength) {
    fail(at, `a field path has 1 to ${QueryLimits.maxFieldLength} characters`);
  }
  if (path.split('.').some((segment) => segment.length === 0)) {
    fail(at, `field path ${JSON.stringify(path)} has an empty segment`);
  }
  return path;
}

function checkScalar(value: unknown, at: string): Scalar {
  if (value === null || typeof value === 'boolean') return value;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) fail(at, `numbers must be finite, found ${describe(value)}`);
    return value;
  }
  if (typeof value === 'string') return checkString(value, at);
  if (value instanceof Date) {
    const ms = value.getTime();
    if (Number.isNaN(ms)) fail(at, 'found an invalid Date');
    return ms;
  }
  return fail(at, `expected null, a boolean, a finite number, a string or a Date, found ${describe(value)}`);
}

function checkFilter(input: unknown, at: string, depth: number, budget: Budget): Filter {
  if (!isPlainObject(input)) fail(at, `expected a filter object, found ${describe(input)}`);
  budget.nodes += 1;
  if (budget.nodes > QueryLimits.maxNodes)
    fail(at, `filter is larger than ${QueryLimits.maxNodes} nodes and values`);
  const op = input.op;
  switch (op) {
    case 'true':
    case 'false':
      checkKeys(input, ['op'], at);
      return { op };
    case 'and':
    case 'or': {
      checkKeys(input, ['op', 'filters'], at);
      if (depth >= QueryLimits.maxDepth) fail(at, `filters nest deeper than ${QueryLimits.maxDepth} levels`);
      const filters = input.filters;
      if (!Array.isArray(filters)) fail(`${at}.filters`, `expected an array, found ${describe(filters)}`);
      return { op, filters: filters.map((f, i) => checkFilter(f, `${at}.filters[${i}]`, depth + 1, budget)) };
    }
    case 'not':
      checkKeys(input, ['op', 'filter'], at);
      if (depth >= QueryLimits.maxDepth) fail(at, `filters nest deeper than ${QueryLimits.maxDepth} levels`);
      return { op, filter: checkFilter(input.filter, `${at}.filter`, depth + 1, budget) };
    case 'eq':
    case 'ne':
    case 'lt':
    case 'lte':
    case 'gt':
    case 'gte':
      checkKeys(input, ['op', 'field', 'value'], at);
      return {
        op,
        field: validateFieldPath(input.field, `${at}.field`),
        value: checkScalar(input.value, `${at}.value`),
      };
    case 'in':
    case 'nin': {
      checkKeys(input, ['op', 'field', 'values'], at);
      const field = validateFieldPath(input.field, `${at}.field`);
      const values = input.values;
      if (!Array.isArray(values)) fail(`${at}.values`, `expected an array, found ${describe(values)}`);
      budget.nodes += values.length;
      if (budget.nodes > QueryLimits.maxNodes)
        fail(at, `filter is larger than ${QueryLimits.maxNodes} nodes and values`);
      return { op, field, values: values.map((v, i) => checkScalar(v, `${at}.values[${i}]`)) };
    }
    case 'exists': {
      checkKeys(input, ['op', 'field', 'value'], at);
      const field = validateFieldPath(input.field, `${at}.field`);
      if (typeof input.value !== 'boolean')
        fail(`${at}.value`, `expected a boolean, found ${describe(input.value)}`);
      return { op, field, value: input.value };
    }
    case 'prefix':
    case 'contains':
      checkKeys(input, ['op', 'field', 'value'], at);
      return {
        op,
        field: validateFieldPath(input.field, `${at}.field`),
        value: checkString(input.value, `${at}.value`),
      };
    default:
      return fail(`${at}.op`, `unknown operator ${describe(op)}`);
  }
}

function guard<T>(run: () => T): T {
  try {
    return run();
  } catch (error) {
    if (error instanceof QueryError) throw error;
    throw new QueryError(`Invalid query: it could not be read (${String(error)})`);
  }
}

/**
 * Checks untrusted input (a network frame, a rules file) and returns it as a {@link Filter}: a fresh copy with
 * only the known keys, `Date` operands converted to epoch ms. Never throws anything but {@link QueryError}.
 *
 * Rejects: non-objects, unknown operators or keys, missing operands, operands of the wrong type, non-finite
 * numbers, strings with lone surrogates, empty field path segments, and filters beyond `QueryLimits`.
 */
export function validateFilter(input: unknown): Filter {
  return guard(() => checkFilter(input, 'filter', 0, new Budget()));
}

function checkCount(value: unknown, at: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    fail(at, `expected a non-negative integer, found ${describe(value)}`);
  }
  return value;
}

function checkSort(input: unknown): SortKey[] {
  if (!Array.isArray(input)) fail('sort', `expected an array, found ${describe(input)}`);
  if (input.length > QueryLimits.maxSortKeys) fail('sort', `at most ${QueryLimits.maxSortKeys} sort keys`);
  return input.map((key, i) => {
    const at = `sort[${i}]`;
    if (!isPlainObject(key)) fail(at, `expected { field, dir }, found ${describe(key)}`);
    checkKeys(key, ['field', 'dir'], at);
    const field = validateFieldPath(key.field, `${at}.field`);
    if (key.dir !== 'asc' && key.dir !== 'desc')
      fail(`${at}.dir`, `expected "asc" or "desc", found ${describe(key.dir)}`);
    return { field, dir: key.dir };
  });
}

/**
 * Checks untrusted input and returns it as a {@link Query} (a fresh copy, see {@link validateFilter}).
 * `collection` must be a non-empty string; `limit` and `offset` non-negative safe integers; unknown keys are
 * rejected. Never throws anything but {@link QueryError}.
 */
export function validateQuery(input: unknown): Query {
  return guard(() => {
    if (!isPlainObject(input)) fail('query', `expected a query object, found ${describe(input)}`);
    checkKeys(input, ['collection', 'filter', 'sort', 'limit', 'offset'], 'query');
    const collection = checkString(input.collection, 'collection');
    if (collection.length === 0) fail('collection', 'must not be empty');
    const query: { -readonly [K in keyof Query]: Query[K] } = { collection };
    if (input.filter !== undefined) query.filter = checkFilter(input.filter, 'filter', 0, new Budget());
    if (input.sort !== undefined) query.sort = checkSort(input.sort);
    if (input.limit !== undefined) query.limit = checkCount(input.limit, 'limit');
    if (input.offset !== undefined) query.offset = checkCount(input.offset, 'offset');
    return query;
  });
}
