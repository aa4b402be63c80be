/**
 * The merge engine: the state of one document as a pure function of the set of ops applied to it.
 *
 * Invariants (see ../../INTERNALS.md for the reasoning):
 * 1. Only ops of the greatest epoch seen count. A higher epoch wipes the state; a lower one is ignored.
 * 2. A delete of the current epoch hides the document and drops its fields; later ops of that epoch are ignored
 *    whatever their timestamps (deletes win).
 * 3. A register holds the value of the op with the greatest timestamp that wrote it (a `set` on an object
 *    writes every leaf beneath it).
 * 4. A counter holds its winning reset (greatest timestamp) plus every increment stamped after it, each counted
 *    once (keyed by op id).
 * 5. A list or text field is a Yjs document; Yjs merges updates commutatively and idempotently.
 * So applying the same set of ops in any order, any number of times, gives the same `canonicalDocState`.
 */
import * as Y from 'yjs';
import type { Timestamp } from '../clock/hlc';
import { OpError } from '../errors';
import type { OpId } from '../ids/ids';
import type { Op, Value } from '../ops/ops';
import type { CollectionDef, FieldDef } from '../schema/schema';

/** A last-writer-wins register: the value and the timestamp of the write that set it. */
export interface Register {
  v: Value;
  t: Timestamp;
}

/** A counter: its winning reset and the increments stamped after it. */
export interface CounterState {
  /** Value set by the winning reset (0 when there has been none). */
  base: number;
  /** Timestamp of the winning reset, or null when there has been none. */
  t: Timestamp | null;
  /** `base` plus every increment in `incs` (kept so reads are O(1)). */
  value: number;
  /** Increments stamped after the reset, by op id: `[timestamp, by]`. */
  incs: Record<string, [Timestamp, number]>;
}

/** The merge state of one document. Plain data, except Yjs documents for list and text fields. */
export interface DocState {
  /** Greatest epoch (incarnation) seen. */
  epoch: number;
  /** A create op of this epoch has been applied. */
  created: boolean;
  /** A delete op of this epoch has been applied. */
  deleted: boolean;
  /** Registers by dotted leaf path. */
  regs: Record<string, Register>;
  /** Counters by field name. */
  counters: Record<string, CounterState>;
  /** Yjs documents of list and text fields, by field name; their root type is named `v`. */
  crdts: Record<string, Y.Doc>;
}

/** Name of the Yjs root type holding a list or text field's content. */
export const YJS_ROOT = 'v';

/** A new, empty document state (nothing applied yet). */
export function createDocState(): DocState {
  return { epoch: 0, created: false, deleted: false, regs: {}, counters: {}, crdts: {} };
}

function resetTo(state: DocState, epoch: number): void {
  for (const doc of Object.values(state.crdts)) doc.destroy();
  state.epoch = epoch;
  state.created = false;
  state.deleted = false;
  state.regs = {};
  state.counters = {};
  state.crdts = {};
}

function fieldDef(col: CollectionDef, path: string): FieldDef {
  if (!path.includes('.')) {
    const top = Object.hasOwn(col.fields, path) ? col.fields[path] : undefined;
    if (!top) throw new OpError(`Unknown field "${path}"`);
    return top;
  }
  let fields: CollectionDef['fields'] | undefined = col.fields;
  let def: FieldDef | undefined;
  for (const part of path.split('.')) {
    def = fields && Object.hasOwn(fields, part) ? fields[part] : undefined;
    if (!def) throw new OpError(`Unknown field "${path}"`);
    fields = def.kind === 'object' ? def.fields : undefined;
  }
  return def as FieldDef;
}

const encoderForTies = new TextEncoder();
function tieBreak(a: Value, b: Value): number {
  const x = encoderForTies.encode(JSON.stringify(a instanceof Date ? a.getTime() : a));
  const y = encoderForTies.encode(JSON.stringify(b instanceof Date ? b.getTime() : b));
  for (let i = 0; i < Math.min(x.length, y.length); i++)
    if (x[i] !== y[i]) return (x[i] as number) - (y[i] as number);
  return x.length - y.length;
}

/** True when a write `(v, t)` beats the register's current write: later timestamp, ties by value bytes. */
export function registerWins(v: Value, t: Timestamp, current: Register | undefined): boolean {
  return !current || t > current.t || (t === current.t && tieBreak(v, current.v) > 0);
}

function writeRegister(state: DocState, path: string, v: Value, t: Timestamp): boolean {
  if (!registerWins(v, t, state.regs[path])) return false;
  state.regs[path] = { v, t };
  return true;
}

