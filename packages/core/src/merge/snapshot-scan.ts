/**
 * What `scanPlainV2` (`snapshot-reader.ts`) reads a format-2 snapshot into: one record, reused by every scan, whose
 * arrays grow to the largest snapshot scanned and are never shrunk.
 */

/**
 * A format-2 snapshot of a document without list or text fields as `scanPlainV2` reads it: where each part lies in
 * its bytes, and its registers and counters in arrays the scan reuses (valid until the next scan). What a store needs
 * to write a row straight from the snapshot's bytes, without building its `PlainV2`.
 */
export interface PlainV2Scan {
  /** The snapshot's bytes. */
  bytes: Uint8Array;
  epoch: number;
  created: boolean;
  deleted: boolean;
  /** Where the timestamp table lies in `bytes`, its array header included (`timesFrom` to `timesTo`). */
  timesFrom: number;
  timesTo: number;
  timeCount: number;
  /** Per timestamp: where its packed bytes start in `bytes`, or -1 when it is a string (then in `timeStrings`). */
  readonly timeAt: Int32Array;
  readonly timeStrings: (string | undefined)[];
  regCount: number;
  /** Per register: its path, value and time (an index in the table). */
  readonly regPaths: string[];
  readonly regValues: unknown[];
  readonly regTimes: Int32Array;
  counterCount: number;
  /** Per counter: its field, base, reset time (-1: none) and value. */
  readonly counterFields: string[];
  readonly counterBases: number[];
  readonly counterTimes: Int32Array;
  readonly counterValues: number[];
  /** Per counter: where its run of increments lies in `bytes`, its array header included. */
  readonly incsFrom: Int32Array;
  readonly incsTo: Int32Array;
  /** Per counter: where its increments start in `incs` (a flat run of `opId, time, by`); the next one's end it. */
  readonly incsStart: Int32Array;
  readonly incs: unknown[];
}

/** Entries the scan's reused arrays hold before they grow. */
const SCAN_ENTRIES = 64;

/** The record every scan fills. */
export const scanned: PlainV2Scan = {
  bytes: new Uint8Array(0),
  epoch: 0,
  created: false,
  deleted: false,
  timesFrom: 0,
  timesTo: 0,
  timeCount: 0,
  timeAt: new Int32Array(SCAN_ENTRIES),
  timeStrings: [],
  regCount: 0,
  regPaths: [],
  regValues: [],
  regTimes: new Int32Array(SCAN_ENTRIES),
  counterCount: 0,
  counterFields: [],
  counterBases: [],
  counterTimes: new Int32Array(SCAN_ENTRIES),
  counterValues: [],
  incsFrom: new Int32Array(SCAN_ENTRIES),
  incsTo: new Int32Array(SCAN_ENTRIES),
  incsStart: new Int32Array(SCAN_ENTRIES + 1),
  incs: [],
};

/** The scan's typed arrays, grown (never shrunk) to hold `n` entries. */
export function room(n: number): void {
  const grow = (a: Int32Array) => {
    const next = new Int32Array(Math.max(2 * a.length, n + 1));
    next.set(a);
    return next;
  };
  const s = scanned as { -readonly [K in keyof PlainV2Scan]: PlainV2Scan[K] };
  if (s.timeAt.length < n) s.timeAt = grow(s.timeAt);
  if (s.regTimes.length < n) s.regTimes = grow(s.regTimes);
  if (s.counterTimes.length < n) s.counterTimes = grow(s.counterTimes);
  if (s.incsFrom.length < n) s.incsFrom = grow(s.incsFrom);
  if (s.incsTo.length < n) s.incsTo = grow(s.incsTo);
  if (s.incsStart.length < n + 1) s.incsStart = grow(s.incsStart);
}
