/**
 * A complete replica in memory: clock, writer, merge state and the log of every op it knows.
 *
 * It is what the local engine does, minus SQLite: the reference used by the conflict-rule scenarios, the
 * convergence fuzzer and the benchmarks, and a handy way to run Loam's merge in a script.
 */
import { type Clock, createClock, type Timestamp } from '../clock/hlc';
import type { DocId, ReplicaId } from '../ids/ids';
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
  insert(collection: string, doc: Record<string, unknown>): { id: DocId; ops: Op[] };
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

  const local = (ops: Op[]) => {
    for (const op of ops) {
      state.apply(op);
      log.set(op.id, op);
    }
    return ops;
  };
  const s = (collection: string, id: string) => state.getState(collection, id);

  return {
    replica: options.replica,
    clock,
    state,
    insert(collection, doc) {
      const id = (doc.id as string | undefined) ?? undefined;
      const result = writer.insert(collection, id === undefined ? undefined : s(collection, id), doc);
      local(result.ops);
      return result;
    },
    update: (c, id, patch) => local(writer.update(c, s(c, id), id, patch)),
    increment: (c, id, field, by) => local(writer.increment(c, s(c, id), id, field, by)),
    delete: (c, id) => local(writer.delete(c, s(c, id), id)),
    listInsert: (c, id, field, index, items) =>
      local(writer.listInsert(c, s(c, id), id, field, index, items)),
    listDelete: (c, id, field, index, count) =>
      local(writer.listDelete(c, s(c, id), id, field, index, count)),
    textInsert: (c, id, field, index, text) => local(writer.textInsert(c, s(c, id), id, field, index, text)),
    textDelete: (c, id, field, index, count) =>
      local(writer.textDelete(c, s(c, id), id, field, index, count)),
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
