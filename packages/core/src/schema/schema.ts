/**
 * Schemas: collections of typed documents, declared once in TypeScript and shipped as JSON to the server.
 *
 * Field kinds and how they merge (see INTERNALS.md):
 * - `string`, `number`, `boolean`, `date`, `json`, `ref`: last-writer-wins registers, per field;
 * - `object`: nested fields, last-writer-wins per leaf path (leaves are scalar, `json` or nested objects);
 * - `counter`: integer sum of increments, a `set` resets it;
 * - `list`: a Yjs `Y.Array` of JSON values; `text`: a Yjs `Y.Text`.
 *
 * Scalar fields (`string`, `number`, `boolean`, `date`, `ref`, `counter`, and scalar leaves of objects) are
 * stored as real columns and can be queried; `indexed: true` also gives them an index. `json`, `list` and
 * `text` fields cannot be queried.
 *
 * Defaults are JSON literals (dates as ISO strings), so the schema round-trips through JSON unchanged.
 * `counter` defaults to 0, `list` to `[]`, `text` to `''`: those three are always present.
 */
import { SchemaError } from '../errors';
import type { DocId } from '../ids/ids';

/** Every field kind. */
export const FieldKind = {
  string: 'string',
  number: 'number',
  boolean: 'boolean',
  date: 'date',
  json: 'json',
  ref: 'ref',
  object: 'object',
  counter: 'counter',
  list: 'list',
  text: 'text',
} as const;
export type FieldKind = (typeof FieldKind)[keyof typeof FieldKind];

/** Any JSON value. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

interface FieldBase<K extends FieldKind, O extends boolean> {
  readonly kind: K;
  /** May the field be absent? Fields with a default are always present once inserted. */
  readonly optional: O;
  readonly indexed?: boolean;
}

export interface StringField<O extends boolean = boolean> extends FieldBase<'string', O> {
  readonly default?: string;
}
export interface NumberField<O extends boolean = boolean> extends FieldBase<'number', O> {
  readonly default?: number;
}
export interface BooleanField<O extends boolean = boolean> extends FieldBase<'boolean', O> {
  readonly default?: boolean;
}
export interface DateField<O extends boolean = boolean> extends FieldBase<'date', O> {
  /** ISO 8601 string. */
  readonly default?: string;
}
export interface JsonField<O extends boolean = boolean, T = JsonValue> extends FieldBase<'json', O> {
  readonly default?: JsonValue;
  /** Phantom: the TypeScript type of the value. */
  readonly __type?: T;
}
export interface RefField<O extends boolean = boolean> extends FieldBase<'ref', O> {
  /** The collection the referenced document lives in. */
  readonly collection: string;
  readonly default?: string;
}
export interface ObjectField<O extends boolean = boolean, F extends ObjectFields = ObjectFields>
  extends FieldBase<'object', O> {
  readonly fields: F;
}
export interface CounterField extends FieldBase<'counter', false> {
  readonly default?: number;
}
export interface ListField<T = JsonValue> extends FieldBase<'list', false> {
  /** Phantom: the TypeScript type of one item. */
  readonly __item?: T;
}
export interface TextField extends FieldBase<'text', false> {}

/** Kinds that may appear inside an object (no CRDT kinds: those need a document of their own). */
export type LeafField =
  | StringField
  | NumberField
  | BooleanField
  | DateField
  | JsonField<boolean, unknown>
  | RefField
  | ObjectField;
export type ObjectFields = { readonly [name: string]: LeafField };
export type FieldDef = LeafField | CounterField | ListField<unknown> | TextField;

/** A collection: its fields by name. */
export interface CollectionDef<
  F extends { readonly [name: string]: FieldDef } = { readonly [name: string]: FieldDef },
> {
  readonly fields: F;
}

/** A whole schema: a version number (bumped by the app when it changes) and the collections. */
export interface Schema<
  C extends { readonly [name: string]: CollectionDef } = { readonly [name: string]: CollectionDef },
> {
  readonly version: number;
  readonly collections: C;
}

