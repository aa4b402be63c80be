/**
 * The compact lean `_state` (layout 4): the shape almost every document has after one write (an insert, a snapshot
 * of one), stored in about 30 bytes instead of about 45.
 *
 * It applies when the state has exactly one timestamp, packable (`packTimestamp`), and every register and counter
 * points at its column: each register's column holds its value; each counter's column holds its value, its reset is
 * at that timestamp with base equal to its value, and it has no increments. Then `_state` is
 * `0x04, flags (1: created, 2: deleted), epoch, the packed timestamp (20 bytes, no header), count, ordinal...`
 * (epoch, count and ordinals as MessagePack integers); when the ordinals are 0, 1, 2... (a document setting every
 * column, in the schema's order, as an insert does) they are left out and the count is written negative. Its first byte tells it apart from the MessagePack layouts
 * (which start with an array header). Any other state is written in layout 3 (`state-codec.ts`).
 *
 * Both lean writers (from a `DocState`, and from a scanned snapshot's bytes) write the same bytes for the same state.
 */
import {
  type CounterState,
  type DocState,
  type MsgpackWriter,
  PACKED_TIMESTAMP_BYTES,
  type PlainV2Scan,
  packTimestamp,
  type Register,
  type Timestamp,
} from '@loam/core';
import type { SqlRow, SqlValue } from '../storage/driver';
import {
  type ColumnSql,
  columnHolds,
  counterPointer,
  fromColumn,
  type LeanColumns,
  unpackStored,
} from './column-values';

/** First byte of a compact `_state`. */
export const COMPACT_LAYOUT = 0x04;

/** True when `bytes` is a compact `_state`. */
export const isCompact = (bytes: Uint8Array) => bytes[0] === COMPACT_LAYOUT;

/** The ordinals of the state being written, in order. */
let ordinals = new Int32Array(64);

function ordinalRoom(n: number): void {
  if (ordinals.length < n) ordinals = new Int32Array(2 * n);
}

/** Writes the compact layout from `ordinals[0..n)`; the timestamp's packed bytes are `time` from `at` on. */
function write(
  w: MsgpackWriter,
  epoch: number,
  created: boolean,
  deleted: boolean,
  time: Uint8Array,
  at: number,
  n: number,
): Uint8Array {
  w.start();
  w.byte(COMPACT_LAYOUT);
  w.byte((created ? 1 : 0) | (deleted ? 2 : 0));
  w.number(epoch);
  w.raw(time, at, at + PACKED_TIMESTAMP_BYTES);
  let inOrder = true;
  for (let k = 0; k < n && inOrder; k++) inOrder = ordinals[k] === k;
  if (inOrder) w.number(-n);
  else {
    w.number(n);
    for (let k = 0; k < n; k++) w.number(ordinals[k] as number);
  }
  return w.finish();
}

/** The ordinal of a counter's column (of kind counter: this layout tells counters by it) holding `value`, else -1. */
function counterColumn(
  c: LeanColumns,
  field: string,
  stored: readonly SqlValue[],
  offset: number,
  value: number,
) {
  const j = counterPointer(c, field, stored, offset, value);
  return j !== -1 && (c.columns[j] as ColumnSql).def.kind === 'counter' ? j : -1;
}

/**
 * The compact `_state` of `state` for a row whose columns hold `columns` from `offset` on, written with `w`; undefined
 * when the state does not have the compact shape (see the top of this file).
 */
export function compactFromState(
  w: MsgpackWriter,
  c: LeanColumns,
  state: DocState,
  columns: readonly SqlValue[],
  offset: number,
): Uint8Array | undefined {
  let t: Timestamp | undefined;
  let n = 0;
  for (const path in state.regs) {
    const r = state.regs[path] as Register;
    if (t === undefined) t = r.t;
    else if (r.t !== t) return undefined;
    const j = c.columnIndex.get(path);
    if (j === undefined) return undefined;
    const kind = (c.columns[j] as ColumnSql).def.kind;
    if (kind === 'counter' || !columnHolds(kind, columns[offset + j] as SqlValue, r.v)) return undefined;
    ordinalRoom(n + 1);
    ordinals[n++] = j;
  }
  for (const field in state.counters) {
    const k = state.counters[field] as CounterState;
    if (k.t === null || k.base !== k.value) return undefined;
    if (t === undefined) t = k.t;
    else if (k.t !== t) return undefined;
    for (const _ in k.incs) return undefined;
    const j = counterColumn(c, field, columns, offset, k.value);
    if (j === -1) return undefined;
    ordinalRoom(n + 1);
    ordinals[n++] = j;
  }
  if (t === undefined) return undefined;
  const packed = packTimestamp(t);
  if (typeof packed === 'string') return undefined;
  return write(w, state.epoch, state.created, state.deleted, packed, 0, n);
}

