import type { Filter, Query, QueryDoc, Scalar, SortKey } from './ast';
import {
  compareNormalized,
  compareStrings,
  getField,
  type Normalized,
  normalizeValue,
  OPAQUE,
} from './values';

function isEqual(field: Normalized, value: Normalized): boolean {
  if (field === OPAQUE || value === OPAQUE) return false;
  if (field === null || value === null) return field === value;
  return compareNormalized(field, value) === 0;
}

function isMember(field: Normalized, values: readonly Scalar[]): boolean {
  for (const v of values) if (isEqual(field, normalizeValue(v))) return true;
  return false;
}

function ordered(field: Normalized, value: Scalar): -1 | 0 | 1 | undefined {
  const v = normalizeValue(value);
  if (field === null || field === OPAQUE || v === null || v === OPAQUE) return undefined;
  return compareNormalized(field, v);
}

/**
 * Evaluates a filter against one document with the semantics stated in `ast.ts`. The filter must be valid
 * (as returned by `validateFilter` or built with `q`); the document may be any object.
 */
export function evaluateFilter(filter: Filter, doc: QueryDoc): boolean {
  switch (filter.op) {
    case 'true':
      return true;
    case 'false':
      return false;
    case 'and':
      return filter.filters.every((f) => evaluateFilter(f, doc));
    case 'or':
      return filter.filters.some((f) => evaluateFilter(f, doc));
    case 'not':
      return !evaluateFilter(filter.filter, doc);
    case 'in':
    case 'nin':
      return isMember(normalizeValue(getField(doc, filter.field)), filter.values) === (filter.op === 'in');
    case 'exists':
      return (normalizeValue(getField(doc, filter.field)) !== null) === filter.value;
    case 'prefix':
    case 'contains': {
      const v = normalizeValue(getField(doc, filter.field));
      if (typeof v !== 'string') return false;
      return filter.op === 'prefix' ? v.startsWith(filter.value) : v.includes(filter.value);
    }
    case 'eq':
    case 'ne':
      return (
        isEqual(normalizeValue(getField(doc, filter.field)), normalizeValue(filter.value)) ===
        (filter.op === 'eq')
      );
    case 'lt':
    case 'lte':
    case 'gt':
    case 'gte': {
      const c = ordered(normalizeValue(getField(doc, filter.field)), filter.value);
      if (c === undefined) return false;
      if (filter.op === 'lt') return c < 0;
      if (filter.op === 'lte') return c <= 0;
      if (filter.op === 'gt') return c > 0;
      return c >= 0;
    }
  }
}

/**
 * Compares two documents by the sort keys, then by `id` ascending (code-point order): the exact order of
 * {@link runQuery}, and of `ORDER BY key..., id` in SQLite.
 */
export function compareDocs(sort: readonly SortKey[], a: QueryDoc, b: QueryDoc): number {
  for (const key of sort) {
    const c = compareNormalized(
      normalizeValue(getField(a, key.field)),
      normalizeValue(getField(b, key.field)),
    );
    if (c !== 0) return key.dir === 'asc' ? c : -c;
  }
  return compareStrings(String(a.id ?? ''), String(b.id ?? ''));
}

/**
 * Runs a query over documents of its collection: filter, sort (keys, then `id`), skip `offset`, keep `limit`.
 * Returns a new array of the same document objects; the input is not modified. The query must be valid.
 */
export function runQuery<D extends QueryDoc>(query: Query, docs: Iterable<D>): D[] {
  const filter = query.filter;
  const matched: D[] = [];
  for (const doc of docs) if (filter === undefined || evaluateFilter(filter, doc)) matched.push(doc);
  const sort = query.sort ?? [];
  matched.sort((a, b) => compareDocs(sort, a, b));
  const start = query.offset ?? 0;
  const end = query.limit === undefined ? undefined : start + query.limit;
  return start === 0 && end === undefined ? matched : matched.slice(start, end);
}