type Opts<O extends boolean, D> = { optional?: O; indexed?: boolean; default?: D };
type Clean<T> = { -readonly [K in keyof T as undefined extends T[K] ? never : K]: T[K] } & {
  -readonly [K in keyof T as undefined extends T[K] ? K : never]?: Exclude<T[K], undefined>;
};

function leaf<K extends FieldKind>(kind: K, opts: Opts<boolean, unknown> | undefined) {
  const def: Record<string, unknown> = { kind, optional: opts?.optional ?? false };
  if (opts?.indexed !== undefined) def.indexed = opts.indexed;
  if (opts?.default !== undefined) def.default = opts.default;
  return def;
}

/** No options given: required, no default. */
type NoOpts = { readonly optional?: never };
type Opt<T> = T extends { optional: true } ? true : false;
type Dflt<T> = T extends { default: infer D } ? { readonly default: D } : unknown;

/**
 * Field builders: `f.string({ indexed: true })`, `f.object({ city: f.string() }, { optional: true })`...
 * Optionality is read from the options argument itself (not from the context), so `defineSchema` keeps it.
 */
export const f = {
  string: <const T extends Opts<boolean, string> = NoOpts>(opts?: T) =>
    leaf('string', opts) as unknown as StringField<Opt<T>> & Dflt<T>,
  number: <const T extends Opts<boolean, number> = NoOpts>(opts?: T) =>
    leaf('number', opts) as unknown as NumberField<Opt<T>> & Dflt<T>,
  boolean: <const T extends Opts<boolean, boolean> = NoOpts>(opts?: T) =>
    leaf('boolean', opts) as unknown as BooleanField<Opt<T>> & Dflt<T>,
  date: <const T extends Opts<boolean, string> = NoOpts>(opts?: T) =>
    leaf('date', opts) as unknown as DateField<Opt<T>> & Dflt<T>,
  json: <V = JsonValue, const T extends Opts<boolean, JsonValue> = NoOpts>(opts?: T) =>
    leaf('json', opts) as unknown as JsonField<Opt<T>, V> & Dflt<T>,
  ref: <const T extends Opts<boolean, string> = NoOpts>(collection: string, opts?: T) =>
    ({ ...leaf('ref', opts), collection }) as unknown as RefField<Opt<T>> & Dflt<T>,
  object: <F extends ObjectFields, const T extends { optional?: boolean } = NoOpts>(fields: F, opts?: T) =>
    ({ ...leaf('object', opts), fields }) as unknown as ObjectField<Opt<T>, F>,
  counter: (opts?: { indexed?: boolean; default?: number }) =>
    leaf('counter', opts) as unknown as CounterField,
  list: <V = JsonValue>() => leaf('list', undefined) as unknown as ListField<V>,
  text: () => leaf('text', undefined) as unknown as TextField,
} as const;

/** The TypeScript type of a field's value in a document. */
export type ValueOf<F> = F extends StringField
  ? string
  : F extends NumberField
    ? number
    : F extends BooleanField
      ? boolean
      : F extends DateField
        ? Date
        : F extends JsonField<boolean, infer T>
          ? T
          : F extends RefField
            ? DocId | string
            : F extends ObjectField<boolean, infer NF>
              ? FieldsOf<NF>
              : F extends CounterField
                ? number
                : F extends ListField<infer T>
                  ? T[]
                  : F extends TextField
                    ? string
                    : never;

type IsOptional<F> = F extends { optional: true } ? true : false;
type HasDefault<F> = F extends CounterField | ListField | TextField
  ? true
  : F extends { default: unknown }
    ? true
    : false;

/** Document fields (without `id`): optional fields may be absent. */
export type FieldsOf<F> = Clean<{
  [K in keyof F]: IsOptional<F[K]> extends true ? ValueOf<F[K]> | undefined : ValueOf<F[K]>;
}>;

/** What `insert` accepts: optional fields and fields with defaults may be left out; `id` is generated if absent. */
export type InsertOf<F> = Clean<{
  [K in keyof F]: IsOptional<F[K]> extends true
    ? ValueOf<F[K]> | undefined
    : HasDefault<F[K]> extends true
      ? ValueOf<F[K]> | undefined
      : ValueOf<F[K]>;
}> & { id?: string };