function writeLeaves(state: DocState, def: FieldDef, path: string, value: Value, t: Timestamp): boolean {
  if (def.kind !== 'object') return writeRegister(state, path, value ?? null, t);
  const obj =
    value !== null && typeof value === 'object' && !Array.isArray(value) && !(value instanceof Date)
      ? value
      : {};
  let changed = false;
  for (const [name, child] of Object.entries(def.fields)) {
    const v = Object.hasOwn(obj, name) ? (obj as Record<string, Value>)[name] : null;
    if (writeLeaves(state, child, `${path}.${name}`, v ?? null, t)) changed = true;
  }
  return changed;
}

function counterOf(state: DocState, field: string): CounterState {
  let c = state.counters[field];
  if (!c) {
    c = { base: 0, t: null, value: 0, incs: {} };
    state.counters[field] = c;
  }
  return c;
}

function resetCounter(state: DocState, field: string, value: number, t: Timestamp): boolean {
  const c = counterOf(state, field);
  if (c.t !== null && (t < c.t || (t === c.t && value <= c.base))) return false;
  c.base = value;
  c.t = t;
  c.value = value;
  for (const [id, [it, by]] of Object.entries(c.incs)) {
    if (it < t) delete c.incs[id];
    else c.value += by;
  }
  return true;
}

function incrementCounter(state: DocState, field: string, id: OpId, by: number, t: Timestamp): boolean {
  const c = counterOf(state, field);
  if ((c.t !== null && t < c.t) || Object.hasOwn(c.incs, id)) return false;
  c.incs[id] = [t, by];
  c.value += by;
  return true;
}

/** The Yjs document of a list or text field, created empty if absent. */
export function crdtOf(state: DocState, field: string): Y.Doc {
  let doc = state.crdts[field];
  if (!doc) {
    doc = new Y.Doc({ guid: field });
    state.crdts[field] = doc;
  }
  return doc;
}

/**
 * Yjs ops whose edit was made directly on a document's Yjs doc by the local writer, with that doc. Applying such
 * an op to that same doc is a no-op by construction, so it is skipped instead of decoded again. Applying it to any
 * other state (a reloaded one, another replica) decodes it as usual. An op is tied to a token its doc holds, never
 * to the doc: an op kept by a listener or a queue does not keep a whole document alive.
 */
const appliedInPlace = new WeakMap<Op, object>();
const docTokens = new WeakMap<Y.Doc, object>();

/** Records that `op`'s update was produced by editing `doc` in place (for the local writer). */
export function markAppliedInPlace(op: Op, doc: Y.Doc): void {
  let token = docTokens.get(doc);
  if (!token) {
    token = {};
    docTokens.set(doc, token);
  }
  appliedInPlace.set(op, token);
}

function applyYjs(state: DocState, op: Op & { kind: 'yjs' }): boolean {
  const { field, update } = op;
  const doc = crdtOf(state, field);
  const token = appliedInPlace.get(op);
  if (token !== undefined && token === docTokens.get(doc)) return true;
  let changed = false;
  // afterTransaction, unlike 'update', does not make Yjs encode an update for every transaction.
  const onTransaction = (tr: Y.Transaction) => {
    if (tr.changed.size > 0 || tr.deleteSet.clients.size > 0) changed = true;
  };
  // An update whose neighbours this document lacks is held by Yjs as pending (integrated once they arrive): the
  // state changed all the same, and a caller that keeps only changed states must keep this one, or the edit is lost.
  const pending = [doc.store.pendingStructs?.update, doc.store.pendingDs];
  doc.on('afterTransaction', onTransaction);
  try {
    Y.applyUpdate(doc, update);
    if (doc.store.pendingStructs?.update !== pending[0] || doc.store.pendingDs !== pending[1]) changed = true;
  } catch (cause) {
    throw new OpError(
      `Malformed Yjs update for field "${field}": ${cause instanceof Error ? cause.message : cause}`,
    );
  } finally {
    doc.off('afterTransaction', onTransaction);
  }
  return changed;
}

/**
 * Checks that an op fits its collection's schema shape (field exists, kind matches the op); throws `OpError`.
 * It does not check values against the schema: that is `validate`'s job, done before an op is accepted.
 */
export function checkOpShape(col: CollectionDef, op: Op): void {
  switch (op.kind) {
    case 'create':
      for (const name of Object.keys(op.values)) {
        const def = fieldDef(col, name);
        if (def.kind === 'list' || def.kind === 'text')
          throw new OpError(`create cannot carry ${def.kind} field "${name}"`);
      }
      return;
    case 'set': {
      const def = fieldDef(col, op.path);
      if (def.kind === 'list' || def.kind === 'text')
        throw new OpError(`set cannot write ${def.kind} field "${op.path}"`);
      if (def.kind === 'counter' && !Number.isSafeInteger(op.value))
        throw new OpError(`counter "${op.path}" takes integers`);
      return;
    }
    case 'increment':
      if (fieldDef(col, op.field).kind !== 'counter') throw new OpError(`"${op.field}" is not a counter`);
      return;
    case 'yjs': {
      const kind = fieldDef(col, op.field).kind;
      if (kind !== 'list' && kind !== 'text') throw new OpError(`"${op.field}" is not a list or text field`);
      return;
    }
    case 'delete':
      return;
  }
}

