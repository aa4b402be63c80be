/**
 * A MessagePack writer for hot paths (op batches, the store's merge-state rows) that produces exactly the bytes
 * `@msgpack/msgpack`'s `Encoder` (with `ignoreUndefined`) produces for the same values, without its per-value
 * dispatch: encoded ops are signed and their digests compared across replicas, so the bytes must not change, only the
 * cost of making them.
 *
 * The common shapes are written inline: safe integers, other numbers (float 64), ASCII strings, booleans, null,
 * `Uint8Array`, arrays and plain objects. Anything else (dates, non-ASCII strings, other objects) is handed to the
 * generic encoder and its bytes copied, so rare values stay exactly as they were.
 *
 * Two ways to take the output:
 * - one value at a time into a buffer the writer reuses: `reset`, writes, `take` (a copy);
 * - many small values into shared chunks: `start`, writes, `finish` (a view into the chunk, not a copy; a chunk's
 *   bytes are never written again once a view of them was given out), so many small values cost one buffer, not
 *   one each.
 */
import { Encoder, type ExtensionCodec } from '@msgpack/msgpack';

/** Nesting the generic encoder refuses beyond (its default `maxDepth`). */
const MAX_DEPTH = 100;
/** Size of a new chunk once the current one is full. */
const CHUNK = 64 * 1024;

/** Writes MessagePack (see the module documentation). Not reentrant: one value at a time per writer. */
export class MsgpackWriter {
  private bytes: Uint8Array;
  private view: DataView;
  /** Where the value being written starts (0 but with `start`/`finish`). */
  private first = 0;
  private pos = 0;
  private readonly generic: Encoder;

  /** A writer whose fallback is a generic encoder with `extensionCodec` (the codec's own encoder's). */
  constructor(extensionCodec?: ExtensionCodec, initialBytes = 1024) {
    this.generic = new Encoder({ ...(extensionCodec ? { extensionCodec } : {}), ignoreUndefined: true });
    this.bytes = new Uint8Array(initialBytes);
    this.view = new DataView(this.bytes.buffer);
  }

  /** Starts a new output of about `expectedBytes`; the previous output is no longer the writer's. */
  reset(expectedBytes: number): void {
    if (this.bytes.length < expectedBytes || this.bytes.length > 4 * expectedBytes + 4096) {
      this.bytes = new Uint8Array(expectedBytes);
      this.view = new DataView(this.bytes.buffer);
    }
    this.first = 0;
    this.pos = 0;
  }

  /** The bytes written since `reset`, as a copy (the writer keeps its buffer for the next output). */
  take(): Uint8Array {
    const out = this.bytes.slice(this.first, this.pos);
    if (this.bytes.length > 1 << 20) this.reset(1024);
    return out;
  }

  /** Starts a value in the shared chunks (what was written since the last `finish` is dropped). */
  start(): void {
    this.pos = this.first;
  }

  /** The bytes written since `start`: a view the caller may keep (never written again), not a copy. */
  finish(): Uint8Array {
    const out = this.bytes.subarray(this.first, this.pos);
    this.first = this.pos;
    return out;
  }

  /** Makes room for `n` more bytes: a new buffer holding the value written so far when this one is full. */
  private ensure(n: number): void {
    if (this.pos + n <= this.bytes.length) return;
    const next = new Uint8Array(Math.max(CHUNK, 2 * (this.pos - this.first + n)));
    next.set(this.bytes.subarray(this.first, this.pos));
    this.pos -= this.first;
    this.first = 0;
    this.bytes = next;
    this.view = new DataView(next.buffer);
  }

  /** One raw byte (a format version, a tag outside MessagePack). */
  byte(b: number): void {
    this.ensure(1);
    this.bytes[this.pos++] = b;
  }

  /** An array header of `size` entries. */
  arrayHeader(size: number): void {
    this.ensure(5);
    if (size < 16) this.bytes[this.pos++] = 0x90 + size;
    else if (size < 0x10000) {
      this.bytes[this.pos] = 0xdc;
      this.view.setUint16(this.pos + 1, size);
      this.pos += 3;
    } else {
      this.bytes[this.pos] = 0xdd;
      this.view.setUint32(this.pos + 1, size);
      this.pos += 5;
    }
  }

  private mapHeader(size: number): void {
    this.ensure(5);
    if (size < 16) this.bytes[this.pos++] = 0x80 + size;
    else if (size < 0x10000) {
      this.bytes[this.pos] = 0xde;
      this.view.setUint16(this.pos + 1, size);
      this.pos += 3;
    } else {
      this.bytes[this.pos] = 0xdf;
      this.view.setUint32(this.pos + 1, size);
      this.pos += 5;
    }
  }

  /** Copies the generic encoder's bytes for `value`. */
  private fallback(value: unknown): void {
    const encoded = this.generic.encodeSharedRef(value);
    this.ensure(encoded.length);
    this.bytes.set(encoded, this.pos);
    this.pos += encoded.length;
  }

