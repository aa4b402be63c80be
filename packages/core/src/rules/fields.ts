import type { Filter, Query } from '../query/ast';
import type { FieldList } from './rules';

/**
 * Whether a field list grants `path`: `'*'` grants everything; a listed path grants itself and every path
 * below it (`address` grants `address.city`), never the paths above it.
 */
export function grantsField(list: FieldList, path: string): boolean {
  if (list === '*') return true;
  return list.some((granted) => path === granted || path.startsWith(`${granted}.`));
}

type PathTree = Map<string, PathTree | true>;

function buildTree(paths: readonly string[]): PathTree {
  const root: PathTree = new Map();
  for (const path of paths) {
    const segments = path.split('.');
    let node = root;
    for (let i = 0; i < segments.length; i++) {
      const key = segments[i] as string;
      const existing = node.get(key);
      if (existing === true) break;
      if (i === segments.length - 1) {
        node.set(key, true);
        break;
      }
      const child: PathTree = existing ?? new Map();
      node.set(key, child);
      node = child;
    }
  }
  return root;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function pick(source: Record<string, unknown>, tree: PathTree): Record<string, unknown> | undefined {
  const out: Record<string, unknown> = {};
  let any = false;
  for (const [key, sub] of tree) {
    if (!Object.hasOwn(source, key)) continue;
    const value = source[key];
    if (sub === true) {
      out[key] = value;
      any = true;
    } else if (isPlainObject(value)) {
      const nested = pick(value, sub);
      if (nested !== undefined) {
        out[key] = nested;
        any = true;
      }
    }
  }
  return any ? out : undefined;
}

/**
 * A new object holding only the granted fields of `doc` (plus `id`). Nested paths keep only their granted
 * leaves; an object none of whose granted leaves is present is left out, so its existence is not revealed.
 * Values are shared with `doc`, which is not modified.
 */
export function pickFields(
  doc: { readonly [field: string]: unknown },
  list: FieldList,
): Record<string, unknown> {
  if (list === '*') return { ...doc };
  const picked = pick(doc as Record<string, unknown>, buildTree([...list, 'id'])) ?? {};
  return picked;
}

function collect(filter: Filter, into: Set<string>): void {
  switch (filter.op) {
    case 'true':
    case 'false':
      return;
    case 'and':
    case 'or':
      for (const child of filter.filters) collect(child, into);
      return;
    case 'not':
      collect(filter.filter, into);
      return;
    default:
      into.add(filter.field);
  }
}

/** Every field path a query reads: those of its filter and of its sort keys. */
export function fieldsOfQuery(query: Pick<Query, 'filter' | 'sort'>): Set<string> {
  const fields = new Set<string>();
  if (query.filter !== undefined) collect(query.filter, fields);
  for (const key of query.sort ?? []) fields.add(key.field);
  return fields;
}
