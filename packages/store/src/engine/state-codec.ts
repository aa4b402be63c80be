/**
 * The encodings of a document's merge state in its row (`_state`).
 *
 * The relay's stores (`rowParams` with `crdtsInDoc`): `_state` holds the register and counter metadata
 * (MessagePack, layout 2), `_doc` the materialized document (MessagePack, so dates stay dates, list and text fields
 * included), and one column per scalar leaf for queries.
 *
 * The engine (lean rows, layout 3): each value is stored once. One column per scalar leaf holds the value, as for
 * queries; `_state` holds the timestamps (one table per document) and, for a register or counter, only a pointer to
 * its column when the column holds exactly its value (else the value inline: a document not live, a json leaf, a
 * value the column cannot give back). `_doc` is left NULL: a document is read by decoding `_state` with the row's
 * columns and materializing it. Rows written before (layouts 1 and 2, with `_doc`) still decode: their values are
 * inline. List and text fields live in Yjs rows (`yjs-rows.ts`), added when the engine reads a document.
 *
 * Column pointers are ordinals in the table's physical column order (`LeanColumns.columns`, read from the
 * table on open): additive migrations append columns, so an ordinal never changes meaning.
 */
import {
  type CounterState,
  type DocState,
  type FieldDef,
  MsgpackWriter,
  type PackedDocState,
  packTimestamp,
  type Timestamp,
  timeTable,
  unpackTimestamp,
  type Value,
} from '@loam/core';
import { Decoder, Encoder } from '@msgpack/msgpack';
import type { SqlRow, SqlValue } from '../storage/driver';

const encoder = new Encoder();
/** Writes fresh rows' `_state` into shared chunks (`start`/`finish`): one buffer for many rows, not one each. */
const writer = new MsgpackWriter();
const decoder = new Decoder();
/** MessagePack, as `_state` and `_doc` are written. */
export const encode = (value: unknown) => encoder.encode(value);
/** MessagePack, as `_state` and `_doc` are read. */
export const decode = (bytes: Uint8Array) => decoder.decode(bytes);

/** Layout tag of `_state` written since timestamps are stored once per document (older rows have no tag). */
const STATE_LAYOUT = 2;
/** Layout tag of the engine's lean `_state`: values live in the row's columns (see the top of this file). */
const LEAN_LAYOUT = 3;

/**
 * Encodes a document's register and counter metadata (Yjs states are stored apart). Each distinct timestamp is
 * written once, in a table the registers, resets and increments point into: the registers a create wrote share one.
 * `[2, epoch, created, deleted, times, [path, value, time]..., [field, base, time | -1, value, [opId, time, by]...]...]`
 */
export function encodeDocState(state: DocState): Uint8Array {
  const { times, time } = timeTable((t) => t);
  const regs: unknown[] = [];
  for (const [path, r] of Object.entries(state.regs)) regs.push(path, r.v, time(r.t));
  const counters: unknown[] = [];
  for (const [field, c] of Object.entries(state.counters)) {
    const incs: unknown[] = [];
    for (const [id, [t, by]] of Object.entries(c.incs)) incs.push(id, time(t), by);
    counters.push(field, c.base, time(c.t), c.value, incs);
  }
  return encode([STATE_LAYOUT, state.epoch, state.created, state.deleted, times, regs, counters]);
}

/** Decodes `_state` (layouts 1 and 2; 3 needs the row, see `decodeRowState`); Yjs documents are attached apart. */
export function decodeDocState(bytes: Uint8Array): DocState {
  const raw = decode(bytes) as unknown[];
  if (raw[0] === LEAN_LAYOUT) throw new Error('A lean _state needs its row: use decodeRowState');
  return decodeRaw(raw);
}

