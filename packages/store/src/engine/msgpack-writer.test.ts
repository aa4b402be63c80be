/**
 * The hand-written MessagePack of hot paths must be what the general encoder writes, byte for byte, and a value's
 * bytes must stay as they were once handed out, whatever is written after them.
 */
import { Encoder } from '@msgpack/msgpack';
import fc from 'fast-check';
import { expect, it } from 'vitest';
import * as w from './msgpack-writer';

const encode = (value: unknown) => new Encoder().encode(value);

/** Writes `values` (an array of the writer's kinds) as one MessagePack array. */
function written(values: readonly unknown[]): Uint8Array | undefined {
  w.start();
  w.arrayHeader(values.length);
  for (const v of values) {
    if (v instanceof Uint8Array) w.binary(v);
    else if (!w.scalar(v)) return undefined;
  }
  return w.finish();
}

const ascii = fc.string({ unit: fc.integer({ min: 0, max: 0x7f }).map((c) => String.fromCharCode(c)) });
const sizes = [0, 1, 15, 16, 31, 32, 255, 256, 65535, 65536];

it('writes what the general encoder writes, for every size of integer, string, binary and array', () => {
  const edges = [0, 127, 128, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER];
  const numbers = [
    ...edges,
    ...edges.map((n) => -n),
    -32,
    -33,
    -128,
    -129,
    -32768,
    -32769,
    -(2 ** 31),
    -(2 ** 31) - 1,
  ];
  const values: unknown[] = [
    ...numbers,
    0.5,
    -1.25,
    2 ** 53,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    -0,
    null,
    true,
    false,
  ];
  for (const n of sizes) values.push('x'.repeat(n), new Uint8Array(n).fill(7));
  for (const v of values) expect(written([v]), String(v)).toEqual(encode([v]));
  for (const n of sizes) expect(written(new Array(n).fill(1))).toEqual(encode(new Array(n).fill(1)));
  fc.assert(
    fc.property(
      fc.array(
        fc.oneof(fc.double(), fc.integer(), fc.maxSafeInteger(), ascii, fc.uint8Array(), fc.boolean()),
        {
          maxLength: 40,
        },
      ),
      (vs) => {
        expect(written(vs)).toEqual(encode(vs));
      },
    ),
  );
});

it('gives up on a string that is not ASCII or a value of another kind', () => {
  expect(written(['é'])).toBeUndefined();
  expect(written([{}])).toBeUndefined();
  expect(written([new Date(0)])).toBeUndefined();
  expect(written([undefined])).toBeUndefined();
});

it('keeps the bytes of every value it handed out while later values fill and outgrow its buffers', () => {
  const kept: [Uint8Array, Uint8Array][] = [];
  for (let i = 0; i < 3000; i++) {
    const value = ['x'.repeat(i % 97), i, new Uint8Array(i % 300).fill(i % 256)];
    if (i % 7 === 0) written([{}]);
    const bytes = written(value) as Uint8Array;
    kept.push([bytes, encode(value)]);
  }
  const big = written(['y'.repeat(200_000)]) as Uint8Array;
  for (const [bytes, expected] of kept) expect(bytes).toEqual(expected);
  expect(big).toEqual(encode(['y'.repeat(200_000)]));
});
