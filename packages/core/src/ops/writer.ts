/**
 * Turns local intents (insert, update, increment, delete, list and text edits) into ops.
 *
 * The writer validates first and throws (`ValidationError`, `NotFoundError`, `AlreadyExistsError`) before
 * producing anything, so a refused write leaves no trace. It reads the document's current merge state to
 * choose the epoch (an insert after a delete starts the next incarnation) and, for list and text edits, to
 * express the edit against the current Yjs content.
 *
 * Contract with callers: list and text edits are made directly on `state`'s Yjs document (so the update bytes
 * are relative to it); the caller then applies every returned op with `applyOp` (idempotent for those edits)
 * and must drop `state` if it does not commit.
 */
import * as Y from 'yjs';
import type { Clock } from '../clock/hlc';
import { AlreadyExistsError, NotFoundError, type Problem, ValidationError } from '../errors';
import { createDocId, createOpId, type DocId, type ReplicaId } from '../ids/ids';
import { crdtOf, type DocState, isLive, markAppliedInPlace, YJS_ROOT } from '../merge/doc-state';
import { type CollectionDef, type FieldDef, getCollection, type Schema } from '../schema/schema';
import { assertValid, checkFieldValue } from '../schema/validate';
import type { Op, OpHeader, Value } from './ops';