function decodeRaw(raw: unknown[]): DocState {
  if (raw.length === 5) {
    const [epoch, created, deleted, regs, counters] = raw as [
      number,
      boolean,
      boolean,
      DocState['regs'],
      DocState['counters'],
    ];
    return { epoch, created, deleted, regs, counters, crdts: {} };
  }
  const [, epoch, created, deleted, times, flatRegs, flatCounters] = raw as [
    number,
    number,
    boolean,
    boolean,
    Timestamp[],
    unknown[],
    unknown[],
  ];
  const at = (i: unknown) => (i === -1 ? null : (times[i as number] as Timestamp));
  const regs: DocState['regs'] = {};
  for (let i = 0; i < flatRegs.length; i += 3)
    regs[flatRegs[i] as string] = { v: flatRegs[i + 1] as Value, t: at(flatRegs[i + 2]) as Timestamp };
  const counters: DocState['counters'] = {};
  for (let i = 0; i < flatCounters.length; i += 5) {
    const flatIncs = flatCounters[i + 4] as unknown[];
    const incs: CounterState['incs'] = {};
    for (let j = 0; j < flatIncs.length; j += 3)
      incs[flatIncs[j] as string] = [at(flatIncs[j + 1]) as Timestamp, flatIncs[j + 2] as number];
    counters[flatCounters[i] as string] = {
      base: flatCounters[i + 1] as number,
      t: at(flatCounters[i + 2]),
      value: flatCounters[i + 3] as number,
      incs,
    };
  }
  return { epoch, created, deleted, regs, counters, crdts: {} };
}

/** A scalar leaf's column, in the table's physical order. */
export interface ColumnSql {
  readonly path: string;
  readonly def: FieldDef;
}

/** What the lean encoding needs of a collection: its columns in physical order, and each one's ordinal by path. */
export interface LeanColumns {
  readonly table: string;
  /** The scalar leaves' columns, in the table's physical order (the ordinals lean `_state` points at). */
  readonly columns: readonly ColumnSql[];
  /** Ordinal of each column by path. */
  readonly columnIndex: ReadonlyMap<string, number>;
}

/** The value a register of a column of kind `kind` has when the column holds `stored` (undefined: none). */
function fromColumn(kind: FieldDef['kind'], stored: SqlValue | undefined): unknown {
  if (stored === null || stored === undefined) return stored;
  switch (kind) {
    case 'boolean':
      return stored === 1 ? true : stored === 0 ? false : undefined;
    case 'date':
      return typeof stored === 'number' ? new Date(stored) : undefined;
    case 'number':
    case 'counter':
      return typeof stored === 'number' ? stored : undefined;
    default:
      return typeof stored === 'string' ? stored : undefined;
  }
}

/** True when a column holding `stored` gives back exactly `value` once written and read back. */
function columnHolds(kind: FieldDef['kind'], stored: SqlValue, value: unknown): boolean {
  if (typeof stored === 'number' && (Object.is(stored, -0) || Number.isNaN(stored))) return false;
  if (typeof stored === 'string' && !stored.isWellFormed()) return false;
  const back = fromColumn(kind, stored);
  if (value instanceof Date) return back instanceof Date && back.getTime() === value.getTime();
  return back !== undefined && Object.is(back, value);
}

function unpackStored(bytes: Uint8Array): string {
  const t = unpackTimestamp(bytes);
  if (t === undefined) throw new Error('Malformed packed timestamp in _state');
  return t;
}

/**
 * Encodes the engine's lean `_state` for a row whose columns (physical order) hold `columns` from `offset` on:
 * `[3, epoch, created, deleted, times, regs, counters]`, where `times` holds each distinct timestamp once (packed, see
 * `packTimestamp`), `regs` is a flat run of `ordinal, time` (the value is the column's) or `path, value, time`, and
 * `counters` of `ordinal | field, base, time | -1, value | null, incs` (`null`: the column's value).
 */
export function encodeLeanState(
  c: LeanColumns,
  state: DocState,
  columns: readonly SqlValue[],
  offset = 0,
): Uint8Array {
  const { times, time } = timeTable<string | Uint8Array>(packTimestamp);
  const regs: unknown[] = [];
  for (const path in state.regs) {
    const r = state.regs[path] as DocState['regs'][string];
    const j = c.columnIndex.get(path);
    const col = j === undefined ? undefined : (c.columns[j] as ColumnSql);
    if (col && columnHolds(col.def.kind, columns[offset + (j as number)] as SqlValue, r.v))
      regs.push(j, time(r.t));
    else regs.push(path, r.v, time(r.t));
  }
  const counters: unknown[] = [];
  for (const field in state.counters) {
    const k = state.counters[field] as DocState['counters'][string];
    const incs: unknown[] = [];
    for (const id in k.incs) {
      const [t, by] = k.incs[id] as [string, number];
      incs.push(id, time(t), by);
    }
    const j = c.columnIndex.get(field);
    if (j !== undefined && columnHolds('counter', columns[offset + j] as SqlValue, k.value))
      counters.push(j, k.base, time(k.t), null, incs);
    else counters.push(field, k.base, time(k.t), k.value, incs);
  }
  return encode([LEAN_LAYOUT, state.epoch, state.created, state.deleted, times, regs, counters]);
}

