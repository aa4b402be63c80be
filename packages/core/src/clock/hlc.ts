/**
 * Hybrid logical clock (Kulkarni et al., 2014).
 *
 * A timestamp is `(wall ms, counter, replica)`. Invariants:
 * 1. Every timestamp a clock issues is strictly greater than every timestamp it issued or received before.
 * 2. `wall` never trails the local wall clock, and never runs ahead of the largest wall time seen (local or
 *    received) — so timestamps stay close to real time.
 * 3. A received timestamp more than `maxDriftMs` ahead of the local wall clock is refused (`ClockSkewError`)
 *    and changes nothing: one device with a wrong clock cannot drag every other clock forward.
 *
 * Encoding: 12 hex digits of wall ms, 4 hex digits of counter, then the 16-character replica id. Fixed widths
 * and lowercase digits make the string order (and the UTF-8 byte order) equal to the timestamp order, ties
 * broken by replica id.
 */
import { ClockError, ClockSkewError } from '../errors';
import { isReplicaId, type ReplicaId } from '../ids/ids';

declare const brand: unique symbol;
/** An encoded HLC timestamp; compare with `<`/`>` or `compareTimestamps`. */
export type Timestamp = string & { readonly [brand]: 'Timestamp' };

/** The parts of a timestamp. */
export interface HlcParts {
  readonly wall: number;
  readonly counter: number;
  readonly replica: ReplicaId;
}

const MAX_WALL = 0xffff_ffff_ffff;
const MAX_COUNTER = 0xffff;
const TS_RE = /^[0-9a-f]{16}[0-9a-z]{16}$/;

const BYTE_HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'));
/** The hex of the last wall encoded: a clock issues many timestamps per millisecond. */
let lastWall = -1;
let lastWallHex = '';

/** Encodes timestamp parts. */
export function encodeTimestamp({ wall, counter, replica }: HlcParts): Timestamp {
  if (wall !== lastWall) {
    lastWallHex = wall.toString(16).padStart(12, '0');
    lastWall = wall;
  }
  const c =
    counter >= 0 && counter <= MAX_COUNTER && Number.isInteger(counter)
      ? (BYTE_HEX[counter >> 8] as string) + BYTE_HEX[counter & 0xff]
      : counter.toString(16).padStart(4, '0');
  return (lastWallHex + c + replica) as Timestamp;
}

/** True when `value` is a well-formed encoded timestamp. */
export function isTimestamp(value: unknown): value is Timestamp {
  return typeof value === 'string' && TS_RE.test(value);
}

/** Decodes a timestamp; throws `ClockError` when malformed. */
export function decodeTimestamp(ts: string): HlcParts {
  if (!isTimestamp(ts)) throw new ClockError(`Not an encoded timestamp: ${JSON.stringify(ts)}`);
  const replica = ts.slice(16);
  if (!isReplicaId(replica))
    throw new ClockError(`Timestamp has a malformed replica id: ${JSON.stringify(ts)}`);
  return {
    wall: Number.parseInt(ts.slice(0, 12), 16),
    counter: Number.parseInt(ts.slice(12, 16), 16),
    replica,
  };
}

/** Orders two timestamps: negative, zero or positive. */
export function compareTimestamps(a: Timestamp, b: Timestamp): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Options of `createClock`. */
export interface ClockOptions {
  readonly replica: ReplicaId;
  /** Wall clock in Unix ms; defaults to `Date.now`. Inject a fake one in tests. */
  readonly now?: () => number;
  /** Largest accepted lead of a received timestamp over the local wall clock; default 60 000 ms. */
  readonly maxDriftMs?: number;
  /** The last timestamp issued before a restart, so that the clock never goes back across restarts. */
  readonly last?: Timestamp;
}

/** A hybrid logical clock for one replica. */
export interface Clock {
  readonly replica: ReplicaId;
  /** Issues a timestamp for a local event. */
  tick(): Timestamp;
  /**
   * Merges a received timestamp into the clock, so that later local events order after it.
   * Throws `ClockSkewError` (state unchanged) if it is too far ahead, `ClockError` if malformed.
   */
  receive(ts: Timestamp): void;
  /** The greatest timestamp issued or received so far (persist it to restore the clock after a restart). */
  last(): Timestamp;
}

/** Creates a hybrid logical clock. */
export function createClock(options: ClockOptions): Clock {
  const { replica } = options;
  const now = options.now ?? Date.now;
  const maxDriftMs = options.maxDriftMs ?? 60_000;
  let wall = 0;
  let counter = 0;
  if (options.last) {
    const parts = decodeTimestamp(options.last);
    wall = parts.wall;
    counter = parts.counter;
  }

  const advance = (nextWall: number, nextCounter: number) => {
    if (nextCounter > MAX_COUNTER) {
      nextWall += 1;
      nextCounter = 0;
    }
    if (nextWall > MAX_WALL) throw new ClockError('Clock wall time out of range');
    wall = nextWall;
    counter = nextCounter;
  };

  return {
    replica,
    tick() {
      const physical = Math.floor(now());
      if (physical > wall) advance(physical, 0);
      else advance(wall, counter + 1);
      return encodeTimestamp({ wall, counter, replica });
    },
    receive(ts) {
      const remote = decodeTimestamp(ts);
      const physical = Math.floor(now());
      if (remote.wall - physical > maxDriftMs) throw new ClockSkewError(remote.wall - physical, maxDriftMs);
      const nextWall = Math.max(wall, remote.wall, physical);
      if (nextWall === wall && nextWall === remote.wall) advance(wall, Math.max(counter, remote.counter) + 1);
      else if (nextWall === wall) advance(wall, counter + 1);
      else if (nextWall === remote.wall) advance(remote.wall, remote.counter + 1);
      else advance(physical, 0);
    },
    last() {
      return encodeTimestamp({ wall, counter, replica });
    },
  };
}

