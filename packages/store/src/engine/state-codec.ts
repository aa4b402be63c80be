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
 * A state of the shape almost every document has after one write is stored in the compact layout 4 instead
 * (`compact-state.ts`); every `_state` the engine reads may be in any layout.
 *
 * Column pointers are ordinals in the table's physical column order (`LeanColumns.columns`, read from the
 * table on open): additive migrations append columns, so an ordinal never changes meaning.
 */
import {
  type CounterState,
  type DocState,
  MsgpackWriter,
  type PlainV2Scan,
  packTimestamp,
  type Timestamp,
  timeTable,
  type Value,
} from '@loam/core';
import { Decoder, Encoder } from '@msgpack/msgpack';
import type { SqlRow, SqlValue } from '../storage/driver';
import {
  type ColumnSql,
  columnHolds,
  counterPointer,
  fromColumn,
  type LeanColumns,
  unpackStored,
} from './column-values';
import { compactFromScan, compactFromState, decodeCompact, isCompact } from './compact-state';

export type { ColumnSql, LeanColumns } from './column-values';

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
  if (isCompact(bytes)) throw new Error('A lean _state needs its row: use decodeRowState');
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
  const compact = compactFromState(writer, c, state, columns, offset);
  if (compact) return compact;
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
    const j = counterPointer(c, field, columns, offset, k.value);
    if (j !== -1) counters.push(j, k.base, time(k.t), null, incs);
    else counters.push(field, k.base, time(k.t), k.value, incs);
  }
  return encode([LEAN_LAYOUT, state.epoch, state.created, state.deleted, times, regs, counters]);
}

/**
 * Decodes a row's `_state` (any layout) with its columns (selected by `stateColumns`). `withTimes` false leaves
 * packed timestamps unread (placeholders) and counters' increments out: for reading the document's values alone.
 */
export function decodeRowState(c: LeanColumns, row: SqlRow, withTimes = true): DocState {
  const bytes = row._state as Uint8Array;
  if (isCompact(bytes)) return decodeCompact(c, row, bytes, withTimes);
  const raw = decode(bytes) as unknown[];
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
 * `encodeLeanState` for a format-2 snapshot read by `scanPlainV2`, taken as a document's whole state (see
 * `snapshotRowParams`), written by hand from the snapshot's bytes (`MsgpackWriter` of `@loam/core`) without building a
 * `DocState`: its timestamp table and its counters' increments are the row's as they are (same packing, copied), and a
 * register or counter whose column holds its value points at the column (`regColumns`: each register's column
 * ordinal, -1 for none). Undefined when a value it would hold inline is not nil, a boolean, a number or ASCII (the
 * caller then encodes the unpacked state).
 */
export function encodeScannedLeanState(
  c: LeanColumns,
  scan: PlainV2Scan,
  regColumns: Int32Array,
  columns: readonly SqlValue[],
  offset = 0,
): Uint8Array | undefined {
  const compact = compactFromScan(writer, c, scan, regColumns, columns, offset);
  if (compact) return compact;
  const { regCount, regPaths, regValues, regTimes } = scan;
  if (pointers.length < regCount) pointers = new Int32Array(regCount * 2);
  let length = 0;
  for (let k = 0; k < regCount; k++) {
    let j = regColumns[k] as number;
    if (
      j !== -1 &&
      !columnHolds((c.columns[j] as ColumnSql).def.kind, columns[offset + j] as SqlValue, regValues[k])
    )
      j = -1;
    pointers[k] = j;
    length += j === -1 ? 3 : 2;
  }
  const w = writer;
  w.start();
  w.byte(0x97);
  w.byte(LEAN_LAYOUT);
  w.number(scan.epoch);
  w.byte(scan.created ? 0xc3 : 0xc2);
  w.byte(scan.deleted ? 0xc3 : 0xc2);
  w.raw(scan.bytes, scan.timesFrom, scan.timesTo);
  w.arrayHeader(length);
  for (let k = 0; k < regCount; k++) {
    const j = pointers[k] as number;
    if (j !== -1) w.number(j);
    else if (!w.ascii(regPaths[k] as string) || !scalar(w, regValues[k])) return undefined;
    w.number(regTimes[k] as number);
  }
  const { counterCount, counterFields, counterBases, counterTimes, counterValues } = scan;
  w.arrayHeader(5 * counterCount);
  for (let k = 0; k < counterCount; k++) {
    const j = counterPointer(c, counterFields[k] as string, columns, offset, counterValues[k] as number);
    if (j !== -1) w.number(j);
    else if (!w.ascii(counterFields[k] as string)) return undefined;
    w.number(counterBases[k] as number);
    w.number(counterTimes[k] as number);
    if (j !== -1) w.byte(0xc0);
    else w.number(counterValues[k] as number);
    w.raw(scan.bytes, scan.incsFrom[k] as number, scan.incsTo[k] as number);
  }
  return w.finish();
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
