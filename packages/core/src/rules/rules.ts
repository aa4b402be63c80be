/**
 * The permission model: who may read and write which documents and fields (close to Realm / Atlas Device Sync
 * rules). This file is the contract; `access.ts` evaluates it and `validate.ts` reads it from JSON.
 *
 * ## Model
 * `Rules` maps a collection name to its roles. For a user (the claims of their verified JWT) and a collection:
 * 1. **Role resolution.** Roles are tried in order; the first whose `applyWhen` matches the claims applies.
 *    `applyWhen` is a query filter evaluated against the claims object (`{ op: 'eq', field: 'role', value:
 *    'manager' }`); absent means always. No matching role, or a collection without rules: no access at all.
 * 2. **Rows.** `read` and `write` are row filters (query AST, or `true`/`false`) over the stored document.
 *    A document is readable when it matches `read`. An insert needs `insert: true` and the new document to match
 *    `write`; an update needs the document to match `write` both before and after the change (so a user cannot
 *    move a document out of their reach, e.g. by changing its owner); a delete needs `delete: true` and the
 *    stored document to match `write`.
 * 3. **Fields.** `fields.read` and `fields.write` list the field paths the role may read / write (`'*'` or
 *    absent: all). A listed path covers everything below it (`address` covers `address.city`). `id` is always
 *    readable when the row is, and never needs a write right on insert (it is the key, not a field).
 *    Read and write rights are independent: a write right grants no read right (a till may set `pin` without
 *    ever reading it back).
 * 4. **Subscriptions** may only filter and sort on readable fields; otherwise they are refused (an `or`, `not`
 *    or sort over a hidden field would leak its value through which documents match and in which order).
 *
 * ## Placeholders
 * Any string value in a `read`/`write` filter of the form `%%user.<claim path>` is replaced by that claim
 * (`%%user.sub`, `%%user.store.id`). In `in`/`nin`, `values` may itself be one placeholder naming an array
 * claim (`{ op: 'in', field: 'storeId', values: '%%user.storeIds' }`).
 *
 * A claim substitutes only if it is a string, a finite number or a boolean (for a whole `values`
 * placeholder: an array of those). **If any placeholder in a filter does not resolve (claim missing, null,
 * an object, a non-string for `prefix`/`contains`...), the whole filter becomes `false`.** Denying the entire
 * filter, rather than just the comparison holding the placeholder, is what keeps a missing claim from ever
 * widening access: under `not` or `ne`, a comparison turned false would turn into a true.
 *
 * Strings starting with `%%` are reserved: `validateRules` rejects any that is not a well-formed placeholder,
 * so a typo never silently becomes a literal. `applyWhen` may not contain placeholders (its fields already
 * are claims).
 */
import type { CompareFilter, ConstFilter, ExistsFilter, Filter, Scalar, StringFilter } from '../query/ast';

/** The verified claims of a user's JWT (or of an anonymous session). */
export type Claims = { readonly [claim: string]: unknown };

/** `in`/`nin` in a rule filter: `values` may be one placeholder string naming an array claim. */
export interface RuleMembershipFilter {
  readonly op: 'in' | 'nin';
  readonly field: string;
  readonly values: readonly Scalar[] | string;
}

/** A row filter in a rule: the query {@link Filter} AST, whose string values may be `%%user.<claim>` placeholders. */
export type RuleFilter =
  | CompareFilter
  | ExistsFilter
  | StringFilter
  | ConstFilter
  | RuleMembershipFilter
  | { readonly op: 'and' | 'or'; readonly filters: readonly RuleFilter[] }
  | { readonly op: 'not'; readonly filter: RuleFilter };

/** Field paths a role may read or write: `'*'` for all, else the listed paths and everything below them. */
export type FieldList = '*' | readonly string[];

/** Per-field rights of a role. Absent lists mean `'*'`. */
export interface FieldRights {
  readonly read?: FieldList;
  readonly write?: FieldList;
}

/** One role of a collection. */
export interface Role {
  /** Unique within its collection; reported to the app (e.g. with a refused write). */
  readonly name: string;
  /** Filter over the claims; absent means the role always applies. No placeholders. */
  readonly applyWhen?: Filter;
  /** Documents the role may read. */
  readonly read: RuleFilter | boolean;
  /** Documents the role may write (checked on the before and after images of updates). */
  readonly write: RuleFilter | boolean;
  /** May the role create documents? */
  readonly insert: boolean;
  /** May the role delete documents (those matching `write`)? */
  readonly delete: boolean;
  /** Field-level rights; absent means every field. */
  readonly fields?: FieldRights;
}

/** The rules of one collection. */
export interface CollectionRules {
  /** Tried in order; the first whose `applyWhen` matches applies. */
  readonly roles: readonly Role[];
}

/** The rules of every collection; a collection that is not listed is not accessible at all. */
export type Rules = { readonly [collection: string]: CollectionRules };

/** Why a write or a subscription was refused. Stable: clients show and switch on them. */
export const DenialCode = {
  /** No role of the collection applies to this user (or the collection has no rules). */
  noRole: 'no_role',
  /** The role may not insert. */
  insertDenied: 'insert_denied',
  /** The role may not delete. */
  deleteDenied: 'delete_denied',
  /** The document (before or after the write) is outside the role's write filter. */
  rowDenied: 'row_denied',
  /** The write touches a field the role may not write, or a query uses a field the role may not read. */
  fieldDenied: 'field_denied',
} as const;
export type DenialCode = (typeof DenialCode)[keyof typeof DenialCode];

/** The outcome of a permission check: allowed, or refused with a stable code and a readable reason. */
export type WriteDecision =
  | { readonly ok: true }
  | { readonly ok: false; readonly code: DenialCode; readonly reason: string };

/**
 * A write to check. `touchedFields` are the field paths the write sets (for an insert, every field it
 * provides). Deletes carry only the stored document.
 */
export type WriteRequest =
  | {
      readonly kind: 'insert';
      readonly after: { readonly [field: string]: unknown };
      readonly touchedFields: readonly string[];
    }
  | {
      readonly kind: 'update';
      readonly before: { readonly [field: string]: unknown };
      readonly after: { readonly [field: string]: unknown };
      readonly touchedFields: readonly string[];
    }
  | { readonly kind: 'delete'; readonly before: { readonly [field: string]: unknown } };

/** Whether a document is readable, and which fields of it (`'*'`, or paths; `id` is always included). */
export type ReadDecision =
  | { readonly allowed: false }
  | { readonly allowed: true; readonly fields: FieldList };
