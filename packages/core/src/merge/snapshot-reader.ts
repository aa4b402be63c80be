/**
 * Fast paths for reading format-2 snapshots, for the MessagePack subset their common case uses (arrays, nil,
 * booleans, integers up to 32 bits, floats, ASCII strings, binaries), nothing else:
 *
 * - `readPlainV2` reads a whole snapshot of a document without list or text fields in one pass, checks it as
 *   `readDocSnapshot` does, and gives its `PlainV2` (the decoded state, `PackedDocState` but for its Yjs fields);
 * - `readSubset` reads any value of the subset, as the general decoder would.
 *
 * Each gives exactly what the general decoder (and the checks after it) gives for the bytes it accepts, and gives up
 * (undefined) on anything else, well-formed or not: the caller then decodes with the general, bounded decoder, which
 * also reports what is wrong. They never read past the input, never allocate more than the input's size, and nest
 * no deeper than `MAX_DEPTH`.
 */
import { isPackedTimestamp } from '../clock/hlc';

const MAX_DEPTH = 4;

/** The reader's cursor: one read at a time (reads are synchronous), so no closure is made per read. */
const EMPTY: Uint8Array = new Uint8Array(0);
let bytes: Uint8Array = EMPTY;
let pos = 0;
let end = 0;
let ok = true;

/** Floats are read through these (no `DataView` per input). */
const f64 = new Float64Array(1);
const f32 = new Float32Array(f64.buffer, 0, 1);
const scratch = new Uint8Array(f64.buffer);
const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function giveUp(): undefined {
  ok = false;
  return undefined;
}

/** A big-endian unsigned integer of `width` bytes at `pos` (the caller checked they are there). */
function uint(width: 1 | 2 | 4): number {
  const at = pos;
  pos += width;
  const b = bytes;
  if (width === 1) return b[at] as number;
  if (width === 2) return ((b[at] as number) << 8) | (b[at + 1] as number);
  return (
    (b[at] as number) * 0x1000000 +
    (((b[at + 1] as number) << 16) | ((b[at + 2] as number) << 8) | (b[at + 3] as number))
  );
}

function length(width: 1 | 2 | 4): number {
  if (pos + width > end) return giveUp() ?? 0;
  return uint(width);
}

function float(width: 4 | 8): number {
  const b = bytes;
  const at = pos;
  pos += width;
  if (littleEndian) {
    for (let i = 0; i < width; i++) scratch[i] = b[at + width - 1 - i] as number;
  } else for (let i = 0; i < width; i++) scratch[i] = b[at + i] as number;
  return width === 8 ? (f64[0] as number) : (f32[0] as number);
}

function float64(): number {
  if (!littleEndian) return float(8);
  const b = bytes;
  const at = pos;
  pos += 8;
  scratch[0] = b[at + 7] as number;
  scratch[1] = b[at + 6] as number;
  scratch[2] = b[at + 5] as number;
  scratch[3] = b[at + 4] as number;
  scratch[4] = b[at + 3] as number;
  scratch[5] = b[at + 2] as number;
  scratch[6] = b[at + 1] as number;
  scratch[7] = b[at] as number;
  return f64[0] as number;
}

function ascii(n: number): string | undefined {
  if (n > end - pos) return giveUp();
  const b = bytes;
  const stop = pos + n;
  let s = '';
  let i = pos;
  for (; i + 4 <= stop; i += 4) {
    const c0 = b[i] as number;
    const c1 = b[i + 1] as number;
    const c2 = b[i + 2] as number;
    const c3 = b[i + 3] as number;
    if ((c0 | c1 | c2 | c3) >= 0x80) return giveUp();
    s += String.fromCharCode(c0, c1, c2, c3);
  }
  for (; i < stop; i++) {
    const c = b[i] as number;
    if (c >= 0x80) return giveUp();
    s += String.fromCharCode(c);
  }
  pos = stop;
  return s;
}

function binary(n: number): Uint8Array | undefined {
  if (n > end - pos) return giveUp();
  const out = bytes.subarray(pos, pos + n);
  pos += n;
  return out;
}

function array(n: number, depth: number): unknown[] | undefined {
  if (depth >= MAX_DEPTH || n > end - pos) return giveUp();
  const out: unknown[] = new Array(n);
  for (let i = 0; i < n && ok; i++) out[i] = value(depth + 1);
  return out;
}

