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
import { isPackedTimestamp, packTimestamp, type Timestamp, timeTable, unpackTimestamp } from '../clock/hlc';
import { OpDecodeError } from '../errors';
import { decodeBoundedMsgpack } from '../ops/codec';
import {
  type CounterState,
  crdtOf,
  createDocState,
  type DocState,
  type Register,
  registerWins,
} from './doc-state';
import { NO_CRDTS, readPlainV2 } from './plain-v2';
import { readSubset } from './snapshot-reader';

const encoder = new Encoder({ ignoreUndefined: true });

/**
 * The snapshot formats this build reads. 1: MessagePack maps, a 32-character timestamp per register, counter reset
 * and increment. 2: flat runs pointing into a per-document table of packed timestamps (`packTimestamp`), in the
 * layout the engine stores, so a device can write a document it does not hold yet without rebuilding it. A relay
 * sends 2 only to a client that announced it reads 2 (`hello.snapshots`).
 */
export const SNAPSHOT_VERSIONS = [1, 2] as const;
/** A snapshot format (see `SNAPSHOT_VERSIONS`). */
export type SnapshotVersion = (typeof SNAPSHOT_VERSIONS)[number];

/**
 * A version-2 snapshot as decoded, before it is turned into a `DocState` (`unpackDocState`): a store may write it
 * as is. Every timestamp is in `times` once; `times` holds none that nothing points at. Checked by
 * `readDocSnapshot` (a path or id given twice: the last counts, as `unpackDocState` reads it).
 */
export interface PackedDocState {
  readonly packed: true;
  readonly epoch: number;
  readonly created: boolean;
  readonly deleted: boolean;
  /** Each distinct timestamp once: packed (`packTimestamp`) or, when it is not an encoded timestamp, the string. */
  readonly times: readonly (Uint8Array | string)[];
  /** Registers as a flat run of `path, value, time` (`time`: an index in `times`). */
  readonly regs: readonly unknown[];
  /**
   * Counters as a flat run of `field, base, time | -1, value, incs` (-1: no reset), `incs` a flat run of
   * `opId, time, by`.
   */
  readonly counters: readonly unknown[];
  /** The Yjs documents of list and text fields (already decoded: their updates were checked). */
  readonly crdts: DocState['crdts'];
}

/** True when `state` is a decoded version-2 snapshot not yet unpacked. */
export function isPackedDocState(state: DocState | PackedDocState): state is PackedDocState {
  return (state as PackedDocState).packed === true;
}

/**
 * Encodes a document's whole merge state, Yjs fields included, in format `version` (1 unless told: every client
 * reads it; a relay sends 2 only to clients that announced it).
 */
export function encodeDocSnapshot(state: DocState, version: SnapshotVersion = 1): Uint8Array {
  if (version === 2) return encodeV2(state);
  const crdts: Record<string, Uint8Array> = {};
  for (const [field, doc] of Object.entries(state.crdts)) crdts[field] = Y.encodeStateAsUpdate(doc);
  return encoder.encode([1, state.epoch, state.created, state.deleted, state.regs, state.counters, crdts]);
}

/** `[2, epoch, created, deleted, times, regs, counters, crdts]`, see `PackedDocState` (crdts: `field, update`...). */
function encodeV2(state: DocState): Uint8Array {
  const { times, time } = timeTable<Uint8Array | string>(packTimestamp);
  const regs: unknown[] = [];
  for (const path in state.regs) {
    const r = state.regs[path] as Register;
    regs.push(path, r.v, time(r.t));
  }
  const counters: unknown[] = [];
  for (const field in state.counters) {
    const c = state.counters[field] as CounterState;
    const incs: unknown[] = [];
    for (const id in c.incs) {
      const [t, by] = c.incs[id] as [Timestamp, number];
      incs.push(id, time(t), by);
    }
    counters.push(field, c.base, time(c.t), c.value, incs);
  }
  const crdts: unknown[] = [];
  for (const [field, doc] of Object.entries(state.crdts)) crdts.push(field, Y.encodeStateAsUpdate(doc));
  return encoder.encode([2, state.epoch, state.created, state.deleted, times, regs, counters, crdts]);
}

