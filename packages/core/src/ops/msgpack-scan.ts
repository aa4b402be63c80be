/**
 * A pre-scan of untrusted MessagePack bytes, run before any decoder builds objects from them.
 *
 * A MessagePack decoder allocates as it goes: a frame of one million `0x91` bytes (an array nested a million deep)
 * makes it build a million arrays and a million stack entries, hundreds of MB for a 1 MB input, before it finds the
 * frame is not what it expected. The scan walks the bytes with a fixed amount of memory (one small number per open
 * container, at most `maxDepth` of them) and refuses, before anything is decoded:
 * 1. nesting deeper than `maxDepth` (`too_deep`);
 * 2. a container whose declared entries, added to the entries still owed by the enclosing containers, exceed the
 *    bytes left (each entry takes at least one byte), and a string, binary or extension longer than the bytes left
 *    (`truncated`);
 * 3. the reserved byte `0xc1` (`malformed`).
 * What passes decodes into at most one array slot per input byte, whatever the lengths declare. Bytes after the
 * first complete value are left for the decoder to refuse.
 */
import { OpDecodeError } from '../errors';

/** Deepest nesting accepted by default: documents are at most 32 deep, and frames wrap them in a few levels. */
export const DEFAULT_MAX_MSGPACK_DEPTH = 64;

function truncated(at: number, what: string): never {
  throw new OpDecodeError('truncated', `${what} at byte ${at} runs past the end of the input`);
}

/**
 * Checks that `bytes` start with one MessagePack value no deeper than `maxDepth` whose declared lengths fit in the
 * input; throws `OpDecodeError` (`too_deep`, `truncated`, `malformed`) otherwise. O(length) time, O(maxDepth) memory.
 */
export function scanMsgpack(bytes: Uint8Array, maxDepth = DEFAULT_MAX_MSGPACK_DEPTH): void {
  const end = bytes.length;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const left: number[] = [];
  let owed = 0;
  let pos = 0;
  const length = (at: number, size: 1 | 2 | 4): number => {
    if (at + size > end) truncated(at, 'a length');
    return size === 1 ? view.getUint8(at) : size === 2 ? view.getUint16(at) : view.getUint32(at);
  };
  const skip = (start: number, n: number, what: string) => {
    if (n > end - start) truncated(start, what);
    pos = start + n;
  };
  const open = (start: number, entries: number) => {
    pos = start;
    if (entries === 0) return;
    if (left.length >= maxDepth)
      throw new OpDecodeError('too_deep', `nesting deeper than ${maxDepth} at byte ${start - 1}`);
    if (owed + entries > end - pos) truncated(start, `a container of ${entries} entries`);
    left.push(entries);
    owed += entries;
  };
  do {
    if (pos >= end) truncated(pos, 'a value');
    if (left.length > 0) {
      left[left.length - 1]!--;
      owed--;
    }
    const at = pos;
    const b = bytes[pos++]!;
    if (b <= 0x7f || b >= 0xe0 || (b >= 0xc0 && b <= 0xc3)) {
      if (b === 0xc1) throw new OpDecodeError('malformed', `reserved byte 0xc1 at byte ${at}`);
    } else if (b <= 0x8f) open(pos, (b & 0x0f) * 2);
    else if (b <= 0x9f) open(pos, b & 0x0f);
    else if (b <= 0xbf) skip(pos, b & 0x1f, 'a string');
    else if (b <= 0xc6) {
      const size = b === 0xc4 ? 1 : b === 0xc5 ? 2 : 4;
      skip(pos + size, length(pos, size), 'a binary');
    } else if (b <= 0xc9) {
      const size = b === 0xc7 ? 1 : b === 0xc8 ? 2 : 4;
      skip(pos + size, length(pos, size) + 1, 'an extension');
    } else if (b <= 0xd3) skip(pos, [4, 8, 1, 2, 4, 8, 1, 2, 4, 8][b - 0xca]!, 'a number');
    else if (b <= 0xd8) skip(pos, [2, 3, 5, 9, 17][b - 0xd4]!, 'an extension');
    else if (b <= 0xdb) {
      const size = b === 0xd9 ? 1 : b === 0xda ? 2 : 4;
      skip(pos + size, length(pos, size), 'a string');
    } else if (b <= 0xdd) {
      const size = b === 0xdc ? 2 : 4;
      open(pos + size, length(pos, size));
    } else {
      const size = b === 0xde ? 2 : 4;
      open(pos + size, length(pos, size) * 2);
    }
    while (left.length > 0 && left[left.length - 1] === 0) left.pop();
  } while (left.length > 0);
}
