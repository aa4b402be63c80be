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
import type { Value } from './ops';

/** A new document. */
export interface InsertIntent {
  readonly kind: 'insert';
  readonly collection: string;
  /** The document; `id` is optional. */
  readonly doc: Readonly<Record<string, unknown>>;
}
/** A document created with id `id` when none is live, otherwise updated with the fields of `doc`. */
export interface UpsertIntent {
  readonly kind: 'upsert';
  readonly collection: string;
  readonly id: string;
  readonly doc: Readonly<Record<string, unknown>>;
}
/** Sets fields or dotted paths of a live document. */
export interface UpdateIntent {
  readonly kind: 'update';
  readonly collection: string;
  readonly id: string;
  readonly patch: Readonly<Record<string, unknown>>;
}
/** Adds `by` to a counter field. */
export interface IncrementIntent {
  readonly kind: 'increment';
  readonly collection: string;
  readonly id: string;
  readonly field: string;
  readonly by: number;
}
/** Deletes a live document. */
export interface DeleteIntent {
  readonly kind: 'delete';
  readonly collection: string;
  readonly id: string;
}
/** Inserts `items` into a list field before position `index`. */
export interface ListInsertIntent {
  readonly kind: 'listInsert';
  readonly collection: string;
  readonly id: string;
  readonly field: string;
  readonly index: number;
  readonly items: readonly Value[];
}
/** Inserts `text` into a text field at position `index` (UTF-16 code units). */
export interface TextInsertIntent {
  readonly kind: 'textInsert';
  readonly collection: string;
  readonly id: string;
  readonly field: string;
  readonly index: number;
  readonly text: string;
}
/** Deletes `count` items of a list field from `index`. */
export interface ListDeleteIntent {
  readonly kind: 'listDelete';
  readonly collection: string;
  readonly id: string;
  readonly field: string;
  readonly index: number;
  readonly count: number;
}
/** Deletes `count` code units of a text field from `index`. */
export interface TextDeleteIntent {
  readonly kind: 'textDelete';
  readonly collection: string;
  readonly id: string;
  readonly field: string;
  readonly index: number;
  readonly count: number;
}

/** Every kind of local write. */
export type WriteIntent =
  | InsertIntent
  | UpsertIntent
  | UpdateIntent
  | IncrementIntent
  | DeleteIntent
  | ListInsertIntent
  | ListDeleteIntent
  | TextInsertIntent
  | TextDeleteIntent;
/** The kind tag of a write intent. */
export type WriteIntentKind = WriteIntent['kind'];

/**
 * Builders of intents, one per kind, taking the collection first (`writeIntent.update('notes', id, { title })`).
 * `bindWrites` turns them into methods of an API.
 */
export const writeIntent = {
  /** A new document; `doc.id` is optional (a UUIDv7 is made when absent). */
  insert: (collection: string, doc: Readonly<Record<string, unknown>>): InsertIntent => ({
    kind: 'insert',
    collection,
    doc,
  }),
  /** The document `id`: created with `doc` when none is live, else updated with the fields of `doc`. */
  upsert: (collection: string, id: string, doc: Readonly<Record<string, unknown>>): UpsertIntent => ({
    kind: 'upsert',
    collection,
    id,
    doc,
  }),
  /**
   * Sets the fields of `patch` (`undefined`/`null` clears an optional field; list and text fields are replaced); a
   * key may be a dotted path into an object field (`'address.city'`), which writes that path alone.
   */
  update: (collection: string, id: string, patch: Readonly<Record<string, unknown>>): UpdateIntent => ({
    kind: 'update',
    collection,
    id,
    patch,
  }),
  /** Adds `by` (an integer, default 1, may be negative) to a counter; concurrent increments all count. */
  increment: (collection: string, id: string, field: string, by = 1): IncrementIntent => ({
    kind: 'increment',
    collection,
    id,
    field,
    by,
  }),
  /** Deletes the document (deletes win over concurrent updates). */
  delete: (collection: string, id: string): DeleteIntent => ({ kind: 'delete', collection, id }),
  /** Inserts `items` into a list field before position `index`. */
  listInsert: (
    collection: string,
    id: string,
    field: string,
    index: number,
    items: readonly Value[],
  ): ListInsertIntent => ({ kind: 'listInsert', collection, id, field, index, items }),
  /** Deletes `count` items of a list field from `index`. */
  listDelete: (
    collection: string,
    id: string,
    field: string,
    index: number,
    count: number,
  ): ListDeleteIntent => ({
    kind: 'listDelete',
    collection,
    id,
    field,
    index,
    count,
  }),
  /** Inserts `text` into a text field at `index` (UTF-16 code units). */
  textInsert: (
    collection: string,
    id: string,
    field: string,
    index: number,
    text: string,
  ): TextInsertIntent => ({
    kind: 'textInsert',
    collection,
    id,
    field,
    index,
    text,
  }),
  /** Deletes `count` code units of a text field from `index`. */
  textDelete: (
    collection: string,
    id: string,
    field: string,
    index: number,
    count: number,
  ): TextDeleteIntent => ({
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
