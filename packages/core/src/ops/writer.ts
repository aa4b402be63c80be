/**
 * Turns write intents (`intents.ts`) into ops: the one place where a kind of write becomes ops.
 *
 * The writer validates first and throws (`ValidationError`, `NotFoundError`, `AlreadyExistsError`) before
 * producing anything, so a refused write leaves no trace. It reads the document's current merge state to
 * choose the epoch (an insert after a delete starts the next incarnation) and, for list and text edits, to
 * express the edit against the current Yjs content.
 *
 * Sequence numbers come from one counter that only goes up: the caller takes them inside its storage transaction
 * and never gives them back (a rolled-back write leaves a gap, never an op id used twice).
 *
 * Contract with callers: list and text edits are made directly on `state`'s Yjs document (so the update bytes
 * are relative to it); the caller then applies every returned op with `applyOp` (idempotent for those edits)
 * and must drop `state` if it does not commit.
 */
import * as Y from 'yjs';
import type { Clock } from '../clock/hlc';
import { AlreadyExistsError, NotFoundError } from '../errors';
import { createDocId, createOpId, type DocId, type ReplicaId } from '../ids/ids';
import { crdtOf, type DocState, isLive, markAppliedInPlace, YJS_ROOT } from '../merge/doc-state';
import { type CollectionDef, type FieldDef, fieldAt, getCollection, type Schema } from '../schema/schema';
import { assertValid } from '../schema/validate';
import { checkIntent, checkPatchedObjects, problem } from './check-intent';
import type {
  ListDeleteIntent,
  ListInsertIntent,
  TextDeleteIntent,
  TextInsertIntent,
  WriteIntent,
} from './intents';
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

/**
 * The update of an in-place edit made while the caller holds a Yjs transaction open on the document: empty, for the
 * caller to fill in with the transaction's own update once it ends (see `Writer.write`).
 */
export const EMPTY_UPDATE: Uint8Array = new Uint8Array(0);

/** Options of `createWriter`. */
export interface WriterOptions {
  readonly schema: Schema;
  readonly clock: Clock;
  /** Sequence number of the next op (persisted by the caller between sessions); default 1. */
  readonly nextSeq?: number;
  /**
   * Yjs client id of this writer's list and text edits (default: {@link yjsClientId} of the replica). A local
   * database passes a fresh random one each time it opens: a database restored from an older copy of itself
   * then never reuses Yjs item ids it already spent before the copy was put back.
   */
  readonly yjsClientId?: number;
}

/** Produces the ops of local writes. */
export interface Writer {
  readonly replica: ReplicaId;
  /** The sequence number the next op will get. */
  nextSeq(): number;
  /** Takes the next sequence number for an op made elsewhere (a renumbered op). Never given out again. */
  takeSeq(): number;
  /** Makes the next sequence number at least `seq`; never lowers it. */
  skipTo(seq: number): void;
  /**
   * Takes another Yjs client id for later list and text edits. A local database calls it when it dropped merge
   * state its writer had edited (a document removed from the device, a state replaced by a fresh set): Yjs numbers
   * a client's items from what the document holds of them, so the old id would reuse item ids already spent.
   */
  renewYjsClientId(id: number): void;
  /**
   * Turns one intent into ops, in the order they must be applied, after checking it ({@link checkIntent}, then
   * against `state`, the current merge state of the document the intent targets). Returns the document's id
   * (made here for an insert without one). Throws `ValidationError`, `NotFoundError`, `AlreadyExistsError` or
   * `SchemaError` before producing anything.
   *
   * A caller may hold a Yjs transaction open (`doc.transact`) on one of `state`'s list or text documents across
   * several writes: their edits of it then join that one transaction, and their `yjs` ops carry
   * {@link EMPTY_UPDATE}; the caller gives them the update the transaction emits when it ends (one for all of them).
   */
  write(intent: WriteIntent, state: DocState | undefined): { id: DocId; ops: Op[] };
}

