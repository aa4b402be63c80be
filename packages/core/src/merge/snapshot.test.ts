/**
 * The snapshot decoder is total over both formats: bytes from the network either decode to what was encoded or
 * are refused with `OpDecodeError`, never another exception, never a state that points nowhere.
 */
import { Encoder } from '@msgpack/msgpack';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OpDecodeError } from '../errors';
import { asReplicaId } from '../ids/ids';
import { decodeBoundedMsgpack } from '../ops/codec';
import { defineSchema, f } from '../schema/schema';
import { createMemoryReplica } from './memory-replica';
import { readPlainV2 } from './plain-v2';
import {
  decodeDocSnapshot,
  encodeDocSnapshot,
  readDocSnapshot,
  readDocSnapshotGenerally,
  SNAPSHOT_VERSIONS,
} from './snapshot';
import { readSubset } from './snapshot-reader';

const schema = defineSchema({
  version: 1,
  collections: {
    notes: {
      fields: { title: f.string(), at: f.date({ optional: true }), n: f.counter(), tags: f.list<string>() },
    },
  },
});

function sample() {
  const r = createMemoryReplica({
    schema,
    replica: asReplicaId('writer0000000000'),
    now: () => 1_750_000_000_000,
  });
  const { id } = r.insert('notes', { title: 'a', at: new Date(5), n: 2, tags: ['x'] });
  r.increment('notes', id, 'n', 3);
  r.update('notes', id, { title: 'b' });
  return r.state.getState('notes', id)!;
}

const raw = (value: unknown) => new Encoder().encode(value);
const refusal = (bytes: Uint8Array): string | undefined => {
  try {
    decodeDocSnapshot(bytes);
    return undefined;
  } catch (error) {
    if (!(error instanceof OpDecodeError)) throw error;
    return error.reason;
  }
};
const packed = new Uint8Array(20);
/** 31 distinct packed timestamps: more than the one-pass reader tracks in a number. */
const many = Array.from({ length: 31 }, (_, i) => new Uint8Array(20).fill(i, 0, 6));