const fail = (what: string): never => {
  throw new OpDecodeError('malformed', `document snapshot: ${what}`);
};

const isMap = (v: unknown) =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);

/**
 * Decodes a snapshot of any format this build reads: format 1 as a `DocState`, format 2 as a `PackedDocState`
 * (`unpackDocState` turns it into one). Total: throws `OpDecodeError` (`malformed`, `truncated`, `too_deep`,
 * `unsupported_version`) on anything else, within time and memory bounded by the input's size.
 */
export function readDocSnapshot(bytes: Uint8Array): DocState | PackedDocState {
  // Format 2 (the common case) reads without the general decoder when it can: see `snapshot-reader.ts`.
  if (bytes[0] === 0x98 && bytes[1] === 2) {
    const plain: PackedDocState | undefined = readPlainV2(bytes);
    if (plain) return plain;
    const fast = readSubset(bytes);
    if (fast !== undefined) return readV2(fast as unknown[]);
  }
  return readDocSnapshotGenerally(bytes);
}

/**
 * `readDocSnapshot` with the general decoder alone, never its fast readers (which must give what it gives, or give
 * up: tests compare them).
 */
export function readDocSnapshotGenerally(bytes: Uint8Array): DocState | PackedDocState {
  let raw: unknown;
  try {
    raw = decodeBoundedMsgpack(bytes);
  } catch (cause) {
    if (cause instanceof OpDecodeError) throw cause;
    throw new OpDecodeError('malformed', `document snapshot: ${(cause as Error).message}`, { cause });
  }
  if (!Array.isArray(raw) || raw.length === 0) return fail('unknown layout');
  if (raw[0] === 1) return readV1(raw);
  if (raw[0] === 2) return readV2(raw);
  throw new OpDecodeError(
    'unsupported_version',
    `document snapshot format ${JSON.stringify(raw[0])}, this build reads ${SNAPSHOT_VERSIONS.join(' and ')}`,
  );
}

/** Decodes a snapshot of any format this build reads into a `DocState`; throws as `readDocSnapshot`. */
export function decodeDocSnapshot(bytes: Uint8Array): DocState {
  const read = readDocSnapshot(bytes);
  return isPackedDocState(read) ? unpackDocState(read) : read;
}

function applyCrdt(state: DocState, field: string, update: unknown): void {
  if (!(update instanceof Uint8Array)) fail('bad Yjs state');
  try {
    Y.applyUpdate(crdtOf(state, field), update as Uint8Array);
  } catch (cause) {
    throw new OpDecodeError('malformed', `document snapshot: bad Yjs state for "${field}"`, { cause });
  }
}

function checkHeader(epoch: unknown, created: unknown, deleted: unknown): void {
  if (!Number.isSafeInteger(epoch) || (epoch as number) < 0) fail('bad epoch');
  if (typeof created !== 'boolean' || typeof deleted !== 'boolean') fail('bad flags');
}

function readV1(raw: unknown[]): DocState {
  if (raw.length !== 7) fail('unknown layout');
  const [, epoch, created, deleted, regs, counters, crdts] = raw as unknown[];
  checkHeader(epoch, created, deleted);
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
  for (const [field, update] of Object.entries(crdts as Record<string, unknown>))
    applyCrdt(state, field, update);
  return state;
}

/** A name or id used as an object key once unpacked: a string, never `__proto__`. */
function key(v: unknown): string {
  if (typeof v !== 'string' || v === '__proto__') fail('bad name');
  return v as string;
}

