/**
 * Versioned binary encoding of op batches.
 *
 * Layout: one version byte (currently 1), then a MessagePack array of op tuples
 * `[kind, replica, seq, ts, collection, doc, epoch, ...payload]` with `kind` 0 create, 1 set, 2 increment,
 * 3 delete, 4 yjs. Dates travel as MessagePack timestamps.
 *
 * Decoding is total: whatever the bytes, `decodeOps` returns ops that are well formed (ids, timestamps, names,
 * values) or throws `OpDecodeError` with a reason (`malformed`, `truncated`, `oversized`,
 * `unsupported_version`, `too_deep`). Time and memory are bounded by the input size: the input is refused above
 * `maxBytes`, and `scanMsgpack` refuses nesting deeper than its limit and containers declaring more entries than
 * there are bytes left before anything is decoded.
 * Well formed does not mean allowed: schema and permission checks come after decoding.
 */
import { Decoder, ExtensionCodec } from '@msgpack/msgpack';
import { isTimestamp } from '../clock/hlc';
import { OpDecodeError } from '../errors';
import { createOpId, isDocId, isReplicaId, parseOpId } from '../ids/ids';
import { MAX_JSON_DEPTH } from '../schema/validate';
import { scanMsgpack } from './msgpack-scan';
import { MsgpackWriter } from './msgpack-writer';
import type { Op, Value } from './ops';

/** The encoding version written by this build. */
export const OPS_FORMAT_VERSION = 1;

/** Limits applied when decoding. */
export interface DecodeLimits {
  /** Largest accepted input, in bytes (default 4 MiB). */
  readonly maxBytes?: number;
  /** Largest number of ops in one batch (default 10 000). */
  readonly maxOps?: number;
}

const KIND_CODES = { create: 0, set: 1, increment: 2, delete: 3, yjs: 4 } as const;
const NAME_RE = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
const PATH_RE = /^[A-Za-z_][A-Za-z0-9_]{0,62}(\.[A-Za-z_][A-Za-z0-9_]{0,62}){0,7}$/;

const extensionCodec = new ExtensionCodec();
const writer = new MsgpackWriter(extensionCodec);

/**
 * The sequence number of op id `id` when it belongs to `replica` (checked as `parseOpId` checks it: canonical
 * decimal, positive, safe), else undefined (the caller parses it in full).
 */
function seqOf(id: string, replica: string): number | undefined {
  if (replica === '' || id.length < 18 || id.charCodeAt(16) !== 58 || !id.startsWith(replica))
    return undefined;
  let seq = 0;
  for (let i = 17; i < id.length; i++) {
    const d = id.charCodeAt(i) - 48;
    if (d < 0 || d > 9 || (d === 0 && i === 17)) return undefined;
    seq = seq * 10 + d;
  }
  return Number.isSafeInteger(seq) ? seq : undefined;
}

/**
 * Encodes a batch of ops. The bytes are those of `@msgpack/msgpack`'s encoder over the op tuples (written by
 * `MsgpackWriter` without building the tuples): signatures and digests of encoded ops do not depend on the build.
 */
export function encodeOps(ops: readonly Op[]): Uint8Array {
  writer.reset(64 + ops.length * 128);
  writer.byte(OPS_FORMAT_VERSION);
  writer.arrayHeader(ops.length);
  let replica = '';
  for (const op of ops) {
    let seq = seqOf(op.id, replica);
    if (seq === undefined) {
      const parsed = parseOpId(op.id);
      replica = parsed.replica;
      seq = parsed.seq;
    }
    const kind = op.kind;
    writer.arrayHeader(kind === 'delete' ? 7 : kind === 'create' ? 8 : 9);
    writer.number(KIND_CODES[kind]);
    writer.string(replica);
    writer.number(seq);
    writer.value(op.ts, 3);
    writer.value(op.collection, 3);
    writer.value(op.doc, 3);
    writer.value(op.epoch, 3);
    switch (kind) {
      case 'create':
        writer.value(op.values, 3);
        break;
      case 'set':
        writer.value(op.path, 3);
        writer.value(op.value, 3);
        break;
      case 'increment':
        writer.value(op.field, 3);
        writer.value(op.by, 3);
        break;
      case 'yjs':
        writer.value(op.field, 3);
        writer.value(op.update, 3);
        break;
      case 'delete':
        break;
    }
  }
  return writer.take();
}

