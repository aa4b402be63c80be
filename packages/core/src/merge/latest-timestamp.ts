/**
 * The greatest timestamp that document states carry: a replica that takes states (a download, a snapshot) moves its
 * clock past it, so that its next writes order after what it has seen. Packed timestamps are compared packed.
 */
import { type Timestamp, unpackTimestamp } from '../clock/hlc';
import type { CounterState, DocState, Register } from './doc-state';
import { isPackedDocState, type PackedDocState } from './snapshot';

/** Orders two packed timestamps (`packTimestamp`): their byte order is their order. */
function comparePacked(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return (a[i] as number) - (b[i] as number);
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
  /** The greatest timestamp of the states seen so far (what `latestTimestampOf` gives for them), or undefined. */
  latest(): Timestamp | undefined;
}

/**
 * A tracker of the greatest timestamp of states seen one at a time, without holding them (a store decoding a large
 * download state by state). Packed timestamps are compared packed: `latest` unpacks one.
 */
export function trackLatestTimestamp(): LatestTimestampTracker {
  let latest: Timestamp | undefined;
  let top: Uint8Array | undefined;
  const seeOne = (t: Timestamp | null) => {
    if (t !== null && (latest === undefined || t > latest)) latest = t;
  };
  return {
    see(state) {
      if (isPackedDocState(state)) {
        for (const t of state.times) {
          if (typeof t === 'string') seeOne(t as Timestamp);
          else if (top === undefined || comparePacked(t, top) > 0) top = t;
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
    latest() {
      if (top) {
        seeOne(unpackTimestamp(top) as Timestamp);
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