function readV2(raw: unknown[]): PackedDocState {
  if (raw.length !== 8) fail('unknown layout');
  const [, epoch, created, deleted, times, regs, counters, crdts] = raw as unknown[];
  checkHeader(epoch, created, deleted);
  if (!Array.isArray(times) || !Array.isArray(regs) || !Array.isArray(counters) || !Array.isArray(crdts))
    fail('bad tables');
  const table = times as unknown[];
  for (const t of table)
    if (typeof t !== 'string' && !(t instanceof Uint8Array && isPackedTimestamp(t))) fail('bad timestamp');
  const used = new Uint8Array(table.length);
  const time = (i: unknown, optional: boolean) => {
    if (optional && i === -1) return;
    if (!Number.isInteger(i) || (i as number) < 0 || (i as number) >= table.length) fail('bad time index');
    used[i as number] = 1;
  };
  const flatRegs = regs as unknown[];
  if (flatRegs.length % 3 !== 0) fail('bad registers');
  for (let i = 0; i < flatRegs.length; i += 3) {
    key(flatRegs[i]);
    time(flatRegs[i + 2], false);
  }
  const flatCounters = counters as unknown[];
  if (flatCounters.length % 5 !== 0) fail('bad counters');
  for (let i = 0; i < flatCounters.length; i += 5) {
    key(flatCounters[i]);
    if (!Number.isSafeInteger(flatCounters[i + 1]) || !Number.isSafeInteger(flatCounters[i + 3]))
      fail('bad counter');
    time(flatCounters[i + 2], true);
    const incs = flatCounters[i + 4] as unknown[];
    if (!Array.isArray(incs) || incs.length % 3 !== 0) fail('bad counter');
    for (let j = 0; j < incs.length; j += 3) {
      key(incs[j]);
      time(incs[j + 1], false);
      if (!Number.isSafeInteger(incs[j + 2])) fail('bad counter');
    }
  }
  if (used.includes(0)) fail('unused timestamp');
  const flatCrdts = crdts as unknown[];
  if (flatCrdts.length % 2 !== 0) fail('bad Yjs states');
  const withCrdts = createDocState();
  for (let i = 0; i < flatCrdts.length; i += 2) applyCrdt(withCrdts, key(flatCrdts[i]), flatCrdts[i + 1]);
  return {
    packed: true,
    epoch: epoch as number,
    created: created as boolean,
    deleted: deleted as boolean,
    times: table as (Uint8Array | string)[],
    regs: flatRegs,
    counters: flatCounters,
    crdts: withCrdts.crdts,
  };
}

function timeAt(state: PackedDocState): (i: unknown) => Timestamp | null {
  const strings = state.times.map((t) => (typeof t === 'string' ? t : (unpackTimestamp(t) as string)));
  return (i) => (i === -1 ? null : (strings[i as number] as Timestamp));
}

/**
 * The `DocState` of a decoded version-2 snapshot (what `decodeDocSnapshot` gives for its bytes), whose objects are
 * its own but for the Yjs documents, which it takes over from `state`: unpack a state once.
 */
export function unpackDocState(state: PackedDocState): DocState {
  const at = timeAt(state);
  const regs: DocState['regs'] = {};
  const flatRegs = state.regs;
  for (let i = 0; i < flatRegs.length; i += 3)
    regs[flatRegs[i] as string] = {
      v: flatRegs[i + 1] as Register['v'],
      t: at(flatRegs[i + 2]) as Timestamp,
    };
  const counters: DocState['counters'] = {};
  const flat = state.counters;
  for (let i = 0; i < flat.length; i += 5) {
    const flatIncs = flat[i + 4] as unknown[];
    const incs: CounterState['incs'] = {};
    for (let j = 0; j < flatIncs.length; j += 3)
      incs[flatIncs[j] as string] = [at(flatIncs[j + 1]) as Timestamp, flatIncs[j + 2] as number];
    counters[flat[i] as string] = {
      base: flat[i + 1] as number,
      t: at(flat[i + 2]),
      value: flat[i + 3] as number,
      incs,
    };
  }
  return {
    epoch: state.epoch,
    created: state.created,
    deleted: state.deleted,
    regs,
    counters,
    crdts: state.crdts === NO_CRDTS ? {} : state.crdts,
  };
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
