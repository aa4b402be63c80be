import type { QueryDoc } from './ast';

/**
 * A value after normalisation (see `ast.ts`): null, a number, a string, or {@link OPAQUE} for arrays, objects
 * and other values that no comparison matches.
 */
export type Normalized = null | number | string | typeof OPAQUE;

/** Marker for values that are not comparable (arrays, objects...): they exist but match no comparison. */
export const OPAQUE: unique symbol = Symbol('loam.opaque');

/**
 * Normalises a stored or operand value: `undefined`/`null`/`NaN`/invalid dates become null, booleans 0/1,
 * dates epoch ms; numbers and strings stay; everything else is {@link OPAQUE}.
 */
export function normalizeValue(value: unknown): Normalized {
  switch (typeof value) {
    case 'undefined':
      return null;
    case 'boolean':
      return value ? 1 : 0;
    case 'number':
      return Number.isNaN(value) ? null : value;
    case 'string':
      return value;
    case 'object': {
      if (value === null) return null;
      if (value instanceof Date) {
        const ms = value.getTime();
        return Number.isNaN(ms) ? null : ms;
      }
      return OPAQUE;
    }
    default:
      return OPAQUE;
  }
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Whether a string is well-formed UTF-16 (no lone surrogates), so that it has one UTF-8 encoding. */
export function isWellFormedString(value: string): boolean {
  return !LONE_SURROGATE.test(value);
}

function rank(c: number): number {
  if (c >= 0xe000) return c - 0x800;
  if (c >= 0xd800) return c + 0x2000;
  return c;
}

/**
 * Compares two well-formed strings by Unicode code point (SQLite BINARY collation on UTF-8), returning
 * -1, 0 or 1. Differs from `<` exactly when a surrogate pair meets a code unit in U+E000–U+FFFF.
 */
export function compareStrings(a: string, b: string): -1 | 0 | 1 {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return rank(x) < rank(y) ? -1 : 1;
  }
  return a.length < b.length ? -1 : 1;
}

function typeRank(v: Normalized): number {
  if (v === null) return 0;
  if (typeof v === 'number') return 1;
  if (typeof v === 'string') return 2;
  return 3;
}

/** {@link compareValues} on values already passed through {@link normalizeValue}. */
export function compareNormalized(a: Normalized, b: Normalized): -1 | 0 | 1 {
  const ta = typeRank(a);
  const tb = typeRank(b);
  if (ta !== tb) return ta < tb ? -1 : 1;
  if (typeof a === 'number' && typeof b === 'number') return a < b ? -1 : a > b ? 1 : 0;
  if (typeof a === 'string' && typeof b === 'string') return compareStrings(a, b);
  return 0;
}

/**
 * The total order used by sorting, on raw values (normalised first): null < numbers (booleans and dates as
 * numbers) < strings (code-point order) < opaque values (all equal to each other). Returns -1, 0 or 1.
 *
 * This is SQLite's order for values in columns without affinity; filters use it too, except that ordered
 * comparisons involving null or opaque values are false (see `ast.ts`).
 */
export function compareValues(a: unknown, b: unknown): -1 | 0 | 1 {
  return compareNormalized(normalizeValue(a), normalizeValue(b));
}

function isTraversable(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * Reads a dotted field path from a document, following only own properties of plain objects.
 * Returns `undefined` when any step is missing or not a plain object.
 */
export function getField(doc: QueryDoc, path: string): unknown {
  let current: unknown = doc;
  let start = 0;
  for (;;) {
    if (!isTraversable(current)) return undefined;
    const dot = path.indexOf('.', start);
    const key = dot === -1 ? path.slice(start) : path.slice(start, dot);
    if (!Object.hasOwn(current, key)) return undefined;
    current = current[key];
    if (dot === -1) return current;
    start = dot + 1;
  }
}
