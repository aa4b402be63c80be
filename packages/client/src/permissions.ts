/**
 * `db.can(...)`: whether the relay would accept a write, judged on this device with the permissions the relay sent
 * for the session's token and the relay's own rules code (`checkPermission` of `@loam/core`). For hiding actions
 * a user may not take; the relay still checks every write, and a refused one is still undone and logged.
 *
 * Invariants:
 * 1. **Same judgement as the relay** for the write as the relay will see it: an insert's document with the
 *    schema's defaults filled in, and as touched fields the ones given with a value other than their default
 *    (the relay does not count defaults); an update's document before and after the patch (dotted paths set
 *    the leaf inside its object, null removes), touching the patch's fields and paths.
 * 2. **Unknown allows.** Without permissions (the relay never sent any, or the database does not sync), every
 *    write is allowed: nothing is hidden that might be permitted.
 */
import {
  checkPermission,
  type DocOf,
  getCollection,
  type NewDocOf,
  type PatchOf,
  type Permissions,
  patchedDoc,
  type Schema,
  type WriteRequest,
} from '@loam/core';

/**
 * A write to judge with `db.can`: an insert of `doc`, an update of `doc` by `patch`, a delete of `doc`, or an
 * upsert of `doc` under `id` over `current` (the live document with that id, or null when there is none: the
 * upsert is then judged as the insert it makes, else as the update).
 */
export type WriteCheck<S extends Schema, C extends keyof S['collections'] & string> =
  | { readonly action: 'insert'; readonly doc: NewDocOf<S, C> }
  | { readonly action: 'update'; readonly doc: DocOf<S, C>; readonly patch: PatchOf<S, C> }
  | { readonly action: 'delete'; readonly doc: DocOf<S, C> }
  | {
      readonly action: 'upsert';
      readonly id: string;
      readonly doc: NewDocOf<S, C>;
      readonly current: DocOf<S, C> | null;
    };

type Fields = Record<string, unknown>;

function isDefault(def: { kind: string; default?: unknown }, value: unknown): boolean {
  if (value === undefined || value === null) return true;
  if (def.kind === 'counter') return value === (def.default ?? 0);
  if ((def.kind === 'list' || def.kind === 'text') && def.default === undefined)
    return Array.isArray(value) ? value.length === 0 : value === '';
  return def.default !== undefined && JSON.stringify(value) === JSON.stringify(def.default);
}

/** The write the relay would check for `check` on `collection` of `schema`. */
export function writeRequest(
  schema: Schema,
  collection: string,
  check: WriteCheck<Schema, string>,
): WriteRequest {
  const fields = getCollection(schema, collection).fields;
  switch (check.action) {
    case 'insert': {
      const doc = check.doc as Fields;
      const after: Fields = { id: doc.id ?? '' };
      for (const [name, def] of Object.entries(fields)) {
        const given = doc[name];
        const fallback =
          def.kind === 'counter' ? 0 : def.kind === 'list' ? [] : def.kind === 'text' ? '' : undefined;
        const value = given ?? (def as { default?: unknown }).default ?? fallback;
        if (value !== undefined) after[name] = value;
      }
      const touchedFields = Object.keys(doc).filter(
        (name) => name === 'id' || !fields[name] || !isDefault(fields[name], doc[name]),
      );
      return { kind: 'insert', after, touchedFields };
    }
    case 'update': {
      const patch = check.patch as Fields;
      const before = check.doc as Fields;
      return { kind: 'update', before, after: patchedDoc(before, patch), touchedFields: Object.keys(patch) };
    }
    case 'delete':
      return { kind: 'delete', before: check.doc as Fields };
    case 'upsert': {
      if (check.current === null)
        return writeRequest(schema, collection, { action: 'insert', doc: { ...check.doc, id: check.id } });
      const { id: _id, ...patch } = check.doc as Fields;
      return writeRequest(schema, collection, { action: 'update', doc: check.current, patch });
    }
  }
}

/** `db.can`: allowed when `permissions` is null, else as `checkPermission` decides. */
export function canWrite(
  schema: Schema,
  permissions: Permissions | null,
  collection: string,
  check: WriteCheck<Schema, string>,
): boolean {
  if (!permissions) return true;
  return checkPermission(permissions, collection, writeRequest(schema, collection, check)).ok;
}
