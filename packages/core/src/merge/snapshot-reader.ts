/**
 * Fast paths for reading format-2 snapshots, for the MessagePack subset their common case uses (arrays, nil,
 * booleans, integers up to 32 bits, floats, well-formed UTF-8 strings, binaries, timestamps), nothing else (paths and
 * counter fields: ASCII only):
 *
 * - `scanPlainV2` reads a whole snapshot of a document without list or text fields in one pass, checks it as
 *   `readDocSnapshot` does, and gives where its parts lie and its registers and counters in a reused record
 *   (`snapshot-scan.ts`; `plain-v2.ts` makes a `PlainV2` of it);
 * - `readSubset` reads any value of the subset, as the general decoder would.
 *
 * Each gives exactly what the general decoder (and the checks after it) gives for the bytes it accepts, and gives up
 * (undefined) on anything else, well-formed or not: the caller then decodes with the general, bounded decoder, which
 * also reports what is wrong. They never read past the input, never allocate more than the input's size, and nest
 * no deeper than `MAX_DEPTH`.
 */
import { isPackedTimestampAt } from '../clock/hlc';
import { type PlainV2Scan, room, scanned } from './snapshot-scan';

export type { PlainV2Scan } from './snapshot-scan';

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

/** Decodes UTF-8 that is well-formed, and refuses the rest (a general decoder may read that differently). */
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Below this many bytes a string is built inline: V8 keeps a joined string this short flat. */
const FLAT_BELOW = 13;
/** Up to this many bytes an ASCII string is made from its codes in one call (`codes`, reused). */
const CODES_UP_TO = 64;
const codes: number[] = [];

/**
 * A string of `n` bytes: a short ASCII one built inline, any other well-formed UTF-8 decoded (a decoded string is flat,
 * where one built by joining pieces is not, and SQLite binds a flat string faster); anything else gives up, and so
 * does a leading byte-order mark (a general decoder keeps or drops it depending on the string's length).
 */
function text(n: number): string | undefined {
  if (n > end - pos) return giveUp();
  const b = bytes;
  const stop = pos + n;
  if (n < FLAT_BELOW) {
    let i = pos;
    while (i < stop && (b[i] as number) < 0x80) i++;
    if (i === stop) return ascii(n);
  } else if (n <= CODES_UP_TO) {
    // ASCII made in one piece from its codes: cheaper than a decoder call for a short string.
    codes.length = n;
    let i = 0;
    while (i < n && (b[pos + i] as number) < 0x80) {
      codes[i] = b[pos + i] as number;
      i++;
    }
    if (i === n) {
      pos = stop;
      return String.fromCharCode.apply(null, codes);
    }
  }
  if (n >= 3 && b[pos] === 0xef && b[pos + 1] === 0xbb && b[pos + 2] === 0xbf) return giveUp();
  let s: string;
  try {
    s = utf8.decode(b.subarray(pos, stop));
  } catch {
    return giveUp();
  }
  pos = stop;
  return s;
}

/**
 * A MessagePack timestamp (extension type -1, after its first byte `b`: fixext 4, fixext 8 or ext 8 of 12 bytes) as
 * the `Date` a general decoder makes of it, by the same arithmetic; any other extension gives up.
 */
function date(b: number): Date | undefined {
  let size = b === 0xd6 ? 4 : b === 0xd7 ? 8 : 0;
  if (b === 0xc7 && pos < end && bytes[pos] === 12) {
    size = 12;
    pos++;
  }
  if (size === 0 || pos + 1 + size > end || bytes[pos] !== 0xff) return giveUp();
  pos++;
  if (size === 4) return new Date(uint(4) * 1e3);
  if (size === 8) {
    const high = uint(4);
    const sec = (high & 0x3) * 0x100000000 + uint(4);
    return new Date(sec * 1e3 + (high >>> 2) / 1e6);
  }
  const nsec = uint(4);
  const secHigh = uint(4) | 0;
  const sec = secHigh * 0x1_0000_0000 + uint(4);
  return new Date(sec * 1e3 + nsec / 1e6);
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
  if (b >= 0xa0 && b <= 0xbf) return text(b & 0x1f);
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
      return text(length(1));
    case 0xda:
      return text(length(2));
    case 0xdc:
      return array(length(2), depth);
    case 0xd6:
    case 0xd7:
    case 0xc7:
      return date(b);
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
 * `__proto__` name); undefined for anything else, which the general path then reads or refuses. The scan it gives
 * is reused by the next call: read what it holds before scanning again.
 */
