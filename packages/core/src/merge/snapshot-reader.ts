/**
 * A fast path for reading format-2 snapshots: a MessagePack reader for the subset their common case uses (arrays,
 * nil, booleans, integers up to 32 bits, floats, ASCII strings, binaries), nothing else. It gives exactly what the
 * general decoder gives for the bytes it accepts, and gives up (undefined) on anything else, well-formed or not:
 * the caller then decodes with the general, bounded decoder, which also reports what is wrong. It never reads past
 * the input, never allocates more than the input's size, and nests no deeper than `MAX_DEPTH`.
 */

const MAX_DEPTH = 4;

/** The reader's cursor: one read at a time (reads are synchronous), so no closure is made per read. */
const EMPTY: Uint8Array = new Uint8Array(0);
let bytes: Uint8Array = EMPTY;
const EMPTY_VIEW = new DataView(EMPTY.buffer);
let view: DataView = EMPTY_VIEW;
let pos = 0;
let end = 0;
let ok = true;

function giveUp(): undefined {
  ok = false;
  return undefined;
}

function length(width: 1 | 2 | 4): number {
  if (pos + width > end) return giveUp() ?? 0;
  const n = width === 1 ? view.getUint8(pos) : width === 2 ? view.getUint16(pos) : view.getUint32(pos);
  pos += width;
  return n;
}

function ascii(n: number): string | undefined {
  if (pos + n > end) return giveUp();
  let s = '';
  for (let i = pos; i < pos + n; i++) {
    const c = bytes[i] as number;
    if (c >= 0x80) return giveUp();
    s += String.fromCharCode(c);
  }
  pos += n;
  return s;
}

function binary(n: number): Uint8Array | undefined {
  if (pos + n > end) return giveUp();
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

function number(width: 1 | 2 | 4 | 8, signed: boolean): number | undefined {
  if (pos + width > end) return giveUp();
  const at = pos;
  pos += width;
  if (width === 8) return view.getFloat64(at);
  if (!signed) return width === 4 ? view.getFloat32(at) : undefined;
  return width === 1 ? view.getInt8(at) : width === 2 ? view.getInt16(at) : view.getInt32(at);
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
      return number(4, false);
    case 0xcb:
      return number(8, false);
    case 0xcc:
      return length(1);
    case 0xcd:
      return length(2);
    case 0xce:
      return length(4);
    case 0xd0:
      return number(1, true);
    case 0xd1:
      return number(2, true);
    case 0xd2:
      return number(4, true);
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

/** Reads `input` as one MessagePack value of the subset; undefined when it is not exactly that. */
export function readSubset(input: Uint8Array): unknown {
  bytes = input;
  view = new DataView(input.buffer, input.byteOffset, input.byteLength);
  pos = 0;
  end = input.length;
  ok = true;
  try {
    const result = value(0);
    return ok && pos === end ? result : undefined;
  } finally {
    bytes = EMPTY;
    view = EMPTY_VIEW;
  }
}