function malformed(message: string): never {
  throw new OpDecodeError('malformed', message);
}

function checkValue(value: unknown, depth: number, index: number): Value {
  if (depth > MAX_JSON_DEPTH + 2) malformed(`op ${index}: value nested too deeply`);
  if (value === null || typeof value === 'boolean' || typeof value === 'string') {
    if (typeof value === 'string' && !value.isWellFormed())
      malformed(`op ${index}: string is not well-formed Unicode`);
    return value;
  }
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) malformed(`op ${index}: number is not finite`);
    return value;
  }
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) malformed(`op ${index}: invalid date`);
    return value;
  }
  if (Array.isArray(value)) {
    for (const item of value) checkValue(item, depth + 1, index);
    return value as Value[];
  }
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    for (const [k, v] of Object.entries(value as object)) {
      if (k === '__proto__') malformed(`op ${index}: forbidden key`);
      checkValue(v, depth + 1, index);
    }
    return value as Value;
  }
  return malformed(`op ${index}: unsupported value type`);
}

/** Refuses tuple `t` (op `index`) unless it has `n` elements. */
function expectLength(t: readonly unknown[], n: number, index: number): void {
  if (t.length !== n) malformed(`op ${index}: expected ${n} elements, found ${t.length}`);
}

/** A field name (a path when `dotted`) of op `index`, or a refusal. */
function fieldOf(v: unknown, dotted: boolean, index: number): string {
  if (typeof v !== 'string' || !(dotted ? PATH_RE : NAME_RE).test(v))
    malformed(`op ${index}: bad field path`);
  return v;
}

// Runs once per received op: messages are built only on refusal, and the op is made in one object literal.
function decodeTuple(t: unknown, index: number): Op {
  if (!Array.isArray(t) || t.length < 7) malformed(`op ${index}: expected an op tuple`);
  const kind = t[0];
  const replica = t[1];
  const seq = t[2];
  const ts = t[3];
  const collection = t[4];
  const doc = t[5];
  const epoch = t[6];
  if (!isReplicaId(replica)) malformed(`op ${index}: bad replica id`);
  if (!Number.isSafeInteger(seq) || (seq as number) < 1) malformed(`op ${index}: bad sequence number`);
  if (!isTimestamp(ts)) malformed(`op ${index}: bad timestamp`);
  if (typeof collection !== 'string' || !NAME_RE.test(collection))
    malformed(`op ${index}: bad collection name`);
  if (!isDocId(doc)) malformed(`op ${index}: bad document id`);
  if (!Number.isSafeInteger(epoch) || (epoch as number) < 0) malformed(`op ${index}: bad epoch`);
  const id = createOpId(replica, seq as number);
  const e = epoch as number;
  switch (kind) {
    case KIND_CODES.create: {
      expectLength(t, 8, index);
      const values = t[7];
      if (typeof values !== 'object' || values === null || Array.isArray(values) || values instanceof Date) {
        malformed(`op ${index}: create values must be a map`);
      }
      for (const k in values) if (Object.hasOwn(values, k)) fieldOf(k, false, index);
      const checked = checkValue(values, 0, index) as { [field: string]: Value };
      return { id, ts, collection, doc, epoch: e, kind: 'create', values: checked };
    }
    case KIND_CODES.set: {
      expectLength(t, 9, index);
      const path = fieldOf(t[7], true, index);
      return { id, ts, collection, doc, epoch: e, kind: 'set', path, value: checkValue(t[8], 0, index) };
    }
    case KIND_CODES.increment:
      expectLength(t, 9, index);
      if (!Number.isSafeInteger(t[8])) malformed(`op ${index}: increment must be an integer`);
      return {
        id,
        ts,
        collection,
        doc,
        epoch: e,
        kind: 'increment',
        field: fieldOf(t[7], false, index),
        by: t[8] as number,
      };
    case KIND_CODES.delete:
      expectLength(t, 7, index);
      return { id, ts, collection, doc, epoch: e, kind: 'delete' };
    case KIND_CODES.yjs:
      expectLength(t, 9, index);
      if (!(t[8] instanceof Uint8Array)) malformed(`op ${index}: yjs update must be binary`);
      return {
        id,
        ts,
        collection,
        doc,
        epoch: e,
        kind: 'yjs',
        field: fieldOf(t[7], false, index),
        update: t[8] as Uint8Array,
      };
    default:
      return malformed(`op ${index}: unknown op kind ${JSON.stringify(kind)}`);
  }
}