function signed(width: 1 | 2 | 4): number | undefined {
  if (pos + width > end) return giveUp();
  const n = uint(width);
  return width === 1 ? (n << 24) >> 24 : width === 2 ? (n << 16) >> 16 : n | 0;
}

function value(depth: number): unknown {
  if (pos >= end) return giveUp();
  const b = bytes[pos++] as number;
  if (b <= 0x7f) return b;
  if (b >= 0xe0) return b - 0x100;
  if (b >= 0xa0 && b <= 0xbf) return ascii(b & 0x1f);
  if (b >= 0x90 && b <= 0x9f) return array(b & 0x0f, depth);
  switch (b) {
    case 0xc0:
      return null;
    case 0xc2:
      return false;
    case 0xc3:
      return true;
    case 0xc4:
      return binary(length(1));
    case 0xc5:
      return binary(length(2));
    case 0xca:
      return pos + 4 > end ? giveUp() : float(4);
    case 0xcb:
      return pos + 8 > end ? giveUp() : float64();
    case 0xcc:
      return length(1);
    case 0xcd:
      return length(2);
    case 0xce:
      return length(4);
    case 0xd0:
      return signed(1);
    case 0xd1:
      return signed(2);
    case 0xd2:
      return signed(4);
    case 0xd9:
      return ascii(length(1));
    case 0xda:
      return ascii(length(2));
    case 0xdc:
      return array(length(2), depth);
    default:
      return giveUp();
  }
}

function begin(input: Uint8Array): void {
  bytes = input;
  pos = 0;
  end = input.length;
  ok = true;
}

/** Reads `input` as one MessagePack value of the subset; undefined when it is not exactly that. */
export function readSubset(input: Uint8Array): unknown {
  begin(input);
  try {
    const result = value(0);
    return ok && pos === end ? result : undefined;
  } finally {
    bytes = EMPTY;
  }
}

/** The empty run of increments every counter without increments shares (a read state is never written to). */
const NO_INCS: readonly unknown[] = Object.freeze([]);
/**
 * The Yjs fields of every state `readPlainV2` gives: none, shared (so never to be written to: `unpackDocState`
 * gives its state an object of its own).
 */
export const NO_CRDTS: Record<string, never> = Object.freeze({});

/** A format-2 snapshot of a document without list or text fields, as `readPlainV2` reads it. */
export interface PlainV2 {
  readonly packed: true;
  readonly epoch: number;
  readonly created: boolean;
  readonly deleted: boolean;
  readonly times: (Uint8Array | string)[];
  readonly regs: unknown[];
  readonly counters: unknown[];
  readonly crdts: Record<string, never>;
}

/** An array header's length (fixarray or array 16), or -1 for anything else. */
function arrayLength(): number {
  if (pos >= end) return -1;
  const b = bytes[pos] as number;
  if (b >= 0x90 && b <= 0x9f) {
    pos++;
    return b & 0x0f;
  }
  if (b !== 0xdc || pos + 3 > end) return -1;
  pos++;
  return uint(2);
}

/** An integer in one of the subset's integer forms, or undefined (given up). */
function integer(): number | undefined {
  if (pos >= end) return giveUp();
  const b = bytes[pos++] as number;
  if (b <= 0x7f) return b;
  if (b >= 0xe0) return b - 0x100;
  if (b === 0xcc || b === 0xcd || b === 0xce) {
    const width = b === 0xcc ? 1 : b === 0xcd ? 2 : 4;
    return pos + width > end ? giveUp() : uint(width);
  }
  if (b === 0xd0 || b === 0xd1 || b === 0xd2) return signed(b === 0xd0 ? 1 : b === 0xd1 ? 2 : 4);
  return giveUp();
}

/** Names (paths, counter fields) already read, by a hash of their bytes: each is made a string once. */
const NAME_SLOTS = 64;
const names: (string | undefined)[] = new Array(NAME_SLOTS);
const nameBytes: (Uint8Array | undefined)[] = new Array(NAME_SLOTS);

