import type { Filter, Scalar } from '../query/ast';
import { getField, isWellFormedString } from '../query/values';
import type { Claims, RuleFilter } from './rules';

/** Prefix of every placeholder: `%%user.<claim path>`. */
export const PLACEHOLDER_PREFIX = '%%user.';

/** Strings starting with this are reserved for placeholders in rule filters. */
export const RESERVED_PREFIX = '%%';

const UNRESOLVED = Symbol('unresolved');

function claimOf(placeholder: string, claims: Claims): unknown {
  return getField(claims, placeholder.slice(PLACEHOLDER_PREFIX.length));
}

function isClaimScalar(value: unknown): value is string | number | boolean {
  if (typeof value === 'string') return isWellFormedString(value);
  return typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value));
}

function scalar(value: Scalar, claims: Claims): Scalar | typeof UNRESOLVED {
  if (typeof value !== 'string' || !value.startsWith(RESERVED_PREFIX)) return value;
  const claim = claimOf(value, claims);
  return isClaimScalar(claim) ? claim : UNRESOLVED;
}

function walk(filter: RuleFilter, claims: Claims): Filter | typeof UNRESOLVED {
  switch (filter.op) {
    case 'true':
    case 'false':
      return { op: filter.op };
    case 'and':
    case 'or': {
      const filters: Filter[] = [];
      for (const child of filter.filters) {
        const resolved = walk(child, claims);
        if (resolved === UNRESOLVED) return UNRESOLVED;
        filters.push(resolved);
      }
      return { op: filter.op, filters };
    }
    case 'not': {
      const inner = walk(filter.filter, claims);
      return inner === UNRESOLVED ? UNRESOLVED : { op: 'not', filter: inner };
    }
    case 'exists':
      return filter;
    case 'prefix':
    case 'contains': {
      const value = scalar(filter.value, claims);
      return typeof value === 'string' ? { op: filter.op, field: filter.field, value } : UNRESOLVED;
    }
    case 'in':
    case 'nin': {
      if (typeof filter.values === 'string') {
        const claim = claimOf(filter.values, claims);
        if (!Array.isArray(claim) || !claim.every(isClaimScalar)) return UNRESOLVED;
        return { op: filter.op, field: filter.field, values: [...claim] };
      }
      const values: Scalar[] = [];
      for (const v of filter.values) {
        const resolved = scalar(v, claims);
        if (resolved === UNRESOLVED) return UNRESOLVED;
        values.push(resolved);
      }
      return { op: filter.op, field: filter.field, values };
    }
    default: {
      const value = scalar(filter.value, claims);
      return value === UNRESOLVED ? UNRESOLVED : { op: filter.op, field: filter.field, value };
    }
  }
}

/**
 * Replaces every `%%user.<claim>` placeholder of a rule filter with the claim's value and returns a plain
 * query filter. `true`/`false` become the constant filters. If any placeholder does not resolve to a string,
 * finite number or boolean (strings well-formed; or, for a whole `in`/`nin` values placeholder, an array of those), or a
 * `prefix`/`contains` placeholder to a string, the result is `{ op: 'false' }`: a missing claim never widens
 * access, not even under `not`. Strings coming from claims are not themselves treated as placeholders.
 */
export function substituteClaims(filter: RuleFilter | boolean, claims: Claims): Filter {
  if (typeof filter === 'boolean') return { op: filter ? 'true' : 'false' };
  const resolved = walk(filter, claims);
  return resolved === UNRESOLVED ? { op: 'false' } : resolved;
}
