/**
 * The greatest timestamp that document states carry: a replica that takes states (a download, a snapshot) moves its
 * clock past it, so that its next writes order after what it has seen. Packed timestamps are compared packed.
 */
import { PACKED_TIMESTAMP_BYTES, type Timestamp, unpackTimestamp } from '../clock/hlc';
import type { CounterState, DocState, Register } from './doc-state';
import { isPackedDocState, type PackedDocState } from './snapshot';
import type { PlainV2Scan } from './snapshot-reader';

/** Orders two packed timestamps (`packTimestamp`), `a`'s bytes from `at` on and `b`'s from `bt` on: byte order. */
function comparePacked(a: Uint8Array, at: number, b: Uint8Array, bt: number): number {
  for (let i = 0; i < PACKED_TIMESTAMP_BYTES; i++)
    if (a[at + i] !== b[bt + i]) return (a[at + i] as number) - (b[bt + i] as number);
  return 0;
}

/**
 * The greatest timestamp a state carries (its registers, counter resets and increments), or undefined. A replica
 * that takes a snapshot moves its clock past it, so its next writes order after what it has seen.
 */
export function latestTimestamp(state: DocState | PackedDocState): Timestamp | undefined {
  return latestTimestampOf([state]);
}

/** The greatest timestamp of states taken one at a time (see `trackLatestTimestamp`). */
export interface LatestTimestampTracker {
  /** Takes the timestamps of `state` (registers, counter resets and increments) into account. */
  see(state: DocState | PackedDocState): void;
  /** `see` for a snapshot read by `scanPlainV2` (before the next scan). */
  seeScan(scan: PlainV2Scan): void;
  /** The greatest timestamp of the states seen so far (what `latestTimestampOf` gives for them), or undefined. */
  latest(): Timestamp | undefined;
}

/**
 * A tracker of the greatest timestamp of states seen one at a time, without holding them (a store decoding a large
 * download state by state). Packed timestamps are compared packed: `latest` unpacks one.
 */
export function trackLatestTimestamp(): LatestTimestampTracker {
  let latest: Timestamp | undefined;
  // The greatest packed timestamp seen: its bytes from `topAt` on (the input's own bytes, not a copy).
  let top: Uint8Array | undefined;
  let topAt = 0;
  const seeOne = (t: Timestamp | null) => {
    if (t !== null && (latest === undefined || t > latest)) latest = t;
  };
  const seePacked = (bytes: Uint8Array, at: number) => {
    if (top === undefined || comparePacked(bytes, at, top, topAt) > 0) {
      top = bytes;
      topAt = at;
    }
  };
  return {
    see(state) {
      if (isPackedDocState(state)) {
        for (const t of state.times) {
          if (typeof t === 'string') seeOne(t as Timestamp);
          else seePacked(t, 0);
        }
        return;
      }
      for (const path in state.regs) seeOne((state.regs[path] as Register).t);
      for (const field in state.counters) {
        const c = state.counters[field] as CounterState;
        seeOne(c.t);
        for (const id in c.incs) seeOne((c.incs[id] as [Timestamp, number])[0]);
      }
    },
    seeScan(scan) {
      const { bytes, timeAt } = scan;
      for (let i = 0; i < scan.timeCount; i++) {
        const at = timeAt[i] as number;
        if (at === -1) seeOne(scan.timeStrings[i] as Timestamp);
        else seePacked(bytes, at);
      }
    },
    latest() {
      if (top) {
        seeOne(unpackTimestamp(top.subarray(topAt, topAt + PACKED_TIMESTAMP_BYTES)) as Timestamp);
        top = undefined;
      }
      return latest;
    },
  };
}

/**
 * The greatest timestamp of several states (`latestTimestamp` of each, the greatest of them). Packed states are
 * compared packed: one timestamp is unpacked in all.
 */
export function latestTimestampOf(states: readonly (DocState | PackedDocState)[]): Timestamp | undefined {
  const tracker = trackLatestTimestamp();
  for (const state of states) tracker.see(state);
  return tracker.latest();
}
