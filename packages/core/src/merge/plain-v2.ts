/**
 * A format-2 snapshot of a document without list or text fields as a `PackedDocState` of its own (`readPlainV2`),
 * built from what `scanPlainV2` read.
 */
import { scanPlainV2 } from './snapshot-reader';

/** The empty run of increments every counter without increments shares (a read state is never written to). */
const NO_INCS: readonly unknown[] = Object.freeze([]);
/**
 * The Yjs fields of every state `readPlainV2` gives: none, shared (so never to be written to: `unpackDocState`
 * gives its state an object of its own).
 */
export const NO_CRDTS: Record<string, never> = Object.freeze({});

/** A format-2 snapshot of a document without list or text fields, as `readPlainV2` reads it. */
export interface PlainV2 {
  readonly packed: true;
  readonly epoch: number;
  readonly created: boolean;
  readonly deleted: boolean;
  readonly times: (Uint8Array | string)[];
  readonly regs: unknown[];
  readonly counters: unknown[];
  readonly crdts: Record<string, never>;
}

/**
 * Reads a format-2 snapshot as `scanPlainV2` does, into a `PlainV2` of its own (undefined for anything the scan
 * gives up on).
 */
export function readPlainV2(input: Uint8Array): PlainV2 | undefined {
  const s = scanPlainV2(input);
  if (!s) return undefined;
  const times: (Uint8Array | string)[] = new Array(s.timeCount);
  for (let i = 0; i < s.timeCount; i++) {
    const at = s.timeAt[i] as number;
    times[i] = at === -1 ? (s.timeStrings[i] as string) : input.subarray(at, at + 20);
  }
  const regs: unknown[] = new Array(3 * s.regCount);
  for (let k = 0; k < s.regCount; k++) {
    regs[3 * k] = s.regPaths[k];
    regs[3 * k + 1] = s.regValues[k];
    regs[3 * k + 2] = s.regTimes[k];
  }
  const counters: unknown[] = new Array(5 * s.counterCount);
  for (let k = 0; k < s.counterCount; k++) {
    const from = s.incsStart[k] as number;
    const to = s.incsStart[k + 1] as number;
    counters[5 * k] = s.counterFields[k];
    counters[5 * k + 1] = s.counterBases[k];
    counters[5 * k + 2] = s.counterTimes[k];
    counters[5 * k + 3] = s.counterValues[k];
    counters[5 * k + 4] = from === to ? NO_INCS : s.incs.slice(from, to);
  }
  return {
    packed: true,
    epoch: s.epoch,
    created: s.created,
    deleted: s.deleted,
    times,
    regs,
    counters,
    crdts: NO_CRDTS,
  };
}