/**
 * The compact `_state` of a scanned snapshot taken as a whole state (`regColumns`: each register's column ordinal,
 * -1 for none), as `compactFromState` writes it for the unpacked state; undefined when it does not have the shape.
 */
export function compactFromScan(
  w: MsgpackWriter,
  c: LeanColumns,
  scan: PlainV2Scan,
  regColumns: Int32Array,
  columns: readonly SqlValue[],
  offset: number,
): Uint8Array | undefined {
  if (scan.timeCount !== 1 || scan.timeAt[0] === -1) return undefined;
  const { regCount, regValues, regTimes, counterCount } = scan;
  ordinalRoom(regCount + counterCount);
  for (let k = 0; k < regCount; k++) {
    const j = regColumns[k] as number;
    if (j === -1 || regTimes[k] !== 0) return undefined;
    const kind = (c.columns[j] as ColumnSql).def.kind;
    if (kind === 'counter' || !columnHolds(kind, columns[offset + j] as SqlValue, regValues[k]))
      return undefined;
    ordinals[k] = j;
  }
  const { counterFields, counterBases, counterTimes, counterValues, incsStart } = scan;
  for (let k = 0; k < counterCount; k++) {
    const value = counterValues[k] as number;
    if (counterTimes[k] !== 0 || counterBases[k] !== value || incsStart[k] !== incsStart[k + 1])
      return undefined;
    const j = counterColumn(c, counterFields[k] as string, columns, offset, value);
    if (j === -1) return undefined;
    ordinals[regCount + k] = j;
  }
  // A path or field given twice is kept as the unpacked state keeps it (the last), which this layout cannot say.
  if (hasRepeats(regCount + counterCount)) return undefined;
  return write(
    w,
    scan.epoch,
    scan.created,
    scan.deleted,
    scan.bytes,
    scan.timeAt[0] as number,
    regCount + counterCount,
  );
}

/** True when an ordinal comes twice among the first `n` (a bit each for the first 31 columns). */
function hasRepeats(n: number): boolean {
  let bits = 0;
  for (let a = 0; a < n; a++) {
    const j = ordinals[a] as number;
    if (j < 31) {
      if (bits & (1 << j)) return true;
      bits |= 1 << j;
    } else for (let b = 0; b < a; b++) if (ordinals[b] === j) return true;
  }
  return false;
}

/** Where `readInt` stopped. */
let at = 0;

/** A MessagePack integer at `at` of the forms `MsgpackWriter.number` writes below 2^53 in size. */
function readInt(bytes: Uint8Array): number {
  const b = bytes[at] as number;
  if (b <= 0x7f || b >= 0xe0) {
    at += 1;
    return b <= 0x7f ? b : b - 0x100;
  }
  const width =
    b === 0xcc || b === 0xd0
      ? 1
      : b === 0xcd || b === 0xd1
        ? 2
        : b === 0xce || b === 0xd2
          ? 4
          : b === 0xcf
            ? 8
            : 0;
  if (width === 0 || at + 1 + width > bytes.length) throw new Error('Malformed compact _state');
  let n = 0;
  for (let i = 1; i <= width; i++) n = n * 256 + (bytes[at + i] as number);
  if (b >= 0xd0 && n >= 2 ** (8 * width - 1)) n -= 2 ** (8 * width);
  at += 1 + width;
  return n;
}

/** Stands for a timestamp left unread (`withTimes` false): the values alone are wanted. */
const UNREAD = '' as Timestamp;

/** Decodes a compact `_state` with its row's columns (see `decodeRowState`). */
export function decodeCompact(c: LeanColumns, row: SqlRow, bytes: Uint8Array, withTimes: boolean): DocState {
  const flags = bytes[1] as number;
  at = 2;
  const epoch = readInt(bytes);
  if (at + PACKED_TIMESTAMP_BYTES > bytes.length) throw new Error('Malformed compact _state');
  const t = withTimes ? (unpackStored(bytes.subarray(at, at + PACKED_TIMESTAMP_BYTES)) as Timestamp) : UNREAD;
  at += PACKED_TIMESTAMP_BYTES;
  const count = readInt(bytes);
  // A negative count: the columns are the first ones, in order (no ordinals written).
  const inOrder = count < 0;
  const n = inOrder ? -count : count;
  const regs: DocState['regs'] = {};
  const counters: DocState['counters'] = {};
  for (let k = 0; k < n; k++) {
    const j = inOrder ? k : readInt(bytes);
    const col = c.columns[j];
    if (!col) throw new Error(`_state points at column ${j}, which ${c.table} lacks`);
    const kind = col.def.kind;
    const value = fromColumn(kind, row[col.path]);
    if (kind === 'counter')
      counters[col.path] = { base: value as number, t, value: value as number, incs: {} };
    else regs[col.path] = { v: value as Register['v'], t };
  }
  return { epoch, created: (flags & 1) === 1, deleted: (flags & 2) === 2, regs, counters, crdts: {} };
}