export function scanPlainV2(input: Uint8Array): PlainV2Scan | undefined {
  begin(input);
  try {
    if (!scanV2()) return undefined;
    scanned.bytes = input;
    return scanned;
  } finally {
    bytes = EMPTY;
  }
}

/** The scan's timestamp table: its length, and which entries something points at (a bit each up to 30, else bytes). */
let timeCountNow = 0;
let usedBits = 0;
let usedMany: Uint8Array | undefined;

/** A time index (`optional`: -1 for none allowed), marked as used; gives up when out of the table. */
function time(optional: boolean): number {
  const i = integer();
  if (i === undefined || (optional && i === -1)) return i ?? -1;
  if (i < 0 || i >= timeCountNow) return giveUp() ?? -1;
  if (usedMany) usedMany[i] = 1;
  else usedBits |= 1 << i;
  return i;
}

/** Scans the snapshot at the cursor into `scanned`; false when it gives up (see `scanPlainV2`). */
function scanV2(): boolean {
  const s = scanned;
  if (end < 5 || bytes[0] !== 0x98 || bytes[1] !== 2) return false;
  pos = 2;
  const epoch = integer();
  if (epoch === undefined || epoch < 0 || pos + 2 > end) return false;
  const flags = bytes[pos++];
  const deletedFlag = bytes[pos++];
  if ((flags !== 0xc2 && flags !== 0xc3) || (deletedFlag !== 0xc2 && deletedFlag !== 0xc3)) return false;
  s.epoch = epoch;
  s.created = flags === 0xc3;
  s.deleted = deletedFlag === 0xc3;
  s.timesFrom = pos;
  const timeCount = arrayLength();
  if (timeCount < 0 || timeCount > end - pos) return false;
  room(timeCount);
  const { timeAt, timeStrings } = s;
  for (let i = 0; i < timeCount; i++) {
    const b = bytes[pos];
    if (b === 0xc4 && bytes[pos + 1] === 20 && pos + 22 <= end) {
      if (!isPackedTimestampAt(bytes, pos + 2)) return false;
      timeAt[i] = pos + 2;
      pos += 22;
    } else {
      const t = value(3);
      if (typeof t !== 'string') return false;
      timeAt[i] = -1;
      timeStrings[i] = t;
    }
  }
  s.timesTo = pos;
  s.timeCount = timeCount;
  usedBits = 0;
  usedMany = timeCount > 30 ? new Uint8Array(timeCount) : undefined;
  timeCountNow = timeCount;
  const regCount = arrayLength();
  if (regCount < 0 || regCount % 3 !== 0 || regCount > end - pos) return false;
  const regs = regCount / 3;
  room(regs);
  const { regPaths, regValues } = s;
  for (let k = 0; k < regs && ok; k++) {
    regPaths[k] = name() as string;
    regValues[k] = value(2);
    s.regTimes[k] = time(false);
  }
  s.regCount = regs;
  const counterCount = ok ? arrayLength() : -1;
  if (counterCount < 0 || counterCount % 5 !== 0 || counterCount > end - pos) return false;
  const counters = counterCount / 5;
  room(counters);
  const { counterFields, counterBases, counterValues, incs } = s;
  let inc = 0;
  for (let k = 0; k < counters && ok; k++) {
    counterFields[k] = name() as string;
    counterBases[k] = integer() as number;
    s.counterTimes[k] = time(true);
    counterValues[k] = integer() as number;
    s.incsStart[k] = inc;
    s.incsFrom[k] = pos;
    const incCount = ok ? arrayLength() : -1;
    if (incCount < 0 || incCount % 3 !== 0 || incCount > end - pos) return false;
    for (let j = 0; j < incCount && ok; j += 3) {
      const id = value(3);
      if (typeof id !== 'string' || id === '__proto__') return false;
      incs[inc++] = id;
      incs[inc++] = time(false);
      incs[inc++] = integer();
    }
    s.incsTo[k] = pos;
  }
  s.incsStart[counters] = inc;
  s.counterCount = counters;
  if (!ok || pos + 1 !== end || bytes[pos] !== 0x90) return false;
  return !(usedMany ? usedMany.includes(0) : timeCount > 0 && usedBits !== (1 << timeCount) - 1);
}
