/**
 * The names a schema gives, as types: its collections, the fields of a kind, the paths a query may name. Typed APIs
 * (`@loam/client`'s collections, `@loam/store`'s engine, `@loam/react`'s hooks, `WriteIntent<S>`) take them, so a
 * misspelt collection or field, or a field a query cannot use, is a compile error. For an open schema (`Schema`
 * itself, e.g. read from JSON) each is `string`: the run-time checks are then the only ones.
 */
import type { Value } from '../ops/ops';
import type { Filter } from '../query/ast';
import type { FieldKind, IsOpenSchema, JsonField, ListField, ObjectField, Schema, TextField } from './schema';

/**
 * `T` itself, without the name of the alias that computed it: compile errors then print the names a schema gives
 * (`'"orders" | "products"'`) rather than the alias applied to the whole schema.
 */
type Plain<T> = [T][0];

/** The collection names of schema `S` (an `Extract`, so that compile errors print the names, not the schema). */
export type CollectionName<S extends Schema> = Extract<keyof S['collections'], string>;

type FieldsIn<S extends Schema, C extends CollectionName<S>> = S['collections'][C]['fields'];

/** The names of the fields of collection `C` whose kind is `K` (`'counter'`, `'list'`, `'text'`...). */
export type FieldNameOfKind<S extends Schema, C extends CollectionName<S>, K extends FieldKind> =
  IsOpenSchema<S> extends true
    ? string
    : Plain<
        {
          [N in keyof FieldsIn<S, C>]: FieldsIn<S, C>[N] extends { readonly kind: K } ? N : never;
        }[keyof FieldsIn<S, C>] &
          string
      >;

/** Dotted paths of the scalar leaves of `F` (objects are walked; `json`, `list` and `text` fields have no column). */
type ScalarPaths<F, Prefix extends string = ''> = Plain<
  {
    [K in keyof F & string]: F[K] extends ObjectField<boolean, infer NF>
      ? ScalarPaths<NF, `${Prefix}${K}.`>
      : F[K] extends JsonField<boolean, unknown> | ListField<unknown> | TextField
        ? never
        : `${Prefix}${K}`;
  }[keyof F & string]
>;

/** Dotted paths of the number and counter leaves of `F`. */
type NumericPaths<F, Prefix extends string = ''> = Plain<
  {
    [K in keyof F & string]: F[K] extends ObjectField<boolean, infer NF>
      ? NumericPaths<NF, `${Prefix}${K}.`>
      : F[K] extends { readonly kind: 'number' | 'counter' }
        ? `${Prefix}${K}`
        : never;
  }[keyof F & string]
>;

/**
 * The field paths a filter, a sort key, a group or an aggregate over collection `C` may name: `id` and every scalar
 * leaf (`string`, `number`, `boolean`, `date`, `ref`, `counter`, and those inside objects, dotted:
 * `'supplier.city'`). `json`, `list` and `text` fields and whole objects have no column, so they are not among them.
 */
export type QueryPath<S extends Schema, C extends CollectionName<S>> =
  IsOpenSchema<S> extends true ? string : Plain<'id' | ScalarPaths<FieldsIn<S, C>>>;

/** The paths of the `number` and `counter` leaves of collection `C`: what `sum` and `avg` take. */
export type NumericPath<S extends Schema, C extends CollectionName<S>> =
  IsOpenSchema<S> extends true ? string : Plain<NumericPaths<FieldsIn<S, C>>>;

/** The type of one item of list field `F` of collection `C`. */
export type ListItemOf<S extends Schema, C extends CollectionName<S>, F extends string> =
  IsOpenSchema<S> extends true ? Value : FieldsIn<S, C>[F] extends ListField<infer T> ? T : never;

/** A filter over collection `C`: what a typed `find`, `watch`, `subscribe` or aggregate takes. */
export type FilterOf<S extends Schema, C extends CollectionName<S>> = Filter<QueryPath<S, C>>;
