/**
 * Document snapshots: a document's merge state as bytes, what the server sends down instead of raw ops.
 *
 * `mergeDocState` is the state-based join: merging the snapshot of the state reached by ops A into the state
 * reached by ops B gives exactly the state reached by A ∪ B (checked by property tests). So snapshots and ops can be
 * mixed freely, in any order, any number of times. `redactDocState` keeps only the fields a user may read: a
 * snapshot never carries the others.
 */
import { Encoder } from '@msgpack/msgpack';
import * as Y from 'yjs';
import type { Timestamp } from '../clock/hlc';
import { OpDecodeError } from '../errors';
import { decodeBoundedMsgpack } from '../ops/codec';
import { type CounterState, crdtOf, type DocState, type Register, registerWins } from './doc-state';

const encoder = new Encoder({ ignoreUndefined: true });
const SNAPSHOT_VERSION = 1;

/** Encodes a document's whole merge state, Yjs fields included. */
export function encodeDocSnapshot(state: DocState): Uint8Array {
  const crdts: Record<string, Uint8Array> = {};
  for (const [field, doc] of Object.entries(state.crdts)) crdts[field] = Y.encodeStateAsUpdate(doc);
  return encoder.encode([
    SNAPSHOT_VERSION,
    state.epoch,
    state.created,
    state.deleted,
    state.regs,
    state.counters,
    crdts,
  ]);
}

/** Decodes `encodeDocSnapshot` output; throws `OpDecodeError` (malformed) on anything else. */
export function decodeDocSnapshot(bytes: Uint8Array): DocState {
  let raw: unknown;
  try {
    raw = decodeBoundedMsgpack(bytes);
  } catch (cause) {
    if (cause instanceof OpDecodeError) throw cause;
    throw new OpDecodeError('malformed', `document snapshot: ${(cause as Error).message}`, { cause });
  }
  const fail = (what: string): never => {
    throw new OpDecodeError('malformed', `document snapshot: ${what}`);
  };
  if (!Array.isArray(raw) || raw.length !== 7 || raw[0] !== SNAPSHOT_VERSION) fail('unknown layout');
  const [, epoch, created, deleted, regs, counters, crdts] = raw as unknown[];
  if (!Number.isSafeInteger(epoch) || (epoch as number) < 0) fail('bad epoch');
  if (typeof created !== 'boolean' || typeof deleted !== 'boolean') fail('bad flags');
  const isMap = (v: unknown) =>
    typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
  if (!isMap(regs) || !isMap(counters) || !isMap(crdts)) fail('bad maps');
  for (const r of Object.values(regs as object))
    if (!isMap(r) || typeof (r as Register).t !== 'string') fail('bad register');
  for (const c of Object.values(counters as object)) {
    const k = c as CounterState;
    if (!isMap(c) || !Number.isSafeInteger(k.base) || !Number.isSafeInteger(k.value) || !isMap(k.incs))
      fail('bad counter');
  }
  const state: DocState = {
    epoch: epoch as number,
    created: created as boolean,
    deleted: deleted as boolean,
    regs: regs as DocState['regs'],
    counters: counters as DocState['counters'],
    crdts: {},
  };
  for (const [field, update] of Object.entries(crdts as Record<string, unknown>)) {
    if (!(update instanceof Uint8Array)) fail('bad Yjs state');
    try {
      Y.applyUpdate(crdtOf(state, field), update as Uint8Array);
    } catch (cause) {
      throw new OpDecodeError('malformed', `document snapshot: bad Yjs state for "${field}"`, { cause });
    }
  }
  return state;
}

function top(path: string): string {
  const dot = path.indexOf('.');
  return dot === -1 ? path : path.slice(0, dot);
}

/**
 * A copy of `state` with only the fields `canRead(path)` allows (checked on the dotted leaf path for registers and on
 * the field name for counters, lists and text). Epoch and flags are kept: they carry no field data.
 */
