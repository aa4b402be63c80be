import { Encoder, ExtensionCodec } from '@msgpack/msgpack';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeTimestamp } from '../clock/hlc';
import { asReplicaId, createOpId } from '../ids/ids';
import { encodeOps, OPS_FORMAT_VERSION } from './codec';
import { MsgpackWriter } from './msgpack-writer';
import type { Op } from './ops';

const codec = new ExtensionCodec();
const reference = new Encoder({ extensionCodec: codec, ignoreUndefined: true });

/** The bytes `encodeOps` wrote before it had its own writer: the generic encoder over the op tuples. */
function referenceEncodeOps(ops: readonly Op[]): Uint8Array {
  const codes = { create: 0, set: 1, increment: 2, delete: 3, yjs: 4 } as const;
  const tuples = ops.map((op) => {
    const colon = op.id.indexOf(':');
    const payload =
      op.kind === 'create'
        ? [op.values]
        : op.kind === 'set'
          ? [op.path, op.value]
          : op.kind === 'increment'
            ? [op.field, op.by]
            : op.kind === 'yjs'
              ? [op.field, op.update]
              : [];
    const head = [codes[op.kind], op.id.slice(0, colon), Number(op.id.slice(colon + 1)), op.ts];
    return [...head, op.collection, op.doc, op.epoch, ...payload];
  });
  const body = reference.encode(tuples);
  const out = new Uint8Array(body.length + 1);
  out[0] = OPS_FORMAT_VERSION;
  out.set(body, 1);
  return out;
}

const sameBytes = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));

/** Numbers at the edges of MessagePack's integer forms, and floats. */
const EDGE_NUMBERS = [
  0,
  -0,
  127,
  128,
  255,
  256,
  65535,
  65536,
  2 ** 32 - 1,
  2 ** 32,
  Number.MAX_SAFE_INTEGER,
  -1,
  -32,
  -33,
  -128,
  -129,
  -32768,
  -32769,
  -(2 ** 31),
  -(2 ** 31) - 1,
  Number.MIN_SAFE_INTEGER,
  2 ** 53,
  0.5,
  Number.NaN,
  Number.POSITIVE_INFINITY,
];
const edgeNumbers = fc.constantFrom(...EDGE_NUMBERS);
const strings = fc.oneof(
  fc.string(),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ minLength: 30, maxLength: 300 }),
  fc.constantFrom('\ud800', 'é', '☕', '𝄞', 'x'.repeat(70_000)),
);
const values = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.constant(null),
    fc.boolean(),
    fc.double(),
    fc.integer(),
    edgeNumbers,
    strings,
    fc.date({ noInvalidDate: true }),
    fc.array(tie('value'), { maxLength: 20 }),
    fc.dictionary(strings, tie('value'), { maxKeys: 20 }),
  ),
})).value;

const replica = asReplicaId('writer0000000000');
const other = asReplicaId('writer0000000001');
const opArb: fc.Arbitrary<Op> = fc
  .tuple(
    fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
    fc.boolean(),
    fc.integer({ min: 0, max: 2 ** 40 }),
    strings,
    fc.integer({ min: 0, max: 300 }),
    fc.integer({ min: 0, max: 4 }),
    values,
    fc.uint8Array({ maxLength: 300 }),
  )
  .map(([seq, mine, wall, doc, epoch, kind, value, update]) => {
    const r = mine ? replica : other;
    const header = {
      id: createOpId(r, seq),
      ts: encodeTimestamp({ wall, counter: seq % 65536, replica: r }),
      collection: 'products',
      doc,
      epoch,
    } as const;
    const map = value !== null && typeof value === 'object' && !Array.isArray(value) ? value : { v: value };
    switch (kind) {
      case 0:
        return { ...header, kind: 'create', values: map } as Op;
      case 1:
        return { ...header, kind: 'set', path: 'a.b', value } as Op;
      case 2:
        return { ...header, kind: 'increment', field: 'stock', by: seq % 1000 } as Op;
      case 3:
        return { ...header, kind: 'delete' } as Op;
      default:
        return { ...header, kind: 'yjs', field: 'tags', update } as Op;
    }
  });

