/**
 * Uploads: the outbox goes to the relay in bounded `push` batches, and leaves it only through the relay's `ack`.
 *
 * Invariants:
 * 1. **Nothing is dropped before it is durable.** An op leaves the outbox through `store.acknowledge` after an
 *    `ack` named it accepted, or through `store.recordRefusals` after the relay refused it (the refusal is logged
 *    and announced; the `ack`'s corrections revert the document in the same local transaction, so no dropped link
 *    can separate the two).
 * 2. **Bounded.** At most `maxInFlight` unacknowledged batches per link, each of at most `maxBatchOps` ops and about
 *    `maxBatchBytes` bytes. The in-flight state belongs to one link: ops of a lost link are sent again on the next.
 * 3. **A reused op id is renumbered, not refused.** An op the relay answers `op_id_reused` (it holds that id with
 *    other content: this database was restored from an older copy) gets a new id from the store and is pushed
 *    again, with the ops of its batch the relay did not apply.
 */
import { compareTimestamps, decodeDocSnapshot, encodeOps, type Op, type Timestamp } from '@loam/core';
import type { RefusedWrite, SyncStore } from '../port/sync-store';
import { RefusalCode } from '../protocol/codes';
import type { ServerMessage } from '../protocol/messages';
import type { Link } from './link';

/** Upload bounds. */
export interface UploadLimits {
  readonly maxBatchOps: number;
  readonly maxBatchBytes: number;
  readonly maxInFlight: number;
}

/** What an `ack` did. */
export interface AckOutcome {
  /** Refused writes, now in the refused-writes log. */
  readonly refused: readonly RefusedWrite[];
  /** Op ids the relay holds with other content, now renumbered (old id → new id). */
  readonly renumbered: ReadonlyMap<string, string>;
}

/** The uploader of one client. */
export interface Uploader {
  /** Starts a fresh in-flight state for a welcomed link. */
  begin(link: Link): void;
  /**
   * Sends as many outbox ops as the bounds allow on the current link, stopping at the first op stamped at or after
   * `before` (so transactions learned from peers and stamped earlier go first); resolves with the pending count.
   */
  pump(before?: Timestamp): Promise<number>;
  /** The timestamp of the oldest pending op not yet sent on the current link. */
  next(): Promise<Timestamp | undefined>;
  /** Handles an `ack` received on `link`. */
  ack(link: Link, message: Extract<ServerMessage, { t: 'ack' }>): Promise<AckOutcome>;
}

interface InFlight {
  readonly link: Link;
  nextBatch: number;
  readonly batches: Map<number, readonly string[]>;
  readonly ops: Set<string>;
  /** Ops the relay acknowledged a batch without naming: not sent again on this link. */
  readonly unanswered: Set<string>;
}

/** Creates the uploader over `store`; `current` is the welcomed link, if any. */
export function createUploader(
  store: SyncStore,
  limits: UploadLimits,
  current: () => Link | null,
  now: () => number,
): Uploader {
  let flight: InFlight | null = null;

  return {
    begin(link) {
      flight = { link, nextBatch: 1, batches: new Map(), ops: new Set(), unanswered: new Set() };
    },

    async next() {
      const f = flight;
      if (!f || current() !== f.link) return undefined;
      const skip = f.ops.size + f.unanswered.size;
      const op = (await store.pendingOps(skip + 1)).find((o) => !f.ops.has(o.id) && !f.unanswered.has(o.id));
      return op?.ts;
    },

    async pump(before) {
      const f = flight;
      const link = current();
      if (f && link === f.link && f.batches.size < limits.maxInFlight) {
        const skip = f.ops.size + f.unanswered.size;
        const room = (limits.maxInFlight - f.batches.size) * limits.maxBatchOps;
        const unsent = (await store.pendingOps(skip + room)).filter(
          (op) => !f.ops.has(op.id) && !f.unanswered.has(op.id),
        );
        const stop =
          before === undefined ? -1 : unsent.findIndex((op) => compareTimestamps(op.ts, before) >= 0);
        const pending = stop < 0 ? unsent : unsent.slice(0, stop);
        let i = 0;
        while (i < pending.length && f.batches.size < limits.maxInFlight && current() === f.link) {
          const batch: Op[] = [];
          let bytes = 0;
          while (i < pending.length && batch.length < limits.maxBatchOps) {
            const op = pending[i] as Op;
            const size = encodeOps([op]).length;
            if (batch.length > 0 && bytes + size > limits.maxBatchBytes) break;
            batch.push(op);
            bytes += size;
            i++;
          }
          const number = f.nextBatch++;
          const ids = batch.map((op) => op.id as string);
          f.batches.set(number, ids);
          for (const id of ids) f.ops.add(id);
          f.link.send({ t: 'push', batch: number, ops: encodeOps(batch) });
        }
      }
      return store.pendingCount();
    },

    async ack(link, message) {
      const reused = message.refused.filter((r) => r.code === RefusalCode.opIdReused).map((r) => r.op);
      const at = now();
      const refused: RefusedWrite[] = message.refused
        .filter((r) => r.code !== RefusalCode.opIdReused)
        .map((r) => ({ ...r, at }));
      if (message.accepted.length > 0) await store.acknowledge(message.accepted);
      // Corrections come with refusals, with ops answered `op_id_reused`, and with echoes (a write the relay already
      // holds under another id: acknowledged, not applied): each must revert the device's copy, refusal or not.
      const fixes = message.corrections;
      if (refused.length > 0 || fixes) {
        const correction = fixes && {
          docs: fixes.docs.map((d) => ({ ...d, state: decodeDocSnapshot(d.state) })),
          removed: fixes.removed,
        };
        await store.recordRefusals(refused, correction);
      }
      const renumbered = reused.length > 0 ? await store.renumber(reused) : new Map<string, string>();
      const f = flight;
      if (f && f.link === link) {
        const batch = f.batches.get(message.batch) ?? [];
        const answered = new Set([...message.accepted, ...refused.map((r) => r.op)]);
        f.batches.delete(message.batch);
        for (const id of batch) {
          f.ops.delete(id);
          if (!answered.has(id) && reused.length === 0) f.unanswered.add(id);
        }
      }
      return { refused, renumbered };
    },
  };
}
