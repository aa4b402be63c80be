/**
 * Validation of documents and patches against a collection's schema.
 *
 * `validate` never throws on bad input: it returns every problem it finds, each with its path, what the schema
 * expected and what was found. Callers refuse the write (nothing stored) when the list is not empty;
 * `assertValid` does exactly that with a `ValidationError`.
 */
import { type Problem, ValidationError } from '../errors';
import { isDocId } from '../ids/ids';
import { type CollectionDef, type FieldDef, fieldAt } from './schema';

/**
 * `insert`: a whole new document (required fields without defaults must be there); `patch`: any subset, where a
 * key may also be a dotted path into an `object` field (`'address.city'`).
 */
export type ValidationMode = 'insert' | 'patch';

/** Deepest nesting accepted inside `json` values and list items. */
export const MAX_JSON_DEPTH = 32;

function describe(value: unknown): string {
  if (value === undefined) return 'missing';
  if (value === null) return 'null';
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'invalid date' : 'date';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'string')
    return `string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  if (typeof value === 'number') return `number ${value}`;
  return typeof value;
}

function jsonProblem(value: unknown, depth: number): string | undefined {
  if (depth > MAX_JSON_DEPTH) return `nesting deeper than ${MAX_JSON_DEPTH}`;
  if (value === null || typeof value === 'boolean') return undefined;
  if (typeof value === 'number') return Number.isFinite(value) ? undefined : `number ${value}`;
  if (typeof value === 'string') return value.isWellFormed() ? undefined : 'string with lone surrogates';
  if (Array.isArray(value)) {
    for (const item of value) {
      const p = jsonProblem(item, depth + 1);
      if (p) return p;
    }
    return undefined;
  }
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    for (const item of Object.values(value as object)) {
      const p = jsonProblem(item, depth + 1);
      if (p) return p;
    }
    return undefined;
  }
  return describe(value);
}

/** Appends to `problems` what is wrong with `value` as a (present, non-null) value of field `def`. */
export function checkFieldValue(
  def: FieldDef,
  value: unknown,
  path: (string | number)[],
  problems: Problem[],
): void {
  const bad = (expected: string) => problems.push({ path, expected, found: describe(value) });
  switch (def.kind) {
    case 'string':
      if (typeof value !== 'string') bad('string');
      else if (!value.isWellFormed())
        problems.push({ path, expected: 'well-formed Unicode string', found: 'lone surrogate' });
      return;
    case 'ref':
      if (!isDocId(value)) bad(`id of a ${def.collection} document`);
      return;
    case 'number':
      if (typeof value !== 'number' || !Number.isFinite(value)) bad('finite number');
      return;
    case 'counter':
      if (!Number.isSafeInteger(value)) bad('integer (counters count whole units)');
      return;
    case 'boolean':
      if (typeof value !== 'boolean') bad('boolean');
      return;
    case 'date':
      if (!(value instanceof Date) || Number.isNaN(value.getTime())) bad('valid Date');
      return;
    case 'json': {
      const p = jsonProblem(value, 0);
      if (p) problems.push({ path, expected: 'JSON value', found: p });
      return;
    }
    case 'text':
      if (typeof value !== 'string') bad('string');
      else if (!value.isWellFormed())
        problems.push({ path, expected: 'well-formed Unicode string', found: 'lone surrogate' });
      return;
    case 'list':
      if (!Array.isArray(value)) bad('array');
      else
        value.forEach((item, i) => {
          const p = jsonProblem(item, 1);
          if (p) problems.push({ path: [...path, i], expected: 'JSON value', found: p });
        });
      return;
    case 'object':
      if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Date) {
        bad('object');
        return;
      }
      checkFields(def.fields, value as Record<string, unknown>, path, 'insert', problems);
      return;
  }
}

const fieldEntries = new WeakMap<object, readonly [string, FieldDef][]>();

/**
 * `Object.entries(fields)`, kept per field list (a schema does not change once defined): a bulk write validates
 * thousands of documents against one.
 */
function entriesOf(fields: { readonly [name: string]: FieldDef }): readonly [string, FieldDef][] {
  let entries = fieldEntries.get(fields);
  if (!entries) {
    entries = Object.entries(fields);
    fieldEntries.set(fields, entries);
  }
  return entries;
}

function checkFields(
  fields: { readonly [name: string]: FieldDef },
  value: Record<string, unknown>,
  prefix: (string | number)[],
  mode: ValidationMode,
  problems: Problem[],
): void {
  for (const [name, def] of entriesOf(fields)) {
    const v = Object.hasOwn(value, name) ? value[name] : undefined;
    const path = [...prefix, name];
    if (v === undefined || v === null) {
      const required =
        !def.optional &&
        !('default' in def) &&
        def.kind !== 'counter' &&
        def.kind !== 'list' &&
        def.kind !== 'text';
      const clearing = mode === 'patch' && Object.hasOwn(value, name);
      if ((mode === 'insert' && required) || (clearing && !def.optional)) {
        problems.push({ path, expected: def.kind === 'object' ? 'object' : def.kind, found: describe(v) });
      }
      continue;
    }
    checkFieldValue(def, v, path, problems);
  }
  for (const name of Object.keys(value)) {
    const dotted = mode === 'patch' && prefix.length === 0 && name.includes('.');
    if (!Object.hasOwn(fields, name) && !(prefix.length === 0 && name === 'id') && !dotted) {
      problems.push({ path: [...prefix, name], expected: 'no such field', found: describe(value[name]) });
    }
  }
}

/** Checks the dotted-path keys of a patch: each names a field inside an object and holds a valid value. */
function checkPaths(col: CollectionDef, patch: Record<string, unknown>, problems: Problem[]): void {
  const keys = Object.keys(patch);
  for (const key of keys) {
    if (!key.includes('.')) continue;
    const path = key.split('.');
    const top = Object.hasOwn(col.fields, path[0] as string) ? col.fields[path[0] as string] : undefined;
    const def = fieldAt(col, key);
    if (top?.kind !== 'object' || !def) {
      problems.push({ path, expected: 'a path into an object field', found: describe(patch[key]) });
      continue;
    }
    const overlap = keys.find(
      (other) => other !== key && (key.startsWith(`${other}.`) || other.startsWith(`${key}.`)),
    );
    if (overlap !== undefined) {
      problems.push({
        path,
        expected: `one write per path (it overlaps "${overlap}")`,
        found: describe(patch[key]),
      });
      continue;
    }
    const v = patch[key];
    if (v === undefined || v === null) {
      if (!def.optional) problems.push({ path, expected: def.kind, found: describe(v) });
    } else checkFieldValue(def, v, path, problems);
  }
}
/** Every problem of `value` as a document (`insert`) or patch of `col`; empty when valid. */
export function validate(col: CollectionDef, value: unknown, mode: ValidationMode): Problem[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return [{ path: [], expected: 'object', found: describe(value) }];
  }
  const problems: Problem[] = [];
  const record = value as Record<string, unknown>;
  if (Object.hasOwn(record, 'id') && record.id !== undefined) {
    if (mode === 'patch')
      problems.push({
        path: ['id'],
        expected: 'no id in a patch (ids never change)',
        found: describe(record.id),
      });
    else if (!isDocId(record.id))
      problems.push({ path: ['id'], expected: 'document id (1-128 characters)', found: describe(record.id) });
  }
  checkFields(col.fields, record, [], mode, problems);
  if (mode === 'patch') checkPaths(col, record, problems);
  return problems;
}

/** Throws `ValidationError` listing every problem, unless `value` is valid. */
export function assertValid(
  collection: string,
  col: CollectionDef,
  value: unknown,
  mode: ValidationMode,
): void {
  const problems = validate(col, value, mode);
  if (problems.length) throw new ValidationError(collection, problems);
}