/** A register path or counter field: an ASCII string, never `__proto__` (undefined: given up). */
function name(): string | undefined {
  if (pos >= end) return giveUp();
  const b = bytes[pos] as number;
  let n: number;
  if (b >= 0xa0 && b <= 0xbf) {
    n = b & 0x1f;
    pos++;
  } else if (b === 0xd9 && pos + 2 <= end) {
    n = bytes[pos + 1] as number;
    pos += 2;
  } else return giveUp();
  if (n === 0 || n > end - pos) return giveUp();
  const first = bytes[pos] as number;
  const slot = (n * 31 + first * 7 + (bytes[pos + n - 1] as number)) & (NAME_SLOTS - 1);
  const known = nameBytes[slot];
  if (known && known.length === n) {
    let i = 0;
    while (i < n && known[i] === bytes[pos + i]) i++;
    if (i === n) {
      pos += n;
      return names[slot];
    }
  }
  const at = pos;
  const s = ascii(n);
  if (s === undefined || s === '__proto__') return giveUp();
  names[slot] = s;
  nameBytes[slot] = bytes.slice(at, at + n);
  return s;
}

/**
 * Reads a format-2 snapshot whose values are all of the subset and that carries no list or text field, checking it
 * as `readDocSnapshot` does (time indexes in range, every timestamp used, safe integers for counters, no
 * `__proto__` name); undefined for anything else, which the general path then reads or refuses.
 */
export function readPlainV2(input: Uint8Array): PlainV2 | undefined {
  begin(input);
  try {
    return plainV2();
  } finally {
    bytes = EMPTY;
  }
}

function plainV2(): PlainV2 | undefined {
  if (end < 5 || bytes[0] !== 0x98 || bytes[1] !== 2) return undefined;
  pos = 2;
  const epoch = integer();
  if (epoch === undefined || epoch < 0 || pos + 2 > end) return undefined;
  const flags = bytes[pos++];
  const deletedFlag = bytes[pos++];
  if ((flags !== 0xc2 && flags !== 0xc3) || (deletedFlag !== 0xc2 && deletedFlag !== 0xc3)) return undefined;
  const timeCount = arrayLength();
  if (timeCount < 0 || timeCount > end - pos) return undefined;
  const times: (Uint8Array | string)[] = new Array(timeCount);
  for (let i = 0; i < timeCount; i++) {
    const b = bytes[pos];
    if (b === 0xc4 && bytes[pos + 1] === 20 && pos + 22 <= end) {
      const t = bytes.subarray(pos + 2, pos + 22);
      if (!isPackedTimestamp(t)) return undefined;
      times[i] = t;
      pos += 22;
    } else {
      const t = value(3);
      if (typeof t !== 'string') return undefined;
      times[i] = t;
    }
  }
  // Which timestamps something points at: a bit each, in a number while there are at most 30.
  let usedBits = 0;
  const usedMany = timeCount > 30 ? new Uint8Array(timeCount) : undefined;
  const time = (optional: boolean): number | undefined => {
    const i = integer();
    if (i === undefined || (optional && i === -1)) return i;
    if (i < 0 || i >= timeCount) return giveUp();
    if (usedMany) usedMany[i] = 1;
    else usedBits |= 1 << i;
    return i;
  };
  const regCount = arrayLength();
  if (regCount < 0 || regCount % 3 !== 0 || regCount > end - pos) return undefined;
  const regs: unknown[] = new Array(regCount);
  for (let i = 0; i < regCount && ok; i += 3) {
    regs[i] = name();
    regs[i + 1] = value(2);
    regs[i + 2] = time(false);
  }
  const counterCount = ok ? arrayLength() : -1;
  if (counterCount < 0 || counterCount % 5 !== 0 || counterCount > end - pos) return undefined;
  const counters: unknown[] = new Array(counterCount);
  for (let i = 0; i < counterCount && ok; i += 5) {
    counters[i] = name();
    counters[i + 1] = integer();
    counters[i + 2] = time(true);
    counters[i + 3] = integer();
    const incCount = ok ? arrayLength() : -1;
    if (incCount < 0 || incCount % 3 !== 0 || incCount > end - pos) return undefined;
    const incs: unknown[] = incCount === 0 ? (NO_INCS as unknown[]) : new Array(incCount);
    for (let j = 0; j < incCount && ok; j += 3) {
      const id = value(3);
      if (typeof id !== 'string' || id === '__proto__') return undefined;
      incs[j] = id;
      incs[j + 1] = time(false);
      incs[j + 2] = integer();
    }
    counters[i + 4] = incs;
  }
  if (!ok || pos + 1 !== end || bytes[pos] !== 0x90) return undefined;
  if (usedMany ? usedMany.includes(0) : timeCount > 0 && usedBits !== 2 ** timeCount - 1) return undefined;
  return {
    packed: true,
    epoch,
    created: flags === 0xc3,
    deleted: deletedFlag === 0xc3,
    times,
    regs,
    counters,
    crdts: NO_CRDTS,
  };
}
