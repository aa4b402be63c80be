/**
 * A MessagePack writer for the few value kinds a hot path writes by hand (integers, floats, booleans, nil, ASCII
 * strings, binaries, array headers). Each value is written in the form `@msgpack/msgpack`'s `Encoder` picks for it,
 * so what it writes is byte for byte what `encode` gives (checked by tests). One value at a time (writes are
 * synchronous): `start`, writes, then `finish`. A write of a value outside these kinds returns false: start again.
 *
 * Values are written one after the other into shared chunks of `CHUNK` bytes, and `finish` gives a view of its
 * value's bytes in its chunk: many small values cost one buffer, not one each. A chunk's bytes are never written
 * again once a view of them was given out.
 */

const CHUNK = 64 * 1024;

let buf = new Uint8Array(CHUNK);
let view = new DataView(buf.buffer);
/** Where the value being written starts in `buf`. */
let first = 0;
let pos = 0;

/** Makes room for `n` more bytes: a new chunk (the value so far moved to its start) when `buf` is full. */
function room(n: number): void {
  if (pos + n <= buf.length) return;
  const next = new Uint8Array(Math.max(CHUNK, (pos - first + n) * 2));
  next.set(buf.subarray(first, pos));
  pos -= first;
  first = 0;
  buf = next;
  view = new DataView(buf.buffer);
}

/** Starts a new value (what was written since the last `finish` is dropped). */
export function start(): void {
  pos = first;
}

/** The bytes written since `start`: a view the caller may keep (never written again), not a copy. */
export function finish(): Uint8Array {
  const out = buf.subarray(first, pos);
  first = pos;
  return out;
}

/** Writes one byte (a fixed-size value's whole encoding: fixint, nil, true, false, a fixarray's header...). */
export function byte(b: number): void {
  room(1);
  buf[pos++] = b;
}

/** Writes a number as `Encoder` does: a safe integer in its smallest integer form, anything else as float 64. */
export function number(n: number): void {
  room(9);
  if ((n & 0x7f) === n) buf[pos++] = n;
  else if (!Number.isSafeInteger(n)) {
    buf[pos] = 0xcb;
    view.setFloat64(pos + 1, n);
    pos += 9;
  } else if (n >= 0) {
    if (n < 0x80) buf[pos++] = n;
    else if (n < 0x100) {
      buf[pos] = 0xcc;
      buf[pos + 1] = n;
      pos += 2;
    } else if (n < 0x10000) {
      buf[pos] = 0xcd;
      view.setUint16(pos + 1, n);
      pos += 3;
    } else if (n < 0x100000000) {
      buf[pos] = 0xce;
      view.setUint32(pos + 1, n);
      pos += 5;
    } else {
      buf[pos] = 0xcf;
      view.setUint32(pos + 1, Math.floor(n / 0x100000000));
      view.setUint32(pos + 5, n >>> 0);
      pos += 9;
    }
  } else if (n >= -0x20) buf[pos++] = 0xe0 | (n + 0x20);
  else if (n >= -0x80) {
    buf[pos] = 0xd0;
    view.setInt8(pos + 1, n);
    pos += 2;
  } else if (n >= -0x8000) {
    buf[pos] = 0xd1;
    view.setInt16(pos + 1, n);
    pos += 3;
  } else if (n >= -0x80000000) {
    buf[pos] = 0xd2;
    view.setInt32(pos + 1, n);
    pos += 5;
  } else {
    buf[pos] = 0xd3;
    view.setInt32(pos + 1, Math.floor(n / 0x100000000));
    view.setUint32(pos + 5, n >>> 0);
    pos += 9;
  }
}

/** Writes an array header of `n` elements. */
export function arrayHeader(n: number): void {
  room(5);
  if (n < 16) buf[pos++] = 0x90 | n;
  else if (n < 0x10000) {
    buf[pos] = 0xdc;
    view.setUint16(pos + 1, n);
    pos += 3;
  } else {
    buf[pos] = 0xdd;
    view.setUint32(pos + 1, n);
    pos += 5;
  }
}

/** Writes a string of ASCII characters; false (nothing usable written) when it holds any other. */
export function ascii(s: string): boolean {
  const n = s.length;
  room(n + 5);
  if (n < 32) buf[pos++] = 0xa0 | n;
  else if (n < 0x100) {
    buf[pos] = 0xd9;
    buf[pos + 1] = n;
    pos += 2;
  } else if (n < 0x10000) {
    buf[pos] = 0xda;
    view.setUint16(pos + 1, n);
    pos += 3;
  } else {
    buf[pos] = 0xdb;
    view.setUint32(pos + 1, n);
    pos += 5;
  }
  for (let i = 0; i < n; i++) {
    const ch = s.charCodeAt(i);
    if (ch >= 0x80) return false;
    buf[pos++] = ch;
  }
  return true;
}

/** Writes a binary. */
export function binary(b: Uint8Array): void {
  const n = b.length;
  room(n + 5);
  if (n < 0x100) {
    buf[pos] = 0xc4;
    buf[pos + 1] = n;
    pos += 2;
  } else if (n < 0x10000) {
    buf[pos] = 0xc5;
    view.setUint16(pos + 1, n);
    pos += 3;
  } else {
    buf[pos] = 0xc6;
    view.setUint32(pos + 1, n);
    pos += 5;
  }
  if (n <= 32) for (let i = 0; i < n; i++) buf[pos + i] = b[i] as number;
  else buf.set(b, pos);
  pos += n;
}

/** Writes nil, a boolean, a number or an ASCII string; false for any other value (see `ascii`). */
export function scalar(v: unknown): boolean {
  if (v === null) byte(0xc0);
  else if (v === true) byte(0xc3);
  else if (v === false) byte(0xc2);
  else if (typeof v === 'number') number(v);
  else if (typeof v === 'string') return ascii(v);
  else return false;
  return true;
}