type FieldsOfCollection<S extends Schema, C extends keyof S['collections']> = S['collections'][C]['fields'];

/** The document type of collection `C` of schema `S`, as read back from the database. */
export type DocOf<S extends Schema, C extends keyof S['collections']> = { id: DocId } & FieldsOf<
  FieldsOfCollection<S, C>
>;
/** The value accepted when inserting into collection `C`. */
export type NewDocOf<S extends Schema, C extends keyof S['collections']> = InsertOf<FieldsOfCollection<S, C>>;
/** The dotted paths into the object fields of `F` (`'address.city'`, `'address.geo.lat'`...). */
export type ObjectPaths<F, Prefix extends string = ''> = {
  [K in keyof F & string]: F[K] extends ObjectField<boolean, infer NF>
    ? `${Prefix}${K}.${keyof NF & string}` | ObjectPaths<NF, `${Prefix}${K}.`>
    : never;
}[keyof F & string];

/** The value type at dotted path `P` of fields `F`. */
export type PathValue<F, P extends string> = P extends `${infer H}.${infer R}`
  ? H extends keyof F
    ? F[H] extends ObjectField<boolean, infer NF>
      ? PathValue<NF, R>
      : never
    : never
  : P extends keyof F
    ? ValueOf<F[P]>
    : never;

/**
 * A partial update of collection `C`: any subset of fields, and dotted paths into object fields
 * (`{ 'address.city': 'Paris' }` writes that path alone); `undefined` clears an optional field.
 */
export type PatchOf<S extends Schema, C extends keyof S['collections']> = {
  [K in keyof FieldsOfCollection<S, C>]?: ValueOf<FieldsOfCollection<S, C>[K]> | undefined;
} & {
  [P in ObjectPaths<FieldsOfCollection<S, C>>]?: PathValue<FieldsOfCollection<S, C>, P> | undefined;
};

const NAME_RE = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
const RESERVED = new Set(['id', '_epoch', '_created', '_deleted', '_meta', '_rowid', 'rowid', 'oid']);
const KINDS = new Set<string>(Object.values(FieldKind));

function fail(path: string, message: string): never {
  throw new SchemaError(`${path}: ${message}`);
}

function checkFields(fields: unknown, path: string, insideObject: boolean): void {
  if (typeof fields !== 'object' || fields === null || Array.isArray(fields))
    fail(path, 'fields must be an object');
  const entries = Object.entries(fields);
  if (entries.length === 0) fail(path, 'needs at least one field');
  for (const [name, def] of entries) {
    const at = `${path}.${name}`;
    if (!NAME_RE.test(name))
      fail(at, 'field names are letters, digits and _ (not starting with a digit), ≤ 63 characters');
    if ((!insideObject && RESERVED.has(name.toLowerCase())) || name.startsWith('__'))
      fail(at, `"${name}" is reserved`);
    if (typeof def !== 'object' || def === null) fail(at, 'field definition must be an object');
    const d = def as Record<string, unknown>;
    if (typeof d.kind !== 'string' || !KINDS.has(d.kind)) fail(at, `unknown kind ${JSON.stringify(d.kind)}`);
    if (typeof d.optional !== 'boolean') fail(at, '"optional" must be a boolean');
    if (d.indexed !== undefined && typeof d.indexed !== 'boolean') fail(at, '"indexed" must be a boolean');
    const crdt = d.kind === 'counter' || d.kind === 'list' || d.kind === 'text';
    if (crdt && insideObject) fail(at, `${d.kind} fields cannot be nested in an object`);
    if (crdt && d.optional) fail(at, `${d.kind} fields are always present and cannot be optional`);
    if (d.indexed && (d.kind === 'json' || d.kind === 'list' || d.kind === 'text' || d.kind === 'object')) {
      fail(at, `${d.kind} fields cannot be indexed`);
    }
    if (d.kind === 'ref' && (typeof d.collection !== 'string' || !NAME_RE.test(d.collection))) {
      fail(at, 'ref fields name the collection they point to');
    }
    if (d.kind === 'object') checkFields(d.fields, at, true);
    if (d.default !== undefined) {
      if (d.kind === 'object' || d.kind === 'list' || d.kind === 'text')
        fail(at, `${d.kind} fields take no default`);
      const problem = defaultProblem(d.kind as FieldKind, d.default);
      if (problem) fail(at, `bad default: ${problem}`);
    }
  }
}

