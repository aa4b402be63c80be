import { Encoder } from '@msgpack/msgpack';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OpDecodeError } from '../errors';
import { decodeBoundedMsgpack } from './codec';
import { DEFAULT_MAX_MSGPACK_DEPTH, scanMsgpack } from './msgpack-scan';

const encoder = new Encoder({ useBigInt64: true });

function nested(depth: number): unknown {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = i % 2 ? [v] : { k: v };
  return v;
}

function refusal(bytes: Uint8Array, maxDepth?: number): string | undefined {
  try {
    scanMsgpack(bytes, maxDepth);
    return undefined;
  } catch (error) {
    if (!(error instanceof OpDecodeError)) throw error;
    return error.reason;
  }
}

describe('scanMsgpack', () => {
  it('passes every value the encoder writes within the depth limit, and the decoder agrees', () => {
    fc.assert(
      fc.property(
        // `__proto__` as a map key is refused by the decoder on purpose (its own test below), so the generator leaves it out.
        fc.jsonValue({ maxDepth: 8 }).filter((json) => !JSON.stringify(json).includes('"__proto__"')),
        fc.uint8Array({ maxLength: 40 }),
        fc.bigInt({ min: -(2n ** 63n), max: 2n ** 64n - 1n }),
        (json, bin, big) => {
          const bytes = encoder.encode([json, bin, big, new Date(1_700_000_000_123), -1.5]);
          expect(refusal(bytes)).toBeUndefined();
          expect(decodeBoundedMsgpack(bytes)).toBeDefined();
        },
      ),
      { numRuns: 500 },
    );
  });

  it('passes a __proto__ key through the scan, and the decoder refuses it rather than set a prototype', () => {
    const bytes = encoder.encode(JSON.parse('{"a":{"__proto__":{"polluted":1}}}'));
    expect(refusal(bytes)).toBeUndefined();
    expect(() => decodeBoundedMsgpack(bytes)).toThrow(/__proto__/);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('refuses nesting one level past the limit, whatever mixes arrays and maps', () => {
    expect(refusal(encoder.encode(nested(DEFAULT_MAX_MSGPACK_DEPTH)))).toBeUndefined();
    expect(refusal(encoder.encode(nested(DEFAULT_MAX_MSGPACK_DEPTH + 1)))).toBe('too_deep');
    expect(refusal(encoder.encode(nested(5)), 4)).toBe('too_deep');
  });

  it('refuses a million-deep array at the limit, before reading the rest', () => {
    const deep = new Uint8Array(1_000_000).fill(0x91);
    expect(refusal(deep)).toBe('too_deep');
    expect(() => decodeBoundedMsgpack(deep)).toThrow(OpDecodeError);
  });

  it('refuses containers whose entries, with those the enclosing containers still owe, exceed the bytes left', () => {
    const inner = [0xdd, 0x00, 0x00, 0x00, 0x08];
    const ok = Uint8Array.of(0x92, ...inner, ...new Array(8).fill(0xc0), 0xc0);
    expect(refusal(ok)).toBeUndefined();
    const owedTooMuch = Uint8Array.of(0x92, 0xdd, 0x00, 0x00, 0x00, 0x09, ...new Array(9).fill(0xc0));
    expect(refusal(owedTooMuch)).toBe('truncated');
    const bigMap = Uint8Array.of(0xdf, 0x00, 0x00, 0x00, 0x03, 0xc0, 0xc0, 0xc0, 0xc0, 0xc0);
    expect(refusal(bigMap)).toBe('truncated');
    expect(refusal(Uint8Array.of(0xdb, 0x7f, 0xff, 0xff, 0xff, 0x61))).toBe('truncated');
    expect(refusal(Uint8Array.of(0xc6, 0x00, 0x00, 0x01, 0x00, 0x00))).toBe('truncated');
    expect(refusal(Uint8Array.of(0xc7, 0x05, 0x01, 0x00))).toBe('truncated');
    expect(refusal(Uint8Array.of(0x91, 0xc1))).toBe('malformed');
    expect(refusal(new Uint8Array(0))).toBe('truncated');
  });

  it('gives a typed refusal or passes for any bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        const reason = refusal(bytes);
        expect([undefined, 'too_deep', 'truncated', 'malformed']).toContain(reason);
      }),
      { numRuns: 3000 },
    );
  });
});