/** Bytes of a packed timestamp (`packTimestamp`). */
export const PACKED_TIMESTAMP_BYTES = 20;
const B36 = 36 ** 8;

/** The value of digit `c` (a char code) in base `base` ≤ 36, lowercase letters only; -1 when it is not one. */
function digit(c: number, base: number): number {
  const d = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 122 ? c - 87 : -1;
  return d < base ? d : -1;
}

/** The number written by `t`'s characters `from`..`to` in `base`, or -1 when one is not a digit of it. */
function parseDigits(t: string, from: number, to: number, base: number): number {
  let n = 0;
  for (let i = from; i < to; i++) {
    const d = digit(t.charCodeAt(i), base);
    if (d < 0) return -1;
    n = n * base + d;
  }
  return n;
}

/** The replica part of the last timestamp packed, and its two base-36 halves: most timestamps packed together share it. */
let lastReplica = '';
let lastHigh = 0;
let lastLow = 0;

/** Writes `n` < 2^48 big-endian into `out[at..at+6)`. */
function putSix(out: Uint8Array, at: number, n: number): void {
  const hi = Math.floor(n / 2 ** 32);
  const lo = n - hi * 2 ** 32;
  out[at] = hi >>> 8;
  out[at + 1] = hi & 0xff;
  out[at + 2] = lo >>> 24;
  out[at + 3] = (lo >>> 16) & 0xff;
  out[at + 4] = (lo >>> 8) & 0xff;
  out[at + 5] = lo & 0xff;
}

/**
 * A timestamp in 20 bytes instead of 32 characters: wall clock (6 bytes) and counter (2) from their hex, the
 * replica id as two base-36 halves of 8 characters (6 bytes each), all big-endian, so the byte order of packed
 * timestamps is their order. A string that is not an encoded timestamp stays a string. Used where many timestamps
 * are stored or sent (the engine's rows, document snapshots); `unpackTimestamp` gives the string back.
 */
export function packTimestamp(t: string): string | Uint8Array {
  if (t.length !== 32) return t;
  const wall = parseDigits(t, 0, 12, 16);
  const counter = parseDigits(t, 12, 16, 16);
  if (wall < 0 || counter < 0) return t;
  if (lastReplica === '' || !t.endsWith(lastReplica)) {
    const high = parseDigits(t, 16, 24, 36);
    const low = parseDigits(t, 24, 32, 36);
    if (high < 0 || low < 0) return t;
    lastReplica = t.slice(16);
    lastHigh = high;
    lastLow = low;
  }
  const high = lastHigh;
  const low = lastLow;
  const out = new Uint8Array(PACKED_TIMESTAMP_BYTES);
  putSix(out, 0, wall);
  out[6] = counter >>> 8;
  out[7] = counter & 0xff;
  putSix(out, 8, high);
  putSix(out, 14, low);
  return out;
}

const six = (b: Uint8Array, at: number) =>
  (((b[at] as number) << 8) | (b[at + 1] as number)) * 2 ** 32 +
  (((b[at + 2] as number) << 24) >>> 0) +
  (((b[at + 3] as number) << 16) | ((b[at + 4] as number) << 8) | (b[at + 5] as number));

/** True when `bytes` is a timestamp `packTimestamp` packed (`unpackTimestamp` gives it back). */
export function isPackedTimestamp(bytes: Uint8Array): boolean {
  return bytes.length === PACKED_TIMESTAMP_BYTES && isPackedTimestampAt(bytes, 0);
}

/** True when the `PACKED_TIMESTAMP_BYTES` bytes of `bytes` from `at` on (the caller checked they are there) are one. */
export function isPackedTimestampAt(bytes: Uint8Array, at: number): boolean {
  return six(bytes, at + 8) < B36 && six(bytes, at + 14) < B36;
}

/** The timestamp `packTimestamp` packed, or undefined when `bytes` is not a packed timestamp. */
export function unpackTimestamp(bytes: Uint8Array): Timestamp | undefined {
  if (!isPackedTimestamp(bytes)) return undefined;
  const counter = ((bytes[6] as number) << 8) | (bytes[7] as number);
  return (six(bytes, 0).toString(16).padStart(12, '0') +
    counter.toString(16).padStart(4, '0') +
    six(bytes, 8).toString(36).padStart(8, '0') +
    six(bytes, 14).toString(36).padStart(8, '0')) as Timestamp;
}

/**
 * A document state's timestamp table (snapshots, the engine's rows): `time(t)` gives `t`'s index, adding `entry(t)` to `times` the first time it is seen;
 * `null` (no timestamp) is -1.
 */
export function timeTable<T>(entry: (t: string) => T): { times: T[]; time: (t: string | null) => number } {
  const times: T[] = [];
  // A document's table is most often one or two timestamps long: searched in a list, with a map past a few.
  const seen: string[] = [];
  let index: Map<string, number> | undefined;
  const time = (t: string | null) => {
    if (t === null) return -1;
    let i = index ? index.get(t) : seen.indexOf(t);
    if (i === undefined || i < 0) {
      i = times.length;
      times.push(entry(t));
      if (index) index.set(t, i);
      else {
        seen.push(t);
        if (seen.length > 8) index = new Map(seen.map((s, j) => [s, j]));
      }
    }
    return i;
  };
  return { times, time };
}
