/**
 * The relay's write path: every batch (a device's push or a backend write) goes through one queue, is screened
 * op by op, committed durably, then announced to the listeners (sessions, webhooks) in commit order.
 *
 * Invariants:
 * 1. **One writer.** Batches commit one at a time, in arrival order; listeners see them in that order, each with
 *    its version, so a session's downloads follow the server's change counter.
 * 2. **Screening before anything is stored** (`screening.ts`). A pushed op is refused, in this order, when its id or timestamp
 *    names another replica than the session's (`replica_mismatch`), its timestamp is beyond the skew bound
 *    (`clock_skew`), it does not fit the schema (`schema_invalid`), an earlier op of the batch on the same document
 *    was refused (`depends_on_refused`), or the user's rules forbid it (`insert_denied`, `delete_denied`,
 *    `row_denied`, `field_denied`, `permission_denied`). A write to a document that does not exist (other than a
 *    create) or an op that would start a new incarnation without a create is `row_denied`. Ops that change nothing
 *    (duplicates, stale epochs, writes that lose) are accepted: they store nothing.
 * 3. **Refused ops are invisible.** They are neither stored nor recorded, so no listener ever sees them.
 * 4. **Backend writes** are write intents (`@loam/core`) turned into ops of the server's own replica by one writer
 *    (validated against the schema first); its sequence numbers are taken in the write queue and never given back,
 *    and they and the clock are saved with the batch.
 * 5. **An op id is never acknowledged for other content.** When the store holds an op id of the batch with other
 *    content (the device's database was restored from an older copy), nothing of the batch is applied and those
 *    ops are answered `op_id_reused`; the device renumbers them and pushes again.
 */
import {
  applyOp,
  type Claims,
  type Clock,
  type CollectionDef,
  createDocState,
  createWriter,
  type DocId,
  type DocState,
  getCollection,
  intentTarget,
  type MaterializedDoc,
  materialize,
  type Op,
  type ReplicaId,
  type Rules,
  type Schema,
  type WriteIntent,
} from '@loam/core';
import type { Refusal } from '@loam/sync';
import { ServerErrorCode } from '../errors';
import type { DocChange, ServerStore } from '../storage/server-store';
import { createBatchScreening } from './screening';

/** A committed document change, with its materialized before and after images (undefined: not live). */
export interface CommittedChange extends DocChange {
  readonly beforeDoc: MaterializedDoc | undefined;
  readonly afterDoc: MaterializedDoc | undefined;
}

/** A committed batch, as listeners see it. */
export interface Commit {
  readonly version: number;
  readonly changes: readonly CommittedChange[];
  /** `device` for pushes, `backend` for HTTP API writes. */
  readonly source: 'device' | 'backend';
}

/** The outcome of a push. */
export interface PushOutcome {
  readonly accepted: readonly string[];
  readonly refused: readonly Refusal[];
  /** The documents of refused ops (to send their authoritative state). */
  readonly refusedDocs: readonly { readonly collection: string; readonly id: string }[];
  readonly version: number;
}

/** A document written by a backend write, as it reads once the batch committed (undefined: it does not exist). */
export interface BackendWritten {
  readonly id: DocId;
  readonly doc: MaterializedDoc | undefined;
}

/** The write path. */
export interface Relay {
  readonly replica: ReplicaId;
  readonly schema: Schema;
  readonly rules: Rules;
  /** The newest committed version. */
  version(): number;
  /** Screens and commits a device's batch (see invariant 2); resolves once durable. */
  push(input: {
    readonly replica: ReplicaId;
    readonly claims: Claims;
    readonly ops: readonly Op[];
  }): Promise<PushOutcome>;
  /**
   * Runs write intents in the write queue with the server's writer, in order, and commits their ops as one batch
   * (all or nothing). Throws the writer's error (`validation_failed`, `not_found`, `already_exists`...) and stores
   * nothing when one of them is refused.
   */
  backendWrite(intents: readonly WriteIntent[]): Promise<BackendWritten[]>;
  /** Registers a listener of commits (called synchronously after each commit, in order); returns unsubscribe. */
  onCommit(listener: (commit: Commit) => void): () => void;
  /** Waits for queued batches to finish. */
  drain(): Promise<void>;
}