function toStored(def: FieldDef, value: unknown): Value {
  if (value === undefined) return null;
  // -0 is written as 0: SQLite's REAL cannot hold the sign, so a replica reading columns would see 0 while one
  // reading the merge state saw -0.
  if (value === 0 && def.kind === 'number') return 0;
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

const fieldLists = new WeakMap<CollectionDef, [string, FieldDef][]>();

/** A collection's fields, as `Object.entries` lists them (kept: a write walks them once per document). */
function fieldsOf(col: CollectionDef): readonly [string, FieldDef][] {
  let fields = fieldLists.get(col);
  if (!fields) {
    fields = Object.entries(col.fields);
    fieldLists.set(col, fields);
  }
  return fields;
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
  let clientId = options.yjsClientId ?? yjsClientId(replica);
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
    if (doc._transaction !== null) {
      // The caller holds a Yjs transaction open on `doc` (see `Writer.write`): the update comes out when it ends.
      doc.transact(() => edit(doc));
      return EMPTY_UPDATE;
    }
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

  const inPlaceOp = (
    collection: string,
    id: DocId,
    epoch: number,
    field: string,
    doc: Y.Doc,
    update: Uint8Array,
  ) => {
    const h = header(collection, id, epoch);
    const op: Op = { id: h.id, ts: h.ts, collection, doc: id, epoch, kind: 'yjs', field, update };
    markAppliedInPlace(op, doc);
    return op;
  };

  const checkRange = (collection: string, field: string, what: string, value: number, max: number) => {
    if (value > max) problem(collection, [field], `${what} in 0..${max}`, String(value));
  };

  /** A list or text edit at `index` (an insert, or a delete of `count` items), made in place on the field's Yjs doc. */
  const crdtEdit = (
    intent: ListInsertIntent | ListDeleteIntent | TextInsertIntent | TextDeleteIntent,
    live: DocState,
    id: DocId,
  ): Op[] => {
    const { collection, field, index } = intent;
    const doc = crdtOf(live, field);
    const type = intent.kind.startsWith('text') ? doc.getText(YJS_ROOT) : doc.getArray<Value>(YJS_ROOT);
    checkRange(collection, field, 'index', index, type.length);
    if ('count' in intent) checkRange(collection, field, 'count', intent.count, type.length - index);
    const update = yjsEdit(doc, () => {
      if ('count' in intent) type.delete(index, intent.count);
      else if (type instanceof Y.Text) type.insert(index, (intent as TextInsertIntent).text);
      else type.insert(index, [...(intent as ListInsertIntent).items]);
    });
    return update ? [inPlaceOp(collection, id, live.epoch, field, doc, update)] : [];
  };

  const insert = (
    col: CollectionDef,
    collection: string,
    state: DocState | undefined,
    doc: Readonly<Record<string, unknown>>,
  ): { id: DocId; ops: Op[] } => {
    const id = (doc.id as DocId | undefined) ?? createDocId();
    if (state && isLive(state)) throw new AlreadyExistsError(collection, id);
    const epoch = !state ? 0 : state.deleted ? state.epoch + 1 : state.epoch;
    const values: Record<string, Value> = {};
    let crdtOps: Op[] | undefined;
    const opId = createOpId(replica, seq++);
    const ts = clock.tick();
    for (const [name, def] of fieldsOf(col)) {
      const given = doc[name];
      if (def.kind === 'list' || def.kind === 'text') {
        const empty =
          def.kind === 'list'
            ? (given as unknown[] | undefined)?.length
            : (given as string | undefined)?.length;
        if (!empty) continue;
        const update = replaceContent(def, new Y.Doc({ guid: name }), given);
        if (update) {
          crdtOps ??= [];
          crdtOps.push({ ...header(collection, id, epoch), kind: 'yjs', field: name, update });
        }
        continue;
      }
      const value = given === undefined ? defaultOf(def) : toStored(def, given);
      if (value !== undefined) values[name] = value;
    }
    const create: Op = { id: opId, ts, collection, doc: id, epoch, kind: 'create', values };
    return { id, ops: crdtOps ? [create, ...crdtOps] : [create] };
  };

  const update = (
    col: CollectionDef,
    collection: string,
    live: DocState,
    id: DocId,
    patch: Readonly<Record<string, unknown>>,
  ): Op[] => {
    checkPatchedObjects(col, collection, id, live, patch);
    const ops: Op[] = [];
    for (const [path, value] of Object.entries(patch)) {
      if (path === 'id') continue;
      const def = fieldAt(col, path) as FieldDef;
      if (def.kind === 'list' || def.kind === 'text') {
        const doc = crdtOf(live, path);
        const edit = replaceContent(def, doc, value ?? (def.kind === 'list' ? [] : ''));
        if (edit) ops.push(inPlaceOp(collection, id, live.epoch, path, doc, edit));
      } else {
        ops.push({ ...header(collection, id, live.epoch), kind: 'set', path, value: toStored(def, value) });
      }
    }
    return ops;
  };

  return {
    replica,
    nextSeq: () => seq,
    takeSeq: () => seq++,
    skipTo(next) {
      if (next > seq) seq = next;
    },
    renewYjsClientId(id) {
      clientId = id;
    },

    write(intent, state) {
      checkIntent(schema, intent);
      const { collection } = intent;
      const col = getCollection(schema, collection);
      switch (intent.kind) {
        case 'insert':
          return insert(col, collection, state, intent.doc);
        case 'upsert': {
          const id = intent.id as DocId;
          if (!state || !isLive(state)) {
            const doc = { ...intent.doc, id };
            assertValid(collection, col, doc, 'insert');
            return insert(col, collection, state, doc);
          }
          return { id, ops: update(col, collection, state, id, intent.doc) };
        }
        case 'update': {
          const id = intent.id as DocId;
          return { id, ops: update(col, collection, liveState(collection, state, id), id, intent.patch) };
        }
        case 'increment': {
          const id = intent.id as DocId;
          const live = liveState(collection, state, id);
          return {
            id,
            ops: [
              {
                ...header(collection, id, live.epoch),
                kind: 'increment',
                field: intent.field,
                by: intent.by,
              },
            ],
          };
        }
        case 'delete': {
          const id = intent.id as DocId;
          const live = liveState(collection, state, id);
          return { id, ops: [{ ...header(collection, id, live.epoch), kind: 'delete' }] };
        }
        case 'listInsert':
        case 'listDelete':
        case 'textInsert':
        case 'textDelete': {
          const id = intent.id as DocId;
          return { id, ops: crdtEdit(intent, liveState(collection, state, id), id) };
        }
      }
    },
  };
}
