import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeTimestamp } from '../clock/hlc';
import { OpDecodeError } from '../errors';
import { asDocId, asReplicaId, createOpId } from '../ids/ids';
import { decodeOps, encodeOps, OPS_FORMAT_VERSION } from './codec';
import type { Op } from './ops';

const replica = asReplicaId('codec00000000000');
const header = (seq: number) => ({
  id: createOpId(replica, seq),
  ts: encodeTimestamp({ wall: 1_750_000_000_000 + seq, counter: seq, replica }),
  collection: 'products',
  doc: asDocId(`doc-${seq}`),
  epoch: seq % 3,
});
const sample: Op[] = [
  {
    ...header(1),
    kind: 'create',
    values: { name: 'Tea ☕ 𝄞', price: 2.5, when: new Date(1_700_000_000_123), meta: { a: [1, null, true] } },
  },
  { ...header(2), kind: 'set', path: 'place.city', value: 'Lyon' },
  { ...header(3), kind: 'set', path: 'category', value: null },
  { ...header(4), kind: 'increment', field: 'stock', by: -3 },
  { ...header(5), kind: 'delete' },
  { ...header(6), kind: 'yjs', field: 'tags', update: new Uint8Array([1, 2, 3, 0, 255]) },
];

function decodeFailure(bytes: Uint8Array, limits?: { maxBytes?: number; maxOps?: number }): string {
  try {
    decodeOps(bytes, limits);
    return 'ok';
  } catch (e) {
    if (!(e instanceof OpDecodeError)) throw new Error(`untyped error: ${e}`);
    expect(e.code).toBe('op_decode');
    return e.reason;
  }
}

describe('op codec', () => {
  it('round-trips every op kind', () => {
    expect(decodeOps(encodeOps(sample))).toEqual(sample);
  });

  it('refuses an unknown version, truncation, and oversized input with typed reasons', () => {
    const bytes = encodeOps(sample);
    expect(decodeFailure(Uint8Array.of(OPS_FORMAT_VERSION + 1, ...bytes.subarray(1)))).toBe(
      'unsupported_version',
    );
    expect(decodeFailure(bytes.subarray(0, bytes.length - 4))).toBe('truncated');
    expect(decodeFailure(new Uint8Array(0))).toBe('truncated');
    expect(decodeFailure(bytes, { maxBytes: 10 })).toBe('oversized');
    expect(decodeFailure(bytes, { maxOps: 2 })).toBe('oversized');
    expect(decodeFailure(Uint8Array.of(...bytes, 0))).toBe('malformed');
  });

  it('refuses well-formed MessagePack that is not a valid op', () => {
    const tamper = (f: (t: unknown[]) => void) => {
      const tuple: unknown[] = [1, replica, 2, header(2).ts, 'products', 'doc-2', 0, 'place.city', 'Lyon'];
      f(tuple);
      return decodeFailure(
        Uint8Array.of(OPS_FORMAT_VERSION, ...encodeOps([]).subarray(1, 1), ...msgpackArray([tuple])),
      );
    };
    expect(tamper(() => {})).toBe('ok');
    expect(tamper((t) => (t[0] = 9))).toBe('malformed');
    expect(tamper((t) => (t[1] = 'NOT-A-REPLICA'))).toBe('malformed');
    expect(tamper((t) => (t[2] = -1))).toBe('malformed');
    expect(tamper((t) => (t[3] = 'yesterday'))).toBe('malformed');
    expect(tamper((t) => (t[4] = 'drop table'))).toBe('malformed');
    expect(tamper((t) => (t[6] = 1.5))).toBe('malformed');
    expect(tamper((t) => (t[7] = '__proto__.x'))).toBe('ok');
    expect(tamper((t) => (t[7] = 'a..b'))).toBe('malformed');
    expect(tamper((t) => (t[8] = Number.POSITIVE_INFINITY))).toBe('malformed');
    expect(tamper((t) => t.push('extra'))).toBe('malformed');
  });

  it('gives a typed error for any random, truncated or corrupted input, quickly', () => {
    const valid = encodeOps(sample);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), (bytes) => {
        expect(['ok', 'malformed', 'truncated', 'oversized', 'unsupported_version']).toContain(
          decodeFailure(bytes),
        );
      }),
      { numRuns: 3000 },
    );
    fc.assert(
      fc.property(
        fc.nat({ max: valid.length - 1 }),
        fc.nat({ max: 255 }),
        fc.nat({ max: valid.length }),
        (at, byte, cut) => {
          const corrupted = valid.slice(0, Math.max(1, cut));
          if (at < corrupted.length) corrupted[at] = byte;
          decodeFailure(corrupted);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('refuses containers that claim more entries than the input holds, without allocating them', () => {
    const hugeArray = Uint8Array.of(OPS_FORMAT_VERSION, 0xdd, 0xff, 0xff, 0xff, 0xff);
    const hugeString = Uint8Array.of(OPS_FORMAT_VERSION, 0x91, 0xdb, 0x7f, 0xff, 0xff, 0xff);
    const deep = new Uint8Array(100_001).fill(0x91);
    deep[0] = OPS_FORMAT_VERSION;
    expect(decodeFailure(hugeArray)).toMatch(/malformed|truncated|oversized/);
    expect(decodeFailure(hugeString)).toMatch(/malformed|truncated/);
    expect(decodeFailure(deep)).toBe('too_deep');
  });
});

/** Minimal MessagePack writer for hand-built tuples (fixarray/str/int/float only). */
function msgpackArray(items: unknown[]): number[] {
  const out: number[] = [];
  const write = (v: unknown): void => {
    if (Array.isArray(v)) {
      out.push(0x90 | v.length);
      v.forEach(write);
    } else if (typeof v === 'string') {
      const b = new TextEncoder().encode(v);
      out.push(0xd9, b.length, ...b);
    } else if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < 128) {
      out.push(v);
    } else if (typeof v === 'number') {
      const dv = new DataView(new ArrayBuffer(9));
      dv.setUint8(0, 0xcb);
      dv.setFloat64(1, v);
      out.push(...new Uint8Array(dv.buffer));
    } else throw new Error(`cannot write ${v}`);
  };
  write(items);
  return out;
}