describe('document snapshots', () => {
  it.each(SNAPSHOT_VERSIONS)(
    'format %i round-trips a state, dates, counters and lists included',
    (version) => {
      const state = sample();
      const back = decodeDocSnapshot(encodeDocSnapshot(state, version));
      expect(back.regs).toEqual(state.regs);
      expect(back.counters).toEqual(state.counters);
      expect(back.crdts.tags?.getArray('v').toJSON()).toEqual(['x']);
    },
  );

  it('format 2 writes each timestamp once and is smaller than format 1', () => {
    const state = sample();
    expect(encodeDocSnapshot(state, 2).length).toBeLessThan(encodeDocSnapshot(state, 1).length);
  });

  it.each([
    ['an unknown format', raw([3, 0, false, false, [], [], [], []]), 'unsupported_version'],
    ['a time index out of range', raw([2, 1, true, false, [packed], ['a', 1, 1], [], []]), 'malformed'],
    [
      'a time index one past the table',
      raw([2, 1, true, false, [packed], ['a', 1, 0, 'b', 2, 1], [], []]),
      'malformed',
    ],
    [
      'an increment id `__proto__`',
      raw([2, 1, true, false, [packed], [], ['n', 0, -1, 1, ['__proto__', 0, 1]], []]),
      'malformed',
    ],
    [
      'a time index one past a table of 31',
      raw([
        2,
        1,
        true,
        false,
        many,
        [...many.flatMap((_, i) => [`r${i}`, i, i]), 'x', 1, many.length],
        [],
        [],
      ]),
      'malformed',
    ],
    ['trailing bytes', new Uint8Array([...raw([2, 1, true, false, [], [], [], []]), 0]), 'malformed'],
    [
      'a timestamp nothing points at',
      raw([2, 1, true, false, [packed, 'x'], ['a', 1, 0], [], []]),
      'malformed',
    ],
    [
      'a packed timestamp of the wrong size',
      raw([2, 1, true, false, [new Uint8Array(19)], ['a', 1, 0], [], []]),
      'malformed',
    ],
    [
      'a replica id out of base-36 range',
      raw([2, 1, true, false, [new Uint8Array(20).fill(255)], ['a', 1, 0], [], []]),
      'malformed',
    ],
    ['a `__proto__` path', raw([2, 1, true, false, [packed], ['__proto__', 1, 0], [], []]), 'malformed'],
    ['a register run cut short', raw([2, 1, true, false, [packed], ['a', 1], [], []]), 'malformed'],
    [
      'a counter that is not an integer',
      raw([2, 1, true, false, [packed], [], ['n', 0.5, 0, 1, []], []]),
      'malformed',
    ],
    [
      'an increment with a bad time',
      raw([2, 1, true, false, [packed], [], ['n', 0, 0, 1, ['op', 7, 1]], []]),
      'malformed',
    ],
    [
      'a bad Yjs update',
      raw([2, 1, true, false, [], [], [], ['tags', new Uint8Array([9, 9, 9])]]),
      'malformed',
    ],
    ['a negative epoch', raw([2, -1, true, false, [], [], [], []]), 'malformed'],
    ['a layout of the wrong length', raw([2, 1, true, false, [], [], []]), 'malformed'],
    ['nothing', new Uint8Array(0), 'truncated'],
  ])('refuses %s', (_, bytes, reason) => {
    expect(refusal(bytes)).toBe(reason);
  });

  it.each(SNAPSHOT_VERSIONS)(
    'format %i: any truncation or corrupted byte decodes or is refused, never throws anything else',
    (version) => {
      const bytes = encodeDocSnapshot(sample(), version);
      fc.assert(
        fc.property(
          fc.nat({ max: bytes.length }),
          fc.array(fc.tuple(fc.nat({ max: bytes.length - 1 }), fc.nat({ max: 255 })), { maxLength: 4 }),
          (cut, flips) => {
            const copy = bytes.slice(0, Math.max(cut, 1));
            for (const [at, value] of flips) if (at < copy.length) copy[at] = value;
            refusal(copy);
            const read = (() => {
              try {
                return readDocSnapshot(copy);
              } catch {
                return undefined;
              }
            })();
            // What decodes never points outside its timestamp table.
            if (read && 'packed' in read) expect(() => decodeDocSnapshot(copy)).not.toThrow();
          },
        ),
        { numRuns: 500 },
      );
    },
  );

  it('the fast reader gives what the general decoder gives, or gives up', () => {
    const same = (bytes: Uint8Array) => {
      const fast = readSubset(bytes);
      if (fast === undefined) return;
      expect(decodeBoundedMsgpack(bytes)).toEqual(fast);
    };
    fc.assert(
      fc.property(
        fc
          .oneof(fc.jsonValue({ maxDepth: 5 }), fc.jsonValue({ maxDepth: 3, stringUnit: 'binary' }))
          .filter((v) => !JSON.stringify(v).includes('"__proto__"')),
        fc.array(fc.tuple(fc.nat(), fc.nat({ max: 255 })), { maxLength: 3 }),
        (json, flips) => {
          const bytes = raw(json);
          same(bytes);
          for (const [at, value] of flips) if (bytes.length > 0) bytes[at % bytes.length] = value;
          same(bytes);
        },
      ),
      { numRuns: 1000 },
    );
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), same), { numRuns: 1000 });
    const full = encodeDocSnapshot(sample(), 2);
    expect(readSubset(full)).toEqual(decodeBoundedMsgpack(full));
    const plain = createMemoryReplica({ schema, replica: asReplicaId('writer0000000000') });
    const { id } = plain.insert('notes', { title: 'plain', n: 1 });
    const bytes = encodeDocSnapshot(plain.state.getState('notes', id)!, 2);
    expect(readSubset(bytes)).toEqual(decodeBoundedMsgpack(bytes));
    // Well-formed UTF-8 is read; a leading byte-order mark and malformed UTF-8 are left to the general decoder.
    expect(readSubset(raw(['Crème brûlée', '€ 3,50', '🍞']))).toEqual(['Crème brûlée', '€ 3,50', '🍞']);
    expect(readSubset(raw('\ufeffmenu'))).toBeUndefined();
    expect(readSubset(new Uint8Array([0xa2, 0xc3, 0x28]))).toBeUndefined();
    // Timestamps in each of their three forms read as the general decoder reads them; other extensions do not.
    const dates = [0, 1_750_000_000_123, 1_750_000_000_000, -5e12, 8.64e15, 2 ** 33 * 1000 + 7].map(
      (t) => new Date(t),
    );
    expect(readSubset(raw(dates))).toEqual(decodeBoundedMsgpack(raw(dates)));
    expect(readSubset(new Uint8Array([0xd6, 0x01, 0, 0, 0, 0]))).toBeUndefined();
  });

  it('the one-pass reader gives what the general reader gives, or gives up', () => {
    const plain = defineSchema({
      version: 1,
      collections: {
        p: {
          fields: {
            name: f.string(),
            price: f.number(),
            active: f.boolean({ optional: true }),
            extra: f.json({ optional: true }),
            n: f.counter(),
          },
        },
      },
    });
    const price = fc.oneof(
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.integer(),
      fc.constant(2 ** 40),
      fc.constant(-(2 ** 40)),
      fc.constant(-0),
    );
    const write = fc.oneof(
      fc.record({
        kind: fc.constant('set' as const),
        // Non-ASCII too: well-formed UTF-8 is read on the fast path, lone surrogates (not UTF-8) are not.
        name: fc.oneof(fc.string({ maxLength: 300 }), fc.string({ maxLength: 300, unit: 'binary' })),
        price,
      }),
      fc.record({ kind: fc.constant('json' as const), extra: fc.jsonValue({ maxDepth: 3 }) }),
      fc.record({ kind: fc.constant('increment' as const), by: fc.integer({ min: -5, max: 5 }) }),
      fc.record({ kind: fc.constant('delete' as const) }),
    );
    let writer = 0;
    fc.assert(
      fc.property(
        fc.array(write, { maxLength: 12 }),
        fc.array(fc.tuple(fc.nat(), fc.oneof(fc.nat({ max: 255 }), fc.nat({ max: 3 }))), { maxLength: 3 }),
        fc.nat(),
        (writes, flips, cut) => {
          const replicas = ['writer0000000000', 'writer1111111111'].map((r) =>
            createMemoryReplica({
              schema: plain,
              replica: asReplicaId(r),
              now: () => 1_750_000_000_000 + writer++,
            }),
          );
          const [a, b] = replicas as [(typeof replicas)[0], (typeof replicas)[0]];
          const { id } = a.insert('p', { name: 'x', price: 1, n: 0 });
          b.receive(a.log());
          for (const [i, w] of writes.entries()) {
            const r = i % 2 === 0 ? a : b;
            if (!r.get('p', id)) {
              if (w.kind !== 'delete') r.upsert('p', id, { name: 'again', price: 2, n: 1 });
            } else if (w.kind === 'set')
              r.update('p', id, { name: w.name, price: w.price, active: i % 3 === 0 });
            else if (w.kind === 'json') r.update('p', id, { extra: w.extra });
            else if (w.kind === 'increment') r.increment('p', id, 'n', w.by);
            else r.delete('p', id);
          }
          a.receive(b.log());
          const bytes = encodeDocSnapshot(a.state.getState('p', id)!, 2);
          const same = (input: Uint8Array) => {
            const fast = readPlainV2(input);
            if (fast !== undefined) expect(fast).toEqual(readDocSnapshotGenerally(input));
            return fast;
          };
          same(bytes);
          const copy = bytes.slice(0, Math.max(1, bytes.length - (cut % 4)));
          for (const [at, v] of flips) copy[at % copy.length] = v;
          same(copy);
        },
      ),
      { numRuns: 500 },
    );
    const r = createMemoryReplica({ schema: plain, replica: asReplicaId('writer0000000000') });
    const { id } = r.insert('p', { name: 'plain', price: 0.5, active: true, n: 2 });
    r.increment('p', id, 'n', 3);
    const bytes = encodeDocSnapshot(r.state.getState('p', id)!, 2);
    expect(readPlainV2(bytes)).toBeDefined();
    expect(readDocSnapshot(bytes)).toEqual(readDocSnapshotGenerally(bytes));
    // A document with a list or text field is for the general reader.
    expect(readPlainV2(encodeDocSnapshot(sample(), 2))).toBeUndefined();
  });
});