/**
 * Applies one op to a document's state. Returns true when the state changed (false for a duplicate, a stale
 * epoch, or a write that lost). The op must have passed `checkOpShape`; throws `OpError` otherwise.
 */
export function applyOp(col: CollectionDef, state: DocState, op: Op): boolean {
  if (op.epoch < state.epoch) return false;
  let changed = false;
  if (op.epoch > state.epoch) {
    resetTo(state, op.epoch);
    changed = true;
  }
  if (state.deleted) return changed;
  switch (op.kind) {
    case 'delete':
      resetTo(state, op.epoch);
      state.deleted = true;
      return true;
    case 'create': {
      if (!state.created) changed = true;
      state.created = true;
      const values = op.values;
      for (const name in values) {
        if (!Object.hasOwn(values, name)) continue;
        const value = values[name] as Value;
        const def = fieldDef(col, name);
        const wrote =
          def.kind === 'counter'
            ? resetCounter(state, name, (value as number) ?? 0, op.ts)
            : writeLeaves(state, def, name, value, op.ts);
        if (wrote) changed = true;
      }
      return changed;
    }
    case 'set': {
      const def = fieldDef(col, op.path);
      const wrote =
        def.kind === 'counter'
          ? resetCounter(state, op.path, op.value as number, op.ts)
          : writeLeaves(state, def, op.path, op.value, op.ts);
      return wrote || changed;
    }
    case 'increment':
      return incrementCounter(state, op.field, op.id, op.by, op.ts) || changed;
    case 'yjs':
      return applyYjs(state, op) || changed;
  }
}

/** True when the document exists: created in its current epoch and not deleted. */
export function isLive(state: DocState): boolean {
  return state.created && !state.deleted;
}

/** A document as the app sees it: `{ id, ...fields }`. Cleared (null) fields and empty objects are absent. */
export type MaterializedDoc = { id: string } & Record<string, unknown>;

function materializeFields(
  fields: CollectionDef['fields'],
  state: DocState,
  prefix: string,
  out: Record<string, unknown>,
): boolean {
  let any = false;
  for (const [name, def] of Object.entries(fields)) {
    const path = prefix + name;
    switch (def.kind) {
      case 'object': {
        const obj: Record<string, unknown> = {};
        if (materializeFields(def.fields, state, `${path}.`, obj)) {
          out[name] = obj;
          any = true;
        }
        break;
      }
      case 'counter':
        out[name] = state.counters[name]?.value ?? 0;
        any = true;
        break;
      case 'list':
        out[name] = state.crdts[name]?.getArray(YJS_ROOT).toJSON() ?? [];
        any = true;
        break;
      case 'text':
        out[name] = state.crdts[name]?.getText(YJS_ROOT).toString() ?? '';
        any = true;
        break;
      default: {
        const reg = state.regs[path];
        if (reg && reg.v !== null) {
          out[name] = reg.v;
          any = true;
        }
      }
    }
  }
  return any;
}

/** The document's current value, or undefined when it does not exist (never created, or deleted). */
export function materialize(col: CollectionDef, id: string, state: DocState): MaterializedDoc | undefined {
  if (!isLive(state)) return undefined;
  const out: MaterializedDoc = { id };
  materializeFields(col.fields, state, '', out);
  return out;
}

function sortedEntries<T>(record: Record<string, T>): [string, T][] {
  return Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

function canonicalValue(v: Value): unknown {
  return v instanceof Date ? { $date: v.getTime() } : v;
}

/**
 * A canonical, order-independent description of the whole merge state (metadata included), as plain data.
 * Two replicas that applied the same set of ops produce structurally identical results; encode it with
 * `canonicalEncode` to compare bytes.
 */
export function canonicalDocState(col: CollectionDef, state: DocState): unknown[] {
  return [
    state.epoch,
    state.created,
    state.deleted,
    sortedEntries(state.regs).map(([path, r]) => [path, r.t, canonicalValue(r.v)]),
    sortedEntries(state.counters).map(([field, c]) => [field, c.t, c.base, c.value, sortedEntries(c.incs)]),
    sortedEntries(state.crdts).map(([field, doc]) => {
      const sv = [...Y.decodeStateVector(Y.encodeStateVector(doc)).entries()].sort((a, b) => a[0] - b[0]);
      const content =
        col.fields[field]?.kind === 'text'
          ? doc.getText(YJS_ROOT).toString()
          : doc.getArray(YJS_ROOT).toJSON();
      return [field, sv, content];
    }),
  ];
}