describe('encodeOps with its own MessagePack writer', () => {
  it('writes exactly the bytes the generic encoder wrote for the same ops (signatures stay valid)', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 40 }), (ops) => {
        expect(sameBytes(encodeOps(ops), referenceEncodeOps(ops))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('writes batches of every array-header size the same way', () => {
    const ops = Array.from(
      { length: 70_000 },
      (_, i): Op => ({
        id: createOpId(replica, i + 1),
        ts: encodeTimestamp({ wall: 1_750_000_000_000, counter: i % 65536, replica }),
        collection: 'products',
        doc: `d${i}` as Op['doc'],
        epoch: 0,
        kind: 'increment',
        field: 'stock',
        by: i,
      }),
    );
    for (const n of [0, 15, 16, 65535, 65536, 70_000])
      expect(sameBytes(encodeOps(ops.slice(0, n)), referenceEncodeOps(ops.slice(0, n)))).toBe(true);
  });

  it('writes maps, skipping undefined entries, and leaves other objects to the generic encoder', () => {
    const writer = new MsgpackWriter(codec, 4);
    const samples: unknown[] = [
      { a: 1, b: undefined, c: [undefined, 2], 1: 'x' },
      Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, i])),
      new Map([[1, 2]]),
      Object.create(null),
      new Uint16Array([1, 2]),
      new Uint8Array(70_000).fill(7),
    ];
    for (const sample of samples) {
      writer.reset(4);
      writer.value(sample, 1);
      expect(sameBytes(writer.take(), reference.encode(sample))).toBe(true);
    }
  });
});

describe('MsgpackWriter in shared chunks (start/finish), as the store writes merge-state rows', () => {
  const chunked = new MsgpackWriter();
  const plain = new Encoder();
  /** Writes `values` (numbers, ASCII strings, binaries, booleans, null) as one array; undefined if it gave up. */
  function written(values: readonly unknown[]): Uint8Array | undefined {
    chunked.start();
    chunked.arrayHeader(values.length);
    for (const v of values) {
      if (v instanceof Uint8Array) chunked.binary(v);
      else if (v === null) chunked.byte(0xc0);
      else if (typeof v === 'boolean') chunked.byte(v ? 0xc3 : 0xc2);
      else if (typeof v === 'number') chunked.number(v);
      else if (typeof v !== 'string' || !chunked.ascii(v)) return undefined;
    }
    return chunked.finish();
  }
  const asciiString = fc.string({
    unit: fc.integer({ min: 0, max: 0x7f }).map((c) => String.fromCharCode(c)),
  });
  const sizes = [0, 1, 15, 16, 31, 32, 255, 256, 65535, 65536];

  it('writes what the general encoder writes, for every size of integer, string, binary and array', () => {
    const values: unknown[] = [...EDGE_NUMBERS, -1.25, -(2 ** 32), -65536, null, true, false];
    for (const n of sizes) values.push('x'.repeat(n), new Uint8Array(n).fill(7));
    for (const v of values) expect(written([v]), String(v)).toEqual(plain.encode([v]));
    for (const n of sizes) expect(written(new Array(n).fill(1))).toEqual(plain.encode(new Array(n).fill(1)));
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.double(),
            fc.integer(),
            fc.maxSafeInteger(),
            asciiString,
            fc.uint8Array(),
            fc.boolean(),
          ),
          {
            maxLength: 40,
          },
        ),
        (vs) => {
          expect(written(vs)).toEqual(plain.encode(vs));
        },
      ),
    );
  });

  it('gives up on a string that is not ASCII', () => {
    expect(written(['é'])).toBeUndefined();
    expect(written(['abc', 'x\u{1F600}'])).toBeUndefined();
  });

  it('keeps the bytes of every value it handed out while later values fill and outgrow its chunks', () => {
    const kept: [Uint8Array, Uint8Array][] = [];
    for (let i = 0; i < 3000; i++) {
      const value = ['x'.repeat(i % 97), i, new Uint8Array(i % 300).fill(i % 256)];
      if (i % 7 === 0) written(['abandoned', 'é']);
      const bytes = written(value) as Uint8Array;
      kept.push([bytes, plain.encode(value)]);
    }
    const big = written(['y'.repeat(200_000)]) as Uint8Array;
    for (const [bytes, expected] of kept) expect(bytes).toEqual(expected);
    expect(big).toEqual(plain.encode(['y'.repeat(200_000)]));
  });
});
