/**
 * The checks of a write intent: `checkIntent`, what needs no document state (the client runs it before sending,
 * the writer again before writing), and `checkPatchedObjects`, what a dotted-path update needs the document for.
 * Both throw `ValidationError` (every problem listed) or `SchemaError`, before anything is produced.
 */
import { type Problem, ValidationError } from '../errors';
import { type DocId, isDocId } from '../ids/ids';
import { type DocState, materialize } from '../merge/doc-state';
import { type CollectionDef, type FieldDef, getCollection, type Schema } from '../schema/schema';
import { assertValid, checkFieldValue, validate } from '../schema/validate';
import type { WriteIntent } from './intents';

/** Throws a `ValidationError` with one problem. */
export function problem(
  collection: string,
  path: (string | number)[],
  expected: string,
  found: string,
): never {
  throw new ValidationError(collection, [{ path, expected, found }]);
}

function crdtFieldDef(
  col: CollectionDef,
  collection: string,
  field: string,
  kind: 'list' | 'text',
): FieldDef {
  const def = Object.hasOwn(col.fields, field) ? col.fields[field] : undefined;
  if (def?.kind !== kind)
    problem(collection, [field], `${kind} field`, def ? `${def.kind} field` : 'no such field');
  return def;
}

function checkPosition(collection: string, field: string, what: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0)
    problem(collection, [field], `${what}: a whole number ≥ 0`, String(value));
}

/**
 * Checks what can be checked of an intent without the document's state: the collection exists, values fit the
 * schema, counters take integers, list and text edits name such a field with whole-number positions. Throws
 * `SchemaError` or `ValidationError` (every problem listed). The client runs it before sending an intent to the
 * worker; the writer runs it again, then the checks that need the state.
 */
export function checkIntent(schema: Schema, intent: WriteIntent): void {
  const { collection } = intent;
  const col = getCollection(schema, collection);
  switch (intent.kind) {
    case 'insert':
      assertValid(collection, col, intent.doc, 'insert');
      return;
    case 'upsert': {
      const problems = validate(col, { ...intent.doc, id: undefined }, 'patch');
      if (!isDocId(intent.id))
        problems.push({ path: ['id'], expected: 'document id (1-128 characters)', found: String(intent.id) });
      else if (intent.doc.id !== undefined && intent.doc.id !== intent.id)
        problems.push({
          path: ['id'],
          expected: `no id, or ${JSON.stringify(intent.id)}`,
          found: String(intent.doc.id),
        });
      for (const key of Object.keys(intent.doc))
        if (key.includes('.'))
          problems.push({
            path: key.split('.'),
            expected: 'a whole document (no dotted paths)',
            found: 'a path',
          });
      if (problems.length) throw new ValidationError(collection, problems);
      return;
    }
    case 'update':
      assertValid(collection, col, intent.patch, 'patch');
      return;
    case 'increment': {
      const def = Object.hasOwn(col.fields, intent.field) ? col.fields[intent.field] : undefined;
      if (def?.kind !== 'counter')
        problem(collection, [intent.field], 'counter field', def ? `${def.kind} field` : 'no such field');
      if (!Number.isSafeInteger(intent.by))
        problem(collection, [intent.field], 'integer increment', String(intent.by));
      return;
    }
    case 'delete':
      return;
    case 'listInsert':
    case 'textInsert': {
      const kind = intent.kind === 'listInsert' ? 'list' : 'text';
      const def = crdtFieldDef(col, collection, intent.field, kind);
      checkPosition(collection, intent.field, 'index', intent.index);
      const problems: Problem[] = [];
      checkFieldValue(
        def,
        intent.kind === 'listInsert' ? intent.items : intent.text,
        [intent.field],
        problems,
      );
      if (problems.length) throw new ValidationError(collection, problems);
      return;
    }
    case 'listDelete':
    case 'textDelete':
      crdtFieldDef(col, collection, intent.field, intent.kind === 'listDelete' ? 'list' : 'text');
      checkPosition(collection, intent.field, 'index', intent.index);
      checkPosition(collection, intent.field, 'count', intent.count);
      return;
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

/** A copy of `value` with `path` set to `v` (removed when `v` is null or undefined), empty objects pruned. */
function withPath(value: unknown, path: readonly string[], v: unknown): Record<string, unknown> | undefined {
  const out: Record<string, unknown> = isPlainObject(value) ? { ...value } : {};
  const [head, ...rest] = path as [string, ...string[]];
  const next = rest.length === 0 ? (v ?? undefined) : withPath(out[head], rest, v);
  if (next === undefined) delete out[head];
  else out[head] = next;
  return Object.keys(out).length === 0 ? undefined : out;
}

/**
 * The document as it reads after an update by `patch` (keys are field names or dotted paths into object fields),
 * as the merge materialises it: a null or undefined value removes the field, an object left empty is removed.
 * `doc` is not changed.
 */
export function patchedDoc(
  doc: Readonly<Record<string, unknown>>,
  patch: Readonly<Record<string, unknown>>,
): Record<string, unknown> {
  let out: Record<string, unknown> = { ...doc };
  for (const [key, value] of Object.entries(patch)) out = withPath(out, key.split('.'), value) ?? {};
  return out;
}

/**
 * Refuses an update whose dotted paths would leave an object field without a required leaf (or a required object
 * field empty): the object as it will read after the patch is checked like an inserted one.
 */
export function checkPatchedObjects(
  col: CollectionDef,
  collection: string,
  id: DocId,
  state: DocState,
  patch: Readonly<Record<string, unknown>>,
): void {
  const paths = Object.keys(patch).filter((key) => key.includes('.'));
  if (paths.length === 0) return;
  const doc = materialize(col, id, state) ?? { id };
  const patched = new Map<string, unknown>();
  for (const key of paths) {
    const [top, ...rest] = key.split('.') as [string, ...string[]];
    patched.set(top, withPath(patched.has(top) ? patched.get(top) : doc[top], rest, patch[key]));
  }
  const problems: Problem[] = [];
  for (const [top, value] of patched) {
    const def = col.fields[top] as FieldDef;
    if (value !== undefined) checkFieldValue(def, value, [top], problems);
    else if (!def.optional) problems.push({ path: [top], expected: 'object', found: 'missing' });
  }
  if (problems.length) throw new ValidationError(collection, problems);
}
