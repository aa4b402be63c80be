/**
 * A fast path for reading format-2 snapshots: a MessagePack reader for the subset their common case uses (arrays,
 * nil, booleans, integers up to 32 bits, floats, ASCII strings, binaries), nothing else. It gives exactly what the
 * general decoder gives for the bytes it accepts, and gives up (undefined) on anything else, well-formed or not:
 * the caller then decodes with the general, bounded decoder, which also reports what is wrong. It never reads past
 * the input, never allocates more than the input's size, and nests no deeper than `MAX_DEPTH`.
 */

const MAX_DEPTH = 4;

/** Reads `bytes` as one MessagePack value of the subset; undefined when it is not exactly that. */
export function readSubset(bytes: Uint8Array): unknown {
  let pos = 0;
  const end = bytes.length;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let ok = true;
  const giveUp = (): undefined => {
    ok = false;
    return undefined;
  };
  const length = (width: 1 | 2 | 4): number => {
    if (pos + width > end) return giveUp() ?? 0;
    const n = width === 1 ? view.getUint8(pos) : width === 2 ? view.getUint16(pos) : view.getUint32(pos);
    pos += width;
    return n;
  };
  const ascii = (n: number): string | undefined => {
    if (pos + n > end) return giveUp();
    let s = '';
    for (let i = pos; i < pos + n; i++) {
      const c = bytes[i] as number;
      if (c >= 0x80) return giveUp();
      s += String.fromCharCode(c);
    }
    pos += n;
    return s;
  };
  const binary = (n: number): Uint8Array | undefined => {
    if (pos + n > end) return giveUp();
    const out = bytes.subarray(pos, pos + n);
    pos += n;
    return out;
  };
  const array = (n: number, depth: number): unknown[] | undefined => {
    if (depth >= MAX_DEPTH || n > end - pos) return giveUp();
    const out: unknown[] = new Array(n);
    for (let i = 0; i < n && ok; i++) out[i] = value(depth + 1);
    return out;
  };
  const value = (depth: number): unknown => {
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
      case 0xcb: {
        const width = b === 0xca ? 4 : 8;
        if (pos + width > end) return giveUp();
        const x = width === 4 ? view.getFloat32(pos) : view.getFloat64(pos);
        pos += width;
        return x;
      }
      case 0xcc:
        return length(1);
      case 0xcd:
        return length(2);
      case 0xce:
        return length(4);
      case 0xd0:
      case 0xd1:
      case 0xd2: {
        const width = b === 0xd0 ? 1 : b === 0xd1 ? 2 : 4;
        if (pos + width > end) return giveUp();
        const x = width === 1 ? view.getInt8(pos) : width === 2 ? view.getInt16(pos) : view.getInt32(pos);
        pos += width;
        return x;
      }
      case 0xd9:
        return ascii(length(1));
      case 0xda:
        return ascii(length(2));
      case 0xdc:
        return array(length(2), depth);
      default:
        return giveUp();
    }
  };
  const result = value(0);
  return ok && pos === end ? result : undefined;
}
