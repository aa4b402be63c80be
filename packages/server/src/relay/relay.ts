/**
 * The relay's write path: every batch (a device's push or a backend write) is screened op by op and committed
 * durably; listeners (sessions, webhooks) learn of commits from the store's commit feed, in version order, whether
 * this process or another relay node sharing the store committed them.
 *
 * Invariants:
 * 1. **Commits reach listeners in version order.** Listeners see every version once, in order, from the store's
 *    commit feed (`ServerStore.commits`), so a session's downloads follow the server's change counter. Pushes
 *    reach the store concurrently; on a store of one process, those that arrive while a commit is written are
 *    applied as one batch (`group-commit.ts`), a shared store groups them itself; backend writes run one at a
 *    time.
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
 *    ops are answered `op_id_reused`; the device renumbers them and pushes again. A write renumbered a second time
 *    (by another copy of that database) is acknowledged without being applied again, and the device is sent its
 *    document's authoritative state.
 */
import {
  applyOp,
  type Claims,
  type Clock,
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
import type {
  BatchResult,
  CommitSource,
  CommittedDocChange,
  Screen,
  ServerStore,
} from '../storage/server-store';
import { commitView } from './commit-view';
import { createGroupCommit } from './group-commit';
import { createBatchScreening } from './screening';

/** A committed document change, with its materialized after image (undefined: not live). */
export interface CommittedChange extends CommittedDocChange {
  readonly afterDoc: MaterializedDoc | undefined;
}

/** A committed version, as listeners see it. */
export interface Commit {
  readonly version: number;
  /** Wall time of the commit (Unix ms, the committing node's clock). */
  readonly at: number;
  readonly changes: readonly CommittedChange[];
  /** `device` for pushes, `backend` for HTTP API writes. */
  readonly source: CommitSource;
}

/** The outcome of a push. */
export interface PushOutcome {
  readonly accepted: readonly string[];
  readonly refused: readonly Refusal[];
  /**
   * The documents whose authoritative state the device must be sent after the ack: those of refused ops, and those
   * of echoes (ops accepted without being applied: the write is held under another id, see `BatchResult.echoes`).
   */
  readonly refusedDocs: readonly { readonly collection: string; readonly id: string }[];
  /**
   * Documents the batch created that a delete of the same (or a later) incarnation already ended (a later
   * incarnation may live): the create is accepted and changes nothing, so no commit tells the device; it must be
   * sent the tombstone (`epoch`).
   */
  readonly lostCreates: readonly LostCreate[];
  readonly version: number;
}

/**
 * A create that lost to a delete: the epoch of the tombstone to send (the document's epoch on the relay when it is
 * deleted there; the one before when a later incarnation lives).
 */
export interface LostCreate {
  readonly collection: string;
  readonly id: string;
  readonly epoch: number;
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
  /** The newest version announced to listeners. */
  version(): number;
  /**
   * Waits until listeners were given `version` when some relay node sharing the store committed it (a device's
   * cursor from another node); resolves at once for a version nobody committed.
   */
  reach(version: number): Promise<void>;
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
  /** Registers a listener of commits (called synchronously, in version order); returns unsubscribe. */
  onCommit(listener: (commit: Commit) => void): () => void;
  /**
   * Registers a listener called when versions were lost to this process (the store folded them away while it
   * lagged): views built from commits must be rebuilt from the store. Returns unsubscribe.
   */
  onGap(listener: () => void): () => void;
  /** Waits for pushes and backend writes in progress to finish. */
  drain(): Promise<void>;
}

/** Options of {@link createRelay}. */
export interface RelayOptions {
  readonly store: ServerStore;
  readonly schema: Schema;
  readonly rules: Rules;
  readonly clock: Clock;
  readonly nextSeq: number;
  readonly now?: () => number;
}

/**
 * The documents of a batch's accepted ops whose incarnation had already ended on the relay (deleted, maybe made
 * anew): creates, and writes a device made on a copy it never heard was deleted (outside its views on the relay).
 */
async function lostCreates(
  store: ServerStore,
  ops: readonly Op[],
  result: BatchResult,
): Promise<LostCreate[]> {
  const accepted = new Set(result.accepted);
  const after = new Map(result.changes.map((c) => [`${c.collection}\u0000${c.id}`, c.after]));
  const seen = new Set<string>();
  const lost: LostCreate[] = [];
  for (const op of ops) {
    const key = `${op.collection}\u0000${op.doc}`;
    if (!accepted.has(op.id) || seen.has(key)) continue;
    seen.add(key);
    const state = after.get(key) ?? (await store.getDoc(op.collection, op.doc))?.state;
    if (state?.deleted && state.epoch >= op.epoch)
      lost.push({ collection: op.collection, id: op.doc, epoch: state.epoch });
    // A later incarnation lives: the create's own one ended (a device outside that incarnation's view would keep a
    // phantom otherwise), so the tombstone is the incarnation just before the live one.
    else if (state && !state.deleted && state.epoch > op.epoch)
      lost.push({ collection: op.collection, id: op.doc, epoch: state.epoch - 1 });
  }
  return lost;
}

/** Creates the write path over a store. */
export function createRelay(options: RelayOptions): Relay {
  const { store, schema, rules, clock } = options;
  const listeners = new Set<(commit: Commit) => void>();
  const gapListeners = new Set<() => void>();
  const writer = createWriter({ schema, clock, nextSeq: options.nextSeq });
  let queue: Promise<unknown> = Promise.resolve();
  const inFlight = new Set<Promise<unknown>>();

  const enqueue = <T>(task: () => Promise<T>): Promise<T> => {
    const run = queue.then(task, task);
    queue = run.catch(() => undefined);
    return track(run);
  };
  const concurrent = <T>(task: () => Promise<T>): Promise<T> => track(task());
  const track = <T>(run: Promise<T>): Promise<T> => {
    inFlight.add(run);
    const done = () => inFlight.delete(run);
    run.then(done, done);
    return run;
  };

  const applyDeviceBatch = store.info.shared
    ? (request: { readonly ops: readonly Op[]; readonly screen: Screen }) =>
        store.applyBatch({
          ...request,
          clock: clock.last(),
          now: (options.now ?? Date.now)(),
          source: 'device',
        })
    : createGroupCommit({ store, common: () => ({ clock: clock.last(), now: (options.now ?? Date.now)() }) });

  store.commits.subscribe((event) => {
    if (event.t === 'commit') {
      const commit = commitView(schema, event.commit);
      for (const listener of listeners) listener(commit);
    } else for (const listener of gapListeners) listener();
  });

  const relay: Relay = {
    replica: clock.replica,
    schema,
    rules,
    version: () => store.commits.position(),
    reach: (v) => (v > store.commits.position() ? store.commits.reach(v) : Promise.resolve()),

    push({ replica, claims, ops }) {
      return concurrent(async () => {
        const screening = createBatchScreening({ schema, rules, clock, replica, claims });
        const candidates = ops.filter((op) => screening.admit(op));
        const result = await applyDeviceBatch({ ops: candidates, screen: screening.screen });
        for (const op of result.conflicts)
          screening.refuse(
            op,
            ServerErrorCode.opIdReused,
            `Op id ${op.id} is already held with other content: this device's database was restored from an older copy; give the op a new id`,
          );
        for (const r of result.refused) screening.refuse(r.op, r.refusal.code, r.refusal.reason);
        const resend = new Map(screening.refusedDocs().map((d) => [`${d.collection}\u0000${d.id}`, d]));
        for (const op of result.echoes)
          resend.set(`${op.collection}\u0000${op.doc}`, { collection: op.collection, id: op.doc });
        return {
          accepted: result.accepted,
          refused: screening.refusals(ops),
          refusedDocs: [...resend.values()],
          lostCreates: await lostCreates(store, candidates, result),
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
          await store.applyBatch({
            ops,
            clock: clock.last(),
            nextSeq: writer.nextSeq(),
            now: (options.now ?? Date.now)(),
            source: 'backend',
          });
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

    onGap(listener) {
      gapListeners.add(listener);
      return () => gapListeners.delete(listener);
    },

    async drain() {
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
    },
  };
  return relay;
}