function defaultProblem(kind: FieldKind, value: unknown): string | undefined {
  switch (kind) {
    case 'string':
    case 'ref':
      return typeof value === 'string' ? undefined : 'expected a string';
    case 'number':
      return typeof value === 'number' && Number.isFinite(value) ? undefined : 'expected a finite number';
    case 'counter':
      return Number.isSafeInteger(value) ? undefined : 'expected an integer';
    case 'boolean':
      return typeof value === 'boolean' ? undefined : 'expected a boolean';
    case 'date':
      return typeof value === 'string' && !Number.isNaN(Date.parse(value))
        ? undefined
        : 'expected an ISO date string';
    default:
      return undefined;
  }
}

/**
 * Declares a schema, checking it (throws `SchemaError` naming the bad field). The argument is returned with its
 * literal types intact so that `DocOf<typeof schema, 'products'>` infers document types.
 */
export function defineSchema<const S extends Schema>(schema: S): S {
  parseSchema(schema);
  return schema;
}

/** Checks a schema that came from JSON (a file, the network); returns it typed, or throws `SchemaError`. */
export function parseSchema(json: unknown): Schema {
  if (typeof json !== 'object' || json === null) fail('schema', 'must be an object');
  const s = json as Record<string, unknown>;
  if (!Number.isSafeInteger(s.version) || (s.version as number) < 1)
    fail('schema.version', 'must be a positive integer');
  if (typeof s.collections !== 'object' || s.collections === null)
    fail('schema.collections', 'must be an object');
  for (const [name, col] of Object.entries(s.collections)) {
    if (!NAME_RE.test(name)) fail(`schema.collections.${name}`, 'collection names are letters, digits and _');
    if (typeof col !== 'object' || col === null) fail(`schema.collections.${name}`, 'must be an object');
    checkFields((col as Record<string, unknown>).fields, `${name}`, false);
  }
  return json as Schema;
}

/** The schema as JSON text, for the server's schema file. Round-trips through `parseSchema(JSON.parse(...))`. */
export function schemaToJson(schema: Schema): string {
  return JSON.stringify(schema, null, 2);
}

/** Looks up a collection; throws `SchemaError` naming the known ones if absent. */
export function getCollection(schema: Schema, name: string): CollectionDef {
  const col = Object.hasOwn(schema.collections, name) ? schema.collections[name] : undefined;
  if (!col) {
    throw new SchemaError(
      `Unknown collection "${name}" (known: ${Object.keys(schema.collections).join(', ') || 'none'})`,
    );
  }
  return col;
}

/** A scalar leaf of a collection, addressed by its dotted path. */
export interface LeafPath {
  /** Dotted path, e.g. `address.city`. */
  readonly path: string;
  readonly def: LeafField | CounterField;
}

/**
 * The leaves stored as last-writer-wins registers or counters, depth first in declaration order: every
 * field except `object` (replaced by its leaves), `list` and `text`. These are the SQL columns of the collection.
 */
export function leafPaths(col: CollectionDef): LeafPath[] {
  const out: LeafPath[] = [];
  const walk = (fields: { readonly [name: string]: FieldDef }, prefix: string) => {
    for (const [name, def] of Object.entries(fields)) {
      const path = prefix + name;
      if (def.kind === 'object') walk(def.fields, `${path}.`);
      else if (def.kind !== 'list' && def.kind !== 'text') out.push({ path, def });
    }
  };
  walk(col.fields, '');
  return out;
}

/** Resolves a dotted path to its field definition, or `undefined`. */
export function fieldAt(col: CollectionDef, path: string): FieldDef | undefined {
  let fields: { readonly [name: string]: FieldDef } = col.fields;
  let def: FieldDef | undefined;
  for (const part of path.split('.')) {
    if (!fields || !Object.hasOwn(fields, part)) return undefined;
    def = fields[part];
    fields = def?.kind === 'object' ? def.fields : (undefined as never);
  }
  return def;
}
