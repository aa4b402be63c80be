import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ClockError, ClockSkewError } from '../errors';
import { asReplicaId } from '../ids/ids';
import {
  compareTimestamps,
  createClock,
  decodeTimestamp,
  encodeTimestamp,
  packTimestamp,
  type Timestamp,
  unpackTimestamp,
} from './hlc';

const A = asReplicaId('aaaaaaaaaaaaaaaa');
const B = asReplicaId('bbbbbbbbbbbbbbbb');

describe('hybrid logical clock', () => {
  it('issues strictly increasing timestamps even when the wall clock stalls or goes back', () => {
    const walls = [1000, 1000, 999, 500, 1001, 1001];
    let i = 0;
    const clock = createClock({ replica: A, now: () => walls[Math.min(i++, walls.length - 1)] as number });
    const seen = walls.map(() => clock.tick());
    for (let k = 1; k < seen.length; k++) expect(seen[k]! > seen[k - 1]!).toBe(true);
    expect(decodeTimestamp(seen[3]!).wall).toBe(1000);
  });

  it('orders after every received timestamp', () => {
    const a = createClock({ replica: A, now: () => 1000 });
    const b = createClock({ replica: B, now: () => 1500 });
    const remote = b.tick();
    a.receive(remote);
    expect(a.tick() > remote).toBe(true);
  });

  it('refuses a timestamp beyond the skew bound and leaves the clock unchanged', () => {
    const a = createClock({ replica: A, now: () => 1_000_000, maxDriftMs: 60_000 });
    const before = a.last();
    const future = encodeTimestamp({ wall: 1_000_000 + 60_001, counter: 0, replica: B });
    expect(() => a.receive(future)).toThrow(ClockSkewError);
    expect(a.last()).toBe(before);
    a.receive(encodeTimestamp({ wall: 1_000_000 + 60_000, counter: 0, replica: B }));
    expect(decodeTimestamp(a.last()).wall).toBe(1_060_000);
  });

  it('refuses malformed timestamps with a typed error', () => {
    const a = createClock({ replica: A, now: () => 1 });
    for (const bad of ['', 'zz', `${'0'.repeat(16)}AAAAAAAAAAAAAAAA`, `${'g'.repeat(16)}${A}`]) {
      expect(() => a.receive(bad as Timestamp)).toThrow(ClockError);
    }
  });

  it('never goes back across a restart when given its last timestamp', () => {
    const a = createClock({ replica: A, now: () => 5000 });
    a.tick();
    const last = a.tick();
    const restarted = createClock({ replica: A, now: () => 10, last });
    expect(restarted.tick() > last).toBe(true);
  });

  it('string order equals (wall, counter, replica) order', () => {
    const parts = fc.record({
      wall: fc.integer({ min: 0, max: 2 ** 47 }),
      counter: fc.integer({ min: 0, max: 0xffff }),
      replica: fc.constantFrom(A, B),
    });
    fc.assert(
      fc.property(parts, parts, (x, y) => {
        const expected =
          x.wall - y.wall ||
          x.counter - y.counter ||
          (x.replica < y.replica ? -1 : x.replica > y.replica ? 1 : 0);
        expect(Math.sign(compareTimestamps(encodeTimestamp(x), encodeTimestamp(y)))).toBe(
          Math.sign(expected),
        );
        expect(decodeTimestamp(encodeTimestamp(x))).toEqual(x);
      }),
    );
  });

  it('carries the counter into the wall time instead of overflowing', () => {
    const a = createClock({ replica: A, now: () => 7 });
    let last = a.tick();
    for (let i = 0; i < 0x10001; i++) {
      const next = a.tick();
      expect(next > last).toBe(true);
      last = next;
    }
    expect(decodeTimestamp(last).wall).toBe(8);
  });

  it('packs a timestamp in 20 bytes that unpack to it and order as it does', () => {
    const stamp = fc
      .tuple(
        fc.integer({ min: 0, max: 0xffff_ffff_ffff }),
        fc.integer({ min: 0, max: 0xffff }),
        fc.stringMatching(/^[0-9a-z]{16}$/),
      )
      .map(([wall, counter, replica]) => encodeTimestamp({ wall, counter, replica: asReplicaId(replica) }));
    fc.assert(
      fc.property(stamp, stamp, (a, b) => {
        const [pa, pb] = [packTimestamp(a), packTimestamp(b)] as Uint8Array[];
        expect(pa).toHaveLength(20);
        expect(unpackTimestamp(pa as Uint8Array)).toBe(a);
        const bytes = Buffer.compare(pa as Uint8Array, pb as Uint8Array);
        expect(Math.sign(bytes)).toBe(Math.sign(compareTimestamps(a, b)));
      }),
    );
    expect(packTimestamp('not a timestamp')).toBe('not a timestamp');
    const valid = '0123456789abcdef0123456789abcxyz';
    expect(packTimestamp(valid)).toBeInstanceOf(Uint8Array);
    for (const near of [
      valid.slice(1),
      `${valid}0`,
      `g${valid.slice(1)}`,
      `${valid.slice(0, 15)}g${valid.slice(16)}`,
      `${valid.slice(0, 16)}A${valid.slice(17)}`,
      `${valid.slice(0, 31)}{`,
      `${valid.slice(0, 31)}/`,
      `${valid.slice(0, 31)}é`,
    ])
      expect(packTimestamp(near)).toBe(near);
    expect(unpackTimestamp(new Uint8Array(20).fill(255))).toBeUndefined();
  });
});