  /** A number, as the generic encoder writes it. */
  number(n: number): void {
    this.ensure(9);
    const b = this.bytes;
    if ((n & 0x7f) === n) b[this.pos++] = n;
    else if (Number.isSafeInteger(n)) {
      if (n >= 0) {
        if (n < 0x80) b[this.pos++] = n;
        else if (n < 0x100) {
          b[this.pos] = 0xcc;
          b[this.pos + 1] = n;
          this.pos += 2;
        } else if (n < 0x10000) {
          b[this.pos] = 0xcd;
          this.view.setUint16(this.pos + 1, n);
          this.pos += 3;
        } else if (n < 0x100000000) {
          b[this.pos] = 0xce;
          this.view.setUint32(this.pos + 1, n);
          this.pos += 5;
        } else {
          b[this.pos] = 0xcf;
          this.view.setUint32(this.pos + 1, Math.floor(n / 0x100000000));
          this.view.setUint32(this.pos + 5, n >>> 0);
          this.pos += 9;
        }
      } else if (n >= -0x20) b[this.pos++] = 0xe0 | (n + 0x20);
      else if (n >= -0x80) {
        b[this.pos] = 0xd0;
        this.view.setInt8(this.pos + 1, n);
        this.pos += 2;
      } else if (n >= -0x8000) {
        b[this.pos] = 0xd1;
        this.view.setInt16(this.pos + 1, n);
        this.pos += 3;
      } else if (n >= -0x80000000) {
        b[this.pos] = 0xd2;
        this.view.setInt32(this.pos + 1, n);
        this.pos += 5;
      } else {
        b[this.pos] = 0xd3;
        this.view.setInt32(this.pos + 1, Math.floor(n / 0x100000000));
        this.view.setUint32(this.pos + 5, n >>> 0);
        this.pos += 9;
      }
    } else {
      b[this.pos] = 0xcb;
      this.view.setFloat64(this.pos + 1, n);
      this.pos += 9;
    }
  }

  /** A string of ASCII characters; false (nothing usable written: start the value again) when it holds another. */
  ascii(s: string): boolean {
    const n = s.length;
    this.ensure(n + 5);
    const b = this.bytes;
    let at = this.pos;
    if (n < 32) b[at++] = 0xa0 + n;
    else if (n < 0x100) {
      b[at] = 0xd9;
      b[at + 1] = n;
      at += 2;
    } else if (n < 0x10000) {
      b[at] = 0xda;
      this.view.setUint16(at + 1, n);
      at += 3;
    } else {
      b[at] = 0xdb;
      this.view.setUint32(at + 1, n);
      at += 5;
    }
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) return false;
      b[at++] = c;
    }
    this.pos = at;
    return true;
  }

  /** A string: ASCII inline, anything else through the generic encoder (its UTF-8 handling). */
  string(s: string): void {
    if (!this.ascii(s)) this.fallback(s);
  }

  /** MessagePack already encoded: `source`'s bytes from `from` to `to`, copied as they are. */
  raw(source: Uint8Array, from: number, to: number): void {
    const n = to - from;
    this.ensure(n);
    const bytes = this.bytes;
    const at = this.pos;
    if (n <= 32) for (let i = 0; i < n; i++) bytes[at + i] = source[from + i] as number;
    else bytes.set(source.subarray(from, to), at);
    this.pos = at + n;
  }

  /** Binary data. */
  binary(data: Uint8Array): void {
    const n = data.byteLength;
    this.ensure(n + 5);
    if (n < 0x100) {
      this.bytes[this.pos] = 0xc4;
      this.bytes[this.pos + 1] = n;
      this.pos += 2;
    } else if (n < 0x10000) {
      this.bytes[this.pos] = 0xc5;
      this.view.setUint16(this.pos + 1, n);
      this.pos += 3;
    } else {
      this.bytes[this.pos] = 0xc6;
      this.view.setUint32(this.pos + 1, n);
      this.pos += 5;
    }
    if (n <= 32) for (let i = 0; i < n; i++) this.bytes[this.pos + i] = data[i] as number;
    else this.bytes.set(data, this.pos);
    this.pos += n;
  }

  /** Any value, as the generic encoder writes it at nesting `depth` (1 for a top-level value). */
  value(v: unknown, depth: number): void {
    if (depth > MAX_DEPTH) throw new Error(`Too deep objects in depth ${depth}`);
    if (v === null || v === undefined) this.byte(0xc0);
    else if (typeof v === 'boolean') this.byte(v ? 0xc3 : 0xc2);
    else if (typeof v === 'number') this.number(v);
    else if (typeof v === 'string') this.string(v);
    else if (Array.isArray(v)) {
      this.arrayHeader(v.length);
      for (const item of v) this.value(item, depth + 1);
    } else if (v instanceof Uint8Array) this.binary(v);
    else if (typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
      const o = v as Record<string, unknown>;
      let size = 0;
      for (const k in o) if (Object.hasOwn(o, k) && o[k] !== undefined) size++;
      this.mapHeader(size);
      for (const k in o) {
        if (!Object.hasOwn(o, k)) continue;
        const item = o[k];
        if (item === undefined) continue;
        this.string(k);
        this.value(item, depth + 1);
      }
    } else this.fallback(v);
  }
}