const decoders = new Map<number, Decoder>();

/**
 * A MessagePack decoder for an input of `length` bytes whose container, string and binary limits are the smallest
 * power of two ≥ `length`: no declared length can make it allocate more than twice the input. Decoders are cached
 * per bound. Shared by every decoder of untrusted bytes (ops, snapshots, protocol frames).
 */
function boundedDecoder(length: number): Decoder {
  let bound = 64;
  while (bound < length) bound *= 2;
  let decoder = decoders.get(bound);
  if (!decoder) {
    decoder = new Decoder({
      extensionCodec,
      maxStrLength: bound,
      maxBinLength: bound,
      maxArrayLength: bound,
      maxMapLength: bound,
      maxExtLength: bound,
    });
    decoders.set(bound, decoder);
  }
  return decoder;
}

/**
 * Decodes MessagePack bytes from an untrusted source (a frame, a stored blob) with Loam's extension types, in time
 * and memory proportional to their size: `scanMsgpack` first refuses nesting deeper than `maxDepth` and lengths the
 * input cannot hold (`OpDecodeError`: `too_deep`, `truncated`, `malformed`), then a {@link boundedDecoder} decodes.
 * Throws the decoder's error on other malformed input: callers turn it into their own typed error.
 */
export function decodeBoundedMsgpack(bytes: Uint8Array, maxDepth?: number): unknown {
  scanMsgpack(bytes, maxDepth);
  return boundedDecoder(bytes.length).decode(bytes);
}

/** The entry count of the MessagePack array header at `at`, if there is one: read before decoding its entries. */
function declaredArrayLength(bytes: Uint8Array, at: number): number | undefined {
  const b = bytes[at];
  if (b === undefined) return undefined;
  if (b >= 0x90 && b <= 0x9f) return b & 0x0f;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b === 0xdc && at + 3 <= bytes.length) return view.getUint16(at + 1);
  if (b === 0xdd && at + 5 <= bytes.length) return view.getUint32(at + 1);
  return undefined;
}

/** Decodes a batch written by `encodeOps`; throws `OpDecodeError` on anything else. */
export function decodeOps(bytes: Uint8Array, limits: DecodeLimits = {}): Op[] {
  const maxBytes = limits.maxBytes ?? 4 * 1024 * 1024;
  const maxOps = limits.maxOps ?? 10_000;
  if (!(bytes instanceof Uint8Array)) malformed('input is not a byte array');
  if (bytes.length > maxBytes)
    throw new OpDecodeError('oversized', `${bytes.length} bytes, limit ${maxBytes}`);
  if (bytes.length === 0) throw new OpDecodeError('truncated', 'empty input');
  if (bytes[0] !== OPS_FORMAT_VERSION) {
    throw new OpDecodeError(
      'unsupported_version',
      `format version ${bytes[0]}, this build reads ${OPS_FORMAT_VERSION}`,
    );
  }
  const declared = declaredArrayLength(bytes, 1);
  if (declared !== undefined && declared > maxOps)
    throw new OpDecodeError('oversized', `${declared} ops, limit ${maxOps}`);
  let body: unknown;
  try {
    body = decodeBoundedMsgpack(bytes.subarray(1));
  } catch (cause) {
    if (cause instanceof OpDecodeError) throw cause;
    const message = cause instanceof Error ? cause.message : String(cause);
    const truncated = /insufficient data/i.test(message);
    throw new OpDecodeError(truncated ? 'truncated' : 'malformed', message, { cause });
  }
  if (!Array.isArray(body)) malformed('expected an array of ops');
  if (body.length > maxOps) throw new OpDecodeError('oversized', `${body.length} ops, limit ${maxOps}`);
  try {
    return body.map(decodeTuple);
  } catch (cause) {
    if (cause instanceof OpDecodeError) throw cause;
    throw new OpDecodeError('malformed', cause instanceof Error ? cause.message : String(cause), { cause });
  }
}