/**
 * Decodes a row's `_state` (any layout) with its columns (selected by `stateColumns`). `withTimes` false leaves
 * packed timestamps unread (placeholders) and counters' increments out: for reading the document's values alone.
 */
export function decodeRowState(c: LeanColumns, row: SqlRow, withTimes = true): DocState {
  const raw = decode(row._state as Uint8Array) as unknown[];
  if (raw[0] !== LEAN_LAYOUT) return decodeRaw(raw);
  const [, epoch, created, deleted, times, flatRegs, flatCounters] = raw as [
    number,
    number,
    boolean,
    boolean,
    (string | Uint8Array)[],
    unknown[],
    unknown[],
  ];
  const unpacked = times.map((t) => (typeof t === 'string' || !withTimes ? t : unpackStored(t)));
  const at = (i: unknown) => (i === -1 ? null : (unpacked[i as number] as Timestamp));
  const column = (j: number) => {
    const col = c.columns[j];
    if (!col) throw new Error(`_state points at column ${j}, which ${c.table} lacks`);
    return { path: col.path, value: fromColumn(col.def.kind, row[col.path]) };
  };
  const regs: DocState['regs'] = {};
  for (let i = 0; i < flatRegs.length; ) {
    const key = flatRegs[i];
    if (typeof key === 'number') {
      const { path, value } = column(key);
      regs[path] = { v: value as Value, t: at(flatRegs[i + 1]) as Timestamp };
      i += 2;
    } else {
      regs[key as string] = { v: flatRegs[i + 1] as Value, t: at(flatRegs[i + 2]) as Timestamp };
      i += 3;
    }
  }
  const counters: DocState['counters'] = {};
  for (let i = 0; i < flatCounters.length; i += 5) {
    const key = flatCounters[i];
    const flatIncs = flatCounters[i + 4] as unknown[];
    const incs: CounterState['incs'] = {};
    if (withTimes)
      for (let j = 0; j < flatIncs.length; j += 3)
        incs[flatIncs[j] as string] = [at(flatIncs[j + 1]) as Timestamp, flatIncs[j + 2] as number];
    const inColumn = typeof key === 'number' ? column(key) : undefined;
    counters[inColumn ? inColumn.path : (key as string)] = {
      base: flatCounters[i + 1] as number,
      t: at(flatCounters[i + 2]),
      value: (inColumn ? inColumn.value : flatCounters[i + 3]) as number,
      incs,
    };
  }
  return { epoch, created, deleted, regs, counters, crdts: {} };
}

/**
 * `encodeLeanState` for a decoded format-2 snapshot taken as a document's whole state (see `packedRowParams`),
 * without building a `DocState`: the snapshot's timestamp table is the row's (same packing), its increments are
 * kept as they are, and a register or counter whose column holds its value points at the column. Written by hand
 * (`MsgpackWriter` of `@loam/core`) when every value it holds inline is nil, a boolean, a number or ASCII (the same bytes
 * `encode` gives), else with the general encoder.
 */
export function encodePackedLeanState(
  c: LeanColumns,
  state: PackedDocState,
  columns: readonly SqlValue[],
  offset = 0,
): Uint8Array {
  return writePackedLean(c, state, columns, offset) ?? encodePackedLeanGeneral(c, state, columns, offset);
}

/** The ordinal of the column of `path` when it holds `value` (see `columnHolds`), else -1. */
function pointer(
  c: LeanColumns,
  path: string,
  kind: 'counter' | undefined,
  stored: readonly SqlValue[],
  offset: number,
  value: unknown,
): number {
  const j = c.columnIndex.get(path);
  if (j === undefined) return -1;
  return columnHolds(kind ?? (c.columns[j] as ColumnSql).def.kind, stored[offset + j] as SqlValue, value)
    ? j
    : -1;
}

