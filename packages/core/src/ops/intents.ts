/**
 * Write intents: what an app asks a replica to do, before it becomes ops. Declared once here and carried unchanged
 * by every layer (the engine's transactions, the worker protocol, the client's collections, the relay's HTTP API):
 * a new kind of write is one more member of {@link WriteIntent} and one more case in the writer (`writer.ts`).
 *
 * Kinds:
 * - `insert`: a new document (`doc.id` optional: a UUIDv7 is made when absent); refused when the id is live;
 * - `upsert`: `doc` as a new document with id `id` when none is live, else the same fields as an `update`;
 * - `update`: sets the fields of `patch`; a key may be a dotted path into an `object` field
 *   (`'address.city'`), which writes that path alone, so concurrent edits of different paths all survive;
 *   `undefined`/`null` clears an optional field; list and text fields are replaced;
 * - `increment`: adds `by` (an integer, may be negative) to a counter;
 * - `delete`: removes the document (deletes win over concurrent updates);
 * - `listInsert` / `listDelete` / `textInsert` / `textDelete`: edits a list or text field at `index`.
 *
 * Intents are plain, structured-cloneable data, so they cross worker and tab boundaries as they are.
 */
import type { DocId } from '../ids/ids';
import type { CollectionName, FieldNameOfKind, ListItemOf } from '../schema/paths';
import type { IsOpenSchema, NewDocOf, PatchOf, Schema } from '../schema/schema';
import type { Value } from './ops';

/** Any document or patch, when no schema types it. */
type AnyFields = Readonly<Record<string, unknown>>;

/**
 * A new document of collection `C`. The type parameters of this and every intent narrow it to what a schema allows
 * (see {@link WriteIntent}); without them an intent names any collection and field.
 */
export interface InsertIntent<C extends string = string, D = AnyFields> {
  readonly kind: 'insert';
  readonly collection: C;
  /** The document; `id` is optional. */
  readonly doc: D;
}
/** A document created with id `id` when none is live, otherwise updated with the fields of `doc`. */
export interface UpsertIntent<C extends string = string, D = AnyFields> {
  readonly kind: 'upsert';
  readonly collection: C;
  readonly id: string;
  readonly doc: D;
}
/** Sets fields or dotted paths of a live document. */
export interface UpdateIntent<C extends string = string, P = AnyFields> {
  readonly kind: 'update';
  readonly collection: C;
  readonly id: string;
  readonly patch: P;
}
/** Adds `by` to a counter field. */
export interface IncrementIntent<C extends string = string, F extends string = string> {
  readonly kind: 'increment';
  readonly collection: C;
  readonly id: string;
  readonly field: F;
  readonly by: number;
}
/** Deletes a live document. */
export interface DeleteIntent<C extends string = string> {
  readonly kind: 'delete';
  readonly collection: C;
  readonly id: string;
}
/** Inserts `items` into a list field before position `index`. */
export interface ListInsertIntent<C extends string = string, F extends string = string, I = Value> {
  readonly kind: 'listInsert';
  readonly collection: C;
  readonly id: string;
  readonly field: F;
  readonly index: number;
  readonly items: readonly I[];
}
/** Inserts `text` into a text field at position `index` (UTF-16 code units). */
export interface TextInsertIntent<C extends string = string, F extends string = string> {
  readonly kind: 'textInsert';
  readonly collection: C;
  readonly id: string;
  readonly field: F;
  readonly index: number;
  readonly text: string;
}
/** Deletes `count` items of a list field from `index`. */
export interface ListDeleteIntent<C extends string = string, F extends string = string> {
  readonly kind: 'listDelete';
  readonly collection: C;
  readonly id: string;
  readonly field: F;
  readonly index: number;
  readonly count: number;
}
/** Deletes `count` code units of a text field from `index`. */
export interface TextDeleteIntent<C extends string = string, F extends string = string> {
  readonly kind: 'textDelete';
  readonly collection: C;
  readonly id: string;
  readonly field: F;
  readonly index: number;
  readonly count: number;
}

/** The intents of one collection of a (closed) schema. */
type CollectionIntent<S extends Schema, C extends CollectionName<S>> =
  | InsertIntent<C, NewDocOf<S, C>>
  | UpsertIntent<C, NewDocOf<S, C>>
  | UpdateIntent<C, PatchOf<S, C>>
  | IncrementIntent<C, FieldNameOfKind<S, C, 'counter'>>
  | DeleteIntent<C>
  | {
      [F in FieldNameOfKind<S, C, 'list'>]:
        | ListInsertIntent<C, F, ListItemOf<S, C, F>>
        | ListDeleteIntent<C, F>;
    }[FieldNameOfKind<S, C, 'list'>]
  | TextInsertIntent<C, FieldNameOfKind<S, C, 'text'>>
  | TextDeleteIntent<C, FieldNameOfKind<S, C, 'text'>>;

/** Every kind of local write, for any collection. */
type AnyWriteIntent =
  | InsertIntent
  | UpsertIntent
  | UpdateIntent
  | IncrementIntent
  | DeleteIntent
  | ListInsertIntent
  | ListDeleteIntent
  | TextInsertIntent
  | TextDeleteIntent;

/**
 * Every kind of local write. `WriteIntent<typeof schema>` is the writes that schema allows: a known collection, the
 * fields and value types of its documents and patches, a counter for `increment`, a list or text field for their
 * edits. Without a type argument (or for an open schema), any collection and field: what crosses the worker and the
 * network, checked at run time (`checkIntent`).
 */
export type WriteIntent<S extends Schema = Schema> =
  IsOpenSchema<S> extends true
    ? AnyWriteIntent
    : { [C in CollectionName<S>]: CollectionIntent<S, C> }[CollectionName<S>];