export function redactDocState(state: DocState, canRead: (path: string) => boolean): DocState {
  const regs: DocState['regs'] = {};
  for (const [path, r] of Object.entries(state.regs)) if (canRead(path)) regs[path] = r;
  const counters: DocState['counters'] = {};
  for (const [field, c] of Object.entries(state.counters)) if (canRead(field)) counters[field] = c;
  const crdts: DocState['crdts'] = {};
  for (const [field, doc] of Object.entries(state.crdts)) if (canRead(top(field))) crdts[field] = doc;
  return { ...state, regs, counters, crdts };
}

/**
 * Joins `incoming` into `target` (mutating it) by the conflict rules; returns true when `target` changed.
 * Commutative, associative, idempotent, and equal to applying the union of the ops both states came from.
 * `onYjs` hears, for each list or text field that changed, the Yjs update applied to it (what `incoming` held that
 * `target` lacked), so a store can save that alone.
 */
export function mergeDocState(
  target: DocState,
  incoming: DocState,
  onYjs?: (field: string, update: Uint8Array) => void,
): boolean {
  if (incoming.epoch < target.epoch) return false;
  let changed = false;
  if (incoming.epoch > target.epoch) {
    for (const doc of Object.values(target.crdts)) doc.destroy();
    target.epoch = incoming.epoch;
    target.created = false;
    target.deleted = false;
    target.regs = {};
    target.counters = {};
    target.crdts = {};
    changed = true;
  }
  if (target.deleted) return changed;
  if (incoming.deleted) {
    for (const doc of Object.values(target.crdts)) doc.destroy();
    target.created = false;
    target.deleted = true;
    target.regs = {};
    target.counters = {};
    target.crdts = {};
    return true;
  }
  if (incoming.created && !target.created) {
    target.created = true;
    changed = true;
  }
  for (const [path, r] of Object.entries(incoming.regs)) {
    const cur = target.regs[path];
    if (registerWins(r.v, r.t, cur)) {
      target.regs[path] = r;
      changed = true;
    }
  }
  for (const [field, c] of Object.entries(incoming.counters)) {
    const cur = target.counters[field];
    if (!cur) {
      target.counters[field] = { base: c.base, t: c.t, value: c.value, incs: { ...c.incs } };
      changed = true;
      continue;
    }
    const incomingWins =
      c.t !== null && (cur.t === null || c.t > cur.t || (c.t === cur.t && c.base > cur.base));
    if (incomingWins) {
      cur.base = c.base;
      cur.t = c.t;
      changed = true;
    }
    const incs: CounterState['incs'] = {};
    for (const source of [cur.incs, c.incs]) {
      for (const [id, inc] of Object.entries(source)) if (cur.t === null || inc[0] >= cur.t) incs[id] = inc;
    }
    let value = cur.base;
    for (const [, by] of Object.values(incs)) value += by;
    if (value !== cur.value || Object.keys(incs).length !== Object.keys(cur.incs).length) changed = true;
    cur.incs = incs;
    cur.value = value;
  }
  for (const [field, doc] of Object.entries(incoming.crdts)) {
    const mine = crdtOf(target, field);
    let fieldChanged = false;
    const onTransaction = (tr: Y.Transaction) => {
      if (tr.changed.size > 0 || tr.deleteSet.clients.size > 0) fieldChanged = true;
    };
    const update = Y.encodeStateAsUpdate(doc, Y.encodeStateVector(mine));
    mine.on('afterTransaction', onTransaction);
    try {
      Y.applyUpdate(mine, update);
    } finally {
      mine.off('afterTransaction', onTransaction);
    }
    if (fieldChanged) {
      changed = true;
      onYjs?.(field, update);
    }
  }
  return changed;
}

/**
 * The greatest timestamp a state carries (its registers, counter resets and increments), or undefined. A replica
 * that takes a snapshot moves its clock past it, so its next writes order after what it has seen.
 */
export function latestTimestamp(state: DocState): Timestamp | undefined {
  let latest: Timestamp | undefined;
  const see = (t: Timestamp | null) => {
    if (t !== null && (latest === undefined || t > latest)) latest = t;
  };
  for (const r of Object.values(state.regs)) see(r.t);
  for (const c of Object.values(state.counters)) {
    see(c.t);
    for (const [t] of Object.values(c.incs)) see(t);
  }
  return latest;
}