/** The Yjs client id a replica uses for its edits: a 32-bit hash of the replica id (FNV-1a). */
export function yjsClientId(replica: ReplicaId): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < replica.length; i++) {
    h ^= replica.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Options of `createWriter`. */
export interface WriterOptions {
  readonly schema: Schema;
  readonly clock: Clock;
  /** Sequence number of the next op (persisted by the caller between sessions); default 1. */
  readonly nextSeq?: number;
}

/** Produces the ops of local writes. Every method returns the ops in the order they must be applied. */
export interface Writer {
  readonly replica: ReplicaId;
  /** The sequence number the next op will get. */
  nextSeq(): number;
  insert(
    collection: string,
    state: DocState | undefined,
    doc: Record<string, unknown>,
  ): { id: DocId; ops: Op[] };
  update(collection: string, state: DocState | undefined, id: DocId, patch: Record<string, unknown>): Op[];
  increment(collection: string, state: DocState | undefined, id: DocId, field: string, by: number): Op[];
  delete(collection: string, state: DocState | undefined, id: DocId): Op[];
  listInsert(
    collection: string,
    state: DocState | undefined,
    id: DocId,
    field: string,
    index: number,
    items: Value[],
  ): Op[];
  listDelete(
    collection: string,
    state: DocState | undefined,
    id: DocId,
    field: string,
    index: number,
    count: number,
  ): Op[];
  textInsert(
    collection: string,
    state: DocState | undefined,
    id: DocId,
    field: string,
    index: number,
    text: string,
  ): Op[];
  textDelete(
    collection: string,
    state: DocState | undefined,
    id: DocId,
    field: string,
    index: number,
    count: number,
  ): Op[];
}

function toStored(def: FieldDef, value: unknown): Value {
  if (value === undefined) return null;
  if (def.kind === 'object' && value !== null) {
    const out: Record<string, Value> = {};
    for (const [name, child] of Object.entries(def.fields)) {
      const v = (value as Record<string, unknown>)[name];
      if (v !== undefined) out[name] = toStored(child, v);
    }
    return out;
  }
  return value as Value;
}

function defaultOf(def: FieldDef): Value | undefined {
  if (def.kind === 'counter') return def.default ?? 0;
  if (!('default' in def) || def.default === undefined) return undefined;
  return def.kind === 'date' ? new Date(def.default) : (def.default as Value);
}

function commonPrefix(a: string, b: string): number {
  let i = 0;
  const n = Math.min(a.length, b.length);
  while (i < n && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  if (i > 0 && i < a.length && (a.charCodeAt(i - 1) & 0xfc00) === 0xd800) i--;
  return i;
}

/** Creates a writer for one replica. */
export function createWriter(options: WriterOptions): Writer {
  const { schema, clock } = options;
  const replica = clock.replica;
  const clientId = yjsClientId(replica);
  let seq = options.nextSeq ?? 1;

  const header = (collection: string, doc: DocId, epoch: number): OpHeader => ({
    id: createOpId(replica, seq++),
    ts: clock.tick(),
    collection,
    doc,
    epoch,
  });

  const liveState = (collection: string, state: DocState | undefined, id: DocId): DocState => {
    if (!state || !isLive(state)) throw new NotFoundError(collection, id);
    return state;
  };

  const yjsEdit = (doc: Y.Doc, edit: (doc: Y.Doc) => void): Uint8Array | undefined => {
    doc.clientID = clientId;
    const updates: Uint8Array[] = [];
    const onUpdate = (u: Uint8Array) => updates.push(u);
    doc.on('update', onUpdate);
    try {
      doc.transact(() => edit(doc));
    } finally {
      doc.off('update', onUpdate);
    }
    return updates.length === 0 ? undefined : updates.length === 1 ? updates[0] : Y.mergeUpdates(updates);
  };

  const replaceContent = (def: FieldDef, doc: Y.Doc, value: unknown) =>
    yjsEdit(doc, (d) => {
      if (def.kind === 'text') {
        const text = d.getText(YJS_ROOT);
        const before = text.toString();
        const after = value as string;
        const prefix = commonPrefix(before, after);
        let suffix = 0;
        while (
          suffix < before.length - prefix &&
          suffix < after.length - prefix &&
          before.charCodeAt(before.length - 1 - suffix) === after.charCodeAt(after.length - 1 - suffix)
        ) {
          suffix++;
        }
        if (suffix > 0 && (after.charCodeAt(after.length - suffix) & 0xfc00) === 0xdc00) suffix--;
        if (before.length - prefix - suffix > 0) text.delete(prefix, before.length - prefix - suffix);
        if (after.length - prefix - suffix > 0)
          text.insert(prefix, after.slice(prefix, after.length - suffix));
      } else {
        const list = d.getArray<Value>(YJS_ROOT);
        if (list.length) list.delete(0, list.length);
        const items = value as Value[];
        if (items.length) list.insert(0, items);
      }
    });

  const crdtField = (
    col: CollectionDef,
    collection: string,
    field: string,
    kind: 'list' | 'text',
    value?: unknown,
  ) => {
    const def = Object.hasOwn(col.fields, field) ? col.fields[field] : undefined;
    if (def?.kind !== kind) {
      throw new ValidationError(collection, [
        { path: [field], expected: `${kind} field`, found: def ? `${def.kind} field` : 'no such field' },
      ]);
    }
    if (value !== undefined) {
      const problems: Problem[] = [];
      checkFieldValue(def, value, [field], problems);
      if (problems.length) throw new ValidationError(collection, problems);
    }
  };

  const inPlaceOp = (
    collection: string,
    id: DocId,
    epoch: number,
    field: string,
    doc: Y.Doc,
    update: Uint8Array,
  ) => {
    const op: Op = { ...header(collection, id, epoch), kind: 'yjs', field, update };
    markAppliedInPlace(op, doc);
    return op;
  };

  const checkRange = (collection: string, field: string, what: string, value: number, max: number) => {
    if (!Number.isSafeInteger(value) || value < 0 || value > max) {
      throw new ValidationError(collection, [
        { path: [field], expected: `${what} in 0..${max}`, found: String(value) },
      ]);
    }
  };

  /** A list or text edit at `index` (an insert, or a delete of `count` items), made in place on the field's Yjs doc. */
  const crdtEdit = (
    collection: string,
    state: DocState | undefined,
    id: DocId,
    field: string,
    kind: 'list' | 'text',
    index: number,
    change: { readonly insert: Value[] | string } | { readonly delete: number },
  ): Op[] => {
    const col = getCollection(schema, collection);
    crdtField(col, collection, field, kind, 'insert' in change ? change.insert : undefined);
    const live = liveState(collection, state, id);
    const doc = crdtOf(live, field);
    const type = kind === 'text' ? doc.getText(YJS_ROOT) : doc.getArray<Value>(YJS_ROOT);
    checkRange(collection, field, 'index', index, type.length);
    if ('delete' in change) checkRange(collection, field, 'count', change.delete, type.length - index);
    const update = yjsEdit(doc, () => {
      if ('delete' in change) type.delete(index, change.delete);
      else if (type instanceof Y.Text) type.insert(index, change.insert as string);
      else type.insert(index, change.insert as Value[]);
    });
    return update ? [inPlaceOp(collection, id, live.epoch, field, doc, update)] : [];
  };

  return {
    replica,
    nextSeq: () => seq,

    insert(collection, state, doc) {
      const col = getCollection(schema, collection);
      assertValid(collection, col, doc, 'insert');
      const id = (doc.id as DocId | undefined) ?? createDocId();
      if (state && isLive(state)) throw new AlreadyExistsError(collection, id);
      const epoch = !state ? 0 : state.deleted ? state.epoch + 1 : state.epoch;
      const values: Record<string, Value> = {};
      const crdtOps: Op[] = [];
      const first = header(collection, id, epoch);
      for (const [name, def] of Object.entries(col.fields)) {
        const given = doc[name];
        if (def.kind === 'list' || def.kind === 'text') {
          const empty =
            def.kind === 'list'
              ? (given as unknown[] | undefined)?.length
              : (given as string | undefined)?.length;
          if (!empty) continue;
          const update = replaceContent(def, new Y.Doc({ guid: name }), given);
          if (update) crdtOps.push({ ...header(collection, id, epoch), kind: 'yjs', field: name, update });
          continue;
        }
        const value = given === undefined ? defaultOf(def) : toStored(def, given);
        if (value !== undefined) values[name] = value;
      }
      return { id, ops: [{ ...first, kind: 'create', values }, ...crdtOps] };
    },

    update(collection, state, id, patch) {
      const col = getCollection(schema, collection);
      assertValid(collection, col, patch, 'patch');
      const live = liveState(collection, state, id);
      const ops: Op[] = [];
      for (const [name, value] of Object.entries(patch)) {
        const def = col.fields[name] as FieldDef;
        if (def.kind === 'list' || def.kind === 'text') {
          const doc = crdtOf(live, name);
          const update = replaceContent(def, doc, value ?? (def.kind === 'list' ? [] : ''));
          if (update) ops.push(inPlaceOp(collection, id, live.epoch, name, doc, update));
        } else {
          ops.push({
            ...header(collection, id, live.epoch),
            kind: 'set',
            path: name,
            value: toStored(def, value),
          });
        }
      }
      return ops;
    },

    increment(collection, state, id, field, by) {
      const col = getCollection(schema, collection);
      const def = Object.hasOwn(col.fields, field) ? col.fields[field] : undefined;
      if (def?.kind !== 'counter') {
        throw new ValidationError(collection, [
          { path: [field], expected: 'counter field', found: def ? `${def.kind} field` : 'no such field' },
        ]);
      }
      if (!Number.isSafeInteger(by)) {
        throw new ValidationError(collection, [
          { path: [field], expected: 'integer increment', found: String(by) },
        ]);
      }
      const live = liveState(collection, state, id);
      return [{ ...header(collection, id, live.epoch), kind: 'increment', field, by }];
    },

    delete(collection, state, id) {
      getCollection(schema, collection);
      const live = liveState(collection, state, id);
      return [{ ...header(collection, id, live.epoch), kind: 'delete' }];
    },

    listInsert: (collection, state, id, field, index, items) =>
      crdtEdit(collection, state, id, field, 'list', index, { insert: items }),
    listDelete: (collection, state, id, field, index, count) =>
      crdtEdit(collection, state, id, field, 'list', index, { delete: count }),
    textInsert: (collection, state, id, field, index, text) =>
      crdtEdit(collection, state, id, field, 'text', index, { insert: text }),
    textDelete: (collection, state, id, field, index, count) =>
      crdtEdit(collection, state, id, field, 'text', index, { delete: count }),
  };
}