/** The kind tag of a write intent. */
export type WriteIntentKind = WriteIntent['kind'];

/**
 * Builders of intents, one per kind, taking the collection first (`writeIntent.update('notes', id, { title })`).
 * `bindWrites` turns them into methods of an API. Collection and field names keep their literal types and documents
 * their inferred types, so where a typed API takes the intent (`engine.write(...)` of a typed engine), the schema
 * checks the collection, the field names, missing fields and value types; a field the collection lacks in a built
 * document is refused when the write runs (`validation_failed`, nothing stored).
 */
export const writeIntent = {
  /** A new document; `doc.id` is optional (a UUIDv7 is made when absent). */
  insert: <C extends string, D extends AnyFields>(collection: C, doc: D): InsertIntent<C, D> => ({
    kind: 'insert',
    collection,
    doc,
  }),
  /** The document `id`: created with `doc` when none is live, else updated with the fields of `doc`. */
  upsert: <C extends string, D extends AnyFields>(collection: C, id: string, doc: D): UpsertIntent<C, D> => ({
    kind: 'upsert',
    collection,
    id,
    doc,
  }),
  /**
   * Sets the fields of `patch` (`undefined`/`null` clears an optional field; list and text fields are replaced); a
   * key may be a dotted path into an object field (`'address.city'`), which writes that path alone.
   */
  update: <C extends string, P extends AnyFields>(
    collection: C,
    id: string,
    patch: P,
  ): UpdateIntent<C, P> => ({
    kind: 'update',
    collection,
    id,
    patch,
  }),
  /** Adds `by` (an integer, default 1, may be negative) to a counter; concurrent increments all count. */
  increment: <C extends string, F extends string>(
    collection: C,
    id: string,
    field: F,
    by = 1,
  ): IncrementIntent<C, F> => ({
    kind: 'increment',
    collection,
    id,
    field,
    by,
  }),
  /** Deletes the document (deletes win over concurrent updates). */
  delete: <C extends string>(collection: C, id: string): DeleteIntent<C> => ({
    kind: 'delete',
    collection,
    id,
  }),
  /** Inserts `items` into a list field before position `index`. */
  listInsert: <C extends string, F extends string, I extends Value>(
    collection: C,
    id: string,
    field: F,
    index: number,
    items: readonly I[],
  ): ListInsertIntent<C, F, I> => ({ kind: 'listInsert', collection, id, field, index, items }),
  /** Deletes `count` items of a list field from `index`. */
  listDelete: <C extends string, F extends string>(
    collection: C,
    id: string,
    field: F,
    index: number,
    count: number,
  ): ListDeleteIntent<C, F> => ({
    kind: 'listDelete',
    collection,
    id,
    field,
    index,
    count,
  }),
  /** Inserts `text` into a text field at `index` (UTF-16 code units). */
  textInsert: <C extends string, F extends string>(
    collection: C,
    id: string,
    field: F,
    index: number,
    text: string,
  ): TextInsertIntent<C, F> => ({
    kind: 'textInsert',
    collection,
    id,
    field,
    index,
    text,
  }),
  /** Deletes `count` code units of a text field from `index`. */
  textDelete: <C extends string, F extends string>(
    collection: C,
    id: string,
    field: F,
    index: number,
    count: number,
  ): TextDeleteIntent<C, F> => ({
    kind: 'textDelete',
    collection,
    id,
    field,
    index,
    count,
  }),
} as const satisfies {
  readonly [K in WriteIntentKind]: (...args: never[]) => Extract<WriteIntent, { kind: K }>;
};

type Builders = typeof writeIntent;
type Tail<T extends readonly unknown[]> = T extends readonly [unknown, ...infer R] ? R : never;

/** One method per intent kind, with the builder's arguments, each returning what `run` returns. */
export type WriteMethods<R> = { readonly [K in WriteIntentKind]: (...args: Parameters<Builders[K]>) => R };
/** {@link WriteMethods} of one collection: the same methods without the collection argument. */
export type CollectionWriteMethods<R> = {
  readonly [K in WriteIntentKind]: (...args: Tail<Parameters<Builders[K]>>) => R;
};

const KINDS = Object.keys(writeIntent) as WriteIntentKind[];

/** Methods `insert`, `update`, ... that build their intent and hand it to `run`. */
export function bindWrites<R>(run: (intent: WriteIntent) => R): WriteMethods<R> {
  const out: Record<string, (...args: never[]) => R> = {};
  for (const kind of KINDS) {
    const build = writeIntent[kind] as (...args: unknown[]) => WriteIntent;
    out[kind] = (...args: unknown[]) => run(build(...args));
  }
  return out as unknown as WriteMethods<R>;
}

/** {@link bindWrites} for one collection: `update(id, patch)` runs `writeIntent.update(collection, id, patch)`. */
export function bindCollectionWrites<R>(
  collection: string,
  run: (intent: WriteIntent) => R,
): CollectionWriteMethods<R> {
  const out: Record<string, (...args: never[]) => R> = {};
  for (const kind of KINDS) {
    const build = writeIntent[kind] as (...args: unknown[]) => WriteIntent;
    out[kind] = (...args: unknown[]) => run(build(collection, ...args));
  }
  return out as unknown as CollectionWriteMethods<R>;
}

/** The id of the document an intent writes, or undefined for an insert that lets the writer make one. */
export function intentTarget(intent: WriteIntent): DocId | undefined {
  if (intent.kind !== 'insert') return intent.id as DocId;
  const id = intent.doc.id;
  return typeof id === 'string' ? (id as DocId) : undefined;
}