/** Writes nil, a boolean, a number or an ASCII string; false (start the value again) for any other value. */
function scalar(w: MsgpackWriter, v: unknown): boolean {
  if (v === null) w.byte(0xc0);
  else if (v === true) w.byte(0xc3);
  else if (v === false) w.byte(0xc2);
  else if (typeof v === 'number') w.number(v);
  else if (typeof v === 'string') return w.ascii(v);
  else return false;
  return true;
}

/** The column each register of the snapshot being written points at (-1: none), by register. */
let pointers = new Int32Array(64);

/** `encodePackedLeanState` by hand; undefined when a value it would hold inline is not one the writer writes. */
function writePackedLean(
  c: LeanColumns,
  state: PackedDocState,
  columns: readonly SqlValue[],
  offset: number,
): Uint8Array | undefined {
  const { times, regs, counters } = state;
  const regCount = regs.length / 3;
  if (pointers.length < regCount) pointers = new Int32Array(regCount * 2);
  let length = 0;
  for (let k = 0; k < regCount; k++) {
    const j = pointer(c, regs[3 * k] as string, undefined, columns, offset, regs[3 * k + 1]);
    pointers[k] = j;
    length += j === -1 ? 3 : 2;
  }
  const w = writer;
  w.start();
  w.byte(0x97);
  w.byte(LEAN_LAYOUT);
  w.number(state.epoch);
  w.byte(state.created ? 0xc3 : 0xc2);
  w.byte(state.deleted ? 0xc3 : 0xc2);
  w.arrayHeader(times.length);
  for (const t of times) {
    if (typeof t !== 'string') w.binary(t);
    else if (!w.ascii(t)) return undefined;
  }
  w.arrayHeader(length);
  for (let k = 0; k < regCount; k++) {
    const j = pointers[k] as number;
    if (j !== -1) w.number(j);
    else if (!w.ascii(regs[3 * k] as string) || !scalar(w, regs[3 * k + 1])) return undefined;
    w.number(regs[3 * k + 2] as number);
  }
  w.arrayHeader(counters.length);
  for (let i = 0; i < counters.length; i += 5) {
    const j = pointer(c, counters[i] as string, 'counter', columns, offset, counters[i + 3]);
    if (j !== -1) w.number(j);
    else if (!w.ascii(counters[i] as string)) return undefined;
    w.number(counters[i + 1] as number);
    w.number(counters[i + 2] as number);
    if (j !== -1) w.byte(0xc0);
    else w.number(counters[i + 3] as number);
    const incs = counters[i + 4] as readonly unknown[];
    w.arrayHeader(incs.length);
    for (let k = 0; k < incs.length; k += 3) {
      if (!w.ascii(incs[k] as string)) return undefined;
      w.number(incs[k + 1] as number);
      w.number(incs[k + 2] as number);
    }
  }
  return w.finish();
}

function encodePackedLeanGeneral(
  c: LeanColumns,
  state: PackedDocState,
  columns: readonly SqlValue[],
  offset: number,
): Uint8Array {
  const regs: unknown[] = [];
  const flatRegs = state.regs;
  for (let i = 0; i < flatRegs.length; i += 3) {
    const path = flatRegs[i] as string;
    const j = pointer(c, path, undefined, columns, offset, flatRegs[i + 1]);
    if (j !== -1) regs.push(j, flatRegs[i + 2]);
    else regs.push(path, flatRegs[i + 1], flatRegs[i + 2]);
  }
  const counters: unknown[] = [];
  const flat = state.counters;
  for (let i = 0; i < flat.length; i += 5) {
    const field = flat[i] as string;
    const j = pointer(c, field, 'counter', columns, offset, flat[i + 3]);
    if (j !== -1) counters.push(j, flat[i + 1], flat[i + 2], null, flat[i + 4]);
    else counters.push(field, flat[i + 1], flat[i + 2], flat[i + 3], flat[i + 4]);
  }
  return encode([LEAN_LAYOUT, state.epoch, state.created, state.deleted, state.times, regs, counters]);
}
