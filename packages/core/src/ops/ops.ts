/**
 * Operations: the unit of change that replicas, peers and the server exchange.
 *
 * Every op carries
 * - `id`: `<replica>:<seq>`, unique forever, so applying an op twice is detectable (and harmless: merge is
 *   idempotent anyway);
 * - `ts`: the HLC timestamp that orders it against concurrent writes (last writer wins, counter resets);
 * - `collection`, `doc`: what it changes;
 * - `epoch`: the incarnation of the document it was written against. A create after a delete starts
 *   incarnation `deleted epoch + 1`; ops of an older incarnation are discarded (deletes win).
 *
 * Kinds:
 * - `create`: starts (or joins) an incarnation, with initial values of register, object and counter fields
 *   (objects as nested objects; counters as their initial value, i.e. a reset);
 * - `set`: one register, or a whole object (`path` dotted, e.g. `address.city`); a `set` on a counter resets it;
 *   `value: null` clears an optional field;
 * - `increment`: adds `by` (an integer, may be negative) to a counter;
 * - `delete`: removes the incarnation `epoch` of the document;
 * - `yjs`: a Yjs update for a `list` or `text` field.
 */
import type { Timestamp } from '../clock/hlc';
import type { DocId, OpId } from '../ids/ids';

/** A field value as carried by ops: a scalar, a `Date`, or JSON (objects, arrays). */
export type Value = null | boolean | number | string | Date | Value[] | { [key: string]: Value };

/** Fields common to every op. */
export interface OpHeader {
  readonly id: OpId;
  readonly ts: Timestamp;
  readonly collection: string;
  readonly doc: DocId;
  readonly epoch: number;
}

/** Starts (or joins) an incarnation of a document with the initial values of its register, object and counter fields. */
export interface CreateOp extends OpHeader {
  readonly kind: 'create';
  readonly values: { readonly [field: string]: Value };
}
/** Sets one register or object path (`null` clears an optional field); on a counter, resets it. */
export interface SetOp extends OpHeader {
  readonly kind: 'set';
  readonly path: string;
  readonly value: Value;
}
/** Adds `by` (an integer, may be negative) to a counter. */
export interface IncrementOp extends OpHeader {
  readonly kind: 'increment';
  readonly field: string;
  readonly by: number;
}
/** Removes incarnation `epoch` of the document (deletes win over concurrent updates). */
export interface DeleteOp extends OpHeader {
  readonly kind: 'delete';
}
/** A Yjs update of a list or text field. */
export interface YjsOp extends OpHeader {
  readonly kind: 'yjs';
  readonly field: string;
  readonly update: Uint8Array;
}

/** Any operation. */
export type Op = CreateOp | SetOp | IncrementOp | DeleteOp | YjsOp;
/** The kind tag of an op. */
export type OpKind = Op['kind'];

/** The paths of the fields an op writes (top-level field names for `create`, the field for the others). */
export function touchedFields(op: Op): string[] {
  switch (op.kind) {
    case 'create':
      return Object.keys(op.values);
    case 'set':
      return [op.path];
    case 'increment':
    case 'yjs':
      return [op.field];
    case 'delete':
      return [];
  }
}
