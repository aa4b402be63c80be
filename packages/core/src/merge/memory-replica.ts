/**
 * A complete replica in memory: clock, writer, merge state and the log of every op it knows.
 *
 * It is what the local engine does, minus SQLite: the reference used by the conflict-rule scenarios, the
 * convergence fuzzer and the benchmarks, and a handy way to run Loam's merge in a script.
 */
import { type Clock, createClock, type Timestamp } from '../clock/hlc';
import type { DocId, ReplicaId } from '../ids/ids';
import { bindWrites, intentTarget, type WriteIntent } from '../ops/intents';
import type { Op, Value } from '../ops/ops';
import { createWriter, type Writer } from '../ops/writer';
import type { Schema } from '../schema/schema';
import type { MaterializedDoc } from './doc-state';
import { createMemoryState, type MemoryState } from './memory-state';

/** Options of `createMemoryReplica`. */
export interface MemoryReplicaOptions {
  readonly schema: Schema;
  readonly replica: ReplicaId;
  /** Wall clock (inject a skewed or fake one in tests). */
  readonly now?: () => number;
  /** Clock skew bound for received timestamps (ms). */
  readonly maxDriftMs?: number;
}

/** A replica in memory. Local writes return the ops they produced (already applied locally). */
export interface MemoryReplica {
  readonly replica: ReplicaId;
  readonly clock: Clock;
  readonly state: MemoryState;
  /** Applies one write intent locally; returns the document's id and the ops it produced. */
  write(intent: WriteIntent): { id: DocId; ops: Op[] };
  insert(collection: string, doc: Record<string, unknown>): { id: DocId; ops: Op[] };
  upsert(collection: string, id: DocId, doc: Record<string, unknown>): Op[];
  update(collection: string, id: DocId, patch: Record<string, unknown>): Op[];
  increment(collection: string, id: DocId, field: string, by: number): Op[];
  delete(collection: string, id: DocId): Op[];
  listInsert(collection: string, id: DocId, field: string, index: number, items: Value[]): Op[];
  listDelete(collection: string, id: DocId, field: string, index: number, count: number): Op[];
  textInsert(collection: string, id: DocId, field: string, index: number, text: string): Op[];
  textDelete(collection: string, id: DocId, field: string, index: number, count: number): Op[];
  /**
   * Applies ops received from elsewhere: merges each timestamp into the clock (throws `ClockSkewError` before
   * applying anything if one is too far ahead), then applies those not seen before. Returns how many were new.
   */
  receive(ops: readonly Op[]): number;
  /** Every op this replica knows (its own and received), in the order it learned them. */
  log(): Op[];
  /** Ops this replica knows that are not in `known` (a set of op ids): what a peer is missing. */
  missing(known: ReadonlySet<string>): Op[];
  get(collection: string, id: string): MaterializedDoc | undefined;
  list(collection: string): MaterializedDoc[];
}

/** Creates a replica in memory. */
export function createMemoryReplica(options: MemoryReplicaOptions): MemoryReplica {
  const clock = createClock({
    replica: options.replica,
    ...(options.now ? { now: options.now } : {}),
    ...(options.maxDriftMs !== undefined ? { maxDriftMs: options.maxDriftMs } : {}),
  });
  const state = createMemoryState(options.schema);
  const writer: Writer = createWriter({ schema: options.schema, clock });
  const log = new Map<string, Op>();

  const write = (intent: WriteIntent) => {
    const target = intentTarget(intent);
    const result = writer.write(
      intent,
      target === undefined ? undefined : state.getState(intent.collection, target),
    );
    for (const op of result.ops) {
      state.apply(op);
      log.set(op.id, op);
    }
    return result;
  };
  const opsOf = bindWrites((intent) => write(intent).ops);

  return {
    replica: options.replica,
    clock,
    state,
    write,
    ...opsOf,
    insert: (collection, doc) => write({ kind: 'insert', collection, doc }),
    receive(ops) {
      let latest: Timestamp | undefined;
      for (const op of ops) if (!latest || op.ts > latest) latest = op.ts;
      if (latest) clock.receive(latest);
      let fresh = 0;
      for (const op of ops) {
        if (log.has(op.id)) continue;
        state.apply(op);
        log.set(op.id, op);
        fresh++;
      }
      return fresh;
    },
    log: () => [...log.values()],
    missing: (known) => [...log.values()].filter((op) => !known.has(op.id)),
    get: (c, id) => state.get(c, id),
    list: (c) => state.list(c),
  };
}
