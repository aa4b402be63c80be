import type { Filter, Query, QueryDoc } from '../query/ast';
import { evaluateFilter } from '../query/evaluate';
import { fieldsOfQuery, grantsField, pickFields } from './fields';
import { substituteClaims } from './placeholders';
import {
  type Claims,
  DenialCode,
  type FieldList,
  type ReadDecision,
  type Role,
  type Rules,
  type WriteDecision,
  type WriteRequest,
} from './rules';

/** The outcome of {@link Access.authorizeQuery}: the query to run (read filter applied), or a refusal. */
export type QueryDecision =
  | { readonly ok: true; readonly query: Query }
  | { readonly ok: false; readonly code: DenialCode; readonly reason: string };

/**
 * What one user may do in one collection: the role resolved from their claims, with placeholders already
 * substituted. Pure and immutable; create one per (claims, collection) and reuse it.
 */
export interface Access {
  readonly collection: string;
  /** Name of the applying role, or `null` when none applies (then everything is denied). */
  readonly role: string | null;
  /** Documents the user may read, placeholders substituted; `false` without a role. */
  readonly readFilter: Filter;
  /** Documents the user may write, placeholders substituted; `false` without a role. */
  readonly writeFilter: Filter;
  /** Fields the user may read (`id` always, when a list); an empty list without a role. */
  readonly readableFields: FieldList;
  /** Fields the user may write; an empty list without a role. */
  readonly writableFields: FieldList;
  /** Whether `doc` (the full stored document) is readable, and which of its fields. */
  canRead(doc: QueryDoc): ReadDecision;
  /** `doc` reduced to its readable fields (a new object), or `null` when the document is not readable. */
  redact(doc: QueryDoc): Record<string, unknown> | null;
  /**
   * Checks a write: the role's insert/delete right, the write filter (after image for inserts, before AND after
   * for updates, before for deletes) and the write right of every touched field, in that order; the first
   * failure is reported. An update may not change `id`.
   */
  checkWrite(write: WriteRequest): WriteDecision;
  /** The field paths a query filters or sorts on that the user may not read (empty: none). */
  unreadableFields(query: Pick<Query, 'filter' | 'sort'>): string[];
  /**
   * Authorises a subscription or query: refused (`no_role`, `field_denied`) when no role applies or it filters
   * or sorts on an unreadable field; otherwise the same query with the read filter ANDed to its filter, ready
   * to compile. Results must still go through {@link Access.redact}.
   */
  authorizeQuery(query: Query): QueryDecision;
}

function deny(code: DenialCode, reason: string): WriteDecision & { ok: false } {
  return { ok: false, code, reason };
}

function asFieldList(list: FieldList | undefined): FieldList {
  if (list === undefined || list === '*') return '*';
  return list;
}

/**
 * The role that applies to `claims` in `collection`: the first whose `applyWhen` matches the claims (absent:
 * always), or `null` when none does or the collection has no rules.
 */
export function resolveRole(rules: Rules, claims: Claims, collection: string): Role | null {
  if (!Object.hasOwn(rules, collection)) return null;
  const roles = rules[collection]?.roles ?? [];
  for (const role of roles) {
    if (role.applyWhen === undefined || evaluateFilter(role.applyWhen, claims)) return role;
  }
  return null;
}

function noAccess(collection: string): Access {
  const reason = `No role of "${collection}" applies to this user`;
  const refusal = deny(DenialCode.noRole, reason);
  return {
    collection,
    role: null,
    readFilter: { op: 'false' },
    writeFilter: { op: 'false' },
    readableFields: [],
    writableFields: [],
    canRead: () => ({ allowed: false }),
    redact: () => null,
    checkWrite: () => refusal,
    unreadableFields: (query) => [...fieldsOfQuery(query)],
    authorizeQuery: () => refusal,
  };
}

/**
 * Resolves the user's role in a collection and returns what they may do there. Placeholders in the role's
 * filters are substituted once, here; a filter with an unresolvable placeholder denies everything it guards.
 */
export function createAccess(rules: Rules, claims: Claims, collection: string): Access {
  const role = resolveRole(rules, claims, collection);
  if (role === null) return noAccess(collection);
  const readFilter = substituteClaims(role.read, claims);
  const writeFilter = substituteClaims(role.write, claims);
  const listed = asFieldList(role.fields?.read);
  const readableFields: FieldList = listed === '*' || listed.includes('id') ? listed : ['id', ...listed];
  const writableFields = asFieldList(role.fields?.write);
  const where = (doc: QueryDoc) => evaluateFilter(readFilter, doc);
  const writable = (doc: QueryDoc) => evaluateFilter(writeFilter, doc);

  const checkFields = (touched: readonly string[], kind: 'insert' | 'update'): WriteDecision => {
    const refused = touched.filter(
      (path) =>
        !(kind === 'insert' && path === 'id') && (path === 'id' || !grantsField(writableFields, path)),
    );
    if (refused.length === 0) return { ok: true };
    return deny(
      DenialCode.fieldDenied,
      `Role "${role.name}" may not write ${refused.map((p) => `"${p}"`).join(', ')}`,
    );
  };

  const access: Access = {
    collection,
    role: role.name,
    readFilter,
    writeFilter,
    readableFields,
    writableFields,
    canRead: (doc) => (where(doc) ? { allowed: true, fields: readableFields } : { allowed: false }),
    redact: (doc) => (where(doc) ? pickFields(doc, readableFields) : null),
    checkWrite(write) {
      switch (write.kind) {
        case 'insert':
          if (!role.insert)
            return deny(DenialCode.insertDenied, `Role "${role.name}" may not create documents`);
          if (!writable(write.after)) {
            return deny(DenialCode.rowDenied, `Role "${role.name}" may not create this document`);
          }
          return checkFields(write.touchedFields, 'insert');
        case 'update':
          if (!writable(write.before)) {
            return deny(DenialCode.rowDenied, `Role "${role.name}" may not modify this document`);
          }
          if (write.after.id !== write.before.id) {
            return deny(DenialCode.rowDenied, 'An update cannot change the id of a document');
          }
          if (!writable(write.after)) {
            return deny(
              DenialCode.rowDenied,
              `Role "${role.name}" may not make this change: the result would be out of its reach`,
            );
          }
          return checkFields(write.touchedFields, 'update');
        case 'delete':
          if (!role.delete)
            return deny(DenialCode.deleteDenied, `Role "${role.name}" may not delete documents`);
          if (!writable(write.before)) {
            return deny(DenialCode.rowDenied, `Role "${role.name}" may not delete this document`);
          }
          return { ok: true };
      }
    },
    unreadableFields: (query) =>
      [...fieldsOfQuery(query)].filter((path) => !grantsField(readableFields, path)),
    authorizeQuery(query) {
      if (query.collection !== collection) {
        return deny(DenialCode.noRole, `These rules are for "${collection}", not "${query.collection}"`);
      }
      const hidden = access.unreadableFields(query);
      if (hidden.length > 0) {
        return deny(
          DenialCode.fieldDenied,
          `Role "${role.name}" may not filter or sort on ${hidden.map((p) => `"${p}"`).join(', ')}`,
        );
      }
      const filter: Filter =
        query.filter === undefined
          ? readFilter
          : readFilter.op === 'true'
            ? query.filter
            : { op: 'and', filters: [readFilter, query.filter] };
      return { ok: true, query: { ...query, filter } };
    },
  };
  return access;
}

/** The substituted read filter of the user's role in `collection` (`false` when no role applies). */
export function readFilterFor(rules: Rules, claims: Claims, collection: string): Filter {
  return createAccess(rules, claims, collection).readFilter;
}