/** Options of {@link createRelay}. */
export interface RelayOptions {
  readonly store: ServerStore;
  readonly schema: Schema;
  readonly rules: Rules;
  readonly clock: Clock;
  readonly nextSeq: number;
  readonly version: number;
  readonly now?: () => number;
}

/** Creates the write path over a store. */
export function createRelay(options: RelayOptions): Relay {
  const { store, schema, rules, clock } = options;
  const listeners = new Set<(commit: Commit) => void>();
  let version = options.version;
  const writer = createWriter({ schema, clock, nextSeq: options.nextSeq });
  let queue: Promise<unknown> = Promise.resolve();

  const enqueue = <T>(task: () => Promise<T>): Promise<T> => {
    const run = queue.then(task, task);
    queue = run.catch(() => undefined);
    return run;
  };

  const publish = (source: Commit['source'], changes: readonly DocChange[], v: number) => {
    if (changes.length === 0) return;
    const committed: CommittedChange[] = changes.map((c) => {
      const def = schema.collections[c.collection] as CollectionDef;
      return {
        ...c,
        beforeDoc: c.before ? materialize(def, c.id, c.before) : undefined,
        afterDoc: materialize(def, c.id, c.after),
      };
    });
    const commit: Commit = { version: v, changes: committed, source };
    for (const listener of listeners) listener(commit);
  };

  const relay: Relay = {
    replica: clock.replica,
    schema,
    rules,
    version: () => version,

    push({ replica, claims, ops }) {
      return enqueue(async () => {
        const screening = createBatchScreening({ schema, rules, clock, replica, claims });
        const candidates = ops.filter((op) => screening.admit(op));
        const result = await store.applyBatch({
          ops: candidates,
          screen: screening.screen,
          clock: clock.last(),
          now: (options.now ?? Date.now)(),
        });
        for (const op of result.conflicts)
          screening.refuse(
            op,
            ServerErrorCode.opIdReused,
            `Op id ${op.id} is already held with other content: this device's database was restored from an older copy; give the op a new id`,
          );
        for (const r of result.refused) screening.refuse(r.op, r.refusal.code, r.refusal.reason);
        version = result.version;
        publish('device', result.changes, result.version);
        return {
          accepted: result.accepted,
          refused: screening.refusals(ops),
          refusedDocs: screening.refusedDocs(),
          version: result.version,
        };
      });
    },

    backendWrite(intents) {
      return enqueue(async () => {
        const states = new Map<string, DocState>();
        const ops: Op[] = [];
        const written: { collection: string; id: DocId }[] = [];
        for (const intent of intents) {
          const col = getCollection(schema, intent.collection);
          const target = intentTarget(intent);
          const key = `${intent.collection}\u0000${target}`;
          let state = target === undefined ? undefined : states.get(key);
          if (target !== undefined && !state) state = (await store.getDoc(intent.collection, target))?.state;
          const result = writer.write(intent, state);
          const after = state ?? createDocState();
          for (const op of result.ops) applyOp(col, after, op);
          states.set(`${intent.collection}\u0000${result.id}`, after);
          ops.push(...result.ops);
          written.push({ collection: intent.collection, id: result.id });
        }
        if (ops.length > 0) {
          const committed = await store.applyBatch({
            ops,
            clock: clock.last(),
            nextSeq: writer.nextSeq(),
            now: (options.now ?? Date.now)(),
          });
          version = committed.version;
          publish('backend', committed.changes, committed.version);
        }
        return written.map(({ collection, id }) => {
          const state = states.get(`${collection}\u0000${id}`);
          return { id, doc: state && materialize(getCollection(schema, collection), id, state) };
        });
      });
    },

    onCommit(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },

    async drain() {
      await queue;
    },
  };
  return relay;
}
